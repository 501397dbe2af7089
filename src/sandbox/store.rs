//! The live state of each practice: generated base data plus the changes `advance` made.
//!
//! Base records are never stored; an [`Overlay`] keeps only what changed since the clock
//! started (records updated in place, indices deleted, records appended with new, higher ids),
//! so memory is proportional to the simulated activity, not to the practice's size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use chrono::Duration;
use serde_json::Value;

use crate::catalog;

use super::data::{self, Table, World, conform::conform, timeline};

/// What changed in one resource.
#[derive(Debug, Default, Clone)]
pub(crate) struct Changes {
    /// Base or appended records replaced by a newer version (raw records), by index.
    pub updated: BTreeMap<u64, Value>,
    /// Indices that vanished (from every list; no tombstones).
    pub deleted: BTreeSet<u64>,
    /// Records created after the clock started; index `base + k`.
    pub appended: Vec<Value>,
}

/// Every change of one practice, by resource.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    pub tables: HashMap<&'static str, Changes>,
    /// Bumped by every change (a simulated day, deletions on demand), so answers computed
    /// from an older state are never reused.
    pub generation: u64,
}

/// One practice: its world and its overlay.
#[derive(Debug)]
pub(crate) struct Practice {
    pub world: World,
    pub overlay: RwLock<Overlay>,
}

/// A resource of a practice as it stands now: base records with the overlay applied.
pub(crate) struct View<'a> {
    pub world: &'a World,
    pub table: &'static Table,
    pub changes: &'a Changes,
    /// The overlay's generation (see [`Overlay::generation`]).
    pub generation: u64,
}

/// No changes (for resources `advance` never touched).
pub(crate) static UNCHANGED: std::sync::LazyLock<Changes> =
    std::sync::LazyLock::new(Changes::default);

impl View<'_> {
    /// Number of base records.
    pub(crate) fn base_len(&self) -> u64 {
        (self.table.len)(self.world)
    }

    /// Number of indices (base + appended, deleted ones included).
    pub(crate) fn index_len(&self) -> u64 {
        self.base_len() + self.changes.appended.len() as u64
    }

    /// The raw record at `index`, unless it was deleted.
    pub(crate) fn raw(&self, index: u64) -> Option<Value> {
        if self.changes.deleted.contains(&index) {
            return None;
        }
        if let Some(v) = self.changes.updated.get(&index) {
            return Some(v.clone());
        }
        let base = self.base_len();
        if index < base {
            Some((self.table.record)(self.world, index))
        } else {
            self.changes.appended.get((index - base) as usize).cloned()
        }
    }

    /// The index of the record with integer id `id`, if it is live.
    pub(crate) fn index_of(&self, id: i64) -> Option<u64> {
        let first = self.table.first_id?;
        let index = u64::try_from(id - first).ok()?;
        (index < self.index_len() && !self.changes.deleted.contains(&index)).then_some(index)
    }

    /// Every live record, conformed, in index (= id) order.
    pub(crate) fn all(&self, resource: &catalog::Resource) -> Vec<Value> {
        (0..self.index_len())
            .filter_map(|i| self.raw(i))
            .map(|r| conform(resource, r))
            .collect()
    }
}

impl Practice {
    /// A practice with no changes yet.
    pub(crate) fn new(world: World) -> Practice {
        Practice {
            world,
            overlay: RwLock::new(Overlay::default()),
        }
    }

    /// Runs `f` on the current view of resource `name`.
    pub(crate) fn with_view<T>(&self, name: &str, f: impl FnOnce(&View<'_>) -> T) -> Option<T> {
        let table = data::table(name)?;
        let overlay = self.overlay.read().expect("overlay");
        let changes = overlay.tables.get(table.name).unwrap_or(&UNCHANGED);
        Some(f(&View {
            world: &self.world,
            table,
            changes,
            generation: overlay.generation,
        }))
    }
}

/// The simulated clock: `today` 09:00 Europe/London plus the days `advance` has simulated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub today: chrono::NaiveDate,
    pub days: u32,
}

impl Clock {
    /// Now, in UTC milliseconds (09:00 local on the simulated day, whatever the offset).
    pub(crate) fn now(&self) -> i64 {
        timeline::local_ms(self.today + Duration::days(i64::from(self.days)), 9 * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_overlay_wins_over_generated_records() {
        let world = World::new(
            1,
            1,
            0.05,
            chrono::NaiveDate::from_ymd_opt(2026, 6, 15).unwrap(),
        );
        let practice = Practice::new(world);
        let base = practice.with_view("patients", |v| v.base_len()).unwrap();
        {
            let mut overlay = practice.overlay.write().unwrap();
            let changes = overlay.tables.entry("patients").or_default();
            changes.deleted.insert(1);
            changes
                .updated
                .insert(2, json!({"id": 20003, "first_name": "Changed"}));
            changes
                .appended
                .push(json!({"id": 20001 + base as i64, "first_name": "New"}));
        }
        practice
            .with_view("patients", |v| {
                assert_eq!(v.index_len(), base + 1);
                assert!(v.raw(1).is_none());
                assert_eq!(v.raw(2).unwrap()["first_name"], "Changed");
                assert_eq!(v.raw(base).unwrap()["first_name"], "New");
                assert_eq!(v.index_of(20001), Some(0));
                assert_eq!(v.index_of(20002), None, "deleted");
                assert_eq!(v.index_of(20001 + base as i64), Some(base));
                assert_eq!(v.index_of(1), None);
                let resource = catalog::find("patients").unwrap();
                assert_eq!(v.all(resource).len() as u64, base);
            })
            .unwrap();
        assert!(practice.with_view("nope", |_| ()).is_none());
    }

    #[test]
    fn the_clock_keeps_nine_local_across_summer_time() {
        let clock = Clock {
            today: chrono::NaiveDate::from_ymd_opt(2026, 10, 24).unwrap(),
            days: 0,
        };
        let after = Clock { days: 2, ..clock };
        assert_eq!(
            super::super::data::fmt::timestamp(clock.now()),
            "2026-10-24T09:00:00.000+01:00"
        );
        assert_eq!(
            super::super::data::fmt::timestamp(after.now()),
            "2026-10-26T09:00:00.000+00:00"
        );
    }
}
