//! The practice's price list: treatments and their categories, payment plans, and the fees of
//! each treatment under each plan.
//!
//! Every invoice line and plan item draws its price from here (`treatment_price`), so an NHS
//! patient is charged the band charge, a membership patient nothing for an included exam, and a
//! private patient the list price.

use serde_json::{Value, json};

use super::fmt;
use super::rng::Rng;
use super::timeline::updated_after;
use super::{World, ids, organisation};

/// One line of the fee scale.
pub(crate) struct TreatmentDef {
    pub code: &'static str,
    pub name: &'static str,
    pub patient_name: &'static str,
    pub category: u64,
    pub region: &'static str,
    pub nhs_band: &'static str,
    pub uda_band: &'static str,
    pub duration: i64,
    pub pence: i64,
    pub insurance: &'static str,
}

macro_rules! t {
    ($code:literal, $name:literal, $pn:literal, $cat:literal, $region:literal, $band:literal, $uda:literal, $dur:literal, $pence:literal, $ins:literal) => {
        TreatmentDef {
            code: $code,
            name: $name,
            patient_name: $pn,
            category: $cat,
            region: $region,
            nhs_band: $band,
            uda_band: $uda,
            duration: $dur,
            pence: $pence,
            insurance: $ins,
        }
    };
}

#[rustfmt::skip]
const TREATMENT_DEFS: &[TreatmentDef] = &[
    t!("EXAM", "Examination", "Check-up", 0, "Mouth", "Band 1", "1", 15, 5500, "Diagnostic"),
    t!("NPEXAM", "New patient examination", "New patient check-up", 0, "Mouth", "Band 1", "1", 30, 8500, "Diagnostic"),
    t!("BW", "Bitewing radiographs", "X-rays (bitewing)", 1, "Mouth", "Band 1", "1", 5, 2500, "Diagnostic"),
    t!("PA", "Periapical radiograph", "X-ray (single tooth)", 1, "Tooth", "Band 1", "1", 5, 1800, "Diagnostic"),
    t!("OPG", "Panoramic radiograph", "Full mouth X-ray", 1, "Mouth", "Band 1", "1", 10, 6000, "Diagnostic"),
    t!("SP", "Scale and polish", "Scale & polish", 2, "Mouth", "Band 1", "1", 30, 6500, "Preventive"),
    t!("HYG", "Hygienist visit", "Hygiene appointment", 2, "Mouth", "", "", 30, 7500, "Preventive"),
    t!("FV", "Fluoride varnish", "Fluoride varnish", 2, "Mouth", "Band 1", "1", 5, 2500, "Preventive"),
    t!("FS", "Fissure sealant", "Fissure sealant", 2, "Tooth", "Band 2", "3", 10, 3000, "Preventive"),
    t!("AMAL", "Amalgam filling", "Silver filling", 3, "Tooth", "Band 2", "3", 30, 9500, "Basic"),
    t!("COMP1", "Composite filling (1 surface)", "White filling (small)", 3, "Tooth", "Band 2", "3", 30, 12000, "Basic"),
    t!("COMP2", "Composite filling (2 surfaces)", "White filling (medium)", 3, "Tooth", "Band 2", "3", 40, 15000, "Basic"),
    t!("COMP3", "Composite filling (3+ surfaces)", "White filling (large)", 3, "Tooth", "Band 2", "3", 50, 18000, "Basic"),
    t!("GIC", "Glass ionomer filling", "Temporary filling", 3, "Tooth", "Band 2", "3", 20, 8000, "Basic"),
    t!("RCT1", "Root canal treatment (incisor)", "Root canal (front tooth)", 4, "Tooth", "Band 2", "3", 60, 35000, "Major"),
    t!("RCT3", "Root canal treatment (molar)", "Root canal (back tooth)", 4, "Tooth", "Band 2", "3", 90, 65000, "Major"),
    t!("CRN", "Porcelain bonded crown", "Crown", 5, "Tooth", "Band 3", "12", 60, 60000, "Major"),
    t!("EMAX", "E.max crown", "All-ceramic crown", 5, "Tooth", "", "", 60, 75000, "Major"),
    t!("BRG", "Bridge (per unit)", "Bridge", 5, "Tooth", "Band 3", "12", 60, 55000, "Major"),
    t!("ACDEN", "Acrylic denture", "Denture (plastic)", 5, "Arch", "Band 3", "12", 45, 70000, "Major"),
    t!("COCR", "Cobalt chrome denture", "Denture (metal)", 5, "Arch", "Band 3", "12", 45, 120000, "Major"),
    t!("EXT", "Extraction", "Tooth removal", 6, "Tooth", "Band 2", "3", 30, 15000, "Basic"),
    t!("SEXT", "Surgical extraction", "Surgical tooth removal", 6, "Tooth", "Band 2", "3", 60, 35000, "Major"),
    t!("EMERG", "Emergency appointment", "Emergency visit", 6, "Mouth", "Urgent", "1.2", 20, 8500, "Basic"),
    t!("WHT", "Home whitening", "Teeth whitening", 7, "Mouth", "", "", 30, 35000, "Cosmetic"),
    t!("IMP", "Implant placement", "Dental implant", 7, "Tooth", "", "", 90, 250000, "Major"),
    t!("IMPC", "Implant consultation", "Implant consultation", 7, "Mouth", "", "", 30, 7500, "Diagnostic"),
    t!("ALIGN", "Clear aligners", "Invisible braces", 7, "Mouth", "", "", 45, 350000, "Cosmetic"),
    t!("BOND", "Composite bonding (per tooth)", "Tooth bonding", 7, "Tooth", "", "", 45, 25000, "Cosmetic"),
    t!("MG", "Sports mouthguard", "Mouthguard", 7, "Arch", "", "", 20, 9000, "Cosmetic"),
];

