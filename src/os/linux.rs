//! Linux: inotify, pidfd, `/proc` and `boot_id`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use super::ProcInfo;

pub const MECHANISMS: &str = "Linux: inotify on the run directory, a pidfd on the launcher, /proc";

/// `/proc/PID/stat`, parsed.
pub fn process(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    // Field 22 (starttime); `state` was field 3 and `session` field 6.
    let start = f.nth(15)?.parse().ok()?;
    Some(ProcInfo {
        pid,
        ppid,
        pgrp,
        session: Some(session),
        start,
        zombie: state == "Z" || state == "X",
    })
}

/// `utime + stime + cutime + cstime` (fields 14 to 17 of `/proc/PID/stat`), in ms.
pub fn cpu_ms(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    // `rest` starts at field 3 (state): fields 14..=17 are its items 11..=14.
    let ticks: u64 = rest
        .split_ascii_whitespace()
        .skip(11)
        .take(4)
        .map(|t| t.parse::<i64>().ok().and_then(|t| u64::try_from(t).ok()))
        .sum::<Option<u64>>()?;
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Some(ticks.saturating_mul(1000) / per_second)
}

pub fn processes() -> Option<Vec<ProcInfo>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter_map(process)
            .collect(),
    )
}

pub fn running(pid: i32) -> bool {
    process(pid).is_some_and(|p| !p.zombie)
}

pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

pub fn adopt_orphans() -> bool {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_ok()
}

/// Collects adopted orphans that have exited (our zombie children other than `keep`
/// and our own helpers), so a long run does not pile them up. Our children are listed
/// in `/proc/self/task/*/children`.
pub fn reap_adopted(keep: i32) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for pid in list.split_ascii_whitespace().filter_map(|p| p.parse().ok()) {
            if pid == keep || super::is_own_helper(pid) || !process(pid).is_some_and(|p| p.zombie) {
                continue;
            }
            if let Some(p) = Pid::from_raw(pid) {
                let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
            }
        }
    }
}

/// The running executable's image, whatever became of its file.
pub fn running_image() -> Option<PathBuf> {
    let link = PathBuf::from("/proc/self/exe");
    link.exists().then_some(link)
}

pub fn make_fifo(path: &Path, mode: u32) -> std::io::Result<()> {
    rustix::fs::mkfifoat(rustix::fs::CWD, path, rustix::fs::Mode::from_raw_mode(mode))
        .map_err(Into::into)
}

/// A pidfd: readable once the process has ended.
pub struct ExitWatch(OwnedFd);

impl ExitWatch {
    /// `None` on kernels before 5.3, or once the process is gone.
    pub fn new(pid: i32) -> Option<ExitWatch> {
        pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty())
            .ok()
            .map(ExitWatch)
    }

    pub fn wait(&self, timeout: Duration) {
        super::poll_readable(&[self.0.as_fd()], timeout);
    }
}

/// The directory watch. The inotify instance normally lives in a small helper process
/// (this binary, run as `agent-offload __watch DIR`) that writes one byte to a pipe per
/// batch of events. Why: closing an inotify instance waits for an SRCU grace period in
/// the kernel, measured here at 8–14 ms, and the exit of the process that holds it waits
/// the same. In the helper that wait happens after we have exited; in-process it would
/// sit on the path from `done.md` to our exit. If the helper cannot start, or dies, the
/// watch is in-process.
pub struct DirWatch {
    source: Source,
    dir: PathBuf,
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

/// A watch whose helper has been started but may not have registered it yet.
pub struct StartingWatch {
    child: Option<std::process::Child>,
    dir: PathBuf,
}

impl StartingWatch {
    /// Waits for the helper's watch (a few milliseconds), or watches in-process.
    pub fn ready(self) -> Result<DirWatch> {
        let source = match self.child.and_then(helper_ready) {
            Some(source) => source,
            None => Source::Inline(inotify_on(&self.dir)?),
        };
        Ok(DirWatch {
            source,
            dir: self.dir,
        })
    }
}

impl DirWatch {
    /// An in-process watch (no helper).
    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn start_inline(dir: &Path) -> Result<StartingWatch> {
        Ok(StartingWatch {
            child: None,
            dir: dir.to_path_buf(),
        })
    }

    /// Starts the helper without waiting for it, so that its start-up overlaps the
    /// agent's.
    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn start(dir: &Path) -> Result<StartingWatch> {
        Ok(StartingWatch {
            child: spawn_helper(dir),
            dir: dir.to_path_buf(),
        })
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.source {
            Source::Helper { events, .. } => Some(events.as_fd()),
            Source::Inline(fd) => Some(fd.as_fd()),
            Source::None => None,
        }
    }

    pub fn watching(&self) -> bool {
        self.fd().is_some()
    }

    /// One `poll(2)` on the signal pipe, the pidfd and the watch.
    pub fn wait(&mut self, signal: BorrowedFd<'_>, exit: Option<&ExitWatch>, timeout: Duration) {
        let mut fds = vec![signal];
        fds.extend(exit.map(|e| e.0.as_fd()));
        let watched = self.fd();
        fds.extend(watched);
        let revents = super::poll_readable(&fds, timeout);
        // The helper's end of the pipe closed: it is gone.
        let hung_up = watched.is_some()
            && revents
                .last()
                .is_some_and(|r| r.intersects(PollFlags::HUP | PollFlags::ERR));
        self.consume(hung_up);
    }

    fn consume(&mut self, hung_up: bool) {
        if hung_up && matches!(self.source, Source::Helper { .. }) {
            // The helper is gone: watch in-process from now on.
            self.source = inotify_on(&self.dir).map_or(Source::None, Source::Inline);
        }
        match &self.source {
            Source::Helper { events: fd, .. } | Source::Inline(fd) => drain_fd(fd),
            Source::None => {}
        }
    }
}

fn spawn_helper(dir: &Path) -> Option<std::process::Child> {
    let child = super::own_command()
        .ok()?
        .arg(super::WATCH_HELPER_COMMAND)
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    super::note_own_helper(child.id());
    Some(child)
}

fn helper_ready(mut child: std::process::Child) -> Option<Source> {
    let control = child.stdin.take()?;
    let events = OwnedFd::from(child.stdout.take()?);
    // The helper says "r" once its watch is registered (a few milliseconds).
    let mut fds = [PollFd::new(&events, PollFlags::IN)];
    let limit = Timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    let ready = poll(&mut fds, Some(&limit)).unwrap_or(0) > 0
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
