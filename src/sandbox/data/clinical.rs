//! Records hanging off patients and plans: recalls, NHS claims, referrals, waiting lists.
//!
//! Each is spread over the last two years and mapped onto patients (or plans) in order, so a
//! record never predates its patient. Their field lists are partly the catalog's assumptions
//! (recalls, waiting lists); the values are plausible for a UK NHS/private mixed practice.

use chrono::Months;
use serde_json::{Value, json};

use super::organisation::{self, practitioner_id, user_id};
use super::rng::Rng;
use super::timeline::{DAY_MS, local_date, updated_after};
use super::{World, fmt, ids, patients, plans, vocab};

/// `(created, updated, rng)` of record `i` of `n` of `resource` for patient `j`.
fn stamps(w: &World, resource: &str, i: u64, n: u64, j: u64) -> (i64, i64, Rng) {
    let r = w.rng(resource, i);
    let created = w
        .recent
        .spread(i, n, &r, "created")
        .max(patients::created(w, j) + 3_600_000)
        .min(w.now - 60_000);
    (created, updated_after(&r, created, w.now), r)
}

/// Parent `i · parents / n` of record `i` of `n` (non-decreasing in `i`).
fn spread_over(i: u64, n: u64, parents: u64) -> u64 {
    (i * parents / n.max(1)).min(parents - 1)
}

/// `patient_id` of recall `i`.
pub(crate) fn recall_patient_id(w: &World, i: u64) -> i64 {
    patients::patient_id(spread_over(i, w.counts.recalls, w.counts.patients))
}

/// `treatment_plan_id` of claim `i`.
pub(crate) fn claim_plan_id(w: &World, i: u64) -> i64 {
    plans::plan_id(spread_over(
        i,
        w.counts.nhs_claims,
        w.counts.treatment_plans,
    ))
}

/// `patient_id` of referral `i`.
pub(crate) fn referral_patient_id(w: &World, i: u64) -> i64 {
    patients::patient_id(spread_over(i, w.counts.referrals, w.counts.patients))
}

