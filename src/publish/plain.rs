//! Plain files: a table is the files in its folder. Publishing deletes the previous run's files
//! once the manifest naming the new ones exists (design §4).

use async_trait::async_trait;

use super::{PublishError, Published, TablePublisher, TableUpdate};
use crate::sink::{Location, SinkError};

/// `table_format = "parquet"` (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFiles;

#[async_trait]
impl TablePublisher for PlainFiles {
    fn format(&self) -> crate::config::TableFormat {
        crate::config::TableFormat::Parquet
    }

    async fn publish(
        &self,
        loc: &Location,
        update: &TableUpdate<'_>,
    ) -> Result<Published, PublishError> {
        let keep: Vec<&str> = update.files.iter().map(|f| f.path.as_str()).collect();
        let removed = remove_stale(loc, update.table, update.part, &keep).await?;
        Ok(Published {
            version: None,
            replaced: removed,
            deleted: removed,
        })
    }

    /// Plain files have no versions: publishing already deleted the replaced files.
    async fn erase_history(
        &self,
        _loc: &Location,
        _table: &str,
        _part: &str,
    ) -> Result<usize, PublishError> {
        Ok(0)
    }
}

/// Removes a table's current files that are not in `keep` (paths relative to the output; after
/// the manifest naming `keep`).
pub async fn remove_stale(
    loc: &Location,
    table: &str,
    part: &str,
    keep: &[&str],
) -> Result<usize, SinkError> {
    let dir = format!("{table}/{part}");
    let mut removed = 0;
    for meta in loc.list(&dir).await? {
        let Some(rel) = loc.relative(&meta.location) else {
            continue;
        };
        // Only this table's own files: a child table `payments__explanations/` is another folder.
        let in_table = rel
            .strip_prefix(&dir)
            .is_some_and(|rest| !rest.contains('/'));
        if in_table && !keep.contains(&rel.as_str()) {
            loc.delete(&rel).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
