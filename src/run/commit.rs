//! The commit of one practice's run: manifest (with the models' reports), then the state, then
//! each table's publication (`crate::publish`: plain files drop the previous run's files, Delta
//! tables commit), then `_runs/latest.json`. A crash between any two steps leaves a consistent
//! set of current files that some manifest names (design §4), and for Delta a table at the old
//! version or the new one.

use std::sync::atomic::Ordering;

use chrono::Utc;

use super::context::RunContext;
use super::{RunError, RunOutcome, manifest_path};
use crate::config::Pipeline;
use crate::hooks::crash_point;
use crate::manifest::{ApiEntry, Manifest, ResourceEntry, Status};
use crate::publish::TableUpdate;
use crate::publish::latest::write_latest;

pub(super) async fn commit(
    ctx: &RunContext,
    pipeline: &Pipeline,
    practice: Option<&str>,
    resources: Vec<ResourceEntry>,
) -> Result<RunOutcome, RunError> {
    let stats = ctx.client.stats();
    let failed = resources.iter().any(|r| r.status == Status::Failed);
    let partial = resources
        .iter()
        .any(|r| !matches!(r.status, Status::Succeeded | Status::Unavailable));
    let mut manifest = Manifest {
        models: Vec::new(),
        version: 1,
        run_id: ctx.run_id.clone(),
        pipeline: pipeline.name.clone(),
        practice: practice.map(str::to_string),
        practice_id: ctx.practice_id.clone(),
        started_at: ctx.started.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        status: if failed && resources.iter().all(|r| r.status == Status::Failed) {
            Status::Failed
        } else if partial {
            Status::Partial
        } else {
            Status::Succeeded
        },
        output: ctx.loc.display().to_string(),
        format: pipeline.output.format,
        api: ApiEntry {
            base_url: ctx.client.base_url().to_string(),
            requests: stats.requests.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
            rate_limited: stats.rate_limited.load(Ordering::Relaxed),
            waited_seconds: stats.waited_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            budget: ctx.client.budget().snapshot(),
            read_only: ctx.read_only,
        },
        resources,
    };
    // Models read the new current files (they exist now); their reports go in the manifest.
    if manifest.status != Status::Failed && !pipeline.models.is_empty() {
        manifest.models =
            crate::models::run_models(&ctx.loc, &manifest, &pipeline.models, &ctx.run_id).await;
        if manifest
            .models
            .iter()
            .any(crate::manifest::ModelReport::is_failed)
        {
            manifest.status = Status::Partial;
        }
    }
    let path = manifest_path(&ctx.part, &ctx.run_id);
    crate::hooks::pause_point("before-manifest");
    ctx.loc.put_json_atomic(&path, &manifest).await?;
    crash_point("after-manifest");
    // State before removing the old files: a crash in between leaves stale files (removed by the
    // next run), never a state naming files that are gone.
    let committed: Vec<&ResourceEntry> = manifest
        .resources
        .iter()
        .filter(|r| r.status.committed())
        .collect();
    let now = ctx.started.to_rfc3339();
    ctx.state
        .update_each(
            &committed,
            |r| &r.name,
            |r, s| {
                s.last_run = Some(ctx.run_id.clone());
                s.cursor.clone_from(&r.cursor);
                s.tables = r
                    .tables
                    .iter()
                    .map(|t| {
                        (
                            t.name.clone(),
                            t.files.iter().map(|f| f.path.clone()).collect(),
                        )
                    })
                    .collect();
                s.schemas = r
                    .tables
                    .iter()
                    .map(|t| (t.name.clone(), t.schema_hash.clone()))
                    .collect();
                s.rows = r.tables.first().map(|t| t.rows);
                if r.window.is_some() {
                    s.window.clone_from(&r.window);
                }
                if r.reconciled {
                    s.last_reconcile = Some(now.clone());
                    s.runs_since_reconcile = 0;
                } else {
                    s.runs_since_reconcile += 1;
                }
            },
        )
        .await?;
    for r in &committed {
        ctx.state.set_checkpoint(&r.name, None).await?;
    }
    crash_point("after-state");
    // Publication (the table format's seam): plain files drop the replaced ones, Delta commits.
    let publisher = crate::publish::publisher(&pipeline.output.tables);
    let mut versions = Vec::new();
    for r in manifest.resources.iter().filter(|r| r.status.committed()) {
        for t in &r.tables {
            let update = TableUpdate {
                table: &t.name,
                part: &ctx.part,
                practice,
                files: &t.files,
                run_id: &ctx.run_id,
            };
            let done = publisher.publish(&ctx.loc, &update).await?;
            versions.push((t.name.clone(), done.version));
        }
    }
    let committed: Vec<&'static crate::catalog::Resource> = manifest
        .resources
        .iter()
        .filter_map(|r| crate::catalog::find(&r.name))
        .collect();
    super::cleanup::apply_raw_retention(
        &ctx.loc,
        &ctx.state,
        &committed,
        &ctx.part,
        pipeline.output.raw_retention_days,
    )
    .await?;
    crash_point("before-latest");
    if manifest.status != Status::Failed {
        let format = publisher.format();
        write_latest(&ctx.loc, &ctx.part, &path, &manifest, format, &versions).await?;
    }
    let exit_code = if manifest.status == Status::Succeeded {
        0
    } else {
        4
    };
    Ok(RunOutcome {
        manifests: vec![manifest],
        failures: Vec::new(),
        manifest_path: path,
        exit_code,
    })
}
