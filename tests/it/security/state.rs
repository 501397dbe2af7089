//! `state reset` gets a pipeline out of a broken state (review D14): a corrupt state file, and
//! the per-practice states of a `[[sources]]` pipeline.

use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig};

use super::{pipeline, run, run_measured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_is_named_and_reset_without_being_read() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    std::fs::create_dir_all(out.join("_state")).unwrap();
    std::fs::write(
        out.join("_state/sec.json"),
        "{\"version\": 1,\n  \"resources\": {oops",
    )
    .unwrap();

    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("line 2 column") && ran.stderr.contains("state reset"),
        "{}",
        ran.stderr
    );
    let ran = run_measured(&["state", "reset", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("removed `_state/sec.json`"),
        "{}",
        ran.stderr
    );
    assert_eq!(run(&p, &[]).await.code, 0);
}

fn group(dir: &Path, base: &str) -> std::path::PathBuf {
    let mut text = format!(
        "name = \"grp\"\n[output]\nurl = \"{}\"\n[defaults]\nmode = \"incremental\"\n",
        dir.join("out").display()
    );
    for (name, var) in [("north", "TOKEN_1"), ("south", "TOKEN_2")] {
        text.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nbase_url = \"{base}\"\ntoken_env = \"{var}\"\n"
        ));
    }
    text.push_str("\n[[resources]]\nname = \"patients\"\n");
    let path = dir.join("grp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_show_and_reset_cover_every_practice() {
    let sb = sandbox::spawn(SandboxConfig {
        practices: 2,
        ..SandboxConfig::default().with_scale(0.05)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/_state/grp");
    let p = group(dir.path(), &sb.base_url());
    let tokens = [("TOKEN_1", "sandbox-read"), ("TOKEN_2", "sandbox-read-2")];
    let ran = run_measured(&["--quiet", "run", p.to_str().unwrap()], &tokens).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let path = p.to_str().unwrap();

    let shown = run_measured(&["state", "show", path], &[]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let json: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    for practice in ["north", "south"] {
        assert!(
            json["practices"][practice]["resources"]["patients"]["cursor"].is_string(),
            "{json}"
        );
    }

    let ran = run_measured(&["state", "reset", path, "--practice", "north"], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!out.join("practice=north/state.json").exists());
    assert!(out.join("practice=south/state.json").exists());

    let ran = run_measured(&["state", "reset", path], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!out.join("practice=south/state.json").exists());
}
