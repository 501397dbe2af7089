//! Patients and their one-per-patient companions: `patient_stats` and `accounts`.
//!
//! Patients are registered over ten years of working days, so patient `j` exists from
//! `created(j)` on and records of later activity only point at patients already registered
//! ([`pick_existing`]). The three resources share the patient index: stats and account `j`
//! belong to patient `j`, and an appended patient gets appended stats and an account too.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use super::fmt;
use super::names;
use super::organisation::{self, practitioner_id};
use super::rng::Rng;
use super::timeline::{DAY_MS, local_date, updated_after};
use super::{World, ids};

/// Id of patient `j`.
pub(crate) fn patient_id(j: u64) -> i64 {
    ids::PATIENTS + j as i64
}

/// Id of the account of patient `j`.
pub(crate) fn account_id(j: u64) -> i64 {
    ids::ACCOUNTS + j as i64
}

/// When base patient `j` was registered.
pub(crate) fn created(w: &World, j: u64) -> i64 {
    w.history
        .spread(j, w.counts.patients, &w.rng("patients", j), "created")
}

/// When a patient registered at `created` was last updated (at most two years later).
fn last_update(w: &World, r: &Rng, created: i64) -> i64 {
    updated_after(r, created, w.now.max(created + 1_000))
}

/// `updated_at` of base patient `j`, without generating the record.
pub(crate) fn updated(w: &World, j: u64) -> i64 {
    last_update(w, &w.rng("patients", j), created(w, j))
}

/// `(title, first, last, female)` of patient `j`.
pub(crate) fn identity(w: &World, j: u64) -> (&'static str, &'static str, &'static str, bool) {
    names::person(&w.rng("patients", j))
}

/// `First Last` of patient `j`.
pub(crate) fn full_name(w: &World, j: u64) -> String {
    let (_, first, last, _) = identity(w, j);
    format!("{first} {last}")
}

/// Site index of patient `j`.
pub(crate) fn site(w: &World, j: u64) -> u64 {
    w.rng("patients", j).below("site", w.counts.sites)
}

/// Payment plan index of patient `j` (NHS and pay-as-you-go are the most common).
pub(crate) fn payment_plan(w: &World, j: u64) -> u64 {
    let plan = *w
        .rng("patients", j)
        .weighted("plan", &[(0u64, 45), (1, 30), (2, 15), (3, 10)]);
    plan % w.counts.payment_plans
}

/// Dentist (practitioner index) of patient `j`.
pub(crate) fn dentist(w: &World, j: u64) -> u64 {
    organisation::dentist(w, &w.rng("patients", j), "dentist")
}

/// Number of base patients registered at or before `t`.
pub(crate) fn registered_by(w: &World, t: i64) -> u64 {
    let (mut lo, mut hi) = (0u64, w.counts.patients);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if created(w, mid) <= t {
            lo = mid + 1
        } else {
            hi = mid
        }
    }
    lo
}

/// A base patient already registered at `t` (the first patient if none was).
pub(crate) fn pick_existing(w: &World, rng: &Rng, field: &str, t: i64) -> u64 {
    rng.below(field, registered_by(w, t).max(1))
}

/// `/v1/patients` record `j`.
pub(crate) fn patient(w: &World, j: u64) -> Value {
    build(w, j, created(w, j))
}

