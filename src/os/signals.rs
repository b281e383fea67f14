//! Signals, in one place.
//!
//! SIGINT, SIGTERM and SIGHUP sent to agent-offload are not allowed to kill it outright:
//! the delegated agent runs in its own session (headless) or in a tmux pane, so it would
//! survive us and keep working unsupervised. Instead each is turned into an event that
//! the waiter handles like a timeout: stop the agent (TERM, grace, KILL to everything in
//! its session), record `cancelled`, exit 128 + n. The agent never receives the signal
//! from us directly; in particular a Ctrl-C in the caller's terminal reaches only the
//! caller's process group, and the headless agent is not in it.
//!
//! The handlers only write to a self-pipe and store the signal number, which is what
//! `signal-hook` does async-signal-safely; the waiter polls the pipe's read end.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT};

pub const HANDLED: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];
pub use signal_hook::consts::SIGTERM;

pub struct Signals {
    read: UnixStream,
    last: Arc<AtomicUsize>,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        let (read, write) = UnixStream::pair().context("cannot create the signal pipe")?;
        read.set_nonblocking(true)
            .context("cannot set up the signal pipe")?;
        write
            .set_nonblocking(true)
            .context("cannot set up the signal pipe")?;
        let last = Arc::new(AtomicUsize::new(0));
        for sig in HANDLED {
            #[allow(clippy::cast_sign_loss)] // signal numbers are small and positive
            signal_hook::flag::register_usize(sig, Arc::clone(&last), sig as usize)
                .context("cannot install a signal handler")?;
            signal_hook::low_level::pipe::register(
                sig,
                write.try_clone().context("cannot set up the signal pipe")?,
            )
            .context("cannot install a signal handler")?;
        }
        Ok(Signals { read, last })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The most recent signal received, if any. Drains the pipe.
    pub fn pending(&self) -> Option<i32> {
        let mut buf = [0u8; 64];
        while matches!((&self.read).read(&mut buf), Ok(n) if n > 0) {}
        match self.last.load(Ordering::SeqCst) {
            0 => None,
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            n => Some(n as i32),
        }
    }
}
