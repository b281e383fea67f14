//! `agent-offload completions SHELL` and `agent-offload man`: generated from the same
//! clap definitions as the parser, so they cannot disagree with it.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "agent-offload", &mut script);
    super::print_document(&script)?;
    Ok(0)
}

pub fn man() -> Result<u8> {
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    super::print_document(&page)?;
    Ok(0)
}
