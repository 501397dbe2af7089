//! Payments: who paid which invoice, when, and how.
//!
//! Payment `p` settles invoice `p · invoices / payments` (refunds of credit invoices are
//! negative payments), and sometimes the next invoice too when that one has no payment of its
//! own: its second explanation. An invoice is `paid` exactly when some payment explains it
//! ([`payment_of`]), and is paid on that payment's date ([`paid_at`]).

use chrono::Duration;
use serde_json::{Value, json};

use super::finance::{InvoiceHead, Line, head, invoice_id, invoice_lines};
use super::organisation::{self, practitioner_id, user_id};
use super::rng::Rng;
use super::timeline::{local_date, local_ms, updated_after};
use super::{World, fmt, ids, patients};

/// Payments whose first explanation is invoice `i`.
fn payers(w: &World, i: u64) -> std::ops::Range<u64> {
    let (inv, pay) = (w.counts.invoices, w.counts.payments);
    (i * pay).div_ceil(inv)..((i + 1) * pay).div_ceil(inv)
}

/// The invoice a payment settles first.
fn settled_by(w: &World, p: u64) -> u64 {
    p * w.counts.invoices / w.counts.payments
}

/// Whether payment `p` also settles the next invoice (which has no payment of its own).
fn settles_next(w: &World, p: u64) -> bool {
    let a = settled_by(w, p);
    a + 1 < w.counts.invoices
        && payers(w, a + 1).is_empty()
        && payers(w, a).end == p + 1
        && w.rng("payments", p).chance("second", 0.5)
}

/// The payment that explains invoice `i`, if any.
pub(crate) fn payment_of(w: &World, i: u64) -> Option<u64> {
    let own = payers(w, i);
    if !own.is_empty() {
        return Some(own.start);
    }
    let prev = if i > 0 { payers(w, i - 1) } else { 0..0 };
    (!prev.is_empty() && settles_next(w, prev.end - 1)).then(|| prev.end - 1)
}

/// The date payment `p` was taken (UTC ms), from the invoice it settles.
pub(crate) fn paid_at(w: &World, p: u64) -> i64 {
    let r = w.rng("payments", p);
    let invoiced = local_date(head(w, settled_by(w, p)).created);
    let latest = w.today - Duration::days(1);
    let day = (invoiced + Duration::days(r.range("lag", 0, 10)))
        .min(latest)
        .max(invoiced);
    local_ms(day, 9 * 60 + r.range("minute", 0, 540) as u32)
}

/// `/v1/payments` record `p`.
pub(crate) fn payment(w: &World, p: u64) -> Value {
    let r = w.rng("payments", p);
    let a = settled_by(w, p);
    let mut settled = vec![a];
    if settles_next(w, p) {
        settled.push(a + 1);
    }
    let invoices: Vec<(i64, i64)> = settled
        .iter()
        .map(|&i| {
            let h = head(w, i);
            let (_, lines) = invoice_lines(w, i, &h);
            (invoice_id(i), lines.iter().map(Line::total).sum())
        })
        .collect();
    render_payment(
        w,
        &r,
        ids::PAYMENTS + p as i64,
        ids::EXPLANATIONS + 2 * p as i64,
        &head(w, a),
        &invoices,
        paid_at(w, p),
    )
}

/// A payment for `head`'s patient explaining `invoices` (`(id, amount)`), taken at `taken`
/// (also used by `advance`).
pub(crate) fn render_payment(
    w: &World,
    r: &Rng,
    id: i64,
    first_explanation: i64,
    h: &InvoiceHead,
    invoices: &[(i64, i64)],
    taken: i64,
) -> Value {
    let explained: i64 = invoices.iter().map(|(_, a)| a).sum();
    let extra = if explained > 0 && r.chance("overpaid", 0.05) {
        r.range("extra", 1, 4) * 500
    } else {
        0
    };
    // Free Title-Case text on the live API, not an enumeration.
    let method = *r.weighted(
        "method",
        &[
            ("Debit Card", 35),
            ("Credit Card", 25),
            ("Cash", 10),
            ("BACS", 10),
            ("Direct Debit", 8),
            ("Cheque", 2),
            ("Finance", 2),
        ],
    );
    // The live vocabulary is `paid`, `partially_explained` and `unexplained`; every payment
    // here settles an invoice, so none is wholly unexplained.
    let status = if extra == 0 {
        "paid"
    } else {
        "partially_explained"
    };
    let reference = format!("PAY-{id}");
    let explanations: Vec<Value> = invoices
        .iter()
        .enumerate()
        .map(|(e, (invoice, amount))| {
            json!({
                "id": first_explanation + e as i64,
                "amount": fmt::money(*amount),
                "comments": if r.chance("comment", 0.1) { json!("Paid at reception") } else { Value::Null },
                "invoice_id": invoice,
                "invoice_reference": format!("INV-{invoice}"),
                "payment_reference": reference,
                "user_id": user_id(r.below("user", w.counts.users)),
            })
        })
        .collect();
    json!({
        "id": id,
        "account_id": patients::account_id(h.patient),
        "patient_id": patients::patient_id(h.patient),
        "site_id": organisation::site_id(w, patients::site(w, h.patient)),
        "user_id": user_id(r.below("user", w.counts.users)),
        "practitioner_id": practitioner_id(h.dentist),
        "payment_plan_id": ids::PAYMENT_PLANS + patients::payment_plan(w, h.patient) as i64,
        "amount": fmt::money(explained + extra),
        "amount_unexplained": fmt::money(extra),
        "dated_on": fmt::date(local_date(taken)),
        "method": method,
        "reference": reference,
        "status": status,
        "transaction_number": if method.ends_with("Card") { json!(format!("TXN{:010}", r.below("txn", 10_000_000_000))) } else { Value::Null },
        "deleted": r.chance("deleted", 0.01),
        "fully_explained": extra == 0,
        "created_at": fmt::timestamp(taken),
        "updated_at": fmt::timestamp(updated_after(r, taken, w.now.max(taken + 1_000))),
        "explanations": explanations,
    })
}
