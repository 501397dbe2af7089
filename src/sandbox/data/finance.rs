//! Money owed: invoices and their items (payments are in `payments`).
//!
//! Invoices are spread over the last two years; pairs of invoices share four items (so each has
//! one to three and item `k` finds its invoice in O(1)), and the invoice amount is always the
//! sum of its items' `total_price`. Invoices embed their items (`invoice_items[]`), exactly as
//! `/v1/invoice_items` serves them. Items include the quirks the ETL must survive: negative
//! "Discount" lines, imported balances with no practitioner, sundry ids sent as strings.
//! An invoice is `paid` exactly when some payment explains it.

use chrono::Duration;
use serde_json::{Value, json};

use super::organisation::{self, practitioner_id, user_id};
use super::payments::{paid_at, payment_of};
use super::rng::Rng;
use super::timeline::local_date;
use super::{Pairs, World, fmt, ids, patients, plans};
use super::{setup, vocab};

/// The invoice ↔ item pairing.
fn pairs(w: &World) -> Pairs {
    Pairs {
        parents: w.counts.invoices,
        per_pair: 4,
    }
}

/// Number of invoice items.
pub(crate) fn item_count(w: &World) -> u64 {
    pairs(w).children()
}

/// Indices of the items of base invoice `i`.
pub(crate) fn items_of(w: &World, i: u64) -> std::ops::Range<u64> {
    let (first, n) = pairs(w).children_of(w, "invoice_items", i);
    first..first + n
}

/// Id of invoice `i`.
pub(crate) fn invoice_id(i: u64) -> i64 {
    ids::INVOICES + i as i64
}

/// The parts of an invoice every derived record needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InvoiceHead {
    pub created: i64,
    pub patient: u64,
    pub dentist: u64,
}

/// `created_at` of base invoice `i` (strictly increasing in `i`).
pub(crate) fn invoice_created(w: &World, i: u64) -> i64 {
    w.recent
        .spread(i, w.counts.invoices, &w.rng("invoices", i), "created")
}

/// `created_at` (and `updated_at`) of base invoice item `k` (increasing in `k`).
pub(crate) fn item_created(w: &World, k: u64) -> i64 {
    let (i, slot) = pairs(w).parent_of(w, "invoice_items", k);
    invoice_created(w, i) + slot as i64
}

/// Head of base invoice `i`.
pub(crate) fn head(w: &World, i: u64) -> InvoiceHead {
    let r = w.rng("invoices", i);
    let created = invoice_created(w, i);
    let patient = patients::pick_existing(w, &r, "patient", created);
    InvoiceHead {
        created,
        patient,
        dentist: patients::dentist(w, patient),
    }
}

/// One invoice line before it is rendered.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub name: String,
    pub unit: i64,
    pub quantity: i64,
    pub nhs: bool,
    pub practitioner: Option<u64>,
    pub user: u64,
    pub sundry: Option<u64>,
    pub treatment: Option<u64>,
    pub plan: Option<u64>,
}

impl Line {
    /// `unit × quantity` in pence.
    pub(crate) fn total(&self) -> i64 {
        self.unit * self.quantity
    }
}

