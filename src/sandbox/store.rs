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
