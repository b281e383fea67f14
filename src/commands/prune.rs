//! `agent-offload prune [--older-than 7d]`: remove finished runs' directories, and the
//! worktrees of `--worktree` runs, never work that was neither applied nor merged.

use std::time::Duration;

use anyhow::{Context, Result};

use super::Env;
use crate::cli::PruneArgs;
use crate::run;

pub fn prune(args: &PruneArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let now = jiff::Timestamp::now();
    let (mut removed, mut kept) = (0usize, 0usize);
    let runs: Vec<_> = run::list(&root)
        .into_iter()
        .filter_map(|r| run::refresh(&r).ok().map(|m| (r, m)))
        .collect();
    // Worktrees a run continued from another works in too: (run id, path).
    let mut in_use: Vec<(String, std::path::PathBuf)> = runs
        .iter()
        .filter_map(|(r, m)| {
            let wt = m.worktree.as_ref().filter(|wt| wt.removed_at.is_none())?;
            Some((r.id.clone(), wt.path.clone()))
        })
        .collect();
    let mut gone_now: Vec<std::path::PathBuf> = Vec::new();
    for (run_dir, m) in runs {
        if !m.status.is_final() {
            continue;
        }
        let ended = m.finished_at.unwrap_or(m.started_at);
        let age = Duration::try_from(now.duration_since(ended)).unwrap_or(Duration::ZERO);
        if age < args.older_than {
            continue;
        }
        let mut note = String::new();
        if let Some(wt) = m.worktree.as_ref().filter(|wt| wt.removed_at.is_none()) {
            if let Some(work) = run::unsaved_work(wt) {
                super::outln!(
                    "kept {} ({}): its work was neither applied nor merged ({work}); \
                     agent-offload apply {0}, or discard {0} --force",
                    run_dir.id,
                    m.status.as_str()
                )?;
                kept += 1;
                continue;
            }
            let shared = in_use
                .iter()
                .find(|(id, path)| *id != run_dir.id && *path == wt.path)
                .map(|(id, _)| id.clone());
            // Another run's worktree stays; one removed by hand still has a branch and
            // an entry in git to remove.
            let mut remove = true;
            if let Some(other) = shared {
                note = format!("; its worktree stays for run {other}");
                remove = false;
            } else if !wt.path.exists() && !gone_now.contains(&wt.path) {
                note = format!(
                    ", its worktree {} was already removed by hand",
                    wt.path.display()
                );
            }
            if !args.dry_run
                && remove
                && let Err(err) = run::remove_worktree(wt, || run::working_in(&root, &wt.path))
            {
                super::outln!("kept {} ({}): {err:#}", run_dir.id, m.status.as_str())?;
                kept += 1;
                continue;
            }
            if note.is_empty() {
                note = format!(" with its worktree and branch {}", wt.branch);
                gone_now.push(wt.path.clone());
            }
        }
        in_use.retain(|(id, _)| *id != run_dir.id);
        if args.dry_run {
            super::outln!("would remove {} ({}){note}", run_dir.id, m.status.as_str())?;
        } else {
            std::fs::remove_dir_all(&run_dir.path)
                .with_context(|| format!("cannot remove {}", run_dir.path.display()))?;
            super::outln!("removed {} ({}){note}", run_dir.id, m.status.as_str())?;
        }
        removed += 1;
    }
    say!(
        "agent-offload: {} {removed} finished run{}{}{}",
        if args.dry_run {
            "would remove"
        } else {
            "removed"
        },
        if removed == 1 { "" } else { "s" },
        if args.older_than.is_zero() {
            String::new()
        } else {
            format!(" older than {}", crate::duration::human(args.older_than))
        },
        if kept > 0 {
            format!("; kept {kept} with work not taken")
        } else {
            String::new()
        }
    );
    Ok(0)
}
