//! Extraction: from a selected resource to a stream of pages of new records.
//!
//! A resource is read as one or more [`Slice`]s (date windows, per-treatment lists), each paged
//! by [`SliceReader`]. Pages go to the caller through a bounded channel, so memory holds at most a
//! few pages whatever the table's size, and the network keeps working while the caller writes.

mod clip;
mod dedupe;
mod keyset;
mod pages;
mod query;
mod recover;
mod report;
mod route;
mod seen;
mod slice;
mod tiles;
mod verify;
mod wall;
mod window_start;

use chrono::NaiveDate;

pub use dedupe::{KeySet, digest as text_key_digest};
pub use pages::{KeysLater, Page, SliceReader};
pub use query::{PER_PAGE, Params, list_query};
pub use recover::key_text;
pub use report::{PagingReport, Resume, Sequence, SliceReport, SliceTotals};
pub use route::{Route, candidates};
pub use slice::{
    ADVISED_SLICE_DAYS, MAX_SLICE_ROWS, SMALL_WINDOW_ROWS, Slice, WindowCut, per_parent, windows,
};
pub use wall::{DEFAULT_OFFSET_WALL, Wall};

use crate::api::{ApiError, Client, Target};
use crate::catalog::{Kind, Resource, Window};
use crate::config::ResourceSpec;
use crate::json::Node;

/// Why a resource could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The API failed (after retries where that made sense).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The answer did not have the expected shape.
    #[error("`{resource}` page {page}: unexpected answer: {why}")]
    Shape {
        /// Resource.
        resource: String,
        /// Page.
        page: u32,
        /// What was wrong.
        why: String,
    },
    /// Fewer distinct rows than the API's `total_count`: never truncate silently.
    #[error(
        "`{resource}` ({slice}): read {rows} distinct rows but the API reports total_count {total}; \
         the output would be incomplete, so this resource is marked failed (rerun to try again)"
    )]
    Shortfall {
        /// Resource.
        resource: String,
        /// Slice label.
        slice: String,
        /// Distinct rows read.
        rows: u64,
        /// `meta.total_count`.
        total: u64,
    },
    /// A list longer than the offset wall with no filter the API honours to narrow it.
    #[error(
        "`{resource}` ({slice}): the API refuses pages this deep (413) and honours no filter that \
         would narrow the read ({total:?} rows); the resource is marked failed. If the API honours \
         a range filter the catalog does not list for it, add it to the catalog's `ranges`"
    )]
    Wall {
        /// Resource.
        resource: String,
        /// Slice label.
        slice: String,
        /// `meta.total_count`, when sent.
        total: Option<u64>,
    },
    /// More rows than an offset walk may cover share one value of the field a read is cut on.
    #[error(
        "`{resource}`: more than {rows} rows share one `{field}` value (or one day), so the read \
         cannot be cut finer below the API's offset wall; the resource is marked failed"
    )]
    Stuck {
        /// Resource.
        resource: String,
        /// The field the read is cut on.
        field: &'static str,
        /// Rows one walk may cover.
        rows: u64,
    },
    /// The consumer went away (the run is stopping).
    #[error("extraction cancelled")]
    Cancelled,
}

/// The slices of a selected resource on `today`: a windowed resource's window cut as `cut` says
/// ([`window_slices`]), one list per parent key for a per-parent resource (fees: per
/// treatment), one list otherwise. The parent's keys are `parent_ids` when the run already read
/// them, otherwise they are listed from the API.
pub async fn slices(
    client: &Client,
    spec: &ResourceSpec,
    today: NaiveDate,
    cut: WindowCut,
    parent_ids: Option<&[String]>,
) -> Result<Vec<Slice>, ExtractError> {
    if let Some(window) = window_slices(spec, today, cut) {
        return Ok(window);
    }
    match spec.resource.window {
        Window::PerParent { parent, param } => match parent_ids {
            Some(ids) => Ok(per_parent(param, ids)),
            None => Ok(per_parent(
                param,
                &recover::list_keys(client, parent, 1, Wall::default()).await?,
            )),
        },
        _ => Ok(vec![Slice::whole()]),
    }
}

/// The slices of a windowed resource's read (`None` for other resources), without the
/// network: `run` and `plan` both cut windows here. A read of changes only is one list.
pub fn window_slices(spec: &ResourceSpec, today: NaiveDate, cut: WindowCut) -> Option<Vec<Slice>> {
    let (
        Window::Required {
            after_param,
            before_param,
            ..
        },
        Some(window),
    ) = (spec.resource.window, spec.window)
    else {
        return None;
    };
    match cut {
        WindowCut::Changes => Some(vec![Slice::whole()]),
        WindowCut::Window { rows_per_day } => {
            let (from, to) = window.resolve(today);
            Some(windows(from, to, after_param, before_param, rows_per_day))
        }
    }
}

/// Reads a single-object resource (`practice`) as one page of one record.
pub async fn read_single(
    client: &Client,
    resource: &'static Resource,
) -> Result<Page, ExtractError> {
    debug_assert_eq!(resource.kind, Kind::Single);
    let reply = client
        .get(
            resource.path,
            &[],
            Target {
                resource: resource.name,
                page: 0,
            },
        )
        .await?;
    let record = reply
        .body
        .root()
        .get(resource.envelope)
        .filter(|r| r.is_object())
        .map(Node::position);
    match record {
        Some(position) => Ok(Page {
            slice: 0,
            number: 1,
            doc: reply.body,
            records: vec![position],
            progress: SliceReport {
                pages: 1,
                rows: 1,
                total_count: Some(1),
                page_size: 1,
                ..SliceReport::default()
            },
        }),
        _ => Err(ExtractError::Shape {
            resource: resource.name.into(),
            page: 0,
            why: format!("the answer has no `{}` object", resource.envelope),
        }),
    }
}
