//! Treatment plans (courses of treatment) and their items.
//!
//! Plan `k` belongs to patient `k · patients / plans`, so plans follow the patients' order and
//! a patient's first plan is found in O(1) ([`first_plan_of`]). Pairs of plans share six items
//! (one to five each). A plan's private value and NHS UDAs are derived from its items, and
//! import rows (about 2%) have the nulls §6 describes.

use serde_json::{Value, json};

use super::organisation::{self, practitioner_id};
use super::rng::Rng;
use super::setup::{self, treatment_def};
use super::timeline::{DAY_MS, local_date, updated_after};
use super::{Pairs, World, fmt, ids, patients};

fn pairs(w: &World) -> Pairs {
    Pairs {
        parents: w.counts.treatment_plans,
        per_pair: 6,
    }
}

/// Number of plan items.
pub(crate) fn item_count(w: &World) -> u64 {
    pairs(w).children()
}

/// Id of plan `k`.
pub(crate) fn plan_id(k: u64) -> i64 {
    ids::TREATMENT_PLANS + k as i64
}

/// Id of plan item `x`.
pub(crate) fn item_id(x: u64) -> i64 {
    ids::TREATMENT_PLAN_ITEMS + x as i64
}

/// Patient index of plan `k`.
pub(crate) fn patient_of(w: &World, k: u64) -> u64 {
    (k * w.counts.patients / w.counts.treatment_plans).min(w.counts.patients - 1)
}

/// `patient_id` of plan `k` (non-decreasing in `k`).
pub(crate) fn plan_patient_id(w: &World, k: u64) -> i64 {
    patients::patient_id(patient_of(w, k))
}

/// `treatment_plan_id` of item `x` (non-decreasing in `x`).
pub(crate) fn item_plan_id(w: &World, x: u64) -> i64 {
    plan_id(pairs(w).parent_of(w, "treatment_plan_items", x).0)
}

/// The first plan of patient `j`.
pub(crate) fn first_plan_of(w: &World, j: u64) -> u64 {
    (j * w.counts.treatment_plans)
        .div_ceil(w.counts.patients)
        .min(w.counts.treatment_plans - 1)
}

/// The first item of plan `k`.
pub(crate) fn first_item_of(w: &World, k: u64) -> u64 {
    pairs(w).children_of(w, "treatment_plan_items", k).0
}

/// What every item of plan `k` shares with it.
struct PlanHead {
    patient: u64,
    created: i64,
    completed_at: Option<i64>,
    import: bool,
}

fn head(w: &World, k: u64) -> PlanHead {
    let r = w.rng("treatment_plans", k);
    let patient = patient_of(w, k);
    let created = w
        .recent
        .spread(k, w.counts.treatment_plans, &r, "created")
        .max(patients::created(w, patient) + 3_600_000);
    let done = created < w.now - 30 * DAY_MS && r.chance("completed", 0.8);
    let completed_at =
        done.then(|| (created + r.range("took", DAY_MS, 90 * DAY_MS)).min(w.now - 60_000));
    PlanHead {
        patient,
        created,
        completed_at,
        import: r.chance("import", 0.02),
    }
}

/// Treatment index of item `x`.
fn item_treatment(w: &World, x: u64) -> u64 {
    w.rng("treatment_plan_items", x)
        .below("treatment", w.counts.treatments)
}

fn uda(band: &str) -> i64 {
    match band {
        "Band 3" => 120_000,
        "Band 2" => 30_000,
        "Urgent" => 12_000,
        "Band 1" => 10_000,
        _ => 0,
    }
}

