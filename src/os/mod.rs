//! The OS layer: the only code that asks the kernel about files appearing in a
//! directory, processes ending, a process's identity and the process tree, and that
//! makes a FIFO. Everything above it (the waiter's decisions, identity checks, the
//! stop sweep) is shared by every platform.
//!
//! Three backends:
//! - **Linux** (`linux.rs`): inotify on the run directory, a pidfd on the launcher,
//!   `/proc` for the process table, `boot_id` for the boot.
//! - **macOS** (`macos.rs`): one kqueue filter for each event — `EVFILT_VNODE`
//!   (`NOTE_WRITE`) on the run directory, `EVFILT_PROC` (`NOTE_EXIT`) on the
//!   launcher — and libproc for the process table.
//! - **Portable** (`portable.rs`): no event sources (the waiter polls), `kill(pid, 0)`
//!   for liveness and `ps` for the process table. Any other Unix uses it, and so does
//!   Linux or macOS when `AGENT_OFFLOAD_BACKEND=portable` is set: a testing aid that lets
//!   CI run the logic macOS shares with the fallback on Linux.
//!
//! The same backend must serve every agent-offload process that touches a run: process
//! identities recorded by one backend are not comparable with another's.

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use anyhow::Result;

pub mod signals;
pub mod stop;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
mod portable;

#[cfg(target_os = "linux")]
use linux as native;
#[cfg(target_os = "macos")]
use macos as native;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
use portable as native;

/// The environment variable that selects the portable backend (`portable`).
pub const BACKEND_VAR: &str = "AGENT_OFFLOAD_BACKEND";

/// Whether this process uses the portable mechanisms (decided once, from
/// [`BACKEND_VAR`]).
fn portable() -> bool {
    static PORTABLE: OnceLock<bool> = OnceLock::new();
    *PORTABLE.get_or_init(|| {
        !cfg!(any(target_os = "linux", target_os = "macos"))
            || std::env::var_os(BACKEND_VAR).is_some_and(|v| v == "portable")
    })
}

/// One process as the process table shows it.
#[derive(Debug, Clone, Copy)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    /// The session id, where the system tells it cheaply (Linux). Elsewhere the stop
    /// sweep finds the agent's processes by process group and parent chain.
    pub session: Option<i32>,
    /// When it started, in the backend's own unit (clock ticks since boot on Linux,
    /// microseconds or seconds since the epoch elsewhere): with the pid and the boot,
    /// names one process even after its pid is reused.
    pub start: u64,
    pub zombie: bool,
}

/// The process `pid`, if it exists (zombies included, marked as such).
pub fn process(pid: i32) -> Option<ProcInfo> {
    if portable() {
        portable::process(pid)
    } else {
        native::process(pid)
    }
}

/// Every process visible to us; `None` when the table cannot be read, in which case
/// only the launcher's process group can be reached.
pub fn processes() -> Option<Vec<ProcInfo>> {
    if portable() {
        portable::processes()
    } else {
        native::processes()
    }
}

/// The CPU time `pid` has used, and that of its children it has collected, in
/// milliseconds; `None` when it cannot be read. For the stall detector, which sums it
/// over the agent's processes every few seconds.
pub fn cpu_ms(pid: i32) -> Option<u64> {
    if portable() {
        portable::cpu_ms(pid)
    } else {
        native::cpu_ms(pid)
    }
}

/// Whether a process `pid` exists and has not yet exited. Cheap: it is called each time
/// the waiter wakes.
pub fn running(pid: i32) -> bool {
    if portable() {
        portable::running(pid)
    } else {
        native::running(pid)
    }
}

/// Whether our child `pid` has exited (or is no child of ours), without collecting it:
/// until it is collected, its pid and the id of the process group it leads cannot be
/// given to another process, so the group can still be signalled safely. POSIX
/// `waitid(WNOWAIT)`, the same everywhere.
pub fn child_exited(pid: i32) -> bool {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    !matches!(
        waitid(WaitId::Pid(p), options),
        Ok(None) | Err(rustix::io::Errno::INTR)
    )
}

