//! The offline commands: `validate`, `resources`, `schema`, `plan`.

use crate::common::{bin, data, scrub, text};

#[test]
fn validate_lists_every_problem_with_line_and_column() {
    let out = bin()
        .arg("validate")
        .arg(data("broken.toml"))
        .env_remove("OUT_DIR")
        .output()
        .unwrap();
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    insta::assert_snapshot!("validate_broken", scrub(&stderr));
}

#[test]
fn validate_reports_toml_syntax_errors() {
    let out = bin()
        .arg("validate")
        .arg(data("syntax.toml"))
        .output()
        .unwrap();
    let (code, _, stderr) = text(&out);
    assert_eq!(code, 2);
    insta::assert_snapshot!("validate_syntax", scrub(&stderr));
}

#[test]
fn the_bundled_pipelines_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let out = bin().arg("validate").arg(&path).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn resources_lists_the_whole_catalog() {
    let out = bin().arg("resources").output().unwrap();
    let (code, stdout, _) = text(&out);
    assert_eq!(code, 0);
    for name in [
        "practice",
        "patients",
        "appointments",
        "fees",
        "rota_practitioner_diaries",
        "invoice_items",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing"
        );
    }
    assert_eq!(stdout.lines().count(), 31, "header + 30 resources");
}

#[test]
fn schema_prints_child_tables_and_suggests_names() {
    let (code, stdout, _) = text(&bin().args(["schema", "payments"]).output().unwrap());
    assert_eq!(code, 0);
    assert!(stdout.contains("table payments__explanations"));
    assert!(stdout.contains("Decimal128(18, 2)"));
    let (code, _, stderr) = text(&bin().args(["schema", "payment"]).output().unwrap());
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `payments`"), "{stderr}");
}

#[test]
fn plan_shows_windows_and_requests_offline() {
    let out = bin()
        .args(["plan", "--json"])
        .arg(data("../../../pipelines/demo.toml"))
        .output()
        .unwrap();
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let resources = plan["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 30);
    let appts = resources
        .iter()
        .find(|r| r["name"] == "appointments")
        .unwrap();
    // 490 days, nothing measured yet: six windows of about three months, one request or more each.
    assert!(
        appts["slices"]
            .as_str()
            .unwrap()
            .starts_with("6 windows of at most 82 days (after/before)"),
        "{appts}"
    );
    assert_eq!(appts["read"], "window", "{appts}");
    assert!(
        appts["estimate"].as_str().unwrap().contains("at least 6"),
        "{appts}"
    );
    let query = |r: &serde_json::Value| -> Vec<String> {
        r["query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| format!("{}={}", kv[0].as_str().unwrap(), kv[1].as_str().unwrap()))
            .collect()
    };
    assert!(
        query(appts).contains(&"cancelled=true".to_string()),
        "{appts}"
    );
    assert!(
        query(appts).iter().any(|q| q.starts_with("after=")),
        "{appts}"
    );
    let by_name = |n: &str| resources.iter().find(|r| r["name"] == n).unwrap();
    assert_eq!(by_name("practice")["requests"], 1);
    assert_eq!(
        by_name("patients")["read"],
        "tiles (created_after/created_before)"
    );
    assert_eq!(
        by_name("treatment_plan_items")["read"],
        "keyset (sort_by=updated_at, updated_after)"
    );
    assert_eq!(by_name("accounts")["read"], "plain");
}
