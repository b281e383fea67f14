//! macOS: kqueue for both events, libproc for the process table.
//!
//! Crates: `libproc` gives a safe `proc_pidinfo`/`proc_listpids` (the system's own
//! interface for a process's parent, group, state and start time) instead of
//! hand-written FFI over `sysctl(KERN_PROC)` structures; `nix` gives a safe `kevent`
//! and `mkfifo`, which rustix does not offer on Apple targets. Only type-checked in CI
//! (`shared/tools/check-macos`); the logic above this file is the one CI runs on Linux
//! in the portable mode.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

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

pub fn make_fifo(path: &Path, mode: u32) -> std::io::Result<()> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(
        nix::sys::stat::mode_t::try_from(mode).unwrap_or(0o600),
    );
    nix::unistd::mkfifo(path, mode).map_err(Into::into)
}

fn zero() -> nix::libc::timespec {
    nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }
}

/// Registers one filter on a new kqueue; the kqueue's descriptor is then readable when
/// the filter fires.
fn kqueue_with(
    ident: usize,
    filter: EventFilter,
    flags: EvFlags,
    fflags: FilterFlag,
) -> std::io::Result<Kqueue> {
    let kq = Kqueue::new()?;
    let change = KEvent::new(ident, filter, EvFlags::EV_ADD | flags, fflags, 0, 0);
    kq.kevent(&[change], &mut [], Some(zero()))?;
    Ok(kq)
}

/// `EVFILT_PROC`/`NOTE_EXIT` on `pid`; `None` if the process is already gone.
pub fn exit_watch(pid: i32) -> Option<OwnedFd> {
    let ident = usize::try_from(pid).ok()?;
    kqueue_with(
        ident,
        EventFilter::EVFILT_PROC,
        EvFlags::EV_ONESHOT,
        FilterFlag::NOTE_EXIT,
    )
    .ok()
    .map(OwnedFd::from)
}

/// `EVFILT_VNODE`/`NOTE_WRITE` on the directory: a directory is written when an entry
/// is created in it or renamed into it.
pub struct DirWatch {
    kq: Kqueue,
    // The filter refers to this descriptor: it lives as long as the kqueue.
    _dir: OwnedFd,
}

/// Registering a kqueue filter is immediate: a started watch is ready.
pub type StartingWatch = DirWatch;

impl DirWatch {
    pub fn start(dir: &Path) -> Result<DirWatch> {
        DirWatch::new(dir)
    }

    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn ready(self) -> Result<DirWatch> {
        Ok(self)
    }

    fn new(dir: &Path) -> Result<DirWatch> {
        let fd = rustix::fs::open(
            dir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .with_context(|| format!("cannot open {} to watch it", dir.display()))?;
        let ident = usize::try_from(fd.as_raw_fd()).context("bad descriptor")?;
        let kq = kqueue_with(
            ident,
            EventFilter::EVFILT_VNODE,
            EvFlags::EV_CLEAR,
            FilterFlag::NOTE_WRITE,
        )
        .with_context(|| format!("cannot watch {}", dir.display()))?;
        Ok(DirWatch { kq, _dir: fd })
    }

    #[allow(clippy::unnecessary_wraps)] // the signature every backend's watch shares
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.kq.as_fd())
    }

    /// Takes the pending events (`EV_CLEAR` re-arms the filter).
    pub fn consume(&mut self, _hung_up: bool) {
        let empty = KEvent::new(
            0,
            EventFilter::EVFILT_VNODE,
            EvFlags::empty(),
            FilterFlag::empty(),
            0,
            0,
        );
        let mut out = [empty; 8];
        while matches!(self.kq.kevent(&[], &mut out, Some(zero())), Ok(n) if n > 0) {}
    }
}
