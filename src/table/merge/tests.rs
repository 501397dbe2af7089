//! Each rule of the merge on a few rows: an in-memory output holding previous current files
//! and a run's raw files of `items` (`id`, `name`, `starts_at`, `updated_at`) and its child
//! `items__lines` (`item_id`, `line`), merged, then read back by key. A row's `name` says
//! which version it is (`prev` or `delta`), so an assertion shows which side won.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Int64Array, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use futures::TryStreamExt;

use super::*;
use crate::sink::{FileWriter, StoreOptions};

/// The run's start: the `_deleted_at` of rows this merge finds deleted.
const NOW: i64 = 1_900_000_000_000_000;
/// When an earlier run found a row deleted.
const EARLIER: i64 = 1_750_000_000_000_000;
/// An older `updated_at`.
const OLD: i64 = 1_700_000_000_000_000;
/// A newer `updated_at`.
const NEW: i64 = 1_800_000_000_000_000;
/// A day in µs: row `id` starts on day `id` (the window field).
const DAY: i64 = 86_400_000_000;

/// A raw `items` row: id, name, `updated_at`.
type Raw = (i64, &'static str, i64);
/// A current `items` row: id, name, `updated_at`, `_deleted_at`.
type Current = (i64, &'static str, i64, Option<i64>);
/// An `items__lines` row: parent id, text, `_deleted_at` (ignored in a raw file).
type Line = (i64, &'static str, Option<i64>);

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `items` and its child `items__lines`, main first.
fn tables() -> Vec<Table> {
    vec![
        Table {
            name: "items".into(),
            schema: Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("starts_at", utc_micros(), true),
                Field::new("updated_at", utc_micros(), true),
            ])),
            parent_key: None,
        },
        Table {
            name: "items__lines".into(),
            schema: Arc::new(Schema::new(vec![
                Field::new("item_id", DataType::Int64, false),
                Field::new("line", DataType::Utf8, true),
            ])),
            parent_key: Some("item_id".into()),
        },
    ]
}

fn timestamps(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter(values).with_timezone("UTC"))
}

/// `rows` in the `items` schema, as a delta's raw file holds them.
fn raw_items(rows: &[Raw]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        timestamps(rows.iter().map(|r| Some(r.0 * DAY))),
        timestamps(rows.iter().map(|r| Some(r.2))),
    ];
    RecordBatch::try_new(tables()[0].schema.clone(), columns).expect("items columns")
}

/// `rows` in the `items__lines` schema.
fn raw_lines(rows: &[Line]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
    ];
    RecordBatch::try_new(tables()[1].schema.clone(), columns).expect("lines columns")
}

/// `raw` in its table's current schema with each row's `_deleted_at`, as a previous current
/// file holds it.
fn current(raw: &RecordBatch, deleted: Vec<Option<i64>>) -> RecordBatch {
    let schema = current_schema(&raw.schema(), false);
    with_deleted(raw, &schema, Some(deleted), None).expect("current columns")
}

fn current_items(rows: &[Current]) -> RecordBatch {
    let raw: Vec<Raw> = rows.iter().map(|r| (r.0, r.1, r.2)).collect();
    current(&raw_items(&raw), rows.iter().map(|r| r.3).collect())
}

fn current_lines(rows: &[Line]) -> RecordBatch {
    current(&raw_lines(rows), rows.iter().map(|r| r.2).collect())
}

