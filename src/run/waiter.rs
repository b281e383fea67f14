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
//!
//! `done.md` counts only once it is complete ([`Published::look`]): an agent that writes it
//! in place (`echo a > done.md; echo b >> done.md`) instead of renaming it into place
//! would otherwise lose everything after the first write, since the directory event
//! comes with the file's creation. Anything other than a regular file at `done.md` is
//! decisive at once: the conclusion fails the run (see `read`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::os::signals::Signals;
use crate::os::stop;
use crate::os::{self as sys, DirWatch, ExitWatch, StartingWatch};
use crate::store::dir::{self, ProcessId};
use crate::store::read::{self, Entry, Stamp};

/// The safety-net poll interval when both the directory and the launcher are watched.
/// Each wake costs a few syscalls; at 5 s, waiting costs well under 1 ms CPU a minute.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// The poll interval when either cannot be watched (the portable backend, a kernel
/// without an exit watch, no directory watch to be had).
const FALLBACK_POLL: Duration = Duration::from_millis(100);
/// How long a `done.md` that may be written in place must stay unchanged before it
/// counts as complete. Only such a file waits (a renamed one counts at once), so the
/// period can give a writer's next step time: 200 ms cut a summary written in two
/// steps 300 ms apart in a pane, whose agent never exits to say it is done (issue 21).
const SETTLE: Duration = Duration::from_secs(1);
/// How long a `done.md` that keeps changing is waited for at most: a writer that never
/// stops cannot hold the run.
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// How often a settling `done.md` is looked at (changes to it wake nothing).
const SETTLE_POLL: Duration = Duration::from_millis(25);

/// A watch on a run directory, reporting renames and creations in it, and whether the
/// summary (or a question) is there.
pub struct Watch {
    dir: DirWatch,
    done: Published,
    question: Published,
}

/// A file the agent publishes by renaming `NAME.tmp` to `NAME` (`done.md`,
/// `question.md`), and what has been seen of it.
struct Published {
    path: PathBuf,
    tmp: PathBuf,
    /// The inode of the temporary file, when it was seen before the file appeared: the
    /// protocol's temporary file, which is complete once renamed.
    tmp_seen: Option<u64>,
    /// A file that may still be written in place: as last seen, since when it is
    /// unchanged, and since when it is there.
    settling: Option<Settling>,
}

#[derive(Clone, Copy)]
struct Settling {
    stamp: Stamp,
    unchanged_since: Instant,
    first_seen: Instant,
}

/// What one look at a published file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Absent,
    /// A regular file that may still be being written.
    Settling,
    /// A complete file, or something that is not a regular file (decisive too).
    Decisive,
}

/// A [`Watch`] being set up (see [`StartingWatch`]).
pub struct StartingRunWatch {
    dir: StartingWatch,
    run_dir: PathBuf,
}

impl StartingRunWatch {
    /// Returns once the watch is registered; look for files only after this.
    pub fn ready(self) -> Result<Watch> {
        Ok(Watch::on(self.dir.ready()?, &self.run_dir))
    }
}

impl Watch {
    fn on(watch: DirWatch, run_dir: &Path) -> Watch {
        Watch {
            dir: watch,
            done: Published::new(run_dir, dir::DONE, dir::DONE_TMP),
            question: Published::new(run_dir, dir::QUESTION, dir::QUESTION_TMP),
        }
    }

    /// Starts watching; returns once the watch is registered.
    pub fn new(run_dir: &Path) -> Result<Watch> {
        Watch::start(run_dir)?.ready()
    }

    /// A watch set up in-process (see [`DirWatch::start_inline`]).
    pub fn new_inline(run_dir: &Path) -> Result<Watch> {
        Ok(Watch::on(
            DirWatch::start_inline(run_dir)?.ready()?,
            run_dir,
        ))
    }

    /// Starts setting up the watch without waiting for it.
    pub fn start(run_dir: &Path) -> Result<StartingRunWatch> {
        Ok(StartingRunWatch {
            dir: DirWatch::start(run_dir)?,
            run_dir: run_dir.to_path_buf(),
        })
    }

