//! One file per subcommand: each turns arguments into calls on the modules below and
//! returns the exit code.

mod completions;
mod config;
mod doctor;
mod init;
mod profiles;
mod run;

use std::ffi::OsString;

use crate::cli::{Cli, Command};

/// How commands read the environment: passed in, so tests never mutate the process env.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let env = |k: &str| std::env::var_os(k);
    match cli.command {
        None => run::run(&cli.run, &env),
        Some(Command::Run(args)) => run::run(&args, &env),
        Some(Command::Profiles(args)) => profiles::run(&args, &env),
        Some(Command::Init(args)) => init::run(&args, &env),
        Some(Command::Doctor(args)) => doctor::run(&args, &env),
        Some(Command::Completions { shell }) => completions::completions(shell),
        Some(Command::Man) => completions::man(),
        Some(Command::Config(command)) => config::run(&command),
    }
}