/// `/v1/treatment_plans` record `k`.
pub(crate) fn treatment_plan(w: &World, k: u64) -> Value {
    let r = w.rng("treatment_plans", k);
    let h = head(w, k);
    let plan = patients::payment_plan(w, h.patient);
    let nhs = setup::plan_is_nhs(plan);
    let (first, n) = pairs(w).children_of(w, "treatment_plan_items", k);
    let treatments: Vec<u64> = (first..first + n).map(|x| item_treatment(w, x)).collect();
    let private: i64 = if nhs {
        0
    } else {
        treatments
            .iter()
            .map(|&t| setup::treatment_price(t, plan))
            .sum()
    };
    let uda_value = if nhs {
        treatments
            .iter()
            .map(|&t| uda(treatment_def(t).nhs_band))
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let end = h.completed_at.map(|t| fmt::date(local_date(t)));
    let updated = h
        .completed_at
        .unwrap_or(h.created)
        .max(updated_after(&r, h.created, w.now));
    json!({
        "id": plan_id(k),
        "patient_id": patients::patient_id(h.patient),
        "practitioner_id": if h.import { Value::Null } else { json!(practitioner_id(patients::dentist(w, h.patient))) },
        "site_id": if h.import { Value::Null } else { json!(organisation::site_id(w, patients::site(w, h.patient))) },
        "nickname": if h.import { Value::Null } else { json!(*r.pick("nickname", &["Course of treatment", "Check-up", "Hygiene", "Restorative", "Emergency"])) },
        "start_date": fmt::date(local_date(h.created)),
        "end_date": end,
        "completed": h.completed_at.is_some(),
        "completed_at": h.completed_at.map(fmt::timestamp),
        "last_completed_at": h.completed_at.map(fmt::timestamp),
        "private_treatment_value": fmt::money(private),
        "nhs_uda_value": fmt::decimal(uda_value, 4),
        "nhs_completed_uda_value": fmt::decimal(if h.completed_at.is_some() { uda_value } else { 0 }, 4),
        "created_at": fmt::timestamp(h.created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// Teeth and surfaces of an item of treatment `t`.
fn chart(r: &Rng, t: u64) -> (Vec<String>, Vec<&'static str>) {
    let def = treatment_def(t);
    match def.region {
        "Tooth" => {
            let tooth = format!(
                "{}{}",
                r.pick("quadrant", &["UR", "UL", "LR", "LL"]),
                r.range("tooth", 1, 8)
            );
            let surfaces = match def.code {
                "COMP1" | "AMAL" | "GIC" => vec![*r.pick("surface", &["O", "M", "D", "B", "L"])],
                "COMP2" => vec!["M", "O"],
                "COMP3" => vec!["M", "O", "D"],
                _ => vec![],
            };
            (vec![tooth], surfaces)
        }
        "Arch" => (vec![r.pick("arch", &["U", "L"]).to_string()], vec![]),
        _ => (vec![], vec![]),
    }
}

/// `/v1/treatment_plan_items` record `x`.
pub(crate) fn treatment_plan_item(w: &World, x: u64) -> Value {
    let (k, slot) = pairs(w).parent_of(w, "treatment_plan_items", x);
    let r = w.rng("treatment_plan_items", x);
    let h = head(w, k);
    let t = item_treatment(w, x);
    let def = treatment_def(t);
    let plan = patients::payment_plan(w, h.patient);
    let created = h.created + slot as i64 * 60_000;
    let completed_at = h.completed_at.or_else(|| {
        (created < w.now - DAY_MS && r.chance("done", 0.4))
            .then(|| (created + r.range("took", 60_000, 30 * DAY_MS)).min(w.now - 60_000))
    });
    let (teeth, surfaces) = chart(&r, t);
    let charged = completed_at.is_some() && r.chance("charged", 0.9);
    let invoice = charged
        .then(|| ids::INVOICES + r.below("invoice", w.counts.invoices) as i64)
        .filter(|_| r.chance("invoiced", 0.7));
    let updated = completed_at
        .unwrap_or(created)
        .max(updated_after(&r, created, w.now));
    json!({
        "id": item_id(x),
        "treatment_plan_id": plan_id(k),
        "patient_id": patients::patient_id(h.patient),
        "practitioner_id": if h.import { Value::Null } else { json!(practitioner_id(patients::dentist(w, h.patient))) },
        "payment_plan_id": ids::PAYMENT_PLANS + plan as i64,
        "treatment_id": ids::TREATMENTS + t as i64,
        "invoice_id": invoice,
        "treatment_appointment_id": if r.chance("ta", 0.3) { json!(ids::TREATMENT_APPOINTMENTS + r.below("ta.id", w.counts.treatment_appointments) as i64) } else { Value::Null },
        "referrer_id": null,
        "appear_on_invoice": !r.chance("hidden", 0.05),
        "base_chart": r.chance("base", 0.05),
        "charged": charged,
        "completed": completed_at.is_some(),
        "completed_at": completed_at.map(fmt::timestamp),
        "duration": def.duration,
        "nhs_treatment_cat": if def.nhs_band.is_empty() { Value::Null } else { json!(def.nhs_band) },
        "nomenclature": setup::treatment_name(t),
        "patient_nomenclature": def.patient_name,
        "notes": if r.chance("notes", 0.1) { json!(*r.pick("notes.v", &["Patient wants to think about options", "Review in 6 months", "Sensitive to cold"])) } else { Value::Null },
        "position": slot as i64 + 1,
        "price": fmt::money(setup::treatment_price(t, plan)),
        "region": def.region,
        "uda_band": if def.uda_band.is_empty() { Value::Null } else { json!(def.uda_band) },
        "teeth": teeth,
        "surfaces": surfaces,
        "custom_fields": [],
        "site_id": organisation::site_id(w, patients::site(w, h.patient)),
        "created_at": fmt::timestamp(created.min(w.now - 1_000)),
        "updated_at": fmt::timestamp(updated.min(w.now - 1_000).max(created.min(w.now - 1_000))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn first_plan_belongs_to_the_patient() {
        let w = World::new(1, 1, 0.5, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
        for j in 0..w.counts.patients {
            assert_eq!(patient_of(&w, first_plan_of(&w, j)), j);
        }
    }
}
