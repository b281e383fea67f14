//! The keeper of a detachable fan-out's queue: `agent-offload __fanout DIR`, started by
//! the fan-out command in a session of its own (like a run's guard), so that a host
//! that kills the command after it detached — SIGKILL included — loses nothing. It
//! starts the candidates at most `--max-parallel` at once, the rest as places free up,
//! each run to its end (no candidate detaches: the fan-out does, as a whole), and
//! records each one's progress in `fanout.json`. TERM (or INT, HUP) to it cancels the
//! running candidates, and those still queued never start. It does not judge: whoever
//! waits for the fan-out (the command itself, or `wait FANOUT`) does, once.
//!
//! Its stderr (and its candidates') is `keeper.log` in the fan-out's directory; the
//! fan-out command copies it to its own stderr while it waits.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Record, collect, load, own_command, save};
use crate::exit;
use crate::run::{self, Signals};

/// The hidden subcommand that runs a fan-out's keeper.
pub const KEEPER_COMMAND: &str = "__fanout";
const LOG: &str = "keeper.log";
/// How often a wait looks at the signals while the keeper works.
const LOOK: Duration = Duration::from_millis(200);

/// Where one candidate is in the keeper's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Waiting for a place (`--max-parallel`).
    Queued,
    /// Its `agent-offload run` was started (its run is named once it has one).
    Running,
    /// Its run ended.
    Ended,
    /// Stopped before it started (a signal to the keeper).
    NotStarted,
}

/// How a wait for the keeper's queue ended.
pub enum Waited {
    /// The queue is done: every candidate ended or never started.
    Ended,
    /// The detach limit passed first.
    Detach,
    /// The deadline passed first; the keeper was stopped and has ended.
    Deadline,
    /// A signal reached this process.
    Signal(i32),
}

/// A fan-out that may detach: hands the queue to a keeper, waits for it until `limit`,
/// then detaches (exit 75) or, when it ended first, judges and prints as usual. A signal
/// before that cancels the fan-out (the keeper stops its candidates).
pub fn run_detachable(
    dir: &run::RunDir,
    record: &mut Record,
    limit: Duration,
    signals: &Signals,
    json: bool,
    quiet: bool,
) -> Result<u8> {
    let detach_at = Instant::now().checked_add(limit);
    record.progress = vec![Progress::Queued; record.profiles.len()];
    let mut child = start(dir, record)?;
    let waited = wait_queue(dir, None, detach_at, signals, !quiet)?;
    // Collected when it has ended (it is our child); left to init when we detach.
    let _ = child.try_wait();
    match waited {
        // Each candidate's end was in the keeper's log already.
        Waited::Ended | Waited::Deadline => {
            super::conclude(dir, signals, json, quiet, true, super::Limits::default())
        }
        Waited::Detach => super::detached(record, quiet),
        Waited::Signal(sig) => {
            stop(dir)?;
            let _ = child.wait();
            Ok(exit::for_signal(sig))
        }
    }
}

/// Starts a keeper for the queue in `record` and records it; it begins once recorded.
fn start(dir: &run::RunDir, record: &mut Record) -> Result<std::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.file(LOG))
        .with_context(|| format!("cannot open {}", dir.file(LOG).display()))?;
    let (mut child, id) = run::spawn_helper(&[KEEPER_COMMAND.as_ref(), dir.path.as_os_str()], log)?;
    record.keeper = id;
    let saved = save(dir, record);
    // The go-ahead: the keeper reads its record only now (its stdin ends).
    drop(child.stdin.take());
    saved?;
    Ok(child)
}

/// TERM to the fan-out's keeper (it cancels its candidates), then waits for it to end.
/// What it left queued (a keeper TERM ended before it could catch it) never starts.
fn stop(dir: &run::RunDir) -> Result<()> {
    let record = load(dir)?;
    if let Some(keeper) = record.keeper.as_ref().map(run::Watched::new) {
        keeper.terminate();
        while keeper.alive() {
            keeper.wait(LOOK);
        }
    }
    let mut record = load(dir)?;
    if record.progress.contains(&Progress::Queued) {
        for p in &mut record.progress {
            if *p == Progress::Queued {
                *p = Progress::NotStarted;
            }
        }
        save(dir, &record)?;
    }
    Ok(())
}

