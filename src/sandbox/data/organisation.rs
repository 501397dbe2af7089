//! The practice, its sites, staff users, practitioners and rooms.
//!
//! These are the anchors every other record points at: a patient's `site_id`, an appointment's
//! `practitioner_id`, an invoice's `user_id`. The helpers here (`site_id`, `practitioner_id`,
//! `dentist`, …) let other modules derive those references without generating the records.

use serde_json::{Value, json};

use super::conform;
use super::fmt;
use super::names;
use super::rng::Rng;
use super::timeline::{DAY_MS, updated_after};
use super::{World, ids};

const SUFFIXES: &[&str] = &[
    "Dental Care",
    "Dental Practice",
    "Smile Studio",
    "Family Dentistry",
    "Dental Centre",
];
const COLOURS: &[&str] = &[
    "#4A90E2", "#50E3C2", "#F5A623", "#D0021B", "#7ED321", "#9013FE", "#BD10E0", "#417505",
];
/// Roles of staff who are not clinicians, Title-Case as the live API writes them.
const STAFF_ROLES: &[&str] = &[
    "Receptionist",
    "Nurse",
    "Nurse",
    "Practice Manager",
    "Receptionist",
    "Treatment Coordinator",
];

/// The practice's own town `(town, county, postcode area)`.
fn home_town(w: &World) -> (&'static str, &'static str, &'static str) {
    *w.rng("practice", 0).pick("town", names::TOWNS)
}

/// The practice's GUID.
pub(crate) fn practice_id(w: &World) -> String {
    let r = w.rng("practice", 0);
    fmt::guid_v4(r.bits("id.hi"), r.bits("id.lo"))
}

fn practice_name(w: &World) -> String {
    format!(
        "{} {}",
        home_town(w).0,
        w.rng("practice", 0).pick("suffix", SUFFIXES)
    )
}

fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

/// Weekday opening hours, plus a Saturday morning when `saturday`. Closed days are absent, as
/// on the live API (not listed with null times).
fn opening_hours(open: &str, close: &str, saturday: bool) -> Value {
    let mut hours = serde_json::Map::new();
    for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] {
        hours.insert(day.into(), json!({"open": open, "close": close}));
    }
    if saturday {
        hours.insert(
            "Saturday".into(),
            json!({"open": "09:00", "close": "13:00"}),
        );
    }
    Value::Object(hours)
}

/// `/v1/practice`.
pub(crate) fn practice(w: &World, _i: u64) -> Value {
    let r = w.rng("practice", 0);
    let (town, _, area) = home_town(w);
    let name = practice_name(w);
    let slug = slug(&name);
    json!({
        "id": practice_id(w),
        "name": name,
        "address_line_1": format!("{} {}", r.range("no", 1, 120), r.pick("street", names::STREETS)),
        "address_line_2": null,
        "town": town,
        "postcode": names::postcode(&r, area),
        "email_address": format!("reception@{slug}.example.co.uk"),
        "patient_email_address": format!("appointments@{slug}.example.co.uk"),
        "phone_number": names::landline(&r, "phone"),
        "website": format!("https://www.{slug}.example.co.uk"),
        "logo_url": null,
        "slug": slug,
        "time_zone": "Europe/London",
        "nhs": true,
        "medical_history_expiry_days": 365,
        "custom_patient_field_label_1": "Preferred pronouns",
        "custom_patient_field_label_2": null,
        "opening_hours": opening_hours("08:00", "18:00", true),
    })
}

fn site_created(w: &World, s: u64) -> i64 {
    w.setup
        .spread(s, w.counts.sites, &w.rng("sites", s), "created")
}

/// GUID of site `s` (time-ordered, so id order is creation order).
pub(crate) fn site_id(w: &World, s: u64) -> String {
    fmt::guid_v7(site_created(w, s), w.rng("sites", s).bits("id"))
}

