//! The sink against a real S3 server (moto on loopback): multipart uploads, errors that name the
//! bucket, and a server that goes away in the middle of an upload.
//!
//! moto accepts any access key and secret, so a wrong secret cannot be tested here: signature
//! checks need `s3s-fs` (`cargo install s3s-fs`, see `docs/toolchain.md`), which these tests do
//! not install. Missing buckets and dead endpoints are what moto can show.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use dentally_etl::sink::{
    FileWriter, Format, Location, ParquetOptions, SinkError, StoreOptions, read_parquet,
};
use futures::TryStreamExt;

use crate::s3_server::MotoServer;

/// Rows of [`random_batch`] per MiB of text.
const ROWS_PER_MIB: usize = 1024;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]))
}

/// `rows` rows of 1 KiB random alphanumeric text: about 0.75 KiB each after compression, so the
/// encoded size tracks the row count.
fn random_batch(first_id: i64, rows: usize) -> RecordBatch {
    let mut rng = fastrand::Rng::with_seed(first_id.unsigned_abs());
    let ids = Int64Array::from_iter_values(first_id..first_id + rows as i64);
    let payload: StringArray = (0..rows)
        .map(|_| Some((0..1024).map(|_| rng.alphanumeric()).collect::<String>()))
        .collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(payload)];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// Small row groups, so encoded bytes reach the upload while the file is being written.
fn streaming_parquet() -> Format {
    Format::Parquet(ParquetOptions {
        max_row_group_bytes: 2 << 20,
        ..ParquetOptions::default()
    })
}

fn location(server: &MotoServer, url: &str) -> Location {
    Location::parse_with_env(url, &StoreOptions::default(), &server.env()).unwrap()
}

async fn keys(loc: &Location, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = (loc.list(prefix).await.unwrap().iter())
        .filter_map(|m| loc.relative(&m.location))
        .collect();
    keys.sort();
    keys
}

/// The error and its causes, one per line.
fn chain(err: &SinkError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn multipart_parquet_round_trips_and_appears_only_on_finish() {
    let server = MotoServer::start();
    let loc = location(&server, &format!("s3://{}/exports/v1", server.bucket()));
    let batches: Vec<RecordBatch> = (0..8)
        .map(|i| random_batch(i * 4 * ROWS_PER_MIB as i64, 4 * ROWS_PER_MIB))
        .collect();

    let mut file =
        FileWriter::create(&loc, "big/part-0.parquet", schema(), &streaming_parquet()).unwrap();
    for batch in &batches {
        file.write(batch).await.unwrap();
    }
    assert!(keys(&loc, "").await.is_empty(), "visible before finish");
    let report = file.finish().await.unwrap();
    assert_eq!(report.rows, 32 * ROWS_PER_MIB as u64);
    assert!(
        report.bytes > 20 << 20,
        "needs several 10 MiB parts: {report:?}"
    );

    let listed = loc.list("big").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].location.as_ref(), "exports/v1/big/part-0.parquet");
    assert_eq!(listed[0].size, report.bytes);

    let back = read_parquet(&loc, "big/part-0.parquet", 8192)
        .await
        .unwrap();
    assert_eq!(back.schema(), schema());
    assert!(back.row_groups().len() > 1, "{:?}", back.row_groups());
    let read: Vec<RecordBatch> = back.try_collect().await.unwrap();
    let expected = concat_batches(&schema(), &batches).unwrap();
    assert_eq!(concat_batches(&schema(), &read).unwrap(), expected);
}

#[tokio::test]
async fn aborted_upload_leaves_nothing_and_csv_uses_multipart_too() {
    let server = MotoServer::start();
    let loc = location(&server, &format!("s3://{}/out", server.bucket()));
    let mut dropped =
        FileWriter::create(&loc, "t/dropped.parquet", schema(), &streaming_parquet()).unwrap();
    let mut csv = FileWriter::create(&loc, "t/kept.csv", schema(), &Format::Csv).unwrap();
    for i in 0..4 {
        let batch = random_batch(i * 4096, 4 * ROWS_PER_MIB);
        dropped.write(&batch).await.unwrap();
        csv.write(&batch).await.unwrap();
    }
    dropped.abort().await.unwrap();
    assert!(keys(&loc, "").await.is_empty());
    let report = csv.finish().await.unwrap();
    assert!(report.bytes > 16 << 20, "{report:?}");
    let listed = loc.list("t").await.unwrap();
    assert_eq!(keys(&loc, "").await, ["t/kept.csv"]);
    assert_eq!(listed[0].size, report.bytes);
}

