//! `agent-offload wait [RUN]`: wait for a run again, exactly as `run` would have.

use anyhow::Result;

use super::{Env, report};
use crate::cli::WaitArgs;
use crate::run::{self, Manifest, Signals};

pub fn run(args: &WaitArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run = match &args.run {
        Some(spec) => match run::resolve(&root, spec) {
            Ok(run) => run,
            // Not a run: a fan-out, waited for as a whole.
            Err(err) => match super::fanout::find(&root, spec) {
                Some(fanout) => {
                    let limits = super::fanout::Limits {
                        timeout: args.timeout,
                        detach_after: args.detach_after,
                    };
                    return super::fanout::wait(&fanout, args.json, limits);
                }
                None => return Err(err),
            },
        },
        None => super::run_or_newest_here(&root, None)?,
    };
    let signals = Signals::install()?;
    let manifest = Manifest::load(&run)?;
    if !manifest.status.is_final() {
        say!(
            "agent-offload: waiting for run {} ({}, {}); directory {}",
            run.id,
            manifest.profile,
            manifest.mode.as_str(),
            run.path.display()
        );
    }
    let finish = run::attach(run, &signals, args.timeout, args.detach_after, false)?;
    let finish = report::check(finish, &signals, args.timeout, false)?;
    report::print(&finish, args.json, false)
}
