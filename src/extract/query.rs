//! The query of a list page: page size, order, the resource's required parameters, the run's
//! cursor bound and the slice's filters. `run` reads with it and `plan` shows it, so the two
//! cannot drift.

use super::slice::Slice;
use crate::catalog::Resource;

/// Page size we ask for: the API's documented maximum.
pub const PER_PAGE: u32 = 100;

/// Query parameters without the page number.
pub type Params = Vec<(&'static str, String)>;

/// The query of a list page of `slice` without its page number: page size, order, the
/// parameters the resource always needs, the run's own (`base`: a delta's cursor bound) and the
/// slice's, less those in `replaced` (a keyset or tile bound takes their place). `run` reads with
/// it and `plan` shows it, so the two cannot drift.
pub fn list_query(
    resource: &Resource,
    sort: Option<&'static str>,
    base: &[(&'static str, String)],
    slice: &Slice,
    replaced: &[&str],
) -> Params {
    let mut q = vec![
        ("per_page", PER_PAGE.to_string()),
        ("sort_by", sort.unwrap_or(resource.sort_by).to_string()),
        ("sort_direction", "asc".to_string()),
    ];
    // Without these the live API leaves rows out (appointments: `cancelled=true`).
    q.extend(
        resource
            .required_params
            .iter()
            .map(|(k, v)| (*k, (*v).to_string())),
    );
    let kept = |(k, _): &&(&'static str, String)| !replaced.contains(k);
    q.extend(base.iter().filter(kept).cloned());
    q.extend(slice.query.iter().filter(kept).cloned());
    q
}