    /// What is at `done.md` now: a summary (a regular file), nothing, or something that
    /// is not a summary. Without waiting for a file being written to settle: for a run
    /// whose agent is gone.
    pub fn done(&self) -> Entry {
        read::entry(&self.done.path)
    }

    /// What is at `question.md` now, as [`Watch::done`] says for `done.md`.
    pub fn question(&self) -> Entry {
        read::entry(&self.question.path)
    }
}

impl Published {
    fn new(run_dir: &Path, name: &str, tmp: &str) -> Published {
        Published {
            path: run_dir.join(name),
            tmp: run_dir.join(tmp),
            tmp_seen: None,
            settling: None,
        }
    }

    /// Looks at the file and decides whether it is complete. The rule costs a file
    /// published by the protocol (written to `NAME.tmp`, then renamed) nothing; only
    /// a file that may be written in place waits to settle. It is complete at once when
    /// - it is the inode seen as `NAME.tmp` earlier: renamed into place;
    /// - its inode changed after its last write (ctime after mtime): a rename came
    ///   after the writing (the check above misses a rename done before the waiter
    ///   looked; this one misses one within the file system's clock tick);
    /// - its last write is [`SETTLE`] old: `wait` or the guard looking at a file
    ///   published earlier.
    ///
    /// Otherwise it is complete once unchanged (inode, size, times) for [`SETTLE`], or
    /// [`SETTLE_MAX`] after it was first seen.
    fn look(&mut self) -> Look {
        let stamp = match read::entry(&self.path) {
            Entry::Missing => {
                self.settling = None;
                if let Entry::File(tmp) = read::entry(&self.tmp) {
                    self.tmp_seen = Some(tmp.ino);
                }
                return Look::Absent;
            }
            Entry::Other(_) => return Look::Decisive,
            Entry::File(stamp) => stamp,
        };
        if self.tmp_seen == Some(stamp.ino)
            || stamp.changed_after_write()
            || stamp.written_before(SETTLE)
        {
            return Look::Decisive;
        }
        let now = Instant::now();
        let s = self.settling.get_or_insert(Settling {
            stamp,
            unchanged_since: now,
            first_seen: now,
        });
        if s.stamp != stamp {
            s.stamp = stamp;
            s.unchanged_since = now;
        }
        if now.duration_since(s.unchanged_since) >= SETTLE
            || now.duration_since(s.first_seen) >= SETTLE_MAX
        {
            Look::Decisive
        } else {
            Look::Settling
        }
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
            l.exit = ExitWatch::none();
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
    /// `done.md` is there and complete, or something that is not a regular file is
    /// there (see [`Watch::done`]).
    Done,
    /// `question.md` is there and complete (or something that is not a regular file).
    Question,
    /// The launcher ended (the agent exited, the pane or server is gone).
    Ended,
    /// The deadline given to [`wait`] passed.
    TimedOut,
    Signal(i32),
    /// Another process recorded the run's outcome.
    Recorded,
    /// A pane run's usage crossed a budget.
    OverBudget,
    /// No sign of work for the stall limit (seconds), and the policy says stop.
    Stalled(crate::store::dir::StallKind, u64),
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
        // The summary first: an agent that asked and then finished anyway is done.
        let look = watch.done.look();
        if look == Look::Decisive {
            return Event::Done;
        }
        let asked = watch.question.look();
        if asked == Look::Decisive {
            return Event::Question;
        }
        if !launcher.alive() {
            // A file being written when the agent ended is as complete as it gets.
            return if look == Look::Settling {
                Event::Done
            } else if asked == Look::Settling {
                Event::Question
            } else {
                Event::Ended
            };
        }
        let now = Instant::now();
        let mut step = if look == Look::Settling || asked == Look::Settling {
            SETTLE_POLL
        } else if launcher.exit.watching() && watch.dir.watching() {
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
        stop::reap_adopted(launcher.pid);
        sys::wait_events(signals.fd(), &mut watch.dir, &launcher.exit, step);
    }
}
