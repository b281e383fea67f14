//! Waiting for a run to end, on events rather than a timer.
//!
//! Three things wake the waiter: a watch on the run directory (the agent's rename of
//! `done.md.tmp` to `done.md`, the launcher's `exit`; see [`Watch`]), an exit watch on
//! the launcher process (it ends when the agent ends, the pane is closed or the tmux
//! server dies), and the signal pipe. Both watches come from the OS layer (`sys`),
//! which says what each platform uses. The directory watch is registered
//! before the launcher starts, so no event can slip between the first existence check
//! and the watch. A slow poll remains as a safety net, and a 100 ms poll is the
//! mechanism where either watch is missing (the portable backend).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::run::dir::{self, ProcessId};
use crate::run::read::{self, Entry};
use crate::run::signals::Signals;
use crate::run::stop;
use crate::run::sys::{self, DirWatch, ExitWatch, StartingWatch};

/// The safety-net poll interval when both the directory and the launcher are watched.
/// Each wake costs a few syscalls; at 5 s, waiting costs well under 1 ms CPU a minute.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// The poll interval when either cannot be watched (the portable backend, a kernel
/// without an exit watch, no directory watch to be had).
const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// A watch on a run directory, reporting renames and creations in it, and whether the
/// summary is there.
pub struct Watch {
    dir: DirWatch,
    done: PathBuf,
}

/// A [`Watch`] being set up (see [`StartingWatch`]).
pub struct StartingRunWatch {
    dir: StartingWatch,
    done: PathBuf,
}

impl StartingRunWatch {
    /// Returns once the watch is registered; look for files only after this.
    pub fn ready(self) -> Result<Watch> {
        Ok(Watch {
            dir: self.dir.ready()?,
            done: self.done,
        })
    }
}

impl Watch {
    /// Starts watching; returns once the watch is registered.
    pub fn new(run_dir: &Path) -> Result<Watch> {
        Watch::start(run_dir)?.ready()
    }

    /// Starts setting up the watch without waiting for it.
    pub fn start(run_dir: &Path) -> Result<StartingRunWatch> {
        Ok(StartingRunWatch {
            dir: DirWatch::start(run_dir)?,
            done: run_dir.join(dir::DONE),
        })
    }

    /// What is at `done.md`: a summary (a regular file), nothing, or something that is
    /// not a summary.
    pub fn done(&self) -> Entry {
        read::entry(&self.done)
    }
}

/// The launcher process, watched through the OS layer's exit watch where there is one.
pub struct Launcher {
    pid: i32,
    /// False once a launcher recorded by another process is known not to be the one
    /// running under its pid (it ended, or the pid was reused).
    same: bool,
    exit: ExitWatch,
}

impl Launcher {
    pub fn new(pid: i32) -> Launcher {
        Launcher {
            pid,
            same: true,
            exit: ExitWatch::new(pid),
        }
    }

    /// A launcher recorded in `run.json` by another process. Its identity is checked
    /// once, after the exit watch is held (an exit watch cannot follow a
    /// reused pid): from then on the watch, or the pid's liveness, tells its end.
    pub fn attach(identity: &ProcessId) -> Launcher {
        let mut l = Launcher::new(identity.pid);
        l.same = stop::is_alive(identity);
        if !l.same {
            l.exit = ExitWatch::new(0);
        }
        l
    }

    pub fn alive(&self) -> bool {
        self.same && stop::alive(self.pid)
    }

    /// Waits up to `limit` for the launcher to end; true if it did.
    pub fn wait_exit(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if !self.alive() {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            self.exit.wait((end - now).min(SAFETY_POLL));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Something is at `done.md`: a summary, or something that is not a regular file
    /// (see [`Watch::done`]).
    Done,
    /// The launcher ended (the agent exited, the pane or server is gone).
    Ended,
    /// The deadline given to [`wait`] passed.
    TimedOut,
    Signal(i32),
    /// Another process recorded the run's outcome.
    Recorded,
}

/// Blocks until the first event. Checks come in a fixed order so that simultaneous
/// events resolve the same way every time: a signal, then the summary, then the
/// launcher's end, then the deadline.
pub fn wait(
    watch: &mut Watch,
    launcher: &Launcher,
    deadline: Option<Instant>,
    signals: &Signals,
    recorded: &dyn Fn() -> bool,
) -> Event {
    loop {
        if let Some(sig) = signals.pending() {
            return Event::Signal(sig);
        }
        if recorded() {
            return Event::Recorded;
        }
        if watch.done() != Entry::Missing {
            return Event::Done;
        }
        if !launcher.alive() {
            return Event::Ended;
        }
        let now = Instant::now();
        let mut step = if launcher.exit.watching() && watch.dir.watching() {
            SAFETY_POLL
        } else {
            FALLBACK_POLL
        };
        if let Some(d) = deadline {
            if now >= d {
                return Event::TimedOut;
            }
            step = step.min(d - now);
        }
        sys::wait_events(signals.fd(), &mut watch.dir, &launcher.exit, step);
    }
}
