//! Stopping an agent and everything it started: TERM, a grace period, then KILL.
//!
//! The launcher is a session leader (headless: we call `setsid`; tmux: the pane's first
//! process is one), so "everything the agent started" is every process in that session
//! or process group, plus descendants that moved to a session of their own. Processes
//! that ignore SIGHUP or SIGTERM are still found and killed; nothing is left behind.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// How long an agent gets to exit after SIGTERM before it is killed.
pub const GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    session: i32,
    zombie: bool,
    /// Start time in clock ticks since boot: with the pid, names one process even if
    /// the pid is reused later.
    start: u64,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    // Field 22 (starttime); `state` was field 3 and `session` field 6.
    let start = f.nth(15)?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgrp,
        session,
        zombie: state == "Z" || state == "X",
        start,
    })
}

fn all_procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// Whether `pid` is running (a zombie is not). Without `/proc` (macOS), `kill(pid, 0)`.
pub fn alive(pid: i32) -> bool {
    if let Some(p) = read_proc(pid) {
        return !p.zombie;
    }
    if std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    Pid::from_raw(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

/// The live processes belonging to the agent whose launcher is `leader`.
fn members(leader: i32) -> Vec<Proc> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let procs = all_procs();
    let mut set: HashSet<i32> = procs
        .iter()
        .filter(|p| p.session == leader || p.pgrp == leader || p.pid == leader)
        .map(|p| p.pid)
        .collect();
    // Descendants that left for a session of their own (setsid, daemons not yet reparented).
    loop {
        let before = set.len();
        for p in &procs {
            if set.contains(&p.ppid) {
                set.insert(p.pid);
            }
        }
        if set.len() == before {
            break;
        }
    }
    procs
        .into_iter()
        .filter(|p| set.contains(&p.pid) && !p.zombie && p.pid != me)
        .collect()
}

/// Every process ever seen as a member during one stop, so that a descendant in a
/// session of its own is not lost when its parent exits (it is then reparented and
/// no longer reachable from the leader). Identified by pid and start time.
struct Seen(HashMap<i32, u64>);

impl Seen {
    /// Adds the current members; returns those seen so far that are still alive.
    fn refresh(&mut self, leader: i32) -> Vec<i32> {
        for p in members(leader) {
            self.0.insert(p.pid, p.start);
        }
        self.prune()
    }

    /// Forgets the processes that have ended; returns those still alive.
    fn prune(&mut self) -> Vec<i32> {
        self.0.retain(|&pid, &mut start| {
            read_proc(pid).is_some_and(|p| !p.zombie && p.start == start)
        });
        self.0.keys().copied().collect()
    }
}

fn signal_all(pids: &[i32], sig: Signal) {
    for &pid in pids {
        if let Some(p) = Pid::from_raw(pid) {
            let _ = kill_process(p, sig);
        }
    }
}

/// Sends TERM to every member, waits up to `grace` for them to go, then KILLs the rest.
/// Returns once none is left (or after a bounded final wait).
pub fn terminate(leader: i32, grace: Duration) {
    let mut seen = Seen(HashMap::new());
    let first = seen.refresh(leader);
    if !first.is_empty() {
        signal_all(&first, Signal::TERM);
        let deadline = Instant::now() + grace;
        // Most agents are gone within a millisecond or two: look early, then back off.
        // Only the processes already seen are checked here (cheap: no /proc scan); the
        // full scan below also catches any started meanwhile.
        let mut pause = Duration::from_micros(200);
        while !seen.prune().is_empty() && Instant::now() < deadline {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let left = seen.refresh(leader);
        if left.is_empty() || Instant::now() >= end {
            return;
        }
        signal_all(&left, Signal::KILL);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// This boot's id (Linux), so a process recorded before a reboot is never mistaken
/// for a live one.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Names a live process unambiguously, for `run.json`.
pub fn identify(pid: i32) -> Option<crate::run::dir::ProcessId> {
    let p = read_proc(pid)?;
    Some(crate::run::dir::ProcessId {
        pid,
        start: p.start,
        boot_id: boot_id(),
    })
}

/// Whether the process recorded as `id` is still running (the same process: same boot,
/// same start time; not a zombie).
pub fn is_alive(id: &crate::run::dir::ProcessId) -> bool {
    if id.boot_id != boot_id() {
        return false;
    }
    match read_proc(id.pid) {
        Some(p) => !p.zombie && p.start == id.start,
        // No /proc (macOS): the pid alone is the best we have.
        None if !std::path::Path::new("/proc/self/stat").exists() => alive(id.pid),
        None => false,
    }
}

/// Whether the processes of the launcher recorded as `id` can be looked for and stopped
/// without hitting anyone else's: same boot, and its pid is either free or still the
/// same process (then its session id cannot have been reused either).
pub fn still_ours(id: &crate::run::dir::ProcessId) -> bool {
    if id.boot_id != boot_id() {
        return false;
    }
    match read_proc(id.pid) {
        Some(p) => p.start == id.start,
        None => true,
    }
}
