//! Recovering rows that unstable paging skipped.
//!
//! The live API's bulk paging serves some rows twice and skips as many (patient_stats 6 %,
//! also treatment_plan_items and recalls, api-evidence.md §2), and `sort_by` may not prevent
//! it. A slice that ends with fewer distinct keys than `total_count` is recovered, within a
//! bounded number of extra requests, before anything is declared missing:
//! - `patient_stats`: each missing patient's stats from `GET /v1/patients/{id}/stats`, the
//!   patients' ids taken from the run (when it read `patients`) or listed;
//! - lists with a two-bounded filter the API honours: windows narrowed until each fits one
//!   page (a single page cannot skip rows), at most [`RECOVERY_PASSES`] reads' worth of pages;
//! - others: the slice is read once more (the keys already held drop every repeat).
//!
//! The manifest says how many rows came back and how; a slice still short fails (exit 4).

use std::future::Future;
use std::pin::Pin;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::ExtractError;
use super::dedupe::KeySet;
use super::pages::{Outcome, Reading, SliceReader};
use super::report::{Sequence, SliceReport};
use super::route::{Grain, Tile};
use super::slice::Slice;
use super::wall::Wall;
use crate::api::{ApiError, Client, Target};
use crate::catalog::{self, RangeFilter};
use crate::json::{Doc, Node};

/// Recovery spends at most this many reads' worth of pages (plus [`RECOVERY_SLACK`]).
pub const RECOVERY_PASSES: u32 = 3;
/// Extra requests recovery may always spend (small slices).
const RECOVERY_SLACK: u32 = 20;

impl SliceReader<'_> {
    /// Recovers a short slice, then fails it if rows are still missing.
    pub(super) async fn finish(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
    ) -> Result<SliceReport, ExtractError> {
        if let Some(total) = reading.report.total_count
            && reading.report.rows + reading.report.elsewhere < total
        {
            self.recover(reading, slice, total).await?;
        }
        self.check_total(slice, &reading.report)?;
        Ok(reading.report.clone())
    }

    async fn recover(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
        total: u64,
    ) -> Result<(), ExtractError> {
        let (rows, pages) = (reading.report.rows, reading.report.pages);
        let missing = total.saturating_sub(rows + reading.report.elsewhere);
        tracing::warn!(
            resource = self.resource.name,
            slice = %slice.label,
            missing,
            "The API's paging skipped rows (fewer distinct keys than total_count); recovering them."
        );
        let size = reading.report.rows_per_page();
        let one_pass = u32::try_from(total.div_ceil(u64::from(size))).unwrap_or(u32::MAX);
        reading.stop_at_pages = Some(
            pages
                .saturating_add(one_pass.saturating_mul(RECOVERY_PASSES))
                .saturating_add(RECOVERY_SLACK),
        );
        let ignored = self.ignored.lock().map(|i| i.clone()).unwrap_or_default();
        let narrow = self.narrowing_filter(&ignored);
        let how = if self.reads_per_key() {
            self.per_key(reading, missing).await?;
            "GET /v1/patients/{id}/stats".to_string()
        } else if let Some(filter) = narrow {
            let root = Tile::root(
                self.bound(slice, filter.after),
                filter.before.and_then(|b| self.bound(slice, b)),
            );
            let cap = Some(u64::from(size));
            let grain = Grain::of(self.resource, filter);
            let mut stack = reading
                .seen
                .windows(filter.field, &root, grain)
                .unwrap_or_else(|| vec![root]);
            stack.reverse();
            if let Outcome::Ignored(param) = self
                .tiles(reading, slice, filter, cap, stack, 1, None)
                .await?
            {
                tracing::warn!(
                    resource = self.resource.name,
                    filter = param,
                    "The API ignored `{param}` while recovering; the rows stay missing."
                );
            }
            format!("narrow tiles on {}", filter.field)
        } else {
            let mut sequence = self.start(slice);
            while let Outcome::Ignored(param) =
                self.follow(reading, slice, sequence, 1, None).await?
            {
                self.note_ignored(&mut reading.report, param);
                sequence = self.start(slice);
            }
            "re-read".to_string()
        };
        reading.stop_at_pages = None;
        let paging = &mut reading.report.paging;
        paging.recovered += reading.report.rows - rows;
        paging.recovery_requests += u64::from(reading.report.pages - pages);
        if !paging.recovered_by.contains(&how) {
            paging.recovered_by.push(how);
        }
        tracing::info!(
            resource = self.resource.name,
            recovered = reading.report.rows - rows,
            requests = reading.report.pages - pages,
            "Recovery finished."
        );
        // The run learns a slice's figures from its pages; recovery's tally comes after the
        // last one, so it travels on a page with no rows. The reads are done: a resume from
        // here only recovers what is still missing.
        reading.report.sequence = Some(Sequence::PerKey);
        let empty = Doc::from_value(&serde_json::Value::Null);
        self.send(reading, 0, empty, Vec::new()).await
    }

    /// Fetches the missing rows one parent key at a time (`patient_stats`: per patient, from
    /// `GET /v1/patients/{id}/stats`), as the catalog's [`ByKey`](catalog::ByKey) says.
    async fn per_key(&self, reading: &mut Reading<'_>, missing: u64) -> Result<(), ExtractError> {
        let Some(by_key) = self.resource.by_key else {
            return Ok(());
        };
        reading.report.sequence = Some(Sequence::PerKey);
        let later = self.known_keys.lock().ok().and_then(|mut k| k.take());
        let handed = match later {
            Some(later) => later.await,
            None => None,
        };
        let ids = match handed {
            Some(ids) => ids.to_vec(),
            None => {
                list_keys(
                    self.client,
                    by_key.parent,
                    self.concurrency,
                    self.wall.clone(),
                )
                .await?
            }
        };
        let mut absent: Vec<i64> = ids
            .iter()
            .filter_map(|id| id.parse::<i64>().ok())
            .filter(|id| !reading.keys.contains_int(*id))
            .collect();
        let most = usize::try_from(missing.saturating_mul(2) + u64::from(RECOVERY_SLACK))
            .unwrap_or(usize::MAX);
        if absent.len() > most {
            tracing::warn!(
                resource = self.resource.name,
                absent = absent.len(),
                most,
                "More keys lack rows than the shortfall explains; fetching only the first."
            );
            absent.truncate(most);
        }
        let Some(parent) = catalog::find(by_key.parent).map(|p| p.path) else {
            return Ok(());
        };
        let resource = self.resource.name;
        let mut replies = futures::stream::iter(absent)
            .map(|id| async move {
                let path = format!("{parent}/{id}/{}", by_key.suffix);
                let target = Target { resource, page: 0 };
                self.client.get(&path, &[], target).await
            })
            .buffered(self.concurrency.max(1));
        let mut number = 0u32;
        while let Some(reply) = replies.next().await {
            number += 1;
            reading.report.pages += 1;
            let reply = match reply {
                // The patient was deleted since the list was read.
                Err(ApiError::NotFound { .. }) => continue,
                other => other?,
            };
            let root = reply.body.root();
            let singular = self.resource.envelope.trim_end_matches('s');
            let record = [self.resource.envelope, singular, self.resource.singular()]
                .iter()
                .find_map(|k| root.get(k).filter(|r| r.is_object()))
                .or_else(|| Some(root).filter(|r| r.get(self.resource.primary_key).is_some()));
            let Some(record) = record else {
                return Err(ExtractError::Shape {
                    resource: resource.into(),
                    page: 0,
                    why: format!(
                        "`{parent}/{{id}}/stats` answered without a `{}` object",
                        self.resource.envelope
                    ),
                });
            };
            let at = record.position();
            let fresh = reading
                .keys
                .insert(record, self.resource.primary_key)
                .unwrap_or(true);
            let records = if fresh {
                reading.report.rows += 1;
                vec![at]
            } else {
                reading.report.duplicates += 1;
                Vec::new()
            };
            self.send(reading, number, reply.body, records).await?;
        }
        Ok(())
    }
}

