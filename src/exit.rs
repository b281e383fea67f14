//! The exit codes agent-offload promises, and the one place that maps an outcome to
//! them. The exit-code table in docs/commands.md is written from this file.

use std::fmt;

use crate::outcome::{Outcome, Status};

/// The delegated agent published its summary.
pub const DONE: u8 = 0;
/// The agent failed, or ended without publishing a summary.
pub const FAILED: u8 = 1;
/// The command line or the config file is wrong; nothing was started.
pub const USAGE: u8 = 2;
/// The agent asked a question (`question.md`, printed on stdout) and stopped; answer
/// with `agent-offload continue RUN "the answer"`.
pub const NEEDS_INPUT: u8 = 3;
/// A budget (`--max-tokens`, `--max-cost`) was crossed; the agent was stopped.
pub const OVER_BUDGET: u8 = 4;
/// No sign of work for `--stall-after`, with `--on-stall stop`; the agent was stopped.
pub const STALLED: u8 = 5;
/// `agent-offload cancel` stopped the run (not a signal to this command: 128+n).
pub const CANCELLED: u8 = 6;
/// The agent published its summary, but the run's `--check` failed (or was stopped by
/// its time limit): a host must not report success.
pub const CHECK_FAILED: u8 = 7;
/// The run is still going; agent-offload stopped waiting (`--detach-after`, or a signal
/// while re-attached). Resume with `agent-offload wait RUN`. (`EX_TEMPFAIL`.)
pub const DETACHED: u8 = 75;
/// `--timeout` passed; the agent was stopped.
pub const TIMED_OUT: u8 = 124;
/// agent-offload received signal `n` and stopped the agent: the code is 128 + n.
pub const SIGNAL_BASE: u8 = 128;

/// The one mapping from a run's outcome to agent-offload's exit code.
pub fn for_outcome(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Done => DONE,
        Outcome::NeedsInput => NEEDS_INPUT,
        Outcome::OverBudget { .. } => OVER_BUDGET,
        Outcome::Stalled { .. } => STALLED,
        Outcome::Failed { .. } | Outcome::Lost => FAILED,
        Outcome::TimedOut { .. } => TIMED_OUT,
        Outcome::Cancelled { signal: None } => CANCELLED,
        Outcome::Cancelled {
            signal: Some(signal),
        } => for_signal(*signal),
    }
}

/// The code once the run's `--check` has run: a failed check turns done into
/// [`CHECK_FAILED`] (any other ending keeps its own code), and a signal to agent-offload
/// that stopped the check is 128 + n like any other.
pub fn after_check(code: u8, passed: Option<bool>, signal: Option<i32>) -> u8 {
    match (signal, passed) {
        (Some(signal), _) => for_signal(signal),
        (None, Some(false)) if code == DONE => CHECK_FAILED,
        _ => code,
    }
}

/// The exit code for a run known only by its status (a `run.json` that does not record
/// the code): what [`for_outcome`] gives, with a cancel taken as a failure.
pub fn for_status(status: Status) -> u8 {
    match status {
        Status::Done => DONE,
        Status::NeedsInput => NEEDS_INPUT,
        Status::OverBudget => OVER_BUDGET,
        Status::Stalled => STALLED,
        Status::TimedOut => TIMED_OUT,
        Status::Running => DETACHED,
        Status::Cancelled => CANCELLED,
        Status::Failed | Status::Lost => FAILED,
    }
}

/// 128 + n, for signal n.
pub fn for_signal(signal: i32) -> u8 {
    SIGNAL_BASE.saturating_add(u8::try_from(signal).unwrap_or(0))
}

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

/// What separates the problems of one [`usage_all`] error: each is a line of its own
/// that starts as an error line does (`agent-offload: `), for a reader and for an
/// editor that jumps to `FILE:LINE:COLUMN: `. A caller that shows the error inside its
/// own text (doctor) splits it here.
pub const NEXT_PROBLEM: &str = "\nagent-offload: ";

/// Several usage problems reported at once, in the order given: fixed one at a time,
/// each would only show after the one before.
pub fn usage_all(problems: &[String]) -> anyhow::Error {
    usage(problems.join(NEXT_PROBLEM))
}

/// The exit code for an error that ended the command before a result existed.
pub fn code_for_error(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() {
        USAGE
    } else {
        FAILED
    }
}
