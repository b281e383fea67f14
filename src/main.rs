//! agent-offload: hand a task to another coding agent CLI and wait for its summary.

/// A line on stderr, as `eprintln!` writes it, except that a stderr nobody reads any
/// more (`2>&1 | head -1`, a host that closed the pipe) is not a panic: what cannot be
/// said is dropped, and the command goes on to its own end and exit code.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod agents;
mod atomic;
mod cli;
mod commands;
mod config;
mod duration;
mod exit;
mod git;
mod interface;
#[cfg(test)]
mod layers;
mod names;
mod os;
mod outcome;
mod pane;
mod profile;
mod run;
mod search_path;
mod session_id;
mod shell;
mod skill;
mod status_line;
mod store;
mod style;
mod usage;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A completion request from the script `completions SHELL` printed: answered and
    // exited here, before anything else reads the arguments.
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command)
        .var(commands::completions::COMPLETE_VAR)
        .complete();
    let result = match internal_command() {
        Some(result) => result,
        None => commands::dispatch(cli::Cli::parse()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            say!("agent-offload: {err:#}");
            ExitCode::from(exit::code_for_error(&err))
        }
    }
}

/// The internal helpers agent-offload starts itself — a detached run's guard
/// (`__guard DIR`, see `run::ensure_guard`), a detached fan-out's keeper (`__fanout
/// DIR`, see `commands::fanout`), a pane's first process (`__pane DIR`, see
/// `run::pane_leader`) and a headless run's relay (`__relay`) — are not clap
/// subcommands, so that completions and the man page never offer them.
fn internal_command() -> Option<anyhow::Result<u8>> {
    let mut args = std::env::args_os().skip(1);
    let command = args.next()?;
    if command == run::RELAY_COMMAND {
        return Some(run::relay_main(&args.collect::<Vec<_>>()));
    }
    let (Some(dir), None) = (args.next(), args.next()) else {
        return None;
    };
    let dir = std::path::Path::new(&dir);
    if command == run::GUARD_COMMAND {
        Some(run::guard_main(dir))
    } else if command == commands::FANOUT_KEEPER_COMMAND {
        Some(commands::fanout_keeper_main(dir))
    } else if command == run::PANE_COMMAND {
        Some(run::pane_main(dir))
    } else {
        None
    }
}
