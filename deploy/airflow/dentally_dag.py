"""Nightly export of a dental group with Airflow dynamic task mapping: one mapped task per shard.

Each task runs the same binary on the same pipeline with `--shard i/n`; a stable hash of the
practice names gives each practice to exactly one shard, so the shards never write the same
object. Exit codes: 0 ok, 1 runtime failure, 2 bad pipeline, 3 token refused, 4 partial (see the
run manifest).

Retrying cannot fix exit codes 2 and 3, so those fail the task at once (AirflowFailException skips
the remaining retries); 1 and 4 are retried, and a retried shard resumes from its checkpoints.
Every stderr line is JSON (`--log-format json`), with a heartbeat line a minute while the run
works or waits for the rate budget.
"""

import subprocess
from datetime import datetime, timedelta

from airflow import DAG
from airflow.decorators import task
from airflow.exceptions import AirflowException, AirflowFailException

SHARDS = 3
PIPELINE = "/opt/dentally/group.toml"
COMMAND = "dentally-etl --log-format json --quiet --heartbeat-secs 60 run {pipeline} --shard {index}/{shards}"
NO_RETRY_EXIT_CODES = (2, 3)

with DAG(
    dag_id="dentally_etl",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=10)},
) as dag:

    @task
    def extract_shard(command: str) -> None:
        # stderr is inherited: the JSON log lines go straight to the task log.
        code = subprocess.run(command.split(), check=False).returncode
        if code in NO_RETRY_EXIT_CODES:
            raise AirflowFailException(f"dentally-etl exited {code}: fix the pipeline or token; not retried")
        if code != 0:
            raise AirflowException(f"dentally-etl exited {code}; retrying")

    extract_shard.expand(
        command=[COMMAND.format(pipeline=PIPELINE, index=i, shards=SHARDS) for i in range(SHARDS)]
    )