/// An in-memory output with the previous current files and this run's raw files.
struct Fixture {
    loc: Location,
    tables: Vec<Table>,
    previous: BTreeMap<String, Vec<String>>,
    delta: BTreeMap<String, Vec<FileEntry>>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            loc: Location::parse("memory:///out", &StoreOptions::default())
                .expect("memory location"),
            tables: tables(),
            previous: BTreeMap::new(),
            delta: BTreeMap::new(),
        }
    }

    async fn write(&self, rel: &str, batch: &RecordBatch) -> FileEntry {
        let format = Format::default();
        let mut file =
            FileWriter::create(&self.loc, rel, batch.schema(), &format).expect("create a file");
        file.write(batch).await.expect("write a batch");
        let report = file.finish().await.expect("finish a file");
        FileEntry {
            path: report.path,
            rows: report.rows,
            bytes: report.bytes,
        }
    }

    /// Adds a previous current file of `table`.
    async fn previous(&mut self, table: &str, batch: RecordBatch) {
        let files = self.previous.entry(table.to_string()).or_default();
        let rel = format!("previous/{table}-{}.parquet", files.len());
        files.push(rel.clone());
        self.write(&rel, &batch).await;
    }

    /// Adds a raw file of `table` to this run's delta.
    async fn delta(&mut self, table: &str, batch: RecordBatch) {
        let n = self.delta.get(table).map_or(0, Vec::len);
        let entry = self
            .write(&format!("_raw/{table}/{n}.parquet"), &batch)
            .await;
        self.delta.entry(table.to_string()).or_default().push(entry);
    }

    async fn merge(
        &self,
        coverage: Coverage,
    ) -> Result<BTreeMap<String, Vec<FileEntry>>, SinkError> {
        let format = Format::default();
        let input = MergeInput {
            loc: &self.loc,
            format: &format,
            target: Target {
                part: "",
                practice_id: None,
            },
            run_id: "run-2",
            now: NOW,
            tables: &self.tables,
            previous: &self.previous,
            delta: &self.delta,
            key: "id",
            order: Some("updated_at"),
            coverage,
        };
        merge(&input).await
    }

    async fn read(
        &self,
        files: &BTreeMap<String, Vec<FileEntry>>,
        table: &str,
    ) -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        for file in &files[table] {
            let stream = read_parquet(&self.loc, &file.path, READ_BATCH_ROWS)
                .await
                .expect("open a merged file");
            batches.extend(
                stream
                    .try_collect::<Vec<_>>()
                    .await
                    .expect("read a merged file"),
            );
        }
        batches
    }

    /// The merged `items` by id: name and `_deleted_at`; a key written twice fails the test.
    async fn items(
        &self,
        files: &BTreeMap<String, Vec<FileEntry>>,
    ) -> BTreeMap<i64, (String, Option<i64>)> {
        let mut out = BTreeMap::new();
        for batch in self.read(files, "items").await {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let names = batch.column(1).as_string::<i32>();
            for (i, deleted) in deleted_at(&batch).into_iter().enumerate() {
                let id = ids.value(i);
                let row = (names.value(i).to_string(), deleted);
                assert!(out.insert(id, row).is_none(), "key {id} written twice");
            }
        }
        out
    }

    /// The merged `items__lines`, sorted: parent id, text, `_deleted_at`.
    async fn lines(
        &self,
        files: &BTreeMap<String, Vec<FileEntry>>,
    ) -> Vec<(i64, String, Option<i64>)> {
        let mut out = Vec::new();
        for batch in self.read(files, "items__lines").await {
            let parents = batch.column(0).as_primitive::<Int64Type>();
            let texts = batch.column(1).as_string::<i32>();
            for (i, deleted) in deleted_at(&batch).into_iter().enumerate() {
                out.push((parents.value(i), texts.value(i).to_string(), deleted));
            }
        }
        out.sort();
        out
    }
}

fn deleted_at(batch: &RecordBatch) -> Vec<Option<i64>> {
    batch
        .column_by_name(DELETED_COLUMN)
        .expect("a current table has _deleted_at")
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

/// The expected `items`: id, name, `_deleted_at`.
fn items(rows: &[(i64, &str, Option<i64>)]) -> BTreeMap<i64, (String, Option<i64>)> {
    rows.iter()
        .map(|(id, name, deleted)| (*id, (name.to_string(), *deleted)))
        .collect()
}

/// The expected `items__lines`, sorted.
fn lines(rows: &[Line]) -> Vec<(i64, String, Option<i64>)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|(parent, text, deleted)| (*parent, text.to_string(), *deleted))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_delta_row_replaces_an_older_or_equally_old_previous_row() {
    let mut f = Fixture::new();
    f.previous(
        "items",
        current_items(&[
            (1, "prev", OLD, None),
            (2, "prev", NEW, None),
            (3, "prev", OLD, None),
        ]),
    )
    .await;
    f.delta(
        "items",
        raw_items(&[(1, "delta", NEW), (2, "delta", NEW), (4, "delta", OLD)]),
    )
    .await;
    let out = f.merge(Coverage::Nothing).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[
            (1, "delta", None),
            (2, "delta", None),
            (3, "prev", None),
            (4, "delta", None),
        ])
    );
}

