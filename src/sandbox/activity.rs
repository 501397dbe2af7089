//! The events of a simulated day, each a small change to a practice's overlay: a patient
//! registers, an appointment is booked, the day's patients are seen (and invoiced), a record is
//! edited, settled, completed or deleted. `advance` decides how many of each happen and when.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::data::rng::Rng;
use super::data::timeline::{DAY_MS, local_ms};
use super::data::{World, appointments, finance, fmt, ids, patients, payments};
use super::store::Overlay;

/// Most appointments of one day a practice settles (bounds memory at huge scales).
const MAX_SEEN_PER_DAY: usize = 400;

/// The current raw record at `index` of `table` (overlay first).
pub(super) fn current(ov: &Overlay, w: &World, table: &'static str, index: u64) -> Option<Value> {
    let t = super::data::table(table)?;
    let changes = ov.tables.get(table);
    if changes.is_some_and(|c| c.deleted.contains(&index)) {
        return None;
    }
    if let Some(v) = changes.and_then(|c| c.updated.get(&index)) {
        return Some(v.clone());
    }
    let base = (t.len)(w);
    if index < base {
        Some((t.record)(w, index))
    } else {
        changes.and_then(|c| c.appended.get((index - base) as usize).cloned())
    }
}

/// Number of indices (base + appended) of `table`.
pub(super) fn index_len(ov: &Overlay, w: &World, table: &'static str) -> u64 {
    let base = super::data::table(table).map_or(0, |t| (t.len)(w));
    base + ov.tables.get(table).map_or(0, |c| c.appended.len() as u64)
}

/// `w` as seen at instant `t` (builders clamp their stamps to `now`).
pub(super) fn at_time(w: &World, t: i64) -> World {
    World {
        now: t,
        ..w.clone()
    }
}

pub(super) fn new_patient(ov: &mut Overlay, w: &World, t: i64) {
    let j = index_len(ov, w, "patients");
    let wt = at_time(w, t);
    ov.tables
        .entry("patients")
        .or_default()
        .appended
        .push(patients::build(&wt, j, t));
    ov.tables
        .entry("patient_stats")
        .or_default()
        .appended
        .push(patients::build_stat(&wt, j, t));
    ov.tables
        .entry("accounts")
        .or_default()
        .appended
        .push(patients::account(&wt, j));
}

pub(super) fn book(ov: &mut Overlay, w: &World, date: NaiveDate, r: &Rng, t: i64) {
    let i = index_len(ov, w, "appointments");
    let patient = r.below("patient", index_len(ov, w, "patients"));
    let mut day = date + Duration::days(r.range("ahead", 1, 60));
    while chrono::Datelike::weekday(&day).number_from_monday() > 5 {
        day += Duration::days(1);
    }
    let start = local_ms(day, (8 * 60 + r.range("slot", 0, 107) * 5) as u32);
    let p = r.below("practitioner", w.counts.practitioners);
    let record = appointments::build(&at_time(w, t), r, i, start, t, p, Some(patient));
    ov.tables
        .entry("appointments")
        .or_default()
        .appended
        .push(record);
}

/// Settles the day's booked appointments, and invoices some of them.
pub(super) fn see_patients(ov: &mut Overlay, w: &World, date: NaiveDate, rng: &Rng) {
    let (from, to) = (local_ms(date, 0), local_ms(date, 0) + DAY_MS);
    let key = appointments::start_key;
    let first = partition(w.counts.appointments, |i| key(w, i) < from);
    let last = partition(w.counts.appointments, |i| key(w, i) < to);
    let base = w.counts.appointments;
    let appended = ov
        .tables
        .get("appointments")
        .map_or(0, |c| c.appended.len() as u64);
    let candidates: Vec<u64> = (first..last).chain(base..base + appended).collect();
    let mut seen = 0;
    for i in candidates {
        let Some(mut a) = current(ov, w, "appointments", i) else {
            continue;
        };
        let start = a["start_time"]
            .as_str()
            .and_then(super::query::instant_of)
            .unwrap_or(0);
        if !(from..to).contains(&start)
            || !matches!(
                a["state"].as_str(),
                Some("Pending" | "Confirmed" | "Arrived" | "In surgery")
            )
            || a["patient_id"].is_null()
        {
            continue;
        }
        let r = rng.child("seen", i);
        let finish = a["finish_time"]
            .as_str()
            .and_then(super::query::instant_of)
            .unwrap_or(start);
        let arrived = matches!(a["state"].as_str(), Some("Arrived" | "In surgery"));
        let state = if arrived {
            "Completed"
        } else {
            *r.weighted(
                "outcome",
                &[("Completed", 88), ("Did not attend", 6), ("Cancelled", 6)],
            )
        };
        let stamp = |t: i64| json!(fmt::timestamp(t));
        let updated = match state {
            "Completed" => {
                if !arrived {
                    a["arrived_at"] = stamp(start - 300_000);
                }
                if a["in_surgery_at"].is_null() {
                    a["in_surgery_at"] = stamp(start + 60_000);
                }
                a["completed_at"] = stamp(finish);
                finish
            }
            "Did not attend" => {
                a["did_not_attend_at"] = stamp(start + 900_000);
                start + 900_000
            }
            _ => {
                a["cancelled_at"] = stamp(start - 3_600_000);
                a["appointment_cancellation_reason_id"] = json!(ids::CANCELLATION_REASONS);
                start - 3_600_000
            }
        };
        a["state"] = json!(state);
        a["updated_at"] = stamp(updated);
        let patient = a["patient_id"].as_i64().unwrap_or(ids::PATIENTS) - ids::PATIENTS;
        let practitioner =
            a["practitioner_id"].as_i64().unwrap_or(ids::PRACTITIONERS) - ids::PRACTITIONERS;
        ov.tables
            .entry("appointments")
            .or_default()
            .updated
            .insert(i, a);
        if state == "Completed" {
            touch_stats(ov, w, patient as u64, date, finish + 120_000);
            if r.chance("invoice", 0.6) {
                invoice(
                    ov,
                    w,
                    &r,
                    patient as u64,
                    practitioner as u64,
                    finish + 120_000,
                );
            }
        }
        seen += 1;
        if seen >= MAX_SEEN_PER_DAY {
            break;
        }
    }
}