/// `/v1/recalls` record `i`.
pub(crate) fn recall(w: &World, i: u64) -> Value {
    let n = w.counts.recalls;
    let j = spread_over(i, n, w.counts.patients);
    let (created, updated, r) = stamps(w, "recalls", i, n, j);
    let hygiene = r.chance("hygiene", 0.35);
    let p = if hygiene {
        organisation::hygienist(w, &r, "who")
    } else {
        None
    }
    .unwrap_or_else(|| patients::dentist(w, j));
    let months: u32 = if hygiene {
        6
    } else {
        *r.pick("interval", &[6, 6, 12, 24])
    };
    let due = local_date(created)
        .checked_add_months(Months::new(months))
        .unwrap_or(w.today);
    let status = if due < w.today {
        *r.weighted(
            "past",
            &[("Completed", 70), ("Overdue", 20), ("Booked", 10)],
        )
    } else {
        *r.weighted("future", &[("Pending", 60), ("Sent", 30), ("Booked", 10)])
    };
    json!({
        "id": ids::RECALLS + i as i64,
        "patient_id": patients::patient_id(j),
        "practitioner_id": practitioner_id(p),
        "site_id": organisation::site_id(w, patients::site(w, j)),
        "recall_date": fmt::date(due),
        "recall_type": if hygiene { "Hygienist" } else { "Dentist" },
        "interval_months": months,
        "status": status,
        "notes": if r.chance("notes", 0.05) { json!("Prefers text reminders") } else { Value::Null },
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// `/v1/nhs_claims` record `i` (FP17 claims for NHS courses of treatment).
pub(crate) fn nhs_claim(w: &World, i: u64) -> Value {
    let n = w.counts.nhs_claims;
    let k = spread_over(i, n, w.counts.treatment_plans);
    let j = plans::patient_of(w, k);
    let (created, updated, r) = stamps(w, "nhs_claims", i, n, j);
    let site = patients::site(w, j);
    let (band, uda, charge) = *r.weighted(
        "band",
        &[
            (("1", 10_000i64, 2_760i64), 55),
            (("2", 30_000, 7_570), 30),
            (("3", 120_000, 32_860), 10),
            (("Urgent", 12_000, 2_760), 5),
        ],
    );
    let exempt = r.chance("exempt", 0.25);
    let status = *r.weighted(
        "status",
        &[
            ("Accepted", 70),
            ("Submitted", 10),
            ("Queued", 8),
            ("Rejected", 6),
            ("Withdrawn", 3),
            ("Error", 3),
        ],
    );
    let submitted = (status != "Queued")
        .then(|| (created + r.range("submit", DAY_MS, 20 * DAY_MS)).min(w.now - 60_000));
    let approved = (status == "Accepted")
        .then(|| submitted.unwrap_or(created) + r.range("approve", DAY_MS, 10 * DAY_MS))
        .map(|t| t.min(w.now - 60_000));
    let updated = [submitted, approved]
        .into_iter()
        .flatten()
        .fold(updated, i64::max);
    json!({
        "id": ids::NHS_CLAIMS + i as i64,
        "patient_id": patients::patient_id(j),
        "practitioner_id": practitioner_id(patients::dentist(w, j)),
        "treatment_plan_id": plans::plan_id(k),
        "site_id": organisation::site_id(w, site),
        "contract_id": vocab::contract_id(w, site),
        "claim_status": status,
        "status_comments": match status { "Rejected" => json!("Patient details incomplete"), "Error" => json!("Invalid exemption evidence"), _ => Value::Null },
        "sequence_number": format!("{:06}", r.below("seq", 1_000_000)),
        "continuation_part_number": if r.chance("continuation", 0.05) { json!(2) } else { Value::Null },
        "approval_date": approved.map(|t| fmt::date(local_date(t))),
        "submitted_date": submitted.map(|t| fmt::date(local_date(t))),
        "awarded_uda": if approved.is_some() { fmt::decimal(uda, 4) } else { fmt::decimal(0, 4) },
        "expected_uda": fmt::decimal(uda, 4),
        "uda_band": band,
        "dentist_charge": fmt::money(if exempt { 0 } else { charge }),
        "patient_charge": fmt::money(if exempt { 0 } else { charge }),
        "ortho": false,
        "scot_amount_authorised": null,
        "scot_amount_expected": null,
        "ni_calculated_dentist_fee": null,
        "ni_calculated_patient_fee": null,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
        "nhs_updated_at": submitted.map(|t| fmt::timestamp(approved.unwrap_or(t))),
    })
}

/// `/v1/patient_referrals` record `i`.
pub(crate) fn referral(w: &World, i: u64) -> Value {
    let n = w.counts.referrals;
    let j = spread_over(i, n, w.counts.patients);
    let (created, updated, r) = stamps(w, "patient_referrals", i, n, j);
    let internal = r.chance("internal", 0.4);
    let other_site = r.below("site", w.counts.sites);
    json!({
        "id": ids::PATIENT_REFERRALS + i as i64,
        "patient_id": patients::patient_id(j),
        "site_id": organisation::site_id(w, patients::site(w, j)),
        "user_id": user_id(r.below("user", w.counts.users)),
        "reference": format!("REF-{:05}", i + 1),
        "status": r.weighted("status", &[("Sent", 30), ("Accepted", 30), ("Completed", 25), ("Rejected", 5), ("Draft", 10)]),
        "referrable_type": r.pick("type", &["ServicesReferral", "OrthodonticReferral", "OralSurgeryReferral"]),
        "referrable_attributes": {
            "services_appointment_id": if r.chance("appt", 0.3) { json!(ids::APPOINTMENTS + r.below("appt.id", w.counts.appointments) as i64) } else { Value::Null },
            "additional_information": if r.chance("info", 0.6) { json!(*r.pick("info.v", &["Lower left 8 impacted, recurrent pericoronitis", "Crowding, patient keen on aligners", "Query lesion on lateral border of tongue"])) } else { Value::Null },
            "consented_by_patient": r.chance("consent", 0.9),
            "referred_practitioner_id": if internal { json!(practitioner_id(organisation::dentist(w, &r, "to"))) } else { Value::Null },
            "referred_site_id": if internal { json!(organisation::site_id(w, other_site)) } else { Value::Null },
        },
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// `/v1/waiting_lists` record `i`: recent requests for an earlier slot.
pub(crate) fn waiting_list(w: &World, i: u64) -> Value {
    let r = w.rng("waiting_lists", i);
    let j = patients::pick_existing(w, &r, "patient", w.now);
    let created = (w.now - r.range("age", DAY_MS, 90 * DAY_MS))
        .max(patients::created(w, j) + 3_600_000)
        .min(w.now - 60_000);
    let (reason, _) = *r.pick("reason", vocab::APPOINTMENT_REASONS);
    json!({
        "id": ids::WAITING_LISTS + i as i64,
        "patient_id": patients::patient_id(j),
        "practitioner_id": practitioner_id(patients::dentist(w, j)),
        "site_id": organisation::site_id(w, patients::site(w, j)),
        "appointment_reason": reason,
        "notes": if r.chance("notes", 0.4) { json!(*r.pick("notes.v", &["Can come at short notice", "Mornings only", "Not Fridays"])) } else { Value::Null },
        "priority": r.weighted("priority", &[("Normal", 70), ("High", 20), ("Low", 10)]),
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated_after(&r, created, w.now)),
    })
}
