//! dentally-etl: moves a dental practice's data out of the Dentally API into typed Parquet or CSV.
//!
//! The stages follow the data flow of `docs/design.md` §1:
//! `config` (parse, validate purely) → `api` (preflight, budget, retries) → `extract` (pages) →
//! `flatten` (JSON → Arrow) → `sink` (Parquet/CSV over object_store) → `run` (commit, manifest) →
//! `models` (polars SQL over the current tables). `metrics` leaves each run's figures for
//! Prometheus.
//! The `catalog` holds what we know of each Dentally resource; the `sandbox` is a faithful
//! emulator of the API, used by the tests and the `demo` command.
#![forbid(unsafe_code)]

pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod extract;
pub mod flatten;
mod hooks;
pub mod json;
pub mod manifest;
pub mod metrics;
pub mod models;
pub mod preflight;
pub mod publish;
pub mod purge;
pub mod reconcile;
pub mod run;
pub mod sandbox;
pub mod sink;
pub mod state;
pub mod table;
