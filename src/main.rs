//! agent-offload: hand a task to another coding agent CLI and wait for its summary.

mod cli;
mod commands;
mod config;
mod duration;
mod exit;
mod interface;
mod profile;
mod run;
mod search_path;
mod status_line;
mod style;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The run-directory watch helper (`run::waiter`) is internal: it is not a clap
    // subcommand, so that completions and the man page never offer it.
    let mut args = std::env::args_os().skip(1);
    let result = if args
        .next()
        .is_some_and(|a| a == run::waiter::HELPER_COMMAND)
        && let (Some(dir), None) = (args.next(), args.next())
    {
        run::waiter::helper_main(std::path::Path::new(&dir))
    } else {
        commands::dispatch(cli::Cli::parse())
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("agent-offload: {err:#}");
            ExitCode::from(exit::code_for_error(&err))
        }
    }
}
