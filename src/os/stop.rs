//! Stopping an agent and everything it started: TERM, a grace period, then KILL.
//!
//! The launcher is a session leader (headless: we call `setsid`), or in a pane the child
//! of one (the pane's first process, agent-offload's `__pane` wrapper), so "everything the agent started" is every process in that session
//! or process group, plus descendants that moved to a session of their own. Processes
//! that ignore SIGHUP or SIGTERM are still found and killed; nothing is left behind.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group, test_kill_process_group};

use crate::os::{self as sys, ProcInfo, ProcessId};

/// Whether this process adopts the agent's orphans (see [`adopt_orphans`]).
static ADOPTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes this process, about to start a launcher as its child, adopt what the agent
/// orphans, so the stop sweep finds daemons too. Where the system cannot, the sweep
/// finds what the process group and the parent chain reach. Returns whether it does.
pub fn adopt_orphans() -> bool {
    let adopting = sys::adopt_orphans();
    if adopting {
        ADOPTING.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    adopting
}

/// Collects the adopted orphans that have exited (see [`adopt_orphans`]), except the
/// launcher `keep`.
pub fn reap_adopted(keep: i32) {
    if ADOPTING.load(std::sync::atomic::Ordering::SeqCst) {
        sys::reap_adopted(keep);
    }
}

/// How long an agent gets to exit after SIGTERM before it is killed.
pub const GRACE: Duration = Duration::from_secs(2);

/// Whether `pid` is running (a zombie is not).
pub fn alive(pid: i32) -> bool {
    sys::running(pid)
}

/// The CPU time used so far by the agent whose launcher is `leader`, over all its live
/// processes (each with the children it has collected), in milliseconds; `None` when
/// the process table cannot be read.
pub fn tree_cpu_ms(leader: i32) -> Option<u64> {
    let procs = members(leader)?;
    Some(procs.iter().filter_map(|p| sys::cpu_ms(p.pid)).sum())
}

/// The live processes belonging to the agent whose launcher is `leader`; `None` when
/// the process table cannot be read. Where this process adopts orphans (it started the
/// launcher and is the child subreaper, see `sys::adopt_orphans`), its children other
/// than its own helpers are the agent's too: daemons that left the agent's session
/// and parent chain.
fn members(leader: i32) -> Option<Vec<ProcInfo>> {
    let me = sys::own_pid();
    let adopting = ADOPTING.load(std::sync::atomic::Ordering::SeqCst);
    if adopting && nothing_left(leader) {
        return Some(Vec::new());
    }
    let procs = sys::processes()?;
    let mut set: HashSet<i32> = procs
        .iter()
        .filter(|p| {
            p.session == Some(leader)
                || p.pgrp == leader
                || p.pid == leader
                || (adopting && p.ppid == me && !sys::is_own_helper(p.pid))
        })
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
    Some(
        procs
            .into_iter()
            .filter(|p| set.contains(&p.pid) && !p.zombie && p.pid != me)
            .collect(),
    )
}

/// Whether the agent can have no live process left, known without reading the process
/// table: for a process that adopts orphans, when the launcher `leader` is a child of
/// ours that has exited and no other child of ours is there but our own helpers. Every
/// live descendant of the launcher then has a chain of live parents up to a child of
/// ours (an orphan is re-parented to the nearest subreaper: us, or a live descendant
/// that is one), and every member of its session or process group is a descendant; so
/// none is alive. The usual end of a headless run, which then reads a few `/proc` files
/// instead of every process's.
fn nothing_left(leader: i32) -> bool {
    let Some(children) = sys::own_children() else {
        return false;
    };
    children.contains(&leader)
        && sys::process(leader).is_some_and(|p| p.zombie)
        && children
            .iter()
            .all(|&c| c == leader || sys::is_own_helper(c))
}

/// Every process ever seen as a member during one stop, so that a descendant in a
/// session of its own is not lost when its parent exits (it is then reparented and
/// no longer reachable from the leader). Identified by pid and start time.
#[derive(Default)]
struct Seen {
    /// pid → (start time, process group).
    known: HashMap<i32, (u64, i32)>,
    /// Whether the process table could be read at all.
    table: bool,
}

impl Seen {
    /// Adds the current members; returns those seen so far that are still alive.
    fn refresh(&mut self, leader: i32) -> Vec<i32> {
        let members = members(leader);
        self.table |= members.is_some();
        for p in members.unwrap_or_default() {
            self.known.insert(p.pid, (p.start, p.pgrp));
        }
        self.prune()
    }

    /// Forgets the processes that have ended; returns those still alive.
    fn prune(&mut self) -> Vec<i32> {
        self.known.retain(|&pid, &mut (start, _)| {
            sys::process(pid).is_some_and(|p| !p.zombie && p.start == start)
        });
        self.known.keys().copied().collect()
    }

    /// The process groups of the live members, other than this process's own: each is
    /// the agent's (a group never spans two sessions, and every member's session is
    /// the agent's or one a member made).
    fn groups(&self) -> Vec<i32> {
        let own = rustix::process::getpgrp().as_raw_nonzero().get();
        let mut groups: Vec<i32> = self
            .known
            .values()
            .map(|&(_, pgrp)| pgrp)
            .filter(|&g| g > 1 && g != own)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

/// Signals `pids` and the process groups of everything seen: a whole group at once,
/// so that a shell whose child is killed cannot start its next command between the
/// child's signal and its own (a group signal reaches every member, and a fork under
/// way, together).
fn signal_all(seen: &Seen, pids: &[i32], sig: Signal) {
    for g in seen.groups() {
        if let Some(g) = Pid::from_raw(g) {
            let _ = kill_process_group(g, sig);
        }
    }
    for &pid in pids {
        if let Some(p) = Pid::from_raw(pid) {
            let _ = kill_process(p, sig);
        }
    }
}

/// Sends TERM to every member, waits up to `grace` for them to go, then KILLs the rest.
/// Returns once none is left (or after a bounded final wait).
///
/// The members come from the process table; the launcher's process group is signalled
/// too, as the portable core that reaches the agent even where the table cannot be read
/// (then the group alone decides how long to wait).
pub fn terminate(leader: i32, grace: Duration) {
    let Sweep { seen, first, .. } = Sweep::begin(leader);
    sweep(leader, seen, &first, grace);
}

/// A stop in two steps: [`Sweep::begin`] looks at the process table, [`Sweep::finish`]
/// signals. Something that can end processes by itself (closing a pane sends SIGHUP) goes
/// between the two: a process whose parent chain that cuts (its parent dies of the
/// HUP, it is re-parented) is then already known, and is waited for and killed
/// like the rest. Without a session id to find it by (macOS, the portable backend),
/// nothing else would find it.
pub struct Sweep {
    leader: i32,
    seen: Seen,
    first: Vec<i32>,
}

impl Sweep {
    /// Notes every process of the agent whose launcher is `leader`.
    pub fn begin(leader: i32) -> Sweep {
        let mut seen = Seen::default();
        let first = seen.refresh(leader);
        Sweep {
            leader,
            seen,
            first,
        }
    }

    /// [`terminate`], from what [`Sweep::begin`] saw: returns once none of them, nor any
    /// process of the agent started since, is alive (or after a bounded final wait).
    pub fn finish(self, grace: Duration) {
        let Sweep {
            leader,
            mut seen,
            first,
        } = self;
        let first = if first.is_empty() {
            first
        } else {
            seen.refresh(leader)
        };
        sweep(leader, seen, &first, grace);
    }
}

fn sweep(leader: i32, mut seen: Seen, first: &[i32], grace: Duration) {
    let group = signal_group(leader, Signal::TERM);
    signal_all(&seen, first, Signal::TERM);
    if seen.table && first.is_empty() {
        // The whole table showed nothing of the agent alive (the usual case once it
        // has published and exited): nothing is left that could start anything.
        return;
    }
    let deadline = Instant::now() + grace;
    // Most agents are gone within a millisecond or two: look early, then back off.
    // Only the processes already seen are checked here (cheap: no full scan); the
    // full scan below also catches any started meanwhile.
    let mut pause = Duration::from_micros(200);
    let waiting = |seen: &mut Seen| {
        if seen.table {
            !seen.prune().is_empty()
        } else {
            group && group_exists(leader)
        }
    };
    while waiting(&mut seen) && Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    if group {
        signal_group(leader, Signal::KILL);
    }
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let left = seen.refresh(leader);
        if left.is_empty() || Instant::now() >= end {
            return;
        }
        signal_all(&seen, &left, Signal::KILL);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `sig` to the process group `leader` leads; false if there is no such group,
/// or it is this process's own (the pane's wrapper sweeps the run it leads: its members
/// are signalled one by one, never the group it is in itself).
/// Safe to call only for a launcher that is still ours ([`still_ours`]): a group id
/// cannot be reused while any member of the group lives.
fn signal_group(leader: i32, sig: Signal) -> bool {
    leader != rustix::process::getpgrp().as_raw_nonzero().get()
        && Pid::from_raw(leader).is_some_and(|p| kill_process_group(p, sig).is_ok())
}

/// Whether the group still has a member (a zombie leader counts, until collected).
fn group_exists(leader: i32) -> bool {
    Pid::from_raw(leader).is_some_and(|p| test_kill_process_group(p).is_ok())
}

/// Names a live process unambiguously, for `run.json`.
pub fn identify(pid: i32) -> Option<ProcessId> {
    let p = sys::process(pid)?;
    Some(ProcessId {
        pid,
        start: p.start,
        boot_id: sys::boot_id().to_owned(),
    })
}

/// Whether the process recorded as `id` is still running (the same process: same boot,
/// same start time; not a zombie).
pub fn is_alive(id: &ProcessId) -> bool {
    id.boot_id == sys::boot_id()
        && sys::process(id.pid).is_some_and(|p| !p.zombie && p.start == id.start)
}

/// Whether the processes of the launcher recorded as `id` can be looked for and stopped
/// without hitting anyone else's: same boot, and its pid is either free or still the
/// same process (then its session id cannot have been reused either).
pub fn still_ours(id: &ProcessId) -> bool {
    id.boot_id == sys::boot_id() && sys::process(id.pid).is_none_or(|p| p.start == id.start)
}
