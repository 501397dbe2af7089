//! The generated practice: every record of every resource as a pure function of
//! `(seed, practice, resource, index)`.
//!
//! Nothing is materialised. A [`World`] holds the handful of numbers a practice is made of
//! (seed, scale-derived counts, `today`, the clock's start) and each resource module turns an
//! index into a record, deriving cross references (a patient's site, an invoice's items) from
//! the same hashes. So memory does not grow with `scale`, and record `i` never depends on
//! records generated before it.
//!
//! Conventions shared by every module:
//! * Integer ids are `first id + index`; ids follow creation order, and for windowed resources
//!   (appointments, rota days) they follow the window field, so a window is an index range.
//! * Every base record was created and last updated no later than the clock's start (`now`);
//!   later changes live in the [`overlay`](super::store) written by `advance`.
//! * Records are produced with exactly the catalog's fields, in the catalog's order (a unit
//!   test holds every module to it); patients also carry `portal_registered`.

pub(crate) mod appointments;
pub(crate) mod clinical;
pub(crate) mod conform;
pub(crate) mod finance;
pub(crate) mod fmt;
pub(crate) mod names;
pub(crate) mod organisation;
mod pairs;
pub(crate) mod patients;
pub(crate) mod payments;
pub(crate) mod plans;
pub(crate) mod rng;
pub(crate) mod rota;
pub(crate) mod setup;
mod tables;
pub(crate) mod timeline;
pub(crate) mod vocab;

use chrono::{Duration, NaiveDate};

pub(crate) use pairs::Pairs;
use rng::Rng;
#[cfg(test)]
pub(crate) use tables::tables;
pub(crate) use tables::{Table, Updated, table};
use timeline::WorkCalendar;

/// First integer id of each resource. Every practice uses the same ranges, so ids overlap
/// across practices (as they would for two tenants of two different APIs) and a test can tell
/// whether a client mixed them up.
pub(crate) mod ids {
    pub(crate) const USERS: i64 = 1_001;
    pub(crate) const PRACTITIONERS: i64 = 201;
    pub(crate) const ROOMS: i64 = 301;
    pub(crate) const TREATMENTS: i64 = 40_001;
    pub(crate) const TREATMENT_CATEGORIES: i64 = 11;
    pub(crate) const PAYMENT_PLANS: i64 = 51;
    pub(crate) const FEES: i64 = 90_001;
    pub(crate) const SUNDRIES: i64 = 601;
    pub(crate) const ACQUISITION_SOURCES: i64 = 71;
    pub(crate) const CANCELLATION_REASONS: i64 = 31;
    pub(crate) const APPOINTMENT_REASONS: i64 = 81;
    pub(crate) const CUSTOM_FIELDS: i64 = 41;
    pub(crate) const WAITING_LISTS: i64 = 901;
    pub(crate) const PATIENTS: i64 = 20_001;
    pub(crate) const ACCOUNTS: i64 = 64_700_001;
    pub(crate) const APPOINTMENTS: i64 = 3_000_001;
    pub(crate) const TREATMENT_APPOINTMENTS: i64 = 800_001;
    pub(crate) const INVOICES: i64 = 500_001;
    pub(crate) const PAYMENTS: i64 = 400_001;
    pub(crate) const EXPLANATIONS: i64 = 450_001;
    pub(crate) const TREATMENT_PLANS: i64 = 700_001;
    pub(crate) const TREATMENT_PLAN_ITEMS: i64 = 9_000_001;
    pub(crate) const RECALLS: i64 = 100_001;
    /// Reminders sent for recalls (two ids per recall; only referenced, never listed).
    pub(crate) const REMINDERS: i64 = 7_000_001;
    pub(crate) const NHS_CLAIMS: i64 = 60_001;
    pub(crate) const PATIENT_REFERRALS: i64 = 5_001;
    pub(crate) const ROTA: i64 = 1_200_001;
    pub(crate) const ROTA_BREAKS: i64 = 4_000_001;
}

/// Days of rota before and after `today`.
pub(crate) const ROTA_DAYS_EACH_SIDE: i64 = 365;

/// How many rows each resource has; everything scales with `scale` (1 ≈ 1,000 patients) and
/// no table drops below one row (users below three).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub sites: u64,
    pub users: u64,
    pub practitioners: u64,
    pub rooms: u64,
    pub treatments: u64,
    pub categories: u64,
    pub payment_plans: u64,
    pub sundries: u64,
    pub acquisition_sources: u64,
    pub cancellation_reasons: u64,
    pub appointment_reasons: u64,
    pub custom_fields: u64,
    pub waiting_lists: u64,
    pub patients: u64,
    pub appointments: u64,
    pub treatment_appointments: u64,
    pub invoices: u64,
    pub payments: u64,
    pub treatment_plans: u64,
    pub recalls: u64,
    pub nhs_claims: u64,
    pub referrals: u64,
}

impl Counts {
    /// The counts of a practice of size `scale`.
    pub(crate) fn new(scale: f64) -> Counts {
        let n = |base: f64| ((base * scale).round() as u64).max(1);
        // A practice has at least an owner, a receptionist and one more member of staff, so
        // the sandbox tokens always belong to different users.
        let users = n(12.0).max(3);
        Counts {
            sites: n(2.0),
            users,
            practitioners: n(6.0).min(users),
            rooms: n(5.0),
            treatments: n(60.0),
            categories: n(8.0),
            payment_plans: n(4.0),
            sundries: n(10.0),
            acquisition_sources: n(6.0),
            cancellation_reasons: n(6.0),
            appointment_reasons: n(10.0),
            custom_fields: n(3.0),
            waiting_lists: n(4.0),
            patients: n(1_000.0),
            appointments: n(3_000.0),
            treatment_appointments: n(2_000.0),
            invoices: n(2_000.0),
            payments: n(1_800.0),
            treatment_plans: n(1_200.0),
            recalls: n(800.0),
            nhs_claims: n(400.0),
            referrals: n(50.0),
        }
    }
}