/// Waits for the fan-out's queue to be done: for its keeper to end (one that is gone
/// with candidates still queued is replaced), at most until `deadline` (the keeper is
/// then stopped) or `detach_at`. With `relay`, the keeper's log is copied to stderr.
pub fn wait_queue(
    dir: &run::RunDir,
    deadline: Option<Instant>,
    detach_at: Option<Instant>,
    signals: &Signals,
    relay: bool,
) -> Result<Waited> {
    let mut tail = relay.then(|| Tail::open(dir));
    let mut replaced = false;
    loop {
        let mut record = load(dir)?;
        let keeper = record.keeper.as_ref().map(run::Watched::new);
        if !keeper.as_ref().is_some_and(run::Watched::alive) {
            if replaced || !record.progress.contains(&Progress::Queued) {
                if let Some(t) = tail.as_mut() {
                    t.copy();
                }
                return Ok(Waited::Ended);
            }
            // Its keeper is gone (killed) with candidates still queued: a new one.
            say!(
                "agent-offload: fan-out {}'s keeper is gone; starting a new one for the \
                 candidates still queued",
                record.id
            );
            drop(start(dir, &mut record)?);
            replaced = true;
            continue;
        }
        let Some(keeper) = keeper else { continue };
        while keeper.alive() {
            if let Some(sig) = signals.pending() {
                return Ok(Waited::Signal(sig));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                stop(dir)?;
                return Ok(Waited::Deadline);
            }
            if detach_at.is_some_and(|d| now >= d) {
                return Ok(Waited::Detach);
            }
            let until = [deadline, detach_at]
                .into_iter()
                .flatten()
                .min()
                .map_or(LOOK, |at| at.saturating_duration_since(now).min(LOOK));
            keeper.wait(until);
            if let Some(t) = tail.as_mut() {
                t.copy();
            }
        }
    }
}

/// The keeper: runs the queue in `fanout.json` to its end.
pub fn keeper_main(path: &Path) -> Result<u8> {
    let signals = Signals::install()?;
    // The go-ahead: the fan-out has recorded us (or is gone).
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    let dir = run::RunDir::open(path.to_path_buf());
    let mut record = load(&dir)?;
    let me = run::own_identity();
    if let Some(other) = record.keeper.as_ref().filter(|k| Some(*k) != me.as_ref())
        && run::Watched::new(other).alive()
    {
        anyhow::bail!(
            "fan-out {} has a keeper already (pid {})",
            record.id,
            other.pid
        );
    }
    record.keeper = me;
    // Those a keeper before us started come first: they hold their places.
    let mut slots = Vec::new();
    let mut commands = Vec::new();
    for slot in 0..record.profiles.len() {
        if record.progress.get(slot) == Some(&Progress::Running) {
            match &record.runs[slot] {
                Some(id) => {
                    let mut c = own_command()?;
                    c.args(["wait", id, "--json"]);
                    commands.push(c);
                    slots.push(slot);
                }
                // Started by a keeper that is gone, before its run was named.
                None => record.progress[slot] = Progress::NotStarted,
            }
        }
    }
    for slot in 0..record.profiles.len() {
        if record.progress.get(slot) == Some(&Progress::Queued) {
            commands.push(super::candidate(&dir, &record, slot)?);
            slots.push(slot);
        }
    }
    save(&dir, &record)?;
    let labels: Vec<String> = slots.iter().map(|&s| record.profiles[s].clone()).collect();
    let parallel = record.max_parallel.map_or(usize::MAX, usize::from);
    let results = collect(
        commands,
        parallel,
        &signals,
        &labels,
        false,
        &mut |k, progress| {
            let slot = slots[k];
            // The runs the candidates named since (`slot-N`), then this progress.
            if let Ok(fresh) = load(&dir) {
                record.runs = fresh.runs;
            }
            record.progress[slot] = progress;
            let _ = save(&dir, &record);
        },
    )?;
    if let Ok(fresh) = load(&dir) {
        record.runs = fresh.runs;
    }
    for (k, outcome) in results.iter().enumerate() {
        if let Some(id) = outcome.result.as_ref().and_then(|v| v["id"].as_str()) {
            record.runs[slots[k]] = Some(id.to_owned());
        }
    }
    save(&dir, &record)?;
    Ok(0)
}

/// The new part of the keeper's log, for the fan-out command's stderr.
struct Tail {
    file: Option<std::fs::File>,
}

impl Tail {
    fn open(dir: &run::RunDir) -> Tail {
        Tail {
            file: std::fs::File::open(dir.file(LOG)).ok(),
        }
    }

    fn copy(&mut self) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut new = Vec::new();
        if file.read_to_end(&mut new).is_ok() && !new.is_empty() {
            let _ = std::io::stderr().write_all(&new);
        }
    }
}
