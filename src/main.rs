//! The `dentally-etl` binary: everything lives in the library; see `cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    dentally_etl::cli::main(dentally_etl::cli::Cli::parse())
}