/// Patient `j` registered at `created` (also used for patients added by `advance`).
pub(crate) fn build(w: &World, j: u64, created: i64) -> Value {
    let r = w.rng("patients", j);
    let (title, first, last, female) = identity(w, j);
    let age = r.range("age", 1, 94);
    let dob = w.today - Duration::days(age * 365 + r.range("dob.days", 0, 364));
    let child = age < 16;
    let active = !r.chance("archived", 0.08);
    let (line1, line2, town, county, postcode) = names::address(&r);
    let email = (!child || r.chance("child.email", 0.2))
        .then(|| names::email(&r, first, last))
        .filter(|_| r.chance("has.email", 0.85));
    let mobile = r
        .chance("has.mobile", 0.9)
        .then(|| names::mobile(&r, "mobile"));
    let home = r
        .chance("has.home", 0.35)
        .then(|| names::landline(&r, "home"));
    let work = r
        .chance("has.work", 0.08)
        .then(|| names::landline(&r, "work"));
    let preferred = if mobile.is_some() {
        "mobile"
    } else if home.is_some() {
        "home"
    } else if work.is_some() {
        "work"
    } else {
        "mobile"
    };
    let hygienist =
        organisation::hygienist(w, &r, "hygienist").filter(|_| r.chance("has.hygienist", 0.6));
    let plan = payment_plan(w, j);
    let recall =
        |field: &str| active.then(|| fmt::date(w.today + Duration::days(r.range(field, -90, 365))));
    let interval = if super::setup::plan_is_nhs(plan) {
        12
    } else {
        6
    };
    let emergency = r.chance("emergency", 0.4);
    let (_, ec_first, ec_last, _) = names::person(&r.child("emergency", 0));
    let ec_phone = names::mobile(&r, "ec.phone");
    let updated = last_update(w, &r, created);
    let mut record = json!({
        "id": patient_id(j),
        "uuid": fmt::guid_v4(r.bits("uuid.hi"), r.bits("uuid.lo")),
        "account_id": account_id(j),
        "active": active,
        "title": if child { Value::Null } else { json!(title) },
        "first_name": first,
        "middle_name": if r.chance("middle", 0.25) { json!(*r.pick("middle.name", if female { names::FEMALE } else { names::MALE })) } else { Value::Null },
        "last_name": last,
        "preferred_name": if r.chance("preferred", 0.08) { json!(&first[..first.len().min(3)]) } else { Value::Null },
        "date_of_birth": fmt::date(dob),
        "gender": !female,
        "ethnicity": if r.chance("ethnicity", 0.4) { json!(*r.pick("ethnicity.v", &["White British", "White Other", "Asian British", "Black British", "Mixed", "Prefer not to say"])) } else { Value::Null },
        "email_address": email,
        "home_phone": home,
        "mobile_phone": mobile,
        "work_phone": work,
        "preferred_phone_number": preferred,
        "use_email": r.chance("use.email", 0.8),
        "use_sms": r.chance("use.sms", 0.85),
        "marketing": r.chance("marketing", 0.3),
        "address_line_1": line1,
        "address_line_2": line2,
        "address_line_3": null,
        "town": town,
        "county": county,
        "postcode": postcode,
        "site_id": organisation::site_id(w, site(w, j)),
    });
    let rest = json!({
        "dentist_id": practitioner_id(dentist(w, j)),
        "hygienist_id": hygienist.map(practitioner_id),
        "dentist_recall_date": recall("recall.dentist"),
        "hygienist_recall_date": hygienist.and_then(|_| recall("recall.hygienist")),
        "dentist_recall_interval": interval,
        "hygienist_recall_interval": hygienist.map(|_| 6),
        "recall_method": r.pick("recall.method", &["SMS", "Email", "Letter"]),
        "payment_plan_id": ids::PAYMENT_PLANS + plan as i64,
        "acquisition_source_id": if r.chance("acq", 0.6) { json!(ids::ACQUISITION_SOURCES + r.below("acq.src", w.counts.acquisition_sources) as i64) } else { Value::Null },
        "archived_reason": if active { Value::Null } else { json!(*r.pick("archived.why", &["Moved away", "Left practice", "Deceased", "Duplicate record"])) },
        "nhs_number": if r.chance("nhs", 0.6) { json!(names::nhs_number(&r)) } else { Value::Null },
        "ni_number": if !child && r.chance("ni", 0.05) { json!(names::ni_number(&r)) } else { Value::Null },
        "pps_number": null,
        "medical_alert": r.chance("alert", 0.07),
        "medical_alert_text": if r.chance("alert", 0.07) { json!(*r.pick("alert.text", &["Penicillin allergy", "Latex allergy", "On warfarin", "Bisphosphonates"])) } else { Value::Null },
        "special_needs": if r.chance("needs", 0.02) { json!("Wheelchair user") } else { Value::Null },
        "occupation": if !child && r.chance("occupation", 0.3) { json!(*r.pick("occupation.v", &["Teacher", "Nurse", "Engineer", "Retired", "Student", "Accountant", "Self-employed"])) } else { Value::Null },
        "school_name": if child { json!(format!("{} Primary School", r.pick("school", names::STREETS).split(' ').next().unwrap_or("St Mary's"))) } else { Value::Null },
        "emergency_contact_name": if emergency { json!(format!("{ec_first} {ec_last}")) } else { Value::Null },
        "emergency_contact_phone": if emergency { json!(ec_phone) } else { Value::Null },
        "emergency_contact_phone_country": if emergency { json!("GB") } else { Value::Null },
        "emergency_contact_phone_normalized": if emergency { json!(format!("+44{}", ec_phone[1..].replace(' ', ""))) } else { Value::Null },
        "emergency_contact_relationship": if emergency { json!(*r.pick("ec.rel", &["Spouse", "Parent", "Partner", "Son", "Daughter", "Friend"])) } else { Value::Null },
        "proof_of_identification": proof_of_identification(&r),
        "suspicious_identity": if r.chance("suspicious", 0.01) { json!("Address does not match ID") } else { json!(false) },
        "image_url": null,
        "custom_fields": if r.chance("custom", 0.2) { json!([{"label": "Preferred pronouns", "value": if female { "she/her" } else { "he/him" }}]) } else { json!([]) },
        "metadata": if r.chance("meta", 0.1) { json!({"legacy_id": format!("SOE{}", r.range("legacy", 10_000, 99_999))}) } else { json!({}) },
        "family_id": if r.chance("family", 0.3) { json!(70_001 + (j / 3) as i64) } else { Value::Null },
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
        "portal_registered": r.chance("portal", 0.35),
    });
    if let (Value::Object(head), Value::Object(tail)) = (&mut record, rest) {
        head.extend(tail);
    }
    record
}