pub(super) fn partition(n: u64, below: impl Fn(u64) -> bool) -> u64 {
    let (mut a, mut b) = (0, n);
    while a < b {
        let mid = a + (b - a) / 2;
        if below(mid) { a = mid + 1 } else { b = mid }
    }
    a
}

pub(super) fn touch_stats(ov: &mut Overlay, w: &World, j: u64, date: NaiveDate, t: i64) {
    let Some(mut stats) = current(ov, w, "patient_stats", j) else {
        return;
    };
    stats["last_appointment_date"] = json!(fmt::date(date));
    stats["updated_at"] = json!(fmt::timestamp(t));
    ov.tables
        .entry("patient_stats")
        .or_default()
        .updated
        .insert(j, stats);
}

/// A new invoice (with items) for patient `j` seen by practitioner `p`, usually paid at once.
pub(super) fn invoice(ov: &mut Overlay, w: &World, r: &Rng, j: u64, p: u64, t: i64) {
    let wt = at_time(w, t + 600_000);
    let i = index_len(ov, w, "invoices");
    let id = ids::INVOICES + i as i64;
    let head = finance::InvoiceHead {
        created: t,
        patient: j,
        dentist: p,
    };
    let n = r.range("lines", 1, 3) as u64;
    let lines = finance::lines(w, &head, n, |s| r.child("line", s));
    let amount: i64 = lines.iter().map(finance::Line::total).sum();
    let paid = r.chance("paid", 0.8).then_some(t + 300_000);
    ov.tables
        .entry("invoices")
        .or_default()
        .appended
        .push(finance::render_invoice(
            &wt,
            &r.child("invoice", 0),
            id,
            &head,
            &lines,
            paid,
        ));
    for (s, line) in lines.iter().enumerate() {
        let item_rng = r.child("item", s as u64);
        let mut item = finance::render_item(&wt, &item_rng, id, &head, line, s as u64);
        let items = ov.tables.entry("invoice_items").or_default();
        // Item ids are time-ordered GUIDs; keep them increasing in append order so that id
        // order stays creation order (invoices of one day are not written in time order).
        let after = items
            .appended
            .last()
            .and_then(|last| guid_ms(&last["id"]))
            .unwrap_or(i64::MIN);
        let ms = (t + s as i64).max(after + 1);
        item["id"] = json!(fmt::guid_v7(ms, item_rng.bits("id")));
        items.appended.push(item);
    }
    if let Some(taken) = paid {
        let k = index_len(ov, w, "payments");
        let payment = payments::render_payment(
            &wt,
            &r.child("payment", 0),
            ids::PAYMENTS + k as i64,
            ids::EXPLANATIONS + 2 * k as i64,
            &head,
            &[(id, amount)],
            taken,
        );
        ov.tables
            .entry("payments")
            .or_default()
            .appended
            .push(payment);
    }
}

/// The millisecond timestamp leading a time-ordered GUID.
pub(super) fn guid_ms(id: &Value) -> Option<i64> {
    let hex: String = id
        .as_str()?
        .chars()
        .filter(|c| *c != '-')
        .take(12)
        .collect();
    i64::from_str_radix(&hex, 16).ok()
}

