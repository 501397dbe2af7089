//! Rota days: one row per practitioner per day, a year back to a year ahead, with breaks.
//!
//! Rows are day-major (`index = day · practitioners + practitioner`), so ids follow `day` and
//! an `after`/`before` window is an index range ([`day_key`]). Weekends and the odd holiday are
//! `unavailable` with no breaks.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde_json::{Value, json};

use super::organisation::practitioner_id;
use super::{ROTA_DAYS_EACH_SIDE, World, fmt, ids};

/// Number of rota rows.
pub(crate) fn count(w: &World) -> u64 {
    (2 * ROTA_DAYS_EACH_SIDE as u64 + 1) * w.counts.practitioners
}

/// The date of rota row `i`.
pub(crate) fn day_of(w: &World, i: u64) -> NaiveDate {
    w.today - Duration::days(ROTA_DAYS_EACH_SIDE)
        + Duration::days((i / w.counts.practitioners) as i64)
}

/// Window key of row `i`: its day as days since the Unix epoch (non-decreasing in `i`).
pub(crate) fn day_key(w: &World, i: u64) -> i64 {
    day_number(day_of(w, i))
}

/// Days since the Unix epoch.
pub(crate) fn day_number(day: NaiveDate) -> i64 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// `/v1/rota_practitioner_diaries` record `i`.
pub(crate) fn diary(w: &World, i: u64) -> Value {
    let p = i % w.counts.practitioners;
    let day = day_of(w, i);
    let r = w.rng("rota_practitioner_diaries", i);
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let unavailable = weekend || r.chance("holiday", 0.04);
    let pr = w.rng("practitioners", p);
    let (start, end) = *pr.pick(
        "hours",
        &[("08:00", "17:00"), ("08:30", "17:30"), ("09:00", "18:00")],
    );
    let mut breaks = Vec::new();
    if !unavailable {
        let lunch = *pr.pick(
            "lunch",
            &[("12:30", "13:30"), ("13:00", "14:00"), ("12:00", "12:45")],
        );
        breaks.push(json!({"id": ids::ROTA_BREAKS + 2 * i as i64, "name": "Lunch", "start_time": lunch.0, "end_time": lunch.1}));
        if r.chance("admin", 0.3) {
            breaks.push(json!({"id": ids::ROTA_BREAKS + 2 * i as i64 + 1, "name": "Admin", "start_time": "15:00", "end_time": "15:15"}));
        }
    }
    json!({
        "id": ids::ROTA + i as i64,
        "practitioner_id": practitioner_id(p),
        "day": fmt::date(day),
        "start_time": start,
        "end_time": end,
        "unavailable": unavailable,
        "breaks": breaks,
    })
}
