//! `--check CMD`: a shell command run in the agent's directory (its worktree) once the
//! run has ended, its output kept in `check.log` and its result in `run.json`. It runs
//! in a process group of its own, bounded in time, and is stopped with the group on a
//! signal to agent-offload. Nothing it starts outlives it: when its shell ends, the
//! stop sweep (`stop::terminate`) ends the rest of its group, and what left the group
//! (`setsid`) but was re-parented to us, the child subreaper (Linux). A failed check
//! makes a done run exit 7 (`exit::after_check`).

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::os::signals::Signals;
use crate::os::{self as sys, stop};
use crate::store::dir::{Manifest, RunDir};
use crate::store::lock::RunLock;
pub use crate::store::record::Check;

pub const LOG: &str = "check.log";

impl Check {
    pub fn asked(command: &str) -> Check {
        Check {
            command: command.to_owned(),
            passed: None,
            exit_code: None,
            seconds: None,
            stopped: None,
            signal: None,
            log: None,
        }
    }
}

/// Runs the run's check if it asked for one that has not run yet; returns the result
/// (`Ok(None)`: no check). A signal to us stops it and is returned as `Err`-free
/// `stopped`, the caller deciding what the signal means.
pub fn run_pending(run: &RunDir, signals: &Signals, limit: Duration) -> Result<Option<Check>> {
    let manifest = Manifest::load(run)?;
    let Some(asked) = manifest.check.clone() else {
        return Ok(None);
    };
    // A signal already pending ended the run (128 + n): no check starts after it.
    if asked.passed.is_some() || !manifest.status.is_final() || signals.pending().is_some() {
        return Ok(Some(asked));
    }
    let log_path = run.file(LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let started = Instant::now();
    // What the check daemonises (`setsid`, a double fork) is re-parented to us, so the
    // sweep below finds it too (Linux; elsewhere its process group and parent chain).
    let _ = stop::adopt_orphans();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&asked.command)
        .current_dir(&manifest.cwd)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env("AGENT_OFFLOAD_RUN_DIR", &run.path)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start the check {:?}", asked.command))?;
    let shell = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let mut stopped = None;
    let mut signal = None;
    // Until the shell is collected its pid, and so its process group id, stays ours.
    while !sys::child_exited(shell) {
        if started.elapsed() >= limit {
            stopped = Some(format!(
                "stopped after {} (its time limit)",
                crate::duration::human(limit)
            ));
            break;
        }
        if let Some(sig) = signals.pending() {
            stopped = Some(format!("stopped by signal {sig} to agent-offload"));
            signal = Some(sig);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    // Nothing the check started outlives it: what it left running in the background
    // (`server &`) is stopped with its group when its shell ends, or is stopped.
    stop::terminate(shell, stop::GRACE);
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for the check {:?}", asked.command))?;
    let result = Check {
        command: asked.command,
        passed: Some(status.success() && stopped.is_none()),
        exit_code: status.code(),
        seconds: Some((took.as_secs_f64() * 1000.0).round() / 1000.0),
        stopped,
        signal,
        log: Some(log_path),
    };
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    manifest.check = Some(result.clone());
    // run.json's code is the one the command exits with (a failed check: 7).
    manifest.agent_offload_exit = Some(manifest.exit_code());
    manifest.save(run)?;
    Ok(Some(result))
}

/// `passed`, `failed (exit 101)`, `stopped after 30m (its time limit)`, `not run`.
pub fn describe(c: &Check) -> String {
    match (c.passed, &c.stopped, c.exit_code) {
        (None, ..) => "not run".to_owned(),
        (Some(true), ..) => "passed".to_owned(),
        (Some(false), Some(why), _) => why.clone(),
        (Some(false), None, Some(code)) => format!("failed (exit {code})"),
        (Some(false), None, None) => "failed".to_owned(),
    }
}