/// The `n` lines of an invoice for `head`, drawn from `rng_of(slot)`.
pub(crate) fn lines(
    w: &World,
    head: &InvoiceHead,
    n: u64,
    rng_of: impl Fn(u64) -> Rng,
) -> Vec<Line> {
    let plan = patients::payment_plan(w, head.patient);
    let mut out: Vec<Line> = Vec::with_capacity(n as usize);
    for s in 0..n {
        let r = rng_of(s);
        let user = r.below("user", w.counts.users);
        let sum: i64 = out.iter().map(Line::total).sum();
        let line = if n == 1 && r.chance("import", 0.05) {
            let sign = if r.chance("import.credit", 0.3) {
                -1
            } else {
                1
            };
            Line {
                name: r
                    .pick(
                        "import.name",
                        &[
                            "Opening balance",
                            "Imported balance",
                            "Balance brought forward",
                        ],
                    )
                    .to_string(),
                unit: sign * r.range("import.amount", 1, 40) * 500,
                quantity: 1,
                nhs: false,
                practitioner: None,
                user,
                sundry: None,
                treatment: None,
                plan: None,
            }
        } else if s + 1 == n && n > 1 && sum > 0 && r.chance("discount", 0.25) {
            let off = (sum * r.range("discount.pct", 5, 20) / 100 / 100).max(1) * 100;
            Line {
                name: "Discount".into(),
                unit: -off,
                quantity: 1,
                nhs: false,
                practitioner: Some(head.dentist),
                user,
                sundry: None,
                treatment: None,
                plan: None,
            }
        } else if r.chance("sundry", 0.1) {
            let sundry = r.below("sundry.id", w.counts.sundries);
            Line {
                name: setup_sundry_name(w, sundry),
                unit: vocab::sundry_price(sundry),
                quantity: r.range("sundry.qty", 1, 2),
                nhs: false,
                practitioner: Some(head.dentist),
                user,
                sundry: Some(sundry),
                treatment: None,
                plan: None,
            }
        } else {
            let t = r.below("treatment", w.counts.treatments);
            let unit = setup::treatment_price(t, plan);
            let nhs = setup::plan_is_nhs(plan) && unit > 0;
            let linked = r
                .chance("plan.link", 0.6)
                .then(|| plans::first_plan_of(w, head.patient));
            Line {
                name: setup::treatment_name(t),
                unit,
                quantity: 1,
                nhs,
                practitioner: Some(head.dentist),
                user,
                sundry: None,
                treatment: Some(t),
                plan: linked,
            }
        };
        out.push(line);
    }
    out
}

fn setup_sundry_name(w: &World, s: u64) -> String {
    vocab::sundry(w, s)["name"]
        .as_str()
        .unwrap_or("Sundry")
        .to_string()
}

/// The lines of base invoice `i`, with the index of its first item.
pub(crate) fn invoice_lines(w: &World, i: u64, head: &InvoiceHead) -> (u64, Vec<Line>) {
    let (first, n) = pairs(w).children_of(w, "invoice_items", i);
    (
        first,
        lines(w, head, n, |s| w.rng("invoice_items", first + s)),
    )
}

/// `/v1/invoices` record `i`, with its items embedded as `/v1/invoice_items` serves them.
pub(crate) fn invoice(w: &World, i: u64) -> Value {
    let h = head(w, i);
    let (first, lines) = invoice_lines(w, i, &h);
    let paid_on = payment_of(w, i).map(|p| paid_at(w, p));
    let items = lines
        .iter()
        .enumerate()
        .map(|(s, line)| {
            let r = w.rng("invoice_items", first + s as u64);
            render_item(w, &r, invoice_id(i), &h, line, s as u64)
        })
        .collect();
    with_items(
        render_invoice(w, &w.rng("invoices", i), invoice_id(i), &h, &lines, paid_on),
        items,
    )
}

/// `invoice` with its rendered items embedded (list rows of the live API carry them as
/// `invoice_items[]`; also used by `advance`).
pub(crate) fn with_items(mut invoice: Value, items: Vec<Value>) -> Value {
    if let Value::Object(map) = &mut invoice {
        map.insert("invoice_items".into(), Value::Array(items));
    }
    invoice
}

/// An invoice from its head and lines, without its items (see [`with_items`]); `paid_on` is
/// the settling payment's time (also used by `advance`).
pub(crate) fn render_invoice(
    w: &World,
    r: &Rng,
    id: i64,
    h: &InvoiceHead,
    lines: &[Line],
    paid_on: Option<i64>,
) -> Value {
    let amount: i64 = lines.iter().map(Line::total).sum();
    let nhs: i64 = lines.iter().filter(|l| l.nhs).map(Line::total).sum();
    let paid_on = if amount <= 0 {
        Some(h.created)
    } else {
        paid_on
    };
    let dated = local_date(h.created);
    let sent = r
        .chance("sent", 0.6)
        .then(|| (h.created + r.range("sent.after", 60_000, 86_400_000)).min(w.now.max(h.created)));
    let updated = [paid_on, sent]
        .into_iter()
        .flatten()
        .fold(h.created, i64::max);
    json!({
        "id": id,
        "account_id": patients::account_id(h.patient),
        "patient_id": patients::patient_id(h.patient),
        "site_id": organisation::site_id(w, patients::site(w, h.patient)),
        "user_id": user_id(r.below("user", w.counts.users)),
        "amount": fmt::money(amount),
        "amount_outstanding": fmt::money(if paid_on.is_some() { 0 } else { amount }),
        "nhs_amount": if lines.iter().any(|l| l.nhs) { json!(fmt::money(nhs)) } else { Value::Null },
        "dated_on": fmt::date(dated),
        "due_on": fmt::date(dated + Duration::days(*r.pick("terms", &[0, 14, 30]))),
        "paid": paid_on.is_some(),
        "paid_on": paid_on.map(|t| fmt::date(local_date(t))),
        "sent_at": sent.map(fmt::timestamp),
        "reference": format!("INV-{id}"),
        "footnote": if r.chance("footnote", 0.1) { json!("Thank you for visiting the practice.") } else { Value::Null },
        "payment_terms": if r.chance("payment.terms", 0.5) { json!(*r.pick("payment.terms.v", &["Due on receipt", "Payment within 14 days", "Payment within 30 days"])) } else { Value::Null },
        "created_at": fmt::timestamp(h.created),
        "updated_at": fmt::timestamp(updated),
    })
}

