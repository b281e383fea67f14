//! The stall detector: whether a running agent shows signs of work, and when it has
//! shown none for `--stall-after`, what it is stuck on.
//!
//! Signs of work, looked at every few seconds (a quarter of the stall limit, between 2
//! and 30 seconds; never faster):
//! - output: headless, the growth of `output.log` and `events.jsonl`; in a pane, a
//!   change in what the pane shows, once digits and the status line of a busy TUI
//!   ("esc to interrupt", a spinner, a timer) are taken out, since those move while
//!   the agent waits on a dead connection;
//! - CPU: the CPU time of the agent's processes (and of the children they collected)
//!   growing by at least [`BUSY_SHARE`] of the time between two looks. A test suite
//!   or a build that the agent runs counts, however long and however silent.
//!
//! When neither moved for the limit, the run is stalled:
//! - `approval_prompt`: the pane shows a permission dialog;
//! - `no_start`: nothing at all was ever output;
//! - `idle_after_answer`: the agent's final message is known (headless, from its
//!   events) but it never published;
//! - `api_stall`: otherwise: no CPU and no output, which is an agent waiting on its
//!   model's API.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::os::stop;
use crate::run::agent::Agent;
use crate::store::dir::{self, RunDir, StallKind};
use crate::store::read::{self, Entry};
pub use crate::store::record::StallPolicy;

/// The share of wall time the agent's processes must spend on the CPU between two
/// looks to count as working. An idle TUI redrawing a spinner uses 1–3 %; anything
/// computing uses far more.
const BUSY_SHARE: f64 = 0.05;
/// The bounds of the interval between two looks.
const MIN_CHECK: Duration = Duration::from_secs(2);
const MAX_CHECK: Duration = Duration::from_secs(30);
/// The stall limit when none is given.
pub const DEFAULT_AFTER: Duration = Duration::from_secs(10 * 60);

/// What one look found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Signs of work since the last look (or not yet the limit).
    Fine,
    /// Working again after a stall.
    Recovered,
    /// Newly stalled.
    Stalled(StallKind),
}

pub struct StallWatch {
    after: Duration,
    interval: Duration,
    next: Instant,
    last_activity: Instant,
    last_look: Instant,
    output: u64,
    pane: Option<u64>,
    cpu: Option<u64>,
    ever_output: bool,
    stalled: bool,
}

impl StallWatch {
    pub fn new(policy: StallPolicy, started: Instant) -> StallWatch {
        let after = Duration::from_secs(policy.after_seconds.max(1));
        let interval = (after / 4).clamp(MIN_CHECK, MAX_CHECK);
        StallWatch {
            after,
            interval,
            next: started + interval,
            last_activity: started,
            last_look: started,
            output: 0,
            pane: None,
            cpu: None,
            ever_output: false,
            stalled: false,
        }
    }

    /// When the next look is due.
    pub fn next_look(&self) -> Instant {
        self.next
    }