pub(super) fn edit_patient(ov: &mut Overlay, w: &World, r: &Rng, t: i64) {
    let j = r.below("patient", index_len(ov, w, "patients"));
    let Some(mut p) = current(ov, w, "patients", j) else {
        return;
    };
    match r.below("what", 4) {
        0 => p["mobile_phone"] = json!(super::data::names::mobile(r, "mobile")),
        1 => {
            p["email_address"] = json!(format!(
                "{}.{}{}@example.com",
                p["first_name"].as_str().unwrap_or("x").to_lowercase(),
                p["last_name"]
                    .as_str()
                    .unwrap_or("y")
                    .to_lowercase()
                    .replace('\'', ""),
                r.below("n", 100)
            ))
        }
        2 => p["marketing"] = json!(!p["marketing"].as_bool().unwrap_or(false)),
        _ => {
            p["address_line_1"] = json!(format!(
                "{} {}",
                r.range("no", 1, 180),
                r.pick("street", super::data::names::STREETS)
            ))
        }
    }
    p["updated_at"] = json!(fmt::timestamp(t));
    ov.tables
        .entry("patients")
        .or_default()
        .updated
        .insert(j, p);
}

pub(super) fn settle_invoice(ov: &mut Overlay, w: &World, r: &Rng, t: i64) {
    let i = r.below("invoice", w.counts.invoices);
    let Some(mut inv) = current(ov, w, "invoices", i) else {
        return;
    };
    if inv["paid"] == json!(true) {
        return;
    }
    inv["paid"] = json!(true);
    inv["amount_outstanding"] = json!(fmt::money(0));
    inv["paid_on"] = json!(fmt::date(super::data::timeline::local_date(t)));
    inv["updated_at"] = json!(fmt::timestamp(t));
    ov.tables
        .entry("invoices")
        .or_default()
        .updated
        .insert(i, inv);
}

pub(super) fn complete_plan_item(ov: &mut Overlay, w: &World, r: &Rng, t: i64) {
    let x = r.below("item", index_len(ov, w, "treatment_plan_items"));
    let Some(mut item) = current(ov, w, "treatment_plan_items", x) else {
        return;
    };
    if item["completed"] == json!(true) {
        return;
    }
    item["completed"] = json!(true);
    item["completed_at"] = json!(fmt::timestamp(t));
    item["updated_at"] = json!(fmt::timestamp(t));
    ov.tables
        .entry("treatment_plan_items")
        .or_default()
        .updated
        .insert(x, item);
}

/// Deletes one live row of `table` (for appointments: one still to come after `after`).
pub(super) fn delete(
    ov: &mut Overlay,
    w: &World,
    table: &'static str,
    r: &Rng,
    after: Option<NaiveDate>,
) -> Option<u64> {
    let n = index_len(ov, w, table);
    let lo = match (table, after) {
        ("appointments", Some(date)) => partition(w.counts.appointments, |i| {
            appointments::start_key(w, i) < local_ms(date, 0) + 2 * DAY_MS
        }),
        _ => 0,
    };
    if lo >= n {
        return None;
    }
    for attempt in 0..20 {
        let i = lo + r.below(&format!("pick{attempt}"), n - lo);
        if current(ov, w, table, i).is_some() {
            ov.tables.entry(table).or_default().deleted.insert(i);
            return Some(i);
        }
    }
    None
}

/// Deletes `count` live rows of `table` (fewer if it has fewer): `clustered`, a run of
/// consecutive rows (in id order) from a random one; otherwise rows picked at random across
/// the table. Patients take their `patient_stats` and `accounts` rows with them, as in
/// `advance`. Returns the indices deleted, ascending.
pub(super) fn delete_many(
    ov: &mut Overlay,
    w: &World,
    table: &'static str,
    r: &Rng,
    count: u64,
    clustered: bool,
) -> Vec<u64> {
    let n = index_len(ov, w, table);
    let gone = ov
        .tables
        .get(table)
        .map(|c| c.deleted.clone())
        .unwrap_or_default();
    let live = |i: u64| i < n && !gone.contains(&i);
    let mut picked: Vec<u64> = Vec::new();
    if n > 0 && clustered {
        let start = r.below("start", n);
        let up = (start..n).filter(|&i| live(i));
        let down = (0..start).rev().filter(|&i| live(i));
        picked = up.chain(down).take(count as usize).collect();
    } else if n > 0 {
        // Random draws, then (when the table is nearly gone) a sweep for the rest.
        let mut attempt = 0u64;
        let mut chosen = std::collections::BTreeSet::new();
        while (chosen.len() as u64) < count && attempt < count.saturating_mul(20) + 100 {
            let i = r.below(&format!("pick{attempt}"), n);
            attempt += 1;
            if live(i) {
                chosen.insert(i);
            }
        }
        for i in 0..n {
            if chosen.len() as u64 >= count {
                break;
            }
            if live(i) {
                chosen.insert(i);
            }
        }
        picked = chosen.into_iter().collect();
    }
    picked.sort_unstable();
    let companions: &[&'static str] = if table == "patients" {
        &["patient_stats", "accounts"]
    } else {
        &[]
    };
    for &i in &picked {
        ov.tables.entry(table).or_default().deleted.insert(i);
        for &other in companions {
            ov.tables.entry(other).or_default().deleted.insert(i);
        }
    }
    picked
}
