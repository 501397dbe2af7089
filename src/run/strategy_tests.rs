//! Which strategy each kind of resource gets, and the filters its queries carry.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::catalog;
use crate::config::{DateBound, PiiMode, WindowSpec};

fn spec(name: &str, reconcile: Reconcile) -> ResourceSpec {
    let resource = catalog::find(name).unwrap();
    let window = matches!(resource.window, Window::Required { .. }).then_some(WindowSpec {
        from: DateBound::Relative(-30),
        to: DateBound::Relative(90),
    });
    ResourceSpec {
        resource,
        mode: Mode::Incremental,
        pii: PiiMode::Keep,
        window,
        lag_secs: 60,
        lookback_days: 7,
        reconcile,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T03:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn choice() -> Choice {
    Choice {
        full_refresh: false,
        force_reconcile: false,
        today: now().date_naive(),
        now: now(),
    }
}

/// A state after a committed run: current files, a cursor, reconciled `days_ago` days ago.
fn state(cursor: &str, days_ago: i64) -> ResourceState {
    ResourceState {
        cursor: Some(cursor.into()),
        tables: BTreeMap::from([("t".to_string(), vec!["t/part.parquet".to_string()])]),
        last_reconcile: Some((now() - chrono::Duration::days(days_ago)).to_rfc3339()),
        ..ResourceState::default()
    }
}

#[test]
fn appointments_read_changes_by_updated_after_until_the_weekly_window_re_read() {
    let s = spec("appointments", Reconcile::EveryDays(7));
    let fresh = state("2026-06-14T20:00:00Z", 1);
    let delta = Strategy::choose(&s, &fresh, choice());
    assert_eq!(
        delta.query(),
        vec![("updated_after", "2026-06-14T19:59:00Z".to_string())]
    );
    assert_eq!(delta.window_cut(&fresh), WindowCut::Changes);
    assert!(!delta.reconciles());
    assert!(matches!(delta.coverage(), Some(Coverage::Nothing)));

    let due = state("2026-06-14T20:00:00Z", 7);
    let window = Strategy::choose(&s, &due, choice());
    assert!(matches!(
        window,
        Strategy::Window {
            field: "start_time",
            ..
        }
    ));
    assert!(window.query().is_empty(), "the slices carry after/before");
    assert!(
        window.reconciles(),
        "the window re-read is the reconciling read"
    );
    let forced = Choice {
        force_reconcile: true,
        ..choice()
    };
    assert!(matches!(
        Strategy::choose(&s, &fresh, forced),
        Strategy::Window { .. }
    ));
}

#[test]
fn payments_step_back_lookback_days_on_dated_on_never_by_updated_after() {
    let s = spec("payments", Reconcile::Never);
    let st = state("2026-06-14T00:00:00.000000Z", 1);
    let delta = Strategy::choose(&s, &st, choice());
    assert_eq!(
        delta.query(),
        vec![("dated_after", "2026-06-07".to_string())]
    );
    assert!(
        delta.label().contains("dated_after on dated_on"),
        "{}",
        delta.label()
    );
    // A post-dated payment moves the cursor past today: the lookback starts from today.
    let ahead = state("2026-07-30T00:00:00Z", 1);
    assert_eq!(
        Strategy::choose(&s, &ahead, choice()).query(),
        vec![("dated_after", "2026-06-08".to_string())]
    );
    let longer = ResourceSpec {
        lookback_days: 30,
        ..s.clone()
    };
    assert_eq!(
        Strategy::choose(&longer, &st, choice()).query(),
        vec![("dated_after", "2026-05-15".to_string())]
    );
    assert!(crate::config::cursor_is_date(s.resource));
}

#[test]
fn other_resources_keep_their_updated_after_delta_or_full_read() {
    let invoices = Strategy::choose(
        &spec("invoices", Reconcile::Never),
        &state("2026-06-14T20:00:00Z", 1),
        choice(),
    );
    assert_eq!(invoices.query()[0].0, "updated_after");
    let accounts = Strategy::choose(
        &spec("accounts", Reconcile::Never),
        &state("2026-06-14T20:00:00Z", 1),
        choice(),
    );
    assert_eq!(accounts, Strategy::Everything);
    let first = Strategy::choose(
        &spec("appointments", Reconcile::Never),
        &ResourceState::default(),
        choice(),
    );
    assert_eq!(first, Strategy::Full);
    assert_eq!(
        first.window_cut(&ResourceState::default()),
        WindowCut::Window { rows_per_day: None }
    );
}

#[test]
fn a_window_read_is_cut_by_the_density_the_last_window_read_measured() {
    let st = ResourceState {
        window: Some(crate::manifest::WindowRead {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 1, 11).unwrap(),
            rows: 250,
        }),
        ..state("2026-06-14T20:00:00Z", 30)
    };
    let window = Strategy::choose(
        &spec("appointments", Reconcile::EveryDays(7)),
        &st,
        choice(),
    );
    assert_eq!(
        window.window_cut(&st),
        WindowCut::Window {
            rows_per_day: Some(25.0)
        }
    );
}

#[test]
fn every_delta_uses_the_filter_on_the_cursor_field() {
    for r in catalog::all() {
        if let Some(f) = delta_filter(r) {
            assert_eq!(Some(f.field), r.cursor, "{}", r.name);
        }
    }
    let payments = delta_filter(catalog::find("payments").unwrap()).unwrap();
    assert_eq!(
        (payments.after, payments.field),
        ("dated_after", "dated_on")
    );
    let appointments = delta_filter(catalog::find("appointments").unwrap()).unwrap();
    assert_eq!(appointments.after, "updated_after");
    assert!(delta_filter(catalog::find("accounts").unwrap()).is_none());
}
