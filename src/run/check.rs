//! `--check CMD`: a shell command run in the agent's directory (its worktree) once the
//! run has ended, its output kept in `check.log` and its result in `run.json`. It runs
//! in a process group of its own, bounded in time, and is stopped with the group on a
//! signal to agent-offload: a check never outlives the command that started it.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::run::dir::{Manifest, RunDir};
use crate::run::lock::RunLock;
use crate::run::signals::Signals;

pub const LOG: &str = "check.log";

/// The check a run asked for, and once it ran, its result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub command: String,
    /// Whether it exited 0; `None` until it has run.
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Why it did not finish by itself (its time limit, a signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    #[serde(default)]
    pub log: Option<PathBuf>,
}

impl Check {
    pub fn asked(command: &str) -> Check {
        Check {
            command: command.to_owned(),
            passed: None,
            exit_code: None,
            seconds: None,
            stopped: None,
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
    if asked.passed.is_some() || !manifest.status.is_final() {
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
    let group = rustix::process::Pid::from_child(&child);
    let mut stopped = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let why = if started.elapsed() >= limit {
            Some(format!(
                "stopped after {} (its time limit)",
                crate::duration::human(limit)
            ))
        } else {
            signals
                .pending()
                .map(|sig| format!("stopped by signal {sig} to agent-offload"))
        };
        if let Some(why) = why {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
            let grace = Instant::now();
            while child.try_wait()?.is_none() && grace.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            stopped = Some(why);
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let result = Check {
        command: asked.command,
        passed: Some(status.success() && stopped.is_none()),
        exit_code: status.code(),
        seconds: Some((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        stopped,
        log: Some(log_path),
    };
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    manifest.check = Some(result.clone());
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
