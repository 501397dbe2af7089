//! The metrics file: replaced atomically, so node_exporter's textfile collector never reads half
//! a file, and read back for the one figure a failed run must carry over (the last success).

use std::io::Write;
use std::path::Path;

/// Writes `text` to `path` through a temporary file in the same folder and a rename. The
/// temporary name does not end in `.prom`, so the collector never picks it up.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dentally_etl_last_success_timestamp_seconds` of `pipeline` in an earlier metrics file at
/// `path`, if there is one.
pub fn previous_last_success(path: &Path, pipeline: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let prefix = format!("dentally_etl_last_success_timestamp_seconds{{pipeline=\"{pipeline}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_reads_the_last_success_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dentally.prom");
        write_atomically(&path, "old\n").unwrap();
        write_atomically(
            &path,
            "# TYPE dentally_etl_last_success_timestamp_seconds gauge\n\
             dentally_etl_last_success_timestamp_seconds{pipeline=\"other\"} 1\n\
             dentally_etl_last_success_timestamp_seconds{pipeline=\"nightly\"} 1700000000.5\n",
        )
        .unwrap();
        assert_eq!(
            previous_last_success(&path, "nightly"),
            Some(1_700_000_000.5)
        );
        assert_eq!(previous_last_success(&path, "absent"), None);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }
}
