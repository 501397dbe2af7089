//! A window's start the API ignores (`after` on appointments).
//!
//! Without its start the live API answers no row at all (a diary list needs a window), so an
//! ignored `after` looks exactly like an empty diary. When every slice of a window answered
//! nothing, two counts tell the two apart: the rows before the window's end and the rows before
//! its start, both asked with `updated_after` at the epoch (which lets the list answer without
//! `after`) and `before`, which the catalog grades as honoured. A difference means rows exist
//! that the window did not return: `after` is noted ignored, and every slice is read again by
//! keyset on `updated_at` from the epoch, each clipped to its own start ([`super::clip`]).
//! Each slice then reads everything before its end: a costly fallback, warned about once.
//!
//! An empty diary costs the two counts, once per run of the resource.

use super::ExtractError;
use super::pages::SliceReader;
use super::route::KEYSET_FIELD;
use super::slice::Slice;
use crate::catalog::Window;

/// `updated_after` at the epoch: every row, and a window the API will answer.
pub(super) const EPOCH: i64 = 0;

impl SliceReader<'_> {
    /// The window-start parameter the API ignored, judged after a read of `slices` (a whole
    /// window, from its first slice) that returned no row; `None` when the window is empty or
    /// the list has no way to read it without its start.
    pub(super) async fn ignored_window_start(
        &self,
        slices: &[Slice],
    ) -> Result<Option<&'static str>, ExtractError> {
        let Window::Required {
            after_param,
            before_param,
            ..
        } = self.resource.window
        else {
            return Ok(None);
        };
        let Some(cursor) = self.resource.range_on(KEYSET_FIELD) else {
            return Ok(None);
        };
        if !self.resource.sortable || self.ignored_now().iter().any(|i| i == after_param) {
            return Ok(None);
        }
        let bound = |slice: Option<&Slice>, param: &str| {
            slice?
                .query
                .iter()
                .find(|(k, _)| *k == param)
                .map(|(_, v)| v.clone())
        };
        let (Some(start), Some(end)) = (
            bound(slices.first(), after_param),
            bound(slices.last(), before_param),
        ) else {
            return Ok(None);
        };
        let epoch = super::route::Grain::Second.format(EPOCH);
        let mut totals = Vec::with_capacity(2);
        for before in [end, start] {
            let slice = Slice {
                label: String::new(),
                query: vec![(before_param, before)],
            };
            let params = self.params(&slice, None, &[], vec![(cursor.after, epoch.clone())]);
            totals.push(self.fetch(&params, 1).await?.total.unwrap_or(0));
        }
        Ok((totals[0] > totals[1]).then_some(after_param))
    }

    /// Whether `slice` carries a window start the API is known to ignore: its keyset walk must
    /// then send a cursor bound even from the start, or the list answers nothing.
    pub(super) fn window_start_ignored(&self, slice: &Slice) -> bool {
        let Window::Required { after_param, .. } = self.resource.window else {
            return false;
        };
        slice.query.iter().any(|(k, _)| *k == after_param)
            && self.ignored_now().iter().any(|i| i == after_param)
    }
}