/// Blocks until our child `pid` has exited, without collecting it (`waitid` with
/// `WNOWAIT`): its pid stays ours, so whoever owns the child can still signal and collect
/// it safely. Returns at once if `pid` is not a child of ours (any more).
pub fn wait_child_exited(pid: i32) {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    while let Err(rustix::io::Errno::INTR) = waitid(WaitId::Pid(p), options) {}
}

/// An id for this boot of the machine, where start times need one to be unique (Linux
/// counts them from boot); empty where start times are absolute.
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        if portable() {
            String::new()
        } else {
            native::boot_id()
        }
    })
}

/// Creates a FIFO at `path` with `mode`.
pub fn make_fifo(path: &Path, mode: u32) -> std::io::Result<()> {
    native::make_fifo(path, mode)
}

/// A watch on a directory for entries created or renamed into it; registered before
/// anyone looks for a file, it misses nothing. The portable backend has none (the
/// waiter polls).
pub struct DirWatch(Option<native::DirWatch>);

/// A directory watch being set up: [`StartingWatch::ready`] returns once it is
/// registered. Starting it before the agent and waiting for it after lets the two
/// start-ups overlap; nothing is missed as long as the first look for a file comes
/// after `ready`.
pub struct StartingWatch(Option<native::StartingWatch>);

impl StartingWatch {
    pub fn ready(self) -> Result<DirWatch> {
        match self.0 {
            None => Ok(DirWatch(None)),
            Some(w) => w.ready().map(|w| DirWatch(Some(w))),
        }
    }
}

impl DirWatch {
    /// Starts watching `dir` (see [`StartingWatch`]).
    pub fn start(dir: &Path) -> Result<StartingWatch> {
        if portable() {
            return Ok(StartingWatch(None));
        }
        native::DirWatch::start(dir).map(|w| StartingWatch(Some(w)))
    }

    /// Like [`DirWatch::start`], but never through a helper process: for a process whose
    /// exit nobody waits on (the guard), where the helper's point — keeping the watch's
    /// slow close off the exit path — does not apply.
    pub fn start_inline(dir: &Path) -> Result<StartingWatch> {
        if portable() {
            return Ok(StartingWatch(None));
        }
        native::DirWatch::start_inline(dir).map(|w| StartingWatch(Some(w)))
    }

    /// Whether events wake the waiter (otherwise it must poll).
    pub fn watching(&self) -> bool {
        self.0.as_ref().is_some_and(native::DirWatch::watching)
    }
}

/// A watch on a process's end (a pidfd, a kqueue filter); without one the waiter polls
/// [`running`].
pub struct ExitWatch(Option<native::ExitWatch>);

impl ExitWatch {
    /// No watch: [`ExitWatch::wait`] only sleeps a moment.
    pub fn none() -> ExitWatch {
        ExitWatch(None)
    }

    /// A watch on `pid`'s end; none when the kernel offers none, or `pid` is gone.
    pub fn new(pid: i32) -> ExitWatch {
        if portable() || pid <= 0 {
            return ExitWatch(None);
        }
        ExitWatch(native::ExitWatch::new(pid))
    }

    pub fn watching(&self) -> bool {
        self.0.is_some()
    }

    /// Blocks until the process may have ended, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        match &self.0 {
            Some(w) => w.wait(timeout),
            None => std::thread::sleep(timeout.min(Duration::from_millis(20))),
        }
    }
}

/// Blocks until something may have happened — `signal` (the signal pipe) is readable,
/// the directory changed, the process ended — or `timeout` passes; takes the
/// directory's pending events. The caller looks at what changed: this only sleeps.
pub fn wait_events(
    signal: BorrowedFd<'_>,
    dir: &mut DirWatch,
    exit: &ExitWatch,
    timeout: Duration,
) {
    match &mut dir.0 {
        Some(d) => d.wait(signal, exit.0.as_ref(), timeout),
        None => {
            poll_readable(&[signal], timeout);
        }
    }
}

/// `poll(2)` for readability on `fds`; returns each one's `revents`. EINTR and friends
/// just mean "look again": the caller looks either way.
fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> Vec<PollFlags> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    let limit = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: 3600,
        tv_nsec: 0,
    });
    let _ = poll(&mut polled, Some(&limit));
    polled.iter().map(PollFd::revents).collect()
}

