//! `agent-offload cancel RUN`: stop a run as a timeout would, status `cancelled`.

use anyhow::Result;

use super::Env;
use crate::cli::CancelArgs;
use crate::run::{self, Manifest, Status};

pub fn cancel(args: &CancelArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run_dir = run::resolve(&root, &args.run)?;
    let before = Manifest::load(&run_dir)?;
    let after = run::cancel(&run_dir)?;
    if before.status.is_final() {
        say!(
            "agent-offload: run {} had already ended ({}); nothing to cancel",
            run_dir.id,
            after.status.as_str()
        );
    } else {
        say!(
            "agent-offload: run {} {}",
            run_dir.id,
            match after.status {
                Status::Cancelled => "cancelled; the agent was stopped",
                Status::Lost => "was already gone (lost); recorded as such",
                _ => "ended on its own before it could be cancelled",
            }
        );
    }
    Ok(0)
}
