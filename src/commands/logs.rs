//! `agent-offload logs [RUN] [-f]`: the run's output log.
//!
//! The log is the agent's to write, like everything in the run directory: it is opened
//! through the run's reader for untrusted files (a regular file only, no symbolic link
//! followed, no blocking open) and streamed, never held in memory whole.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Env;
use crate::cli::LogsArgs;
use crate::run;

pub fn logs(args: &LogsArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run_dir = super::run_or_newest_here(&root, args.run.as_deref())?;
    let path = run_dir.log();
    let mut stdout = super::Stdout;
    let mut file = run_dir.open_log()?;
    // Copies from where the file stands to its current end.
    let mut copy = |file: &mut std::fs::File| -> Result<()> {
        std::io::copy(file, &mut stdout)
            .with_context(|| format!("cannot copy {} to stdout", path.display()))?;
        stdout.flush()?;
        Ok(())
    };
    if let Some(f) = file.as_mut() {
        copy(f)?;
    }
    if !args.follow || super::stdout_closed() {
        return Ok(0);
    }
    // Follow until the run is over: a poll is plenty for a person watching a log.
    loop {
        let over = run::refresh(&run_dir).is_ok_and(|m| m.status.is_final());
        if file.is_none() {
            file = run_dir.open_log()?;
        }
        if let Some(f) = file.as_mut() {
            copy(f)?;
        }
        // A reader that is gone (`logs -f | head`) reads no more.
        if over || super::stdout_closed() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