const CATEGORIES: &[&str] = &[
    "Examinations",
    "Radiographs",
    "Hygiene & Prevention",
    "Restorative",
    "Endodontics",
    "Prosthodontics",
    "Oral Surgery",
    "Cosmetic",
];

/// `(name, patient-friendly name, monthly fee in pence, NHS?)`.
const PLANS: &[(&str, &str, i64, bool)] = &[
    ("NHS", "NHS", 0, true),
    ("Private", "Private (pay as you go)", 0, false),
    ("Practice Membership", "Membership plan", 1_650, false),
    ("Denplan Care", "Denplan Care", 2_295, false),
    ("Children's Plan", "Children's plan", 750, false),
    ("Hygiene Plan", "Hygiene only", 1_200, false),
];

/// NHS England patient charges per band, in pence.
const NHS_CHARGES: &[(&str, i64)] = &[
    ("Band 1", 2_760),
    ("Urgent", 2_760),
    ("Band 2", 7_570),
    ("Band 3", 32_860),
];

/// The definition behind treatment `t` (the list repeats with a variant suffix at large scales).
pub(crate) fn treatment_def(t: u64) -> &'static TreatmentDef {
    &TREATMENT_DEFS[(t % TREATMENT_DEFS.len() as u64) as usize]
}

/// Display name of treatment `t`.
pub(crate) fn treatment_name(t: u64) -> String {
    const FLAVOURS: &[&str] = &[
        "child",
        "out of hours",
        "complex",
        "review",
        "domiciliary",
        "sedation",
    ];
    let variant = (t / TREATMENT_DEFS.len() as u64) as usize;
    let def = treatment_def(t);
    match variant {
        0 => def.name.to_string(),
        v if v <= FLAVOURS.len() => format!("{} ({})", def.name, FLAVOURS[v - 1]),
        v => format!("{} (variant {})", def.name, v + 1),
    }
}

/// Whether payment plan `p` is the NHS plan.
pub(crate) fn plan_is_nhs(p: u64) -> bool {
    PLANS[(p % PLANS.len() as u64) as usize].3
}

/// Price in pence of treatment `t` under payment plan `p`.
pub(crate) fn treatment_price(t: u64, p: u64) -> i64 {
    let def = treatment_def(t);
    let plan = &PLANS[(p % PLANS.len() as u64) as usize];
    if plan.3 {
        return NHS_CHARGES
            .iter()
            .find(|(b, _)| *b == def.nhs_band)
            .map_or(def.pence, |(_, c)| *c);
    }
    let included = plan.2 > 0 && matches!(def.code, "EXAM" | "SP" | "HYG" | "BW");
    if included {
        0
    } else if plan.2 > 0 {
        def.pence * 9 / 10
    } else {
        def.pence
    }
}

fn setup_stamp(w: &World, resource: &str, i: u64, n: u64) -> (i64, i64, Rng) {
    let r = w.rng(resource, i);
    let created = w.setup.spread(i, n, &r, "created");
    (created, updated_after(&r, created, w.now), r)
}

