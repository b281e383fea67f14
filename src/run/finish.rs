//! Ending a run: turning the first decisive event into an outcome, stopping what is
//! left of the agent, and recording it in `run.json` — exactly once, whichever process
//! gets there first (the one that started the run, a re-attached `wait`, or the
//! background guard of a detached run), under an exclusive lock on the run.

use std::time::Duration;

use std::os::fd::OwnedFd;

use anyhow::Result;
use rustix::fs::{FlockOperation, Mode, OFlags, flock};

use crate::exit;
use crate::run::agent::Agent;
use crate::run::dir::{self, Manifest, RunDir, Status};
use crate::run::waiter::{Event, Launcher, Watch};
use crate::run::{DONE_GRACE, changes};

#[derive(Debug)]
pub enum Outcome {
    Done,
    Failed { reason: String },
    TimedOut { reason: String },
    Cancelled { signal: i32 },
    Lost,
}

impl Outcome {
    pub fn status(&self) -> Status {
        match self {
            Outcome::Done => Status::Done,
            Outcome::Failed { .. } => Status::Failed,
            Outcome::TimedOut { .. } => Status::TimedOut,
            Outcome::Cancelled { .. } => Status::Cancelled,
            Outcome::Lost => Status::Lost,
        }
    }

    /// The one mapping from an outcome to agent-offload's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done => exit::DONE,
            Outcome::Failed { .. } | Outcome::Lost => exit::FAILED,
            Outcome::TimedOut { .. } => exit::TIMED_OUT,
            Outcome::Cancelled { signal } => {
                exit::SIGNAL_BASE.saturating_add(u8::try_from(*signal).unwrap_or(0))
            }
        }
    }

    fn reason(&self) -> Option<String> {
        match self {
            Outcome::Done => None,
            Outcome::Failed { reason } | Outcome::TimedOut { reason } => Some(reason.clone()),
            Outcome::Cancelled { signal } => Some(format!(
                "agent-offload received signal {signal} ({}); the agent was stopped",
                signal_name(*signal)
            )),
            Outcome::Lost => Some(
                "lost: the launcher ended and nothing recorded how (the machine restarted, or \
                 the waiting process and the agent were killed)"
                    .to_owned(),
            ),
        }
    }
}

/// The exit code for a finished run, from its manifest.
pub fn exit_code_of(m: &Manifest) -> u8 {
    m.agent_offload_exit.unwrap_or(match m.status {
        Status::Done => exit::DONE,
        Status::TimedOut => exit::TIMED_OUT,
        Status::Running => exit::DETACHED,
        Status::Failed | Status::Cancelled | Status::Lost => exit::FAILED,
    })
}

/// An exclusive lock on a run, held while its outcome is decided and recorded, and
/// while other processes update its `run.json`. It is a `flock` on the run directory
/// itself (no lock file to leave behind). Blocking, bounded: whoever holds it finishes
/// within the stop grace period.
pub struct RunLock {
    _dir: Option<OwnedFd>,
}