/// `/v1/sites`.
pub(crate) fn site(w: &World, s: u64) -> Value {
    let r = w.rng("sites", s);
    let (town, county, area) = if s == 0 {
        home_town(w)
    } else {
        *r.pick("town", names::TOWNS)
    };
    let suffix = r.pick("suffix", SUFFIXES);
    let name = format!("{town} {suffix}");
    let slug = slug(&name);
    let created = site_created(w, s);
    json!({
        "id": site_id(w, s),
        "name": name,
        "nickname": town,
        "active": true,
        "address_line_1": format!("{} {}", r.range("no", 1, 120), r.pick("street", names::STREETS)),
        "address_line_2": if r.chance("line2", 0.3) { json!("Ground Floor") } else { Value::Null },
        "town": town,
        "county": county,
        "postcode": names::postcode(&r, area),
        "phone_number": names::landline(&r, "phone"),
        "email_address": format!("{}@{}.example.co.uk", town.to_lowercase(), slug),
        "website": format!("https://www.{slug}.example.co.uk"),
        "logo_url": null,
        "start_date": fmt::date(super::timeline::local_date(created)),
        "opening_hours": if s.is_multiple_of(2) {
            opening_hours("08:00", "18:00", s == 0)
        } else {
            opening_hours("08:30", "17:30", false)
        },
    })
}

/// Id of user `u`.
pub(crate) fn user_id(u: u64) -> i64 {
    ids::USERS + u as i64
}

/// Id of practitioner `p`.
pub(crate) fn practitioner_id(p: u64) -> i64 {
    ids::PRACTITIONERS + p as i64
}

/// Site index of practitioner `p`.
pub(crate) fn practitioner_site(w: &World, p: u64) -> u64 {
    p % w.counts.sites
}

/// Whether practitioner `p` is a hygienist (every third one) rather than a dentist.
pub(crate) fn is_hygienist(p: u64) -> bool {
    p % 3 == 2
}

/// A dentist, drawn from `rng`.
pub(crate) fn dentist(w: &World, rng: &Rng, field: &str) -> u64 {
    let p = rng.below(field, w.counts.practitioners);
    if is_hygienist(p) { p - 1 } else { p }
}

/// A hygienist, drawn from `rng`, if the practice has one.
pub(crate) fn hygienist(w: &World, rng: &Rng, field: &str) -> Option<u64> {
    let n = w.counts.practitioners / 3;
    (n > 0).then(|| 3 * rng.below(field, n) + 2)
}

/// Display name of practitioner `p` (`Dr Sarah Patel`).
pub(crate) fn practitioner_name(w: &World, p: u64) -> String {
    let (_, first, last, _) = names::person(&w.rng("users", p));
    let title = if is_hygienist(p) { "" } else { "Dr " };
    format!("{title}{first} {last}")
}

fn user_role(w: &World, u: u64) -> &'static str {
    if u < w.counts.practitioners {
        if is_hygienist(u) {
            "Hygienist"
        } else {
            "Dentist"
        }
    } else {
        STAFF_ROLES[w.rng("users", u).below("role", STAFF_ROLES.len() as u64) as usize]
    }
}

fn permission_level(w: &World, u: u64) -> i64 {
    let role = user_role(w, u);
    if u == 0 || role == "Practice Manager" {
        4
    } else if u >= w.counts.practitioners && w.rng("users", u).chance("deactivated", 0.12) {
        0
    } else {
        2
    }
}

/// `/v1/users` (also the body of `/v1/user` for the token owner).
pub(crate) fn user(w: &World, u: u64) -> Value {
    let r = w.rng("users", u);
    let (title, first, last, _) = names::person(&r);
    let level = permission_level(w, u);
    let site = u % w.counts.sites;
    let cal = if u < w.counts.practitioners {
        &w.setup
    } else {
        &w.history
    };
    let created = cal.spread(u, w.counts.users, &r, "created");
    let allowed: Vec<u64> = if level == 4 {
        (0..w.counts.sites).collect()
    } else {
        vec![site]
    };
    // The shape of `allowed_sites` is unknown (the catalog takes any JSON): most users list
    // site ids, some list site objects, so a run proves both fit.
    let allowed: Vec<Value> = allowed
        .into_iter()
        .map(|s| {
            if u % 4 == 3 {
                json!({"id": site_id(w, s), "name": self::site(w, s)["name"]})
            } else {
                json!(site_id(w, s))
            }
        })
        .collect();
    let last_login = (level > 0).then(|| w.now - r.range("login", 60_000, 20 * DAY_MS));
    json!({
        "id": user_id(u),
        "uuid": fmt::guid_v4(r.bits("uuid.hi"), r.bits("uuid.lo")),
        "title": if user_role(w, u) == "Dentist" { "Dr" } else { title },
        "first_name": first,
        "middle_name": if r.chance("middle", 0.2) { json!(*r.pick("middle.name", names::FEMALE)) } else { Value::Null },
        "last_name": last,
        "email": format!("{}.{}@{}", first.to_lowercase(), last.to_lowercase().replace('\'', ""), "staff.example.co.uk"),
        "mobile_phone": if r.chance("mobile", 0.7) { json!(names::mobile(&r, "mobile.no")) } else { Value::Null },
        "role": user_role(w, u),
        "permission_level": level,
        "site_id": site_id(w, site),
        "practice_id": practice_id(w),
        "allowed_sites": allowed,
        "image_url": null,
        "import_id": if r.chance("import", 0.2) { json!(format!("SOE-{}", r.range("import.no", 1000, 9999))) } else { Value::Null },
        "last_login": last_login.map(fmt::timestamp),
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(last_login.unwrap_or(created).max(updated_after(&r, created, w.now))),
    })
}

