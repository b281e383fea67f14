//! agent-offload: hand a task to another coding agent CLI and wait for its summary.

mod atomic;
mod cli;
mod commands;
mod config;
mod cursor;
mod duration;
mod exit;
mod interface;
mod profile;
mod run;
mod skill;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("agent-offload: {err:#}");
            ExitCode::from(exit::code_for_error(&err))
        }
    }
}
