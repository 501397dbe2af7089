//! Where generated records sit in time.
//!
//! Records are spread over the practice's *working* time (weekdays, 08:00–18:00 Europe/London),
//! and the position of record `i` of `n` is a monotone function of `i`. Windowed resources
//! (appointments by `start_time`) can therefore find the index range of a window by binary
//! search, and creation order equals id order, as in a real database.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Europe::London;

use super::rng::Rng;

/// One day in milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// Length of a working day (08:00–18:00) in milliseconds.
const WORK_DAY_MS: i64 = 10 * 3_600_000;
/// Opening time, minutes after local midnight.
const OPENS_MIN: u32 = 8 * 60;

/// UTC milliseconds of local (Europe/London) `date` at `minutes` after midnight. Times inside
/// the spring-forward gap move one hour later, as a wall clock would.
pub(crate) fn local_ms(date: NaiveDate, minutes: u32) -> i64 {
    let naive =
        date.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::minutes(i64::from(minutes));
    match London.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.timestamp_millis(),
        chrono::LocalResult::Ambiguous(early, _) => early.timestamp_millis(),
        chrono::LocalResult::None => London
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|| naive.and_utc().timestamp_millis()),
    }
}

/// The local (Europe/London) date of a UTC instant.
pub(crate) fn local_date(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&London)
        .date_naive()
}

/// Local minutes after midnight of a UTC instant.
#[cfg(test)]
pub(crate) fn local_minutes(ms: i64) -> u32 {
    let local = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&London);
    chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local)
}

/// The working days (Monday–Friday) between two dates, inclusive, as a continuous timeline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkCalendar {
    /// The Monday on or before the first day.
    anchor: NaiveDate,
    /// Weekdays of the anchor week that fall before the first day.
    skipped: i64,
    /// Number of working days in the range.
    days: i64,
}

impl WorkCalendar {
    /// The working days in `from..=to` (at least one day, so every index maps somewhere).
    pub(crate) fn new(from: NaiveDate, to: NaiveDate) -> WorkCalendar {
        let anchor = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
        let skipped = weekday_ordinal(anchor, from);
        let days = (weekday_ordinal(anchor, to + Duration::days(1)) - skipped).max(1);
        WorkCalendar {
            anchor,
            skipped,
            days,
        }
    }

    /// The `k`-th working day (0-based).
    pub(crate) fn day(&self, k: i64) -> NaiveDate {
        let g = self.skipped + k;
        self.anchor + Duration::days(g.div_euclid(5) * 7 + g.rem_euclid(5))
    }

    /// Number of working days.
    #[cfg(test)]
    pub(crate) fn len(&self) -> i64 {
        self.days
    }

    /// The instant of working-time offset `pos` (milliseconds into the working timeline).
    pub(crate) fn instant(&self, pos: i64) -> i64 {
        let day = (pos / WORK_DAY_MS).clamp(0, self.days - 1);
        let within = pos - day * WORK_DAY_MS;
        local_ms(self.day(day), OPENS_MIN) + within
    }

    /// The instant of record `i` of `n` spread evenly over the calendar: strictly increasing in
    /// `i` while slots are at least a millisecond wide. `jitter` picks a point inside the slot.
    pub(crate) fn spread(&self, i: u64, n: u64, rng: &Rng, jitter: &str) -> i64 {
        let total = self.days as u128 * WORK_DAY_MS as u128;
        let n = u128::from(n.max(1));
        let start = u128::from(i) * total / n;
        let width = ((u128::from(i) + 1) * total / n - start).max(1);
        let pos = start + u128::from(rng.below(jitter, width as u64));
        self.instant(pos as i64)
    }

    /// The instant of record `i` of `n`, rounded down to `minutes` (appointment slots);
    /// non-decreasing in `i`.
    pub(crate) fn slot(&self, i: u64, n: u64, minutes: i64) -> i64 {
        let total = self.days as u128 * WORK_DAY_MS as u128;
        let pos = (u128::from(i) * total / u128::from(n.max(1))) as i64;
        let step = minutes * 60_000;
        let day = pos / WORK_DAY_MS;
        let within = (pos - day * WORK_DAY_MS) / step * step;
        self.instant(day * WORK_DAY_MS + within)
    }
}

/// Number of weekdays in `anchor..day` where `anchor` is a Monday.
fn weekday_ordinal(anchor: NaiveDate, day: NaiveDate) -> i64 {
    let d = (day - anchor).num_days();
    d.div_euclid(7) * 5 + d.rem_euclid(7).min(5)
}

/// An `updated_at` for a record created at `created`, never before it and never after `now`:
/// most records were not touched after creation, some were edited weeks or years later (an
/// edit that would fall after `now` is redrawn before it, so no timestamps pile up at `now`).
pub(crate) fn updated_after(rng: &Rng, created: i64, now: i64) -> i64 {
    let delta = match rng.below("updated.kind", 10) {
        0..=5 => rng.range("updated.ms", 0, 900),
        6..=8 => rng.range("updated.ms", 60_000, 90 * DAY_MS),
        _ => rng.range("updated.ms", DAY_MS, 730 * DAY_MS),
    };
    let room = (now - 1_000 - created).max(0);
    created
        + if delta <= room {
            delta
        } else {
            rng.range("updated.fit", 0, room)
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::data::fmt;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn calendar_skips_weekends() {
        // 2026-06-13 is a Saturday.
        let cal = WorkCalendar::new(d(2026, 6, 13), d(2026, 6, 21));
        assert_eq!(cal.len(), 5);
        assert_eq!(cal.day(0), d(2026, 6, 15));
        assert_eq!(cal.day(4), d(2026, 6, 19));
        let cal = WorkCalendar::new(d(2026, 6, 17), d(2026, 6, 17));
        assert_eq!(cal.len(), 1);
        assert_eq!(cal.day(0), d(2026, 6, 17));
    }

    #[test]
    fn slots_are_monotone_and_inside_opening_hours() {
        let cal = WorkCalendar::new(d(2025, 1, 1), d(2026, 12, 31));
        let mut last = i64::MIN;
        for i in 0..5_000 {
            let t = cal.slot(i, 5_000, 5);
            assert!(t >= last);
            last = t;
            let m = local_minutes(t);
            assert!((8 * 60..18 * 60).contains(&m), "{}", fmt::timestamp(t));
        }
    }

    #[test]
    fn spread_is_strictly_increasing() {
        let cal = WorkCalendar::new(d(2024, 6, 1), d(2026, 6, 14));
        let mut last = i64::MIN;
        for i in 0..10_000 {
            let t = cal.spread(i, 10_000, &Rng::record(1, 1, "x", i), "j");
            assert!(t > last);
            last = t;
        }
    }

    #[test]
    fn local_time_handles_summer_time() {
        assert_eq!(
            fmt::timestamp(local_ms(d(2026, 7, 1), 9 * 60)),
            "2026-07-01T09:00:00.000+01:00"
        );
        assert_eq!(
            fmt::timestamp(local_ms(d(2026, 1, 5), 9 * 60)),
            "2026-01-05T09:00:00.000+00:00"
        );
    }
}
