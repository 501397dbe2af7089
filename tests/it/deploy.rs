//! The deployment examples cannot rot: the commands the Kubernetes CronJob and the Airflow DAG
//! run must parse with the current CLI, and the pipeline they mount must validate.

use std::path::Path;
use std::process::Command;

use clap::Parser;
use dentally_etl::cli::Cli;

use crate::common::bin;
use crate::pyenv::python_env;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn python(script: &str, arg: &str) -> serde_json::Value {
    let out = Command::new(&python_env().python)
        .args(["-c", script, arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_parses(args: &[String]) {
    let mut argv = vec!["dentally-etl".to_string()];
    argv.extend(args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(&argv) {
        panic!("{argv:?} does not parse: {e}");
    }
}

/// Exit codes 2 (invalid pipeline) and 3 (token refused) fail the Job at once; the others retry.
fn assert_fails_at_once_on_2_and_3(job: &serde_json::Value) {
    assert_eq!(
        job["template"]["spec"]["restartPolicy"], "Never",
        "podFailurePolicy needs restartPolicy: Never"
    );
    let container = job["template"]["spec"]["containers"][0]["name"].clone();
    let rules = job["podFailurePolicy"]["rules"]
        .as_array()
        .expect("podFailurePolicy.rules");
    let fail_job: Vec<&serde_json::Value> =
        rules.iter().filter(|r| r["action"] == "FailJob").collect();
    assert_eq!(fail_job.len(), 1, "{rules:?}");
    let on = &fail_job[0]["onExitCodes"];
    assert_eq!(on["operator"], "In");
    assert_eq!(on["containerName"], container);
    let mut codes: Vec<u64> = on["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [2, 3]);
}

#[test]
fn the_kubernetes_indexed_job_runs_a_valid_command_per_shard() {
    let doc = python(
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &repo("deploy/kubernetes/cronjob.yaml"),
    );
    let job = &doc["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    assert_fails_at_once_on_2_and_3(job);
    let shards = job["completions"].as_u64().unwrap();
    let container = &job["template"]["spec"]["containers"][0];
    assert_eq!(container["command"][0], "dentally-etl");
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        args.iter().any(|a| a.ends_with(&format!("/{shards}"))),
        "--shard i/{shards}: {args:?}"
    );
    for index in 0..shards {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))
            .collect();
        assert_parses(&args);
    }
}

#[test]
fn the_airflow_dag_maps_a_valid_command_over_the_shards() {
    let consts = python(
        "import ast, json, sys\n\
         tree = ast.parse(open(sys.argv[1]).read())\n\
         out = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(n.value, (ast.Constant, ast.Tuple))}\n\
         print(json.dumps(out))",
        &repo("deploy/airflow/dentally_dag.py"),
    );
    let shards = consts["SHARDS"].as_u64().unwrap();
    let template = consts["COMMAND"].as_str().unwrap();
    assert_eq!(
        consts["NO_RETRY_EXIT_CODES"],
        serde_json::json!([2, 3]),
        "the DAG must not retry exit codes 2 and 3"
    );
    let source = std::fs::read_to_string(repo("deploy/airflow/dentally_dag.py")).unwrap();
    assert!(
        source.contains("if code in NO_RETRY_EXIT_CODES:\n            raise AirflowFailException("),
        "codes 2 and 3 must raise AirflowFailException (no retries)"
    );
    for index in 0..shards {
        let command = template
            .replace("{pipeline}", consts["PIPELINE"].as_str().unwrap())
            .replace("{index}", &index.to_string())
            .replace("{shards}", &shards.to_string());
        let args: Vec<String> = command
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect();
        assert!(command.starts_with("dentally-etl "));
        assert_parses(&args);
    }
}

#[test]
fn the_mounted_group_pipeline_validates_and_plans_its_shards() {
    let out = bin()
        .args(["validate", &repo("deploy/group.toml")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .args([
            "plan",
            "--json",
            "--shard",
            "0/3",
            &repo("deploy/group.toml"),
        ])
        .env(
            "DENTALLY_OUTPUT",
            std::env::temp_dir()
                .join("dentally-plan")
                .display()
                .to_string(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["practices"].as_array().unwrap().len(), 3);
}