fn open_dir(run: &RunDir) -> Option<OwnedFd> {
    rustix::fs::open(
        &run.path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

impl RunLock {
    pub fn take(run: &RunDir) -> RunLock {
        let dir = open_dir(run);
        if let Some(fd) = &dir {
            dir::lock_exclusive(fd, Duration::from_secs(30));
        }
        RunLock { _dir: dir }
    }

    /// Whether some process holds the lock right now.
    pub fn is_held(run: &RunDir) -> bool {
        let Some(fd) = open_dir(run) else {
            return false;
        };
        flock(&fd, FlockOperation::NonBlockingLockShared).is_err()
    }
}

/// What the concluding process knows about how the wait ended.
pub struct Ending<'a> {
    pub event: Event,
    pub run: &'a RunDir,
    pub watch: &'a Watch,
    pub launcher: &'a Launcher,
    pub agent: &'a mut Agent,
    /// Words for a timeout: `timed out after 20m`.
    pub timeout_reason: String,
    /// Whether this process saw the launcher end (false: it was already gone when we
    /// looked, so how it ended is unknown unless it recorded an exit status).
    pub observed: bool,
}

/// Decides and records the outcome, unless another process already has: returns the
/// final manifest either way.
pub fn conclude(ending: Ending<'_>) -> Result<Manifest> {
    let run = ending.run;
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if manifest.status.is_final() {
        return Ok(manifest);
    }
    let outcome = settle(ending);
    record(run, &mut manifest, &outcome)?;
    Ok(manifest)
}

/// Stops the agent and records `outcome` for a run (used by `cancel`); returns the
/// final manifest, which may be another process's outcome if the run ended first.
pub fn stop_and_record(run: &RunDir, agent: &Agent, outcome: &Outcome) -> Result<Manifest> {
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if manifest.status.is_final() {
        return Ok(manifest);
    }
    agent.stop();
    record(run, &mut manifest, outcome)?;
    Ok(manifest)
}

fn settle(e: Ending<'_>) -> Outcome {
    let Ending {
        event,
        run,
        watch,
        launcher,
        agent,
        timeout_reason,
        observed,
    } = e;
    let outcome = match event {
        Event::Done => {
            // An interactive agent never exits by itself: close its pane at once. A
            // headless one may still be writing its final answer: give it a moment.
            let exited = !agent.is_pane() && launcher.wait_exit(DONE_GRACE);
            if !exited {
                agent.stop();
            }
            Outcome::Done
        }
        Event::Ended | Event::Recorded => {
            // Whatever the agent left behind goes too (and a remain-on-exit pane).
            agent.stop();
            // An agent can publish and exit in the same instant: look once more.
            if watch.done() {
                Outcome::Done
            } else if !observed && read_exit_code(run).is_none() {
                Outcome::Lost
            } else {
                Outcome::Failed {
                    reason: agent.ended_reason(run),
                }
            }
        }
        Event::TimedOut => {
            agent.stop();
            Outcome::TimedOut {
                reason: timeout_reason,
            }
        }
        Event::Signal(signal) => {
            agent.stop();
            Outcome::Cancelled { signal }
        }
    };
    agent.reap();
    outcome
}

/// Writes the final state, with what the run changed, to `run.json`.
fn record(run: &RunDir, manifest: &mut Manifest, outcome: &Outcome) -> Result<()> {
    manifest.finished_at = Some(dir::now_rfc3339());
    manifest.status = outcome.status();
    manifest.exit_code = read_exit_code(run);
    manifest.reason = outcome.reason();
    manifest.agent_offload_exit = Some(outcome.exit_code());
    manifest.changes = manifest.git.as_ref().and_then(changes::since);
    manifest.save(run)
}

pub fn read_summary(run: &RunDir) -> String {
    std::fs::read(run.file(dir::DONE))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

pub fn read_exit_code(run: &RunDir) -> Option<i32> {
    std::fs::read_to_string(run.file(dir::EXIT))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        9 => "SIGKILL",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// The last `lines` lines of the run's output log (at most 8 KiB), for messages.
pub fn output_tail(run: &RunDir, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(run.file(dir::OUTPUT)) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(8 * 1024);
    let text = strip_terminal_codes(&String::from_utf8_lossy(&bytes[start..]));
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Removes terminal control sequences (a pane's transcript is full of them) and
/// carriage returns, so a log tail reads as text.
fn strip_terminal_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters, then one final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and friends: up to BEL or ST (ESC \\)
                Some(']' | 'P' | '_' | '^') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Two-byte sequences such as ESC ( B
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_codes_are_stripped() {
        assert_eq!(
            strip_terminal_codes("\u{1b}[1;32mok\u{1b}[0m\r\n\u{1b}]0;title\u{7}next\u{1b}(B"),
            "ok\nnext"
        );
    }
}
