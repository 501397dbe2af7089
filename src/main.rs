//! The `dentally-etl` binary: everything lives in the library; see `cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match dentally_etl::cli::Cli::try_parse() {
        Ok(cli) => dentally_etl::cli::main(cli),
        Err(e) => dentally_etl::cli::usage_error(&e),
    }
}
