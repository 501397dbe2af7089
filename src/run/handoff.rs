//! The treatment ids `fees` needs, handed over by `treatments` within the same run.
//!
//! `fees` can only be listed per treatment (`?treatment_id=`, dentally-api.md §3), so it needs
//! every treatment id first. When the run reads `treatments` in full anyway, its de-duplication
//! key set already holds exactly those ids; listing `/v1/treatments` a second time would spend
//! one request per 100 treatments of the practice's hourly budget for nothing. So `treatments`
//! publishes its keys here when it has read the whole list, and `fees` waits for them. When it
//! cannot (not selected, read as a delta, failed, text keys), `fees` lists the ids itself.
//!
//! The run orders `treatments` before `fees` ([`order`]): resources run two at a time in list
//! order, so `treatments` has always started by the time `fees` waits, and the wait ends.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::ResourceSpec;

/// What `fees` gets.
#[derive(Debug, Clone)]
enum Handed {
    /// `treatments` has not finished reading.
    Pending,
    /// Every treatment id, ascending (as the API lists them with `sort_by=id`).
    Ready(Arc<Vec<String>>),
    /// `fees` must list the ids itself.
    Unavailable,
}

/// The hand-over point of one practice's run.
#[derive(Debug)]
pub struct TreatmentIds {
    tx: watch::Sender<Handed>,
}

impl TreatmentIds {
    /// A hand-over point; `expected` when `treatments` runs before `fees` in this run.
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

    /// Publishes the ids (`None`: `fees` lists them). Only the first call counts.
    pub fn publish(&self, ids: Option<Vec<String>>) {
        self.tx.send_if_modified(|handed| match handed {
            Handed::Pending => {
                *handed = ids.map_or(Handed::Unavailable, |ids| Handed::Ready(Arc::new(ids)));
                true
            }
            _ => false,
        });
    }

    /// Waits for `treatments`; `None` means list the ids from the API.
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

/// The same hand-over for the patients' ids that `patient_stats` recovery fetches stats for
/// one by one (`GET /v1/patients/{id}/stats`) when bulk paging skipped rows.
pub type PatientIds = TreatmentIds;

/// Whether `first` runs before `then` in this run (so `then` may wait for its keys: resources
/// start in list order, so `first` has always started by then and the wait ends).
pub fn precedes(specs: &[ResourceSpec], first: &str, then: &str) -> bool {
    let at = |name: &str| specs.iter().position(|s| s.resource.name == name);
    matches!((at(first), at(then)), (Some(a), Some(b)) if a < b)
}

/// Moves `treatments` just before `fees` when both are selected and it came after; returns
/// whether `fees` can expect the ids.
pub fn order(specs: &mut Vec<ResourceSpec>) -> bool {
    let find =
        |specs: &[ResourceSpec], name: &str| specs.iter().position(|s| s.resource.name == name);
    let (Some(fees), Some(treatments)) = (find(specs, "fees"), find(specs, "treatments")) else {
        return false;
    };
    if treatments > fees {
        let spec = specs.remove(treatments);
        specs.insert(fees, spec);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fees_waits_for_the_ids_or_lists_them() {
        let handoff = TreatmentIds::new(true);
        let waiter = handoff.wait();
        handoff.publish(Some(vec!["1".into(), "2".into()]));
        handoff.publish(None);
        assert_eq!(waiter.await.as_deref(), Some(&vec!["1".into(), "2".into()]));
        let failed = TreatmentIds::new(true);
        failed.publish(None);
        assert!(failed.wait().await.is_none());
        assert!(
            TreatmentIds::new(false).wait().await.is_none(),
            "never waits"
        );
    }
}
