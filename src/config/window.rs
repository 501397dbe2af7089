//! Date windows for windowed resources (appointments, rota): `-400d`, `+90d`, `today`, or a date.
//!
//! Relative bounds are resolved against the run's date when the plan is built, so a nightly job
//! keeps a rolling window without editing its pipeline file.

use chrono::{Days, NaiveDate};

/// One end of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// Days relative to the run date (negative = past).
    Relative(i64),
    /// A fixed calendar date.
    Date(NaiveDate),
}

impl DateBound {
    /// Parses `-400d`, `+90d`, `0d`, `today`, `-2w`, `-1y` or `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "today" {
            return Ok(Self::Relative(0));
        }
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(Self::Date(date));
        }
        let (number, unit) = t.split_at(t.len().saturating_sub(1));
        let per_unit = match unit {
            "d" => 1,
            "w" => 7,
            "y" => 365,
            _ => return Err(format!("`{text}` is not a date bound")),
        };
        number
            .parse::<i64>()
            .ok()
            .filter(|n| n.abs() <= 100 * 365)
            .map(|n| Self::Relative(n * per_unit))
            .ok_or_else(|| format!("`{text}` is not a date bound"))
    }

    /// The calendar date this bound means on `today`.
    pub fn resolve(self, today: NaiveDate) -> NaiveDate {
        match self {
            Self::Date(d) => d,
            Self::Relative(n) if n >= 0 => today + Days::new(n.unsigned_abs()),
            Self::Relative(n) => today - Days::new(n.unsigned_abs()),
        }
    }
}

/// A window `[from, to)` of a windowed resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Start (inclusive).
    pub from: DateBound,
    /// End (exclusive).
    pub to: DateBound,
}

impl WindowSpec {
    /// The concrete dates on `today`.
    pub fn resolve(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        (self.from.resolve(today), self.to.resolve(today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute_bounds() {
        assert_eq!(DateBound::parse("-400d"), Ok(DateBound::Relative(-400)));
        assert_eq!(DateBound::parse("+90d"), Ok(DateBound::Relative(90)));
        assert_eq!(DateBound::parse("-2w"), Ok(DateBound::Relative(-14)));
        assert_eq!(DateBound::parse("today"), Ok(DateBound::Relative(0)));
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap();
        assert_eq!(DateBound::parse("2025-01-31"), Ok(DateBound::Date(d)));
        assert!(DateBound::parse("soon").is_err());
        assert!(DateBound::parse("2025-13-01").is_err());
    }

    #[test]
    fn resolves_against_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let w = WindowSpec {
            from: DateBound::Relative(-30),
            to: DateBound::Relative(10),
        };
        assert_eq!(
            w.resolve(today),
            (
                NaiveDate::from_ymd_opt(2026, 10, 27).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
            )
        );
    }
}
