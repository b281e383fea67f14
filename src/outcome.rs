//! How a run ended: the status `run.json` records, and the outcome (status with its
//! details) that the process concluding a run decides. The exit code for each is
//! `exit.rs`'s business.

use serde::{Deserialize, Serialize};

crate::names::names! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Status {
        Running = "running",
        Done = "done",
        /// The agent published a question (`question.md`) and stopped: answer it with
        /// `agent-offload continue RUN "the answer"`.
        NeedsInput = "needs_input",
        /// A budget (`--max-tokens`, `--max-cost`) was crossed; the agent was stopped.
        OverBudget = "over_budget",
        /// No sign of work for `--stall-after` with `--on-stall stop`; the agent was stopped.
        Stalled = "stalled",
        Failed = "failed",
        TimedOut = "timed_out",
        Cancelled = "cancelled",
        /// The launcher ended without anything recording how (machine restarted, the
        /// waiting process and the pane or process killed).
        Lost = "lost",
    }
}

impl Status {
    pub fn is_final(self) -> bool {
        self != Status::Running
    }
}

crate::names::names! {
    /// Who or what ended a run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum EndedBy {
        /// The agent: it published, asked, or exited.
        Agent = "agent",
        /// A person (or the tmux server's end) closed its pane.
        PaneClosed = "pane_closed",
        /// `--timeout`.
        Timeout = "timeout",
        /// `agent-offload cancel`.
        Cancel = "cancel",
        /// A signal to the waiting agent-offload (a host tool's kill, Ctrl-C).
        Signal = "signal",
        /// A budget (`--max-tokens`, `--max-cost`).
        Budget = "budget",
        /// The stall detector (`--on-stall stop`).
        Stall = "stall",
        /// Nothing recorded how (`lost`).
        Unknown = "unknown",
    }
}

/// A finished run's outcome, as decided once by whoever saw the decisive event.
#[derive(Debug)]
pub enum Outcome {
    Done,
    NeedsInput,
    OverBudget {
        reason: String,
    },
    Stalled {
        reason: String,
    },
    Failed {
        reason: String,
    },
    TimedOut {
        reason: String,
    },
    /// Stopped by `agent-offload cancel` (`signal: None`), or by signal n to the
    /// waiting agent-offload.
    Cancelled {
        signal: Option<i32>,
    },
    Lost,
}

impl Outcome {
    /// Who or what ended the run, for `run.json`'s `ended_by`.
    pub fn ended_by(&self) -> EndedBy {
        match self {
            Outcome::Done | Outcome::NeedsInput | Outcome::Failed { .. } => EndedBy::Agent,
            Outcome::OverBudget { .. } => EndedBy::Budget,
            Outcome::Stalled { .. } => EndedBy::Stall,
            Outcome::TimedOut { .. } => EndedBy::Timeout,
            Outcome::Cancelled { signal: None } => EndedBy::Cancel,
            Outcome::Cancelled { signal: Some(_) } => EndedBy::Signal,
            Outcome::Lost => EndedBy::Unknown,
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Outcome::Done => Status::Done,
            Outcome::NeedsInput => Status::NeedsInput,
            Outcome::OverBudget { .. } => Status::OverBudget,
            Outcome::Stalled { .. } => Status::Stalled,
            Outcome::Failed { .. } => Status::Failed,
            Outcome::TimedOut { .. } => Status::TimedOut,
            Outcome::Cancelled { .. } => Status::Cancelled,
            Outcome::Lost => Status::Lost,
        }
    }

    /// What happened, in words, for a run that did not end with a summary.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Done => None,
            Outcome::NeedsInput => Some(
                "the agent asked a question (question.md) and is waiting for an answer".to_owned(),
            ),
            Outcome::Failed { reason }
            | Outcome::TimedOut { reason }
            | Outcome::Stalled { reason } => Some(reason.clone()),
            Outcome::OverBudget { reason } => Some(format!("{reason}; the agent was stopped")),
            Outcome::Cancelled { signal: None } => {
                Some("cancelled with agent-offload cancel; the agent was stopped".to_owned())
            }
            Outcome::Cancelled {
                signal: Some(signal),
            } => Some(format!(
                "agent-offload received signal {signal} ({}); the agent was stopped",
                signal_name(*signal)
            )),
            Outcome::Lost => Some(
                "lost: the launcher ended and nothing recorded how (the machine restarted, or \
                 the waiting process and the agent were killed)"
                    .to_owned(),
            ),
        }
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        9 => "SIGKILL",
        15 => "SIGTERM",
        _ => "signal",
    }
}