/// One generated practice.
#[derive(Debug, Clone)]
pub(crate) struct World {
    /// The sandbox seed.
    pub seed: u64,
    /// 1-based practice number.
    pub practice: u32,
    /// The sandbox's `today`.
    pub today: NaiveDate,
    /// The clock's start (today 09:00 Europe/London), UTC milliseconds. Base data never
    /// postdates it (appointments and rota days are scheduled ahead, but created before).
    pub now: i64,
    /// Table sizes.
    pub counts: Counts,
    /// Working days of the last ten years (patients are registered over a long history).
    pub history: WorkCalendar,
    /// Working days of the last two years (clinical and financial activity).
    pub recent: WorkCalendar,
    /// Working days from two years back to three months ahead (the diary).
    pub diary: WorkCalendar,
    /// Working days around the practice's set-up, twelve to ten years ago (reference data).
    pub setup: WorkCalendar,
}

impl World {
    /// Practice `practice` (1-based) of a sandbox. Practices after the first are a little
    /// larger (15% per step) so their totals differ too.
    pub(crate) fn new(seed: u64, practice: u32, scale: f64, today: NaiveDate) -> World {
        let scale = scale * (1.0 + 0.15 * f64::from(practice.saturating_sub(1)));
        let yesterday = today - Duration::days(1);
        World {
            seed,
            practice,
            today,
            now: timeline::local_ms(today, 9 * 60),
            counts: Counts::new(scale),
            history: WorkCalendar::new(today - Duration::days(3_650), yesterday),
            recent: WorkCalendar::new(today - Duration::days(730), yesterday),
            diary: WorkCalendar::new(today - Duration::days(730), today + Duration::days(92)),
            setup: WorkCalendar::new(today - Duration::days(4_380), today - Duration::days(3_651)),
        }
    }

    /// The random stream of record `i` of `resource`.
    pub(crate) fn rng(&self, resource: &str, i: u64) -> Rng {
        Rng::record(self.seed, self.practice, resource, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(scale: f64) -> World {
        World::new(1, 1, scale, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap())
    }

    #[test]
    fn small_scales_keep_one_row_per_table() {
        let c = Counts::new(0.001);
        assert_eq!(c.sites, 1);
        assert_eq!(c.patients, 1);
        assert_eq!(c.practitioners, 1);
    }

    #[test]
    fn pairs_map_children_both_ways() {
        let w = world(1.0);
        for parents in [1u64, 2, 5, 10] {
            let pairs = Pairs {
                parents,
                per_pair: 4,
            };
            let mut k = 0;
            for p in 0..parents {
                let (first, n) = pairs.children_of(&w, "x", p);
                assert_eq!(first, k);
                assert!(n >= 1);
                for s in 0..n {
                    assert_eq!(pairs.parent_of(&w, "x", first + s), (p, s));
                }
                k += n;
            }
            assert_eq!(k, pairs.children());
        }
    }

    #[test]
    fn every_catalog_resource_has_a_generator() {
        for r in crate::catalog::all() {
            assert!(table(r.name).is_some(), "no generator for {}", r.name);
        }
        assert_eq!(tables().len(), crate::catalog::all().len());
    }

    /// Base data never postdates the clock's start (the `updated_after` fast path relies on
    /// it), and grouped fields really are non-decreasing (equality filters rely on it).
    #[test]
    fn base_data_respects_the_listing_invariants() {
        let w = world(0.3);
        for t in tables() {
            let n = (t.len)(&w);
            let mut last = i64::MIN;
            for i in 0..n {
                let record = (t.record)(&w, i);
                for stamp in ["created_at", "updated_at"] {
                    if let Some(s) = record.get(stamp).and_then(|v| v.as_str()) {
                        let at = chrono::DateTime::parse_from_rfc3339(s)
                            .unwrap()
                            .timestamp_millis();
                        assert!(at <= w.now, "{} {i}: {stamp} {s} after the clock", t.name);
                    }
                }
                if let Some(st) = t.stamps {
                    let ms = |f: &str| {
                        chrono::DateTime::parse_from_rfc3339(record[f].as_str().unwrap())
                            .unwrap()
                            .timestamp_millis()
                    };
                    let (created, updated) = (ms("created_at"), ms("updated_at"));
                    assert_eq!(
                        (st.created)(&w, i),
                        created,
                        "{} {i}: cheap created_at",
                        t.name
                    );
                    assert!(
                        i == 0 || (st.created)(&w, i - 1) <= created,
                        "{} {i}: created_at decreases",
                        t.name
                    );
                    assert!(
                        updated - created <= st.max_lag,
                        "{} {i}: updated too late",
                        t.name
                    );
                    match st.updated {
                        Updated::SameAsCreated => assert_eq!(updated, created, "{} {i}", t.name),
                        Updated::Cheap(key) => {
                            assert_eq!(key(&w, i), updated, "{} {i}: cheap updated_at", t.name)
                        }
                        Updated::Unknown => {}
                    }
                }
                if let Some((field, key)) = t.grouped {
                    let k = key(&w, i);
                    assert_eq!(record[field].as_i64(), Some(k), "{} {i}: {field}", t.name);
                    assert!(k >= last, "{} {i}: {field} decreases", t.name);
                    last = k;
                }
            }
        }
    }

    #[test]
    fn the_clock_starts_at_nine_local() {
        assert_eq!(
            fmt::timestamp(world(1.0).now),
            "2026-06-15T09:00:00.000+01:00"
        );
    }
}
