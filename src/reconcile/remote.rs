//! The API's side of the comparison: a range's `total_count` for one request (`per_page=1`),
//! and a range's keys, page by page.
//!
//! Bounds go out as the resource's own range parameters (`created_after`/`created_before`,
//! `dated_after`/`dated_before`, …), in whole seconds (RFC 3339, UTC) or whole days. Open ends
//! are sent as far bounds (1970, 2100) rather than left out, so each request has the shape the
//! evidence saw honoured (a lone `*_before` is not evidenced anywhere).

use std::collections::HashSet;

use chrono::DateTime;

use super::columns::Key;
use super::search::{Range, RangeApi};
use crate::api::{Client, Target};
use crate::catalog::{RangeFilter, Resource};
use crate::extract::{PER_PAGE, text_key_digest};
use crate::json::{Doc, Node};

/// Far bounds standing for open ends: no Dentally record predates the first or outlives the
/// second.
const FAR_PAST: i64 = 0;
const FAR_FUTURE: i64 = 4_102_444_800_000_000; // 2100-01-01T00:00:00Z

/// One resource's list, restricted by one range filter.
pub struct RemoteRange<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The resource.
    pub resource: &'static Resource,
    /// The range filter used.
    pub filter: &'static RangeFilter,
    /// Whether the field is a date (bounds as `YYYY-MM-DD`).
    pub date: bool,
}

impl RemoteRange<'_> {
    fn bound(&self, micros: i64) -> String {
        let t = DateTime::from_timestamp_micros(micros).unwrap_or_default();
        if self.date {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }
    }

    fn query(&self, range: Range, page: u32, per_page: u32) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        q.extend(
            self.resource
                .required_params
                .iter()
                .map(|(k, v)| (*k, (*v).to_string())),
        );
        if range != Range::ALL {
            q.push((
                self.filter.after,
                self.bound(range.from.unwrap_or(FAR_PAST)),
            ));
            if let Some(before) = self.filter.before {
                q.push((before, self.bound(range.to.unwrap_or(FAR_FUTURE))));
            }
        }
        q
    }

    async fn page(&self, range: Range, page: u32, per_page: u32) -> Result<Doc, String> {
        let target = Target {
            resource: self.resource.name,
            page,
        };
        let query = self.query(range, page, per_page);
        self.client
            .get(self.resource.path, &query, target)
            .await
            .map(|reply| reply.body)
            .map_err(|e| e.to_string())
    }
}

impl RemoteRange<'_> {
    /// Every key of the unfiltered list, and the pages it took; fails (marking nothing) when it
    /// saw fewer distinct keys than the total, since a skipped row must not look deleted.
    pub async fn all_keys(&mut self) -> Result<(HashSet<Key>, u64), String> {
        self.read(Range::ALL).await
    }

    /// Every key of `range` and the pages it took, stopping at a short page, at the count, or
    /// at the page limit the count allows (bounded whatever the server claims).
    pub(crate) async fn read(&self, range: Range) -> Result<(HashSet<Key>, u64), String> {
        let mut keys = HashSet::new();
        let mut expected = None;
        let mut page = 0u32;
        loop {
            page += 1;
            let doc = self.page(range, page, PER_PAGE).await?;
            expected = expected.or(total_count(&doc));
            let served = self.collect(&doc, &mut keys);
            if served < PER_PAGE as usize
                || expected.is_some_and(|t| keys.len() as u64 >= t)
                || u64::from(page) >= page_limit(expected)
            {
                break;
            }
        }
        check_complete(self.resource.name, &keys, expected)?;
        Ok((keys, u64::from(page)))
    }

    fn collect(&self, doc: &Doc, keys: &mut HashSet<Key>) -> usize {
        let records: Vec<Node<'_>> = doc
            .root()
            .get(self.resource.envelope)
            .map(|list| list.items().collect())
            .unwrap_or_default();
        let served = records.len();
        keys.extend(
            records
                .into_iter()
                .filter_map(|r| record_key(r, self.resource.primary_key)),
        );
        served
    }
}

/// Pages a read may take: the pages its count needs, and a few for rows arriving meanwhile
/// (bounded whatever the server claims: `u32::MAX` pages are never asked for).
fn page_limit(expected: Option<u64>) -> u64 {
    expected
        .map_or(10_000, |t| t.div_ceil(u64::from(PER_PAGE)) + 5)
        .min(1_000_000)
}

/// A read that saw fewer distinct keys than its count may have skipped rows (unstable paging):
/// treating the missing ones as deleted would be wrong.
fn check_complete(
    resource: &str,
    keys: &HashSet<Key>,
    expected: Option<u64>,
) -> Result<(), String> {
    match expected {
        Some(t) if (keys.len() as u64) < t => Err(format!(
            "`{resource}`: a read returned {} distinct rows of {t}; paging was unstable, so no \
             row is marked deleted this run",
            keys.len()
        )),
        _ => Ok(()),
    }
}

fn total_count(doc: &Doc) -> Option<u64> {
    doc.root()
        .get("meta")?
        .get("total_count")?
        .number()?
        .parse()
        .ok()
}

/// The key of one record, as the table stores it.
pub fn record_key(record: Node<'_>, key: &str) -> Option<Key> {
    let value = record.get(key)?;
    if let Some(n) = value.number() {
        return n.parse().ok().map(Key::Int);
    }
    let text = value.as_str()?;
    Some(Key::Text(text_key_digest(&text)))
}

impl RangeApi for RemoteRange<'_> {
    async fn count(&mut self, range: Range) -> Result<u64, String> {
        let doc = self.page(range, 1, 1).await?;
        total_count(&doc).ok_or_else(|| {
            format!(
                "`{}`: the answer has no meta.total_count, which counting needs",
                self.resource.name
            )
        })
    }

    async fn keys(&mut self, range: Range) -> Result<HashSet<Key>, String> {
        Ok(self.read(range).await?.0)
    }
}
