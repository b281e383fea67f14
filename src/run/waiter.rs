//! Waiting for a run to end, on events rather than a timer.
//!
//! Three things wake the waiter: an inotify watch on the run directory (the agent's
//! rename of `done.md.tmp` to `done.md`, the launcher's `exit`; see [`Watch`]), a pidfd for the
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

use crate::run::dir::{self, ProcessId};
use crate::run::signals::Signals;
use crate::run::stop;

/// The safety-net poll interval when both the directory and the launcher are watched.
/// Each wake costs a few syscalls; at 5 s, waiting costs well under 1 ms CPU a minute.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// The liveness poll interval when it cannot (no pidfd: old kernel, other OS).
const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// A watch on a run directory, reporting renames and creations in it.
///
/// The inotify instance normally lives in a small helper process (this binary, run as
/// `agent-offload __watch DIR`) that writes one byte to a pipe per batch of events.
/// Why: closing an inotify instance waits for an SRCU grace period in the kernel,
/// measured here at 8–14 ms, and the exit of the process that holds it waits the same.
/// In the helper that wait happens after we have exited; in-process it would sit on the
/// path from `done.md` to our exit. If the helper cannot start, the watch is in-process.
pub struct Watch {
    source: Source,
    done: PathBuf,
}

enum Source {
    Helper {
        // Held open: the helper exits when this closes (our exit included).
        _control: std::process::ChildStdin,
        events: OwnedFd,
    },
    Inline(OwnedFd),
    /// No watch could be had (the helper died and inotify failed): poll.
    None,
}

/// An inotify instance (non-blocking) watching `dir` for creations and renames into it.
fn inotify_on(dir: &Path) -> Result<OwnedFd> {
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .context("cannot create an inotify instance")?;
    inotify::add_watch(
        &fd,
        dir,
        inotify::WatchFlags::CREATE | inotify::WatchFlags::MOVED_TO,
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOSPC => anyhow::anyhow!(
            "cannot watch {}: the system is out of inotify watches \
             (raise fs.inotify.max_user_watches)",
            dir.display()
        ),
        e => anyhow::Error::new(e).context(format!("cannot watch {}", dir.display())),
    })?;
    Ok(fd)
}

fn drain_fd(fd: &OwnedFd) {
    let mut buf = [0u8; 4096];
    while matches!(rustix::io::read(fd, &mut buf), Ok(n) if n > 0) {}
}

impl Watch {
    /// Starts watching; returns once the watch is registered.
    pub fn new(run_dir: &Path) -> Result<Watch> {
        let source = match Self::helper(run_dir) {
            Some(source) => source,
            None => Source::Inline(inotify_on(run_dir)?),
        };
        Ok(Watch {
            source,
            done: run_dir.join(dir::DONE),
        })
    }

    fn helper(run_dir: &Path) -> Option<Source> {
        let exe = std::env::current_exe().ok()?;
        let mut child = std::process::Command::new(exe)
            .arg(HELPER_COMMAND)
            .arg(run_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let control = child.stdin.take()?;
        let events = OwnedFd::from(child.stdout.take()?);
        // The helper says "r" once its watch is registered.
        let mut fds = [PollFd::new(&events, PollFlags::IN)];
        let ready = poll(&mut fds, Some(&timespec(Duration::from_secs(5)))).unwrap_or(0) > 0
            && matches!(rustix::io::read(&events, &mut [0u8; 1]), Ok(1));
        let nonblocking = rustix::fs::fcntl_getfl(&events)
            .and_then(|f| rustix::fs::fcntl_setfl(&events, f | rustix::fs::OFlags::NONBLOCK))
            .is_ok();
        if !(ready && nonblocking) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Source::Helper {
            _control: control,
            events,
        })
    }

    fn fd(&self) -> Option<&OwnedFd> {
        match &self.source {
            Source::Helper { events, .. } => Some(events),
            Source::Inline(fd) => Some(fd),
            Source::None => None,
        }
    }

    fn drain(&self) {
        if let Some(fd) = self.fd() {
            drain_fd(fd);
        }
    }

    /// The helper is gone (its pipe hung up): watch in-process from now on.
    fn replace_helper(&mut self) {
        let dir = self.done.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.source = inotify_on(&dir).map_or(Source::None, Source::Inline);
    }

    pub fn done(&self) -> bool {
        self.done.exists()
    }
}

/// The hidden subcommand that runs the watch helper.
pub const HELPER_COMMAND: &str = "__watch";

/// The watch helper: registers the watch, says "r", then writes "e" for each batch of
/// events until its stdin closes (the parent is done or gone) or the pipe breaks.
pub fn helper_main(dir: &Path) -> Result<u8> {
    let fd = inotify_on(dir)?;
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    rustix::io::write(stdout, b"r").context("watch helper: stdout")?;
    loop {
        let mut fds = [
            PollFd::new(&fd, PollFlags::IN),
            PollFd::from_borrowed_fd(stdin, PollFlags::IN),
        ];
        if poll(&mut fds, None).is_err() {
            continue;
        }
        if !fds[1].revents().is_empty() {
            // Anything on stdin, or its end: the parent no longer needs us.
            return Ok(0);
        }
        if !fds[0].revents().is_empty() {
            drain_fd(&fd);
            if rustix::io::write(stdout, b"e").is_err() {
                return Ok(0);
            }
        }
    }
}

/// The launcher process, watched through a pidfd where the kernel offers one.
pub struct Launcher {
    pid: i32,
    /// For a launcher started by another process: its full identity, so a reused pid
    /// is never taken for it.
    identity: Option<ProcessId>,
    pidfd: Option<OwnedFd>,
}

impl Launcher {
    pub fn new(pid: i32) -> Launcher {
        let pidfd = Pid::from_raw(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok());
        Launcher {
            pid,
            identity: None,
            pidfd,
        }
    }

    /// A launcher recorded in `run.json` by another process.
    pub fn attach(identity: &ProcessId) -> Launcher {
        let mut l = Launcher::new(identity.pid);
        // The pidfd was opened after the identity check could have changed: check
        // again now that it is held (a pidfd cannot follow a reused pid).
        if !stop::is_alive(identity) {
            l.pidfd = None;
        }
        l.identity = Some(identity.clone());
        l
    }

    pub fn alive(&self) -> bool {
        match &self.identity {
            Some(id) => stop::is_alive(id),
            None => stop::alive(self.pid),
        }
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
    /// The deadline given to [`wait`] passed.
    TimedOut,
    Signal(i32),
    /// Another process recorded the run's outcome.
    Recorded,
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
        if watch.done() {
            return Event::Done;
        }
        if !launcher.alive() {
            return Event::Ended;
        }
        let now = Instant::now();
        let mut step = if launcher.pidfd.is_some() && watch.fd().is_some() {
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
        let mut fds = vec![PollFd::from_borrowed_fd(signals.fd(), PollFlags::IN)];
        if let Some(pidfd) = &launcher.pidfd {
            fds.push(PollFd::from_borrowed_fd(pidfd.as_fd(), PollFlags::IN));
        }
        if let Some(fd) = watch.fd() {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        // EINTR and friends just mean "look again".
        let _ = poll(&mut fds, Some(&timespec(step)));
        let helper_gone = matches!(watch.source, Source::Helper { .. })
            && fds
                .last()
                .is_some_and(|f| f.revents().intersects(PollFlags::HUP | PollFlags::ERR));
        drop(fds);
        if helper_gone {
            watch.replace_helper();
        }
        watch.drain();
    }
}