/// What the API sends for `proof_of_identification` is unknown (the catalog takes any JSON):
/// mostly a flag, sometimes the kind of document seen, so a run proves both fit.
fn proof_of_identification(r: &Rng) -> Value {
    if !r.chance("poi", 0.3) {
        json!(false)
    } else if r.chance("poi.text", 0.4) {
        json!(*r.pick("poi.kind", &["Passport", "Driving licence", "Utility bill"]))
    } else {
        json!(true)
    }
}

fn date_between(r: &Rng, field: &str, from: NaiveDate, to: NaiveDate) -> Option<String> {
    let span = (to - from).num_days();
    (span >= 0).then(|| fmt::date(from + Duration::days(r.range(field, 0, span))))
}

/// `/v1/patient_stats` record `j`.
pub(crate) fn patient_stat(w: &World, j: u64) -> Value {
    build_stat(w, j, created(w, j))
}

/// Stats of patient `j` registered at `created`.
pub(crate) fn build_stat(w: &World, j: u64, created: i64) -> Value {
    let r = w.rng("patient_stats", j);
    let joined = local_date(created);
    let yesterday = w.today - Duration::days(1);
    let seen = joined < w.today && r.chance("seen", 0.9);
    let first = seen
        .then(|| date_between(&r, "first", joined, yesterday))
        .flatten();
    let last = first
        .as_ref()
        .and_then(|f| date_between(&r, "last", parse(f), yesterday));
    let future = |field: &str, p: f64| {
        r.chance(field, p)
            .then(|| fmt::date(w.today + Duration::days(r.range(field, 1, 180))))
    };
    let invoiced = if seen {
        r.range("invoiced", 0, 400_000) / 100 * 100
    } else {
        0
    };
    let paid = if r.chance("owes", 0.1) {
        invoiced * r.range("paid.pct", 50, 95) / 100
    } else {
        invoiced
    };
    let touched = (w.now - r.range("touched", 0, 60) * DAY_MS).max(created);
    json!({
        "patient_id": patient_id(j),
        "first_appointment_date": first,
        "first_exam_date": first,
        "last_appointment_date": last,
        "last_exam_date": last.as_ref().filter(|_| r.chance("exam", 0.8)),
        "last_scale_and_polish_date": last.as_ref().filter(|_| r.chance("sp", 0.5)),
        "last_fta_appointment_date": last.as_ref().filter(|_| r.chance("fta", 0.1)),
        "last_cancelled_appointment_date": last.as_ref().filter(|_| r.chance("cancelled", 0.2)),
        "next_appointment_date": future("next", 0.4),
        "next_exam_date": future("next.exam", 0.3),
        "next_scale_and_polish_date": future("next.sp", 0.2),
        "total_invoiced": fmt::money(invoiced),
        "total_paid": fmt::money(paid),
        "nhs_exemption_code": if r.chance("exempt", 0.15) { json!(*r.pick("exempt.code", &["A", "D", "E", "F", "M"])) } else { Value::Null },
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(touched),
    })
}

fn parse(date: &str) -> NaiveDate {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or_default()
}

/// `/v1/accounts` record `j`.
pub(crate) fn account(w: &World, j: u64) -> Value {
    let r = w.rng("accounts", j);
    let balance = match r.below("balance", 20) {
        0 | 1 => -r.range("owed", 1, 400) * 100 / if r.chance("half", 0.3) { 2 } else { 1 },
        2 => r.range("credit", 1, 50) * 100,
        _ => 0,
    };
    let opening = if w.history.day(0).year() < 2020 && r.chance("opening", 0.05) {
        -r.range("open", 1, 100) * 100
    } else {
        0
    };
    json!({
        "id": account_id(j),
        "patient_id": patient_id(j),
        "patient_name": full_name(w, j),
        "current_balance": fmt::money(balance),
        "opening_balance": fmt::money(opening),
        "planned_nhs_treatment_value": fmt::money(if r.chance("nhs.plan", 0.1) { 7_570 } else { 0 }),
        "planned_private_treatment_value": fmt::money(if r.chance("priv.plan", 0.1) { r.range("priv", 1, 30) * 2_500 } else { 0 }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_by_inverts_created() {
        let w = World::new(1, 1, 0.2, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
        for j in [0, 10, 199] {
            let t = created(&w, j);
            assert_eq!(registered_by(&w, t), j + 1);
        }
        assert_eq!(registered_by(&w, 0), 0);
    }
}
