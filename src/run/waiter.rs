//! Waiting for a run to end, on events rather than a timer.
//!
//! Three things wake the waiter: an inotify watch on the run directory (the agent's
//! rename of `done.md.tmp` to `done.md`, the launcher's `exit`), a pidfd for the
//! launcher process (it ends when the agent ends, the pane is closed or the tmux server
//! dies), and the signal pipe. The watch is registered before the launcher starts, so
//! no event can slip between the first existence check and the watch. A one-second
//! poll remains as a safety net (and is the mechanism where pidfd is unavailable).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::run::dir;
use crate::run::signals::Signals;
use crate::run::stop;

/// The safety-net poll interval when the launcher can be watched through a pidfd.
const SAFETY_POLL: Duration = Duration::from_secs(1);
/// The liveness poll interval when it cannot (no pidfd: old kernel, other OS).
const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// An inotify watch on a run directory.
pub struct Watch {
    fd: OwnedFd,
    done: PathBuf,
}

impl Watch {
    pub fn new(run_dir: &Path) -> Result<Watch> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .context("cannot create an inotify instance")?;
        inotify::add_watch(
            &fd,
            run_dir,
            inotify::WatchFlags::CREATE | inotify::WatchFlags::MOVED_TO,
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOSPC => anyhow::anyhow!(
                "cannot watch {}: the system is out of inotify watches \
                 (raise fs.inotify.max_user_watches)",
                run_dir.display()
            ),
            e => anyhow::Error::new(e).context(format!("cannot watch {}", run_dir.display())),
        })?;
        Ok(Watch {
            fd,
            done: run_dir.join(dir::DONE),
        })
    }

    fn drain(&self) {
        let mut buf = [0u8; 4096];
        while matches!(rustix::io::read(&self.fd, &mut buf), Ok(n) if n > 0) {}
    }

    pub fn done(&self) -> bool {
        self.done.exists()
    }
}

/// The launcher process, watched through a pidfd where the kernel offers one.
pub struct Launcher {
    pid: i32,
    pidfd: Option<OwnedFd>,
}

impl Launcher {
    pub fn new(pid: i32) -> Launcher {
        let pidfd = Pid::from_raw(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok());
        Launcher { pid, pidfd }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn alive(&self) -> bool {
        stop::alive(self.pid)
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
            let step = (end - now).min(if self.pidfd.is_some() {
                SAFETY_POLL
            } else {
                Duration::from_millis(20)
            });
            match &self.pidfd {
                Some(fd) => {
                    let mut fds = [PollFd::new(fd, PollFlags::IN)];
                    let _ = poll(&mut fds, Some(&timespec(step)));
                }
                None => std::thread::sleep(step),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `done.md` exists.
    Done,
    /// The launcher ended (the agent exited, the pane or server is gone).
    Ended,
    TimedOut,
    Signal(i32),
}

fn timespec(d: Duration) -> Timespec {
    Timespec::try_from(d).unwrap_or(Timespec {
        tv_sec: 3600,
        tv_nsec: 0,
    })
}

/// Blocks until the first event. Checks come in a fixed order so that simultaneous
/// events resolve the same way every time: a signal, then the summary, then the
/// launcher's end, then the deadline.
pub fn wait(
    watch: &Watch,
    launcher: &Launcher,
    deadline: Option<Instant>,
    signals: &Signals,
) -> Event {
    loop {
        if let Some(sig) = signals.pending() {
            return Event::Signal(sig);
        }
        if watch.done() {
            return Event::Done;
        }
        if !launcher.alive() {
            return Event::Ended;
        }
        let now = Instant::now();
        let mut step = if launcher.pidfd.is_some() {
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
        let mut fds = vec![
            PollFd::new(&watch.fd, PollFlags::IN),
            PollFd::from_borrowed_fd(signals.fd(), PollFlags::IN),
        ];
        if let Some(pidfd) = &launcher.pidfd {
            fds.push(PollFd::from_borrowed_fd(pidfd.as_fd(), PollFlags::IN));
        }
        // EINTR and friends just mean "look again".
        let _ = poll(&mut fds, Some(&timespec(step)));
        watch.drain();
    }
}
