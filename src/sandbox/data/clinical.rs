//! Records hanging off patients and plans: recalls, NHS claims, referrals, and the waiting
//! lists a practice keeps.
//!
//! Each patient record is spread over the last two years and mapped onto patients (or plans)
//! in order, so a record never predates its patient. The shapes follow the evidence of the
//! live API (`../shared/docs/api-evidence.md` §2); the values are plausible for a UK
//! NHS/private mixed practice.

use chrono::{Duration, Months};
use serde_json::{Value, json};

use super::organisation::{self, practitioner_id, user_id};
use super::rng::Rng;
use super::timeline::{DAY_MS, local_date, local_ms, updated_after};
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

/// The reminders sent for a recall: `(sent at, type)` of the first and the second.
type Reminders = (Option<(i64, &'static str)>, Option<(i64, &'static str)>);

/// `/v1/recalls` record `i`, in the live shape: due date, method, the reminder workflow and
/// `updated_at`, but no `created_at`. A recall is set at a visit (`set`, never sent) and due
/// some months later; unless an appointment is already booked for it, a first reminder goes
/// out four weeks before the due date and often a second two weeks after that.
pub(crate) fn recall(w: &World, i: u64) -> Value {
    let n = w.counts.recalls;
    let j = spread_over(i, n, w.counts.patients);
    let (set, updated, r) = stamps(w, "recalls", i, n, j);
    let hygiene = r.chance("hygiene", 0.35);
    let months: u32 = if hygiene {
        6
    } else {
        *r.pick("interval", &[6, 6, 12, 24])
    };
    let due = local_date(set)
        .checked_add_months(Months::new(months))
        .unwrap_or(w.today);
    let prebooked = r.chance("prebooked", 0.2);
    let method = *r.pick("method", &["SMS", "Email", "Letter"]);
    let (first, second): Reminders = if prebooked {
        (None, None)
    } else {
        let first = local_ms(
            due - Duration::days(28),
            9 * 60 + r.range("first.minute", 0, 480) as u32,
        );
        let second = first + 14 * DAY_MS + r.range("second.ms", 0, DAY_MS / 2);
        let second_type = *r.pick("second.type", &["SMS", "Email", "Letter", "Phone"]);
        (
            (first < w.now).then_some((first, method)),
            (second < w.now && !r.chance("answered", 0.4)).then_some((second, second_type)),
        )
    };
    let last = second.or(first);
    let contacted = i64::from(first.is_some()) + i64::from(second.is_some());
    let status = if prebooked {
        "Booked"
    } else if due < w.today {
        "Overdue"
    } else if last.is_some() {
        "Reminded"
    } else {
        "Pending"
    };
    let workflow = match (prebooked, contacted) {
        (true, _) => "Complete",
        (false, 0) => "Not started",
        _ => "In progress",
    };
    let reminder_id = |k: i64| ids::REMINDERS + 2 * i as i64 + k;
    json!({
        "id": ids::RECALLS + i as i64,
        "patient_id": patients::patient_id(j),
        "appointment_id": if prebooked { json!(ids::APPOINTMENTS + r.below("appointment", w.counts.appointments) as i64) } else { Value::Null },
        "due_date": fmt::date(due),
        "recall_type": if hygiene { "Hygienist" } else { "Dentist" },
        "recall_method": method,
        "status": status,
        "prebooked": prebooked,
        "first_reminder_sent_at": first.map(|(t, _)| fmt::timestamp(t)),
        "first_reminder_type": first.map(|(_, kind)| kind),
        "second_reminder_sent_at": second.map(|(t, _)| fmt::timestamp(t)),
        "second_reminder_type": second.map(|(_, kind)| kind),
        "last_reminded_at": last.map(|(t, _)| fmt::timestamp(t)),
        "latest_reminder_type": last.map(|(_, kind)| kind),
        "times_contacted": contacted,
        "run_date": last.map(|(t, _)| fmt::date(local_date(t))),
        "workflow_status": workflow,
        "workflow_stage_id": (contacted > 0).then_some(contacted),
        "first_reminder_id": first.map(|_| reminder_id(0)),
        "second_reminder_id": second.map(|_| reminder_id(1)),
        "updated_at": fmt::timestamp(last.map_or(updated, |(t, _)| t.max(updated))),
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
        "continuation_part_number": if r.chance("continuation", 0.05) { json!("2") } else { Value::Null },
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

/// The lists a practice keeps, with the reason a new entry starts with and its target wait in
/// days (appointment, treatment).
const WAITING_LISTS: &[(&str, &str, i64, i64)] = &[
    ("Cancellation list", "Exam", 14, 60),
    ("Hygiene waiting list", "Scale & Polish", 28, 90),
    ("NHS waiting list", "Exam", 90, 180),
    ("Orthodontic assessment", "Consultation", 60, 365),
];

/// `/v1/waiting_lists` record `i`: a list definition of site `i mod sites`, set up with the
/// practice (the patients on a list are not exposed by this endpoint).
pub(crate) fn waiting_list(w: &World, i: u64) -> Value {
    let r = w.rng("waiting_lists", i);
    let site = i % w.counts.sites;
    let k = i / w.counts.sites;
    let (name, reason, appointment_days, treatment_days) =
        WAITING_LISTS[(k % WAITING_LISTS.len() as u64) as usize];
    let name = if k < WAITING_LISTS.len() as u64 {
        name.to_string()
    } else {
        format!("{name} {}", k / WAITING_LISTS.len() as u64 + 1)
    };
    let created = w.setup.spread(i, w.counts.waiting_lists, &r, "created");
    let duration = vocab::APPOINTMENT_REASONS
        .iter()
        .find(|(listed, _)| *listed == reason)
        .map_or(30, |(_, minutes)| *minutes);
    let treatment = r.chance("treatment", 0.5);
    json!({
        "id": ids::WAITING_LISTS + i as i64,
        "name": name,
        "site_id": organisation::site_id(w, site),
        "active": !r.chance("inactive", 0.15),
        "default_appointment_reason": reason,
        "default_treatment_reason": if treatment { json!("Treatment plan") } else { Value::Null },
        "default_notes": if r.chance("notes", 0.3) { json!("Offer short-notice slots first") } else { Value::Null },
        "default_status": "Waiting",
        "default_appointment_duration": duration,
        "default_treatment_duration": if treatment { json!(60) } else { Value::Null },
        "target_appointment_days": appointment_days,
        "target_treatment_days": treatment_days,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated_after(&r, created, w.now)),
    })
}