#[tokio::test]
async fn missing_bucket_errors_name_the_bucket() {
    let server = MotoServer::start();
    let mut env = server.env();
    env.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY".into(), "sekrit-do-not-print".into()));
    let loc = Location::parse_with_env("s3://no-such-bucket/out", &StoreOptions::default(), &env)
        .unwrap();

    // A small file (one PUT), a large one (a multipart upload), a JSON object, a read, a list.
    let mut small = FileWriter::create(&loc, "t/a.parquet", schema(), &Format::default()).unwrap();
    small.write(&random_batch(0, 10)).await.unwrap();
    let mut errors = vec![small.finish().await.unwrap_err()];

    let mut large =
        FileWriter::create(&loc, "t/b.parquet", schema(), &streaming_parquet()).unwrap();
    let mut failed = None;
    for i in 0..4 {
        let batch = random_batch(i * 4096, 4 * ROWS_PER_MIB);
        if let Err(e) = large.write(&batch).await {
            failed = Some(e);
            break;
        }
    }
    errors.push(match failed {
        Some(e) => e,
        None => large.finish().await.unwrap_err(),
    });
    errors.push(loc.put_json_atomic("_runs/r.json", &1).await.unwrap_err());
    errors.push(read_parquet(&loc, "t/a.parquet", 10).await.err().unwrap());
    errors.push(loc.list("t").await.unwrap_err());

    for err in &errors {
        let text = chain(err);
        eprintln!("{text}\n");
        assert!(
            err.to_string().contains("`s3://no-such-bucket/out`"),
            "names the location: {text}"
        );
        assert!(text.contains("bucket"), "says to check the bucket: {text}");
        assert!(
            !text.contains("sekrit"),
            "no credential in the message: {text}"
        );
    }
    for (err, key) in errors[..3]
        .iter()
        .zip(["t/a.parquet", "t/b.parquet", "_runs/r.json"])
    {
        assert_eq!(
            err.to_string(),
            format!(
                "Cannot write `{key}` at `s3://no-such-bucket/out`; the bucket or container \
                 does not exist: create it, or check the output URL"
            )
        );
    }
}

#[tokio::test]
async fn server_lost_mid_upload_fails_and_publishes_nothing() {
    let mut server = MotoServer::start();
    let loc = location(&server, &format!("s3://{}/out", server.bucket()));
    let mut file =
        FileWriter::create(&loc, "t/part-0.parquet", schema(), &streaming_parquet()).unwrap();
    // 16 MiB: at least one 10 MiB part is uploaded, so a multipart upload is in progress.
    for i in 0..4 {
        let batch = random_batch(i * 4096, 4 * ROWS_PER_MIB);
        file.write(&batch).await.unwrap();
    }

    // The server dies; it comes back (empty, as moto keeps nothing) while the client retries.
    server.stop();
    let restart = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        server.restart();
        server
    });
    let mut result = Ok(());
    for i in 4..8 {
        let batch = random_batch(i * 4096, 4 * ROWS_PER_MIB);
        result = file.write(&batch).await;
        if result.is_err() {
            break;
        }
    }
    let err = match result {
        Ok(()) => file.finish().await.unwrap_err(),
        Err(e) => {
            eprintln!("the failure surfaced in `write`; aborting");
            e
        }
    };
    let text = chain(&err);
    eprintln!("{text}");
    let server = tokio::task::spawn_blocking(|| restart.join().unwrap())
        .await
        .unwrap();
    let display = format!("s3://{}/out", server.bucket());
    // The retried request reaches the new server either before the bucket is created again
    // (`NoSuchBucket`) or after (`NoSuchUpload`): both are a clear storage error for this file.
    let message = err.to_string();
    let prefix = format!("Cannot write `t/part-0.parquet` at `{display}`; ");
    let hint = message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        hint.starts_with("the server no longer knows this multipart upload")
            || hint.starts_with("the bucket or container does not exist"),
        "{text}"
    );
    assert!(keys(&loc, "").await.is_empty(), "nothing is published");
}
