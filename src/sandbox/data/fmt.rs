//! How Dentally spells values on the wire.
//!
//! * Money is a Rails `BigDecimal#to_s` string: `"-76.0"`, `"0.0"`, `"12.5"`, `"12.34"`. Never a
//!   fixed two decimals, never a JSON number.
//! * Datetimes carry milliseconds and the practice's offset at that instant: `+01:00` in British
//!   Summer Time, `+00:00` in winter (`2026-07-04T20:35:55.599+01:00`).
//! * Dates are `YYYY-MM-DD`.
//! * GUIDs are lowercase hyphenated; generated ones are either random-looking (v4) or
//!   time-ordered (v7), the latter so that "id order" equals creation order.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;

/// Money from pence, in BigDecimal style (`-7600` → `"-76.0"`, `1234` → `"12.34"`).
pub(crate) fn money(pence: i64) -> String {
    decimal(pence, 2)
}

/// A fixed-point value with `scale` decimals, trailing zeros trimmed but at least one kept
/// (`decimal(12_000, 4)` → `"1.2"`, `decimal(30_000, 4)` → `"3.0"`).
pub(crate) fn decimal(value: i64, scale: u32) -> String {
    let unit = 10i64.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let whole = abs / unit as u64;
    let mut frac = format!("{:0width$}", abs % unit as u64, width = scale as usize);
    while frac.len() > 1 && frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() {
        frac.push('0');
    }
    format!("{sign}{whole}.{frac}")
}

/// A random-looking (version 4) GUID from 128 bits.
pub(crate) fn guid_v4(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    hex_guid(hi, lo)
}

/// A time-ordered (version 7) GUID: the creation instant in milliseconds leads, so GUIDs of
/// records created later sort later.
pub(crate) fn guid_v7(ms: i64, bits: u64) -> String {
    let ms = (ms.max(0) as u64) & 0xFFFF_FFFF_FFFF;
    let hi = (ms << 16) | 0x7000 | (bits >> 52);
    let lo = (bits & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    hex_guid(hi, lo)
}

fn hex_guid(hi: u64, lo: u64) -> String {
    let h = format!("{hi:016x}{lo:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A UTC instant (milliseconds since the epoch) as Dentally prints it, in Europe/London.
pub(crate) fn timestamp(ms: i64) -> String {
    let utc: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    utc.with_timezone(&London)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// A date as `YYYY-MM-DD`.
pub(crate) fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_bigdecimal_style() {
        assert_eq!(money(-7600), "-76.0");
        assert_eq!(money(0), "0.0");
        assert_eq!(money(1250), "12.5");
        assert_eq!(money(1234), "12.34");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(decimal(12_000, 4), "1.2");
        assert_eq!(decimal(30_000, 4), "3.0");
    }

    #[test]
    fn timestamps_carry_the_london_offset_and_millis() {
        // 2026-07-04 19:35:55.599 UTC is 20:35 BST.
        let summer = Utc.with_ymd_and_hms(2026, 7, 4, 19, 35, 55).unwrap();
        let ms = summer.timestamp_millis() + 599;
        assert_eq!(timestamp(ms), "2026-07-04T20:35:55.599+01:00");
        let winter = Utc.with_ymd_and_hms(2026, 1, 4, 9, 0, 0).unwrap();
        assert_eq!(
            timestamp(winter.timestamp_millis()),
            "2026-01-04T09:00:00.000+00:00"
        );
    }

    #[test]
    fn guids_are_well_formed_and_v7_sorts_by_time() {
        let g = guid_v4(u64::MAX, 0);
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        let a = guid_v7(1_700_000_000_000, u64::MAX);
        let b = guid_v7(1_700_000_000_001, 0);
        assert!(a < b);
        assert_eq!(&a[14..15], "7");
    }
}
