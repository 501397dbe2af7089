//! The diary: appointments (and diary blocks) and the links from treatment plans to them.
//!
//! Appointment `i` of `n` starts at a monotone point of the working diary (two years back to
//! three months ahead), so ids follow `start_time` and an `after`/`before` window is an index
//! range found by binary search on [`start_key`]. The state follows the start time: past
//! appointments are mostly `Completed` (some `Cancelled`, `Did not attend`), today's may be in
//! progress, future ones `Pending` or `Confirmed`; the lifecycle stamps (`*_at`) match.

use serde_json::{Value, json};

use super::organisation::{self, practitioner_id, practitioner_name, user_id};
use super::rng::Rng;
use super::timeline::DAY_MS;
use super::vocab::APPOINTMENT_REASONS;
use super::{World, fmt, ids, patients};

const BLOCK_REASONS: &[&str] = &[
    "Staff meeting",
    "Bank Holiday",
    "Training",
    "Lunch",
    "Admin time",
];
const NOTES: &[&str] = &[
    "Patient nervous, allow extra time",
    "Prefers morning appointments",
    "Bring X-rays from previous dentist",
    "Check medical history update",
];

/// Appointment id of index `i`.
pub(crate) fn appointment_id(i: u64) -> i64 {
    ids::APPOINTMENTS + i as i64
}

/// Start of base appointment `i` (UTC ms); non-decreasing in `i`.
pub(crate) fn start_key(w: &World, i: u64) -> i64 {
    w.diary.slot(i, w.counts.appointments, 5)
}

/// Whether base appointment `i` is a diary block (no patient).
pub(crate) fn is_block(w: &World, i: u64) -> bool {
    w.rng("appointments", i).chance("block", 0.03)
}

/// When base appointment `i` was booked.
fn booked(w: &World, r: &Rng, start: i64) -> i64 {
    let lead = r.range("lead", 0, 60 * DAY_MS);
    let t = start - lead;
    if t > w.now - 60_000 {
        w.now - r.range("lead.recent", 60_000, 3 * DAY_MS)
    } else {
        t
    }
}

/// Patient index of base appointment `i` (`None` for blocks).
pub(crate) fn patient_of(w: &World, i: u64) -> Option<u64> {
    let r = w.rng("appointments", i);
    (!is_block(w, i))
        .then(|| patients::pick_existing(w, &r, "patient", booked(w, &r, start_key(w, i))))
}

/// A room at `site`, if the site has any.
fn room_at(w: &World, r: &Rng, site: u64) -> Option<i64> {
    let sites = w.counts.sites;
    let at_site = (w.counts.rooms + sites - 1 - site) / sites;
    (at_site > 0).then(|| ids::ROOMS + (site + sites * r.below("room", at_site)) as i64)
}

/// `/v1/appointments` record `i`.
pub(crate) fn appointment(w: &World, i: u64) -> Value {
    let r = w.rng("appointments", i);
    let start = start_key(w, i);
    let p = r.below("practitioner", w.counts.practitioners);
    let patient = patient_of(w, i);
    build(w, &r, i, start, booked(w, &r, start), p, patient)
}