#[tokio::test]
async fn a_previous_row_with_a_larger_cursor_beats_the_delta() {
    let mut f = Fixture::new();
    f.previous("items", current_items(&[(1, "prev", NEW, None)]))
        .await;
    f.delta("items", raw_items(&[(1, "delta", OLD)])).await;
    let out = f.merge(Coverage::Nothing).await.expect("merge");
    assert_eq!(f.items(&out).await, items(&[(1, "prev", None)]));
}

#[tokio::test]
async fn within_the_delta_the_newest_version_wins_and_ties_go_to_the_last() {
    let mut f = Fixture::new();
    f.delta("items", raw_items(&[(1, "newest", NEW), (2, "first", OLD)]))
        .await;
    f.delta("items", raw_items(&[(1, "older", OLD), (2, "last", OLD)]))
        .await;
    let out = f.merge(Coverage::Nothing).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[(1, "newest", None), (2, "last", None)])
    );
}

#[tokio::test]
async fn a_full_read_marks_the_rows_it_did_not_return_deleted_now() {
    let mut f = Fixture::new();
    f.previous(
        "items",
        current_items(&[
            (1, "prev", OLD, None),
            (2, "prev", OLD, None),
            (3, "prev", OLD, None),
        ]),
    )
    .await;
    f.delta("items", raw_items(&[(2, "delta", NEW)])).await;
    let out = f.merge(Coverage::Everything).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[
            (1, "prev", Some(NOW)),
            (2, "delta", None),
            (3, "prev", Some(NOW)),
        ])
    );
}

#[tokio::test]
async fn a_reconciliation_marks_exactly_its_gone_keys_deleted() {
    let mut f = Fixture::new();
    f.previous(
        "items",
        current_items(&[
            (1, "prev", OLD, None),
            (2, "prev", OLD, None),
            (3, "prev", OLD, None),
        ]),
    )
    .await;
    let gone = HashSet::from([Key::Int(3)]);
    let out = f.merge(Coverage::Keys(gone)).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[(1, "prev", None), (2, "prev", None), (3, "prev", Some(NOW))])
    );
}

#[tokio::test]
async fn a_window_re_read_marks_only_rows_inside_its_half_open_window_deleted() {
    let mut f = Fixture::new();
    let previous: Vec<Current> = (1..=5).map(|id| (id, "prev", OLD, None)).collect();
    f.previous("items", current_items(&previous)).await;
    f.delta("items", raw_items(&[(3, "delta", NEW)])).await;
    // Days 2 and 3: row 2 is missing from the re-read, row 3 was returned, row 4 starts on
    // the window's (excluded) end.
    let window = Coverage::Window {
        field: "starts_at".into(),
        from: 2 * DAY,
        to: 4 * DAY,
    };
    let out = f.merge(window).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[
            (1, "prev", None),
            (2, "prev", Some(NOW)),
            (3, "delta", None),
            (4, "prev", None),
            (5, "prev", None),
        ])
    );
}

#[tokio::test]
async fn a_delta_keeps_the_previous_rows_it_did_not_return_unchanged() {
    let mut f = Fixture::new();
    f.previous(
        "items",
        current_items(&[(1, "prev", OLD, None), (2, "prev", OLD, Some(EARLIER))]),
    )
    .await;
    f.delta("items", raw_items(&[(3, "delta", NEW)])).await;
    let out = f.merge(Coverage::Nothing).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[
            (1, "prev", None),
            (2, "prev", Some(EARLIER)),
            (3, "delta", None),
        ])
    );
}

#[tokio::test]
async fn a_row_already_marked_deleted_keeps_its_first_stamp() {
    let mut f = Fixture::new();
    f.previous("items", current_items(&[(1, "prev", OLD, Some(EARLIER))]))
        .await;
    f.previous("items__lines", current_lines(&[(1, "a", Some(EARLIER))]))
        .await;
    let out = f.merge(Coverage::Everything).await.expect("merge");
    assert_eq!(f.items(&out).await, items(&[(1, "prev", Some(EARLIER))]));
    assert_eq!(f.lines(&out).await, lines(&[(1, "a", Some(EARLIER))]));
}

