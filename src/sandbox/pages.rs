//! One list endpoint's answer, with every rule of the live API applied in order: the
//! parameters it honours (`honoured`), the order it serves (`order`), the window appointments
//! and rota need, the deep-offset wall (`deep`), unstable paging (`unstable`), and the `meta`
//! it sends: `total_count` always, `total_pages` except on the lists that omit it, no
//! `current_page` (none is evidenced).

use serde_json::{Map, Value, json};

use crate::catalog::Resource;

use super::error::ApiError;
use super::faults::Plan;
use super::server::Sandbox;
use super::store::Practice;
use super::{honoured, listing, order, query};

/// The JSON body of list `resource` for `params`, in `practice` (1-based `number`).
pub(crate) fn answer(
    sandbox: &Sandbox,
    practice: &Practice,
    number: u32,
    resource: &'static Resource,
    params: &[(String, String)],
    plan: &Plan,
) -> Result<Value, ApiError> {
    let config = &sandbox.config;
    let mut params = honoured::keep(config, resource.name, params);
    order::strip_ignored_sort(config, resource.name, &mut params);
    let mut query = query::parse(resource, &params, config.include_cancelled)?;
    order::settle(config, resource, &mut query);
    if query.window_missing && config.strict_windows {
        return Err(ApiError::Unprocessable(format!(
            "{} requires a date filter (`after`, `on` or `updated_after`)",
            resource.name
        )));
    }
    sandbox.wall.check(query.offset())?;
    let off = config.features_off.iter().any(|f| f == resource.name);
    let page = if query.window_missing || off {
        listing::Page {
            rows: Vec::new(),
            total: 0,
        }
    } else {
        let swaps = config
            .unstable_paging
            .iter()
            .any(|r| r == resource.name)
            .then(|| {
                let key = format!("{} {params:?}", resource.name);
                sandbox.attempts.next(config.seed, number, &key)
            });
        practice
            .with_view(resource.name, |v| {
                listing::list(
                    v,
                    resource,
                    &query,
                    plan.unstable_order,
                    swaps,
                    &sandbox.orders,
                )
            })
            .ok_or_else(|| ApiError::NotFound("the requested resource does not exist".into()))?
    };
    let mut meta = Map::new();
    meta.insert("total_count".into(), page.total.into());
    if config.current_page {
        meta.insert("current_page".into(), query.page.into());
    }
    let absent = config.total_pages_absent.iter().any(|r| r == resource.name);
    if config.total_pages && !absent && !plan.hide_total_pages {
        meta.insert(
            "total_pages".into(),
            page.total.div_ceil(query.per_page).into(),
        );
    }
    Ok(json!({resource.envelope: page.rows, "meta": meta}))
}
