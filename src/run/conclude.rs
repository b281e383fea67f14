//! Ending a run: turning the first decisive event into an outcome, stopping what is
//! left of the agent, and recording it in `run.json` — exactly once, whichever process
//! gets there first (the one that started the run, a re-attached `wait`, or the
//! background guard of a detached run), under the run's lock.

use std::time::Duration;

use anyhow::Result;

use crate::exit;
use crate::git::changes;
use crate::outcome::{EndedBy, Outcome};
use crate::run::agent::Agent;
use crate::run::waiter::{Event, Launcher, Watch};
use crate::store::dir::{Manifest, RunDir};
use crate::store::lock::RunLock;
use crate::store::read::{self, Entry};
use crate::store::record::Recorded;

/// After `done.md` appears, how long a headless agent may take to exit by itself
/// before it is stopped (some CLIs keep running after they answer).
const DONE_GRACE: Duration = Duration::from_secs(3);

/// What the concluding process knows about how the wait ended.
pub struct Ending<'a> {
    pub event: Event,
    pub run: &'a RunDir,
    pub watch: &'a Watch,
    pub launcher: &'a Launcher,
    pub agent: &'a mut Agent,
    /// Words for a timeout: `--timeout 20m passed; the agent was stopped`.
    pub timeout_reason: String,
    /// Whether this process saw the launcher end (false: it was already gone when we
    /// looked, so how it ended is unknown unless it recorded an exit status).
    pub observed: bool,
}

/// Decides and records the outcome, unless another process already has: returns the
/// final manifest either way.
pub fn conclude(ending: Ending<'_>) -> Result<Manifest> {
    let run = ending.run;
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if manifest.status.is_final() {
        return Ok(manifest);
    }
    let outcome = settle(ending);
    record(run, &mut manifest, &outcome);
    Ok(manifest)
}

/// Stops the agent, if one was started, and records `outcome`; returns the final
/// manifest, which may be another process's outcome if the run ended first.
pub fn stop_and_record(run: &RunDir, agent: Option<&Agent>, outcome: &Outcome) -> Result<Manifest> {
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if manifest.status.is_final() {
        return Ok(manifest);
    }
    if let Some(agent) = agent {
        agent.stop();
    }
    record(run, &mut manifest, outcome);
    Ok(manifest)
}