/// `/v1/treatments`.
pub(crate) fn treatment(w: &World, t: u64) -> Value {
    let def = treatment_def(t);
    let (created, updated, r) = setup_stamp(w, "treatments", t, w.counts.treatments);
    let blank = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    json!({
        "id": ids::TREATMENTS + t as i64,
        "active": !r.chance("inactive", 0.05),
        "code": def.code,
        "nomenclature": treatment_name(t),
        "patient_nomenclature": def.patient_name,
        "description": format!("{} ({})", def.name, def.region.to_lowercase()),
        "patient_description": if r.chance("pdesc", 0.5) { json!(def.patient_name) } else { Value::Null },
        "region": def.region,
        "nhs_treatment_cat": blank(def.nhs_band),
        "uda_band": blank(def.uda_band),
        "treatment_category_id": ids::TREATMENT_CATEGORIES + (def.category % w.counts.categories) as i64,
        "insurance_classification": def.insurance,
        "owner": "practice",
        "duration": def.duration,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// `/v1/treatment_categories`: just an id and a name, as the live API sends them.
pub(crate) fn category(_w: &World, c: u64) -> Value {
    json!({
        "id": ids::TREATMENT_CATEGORIES + c as i64,
        "name": CATEGORIES[(c % CATEGORIES.len() as u64) as usize],
    })
}

/// `/v1/payment_plans` (with the API's `monthly_memberhsip_fee` typo).
pub(crate) fn payment_plan(w: &World, p: u64) -> Value {
    let (name, friendly, fee, nhs) = PLANS[(p % PLANS.len() as u64) as usize];
    let (created, _, r) = setup_stamp(w, "payment_plans", p, w.counts.payment_plans);
    json!({
        "id": ids::PAYMENT_PLANS + p as i64,
        "name": name,
        "active": p < 4 || !r.chance("inactive", 0.3),
        "site_id": if nhs || p % 2 == 1 { Value::Null } else { json!(organisation::site_id(w, 0)) },
        "patient_friendly_name": friendly,
        "colour": r.pick("colour", &["#2E86DE", "#10AC84", "#EE5253", "#FF9F43"]),
        "dentist_recall_interval": if nhs { 12 } else { 6 },
        "hygienist_recall_interval": 6,
        "recall_method": r.pick("recall", &["SMS", "Email", "Letter"]),
        "emergency_duration": 20,
        "exam_duration": 15,
        "scale_and_polish_duration": 30,
        "exam_scale_and_polish_duration": 40,
        "exam_appointments_included": if fee > 0 { 2 } else { 0 },
        "hygiene_appointments_included": if fee > 0 { 2 } else { 0 },
        "monthly_memberhsip_fee": fmt::money(fee),
        "created_at": fmt::timestamp(created),
    })
}

/// `treatment_id` of fee `i` (fees are treatment-major).
pub(crate) fn fee_treatment(w: &World, i: u64) -> i64 {
    ids::TREATMENTS + (i / w.counts.payment_plans) as i64
}

/// `/v1/fees`: one row per treatment × payment plan (treatment-major).
pub(crate) fn fee(w: &World, i: u64) -> Value {
    let plans = w.counts.payment_plans;
    let (t, p) = (i / plans, i % plans);
    let def = treatment_def(t);
    let price = treatment_price(t, p);
    let multiple = def.region == "Tooth" && !plan_is_nhs(p);
    let tier = |k: i64| {
        if multiple {
            fmt::money(price * (10 - k) / 10)
        } else {
            fmt::money(price)
        }
    };
    let dur = |k: i64| {
        if multiple {
            def.duration + 10 * k
        } else {
            def.duration
        }
    };
    json!({
        "id": ids::FEES + i as i64,
        "treatment_id": ids::TREATMENTS + t as i64,
        "payment_plan_id": ids::PAYMENT_PLANS + p as i64,
        "multiple_pricing": multiple,
        "price_one": tier(0), "price_two": tier(1), "price_three": tier(2), "price_four": tier(3), "price_five": tier(4),
        "duration_one": dur(0), "duration_two": dur(1), "duration_three": dur(2), "duration_four": dur(3), "duration_five": dur(4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_plans_include_exams() {
        assert_eq!(treatment_price(0, 2), 0);
        assert_eq!(treatment_price(0, 1), 5500);
        assert_eq!(treatment_price(0, 0), 2760);
        assert!(plan_is_nhs(0));
    }
}