/// A command that runs this same executable (the watch helper, a run's guard), even
/// after the file it was started from has been replaced or removed — an upgrade by
/// `cargo install` or Homebrew while a detached run goes on. Linux execs the running
/// image through `/proc/self/exe`; elsewhere the path it was started from is the best
/// there is. `argv[0]` is that path either way, so `ps` shows a readable command.
pub fn own_command() -> std::io::Result<std::process::Command> {
    use std::os::unix::process::CommandExt;
    let path = std::env::current_exe()?;
    let image = native::running_image().unwrap_or_else(|| path.clone());
    let mut cmd = std::process::Command::new(image);
    cmd.arg0(path);
    Ok(cmd)
}

/// This executable's path, for a script to run it by (a script cannot name a running
/// image, so [`own_command`] is for what this process starts itself). Linux names a
/// running executable replaced since it started (an upgrade, a rebuild) "PATH
/// (deleted)": the path is then what is at PATH now. `None` without an executable
/// there.
pub fn own_path() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let exe = exe.to_string_lossy();
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe).to_owned();
    crate::search_path::find(&exe, None).map(|_| exe)
}

/// Makes this process the one that orphans among its descendants are re-parented to
/// (Linux's child subreaper), so that a helper the agent daemonised (double fork,
/// `setsid`) stays findable as our child and is ended with the run. False where the
/// system has no such thing (macOS and the other Unixes: there a daemon that left both
/// the agent's process group and its parent chain before the stop is out of reach).
pub fn adopt_orphans() -> bool {
    native::adopt_orphans()
}

/// Our children, zombies included, where the system lists them cheaply (Linux, not the
/// portable backend); `None` elsewhere.
pub fn own_children() -> Option<Vec<i32>> {
    #[cfg(target_os = "linux")]
    if !portable() {
        return linux::own_children();
    }
    None
}

/// Collects adopted orphans that have exited, except `keep` (the launcher, collected by
/// whoever started it). Nothing to do where nothing is adopted.
pub fn reap_adopted(keep: i32) {
    #[cfg(target_os = "linux")]
    linux::reap_adopted(keep);
    #[cfg(not(target_os = "linux"))]
    let _ = keep;
}

/// Our own helper processes (the watch helper, a run's guard): children of ours that
/// are not the agent's, whatever [`adopt_orphans`] brings.
static OWN_HELPERS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Notes `pid` as one of our own helpers.
pub fn note_own_helper(pid: u32) {
    if let (Ok(pid), Ok(mut helpers)) = (i32::try_from(pid), OWN_HELPERS.lock()) {
        helpers.push(pid);
    }
}

/// Whether `pid` is one of our own helpers.
pub fn is_own_helper(pid: i32) -> bool {
    OWN_HELPERS.lock().is_ok_and(|h| h.contains(&pid))
}

/// This process's pid.
pub fn own_pid() -> i32 {
    i32::try_from(std::process::id()).unwrap_or(i32::MAX)
}

/// How this process waits, in words (for `doctor`): the backend and whether the kernel
/// gave it an exit watch.
pub fn describe() -> String {
    if portable() {
        let why = if cfg!(any(target_os = "linux", target_os = "macos")) {
            format!(" ({BACKEND_VAR}=portable)")
        } else {
            String::new()
        };
        return format!("portable: a 100 ms poll, ps for the process table{why}");
    }
    let exits = if ExitWatch::new(own_pid()).watching() {
        ""
    } else {
        "; no exit watch from the kernel, so a 100 ms poll for process exits"
    };
    format!("{}{exits}", native::MECHANISMS)
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// The label `ps` shows the Linux watch holder under (`agent-offload __watch DIR`, see
/// `linux.rs`), the name of the helper it replaced.
pub const WATCH_HELPER_COMMAND: &str = "__watch";

/// A process named so that it cannot be confused with a later one that reuses its pid
/// (start time) or with anything from before a reboot (boot id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start: u64,
    pub boot_id: String,
}
