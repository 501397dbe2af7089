//! The practice's small vocabularies and fixtures: sundries, NHS contracts (one per site),
//! acquisition sources, cancellation and appointment reasons, custom field definitions.
//!
//! They are a few rows each and change rarely; other modules use the helpers here for
//! references (`contract_id`, `sundry_price`, the booking reasons of appointments).

use serde_json::{Value, json};

use super::fmt;
use super::rng::Rng;
use super::timeline::updated_after;
use super::{World, ids, organisation};

fn setup_stamp(w: &World, resource: &str, i: u64, n: u64) -> (i64, i64, Rng) {
    let r = w.rng(resource, i);
    let created = w.setup.spread(i, n, &r, "created");
    (created, updated_after(&r, created, w.now), r)
}

const SUNDRIES: &[(&str, &str, i64)] = &[
    ("Manual toothbrush", "Brush", 350),
    ("Interdental brushes (pack)", "TePe", 595),
    ("Mouthwash 500ml", "Wash", 475),
    ("Whitening gel top-up", "Gel", 2_500),
    ("Electric toothbrush heads", "Heads", 1_299),
    ("Dental floss", "Floss", 299),
    ("Duraphat toothpaste 5000ppm", "Duraphat", 1_150),
    ("Denture cleaning tablets", "Tabs", 425),
    ("Sports mouthguard kit", "Guard", 4_500),
    ("Lost appointment fee", "FTA", 3_500),
];

/// Pence price of sundry `s`.
pub(crate) fn sundry_price(s: u64) -> i64 {
    SUNDRIES[(s % SUNDRIES.len() as u64) as usize].2
}

/// `/v1/sundries`.
pub(crate) fn sundry(w: &World, s: u64) -> Value {
    let (name, nick, pence) = SUNDRIES[(s % SUNDRIES.len() as u64) as usize];
    json!({
        "id": ids::SUNDRIES + s as i64,
        "name": name,
        "nickname": nick,
        "price": fmt::money(pence),
        "site_id": if s.is_multiple_of(3) { json!(organisation::site_id(w, s % w.counts.sites)) } else { Value::Null },
    })
}

fn contract_created(w: &World, site: u64) -> i64 {
    w.setup
        .spread(site, w.counts.sites, &w.rng("contracts", site), "created")
}

/// GUID of the NHS contract of site `site` (one per site).
pub(crate) fn contract_id(w: &World, site: u64) -> String {
    fmt::guid_v7(
        contract_created(w, site) + 1,
        w.rng("contracts", site).bits("id"),
    )
}

/// `/v1/contracts`.
pub(crate) fn contract(w: &World, s: u64) -> Value {
    let r = w.rng("contracts", s);
    let created = contract_created(w, s) + 1;
    let start = super::timeline::local_date(created);
    json!({
        "id": contract_id(w, s),
        "active": true,
        "contract_number": format!("{:06}/{:04}", r.range("no", 100_000, 999_999), s + 1),
        "start_date": fmt::date(start),
        "end_date": null,
        "nhs_location_id": format!("{}", r.range("loc", 10_000, 99_999)),
        "nhs_site_id": format!("V{}", r.range("site", 10_000, 99_999)),
        "pds_plus": r.chance("pds", 0.2),
        "site_id": organisation::site_id(w, s),
        "target": fmt::decimal(r.range("target", 40, 120) * 100 * 10_000, 4),
        "uda_value": fmt::decimal(r.range("rate", 2_600, 3_400) * 100, 4),
        "uoa_target": fmt::decimal(0, 4),
        "uoa_value": fmt::decimal(0, 4),
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated_after(&r, created, w.now)),
    })
}

/// `/v1/acquisition_sources`.
pub(crate) fn acquisition_source(w: &World, i: u64) -> Value {
    const SOURCES: &[&str] = &[
        "Google",
        "Word of mouth",
        "Facebook",
        "Practice website",
        "Walk-in",
        "NHS website",
        "Instagram",
        "Referral from GP",
    ];
    let r = w.rng("acquisition_sources", i);
    json!({
        "id": ids::ACQUISITION_SOURCES + i as i64,
        "active": !r.chance("inactive", 0.15),
        "name": SOURCES[(i % SOURCES.len() as u64) as usize],
        "notes": if r.chance("notes", 0.3) { json!("Added for the marketing report") } else { Value::Null },
        "show_in_portal": r.chance("portal", 0.6),
    })
}

/// `/v1/appointment_cancellation_reasons`.
pub(crate) fn cancellation_reason(_w: &World, i: u64) -> Value {
    const REASONS: &[(&str, &str)] = &[
        ("Patient unwell", "patient"),
        ("Work commitments", "patient"),
        ("Practitioner unavailable", "practice"),
        ("Rescheduled by patient", "patient"),
        ("Transport problems", "patient"),
        ("Practice closure", "practice"),
    ];
    let (reason, kind) = REASONS[(i % REASONS.len() as u64) as usize];
    json!({"id": ids::CANCELLATION_REASONS + i as i64, "reason": reason, "reason_type": kind, "archived": i >= REASONS.len() as u64})
}

/// The booking reasons; the first ones are also the `reason` of appointments.
pub(crate) const APPOINTMENT_REASONS: &[(&str, i64)] = &[
    ("Exam", 15),
    ("Scale & Polish", 30),
    ("Exam + Scale & Polish", 40),
    ("Filling", 30),
    ("Emergency", 20),
    ("Consultation", 30),
    ("Root canal", 60),
    ("Crown prep", 60),
    ("Crown fit", 30),
    ("Extraction", 30),
];

/// `/v1/appointment_reasons`.
pub(crate) fn appointment_reason(w: &World, i: u64) -> Value {
    let (reason, duration) = APPOINTMENT_REASONS[(i % APPOINTMENT_REASONS.len() as u64) as usize];
    let r = w.rng("appointment_reasons", i);
    json!({
        "id": ids::APPOINTMENT_REASONS + i as i64,
        "reason": reason,
        "colour": r.pick("colour", &["#74B9FF", "#55EFC4", "#FFEAA7", "#FAB1A0", "#A29BFE"]),
        "duration": duration,
        "deleted": i >= APPOINTMENT_REASONS.len() as u64,
    })
}

/// `/v1/custom_fields`.
pub(crate) fn custom_field(w: &World, i: u64) -> Value {
    const FIELDS: &[(&str, &str)] = &[
        ("Preferred pronouns", "text"),
        ("Nervous patient", "checkbox"),
        ("Referred by", "text"),
        ("Locker number", "number"),
    ];
    let (name, kind) = FIELDS[(i % FIELDS.len() as u64) as usize];
    let (created, updated, _) = setup_stamp(w, "custom_fields", i, w.counts.custom_fields);
    json!({
        "id": ids::CUSTOM_FIELDS + i as i64,
        "name": name,
        "field_type": kind,
        "active": true,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated),
    })
}
