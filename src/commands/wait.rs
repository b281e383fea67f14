//! `agent-offload wait [RUN]`: wait for a run again, exactly as `run` would have.

use anyhow::Result;

use super::{Env, report};
use crate::cli::WaitArgs;
use crate::run::{self, Manifest, Signals};

pub fn run(args: &WaitArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run = super::run_or_newest_here(&root, args.run.as_deref())?;
    let signals = Signals::install()?;
    let manifest = Manifest::load(&run)?;
    if !manifest.status.is_final() {
        eprintln!(
            "agent-offload: waiting for run {} ({}, {}); directory {}",
            run.id,
            manifest.profile,
            manifest.mode.as_str(),
            run.path.display()
        );
    }
    let finish = run::attach(run, &signals, args.timeout, args.detach_after, false)?;
    report::print(&finish, args.json, false)
}
