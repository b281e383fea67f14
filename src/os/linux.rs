//! Linux: inotify, pidfd, `/proc` and `boot_id`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rustix::fs::inotify;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use super::ProcInfo;

pub const MECHANISMS: &str = "Linux: inotify on the run directory, a pidfd on the launcher, /proc";

/// Reads a small `/proc` file with one `read(2)` into `buf`: `/proc/PID/stat` is made
/// whole by one call of the kernel's formatter, so a read shorter than the buffer has it
/// all (`std::fs::read_to_string` takes a `statx` and several reads for the same). A
/// file that fills the buffer is read again the ordinary way.
fn read_proc<'b>(path: &str, buf: &'b mut [u8; 1024]) -> Option<std::borrow::Cow<'b, str>> {
    use rustix::fs::{Mode, OFlags, openat};
    let fd = openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let n = loop {
        match rustix::io::read(&fd, &mut buf[..]) {
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
            Ok(n) => break n,
        }
    };
    if n == buf.len() {
        return std::fs::read_to_string(path)
            .ok()
            .map(std::borrow::Cow::Owned);
    }
    std::str::from_utf8(&buf[..n])
        .ok()
        .map(std::borrow::Cow::Borrowed)
}

/// `/proc/PID/stat`, parsed.
pub fn process(pid: i32) -> Option<ProcInfo> {
    let mut buf = [0u8; 1024];
    let stat = read_proc(&format!("/proc/{pid}/stat"), &mut buf)?;
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
    let mut buf = [0u8; 1024];
    let stat = read_proc(&format!("/proc/{pid}/stat"), &mut buf)?;
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

/// Our children (zombies included), from `/proc/self/task/*/children`; `None` when the
/// kernel does not list them (built without `CONFIG_PROC_CHILDREN`).
pub fn own_children() -> Option<Vec<i32>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut children = Vec::new();
    for task in tasks {
        let list = std::fs::read_to_string(task.ok()?.path().join("children")).ok()?;
        children.extend(
            list.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Some(children)
}

/// Collects adopted orphans that have exited (our zombie children other than `keep`
/// and our own helpers), so a long run does not pile them up.
pub fn reap_adopted(keep: i32) {
    for pid in own_children().unwrap_or_default() {
        if pid == keep || super::is_own_helper(pid) || !process(pid).is_some_and(|p| p.zombie) {
            continue;
        }
        if let Some(p) = Pid::from_raw(pid) {
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
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

/// The directory watch: an inotify instance in this process, and a holder process that
/// keeps a copy of it open. Why the holder: closing an inotify instance with a watch waits
/// for an SRCU grace period in the kernel, measured here at 8–14 ms, and the exit of the
/// process that holds the last copy waits the same. The holder (`/bin/sh` blocked on
/// reading its stdin, a pipe from us) holds the last copy: it sees the pipe close when we
/// exit, and the wait happens in its exit, after ours. It only holds the descriptor: the
/// watch is registered and read here, so losing the holder loses nothing but the fast
/// exit. An earlier version ran the watch in a re-executed copy of this binary that
/// relayed events through a pipe: ~2.4 ms of start-up and a handshake, for the same
/// benefit.
pub struct DirWatch {
    fd: Option<OwnedFd>,
    // Held open: the holder exits when this closes (our exit included).
    _holder: Option<std::process::ChildStdin>,
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

/// A watch already registered (or the error that prevented it, reported by `ready`, so
/// that the caller records it like any other failure of the run), and the directory,
/// when it is to have a holder.
pub struct StartingWatch {
    watch: Result<DirWatch>,
    holder_for: Option<PathBuf>,
}

impl StartingWatch {
    /// Starts the holder, if any: here rather than with the watch, so that its start-up
    /// comes after the agent's start, not before it.
    pub fn ready(self) -> Result<DirWatch> {
        let watch = self.watch?;
        match (self.holder_for, watch.fd) {
            (Some(dir), Some(fd)) => Ok(DirWatch {
                _holder: spawn_holder(&fd, &dir),
                fd: Some(fd),
            }),
            (_, fd) => Ok(DirWatch { fd, _holder: None }),
        }
    }
}

impl DirWatch {
    /// An in-process watch without a holder: for a process whose exit nobody waits on.
    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn start_inline(dir: &Path) -> Result<StartingWatch> {
        Ok(StartingWatch {
            watch: inotify_on(dir).map(|fd| DirWatch {
                fd: Some(fd),
                _holder: None,
            }),
            holder_for: None,
        })
    }

    /// Registers the watch; its holder starts in [`StartingWatch::ready`].
    pub fn start(dir: &Path) -> Result<StartingWatch> {
        let mut starting = DirWatch::start_inline(dir)?;
        starting.holder_for = Some(dir.to_path_buf());
        Ok(starting)
    }

    pub fn watching(&self) -> bool {
        self.fd.is_some()
    }

    /// One `poll(2)` on the signal pipe, the pidfd and the watch; takes the watch's events.
    pub fn wait(&mut self, signal: BorrowedFd<'_>, exit: Option<&ExitWatch>, timeout: Duration) {
        let mut fds = vec![signal];
        fds.extend(exit.map(|e| e.0.as_fd()));
        fds.extend(self.fd.as_ref().map(AsFd::as_fd));
        super::poll_readable(&fds, timeout);
        if let Some(fd) = &self.fd {
            drain_fd(fd);
        }
    }
}

/// Starts the holder of a copy of `fd` (see [`DirWatch`]); `None` if it cannot start
/// (then our own exit pays for the close). The copy is made without close-on-exec for
/// the holder to inherit and closed here right after: a process another thread starts
/// in that moment inherits it too, which costs nothing but that process's exit time.
/// `ps` shows the holder as `agent-offload __watch DIR`.
fn spawn_holder(fd: &OwnedFd, dir: &Path) -> Option<std::process::ChildStdin> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().ok()?;
    let inherited = rustix::io::dup(fd).ok()?;
    let child = std::process::Command::new("/bin/sh")
        .arg0(format!(
            "{} {} {}",
            exe.display(),
            super::WATCH_HELPER_COMMAND,
            dir.display()
        ))
        .args(["-c", "read -r line"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    drop(inherited);
    let mut child = child.ok()?;
    super::note_own_helper(child.id());
    child.stdin.take()
}
