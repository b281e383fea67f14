//! `agent-offload completions SHELL`: generated from the same clap definitions as the
//! parser, so it cannot disagree with it.

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