/// `/v1/practitioners`, with its user and site nested.
pub(crate) fn practitioner(w: &World, p: u64) -> Value {
    let r = w.rng("practitioners", p);
    let site = practitioner_site(w, p);
    let hygienist = is_hygienist(p);
    let user = user(w, p);
    let created = w.setup.spread(p, w.counts.practitioners, &r, "created");
    let contract = super::vocab::contract_id(w, site);
    let uda_target = if hygienist {
        0
    } else {
        r.range("uda", 30, 80) * 100
    };
    // The element shape of `specialisms` is unknown (the catalog takes any JSON): names for
    // some practitioners, objects for others, so a run proves both fit.
    let specialisms = match p % 6 {
        1 => json!(["Orthodontics"]),
        2 => json!([{"id": 2, "name": "Endodontics"}]),
        4 => json!(["Implants", "Periodontics"]),
        5 => json!([{"id": 5, "name": "Implants"}, {"id": 7, "name": "Periodontics"}]),
        _ => json!([]),
    };
    let targets = if hygienist {
        json!([])
    } else {
        json!([{"contract_id": contract, "uda_target": uda_target}])
    };
    json!({
        "id": practitioner_id(p),
        "uuid": fmt::guid_v4(r.bits("uuid.hi"), r.bits("uuid.lo")),
        "active": user["permission_level"] != 0,
        "colour": r.pick("colour", COLOURS),
        "default_contract_id": if hygienist { Value::Null } else { json!(contract) },
        "gdc_number": format!("{}", r.range("gdc", 50_000, 289_999)),
        "nhs_number": if hygienist { Value::Null } else { json!(format!("{}", r.range("performer", 100_000, 999_999))) },
        "site_id": site_id(w, site),
        "uda_target": fmt::decimal(uda_target * 10_000, 4),
        "uoa_target": fmt::decimal(if hygienist { 0 } else { r.range("uoa", 0, 3) * 100 } * 10_000, 4),
        "contract_targets": targets,
        "specialisms": specialisms,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated_after(&r, created, w.now)),
        "user": conform::nested("practitioners", "user", &user),
        "site": conform::nested("practitioners", "site", &self::site(w, site)),
    })
}

/// `/v1/rooms`: the rooms of each site, in calendar order, set up with the practice.
pub(crate) fn room(w: &World, i: u64) -> Value {
    let r = w.rng("rooms", i);
    let site = i % w.counts.sites;
    let n = i / w.counts.sites + 1;
    let name = if n == 3 {
        "Hygiene Room".to_string()
    } else {
        format!("Surgery {n}")
    };
    let created = w.setup.spread(i, w.counts.rooms, &r, "created");
    json!({
        "id": ids::ROOMS + i as i64,
        "name": name,
        "site_id": site_id(w, site),
        "colour": r.pick("colour", COLOURS),
        "calendar_position": n,
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(updated_after(&r, created, w.now)),
        "practice_id": practice_id(w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn dentists_and_hygienists_are_told_apart() {
        let w = World::new(1, 1, 1.0, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
        for i in 0..50 {
            let r = w.rng("t", i);
            assert!(!is_hygienist(dentist(&w, &r, "d")));
            assert!(is_hygienist(hygienist(&w, &r, "h").unwrap()));
        }
        assert_eq!(user(&w, 0)["permission_level"], 4);
        assert_eq!(user(&w, 0)["role"], "Dentist");
    }
}