    /// The last sign of work, as a wall-clock time.
    pub fn last_activity(&self) -> jiff::Timestamp {
        let ago = self.last_activity.elapsed();
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(ago).unwrap_or_default())
            .unwrap_or_else(|_| jiff::Timestamp::now())
    }

    /// Looks for signs of work now.
    pub fn look(&mut self, run: &RunDir, agent: &Agent) -> Verdict {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_look);
        self.last_look = now;
        self.next = now + self.interval;

        let output = size(run, dir::OUTPUT) + size(run, dir::EVENTS);
        let mut active = output > self.output;
        self.ever_output |= output > 0;
        self.output = output;
        let screen = agent.pane_text();
        if let Some(text) = &screen {
            let h = settled_hash(text);
            if self.pane.is_some_and(|p| p != h) {
                active = true;
            }
            self.ever_output |= self.pane.is_some_and(|p| p != h) || !text.trim().is_empty();
            self.pane = Some(h);
        }
        let cpu = stop::tree_cpu_ms(agent.launcher_pid());
        // The first reading is only a baseline: no verdict on CPU without a second.
        let baseline = cpu.is_some() && self.cpu.is_none();
        if let (Some(before), Some(after)) = (self.cpu, cpu) {
            #[allow(clippy::cast_precision_loss)]
            let used = after.saturating_sub(before) as f64 / 1000.0;
            if used >= elapsed.as_secs_f64() * BUSY_SHARE {
                active = true;
            }
        }
        self.cpu = cpu;
        if baseline && !active {
            return Verdict::Fine;
        }

        if active {
            self.last_activity = now;
            if self.stalled {
                self.stalled = false;
                return Verdict::Recovered;
            }
            return Verdict::Fine;
        }
        if self.stalled || now.duration_since(self.last_activity) < self.after {
            return Verdict::Fine;
        }
        self.stalled = true;
        Verdict::Stalled(self.classify(run, screen.as_deref()))
    }

    fn classify(&self, run: &RunDir, screen: Option<&str>) -> StallKind {
        if screen.is_some_and(shows_a_permission_dialog) {
            StallKind::ApprovalPrompt
        } else if !self.ever_output {
            StallKind::NoStart
        } else if run.final_message().is_some() {
            StallKind::IdleAfterAnswer
        } else {
            StallKind::ApiStall
        }
    }

    /// Skips a look (the guard, while the run's own process does them).
    pub fn postpone(&mut self) {
        self.next = Instant::now() + self.interval;
    }

    /// The limit, for messages.
    pub fn after(&self) -> Duration {
        self.after
    }
}

/// The size of one of the run's files (0 when missing or not a regular file).
fn size(run: &RunDir, name: &str) -> u64 {
    match read::entry(&run.file(name)) {
        Entry::File(stamp) => stamp.size,
        _ => 0,
    }
}

/// A hash of what a pane shows, without what moves while a TUI merely waits: digits
/// (timers, token counters), and the lines of its busy indicator.
fn settled_hash(text: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for line in text.lines() {
        let lower = line.to_lowercase();
        if lower.contains("esc to interrupt") || lower.contains("esc to cancel") {
            continue;
        }
        let kept: String = line
            .chars()
            .filter(|c| c.is_alphabetic() || *c == ' ')
            .collect();
        kept.trim().hash(&mut h);
    }
    h.finish()
}

/// Whether the pane's last lines look like a permission dialog an agent CLI stopped at.
fn shows_a_permission_dialog(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(20)..]
        .join("\n")
        .to_lowercase();
    [
        "do you want to",
        "allow this",
        "allow once",
        "always allow",
        "approve",
        "permission",
        "(y/n)",
        "[y/n]",
        "yes, and don't ask",
        "would you like to run",
    ]
    .iter()
    .any(|p| tail.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_status_line_and_timers_do_not_count_as_output() {
        let a = "⏺ Reading src/main.rs\n✻ Thinking… (12s · esc to interrupt)\n  tokens: 1204\n";
        let b = "⏺ Reading src/main.rs\n✶ Pondering… (47s · esc to interrupt)\n  tokens: 1388\n";
        assert_eq!(settled_hash(a), settled_hash(b));
        let c = "⏺ Reading src/main.rs\n⏺ Edited src/lib.rs\n";
        assert_ne!(settled_hash(a), settled_hash(c));
    }

    #[test]
    fn permission_dialogs_are_recognised() {
        assert!(shows_a_permission_dialog(
            "Bash command\n  rm -rf build\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n"
        ));
        assert!(shows_a_permission_dialog("Allow command? (y/n)"));
        assert!(!shows_a_permission_dialog("Edited src/lib.rs\n> "));
    }

    #[test]
    fn looks_are_a_quarter_of_the_limit_within_bounds() {
        let w = |s| {
            StallWatch::new(
                StallPolicy {
                    after_seconds: s,
                    stop: false,
                },
                Instant::now(),
            )
        };
        assert_eq!(w(1).interval, MIN_CHECK);
        assert_eq!(w(60).interval, Duration::from_secs(15));
        assert_eq!(w(3600).interval, MAX_CHECK);
    }
}
