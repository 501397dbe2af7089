//! Query parameters of list endpoints: paging, sorting and the filters of
//! `docs/dentally-api.md` §3, turned into a [`ListQuery`] for one resource.
//!
//! Conventions (where the research is silent, chosen so that slicing works without gaps or
//! double counting): `*_after` and `after` are inclusive, `*_before` and `before` exclusive.
//! Dates (`2026-06-01`) mean local midnight in Europe/London; datetimes may carry any offset or
//! `Z`; a datetime without an offset is local time. When the field is a date (`dated_on`,
//! `day`), a datetime parameter is taken as its local date. Unknown parameters are ignored;
//! a filter whose field the resource does not have is ignored too. A date that does not parse
//! is a 400. Which parameters reach this parser is decided before, per resource, by what the
//! live API honours (`honoured`).
//!
//! Appointments follow the live API: without `cancelled=true` the Cancelled and Did-not-attend
//! rows are left out (B, two sources), and a date filter is required: `after` (alone or with
//! `before`), `on` or `updated_after` (alone) will do; `before` alone or nothing answers an
//! empty list (422 in strict mode). Rota diaries need `after`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::London;

use crate::catalog::{self, FieldKind, FieldType, Window};

use super::data::timeline;
use super::error::ApiError;

/// Default and maximum `per_page`.
pub(crate) const DEFAULT_PER_PAGE: u64 = 25;
pub(crate) const MAX_PER_PAGE: u64 = 100;

/// Parameters naming an equality filter on the field of the same name.
const EQUALITY: &[&str] = &[
    "patient_id",
    "practitioner_id",
    "room_id",
    "state",
    "treatment_id",
    "payment_plan_id",
    "claim_status",
    "account_id",
    "treatment_plan_id",
    "appointment_id",
    "invoice_id",
    "recall_type",
    "status",
    "user_id",
];
/// Appointment states the live API leaves out unless `cancelled=true` is sent.
pub(crate) const CANCELLED_STATES: &[&str] = &["Cancelled", "Did not attend"];

/// Parameters naming a boolean filter (`paid` is accepted and ignored, as on the real API).
const BOOLEAN: &[&str] = &["active", "deleted", "archived", "unavailable", "completed"];

/// One condition on a raw record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Timestamp field at or after an instant (UTC ms).
    From { field: &'static str, ms: i64 },
    /// Timestamp field strictly before an instant.
    Until { field: &'static str, ms: i64 },
    /// Date field on or after a date.
    DateFrom {
        field: &'static str,
        date: NaiveDate,
    },
    /// Date field strictly before a date.
    DateUntil {
        field: &'static str,
        date: NaiveDate,
    },
    /// Field equal to a value (numbers compared as text; text case-insensitively).
    Equals { field: &'static str, value: String },
    /// Boolean field equal to a value.
    Is { field: &'static str, value: bool },
    /// Free text in names, e-mail and phones (patients' `query`).
    Text(String),
    /// The practitioner works at this site (rota rows have no site of their own).
    PractitionerAtSite(String),
    /// Text field not equal to any of these values (appointments without `cancelled=true`).
    NoneOf {
        field: &'static str,
        values: &'static [&'static str],
    },
}

/// Sort order requested with `sort_by`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sort {
    pub field: &'static str,
    pub ty: FieldType,
    pub descending: bool,
}

/// A list request for one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    /// 1-based page.
    pub page: u64,
    /// Rows per page (25 when absent, zero or over 100).
    pub per_page: u64,
    /// The order to serve: what `sort_by` asked for, or the default order (see `order`).
    /// `None`: index (id) ascending.
    pub sort: Option<Sort>,
    /// Whether `sort_by` was given (and honoured); without it a fault may make the order
    /// unstable.
    pub sort_requested: bool,
    /// Conditions, all of which must hold.
    pub filters: Vec<Filter>,
    /// A required window is missing: the answer is empty (or 422 in strict mode).
    pub window_missing: bool,
}

