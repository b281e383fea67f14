//! `agent-offload prune [--older-than 7d]`: remove finished runs' directories.

use std::time::Duration;

use anyhow::{Context, Result};

use super::Env;
use crate::cli::PruneArgs;
use crate::run;

pub fn prune(args: &PruneArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let now = jiff::Timestamp::now();
    let mut removed = 0usize;
    for run_dir in run::list(&root) {
        let Ok(m) = run::refresh(&run_dir) else {
            continue;
        };
        if !m.status.is_final() {
            continue;
        }
        let ended = m.finished_at.unwrap_or(m.started_at);
        let age = Duration::try_from(now.duration_since(ended)).unwrap_or(Duration::ZERO);
        if age < args.older_than {
            continue;
        }
        if args.dry_run {
            println!("would remove {} ({})", run_dir.id, m.status.as_str());
        } else {
            std::fs::remove_dir_all(&run_dir.path)
                .with_context(|| format!("cannot remove {}", run_dir.path.display()))?;
            println!("removed {} ({})", run_dir.id, m.status.as_str());
        }
        removed += 1;
    }
    eprintln!(
        "agent-offload: {} {removed} finished run{} older than {}",
        if args.dry_run {
            "would remove"
        } else {
            "removed"
        },
        if removed == 1 { "" } else { "s" },
        crate::duration::human(args.older_than)
    );
    Ok(0)
}