#[tokio::test]
async fn children_follow_their_parent() {
    let mut f = Fixture::new();
    f.previous(
        "items",
        current_items(&[
            (1, "prev", OLD, None),
            (2, "prev", OLD, None),
            (3, "prev", NEW, None),
            (4, "prev", OLD, None),
        ]),
    )
    .await;
    f.previous(
        "items__lines",
        current_lines(&[
            (1, "1a", None),
            (1, "1b", None),
            (2, "2a", None),
            (3, "3a", None),
            (4, "4a", None),
        ]),
    )
    .await;
    // 1 is replaced (its lines too), 3 loses to its newer previous version (its delta lines
    // are dropped), 5 is new; 2 is gone from Dentally; 4 is untouched.
    f.delta(
        "items",
        raw_items(&[(1, "delta", NEW), (3, "delta", OLD), (5, "delta", OLD)]),
    )
    .await;
    f.delta(
        "items__lines",
        raw_lines(&[(1, "1z", None), (3, "3z", None), (5, "5a", None)]),
    )
    .await;
    let gone = HashSet::from([Key::Int(2)]);
    let out = f.merge(Coverage::Keys(gone)).await.expect("merge");
    assert_eq!(
        f.items(&out).await,
        items(&[
            (1, "delta", None),
            (2, "prev", Some(NOW)),
            (3, "prev", None),
            (4, "prev", None),
            (5, "delta", None),
        ])
    );
    assert_eq!(
        f.lines(&out).await,
        lines(&[
            (1, "1z", None),
            (2, "2a", Some(NOW)),
            (3, "3a", None),
            (4, "4a", None),
            (5, "5a", None),
        ])
    );
}

#[tokio::test]
async fn a_deleted_row_a_delta_returns_is_live_again_with_its_new_children() {
    let mut f = Fixture::new();
    f.previous("items", current_items(&[(1, "prev", OLD, Some(EARLIER))]))
        .await;
    f.previous("items__lines", current_lines(&[(1, "1a", Some(EARLIER))]))
        .await;
    // Same cursor: the tie goes to the delta.
    f.delta("items", raw_items(&[(1, "delta", OLD)])).await;
    f.delta("items__lines", raw_lines(&[(1, "1b", None)])).await;
    let out = f.merge(Coverage::Everything).await.expect("merge");
    assert_eq!(f.items(&out).await, items(&[(1, "delta", None)]));
    assert_eq!(f.lines(&out).await, lines(&[(1, "1b", None)]));
}

#[tokio::test]
async fn a_previous_file_with_other_columns_is_an_error() {
    let mut f = Fixture::new();
    let renamed = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("title", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        renamed,
        vec![
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(StringArray::from(vec!["prev"])),
        ],
    )
    .expect("renamed columns");
    f.previous("items", batch).await;
    f.delta("items", raw_items(&[(2, "delta", NEW)])).await;
    match f.merge(Coverage::Everything).await {
        Err(SinkError::PreviousColumns { expected, found }) => {
            assert!(
                expected.starts_with("id: Int64, name: Utf8, "),
                "{expected}"
            );
            assert_eq!(found, "id: Int64, title: Utf8");
        }
        other => panic!("expected PreviousColumns, got {other:?}"),
    }
}

#[tokio::test]
async fn a_previous_cursor_in_another_time_unit_is_an_error_not_a_panic() {
    let mut f = Fixture::new();
    let millis = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("starts_at", utc_micros(), true),
        Field::new("updated_at", millis, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(StringArray::from(vec!["prev"])),
            timestamps([Some(DAY)]),
            Arc::new(TimestampMillisecondArray::from(vec![OLD / 1000]).with_timezone("UTC")),
        ],
    )
    .expect("millisecond cursor");
    f.previous("items", batch).await;
    f.delta("items", raw_items(&[(1, "delta", NEW)])).await;
    let result = f.merge(Coverage::Nothing).await;
    assert!(
        matches!(result, Err(SinkError::PreviousColumns { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_previous_deleted_stamp_in_another_time_unit_is_kept_in_micros() {
    let mut f = Fixture::new();
    let raw = raw_items(&[(1, "prev", OLD)]);
    let mut fields: Vec<Field> = raw
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let millis = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    fields.push(Field::new(DELETED_COLUMN, millis, true));
    let mut columns = raw.columns().to_vec();
    columns.push(Arc::new(
        TimestampMillisecondArray::from(vec![EARLIER / 1000]).with_timezone("UTC"),
    ));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("millisecond _deleted_at");
    f.previous("items", batch).await;
    let out = f.merge(Coverage::Everything).await.expect("merge");
    assert_eq!(f.items(&out).await, items(&[(1, "prev", Some(EARLIER))]));
}
