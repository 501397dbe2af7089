//! Keys one resource reads, handed to another within the same run: the catalog says which
//! resource is read by another's keys ([`Resource::keys_from`](crate::catalog::Resource)).
//!
//! `fees` can only be listed per treatment (`?treatment_id=`, dentally-api.md §3), so it needs
//! every treatment id first; `patient_stats` rows that bulk paging skipped are fetched per
//! patient (`/v1/patients/{id}/stats`). When the run reads the parent (`treatments`,
//! `patients`) in full anyway, its de-duplication key set already holds exactly those ids;
//! listing them a second time would spend one request per 100 rows of the practice's hourly
//! budget for nothing. So the parent publishes its keys here when it has read the whole list,
//! and the child waits for them. When it cannot (not selected, read as a delta, failed, text
//! keys), the child lists the ids itself.
//!
//! The run orders a per-parent list's parent before it ([`plan`]): resources run two at a
//! time in list order, so the parent has always started by the time the child waits, and the
//! wait ends. A parent of rows fetched one by one is only waited for when it already comes
//! first (those keys are needed only if paging skipped rows).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::catalog::Window;
use crate::config::ResourceSpec;

/// What the child gets.
#[derive(Debug, Clone)]
enum Handed {
    /// The parent has not finished reading.
    Pending,
    /// Every key, ascending (as the API lists them with `sort_by=id`).
    Ready(Arc<Vec<String>>),
    /// The child must list the keys itself.
    Unavailable,
}

/// The hand-over point of one parent's keys in one practice's run.
#[derive(Debug)]
pub struct KeyHandoff {
    tx: watch::Sender<Handed>,
}

impl KeyHandoff {
    /// A hand-over point; `expected` when the parent runs before its child in this run.
    pub fn new(expected: bool) -> Self {
        let first = if expected {
            Handed::Pending
        } else {
            Handed::Unavailable
        };
        Self {
            tx: watch::Sender::new(first),
        }
    }

    /// Publishes the keys (`None`: the child lists them). Only the first call counts.
    pub fn publish(&self, ids: Option<Vec<String>>) {
        self.tx.send_if_modified(|handed| match handed {
            Handed::Pending => {
                *handed = ids.map_or(Handed::Unavailable, |ids| Handed::Ready(Arc::new(ids)));
                true
            }
            _ => false,
        });
    }

    /// Waits for the parent; `None` means list the keys from the API.
    pub async fn wait(&self) -> Option<Arc<Vec<String>>> {
        let mut rx = self.tx.subscribe();
        let handed = rx
            .wait_for(|h| !matches!(h, Handed::Pending))
            .await
            .ok()?
            .clone();
        match handed {
            Handed::Ready(ids) => Some(ids),
            Handed::Pending | Handed::Unavailable => None,
        }
    }
}

/// The hand-over points of a run, by parent resource name.
pub type KeyHandoffs = BTreeMap<&'static str, KeyHandoff>;

/// Orders each selected per-parent list's parent just before it (when the parent came after),
/// and returns a hand-over point for every parent a selected resource is read by: pending
/// where the parent runs first, unavailable (the child lists the keys) otherwise.
pub fn plan(specs: &mut Vec<ResourceSpec>) -> KeyHandoffs {
    let at =
        |specs: &[ResourceSpec], name: &str| specs.iter().position(|s| s.resource.name == name);
    let children: Vec<&'static crate::catalog::Resource> =
        specs.iter().map(|s| s.resource).collect();
    for child in children {
        if let Window::PerParent { parent, .. } = child.window
            && let Some(c) = at(specs, child.name)
            && let Some(p) = at(specs, parent)
            && p > c
        {
            let spec = specs.remove(p);
            specs.insert(c, spec);
        }
    }
    // Pending only when the parent runs before every child that reads its keys: a child that
    // runs first would wait for a parent that cannot start (two resources run at a time, in
    // order).
    let mut expected: BTreeMap<&'static str, bool> = BTreeMap::new();
    for spec in specs.iter() {
        if let Some(parent) = spec.resource.keys_from() {
            let first = matches!(
                (at(specs, parent), at(specs, spec.resource.name)),
                (Some(p), Some(c)) if p < c
            );
            *expected.entry(parent).or_insert(true) &= first;
        }
    }
    expected
        .into_iter()
        .map(|(parent, first)| (parent, KeyHandoff::new(first)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> ResourceSpec {
        ResourceSpec {
            resource: crate::catalog::find(name).unwrap(),
            mode: crate::config::Mode::Full,
            pii: crate::config::PiiMode::Keep,
            window: None,
            lag_secs: 60,
            lookback_days: 7,
            reconcile: crate::config::Reconcile::Never,
        }
    }

    fn names(specs: &[ResourceSpec]) -> Vec<&'static str> {
        specs.iter().map(|s| s.resource.name).collect()
    }

    #[tokio::test]
    async fn the_catalog_decides_who_waits_for_whose_keys() {
        // `fees` is read per treatment: `treatments` moves before it and hands its ids over.
        let mut specs = vec![spec("fees"), spec("patient_stats"), spec("treatments")];
        let handoffs = plan(&mut specs);
        assert_eq!(names(&specs), ["treatments", "fees", "patient_stats"]);
        let treatments = &handoffs["treatments"];
        treatments.publish(Some(vec!["7".into()]));
        assert_eq!(treatments.wait().await.as_deref(), Some(&vec!["7".into()]));
        // `patients` is not selected: `patient_stats` recovery lists the ids itself.
        assert!(handoffs["patients"].wait().await.is_none());
        // Selected after `patient_stats`: not moved, and not waited for.
        let mut specs = vec![spec("patient_stats"), spec("patients")];
        let handoffs = plan(&mut specs);
        assert_eq!(names(&specs), ["patient_stats", "patients"]);
        assert!(handoffs["patients"].wait().await.is_none());
        // Nothing reads `accounts` by key.
        let handoffs = plan(&mut vec![spec("accounts")]);
        assert!(handoffs.is_empty());
    }

    #[tokio::test]
    async fn fees_waits_for_the_ids_or_lists_them() {
        let handoff = KeyHandoff::new(true);
        let waiter = handoff.wait();
        handoff.publish(Some(vec!["1".into(), "2".into()]));
        handoff.publish(None);
        assert_eq!(waiter.await.as_deref(), Some(&vec!["1".into(), "2".into()]));
        let failed = KeyHandoff::new(true);
        failed.publish(None);
        assert!(failed.wait().await.is_none());
        assert!(KeyHandoff::new(false).wait().await.is_none(), "never waits");
    }
}