fn settle(e: Ending<'_>) -> Outcome {
    let Ending {
        event,
        run,
        watch,
        launcher,
        agent,
        timeout_reason,
        observed,
    } = e;
    // Whatever ended the wait, a FIFO, a directory or a symbolic link at done.md is not a
    // summary: the run fails, saying what is there (never success, never a hang).
    if matches!(event, Event::Done | Event::Ended | Event::Recorded)
        && let Entry::Other(kind) = watch.done()
    {
        agent.stop();
        agent.reap();
        return not_a_summary(crate::store::dir::DONE, kind);
    }
    if event == Event::Question
        && let Entry::Other(kind) = watch.question()
    {
        agent.stop();
        agent.reap();
        return not_a_summary(crate::store::dir::QUESTION, kind);
    }
    let outcome = match event {
        Event::Done => {
            // An interactive agent never exits by itself: close its pane at once. A
            // headless one may still be writing its final answer: give it a moment.
            if !agent.is_pane() {
                launcher.wait_exit(DONE_GRACE);
            }
            // Stopped (or swept) either way: what it started in the background — a dev
            // server, a watcher — ends with the run.
            agent.stop();
            Outcome::Done
        }
        Event::Question => {
            // As for a summary: the agent was told to stop after asking; a headless one
            // gets a moment to do so, then it is stopped like a finished one.
            if !agent.is_pane() {
                launcher.wait_exit(DONE_GRACE);
            }
            agent.stop();
            if matches!(watch.done(), Entry::File(_)) {
                Outcome::Done
            } else {
                Outcome::NeedsInput
            }
        }
        Event::Ended | Event::Recorded => {
            // Whatever the agent left behind goes too (and a remain-on-exit pane).
            agent.stop();
            let over_budget = Recorded::read(run).and_then(|r| r.over_budget);
            // An agent can publish and exit in the same instant: look once more.
            if matches!(watch.done(), Entry::File(_)) {
                Outcome::Done
            } else if let Some(reason) = over_budget {
                // The relay stopped the agent at the event that crossed a budget.
                Outcome::OverBudget { reason }
            } else if matches!(watch.question(), Entry::File(_)) {
                Outcome::NeedsInput
            } else if !observed && run.exit_status().is_none() {
                Outcome::Lost
            } else {
                Outcome::Failed {
                    reason: agent.ended_reason(run),
                }
            }
        }
        Event::TimedOut => {
            agent.stop();
            Outcome::TimedOut {
                reason: timeout_reason,
            }
        }
        Event::Signal(signal) => {
            agent.stop();
            Outcome::Cancelled {
                signal: Some(signal),
            }
        }
        Event::OverBudget => {
            let meter = crate::store::dir::Manifest::load(run)
                .ok()
                .and_then(|m| m.meter)
                .unwrap_or_default();
            let reason = crate::run::pane_over_budget(run, &meter)
                .unwrap_or_else(|| "a budget was crossed".to_owned());
            agent.stop();
            Outcome::OverBudget { reason }
        }
        Event::Stalled(kind, seconds) => {
            agent.stop();
            Outcome::Stalled {
                reason: format!(
                    "no sign of work (output, CPU) for {} ({}); the agent was stopped \
                     (--on-stall stop)",
                    crate::duration::human(std::time::Duration::from_secs(seconds)),
                    kind.as_str()
                ),
            }
        }
    };
    agent.reap();
    outcome
}

/// The outcome of a run that left something other than a regular file at `done.md`
/// or `question.md`.
fn not_a_summary(name: &str, kind: &str) -> Outcome {
    Outcome::Failed {
        reason: format!("{}, so it was not read", read::not_a_file(name, kind)),
    }
}

/// Writes the final state, with what the run changed, to `run.json`.
///
/// The outcome is what matters (the summary is the product): if it cannot be written
/// — a full disk, a run directory the agent broke — it is still returned, so the summary
/// and the right exit code are printed, and stderr says what could not be recorded.
fn record(run: &RunDir, manifest: &mut Manifest, outcome: &Outcome) {
    manifest.finished_at = Some(jiff::Timestamp::now());
    manifest.status = outcome.status();
    manifest.exit_code = run.exit_status();
    manifest.reason = outcome.reason();
    manifest.agent_offload_exit = Some(exit::for_outcome(outcome));
    // A pane that went away with no exit status recorded: a person (or the server's
    // end) closed it, not the agent.
    manifest.ended_by = Some(match outcome.ended_by() {
        EndedBy::Agent
            if manifest.mode == crate::interface::Mode::Tmux
                && matches!(outcome, Outcome::Failed { .. })
                && run.exit_status().is_none() =>
        {
            EndedBy::PaneClosed
        }
        by => by,
    });
    manifest.changes = manifest.git.as_ref().and_then(changes::since);
    if let Some(wt) = &manifest.worktree {
        // The whole work of the worktree, as a patch beside the run (also for a run
        // that continues another in the same worktree).
        crate::git::worktree::write_patch(wt, &run.file(crate::run::handoff::DIFF));
        crate::git::worktree::unlock(wt);
    }
    manifest.session_id = crate::run::session::discover(run, manifest);
    if let Some(spent) = crate::run::relay::measure(run, manifest) {
        manifest.usage = Some(spent.tokens);
        manifest.cost_usd = spent.cost_usd;
        manifest.cost_source = Some(spent.cost_source);
    }
    if let Err(err) = manifest.save(run) {
        say!(
            "agent-offload: could not record run {}'s outcome ({}): {err:#}",
            run.id,
            outcome.status().as_str()
        );
    }
}
