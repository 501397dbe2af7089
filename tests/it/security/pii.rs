//! D2: under `pii = drop` and `hash` the policy is an allowlist. Personal-looking values planted
//! where the catalog does not expect them (unknown fields, unknown keys in nested objects,
//! free-form JSON, values of the wrong type, a row that cannot be keyed) must appear in no byte
//! the run wrote: no file under the output (Parquet decoded), not stdout, not stderr, not the
//! JSON logs.

use std::path::Path;

use arrow::util::pretty::pretty_format_batches;
use dentally_etl::sandbox::{self, SandboxConfig};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::hostile::{Act, Hostile};
use super::{files_under, pipeline, run_measured};

/// Values that must never be written: each marks one way a value can slip past the columns.
const PLANTED: &[&str] = &[
    "LeakUnknownEmail",
    "LeakNestedKinName",
    "LeakNestedKinPhone",
    "LeakFreeformAllergy",
    "LeakMetadataNote",
    "LeakMisshapenActive",
    "LeakMisshapenDentist",
    "LeakGivenName",
    "LeakRejectName",
    "LeakRejectNote",
];

/// Plants the values into the first patients of a list page, and adds a row without a key.
fn plant(body: String) -> String {
    let Ok(mut page) = serde_json::from_str::<Value>(&body) else {
        return body;
    };
    let Some(rows) = page["patients"].as_array_mut() else {
        return body;
    };
    if rows.len() < 3 {
        return body;
    }
    rows[0]["secondary_email"] = json!("LeakUnknownEmail@example.com");
    rows[0]["next_of_kin"] = json!({"name": "LeakNestedKinName", "phone": "LeakNestedKinPhone"});
    rows[0]["custom_fields"] = json!([{"name": "Allergies", "value": "LeakFreeformAllergy"}]);
    rows[0]["metadata"] = json!({"note": "LeakMetadataNote"});
    rows[1]["active"] = json!("LeakMisshapenActive");
    rows[1]["dentist_id"] = json!("LeakMisshapenDentist");
    rows[2]["first_name"] = json!({"given": "LeakGivenName"});
    rows.push(json!({"first_name": "LeakRejectName", "secret_note": "LeakRejectNote"}));
    page.to_string()
}

fn keep_headers(_: &mut Vec<(String, String)>) {}

/// Every byte the run left under `out`, Parquet files decoded to text as well.
fn everything_written(out: &Path) -> String {
    let mut all = String::new();
    for name in files_under(out) {
        let path = out.join(&name);
        let bytes = std::fs::read(&path).unwrap();
        all.push_str(&String::from_utf8_lossy(&bytes));
        if name.ends_with(".parquet") {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            let batches: Vec<_> = reader.map(Result::unwrap).collect();
            all.push_str(&pretty_format_batches(&batches).unwrap().to_string());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_personal_values_are_in_no_byte_written_under_drop_and_hash() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let hostile = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients?") {
            Act::Rewrite(plant, keep_headers)
        } else {
            Act::Forward
        }
    })
    .await;
    // The token's owner: their name and e-mail are never printed either.
    let owner: Value = reqwest::Client::new()
        .get(format!("{}/v1/user", sb.base_url()))
        .header("Authorization", "Bearer sandbox-read")
        .header("User-Agent", "tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner: Vec<String> = ["first_name", "last_name", "email"]
        .iter()
        .map(|k| owner["user"][k].as_str().unwrap().to_string())
        .collect();
    for policy in ["drop", "hash"] {
        let dir = tempfile::tempdir().unwrap();
        // Extra `[output]` lines: a `[defaults]` section placed before the resources.
        let defaults = format!("[defaults]\npii = \"{policy}\"\npii_hash_key_env = \"PII_KEY\"\n");
        let p = pipeline(
            dir.path(),
            &hostile.base_url(),
            &["patients"],
            "",
            &defaults,
        );
        let p = p.to_str().unwrap();
        let envs = [
            ("DENTALLY_API_TOKEN", "sandbox-read"),
            ("PII_KEY", "a-long-enough-hash-key-0123456789"),
        ];
        let ran = run_measured(&["--log-format", "json", "run", p], &envs).await;
        // The keyless row is rejected: a partial run, everything else committed.
        assert_eq!(ran.code, 4, "{policy}: {}", ran.stderr);
        let out = dir.path().join("out");
        let written = everything_written(&out);
        assert!(
            written.contains("secondary_email"),
            "{policy}: the unknown field is named (a key, not a value)"
        );
        let said = format!("{}\n{}\n{}", ran.stdout, ran.stderr, written);
        let leaked: Vec<&&str> = PLANTED.iter().filter(|v| said.contains(**v)).collect();
        assert!(leaked.is_empty(), "{policy}: written in clear: {leaked:?}");
        let logs = format!("{}\n{}", ran.stdout, ran.stderr);
        let named: Vec<&String> = owner.iter().filter(|v| logs.contains(v.as_str())).collect();
        assert!(
            named.is_empty(),
            "{policy}: the token owner in the logs: {named:?}"
        );
        assert!(
            files_under(&out).iter().any(|f| f.starts_with("_rejects/")),
            "{policy}: the keyless row is in _rejects: {:?}",
            files_under(&out)
        );
    }
    assert!(hostile.count("/v1/patients?") >= 2);
}

/// The mode each resource was read in by the latest run under `out`.
fn modes(out: &Path) -> Vec<(String, String)> {
    let latest: Value =
        serde_json::from_slice(&std::fs::read(out.join("_runs/latest.json")).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.join(latest["manifest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    manifest["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_pii_under_incremental_rebuilds_without_plaintext_or_panic() {
    // D1: keep → hash → drop on an incremental pipeline. Each change rebuilds the tables from a
    // full read (no old plaintext merged into a hashed or dropped column, no panic); an
    // unchanged policy reads a delta again.
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let emails: Vec<String> = sb
        .truth(1, "patients")
        .iter()
        .filter_map(|p| p["email_address"].as_str().map(str::to_string))
        .collect();
    let mut previous = "none";
    for policy in ["keep", "keep", "hash", "hash", "drop"] {
        let defaults = format!(
            "[defaults]\nmode = \"incremental\"\npii = \"{policy}\"\npii_hash_key_env = \"PII_KEY\"\n"
        );
        let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", &defaults);
        let envs = [
            ("DENTALLY_API_TOKEN", "sandbox-read"),
            ("PII_KEY", "a-long-enough-hash-key-0123456789"),
        ];
        let ran = run_measured(&["--quiet", "run", p.to_str().unwrap()], &envs).await;
        assert_eq!(ran.code, 0, "{previous} → {policy}: {}", ran.stderr);
        let mode = &modes(&out)[0].1;
        if policy == previous {
            assert_ne!(mode, "full", "{policy} again: a delta");
        } else {
            assert_eq!(mode, "full", "{previous} → {policy}: rebuilt");
        }
        if policy != "keep" {
            let current: String = files_under(&out)
                .iter()
                .filter(|f| f.starts_with("patients/") && f.ends_with(".parquet"))
                .map(|f| everything_written(out.join(f).parent().unwrap()))
                .collect();
            assert!(!current.is_empty());
            assert!(emails.len() > 50);
            let clear: Vec<&String> = emails
                .iter()
                .filter(|n| current.contains(n.as_str()))
                .collect();
            assert!(
                clear.is_empty(),
                "{policy}: e-mail addresses in clear: {:?}",
                &clear[..clear.len().min(3)]
            );
        }
        previous = policy;
    }
}
