//! The single integration-test binary: every test drives the real binary or the library against
//! the built-in sandbox over real HTTP on 127.0.0.1.

mod architecture;
mod cli;
mod cli_snapshots;
mod common;
mod deploy;
mod extract;
mod incremental;
mod interop;
mod lenient;
mod models;
mod paging;

mod ops;
mod practices;
mod preflight;
mod probe;
mod purge;
mod pyenv;
mod readme;
mod reconcile;
mod resilience;
mod s3;
mod s3_run;
mod s3_server;
mod sandbox;
mod security;
mod strategy;
mod tcp_proxy;
mod warehouse;
