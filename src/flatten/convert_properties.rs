//! Property tests of the hand-written fast paths against references, over generated inputs with
//! fixed seeds: the timestamp reader against chrono's RFC 3339 parser, and the exact decimal
//! parser against a digit-string reference (no float anywhere).

use chrono::DateTime;

use super::super::decimal;
use super::common_timestamp;
use crate::flatten::invalid::Invalid;

const CASES: usize = 5_000;

fn timestamp_text(rng: &mut fastrand::Rng) -> String {
    let mut t = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        rng.i32(1..10_000),
        rng.u32(0..14),
        rng.u32(0..33),
        rng.u32(0..25),
        rng.u32(0..61),
        rng.u32(0..61)
    );
    let digits = rng.usize(0..11);
    if digits > 0 {
        t.push('.');
        (0..digits).for_each(|_| t.push(char::from(b'0' + rng.u8(0..10))));
    }
    match rng.u8(0..5) {
        0 => t.push('Z'),
        1 => t.push('z'),
        _ => {
            let sign = if rng.bool() { '+' } else { '-' };
            t.push_str(&format!(
                "{sign}{:02}:{:02}",
                rng.u32(0..25),
                *rng.choice(&[0, 30, 45, 60]).unwrap()
            ));
        }
    }
    if rng.u8(0..20) == 0 {
        // Now and then a byte out of place.
        let at = rng.usize(0..t.len());
        t.replace_range(at..at + 1, rng.choice(&["x", " ", ":", "-", "9"]).unwrap());
    }
    t
}

#[test]
fn the_timestamp_fast_path_agrees_with_chrono() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut fast = 0;
    for _ in 0..CASES {
        let text = timestamp_text(&mut rng);
        let Some(ours) = common_timestamp(text.as_bytes()) else {
            continue; // left to chrono itself
        };
        fast += 1;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) if t.timestamp_subsec_nanos() % 1_000 == 0 => {
                assert_eq!(ours, Ok(t.timestamp_micros()), "{text}");
            }
            Ok(_) => assert_eq!(ours, Err(Invalid::SubMicrosecond), "{text}"),
            Err(e) => panic!("{text}: we read {ours:?}, chrono refuses it ({e})"),
        }
    }
    assert!(fast > CASES / 3, "the fast path was tried: {fast}");
}

/// The exact value of `digits × 10^exponent` scaled by `10^scale`, by moving the decimal point
/// in the digit string; `None` when it has digits past the scale or more than 18 digits.
fn reference(digits: &str, exponent: i64, scale: u32) -> Option<i128> {
    let shift = exponent + i64::from(scale);
    let mut kept = digits.to_string();
    if shift >= 0 {
        kept.push_str(&"0".repeat(shift as usize));
    } else {
        let cut = kept.len().saturating_sub((-shift) as usize);
        if kept[cut..].bytes().any(|b| b != b'0') {
            return None;
        }
        kept.truncate(cut);
    }
    let significant = kept.trim_start_matches('0');
    if significant.len() > 18 {
        return None;
    }
    Some(significant.parse::<i128>().unwrap_or(0))
}

#[test]
fn decimals_parse_exactly_as_the_digit_reference() {
    let mut rng = fastrand::Rng::with_seed(9);
    for _ in 0..CASES {
        let int: String = (0..rng.usize(0..22))
            .map(|_| char::from(b'0' + rng.u8(0..10)))
            .collect();
        let frac: String = (0..rng.usize(0..8))
            .map(|_| char::from(b'0' + rng.u8(0..10)))
            .collect();
        let exponent = if rng.bool() { rng.i64(-6..7) } else { 0 };
        let negative = rng.bool();
        let scale = *rng.choice(&[2u32, 4]).unwrap();
        let mut text = format!("{}{int}", if negative { "-" } else { "" });
        if !frac.is_empty() || rng.bool() {
            text.push('.');
            text.push_str(&frac);
        }
        if exponent != 0 {
            text.push_str(&format!("e{exponent}"));
        }
        let ours = decimal::parse(&text, scale);
        if int.is_empty() && frac.is_empty() {
            assert!(ours.is_err(), "{text}: no digits");
            continue;
        }
        let digits = format!("{int}{frac}");
        let want = reference(&digits, exponent - frac.len() as i64, scale)
            .map(|v| if negative { -v } else { v });
        match want {
            Some(v) => assert_eq!(ours, Ok(v), "{text} at scale {scale}"),
            None => assert!(ours.is_err(), "{text} at scale {scale}: {ours:?}"),
        }
    }
}
