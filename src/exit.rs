//! The exit codes agent-offload promises, and the one place that maps an outcome to
//! them. The README's exit-code table is written from this file.

use std::fmt;

/// The delegated agent published its summary.
pub const DONE: u8 = 0;
/// The agent failed, or ended without publishing a summary.
pub const FAILED: u8 = 1;
/// The command line or the config file is wrong; nothing was started.
pub const USAGE: u8 = 2;
/// The run is still going; agent-offload stopped waiting (`--detach-after`, or a signal
/// while re-attached). Resume with `agent-offload wait RUN`. (`EX_TEMPFAIL`.)
pub const DETACHED: u8 = 75;
/// `--timeout` passed; the agent was stopped.
pub const TIMED_OUT: u8 = 124;
/// agent-offload received signal `n` and stopped the agent: the code is 128 + n.
pub const SIGNAL_BASE: u8 = 128;

/// An error the user fixes by changing the command line or the config: exit 2.
///
/// Everything else that goes wrong before or around a run is reported as a failure
/// (exit 1) with the path or command that failed.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a [`UsageError`] through `anyhow`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The exit code for an error that ended the command before a result existed.
pub fn code_for_error(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() {
        USAGE
    } else {
        FAILED
    }
}
