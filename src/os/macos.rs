//! macOS: kqueue for both events, libproc for the process table.
//!
//! Crates: `libproc` gives a safe `proc_pidinfo`/`proc_listpids` (the system's own
//! interface for a process's parent, group, state and start time) instead of
//! hand-written FFI over `sysctl(KERN_PROC)` structures; `nix` gives a safe `kevent`
//! and `mkfifo`, which rustix does not offer on Apple targets. Only type-checked in CI
//! (`shared/tools/check-macos`); the logic above this file is the one CI runs on Linux
//! in the portable mode.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use libproc::bsd_info::BSDInfo;
use libproc::proc_pid::pidinfo;
use libproc::processes::{ProcFilter, pids_by_type};
use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};

use super::ProcInfo;

pub const MECHANISMS: &str =
    "macOS: kqueue on the run directory (EVFILT_VNODE) and the launcher (EVFILT_PROC), libproc";

/// `SZOMB` from `<sys/proc.h>`: the process has exited and awaits its parent's wait.
const SZOMB: u32 = 5;

pub fn process(pid: i32) -> Option<ProcInfo> {
    if pid <= 0 {
        return None;
    }
    let info: BSDInfo = pidinfo(pid, 0).ok()?;
    let micros = info
        .pbi_start_tvsec
        .saturating_mul(1_000_000)
        .saturating_add(info.pbi_start_tvusec);
    Some(ProcInfo {
        pid,
        ppid: i32::try_from(info.pbi_ppid).unwrap_or(0),
        pgrp: i32::try_from(info.pbi_pgid).unwrap_or(0),
        // libproc does not say; the group and the parent chain suffice.
        session: None,
        start: micros,
        zombie: info.pbi_status == SZOMB,
    })
}

/// User and system time from `proc_pidinfo(PROC_PIDTASKINFO)`. Its unit is Mach
/// absolute time: nanoseconds on Intel, 125/3 ns ticks on Apple silicon (the timebase
/// `mach_timebase_info` reports there).
pub fn cpu_ms(pid: i32) -> Option<u64> {
    let info: libproc::task_info::TaskInfo = pidinfo(pid, 0).ok()?;
    let units = info.pti_total_user.saturating_add(info.pti_total_system);
    let nanos = if cfg!(target_arch = "aarch64") {
        units.saturating_mul(125) / 3
    } else {
        units
    };
    Some(nanos / 1_000_000)
}

pub fn processes() -> Option<Vec<ProcInfo>> {
    let pids = pids_by_type(ProcFilter::All).ok()?;
    Some(
        pids.into_iter()
            .filter_map(|p| process(i32::try_from(p).ok()?))
            .collect(),
    )
}

pub fn running(pid: i32) -> bool {
    process(pid).is_some_and(|p| !p.zombie)
}

/// Start times are absolute (microseconds since the epoch): no boot id is needed.
pub fn boot_id() -> String {
    String::new()
}

/// macOS has no child subreaper (and no `PR_SET_CHILD_SUBREAPER` equivalent):
/// orphans go to launchd.
pub fn adopt_orphans() -> bool {
    false
}

/// macOS has no path to the running image itself (no `/proc/self/exe`, no `fexecve`):
/// the path it was started from is used.
pub fn running_image() -> Option<std::path::PathBuf> {
    None
}

pub fn make_fifo(path: &Path, mode: u32) -> std::io::Result<()> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(
        nix::sys::stat::mode_t::try_from(mode).unwrap_or(0o600),
    );
    nix::unistd::mkfifo(path, mode).map_err(Into::into)
}

fn timespec(d: Duration) -> nix::libc::timespec {
    nix::libc::timespec {
        tv_sec: nix::libc::time_t::try_from(d.as_secs()).unwrap_or(3600),
        tv_nsec: nix::libc::c_long::from(d.subsec_nanos()),
    }
}

fn change(ident: usize, filter: EventFilter, flags: EvFlags, fflags: FilterFlag) -> KEvent {
    KEvent::new(ident, filter, EvFlags::EV_ADD | flags, fflags, 0, 0)
}

