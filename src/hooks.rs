//! Test hooks: environment variables that make the binary crash or pause at named points, so
//! integration tests can prove the commit protocol and the reconciliation against a real
//! process (a `kill -9` at the exact moment, or the API's data changing at the exact moment).
//! Unset, they cost one environment lookup at each point.

/// `DENTALLY_ETL_TEST_CRASH=<point>` aborts the process at `point`, as a crash or a `kill -9`
/// would.
pub(crate) fn crash_point(point: &str) {
    if std::env::var("DENTALLY_ETL_TEST_CRASH").is_ok_and(|p| p == point) {
        eprintln!("test crash at {point}");
        std::process::abort();
    }
}

/// `DENTALLY_ETL_TEST_PAUSE=<point>:<file>` makes the run write `<file>.ready` at `point` and
/// wait (at most a minute) until `<file>` exists, so a test can change the API's data then.
pub(crate) fn pause_point(point: &str) {
    let Ok(spec) = std::env::var("DENTALLY_ETL_TEST_PAUSE") else {
        return;
    };
    let Some((at, file)) = spec.split_once(':') else {
        return;
    };
    if at != point {
        return;
    }
    let _ = std::fs::write(format!("{file}.ready"), b"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::path::Path::new(file).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
