//! Which keys are the tool's own, and so may be deleted (security review D12).
//!
//! Every delete the tool makes goes through [`super::Location::delete`], which calls
//! [`is_own_key`] first. A file someone else put in a table folder (a README, a notebook, a
//! symlink target's contents) is therefore never removed, whatever a listing-based cleanup
//! decides: the tool only deletes names it writes itself.
//!
//! | where | our names |
//! |---|---|
//! | `_state/…` | `*.json`, `*.lock` |
//! | `_runs/…` | `*.json`, `.write-check-*` |
//! | `_rejects/…` | `*.jsonl` |
//! | `_raw/…` | `<run id>-<nnnn>.parquet` |
//! | anything else (tables, `_models/`) | `part-<run id>-<nnnn>.parquet` or `.csv` |
//! | anywhere | `*.tmp` (leftovers of temp-then-rename writers) |

/// Whether `rel` (a `/`-separated key relative to the output root) is a name the tool writes.
pub fn is_own_key(rel: &str) -> bool {
    let mut parts = rel.split('/').filter(|p| !p.is_empty());
    let Some(top) = parts.next() else {
        return false;
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.ends_with(".tmp") {
        return true;
    }
    match top {
        "_state" => name.ends_with(".json") || name.ends_with(".lock"),
        "_runs" => name.ends_with(".json") || name.starts_with(".write-check-"),
        "_rejects" => name.ends_with(".jsonl"),
        "_raw" => numbered(name, "", "parquet"),
        _ => numbered(name, "part-", "parquet") || numbered(name, "part-", "csv"),
    }
}

/// `<prefix><something>-<digits>.<ext>`.
fn numbered(name: &str, prefix: &str, ext: &str) -> bool {
    let Some(stem) = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(ext))
        .and_then(|rest| rest.strip_suffix('.'))
    else {
        return false;
    };
    stem.rsplit_once('-').is_some_and(|(run, n)| {
        !run.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_names_and_only_ours() {
        for own in [
            "patients/part-20261126T071500Z-3fa2-0000.parquet",
            "patients/practice=a/part-r1-0003.csv",
            "_models/m/part-r1-0000.parquet",
            "_raw/patients/extracted_on=2026-11-26/20261126T071500Z-3fa2-0001.parquet",
            "_runs/20261126T071500Z-3fa2.json",
            "_runs/.write-check-x",
            "_rejects/patients/r1.jsonl",
            "_state/p.json",
            "_state/p/practice=a/state.json",
            "_state/p.lock",
            "patients/x.parquet.tmp",
        ] {
            assert!(is_own_key(own), "{own}");
        }
        for foreign in [
            "patients/README.md",
            "patients/notes.parquet",
            "patients/part-.parquet",
            "patients/part-r1-00a1.parquet",
            "_raw/patients/mine.parquet",
            "_runs/report.csv",
            "",
        ] {
            assert!(!is_own_key(foreign), "{foreign}");
        }
    }
}
