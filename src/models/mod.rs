//! Models: user SQL over the current tables, run with polars after a run commits (design §1).
//!
//! A pipeline's `[[models]]` each name a query; after the manifest of a run exists, every model
//! runs over the current tables that manifest lists (one polars `LazyFrame` per table, over the
//! table's current Parquet files) and its result becomes
//! `_models/<name>/part-<run_id>-0000.parquet`, or `_models/<name>/practice=<p>/…` for a practice
//! of a multi-practice pipeline (whose manifest lists that practice's partition only). The
//! previous files of the model are removed only once the new one exists, so a reader of
//! `_models/<name>/` always finds a complete result.
//!
//! Models are user outputs: their columns have whatever types polars gives (`LargeUtf8` strings,
//! polars' decimals and datetimes), not the strict contract of the data tables (see
//! `docs/DECISIONS.md`). A failing model never touches the data tables; it is reported with its
//! name (and the position in its SQL, when polars gives one) and makes the run partial.
//!
//! Local outputs are read in place; for object stores the needed current files are first copied
//! to a temporary directory through our own `object_store` (polars' cloud features would bring a
//! second HTTP and storage stack), and the result is uploaded the same way.

// Without the `models` feature the staging and publishing code has no caller.
#![cfg_attr(not(feature = "models"), allow(dead_code))]

#[cfg(feature = "models")]
mod engine;
#[cfg(feature = "models")]
mod functions;
mod inputs;
mod publish;

use crate::manifest::Manifest;
pub use crate::manifest::ModelReport;
use crate::sink::Location;

pub use crate::config::ModelSpec;
/// `_models/<name>/[practice=<p>/]part-<run_id>-0000.parquet`.
pub fn model_file(name: &str, practice: Option<&str>, run_id: &str) -> String {
    format!("{}part-{run_id}-0000.parquet", model_dir(name, practice))
}

/// The folder of a model's result: in a multi-practice pipeline each practice's run sees its own
/// partition of the tables, so its model results form the same `practice=<p>/` partition.
pub fn model_dir(name: &str, practice: Option<&str>) -> String {
    let part = practice.map_or_else(String::new, |p| format!("practice={p}/"));
    format!("_models/{name}/{part}")
}

/// Without the `models` feature: every model fails, saying how to get them.
#[cfg(not(feature = "models"))]
pub async fn run_models(
    _loc: &Location,
    _manifest: &Manifest,
    models: &[ModelSpec],
    _run_id: &str,
) -> Vec<ModelReport> {
    let why = "this dentally-etl was built without SQL models (`--no-default-features`); \
               build it with the default features to run `[[models]]`";
    fail_all(models, why)
}

/// Runs every model over the current tables listed in `manifest`, one after the other, and
/// reports each. Never fails as a whole: a problem (a bad query, an unreadable input, a failed
/// upload) fails the models it concerns, with a message naming them.
#[cfg(feature = "models")]
pub async fn run_models(
    loc: &Location,
    manifest: &Manifest,
    models: &[ModelSpec],
    run_id: &str,
) -> Vec<ModelReport> {
    if models.is_empty() {
        return Vec::new();
    }
    if manifest.format != crate::config::OutputFormat::Parquet {
        let why = format!(
            "models read Parquet current tables, and this output is `{}`; set `format = \"parquet\"` in [output]",
            manifest.format.extension()
        );
        return fail_all(models, &why);
    }
    let tables = inputs::current_tables(manifest);
    let needed = inputs::referenced(&tables, models);
    let staged = match inputs::stage(loc, &tables, &needed).await {
        Ok(staged) => staged,
        Err(e) => return fail_all(models, &format!("cannot read the current tables: {e}")),
    };
    let practice = manifest.practice.as_deref();
    let mut reports = Vec::with_capacity(models.len());
    for model in models {
        let report = run_one(loc, &staged, model, practice, run_id).await;
        match &report.error {
            Some(e) => tracing::warn!(model = %model.name, "{e}"),
            None => tracing::info!(model = %model.name, rows = report.rows, "Model written."),
        }
        reports.push(report);
    }
    reports
}

fn fail_all(models: &[ModelSpec], why: &str) -> Vec<ModelReport> {
    models
        .iter()
        .map(|m| ModelReport::failed(&m.name, format!("model `{}` failed: {why}", m.name)))
        .collect()
}

#[cfg(feature = "models")]
async fn run_one(
    loc: &Location,
    staged: &inputs::Staged,
    model: &ModelSpec,
    practice: Option<&str>,
    run_id: &str,
) -> ModelReport {
    let rel = model_file(&model.name, practice, run_id);
    let target = match publish::Target::new(loc, &rel) {
        Ok(t) => t,
        Err(e) => return ModelReport::failed(&model.name, failure(model, &e)),
    };
    let tables = staged.tables().to_vec();
    let sql = model.sql.clone();
    let path = target.path().to_path_buf();
    let result = tokio::task::spawn_blocking(move || engine::execute(&tables, &sql, &path)).await;
    let rows = match result {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            target.discard();
            return ModelReport::failed(&model.name, engine::describe(&model.name, &e));
        }
        Err(join) => {
            target.discard();
            return ModelReport::failed(&model.name, failure(model, &join));
        }
    };
    if let Err(e) = target.publish(loc).await {
        return ModelReport::failed(&model.name, failure(model, &e));
    }
    if let Err(e) = publish::remove_old(loc, &model_dir(&model.name, practice), &rel).await {
        tracing::warn!(model = %model.name, "cannot remove the previous result: {e}");
    }
    ModelReport {
        name: model.name.clone(),
        status: crate::manifest::Status::Succeeded,
        error: None,
        rows,
        file: Some(rel),
    }
}

fn failure(model: &ModelSpec, e: &dyn std::fmt::Display) -> String {
    format!("model `{}` failed: {e}", model.name)
}

#[cfg(all(test, feature = "models"))]
mod tests;