impl ListQuery {
    /// Rows skipped before this page.
    pub(crate) fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// Reads a list request for `resource` from its query pairs (already cut down to what the
/// sandbox honours). `include_cancelled` serves cancelled appointments without
/// `cancelled=true` (the old sandbox).
pub(crate) fn parse(
    resource: &'static catalog::Resource,
    params: &[(String, String)],
    include_cancelled: bool,
) -> Result<ListQuery, ApiError> {
    let get = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    };
    let number = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
    let page = number("page").filter(|&p| p > 0).unwrap_or(1);
    let per_page = number("per_page")
        .filter(|&p| (1..=MAX_PER_PAGE).contains(&p))
        .unwrap_or(DEFAULT_PER_PAGE);
    let sort = get("sort_by").map(|field| {
        let descending = get("sort_direction").is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        match scalar(resource, field) {
            Some((name, ty)) => Sort {
                field: name,
                ty,
                descending,
            },
            None => Sort {
                field: resource.primary_key,
                ty: FieldType::Int,
                descending,
            },
        }
    });
    let mut filters = Vec::new();
    let mut window_missing = false;
    let instant = |param: &str,
                   field: &str,
                   after: bool,
                   filters: &mut Vec<Filter>|
     -> Result<(), ApiError> {
        let (Some(value), Some((name, ty))) = (get(param), scalar(resource, field)) else {
            return Ok(());
        };
        filters.push(bound(param, value, name, ty, after)?);
        Ok(())
    };
    for param in ["updated_after", "updated_since"] {
        instant(param, "updated_at", true, &mut filters)?;
    }
    instant("updated_before", "updated_at", false, &mut filters)?;
    instant("created_after", "created_at", true, &mut filters)?;
    instant("created_before", "created_at", false, &mut filters)?;
    instant("dated_on_after", "dated_on", true, &mut filters)?;
    instant("dated_on_before", "dated_on", false, &mut filters)?;
    instant("dated_after", "dated_on", true, &mut filters)?;
    instant("dated_before", "dated_on", false, &mut filters)?;
    if let Window::Required {
        after_param,
        before_param,
        field,
    } = resource.window
    {
        window_missing = [after_param, "on", "updated_after"]
            .into_iter()
            .all(|p| get(p).is_none());
        instant(after_param, field, true, &mut filters)?;
        instant(before_param, field, false, &mut filters)?;
    }
    let cancelled = get("cancelled").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    if resource.name == "appointments" && !cancelled && !include_cancelled {
        filters.push(Filter::NoneOf {
            field: "state",
            values: CANCELLED_STATES,
        });
    }
    if let (Some(on), Some((field, _))) = (get("on"), scalar(resource, "start_time")) {
        let day = date_of(on).ok_or_else(|| invalid("on", on))?;
        filters.push(Filter::From {
            field,
            ms: timeline::local_ms(day, 0),
        });
        filters.push(Filter::Until {
            field,
            ms: timeline::local_ms(day.succ_opt().unwrap_or(day), 0),
        });
    }
    for &param in EQUALITY {
        if let (Some(value), Some((field, _))) = (get(param), scalar(resource, param)) {
            filters.push(Filter::Equals {
                field,
                value: value.to_string(),
            });
        }
    }
    for &param in BOOLEAN {
        if let (Some(value), Some((field, FieldType::Bool))) = (get(param), scalar(resource, param))
        {
            match value {
                "true" | "1" => filters.push(Filter::Is { field, value: true }),
                "false" | "0" => filters.push(Filter::Is {
                    field,
                    value: false,
                }),
                _ => {}
            }
        }
    }
    site_filter(resource, &get, &mut filters);
    if let Some(q) = get("query").filter(|q| !q.is_empty() && resource.name == "patients") {
        filters.push(Filter::Text(q.to_lowercase()));
    }
    Ok(ListQuery {
        page,
        per_page,
        sort_requested: sort.is_some(),
        sort,
        filters,
        window_missing,
    })
}

fn site_filter<'a>(
    resource: &'static catalog::Resource,
    get: &impl Fn(&str) -> Option<&'a str>,
    filters: &mut Vec<Filter>,
) {
    let site = get("site_id").or_else(|| get("practitioner_site_id"));
    let Some(site) = site else { return };
    let value = site.to_string();
    if let Some((field, _)) =
        scalar(resource, "site_id").or_else(|| scalar(resource, "practitioner_site_id"))
    {
        filters.push(Filter::Equals { field, value });
    } else if resource.field("practitioner_id").is_some() {
        filters.push(Filter::PractitionerAtSite(value));
    }
}

/// The scalar field `name` of `resource` with its type.
fn scalar(resource: &'static catalog::Resource, name: &str) -> Option<(&'static str, FieldType)> {
    let field = resource.field(name)?;
    match field.kind {
        FieldKind::Scalar(ty) => Some((field.name, ty)),
        _ => None,
    }
}

fn invalid(param: &str, value: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "invalid date or time for `{param}`: `{value}` (use YYYY-MM-DD or ISO 8601)"
    ))
}

