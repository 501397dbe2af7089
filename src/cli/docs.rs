//! `completions <shell>` and `man`: generated from the clap definitions, so they never disagree
//! with `--help`. Packagers run them at build time (see the Dockerfile and the README).

use std::process::ExitCode;

use clap::CommandFactory;

use super::args::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dentally-etl", &mut out);
    super::print_stdout(&String::from_utf8_lossy(&out));
    ExitCode::SUCCESS
}

/// Prints the man page (roff) on stdout.
pub fn man() -> ExitCode {
    let mut out = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut out) {
        Ok(()) => {
            super::print_stdout(&String::from_utf8_lossy(&out));
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(1, &format!("cannot render the man page: {e}")),
    }
}
