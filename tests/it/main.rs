//! The single integration-test binary: every test drives the real binary or the library against
//! the built-in sandbox over real HTTP on 127.0.0.1.

mod cli;
mod common;
mod interop;
mod models;
mod pyenv;
mod s3;
mod s3_server;
