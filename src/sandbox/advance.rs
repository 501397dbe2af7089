//! Simulated days: what a practice does between two runs of the ETL.
//!
//! `advance(days)` walks the clock forward one day at a time. Each day, between 09:00 and
//! 18:00 local time, every practice registers new patients (with their stats and account),
//! books appointments ahead, sees the day's patients (their appointments become `Completed`,
//! `Did not attend` or `Cancelled` with matching stamps; some are invoiced and paid on the
//! spot), edits a few patients, settles old invoices, completes plan items, and deletes a few
//! rows (no tombstones: they simply vanish from every list). However small the practice, every
//! day brings at least one new patient, one booking, one edit and one deletion, so a test can
//! always see each kind of change. Everything is recorded in the
//! practice's overlay, so memory grows with the activity simulated, not with the data size,
//! and the same seed simulates the same days.

use chrono::{Duration, NaiveDate};

use super::activity;
use super::data::rng::Rng;
use super::data::timeline::local_ms;
use super::server::Sandbox;
use super::store::Practice;

/// Simulates `days` days in every practice and moves the clock on.
pub(crate) fn advance(sandbox: &Sandbox, days: u32) {
    let mut clock = sandbox.clock.write().expect("clock");
    for _ in 0..days {
        let date = clock.today + Duration::days(i64::from(clock.days));
        for practice in &sandbox.practices {
            simulate_day(practice, date, clock.days);
        }
        clock.days += 1;
    }
}

/// Deletes `count` rows of list `resource` in practice `practice` (1-based), clustered or
/// scattered (see `activity::delete_many`), and answers their primary keys in id order.
/// The draw depends on the seed and on how many rows of the table were deleted before, so a
/// replayed history deletes the same rows. `None`: no such practice or list resource.
pub(crate) fn delete_rows(
    sandbox: &Sandbox,
    practice: u32,
    resource: &str,
    count: u64,
    clustered: bool,
) -> Option<Vec<serde_json::Value>> {
    let r = crate::catalog::find(resource).filter(|r| r.kind == crate::catalog::Kind::List)?;
    let table = super::data::table(r.name)?;
    let p = sandbox.practice(practice)?;
    let w = &p.world;
    let mut ov = p.overlay.write().expect("overlay");
    ov.generation += 1;
    let before = ov
        .tables
        .get(table.name)
        .map_or(0, |c| c.deleted.len() as u64);
    let rng = Rng::record(
        w.seed,
        w.practice,
        &format!("delete {}", table.name),
        before,
    );
    let indices = activity::delete_many(&mut ov, w, table.name, &rng, count, clustered);
    // The keys of the rows just deleted, from their last version (deletion only hides them).
    let changes = ov.tables.get(table.name);
    let base = (table.len)(w);
    let keys = indices
        .into_iter()
        .filter_map(|i| {
            let raw = match changes.and_then(|c| c.updated.get(&i)) {
                Some(v) => v.clone(),
                None if i < base => (table.record)(w, i),
                None => changes?.appended.get((i - base) as usize)?.clone(),
            };
            raw.get(r.primary_key).cloned()
        })
        .collect();
    Some(keys)
}

/// A count with mean `rate` (integer part plus one more with the fractional chance).
fn how_many(rng: &Rng, field: &str, rate: f64) -> u64 {
    rate.floor() as u64 + u64::from(rng.chance(field, rate.fract()))
}

