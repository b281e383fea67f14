//! `agent-offload completions SHELL` and `agent-offload man`: generated from the same
//! clap definitions as the parser, so they cannot disagree with it.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "agent-offload", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(0)
}

pub fn man() -> Result<u8> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(0)
}