fn exit_filter(pid: i32) -> Option<KEvent> {
    Some(change(
        usize::try_from(pid).ok()?,
        EventFilter::EVFILT_PROC,
        EvFlags::EV_ONESHOT,
        FilterFlag::NOTE_EXIT,
    ))
}

fn empty_events() -> [KEvent; 8] {
    [KEvent::new(
        0,
        EventFilter::EVFILT_VNODE,
        EvFlags::empty(),
        FilterFlag::empty(),
        0,
        0,
    ); 8]
}

/// A kqueue is waited on with `kevent` itself, never with `poll(2)`: on macOS a kqueue
/// descriptor is not reliably pollable (it may report readable with nothing pending).
///
/// `EVFILT_PROC`/`NOTE_EXIT` on the launcher.
pub struct ExitWatch {
    kq: Kqueue,
    pid: i32,
}

impl ExitWatch {
    /// `None` if the process is already gone (registering the filter fails).
    pub fn new(pid: i32) -> Option<ExitWatch> {
        let kq = Kqueue::new().ok()?;
        kq.kevent(
            &[exit_filter(pid)?],
            &mut [],
            Some(timespec(Duration::ZERO)),
        )
        .ok()?;
        Some(ExitWatch { kq, pid })
    }

    pub fn wait(&self, timeout: Duration) {
        let _ = self
            .kq
            .kevent(&[], &mut empty_events(), Some(timespec(timeout)));
    }
}

/// `EVFILT_VNODE`/`NOTE_WRITE` on the run directory (a directory is written when an
/// entry is created in it or renamed into it), on a kqueue that the waiter blocks in.
/// The signal pipe and the launcher's end are added to the same kqueue when it waits.
pub struct DirWatch {
    kq: Kqueue,
    // The filter refers to this descriptor: it lives as long as the kqueue.
    _dir: OwnedFd,
}

/// Registering a kqueue filter is immediate: a started watch is ready.
pub type StartingWatch = DirWatch;

impl DirWatch {
    pub fn start(dir: &Path) -> Result<DirWatch> {
        let fd = rustix::fs::open(
            dir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .with_context(|| format!("cannot open {} to watch it", dir.display()))?;
        let ident = usize::try_from(fd.as_raw_fd()).context("bad descriptor")?;
        let kq = Kqueue::new().with_context(|| format!("cannot watch {}", dir.display()))?;
        let vnode = change(
            ident,
            EventFilter::EVFILT_VNODE,
            EvFlags::EV_CLEAR,
            FilterFlag::NOTE_WRITE,
        );
        kq.kevent(&[vnode], &mut [], Some(timespec(Duration::ZERO)))
            .with_context(|| format!("cannot watch {}", dir.display()))?;
        Ok(DirWatch { kq, _dir: fd })
    }

    pub fn start_inline(dir: &Path) -> Result<DirWatch> {
        DirWatch::start(dir)
    }

    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn ready(self) -> Result<DirWatch> {
        Ok(self)
    }

    #[allow(clippy::unused_self)] // the signature every backend's watch shares
    pub fn watching(&self) -> bool {
        true
    }

    /// One `kevent` on the directory's kqueue, with the signal pipe (`EVFILT_READ`,
    /// level-triggered: a pending signal is never lost) and the launcher's end added.
    /// Adding a filter that is already there only updates it. A launcher that is already
    /// gone fails its filter, which `kevent` reports at once (`EV_ERROR`): the caller
    /// then sees it gone. Directory events stay queued between waits (`EV_CLEAR`), so a
    /// file created while the caller looked is not missed.
    pub fn wait(&mut self, signal: BorrowedFd<'_>, exit: Option<&ExitWatch>, timeout: Duration) {
        let mut changes = Vec::with_capacity(2);
        if let Ok(fd) = usize::try_from(signal.as_raw_fd()) {
            changes.push(change(
                fd,
                EventFilter::EVFILT_READ,
                EvFlags::empty(),
                FilterFlag::empty(),
            ));
        }
        changes.extend(exit.and_then(|e| exit_filter(e.pid)));
        let _ = self
            .kq
            .kevent(&changes, &mut empty_events(), Some(timespec(timeout)));
    }
}