/// One day of practice `practice` on `date` (day number `n` since the clock started). Every
/// third day (the first included) deletes a patient, so any `advance` shows a deletion, and the
/// days simulated do not depend on how they were split into calls.
fn simulate_day(practice: &Practice, date: NaiveDate, n: u32) {
    let w = &practice.world;
    let rng = Rng::record(w.seed, w.practice, "advance", u64::from(n));
    let mut ov = practice.overlay.write().expect("overlay");
    ov.generation += 1;
    let opens = local_ms(date, 9 * 60);
    let at = |r: &Rng| opens + r.range("minute", 0, 9 * 60 - 1) * 60_000 + r.range("ms", 0, 59_999);
    let scale = w.counts.patients as f64 / 1_000.0;
    for k in 0..how_many(&rng, "patients", 1.4 * scale).max(1) {
        activity::new_patient(&mut ov, w, at(&rng.child("patient", k)));
    }
    for k in 0..how_many(&rng, "bookings", 3.7 * scale).max(1) {
        activity::book(
            &mut ov,
            w,
            date,
            &rng.child("booking", k),
            at(&rng.child("booking", k)),
        );
    }
    activity::see_patients(&mut ov, w, date, &rng);
    for k in 0..how_many(&rng, "edits", 2.0 * scale).max(1) {
        activity::edit_patient(&mut ov, w, &rng.child("edit", k), at(&rng.child("edit", k)));
    }
    for k in 0..how_many(&rng, "settle", 1.0 * scale).max(1) {
        activity::settle_invoice(
            &mut ov,
            w,
            &rng.child("settle", k),
            at(&rng.child("settle", k)),
        );
    }
    for k in 0..how_many(&rng, "completions", 2.0 * scale).max(1) {
        activity::complete_plan_item(
            &mut ov,
            w,
            &rng.child("complete", k),
            at(&rng.child("complete", k)),
        );
    }
    activity::delete(
        &mut ov,
        w,
        "appointments",
        &rng.child("delete", 0),
        Some(date),
    );
    if n.is_multiple_of(3) || rng.chance("delete.patient", 0.15) {
        let gone = activity::delete(&mut ov, w, "patients", &rng.child("delete", 1), None);
        for table in ["patient_stats", "accounts"] {
            if let Some(j) = gone {
                ov.tables.entry(table).or_default().deleted.insert(j);
            }
        }
    }
    for (k, table) in ["treatment_plan_items", "recalls"].into_iter().enumerate() {
        if rng.chance(table, 0.3) {
            activity::delete(&mut ov, w, table, &rng.child("delete", 2 + k as u64), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxConfig;

    fn sandbox() -> Sandbox {
        Sandbox::new(SandboxConfig {
            scale: 0.2,
            today: NaiveDate::from_ymd_opt(2026, 6, 15).unwrap(),
            practices: 2,
            ..SandboxConfig::default()
        })
    }

    #[test]
    fn companions_follow_patients_and_nothing_postdates_the_clock() {
        let s = sandbox();
        advance(&s, 4);
        let now = s.now();
        for practice in &s.practices {
            let ov = practice.overlay.read().unwrap();
            let appended = |t: &str| ov.tables.get(t).map_or(0, |c| c.appended.len());
            let deleted = |t: &str| {
                ov.tables
                    .get(t)
                    .map(|c| c.deleted.clone())
                    .unwrap_or_default()
            };
            assert!(appended("patients") > 0 && appended("appointments") > 0);
            assert_eq!(appended("patients"), appended("patient_stats"));
            assert_eq!(appended("patients"), appended("accounts"));
            assert!(!deleted("patients").is_empty());
            assert_eq!(deleted("patients"), deleted("patient_stats"));
            assert_eq!(deleted("patients"), deleted("accounts"));
            for changes in ov.tables.values() {
                for record in changes.appended.iter().chain(changes.updated.values()) {
                    if let Some(t) = record.get("updated_at").and_then(serde_json::Value::as_str) {
                        assert!(super::super::query::instant_of(t).unwrap() <= now, "{t}");
                    }
                }
            }
        }
    }

    #[test]
    fn appended_guids_keep_id_order() {
        let s = Sandbox::new(SandboxConfig {
            scale: 1.0,
            today: NaiveDate::from_ymd_opt(2026, 6, 15).unwrap(),
            ..SandboxConfig::default()
        });
        advance(&s, 5);
        for practice in &s.practices {
            let ov = practice.overlay.read().unwrap();
            let ids: Vec<&str> = ov.tables["invoice_items"]
                .appended
                .iter()
                .map(|v| v["id"].as_str().unwrap())
                .collect();
            assert!(ids.len() > 2);
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
            let base_last = practice
                .with_view("invoice_items", |v| {
                    v.raw(v.base_len() - 1).unwrap()["id"].clone()
                })
                .unwrap();
            assert!(base_last.as_str().unwrap() < ids[0]);
        }
    }

    #[test]
    fn days_do_not_depend_on_how_they_are_split() {
        let (a, b) = (sandbox(), sandbox());
        advance(&a, 3);
        for _ in 0..3 {
            advance(&b, 1);
        }
        for (pa, pb) in a.practices.iter().zip(&b.practices) {
            let (oa, ob) = (pa.overlay.read().unwrap(), pb.overlay.read().unwrap());
            for (name, changes) in &oa.tables {
                let other = &ob.tables[name];
                assert_eq!(changes.appended, other.appended, "{name}");
                assert_eq!(changes.updated, other.updated, "{name}");
                assert_eq!(changes.deleted, other.deleted, "{name}");
            }
        }
    }
}
