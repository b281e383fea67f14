//! The pane's first process, `agent-offload __pane RUNDIR`: a small wrapper around
//! `launch.sh`, so that a pane run stops everything its agent started, daemons too.
//!
//! tmux starts it as a session leader. It makes itself the child subreaper (Linux; see
//! `sys::adopt_orphans`), so a helper the agent daemonised (`setsid`, then a fork whose
//! parent exits) is re-parented to it instead of to init, and stays in the parent chain
//! every stop sweep follows. It runs the launcher as its child, in its own process group
//! (the pane's foreground group: the agent keeps the terminal), and collects the
//! orphans it adopts as they exit. When the launcher ends, the pane is closed (SIGHUP)
//! or the run is stopped (SIGTERM), it ends everything left of the run — its session,
//! its process group and what it adopted: TERM, grace, KILL, the shared stop sweep —
//! and exits with the launcher's status. It reads, writes and forwards nothing else:
//! the launcher still takes the environment hand-over, records the exit status and
//! starts the agent exactly as before.
//!
//! Without a subreaper (macOS, other Unixes) it changes nothing but the extra process:
//! a daemon whose parent has exited is re-parented to init, out of reach.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus, getpgrp, kill_process_group, waitpid};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::os as sys;
use crate::os::stop;
use crate::store::dir;

pub use crate::pane::tmux::PANE_COMMAND;

/// The wrapper (see the module's documentation); returns the launcher's exit status
/// (128 + n when it was killed by signal n).
pub fn pane_main(run_dir: &Path) -> Result<u8> {
    let wake = Wake::install()?;
    let adopting = stop::adopt_orphans();
    let launcher = run_dir.join(dir::LAUNCHER);
    // Signal handlers are reset to the default in the launcher by exec; nothing is
    // ignored or blocked here, so it starts as it did when it was the pane's first
    // process. Its environment is the pane's, as before.
    let child = Command::new("/bin/sh")
        .arg(&launcher)
        .spawn()
        .with_context(|| format!("cannot start /bin/sh {}", launcher.display()))?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    // Collected below with waitpid, like the orphans.
    drop(child);
    let status = wait_launcher(&wake, pid);
    if let Some(sig) = wake.stop_signal() {
        // What the pane's first process was sent goes on to the launcher and the agent
        // (the whole group at once, this process included, which takes it), as when the
        // launcher was the first process: a closed pane HUPs them, not TERMs them.
        let _ = kill_process_group(getpgrp(), sig);
    }
    // The launcher has ended or the run is being stopped: nothing of it may outlive
    // the pane. This process is the sweep's leader: it never signals itself or its own
    // process group (see `stop`), only each member. As the subreaper, every process of
    // the run is its descendant: with no child left (the usual end) nothing is, and the
    // process table need not be read.
    if !(adopting && status.is_some() && no_children()) {
        stop::terminate(sys::own_pid(), stop::GRACE);
    }
    let status = status.or_else(|| collect(pid));
    Ok(status.map_or(1, exit_code))
}

/// Waits until the launcher `pid` ends (its status) or SIGHUP or SIGTERM asks for a
/// stop (`None`), collecting the adopted orphans that exit meanwhile.
fn wait_launcher(wake: &Wake, pid: i32) -> Option<WaitStatus> {
    loop {
        if let Some(status) = reap(pid) {
            return Some(status);
        }
        if wake.stop_signal().is_some() {
            return None;
        }
        wake.sleep();
    }
}

/// Collects every child that has exited; returns the launcher's status if it is one.
fn reap(launcher: i32) -> Option<WaitStatus> {
    let mut found = None;
    while let Ok(Some((p, status))) = waitpid(None, WaitOptions::NOHANG) {
        if p.as_raw_nonzero().get() == launcher {
            found = Some(status);
        }
    }
    found
}

/// Whether this process has no child at all, exited or not (all collected).
fn no_children() -> bool {
    matches!(
        waitpid(None, WaitOptions::NOHANG),
        Err(rustix::io::Errno::CHILD)
    )
}

/// The launcher's status after the stop sweep: by then it has been killed, so it is a
/// moment away from being collectable. Bounded.
fn collect(launcher: i32) -> Option<WaitStatus> {
    let pid = Pid::from_raw(launcher)?;
    let mut pause = std::time::Duration::from_micros(100);
    for _ in 0..100 {
        match waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(Some((_, status))) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(10));
    }
    None
}

fn exit_code(status: WaitStatus) -> u8 {
    let code = status
        .exit_status()
        .or_else(|| status.terminating_signal().map(|s| 128 + s))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}

/// The signals the wrapper takes, as wake-ups on a self-pipe: SIGCHLD (a child ended),
/// SIGHUP (the pane closed) and SIGTERM (a stop), which set `stop`, and the terminal's
/// SIGINT and SIGQUIT, which only the agent in the foreground group acts on: the
/// wrapper must not die of a Ctrl-C and leave the agent's processes behind.
struct Wake {
    read: UnixStream,
    /// SIGHUP or SIGTERM once either came; 0 before.
    stop: Arc<AtomicUsize>,
}

impl Wake {
    fn install() -> Result<Wake> {
        let (read, write) = UnixStream::pair().context("cannot create the signal pipe")?;
        read.set_nonblocking(true)
            .context("cannot set up the signal pipe")?;
        write
            .set_nonblocking(true)
            .context("cannot set up the signal pipe")?;
        let stop = Arc::new(AtomicUsize::new(0));
        for sig in [SIGHUP, SIGTERM] {
            #[allow(clippy::cast_sign_loss)] // signal numbers are small and positive
            signal_hook::flag::register_usize(sig, Arc::clone(&stop), sig as usize)
                .context("cannot install a signal handler")?;
        }
        for sig in [SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT] {
            signal_hook::low_level::pipe::register(
                sig,
                write.try_clone().context("cannot set up the signal pipe")?,
            )
            .context("cannot install a signal handler")?;
        }
        Ok(Wake { read, stop })
    }

    /// The stop signal received (SIGHUP or SIGTERM), if any.
    fn stop_signal(&self) -> Option<Signal> {
        match i32::try_from(self.stop.load(Ordering::SeqCst)) {
            Ok(SIGHUP) => Some(Signal::HUP),
            Ok(SIGTERM) => Some(Signal::TERM),
            _ => None,
        }
    }

    /// Blocks until a signal arrives (one that came since the last look counts), then
    /// drains the pipe.
    fn sleep(&self) {
        let mut fds = [PollFd::new(&self.read, PollFlags::IN)];
        let _ = poll(&mut fds, None);
        let mut buf = [0u8; 64];
        while matches!(rustix::io::read(&self.read, &mut buf), Ok(n) if n > 0) {}
    }
}
