//! `dentally-etl probe` against the sandbox: it reports exactly the differences the sandbox is
//! known to have from the catalog, in about one request per resource plus one per range filter,
//! and no value the sandbox served appears in anything it prints.

use std::collections::{BTreeMap, BTreeSet};

use dentally_etl::catalog;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::common::{pipeline, run_bin};

/// Resources probed: a single object, plain lists, windowed lists, per-treatment fees.
const RESOURCES: &[&str] = &[
    "practice",
    "sites",
    "patients",
    "appointments",
    "invoices",
    "payments",
    "treatments",
    "fees",
];

async fn probe(sb: &SandboxHandle, json: bool) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), RESOURCES, "parquet", "");
    let mut args = vec!["probe"];
    if json {
        args.push("--json");
    }
    args.push(p.to_str().unwrap());
    run_bin(&args, &[("DENTALLY_API_TOKEN", "sandbox-read")]).await
}

fn by_name(report: &Value) -> BTreeMap<String, Value> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["resource"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_exactly_the_known_differences_of_the_sandbox() {
    // The harsh default sandbox, with one filter the catalog relies on turned off: the probe
    // must find that one, and patients' ignored `sort_by` (evidence §3, catalog: not sortable),
    // and nothing else.
    let mut config = SandboxConfig::default().with_scale(0.3);
    config
        .ignore_filters
        .push("invoices:dated_on_before".into());
    let sb = sandbox::spawn(config).await.unwrap();
    let (code, stdout, stderr) = probe(&sb, true).await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let filters: usize = RESOURCES
        .iter()
        .map(|r| catalog::find(r).unwrap().ranges.len())
        .sum();
    let sent = sb.requests().len();
    assert_eq!(report["requests"], sent as u64);
    assert!(
        sent <= RESOURCES.len() + filters,
        "about one request per resource and per filter: {sent}"
    );
    let scopes = strings(&report["scopes"]);
    assert!(scopes.contains(&"patient:read".to_string()), "{scopes:?}");
    assert!(report["write_scopes"].as_array().unwrap().is_empty());
    let resources = by_name(&report);
    assert_eq!(resources.len(), RESOURCES.len());
    let mut ignored = BTreeSet::new();
    for (name, r) in &resources {
        assert_eq!(r["status"], "ok", "{name}: {r}");
        assert_eq!(r["scope_named"], true, "{name}");
        assert!(r["envelope_found"].as_bool().unwrap(), "{name}");
        let unknown = strings(&r["fields"]["unknown"]);
        let expected: &[&str] = if name == "patients" {
            &["portal_registered"]
        } else {
            &[]
        };
        assert_eq!(
            unknown, expected,
            "{name}: the sandbox's deliberate extra only"
        );
        assert!(
            r["fields"]["misfits"].as_array().unwrap().is_empty(),
            "{name}: the sandbox's values fit the catalog: {}",
            r["fields"]["misfits"]
        );
        assert_eq!(r["fields"]["unkeyed_rows"], 0, "{name}");
        if name == "practice" {
            assert!(r["per_page"].is_null() && r["filters"].as_array().unwrap().is_empty());
            continue;
        }
        let meta: BTreeSet<String> = strings(&r["meta_keys"]).into_iter().collect();
        assert!(meta.contains("total_count"), "{name}: {meta:?}");
        let sortable = catalog::find(name).unwrap().sortable;
        assert_eq!(
            r["sort_by"]["verdict"] == "ignored",
            !sortable && name == "patients",
            "{name}: {}",
            r["sort_by"]
        );
        for f in r["filters"].as_array().unwrap() {
            for (param, side) in [
                (&f["after"], &f["after_check"]),
                (&f["before"], &f["before_check"]),
            ] {
                if side["verdict"] == "ignored" {
                    ignored.insert(format!("{name}:{}", param.as_str().unwrap()));
                }
            }
        }
    }
    assert_eq!(
        ignored,
        BTreeSet::from(["invoices:dated_on_before".to_string()]),
        "the one filter turned off; every other filter of the catalog works"
    );
    let patients = &resources["patients"];
    assert_eq!(patients["rows"], 100);
    assert_eq!(patients["per_page"]["verdict"], "took_effect");
    assert_eq!(patients["sort_by"]["verdict"], "ignored");
    let judged: Vec<&Value> = resources
        .values()
        .flat_map(|r| r["filters"].as_array().unwrap().iter())
        .filter(|f| f["after_check"]["verdict"] == "took_effect")
        .collect();
    assert!(
        judged.len() >= 3,
        "most filters can be judged from page 1: {report}"
    );
}

/// Every string and number leaf longer than 3 characters of `value`, except key names.
fn leaves(value: &Value, keys: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if s.chars().count() > 3 => {
            out.insert(s.clone());
        }
        Value::Number(n) if n.to_string().len() > 3 => {
            out.insert(n.to_string());
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, keys, out)),
        Value::Object(map) => {
            for (k, v) in map {
                keys.insert(k.clone());
                leaves(v, keys, out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_never_prints_a_value_the_sandbox_served() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let (code, text_out, text_err) = probe(&sb, false).await;
    assert_eq!(code, 0, "{text_err}");
    let (code, json_out, json_err) = probe(&sb, true).await;
    assert_eq!(code, 0, "{json_err}");
    assert!(
        text_out.contains("patients (GET /v1/patients): ok"),
        "{text_out}"
    );
    let printed = [text_out, text_err, json_out, json_err].join("\n");
    // Fetch exactly the pages the probes read, and collect what they held.
    let client = reqwest::Client::new();
    let (mut keys, mut values) = (BTreeSet::new(), BTreeSet::new());
    let requests = sb.requests();
    assert!(requests.len() > RESOURCES.len());
    for r in &requests {
        let url = format!("{}{}?{}", sb.base_url(), r.path, r.query);
        let body: Value = client
            .get(url)
            .header("Authorization", "Bearer sandbox-read")
            .header("User-Agent", "tests")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        leaves(&body, &mut keys, &mut values);
    }
    let names: BTreeSet<&str> = catalog::all().iter().map(|r| r.name).collect();
    let values: Vec<&String> = values
        .iter()
        .filter(|v| !keys.contains(*v) && !names.contains(v.as_str()))
        .collect();
    assert!(
        values.len() > 500,
        "the pages held values: {}",
        values.len()
    );
    let leaked: Vec<&&String> = values
        .iter()
        .filter(|v| printed.contains(v.as_str()))
        .collect();
    assert!(leaked.is_empty(), "probe printed served values: {leaked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_of_the_kind_sandbox_reports_its_known_kindness() {
    // The old, forgiving sandbox applies every filter and sorts patients: the probe must say
    // so, where the catalog (from the evidence) expects patients to ignore `sort_by`.
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3).kind())
        .await
        .unwrap();
    let (code, stdout, stderr) = probe(&sb, true).await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let resources = by_name(&report);
    assert_eq!(resources.len(), RESOURCES.len());
    for (name, r) in &resources {
        assert_eq!(r["status"], "ok", "{name}: {r}");
        for f in r["filters"].as_array().unwrap() {
            for side in [&f["after_check"], &f["before_check"]] {
                assert_ne!(side["verdict"], "ignored", "{name}: {f}");
            }
        }
    }
    assert_eq!(resources["patients"]["sort_by"]["verdict"], "took_effect");
    assert!(!catalog::find("patients").unwrap().sortable);
}
