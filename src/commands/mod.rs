//! One file per subcommand: each turns arguments into calls on the modules below and
//! returns the exit code.

mod cancel;
mod logs;
mod profiles;
mod prune;
mod report;
mod run;
mod runs;
mod show;
mod wait;

use std::ffi::OsString;

use crate::cli::{Cli, Command};

/// How commands read the environment: passed in, so tests never mutate the process env.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let env = |k: &str| std::env::var_os(k);
    match cli.command {
        None => run::run(&cli.run, &env),
        Some(Command::Run(args)) => run::run(&args, &env),
        Some(Command::Wait(args)) => wait::run(&args, &env),
        Some(Command::Runs(args)) => runs::runs(&args, &env),
        Some(Command::Show(args)) => show::show(&args, &env),
        Some(Command::Logs(args)) => logs::logs(&args, &env),
        Some(Command::Cancel(args)) => cancel::cancel(&args, &env),
        Some(Command::Prune(args)) => prune::prune(&args, &env),
        Some(Command::Profiles(args)) => profiles::run(&args, &env),
        Some(Command::Watch { dir }) => crate::run::waiter::helper_main(&dir),
        Some(Command::Guard { dir }) => crate::run::guard_main(&dir),
    }
}