/// Appointment `i` for `patient` with practitioner `p`, starting at `start`, booked at
/// `created` (also used for bookings made by `advance`).
pub(crate) fn build(
    w: &World,
    r: &Rng,
    i: u64,
    start: i64,
    created: i64,
    p: u64,
    patient: Option<u64>,
) -> Value {
    let now = w.now.max(created + 1_000);
    let (reason, minutes) = match patient {
        None => (
            *r.pick("block.reason", BLOCK_REASONS),
            30 * r.range("block.len", 1, 2),
        ),
        Some(_) if organisation::is_hygienist(p) => ("Scale & Polish", 30),
        Some(_) => *r.pick("reason", APPOINTMENT_REASONS),
    };
    let finish = start + minutes * 60_000;
    let state = if patient.is_none() {
        "Pending"
    } else if finish + 30 * 60_000 <= now {
        *r.weighted(
            "state.past",
            &[
                ("Completed", 84),
                ("Cancelled", 9),
                ("Did not attend", 5),
                ("Confirmed", 2),
            ],
        )
    } else if start <= now {
        *r.weighted("state.now", &[("Arrived", 1), ("In surgery", 2)])
    } else {
        *r.weighted(
            "state.future",
            &[("Confirmed", 55), ("Pending", 40), ("Cancelled", 5)],
        )
    };
    let until = |t: i64| t.min(now);
    let after_booking =
        |field: &str, to: i64| created + r.range(field, 0, (until(to) - created).max(0));
    let attended = matches!(state, "Arrived" | "In surgery" | "Completed");
    let confirmed_at = (attended || matches!(state, "Confirmed" | "Did not attend"))
        .then(|| after_booking("confirmed", start));
    let arrived_at = attended.then(|| until(start - r.range("early", 0, 10 * 60_000)));
    let in_surgery_at = matches!(state, "In surgery" | "Completed")
        .then(|| until(start + r.range("late", 0, 5 * 60_000)));
    let completed_at =
        (state == "Completed").then(|| until(finish + r.range("overrun", 0, 10 * 60_000)));
    let cancelled_at = (state == "Cancelled").then(|| after_booking("cancelled", start));
    let dna_at = (state == "Did not attend").then(|| until(start + 15 * 60_000));
    let updated = [
        confirmed_at,
        arrived_at,
        in_surgery_at,
        completed_at,
        cancelled_at,
        dna_at,
    ]
    .into_iter()
    .flatten()
    .fold(created, i64::max);
    let site = organisation::practitioner_site(w, p);
    let show_name = patient.is_some() && r.chance("name.shown", 0.7);
    json!({
        "id": appointment_id(i),
        "uuid": fmt::guid_v4(r.bits("uuid.hi"), r.bits("uuid.lo")),
        "patient_id": patient.map(patients::patient_id),
        "patient_name": if show_name { patients::full_name(w, patient.unwrap_or(0)) } else { String::new() },
        "patient_image_url": null,
        "practitioner_id": practitioner_id(p),
        "practitioner_site_id": organisation::site_id(w, site),
        "practitioner_name": practitioner_name(w, p),
        "user_id": user_id(r.below("booked.by", w.counts.users)),
        "room_id": room_at(w, r, site).filter(|_| r.chance("has.room", 0.9)),
        "payment_plan_id": patient.map(|j| ids::PAYMENT_PLANS + patients::payment_plan(w, j) as i64),
        "appointment_cancellation_reason_id": (state == "Cancelled" && r.chance("cancel.why", 0.8))
            .then(|| ids::CANCELLATION_REASONS + r.below("cancel.reason", w.counts.cancellation_reasons.min(6)) as i64),
        "reason": reason,
        "treatment_description": if patient.is_some() && r.chance("tdesc", 0.4) { json!(format!("{reason} with {}", practitioner_name(w, p))) } else { Value::Null },
        "notes": if r.chance("notes", 0.15) { json!(*r.pick("notes.v", NOTES)) } else { Value::Null },
        "state": state,
        "start_time": fmt::timestamp(start),
        "finish_time": fmt::timestamp(finish),
        "duration": minutes,
        "pending_at": fmt::timestamp(created),
        "confirmed_at": confirmed_at.map(fmt::timestamp),
        "arrived_at": arrived_at.map(fmt::timestamp),
        "in_surgery_at": in_surgery_at.map(fmt::timestamp),
        "completed_at": completed_at.map(fmt::timestamp),
        "cancelled_at": cancelled_at.map(fmt::timestamp),
        "did_not_attend_at": dna_at.map(fmt::timestamp),
        "booked_via_api": r.chance("api", 0.05),
        "import_id": null,
        "metadata": {},
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// The appointment linked by treatment appointment `k` (never a diary block).
fn linked_appointment(w: &World, k: u64) -> u64 {
    let n = w.counts.appointments;
    let mut a = k * n / w.counts.treatment_appointments.max(1);
    while is_block(w, a) && a + 1 < n {
        a += 1;
    }
    a
}

/// `appointment_id` of treatment appointment `k` (non-decreasing in `k`).
pub(crate) fn linked_appointment_id(w: &World, k: u64) -> i64 {
    appointment_id(linked_appointment(w, k))
}

/// `/v1/treatment_appointments` record `k`: links the patient's first treatment plan to an
/// appointment.
pub(crate) fn treatment_appointment(w: &World, k: u64) -> Value {
    let r = w.rng("treatment_appointments", k);
    let a = linked_appointment(w, k);
    let ar = w.rng("appointments", a);
    let start = start_key(w, a);
    let created = booked(w, &ar, start);
    let j = patient_of(w, a).unwrap_or(0);
    let p = ar.below("practitioner", w.counts.practitioners);
    json!({
        "id": ids::TREATMENT_APPOINTMENTS + k as i64,
        "appointment_id": appointment_id(a),
        "treatment_plan_id": super::plans::plan_id(super::plans::first_plan_of(w, j)),
        "patient_id": patients::patient_id(j),
        "bookable": r.chance("bookable", 0.9),
        "site_id": organisation::site_id(w, organisation::practitioner_site(w, p)),
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(super::timeline::updated_after(&r, created, w.now)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn stamps_follow_state_and_never_postdate_now() {
        let w = World::new(1, 1, 0.3, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
        for i in 0..w.counts.appointments {
            let a = appointment(&w, i);
            let state = a["state"].as_str().unwrap();
            assert_eq!(a["completed_at"].is_null(), state != "Completed");
            assert_eq!(a["cancelled_at"].is_null(), state != "Cancelled");
            assert_eq!(a["did_not_attend_at"].is_null(), state != "Did not attend");
            if a["patient_id"].is_null() {
                assert_eq!(state, "Pending");
            }
        }
    }
}