/// A bound on `field` from a parameter value.
fn bound(
    param: &str,
    value: &str,
    field: &'static str,
    ty: FieldType,
    after: bool,
) -> Result<Filter, ApiError> {
    if ty == FieldType::Date {
        let date = date_of(value).ok_or_else(|| invalid(param, value))?;
        return Ok(if after {
            Filter::DateFrom { field, date }
        } else {
            Filter::DateUntil { field, date }
        });
    }
    let ms = instant_of(value).ok_or_else(|| invalid(param, value))?;
    Ok(if after {
        Filter::From { field, ms }
    } else {
        Filter::Until { field, ms }
    })
}

/// An ISO date or datetime as UTC ms (dates and naive datetimes are London local time).
pub(crate) fn instant_of(value: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(value, format) {
            return Some(t.timestamp_millis());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return London
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .map(|d| timeline::local_ms(d, 0))
}

/// The local date of an ISO date or datetime.
fn date_of(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| instant_of(value).map(timeline::local_date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn paging_rules() {
        let patients = catalog::find("patients").unwrap();
        let q = parse(patients, &pairs(&[]), false).unwrap();
        assert_eq!((q.page, q.per_page, q.offset()), (1, 25, 0));
        let q = parse(
            patients,
            &pairs(&[("per_page", "101"), ("page", "3")]),
            false,
        )
        .unwrap();
        assert_eq!((q.page, q.per_page, q.offset()), (3, 25, 50));
        let q = parse(
            patients,
            &pairs(&[("per_page", "100"), ("page", "0")]),
            false,
        )
        .unwrap();
        assert_eq!((q.page, q.per_page), (1, 100));
    }

    #[test]
    fn filters_by_resource() {
        let appts = catalog::find("appointments").unwrap();
        let q = parse(
            appts,
            &pairs(&[
                ("after", "2026-06-01"),
                ("site_id", "abc"),
                ("paid", "true"),
                ("zzz", "1"),
            ]),
            false,
        )
        .unwrap();
        assert!(!q.window_missing, "after alone is a window");
        assert!(q.filters.contains(&Filter::NoneOf {
            field: "state",
            values: CANCELLED_STATES
        }));
        let q = parse(
            appts,
            &pairs(&[("before", "2026-06-01"), ("cancelled", "true")]),
            false,
        )
        .unwrap();
        assert!(q.window_missing, "before alone is not");
        assert!(!q.filters.iter().any(|f| matches!(f, Filter::NoneOf { .. })));
        let q = parse(appts, &pairs(&[("updated_after", "2026-06-01")]), false).unwrap();
        assert!(!q.window_missing, "updated_after alone is a window");
        assert!(q.filters.contains(&Filter::Equals {
            field: "practitioner_site_id",
            value: "abc".into()
        }));
        let rota = catalog::find("rota_practitioner_diaries").unwrap();
        let q = parse(
            rota,
            &pairs(&[
                ("after", "2026-06-01T00:00:00Z"),
                ("before", "2026-07-01"),
                ("site_id", "s"),
            ]),
            false,
        )
        .unwrap();
        assert!(!q.window_missing);
        assert!(q.filters.contains(&Filter::DateFrom {
            field: "day",
            date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
        }));
        assert!(q.filters.contains(&Filter::PractitionerAtSite("s".into())));
        let invoices = catalog::find("invoices").unwrap();
        let q = parse(invoices, &pairs(&[("paid", "true")]), false).unwrap();
        assert!(q.filters.is_empty(), "paid is ignored");
        assert!(parse(invoices, &pairs(&[("updated_after", "yesterday")]), false).is_err());
        let payments = catalog::find("payments").unwrap();
        let q = parse(payments, &pairs(&[("dated_after", "2026-01-01")]), false).unwrap();
        assert_eq!(
            q.filters,
            [Filter::DateFrom {
                field: "dated_on",
                date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
            }]
        );
    }

    #[test]
    fn instants_accept_any_offset() {
        let z = instant_of("2026-06-01T08:00:00Z").unwrap();
        assert_eq!(instant_of("2026-06-01T09:00:00+01:00"), Some(z));
        assert_eq!(instant_of("2026-06-01T09:00:00.000+01:00"), Some(z));
        assert_eq!(
            instant_of("2026-06-01T09:00:00"),
            Some(z),
            "naive = London local"
        );
        assert_eq!(instant_of("2026-06-01"), Some(z - 9 * 3_600_000));
        assert_eq!(instant_of("nope"), None);
    }
}