impl SliceReader<'_> {
    /// The two-bounded range filter recovery narrows windows on: the first the API was not
    /// found to ignore (a parameter in `ignored`).
    pub(super) fn narrowing_filter(&self, ignored: &[String]) -> Option<&'static RangeFilter> {
        self.resource.ranges.iter().find(|f| {
            f.before
                .is_some_and(|b| !ignored.iter().any(|i| i == b || i == f.after))
        })
    }
}

/// Every key of `resource` (read whole, past the wall like any list): the parent keys of a
/// per-parent fan-out (`fees` per treatment) or of rows fetched one by one (`patient_stats`).
/// Boxed: reading a list may recover rows, which may list keys.
pub(crate) fn list_keys<'r>(
    client: &'r Client,
    resource: &'r str,
    concurrency: usize,
    wall: Wall,
) -> Pin<Box<dyn Future<Output = Result<Vec<String>, ExtractError>> + Send + 'r>> {
    Box::pin(async move {
        let Some(listed) = catalog::find(resource) else {
            return Err(ExtractError::Shape {
                resource: resource.into(),
                page: 0,
                why: "the catalog has no such resource to read keys from".into(),
            });
        };
        let lister = SliceReader::new(client, listed, Vec::new(), concurrency, wall);
        let (tx, mut rx) = mpsc::channel(64);
        let whole = Slice::whole();
        let read = async move {
            let tx = tx;
            let mut keys = KeySet::default();
            lister.read(0, &whole, None, &mut keys, &tx).await
        };
        let collect = async {
            let mut ids = Vec::new();
            while let Some(page) = rx.recv().await {
                ids.extend(
                    page.records()
                        .filter_map(|r| key_text(r, listed.primary_key)),
                );
            }
            ids
        };
        let (result, ids) = tokio::join!(read, collect);
        result?;
        Ok(ids)
    })
}

/// A record's key as text (`17`, `6f1c-…`).
pub fn key_text(record: Node<'_>, field: &str) -> Option<String> {
    let key = record.get(field)?;
    match key.number() {
        Some(n) => Some(n.to_string()),
        None => key.as_str().map(std::borrow::Cow::into_owned),
    }
}
