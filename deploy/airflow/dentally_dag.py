"""Nightly export of a dental group with Airflow dynamic task mapping: one mapped task per shard.

Each task runs the same binary on the same pipeline with `--shard i/n`; a stable hash of the
practice names gives each practice to exactly one shard, so the shards never write the same
object. Exit codes: 0 ok, 2 bad pipeline, 3 token refused, 4 partial (see the run manifest).
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

SHARDS = 3
PIPELINE = "/opt/dentally/group.toml"
COMMAND = "dentally-etl --log-format json --quiet run {pipeline} --shard {index}/{shards}"

with DAG(
    dag_id="dentally_etl",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=10)},
) as dag:
    BashOperator.partial(task_id="extract_shard").expand(
        bash_command=[COMMAND.format(pipeline=PIPELINE, index=i, shards=SHARDS) for i in range(SHARDS)]
    )