/// `invoice_id` of item `k` (non-decreasing in `k`).
pub(crate) fn item_invoice_id(w: &World, k: u64) -> i64 {
    invoice_id(pairs(w).parent_of(w, "invoice_items", k).0)
}

/// `/v1/invoice_items` record `k`.
pub(crate) fn invoice_item(w: &World, k: u64) -> Value {
    let (i, slot) = pairs(w).parent_of(w, "invoice_items", k);
    let h = head(w, i);
    let (_, lines) = invoice_lines(w, i, &h);
    let r = w.rng("invoice_items", k);
    render_item(w, &r, invoice_id(i), &h, &lines[slot as usize], slot)
}

/// One invoice line as an `invoice_items` record (also used by `advance`).
pub(crate) fn render_item(
    w: &World,
    r: &Rng,
    invoice: i64,
    h: &InvoiceHead,
    line: &Line,
    slot: u64,
) -> Value {
    let created = h.created + slot as i64;
    let plan_item = line
        .plan
        .map(|p| plans::item_id(plans::first_item_of(w, p)));
    json!({
        "id": fmt::guid_v7(created, r.bits("id")),
        "invoice_id": invoice,
        "name": line.name,
        "item_price": fmt::money(line.unit),
        "quantity": line.quantity,
        "total_price": fmt::money(line.total()),
        "nhs_charge": line.nhs,
        "practitioner_id": line.practitioner.map(practitioner_id),
        "user_id": user_id(line.user),
        "sundry_id": line.sundry.map(|s| (ids::SUNDRIES + s as i64).to_string()),
        "treatment_id": line.treatment.map(|t| ids::TREATMENTS + t as i64),
        "treatment_plan_id": line.plan.map(plans::plan_id),
        "treatment_plan_item_id": plan_item.filter(|_| r.chance("plan.item", 0.5)),
        "created_at": fmt::timestamp(created),
        "updated_at": fmt::timestamp(created),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn world() -> World {
        World::new(1, 1, 0.2, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap())
    }

    fn pence(v: &Value) -> i64 {
        (v.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64
    }

    #[test]
    fn invoice_amount_is_the_sum_of_its_items() {
        let w = world();
        let mut sums = vec![0i64; w.counts.invoices as usize];
        for k in 0..item_count(&w) {
            let item = invoice_item(&w, k);
            let i = (item["invoice_id"].as_i64().unwrap() - ids::INVOICES) as usize;
            sums[i] += pence(&item["total_price"]);
        }
        for (i, sum) in sums.iter().enumerate() {
            assert_eq!(pence(&invoice(&w, i as u64)["amount"]), *sum, "invoice {i}");
        }
    }

    #[test]
    fn paid_invoices_have_a_payment() {
        let w = world();
        let mut explained = std::collections::BTreeSet::new();
        for p in 0..w.counts.payments {
            for e in super::super::payments::payment(&w, p)["explanations"]
                .as_array()
                .unwrap()
            {
                explained.insert(e["invoice_id"].as_i64().unwrap());
            }
        }
        for i in 0..w.counts.invoices {
            let inv = invoice(&w, i);
            let positive = pence(&inv["amount"]) > 0;
            if positive {
                assert_eq!(
                    inv["paid"].as_bool().unwrap(),
                    explained.contains(&invoice_id(i)),
                    "invoice {i}"
                );
            }
        }
    }
}
