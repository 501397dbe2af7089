//! `samples/`: the first page (per_page=3) of every resource of a seed-1, scale-1 sandbox on
//! 2026-06-15, checked in so people and tests can see real-shaped answers. This test
//! regenerates them; `UPDATE_SAMPLES=1` rewrites the files.

use std::path::PathBuf;

use dentally_etl::catalog::{self, Kind, Window};
use dentally_etl::sandbox::SandboxConfig;

use super::{Api, today};

/// The request of a resource's sample page.
pub(crate) fn sample_path(resource: &catalog::Resource) -> String {
    match (resource.kind, resource.window) {
        (Kind::Single, _) => resource.path.to_string(),
        (
            _,
            Window::Required {
                after_param,
                before_param,
                ..
            },
        ) => format!(
            "{}?per_page=3&{after_param}=2026-06-15&{before_param}=2026-06-16",
            resource.path
        ),
        (_, Window::PerParent { param, .. }) => {
            format!("{}?per_page=3&{param}=40001", resource.path)
        }
        _ => format!("{}?per_page=3", resource.path),
    }
}

#[tokio::test]
async fn samples_match_the_sandbox() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let update = std::env::var_os("UPDATE_SAMPLES").is_some();
    let api = Api::start(SandboxConfig {
        seed: 1,
        scale: 1.0,
        today: today(),
        ..SandboxConfig::default()
    })
    .await;
    let mut stale = Vec::new();
    for resource in catalog::all() {
        let answer = api.get(&sample_path(resource)).await;
        assert_eq!(answer.status, 200, "{}", resource.name);
        let text = serde_json::to_string_pretty(&answer.json()).unwrap() + "\n";
        let file = dir.join(format!("{}.json", resource.name));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(resource.name);
        }
    }
    assert!(
        stale.is_empty(),
        "samples out of date (rerun with UPDATE_SAMPLES=1): {stale:?}"
    );
}
