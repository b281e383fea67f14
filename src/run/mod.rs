//! The run lifecycle. A run is a directory (see `dir`) whose launcher records the
//! agent's exit status itself, so the process that waits can differ from the one that
//! started it: `execute` starts a run and waits; `attach` waits on a run started
//! earlier; a run left behind (`--detach-after`) is finished by a background guard.
//! Whoever sees the decisive event first records the outcome (`conclude`).

mod agent;
mod check;
mod conclude;
mod handoff;
mod headless;
mod health;
mod launcher;
mod pane_leader;
mod prepare;
mod prompt;
mod relay;
mod session;
mod waiter;

pub use crate::git::changes::{Changes, describe as describe_changes};
pub use crate::git::worktree::{
    Applied, ConflictMode, Start as WorktreeStart, Taken, Worktree, apply as apply_worktree,
    base_moved, branch_tip, check as check_worktree, commit_all, current_tree,
    in_use as worktree_in_use, remove as remove_worktree, same_repository, unsaved_work,
};
pub use crate::os::describe as describe_waiting;
pub use crate::os::signals::Signals;
pub use crate::pane::tmux::Caller;
#[cfg(test)]
pub use crate::store::dir::StallKind;
pub use crate::store::dir::{
    Continuation, Health, HealthState, Manifest, ProcessId, RunDir, Status, list, resolve, rfc3339,
    runs_root,
};
pub use crate::usage::{CostSource, Meter, Spent, Tokens, short_count};
pub use check::{Check, describe as describe_check, run_pending as run_check};
pub use handoff::DIFF;
pub use handoff::seed as handoff_prompt;
pub use health::{DEFAULT_AFTER as DEFAULT_STALL_AFTER, StallPolicy};
pub use pane_leader::{PANE_COMMAND, pane_main};
pub use prepare::structured;
pub use prompt::read_or as read_prompt_or;
pub use relay::{RELAY_COMMAND, recorded_session_usage, relay_main, spent};
pub use session::{discover as session_id, known as known_session_id};

/// A run working in the worktree at `path` now, if any: a run and the runs that
/// continue it share one, and none may be removed, taken or entered under another.
pub fn working_in(root: &Path, path: &Path) -> Option<String> {
    list(root).into_iter().find_map(|r| {
        let m = Manifest::load(&r).ok()?;
        m.worktree.as_ref().filter(|w| w.path == path)?;
        let m = if m.status.is_final() {
            m
        } else {
            refresh(&r).ok()?
        };
        (!m.status.is_final()).then_some(m.id)
    })
}

/// Changes a run's worktree record under the run's lock (`apply`, `merge`, `discard`).
pub fn record_worktree(run: &RunDir, change: impl FnOnce(&mut Worktree)) -> Result<()> {
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if let Some(wt) = manifest.worktree.as_mut() {
        change(wt);
        manifest.save(run)?;
    }
    Ok(())
}

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::interface::Mode;
use crate::os::{self as sys, ExitWatch, stop};
use crate::outcome::Outcome;
use crate::pane::tmux;
use crate::profile::Profile;
use crate::store::dir;
use crate::store::lock::RunLock;
use agent::Agent;
use conclude::Ending;
use health::StallWatch;
use waiter::{Event, Launcher, Watch};

/// The hidden subcommand that runs a detached run's guard.
pub const GUARD_COMMAND: &str = "__guard";

/// Where the agent runs.
pub enum Placement {
    /// No terminal; output to `output.log`, copied to stderr with `stream`.
    Headless { stream: bool },
    /// A tmux pane beside the caller's.
    Pane {
        caller: Caller,
        /// Whether the new pane takes the focus.
        focus: bool,
        /// A pane narrower than this many columns goes to a new window (0: never).
        min_width: u16,
        /// The caller's PATH, handed to the pane with the secrets.
        path: Option<OsString>,
    },
}

impl Placement {
    pub fn mode(&self) -> Mode {
        match self {
            Placement::Headless { .. } => Mode::Headless,
            Placement::Pane { .. } => Mode::Tmux,
        }
    }
}

/// Everything needed to start one run; built by the `run` command from checked input.
pub struct Request<'a> {
    pub profile: &'a Profile,
    pub placement: Placement,
    /// The task as the user wrote it (the completion instructions are added here).
    pub prompt: String,
    /// The user's own words when `prompt` was generated from them (a hand-off's seed):
    /// what `task.md` records, so that a later hand-off carries each step once.
    pub task: Option<String>,
    pub cwd: PathBuf,
    pub timeout: Option<Duration>,
    /// Stop waiting (exit 75) after this long, leaving the agent running.
    pub detach_after: Option<Duration>,
    /// `from_env` values, resolved from our environment.
    pub secrets: Vec<(String, OsString)>,
    /// A new session of the agent CLI, or the one to resume.
    pub session: Session,
    /// The run this one continues, and how.
    pub parent: Option<(String, Continuation)>,
    /// Budgets and prices.
    pub meter: Meter,
    /// What to do about stalls (`None`: not watched).
    pub stall: Option<StallPolicy>,
    /// Whether the agent works in a git worktree of its own.
    pub worktree: WorktreeRequest,
    /// The fan-out the run is a candidate of.
    pub fanout: Option<String>,
    /// `--check CMD`, run once the run has ended.
    pub check: Option<String>,
}

/// Where a run's agent works: the directory given, a new worktree, or the worktree of
/// the run it continues.
#[derive(Debug, Clone)]
pub enum WorktreeRequest {
    None,
    New(crate::profile::WorktreeStart),
    Inherit(Box<Worktree>),
}

/// Which session of the agent CLI a run works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    New,
    /// Resume this session id (checked with `session_id::valid`).
    Resume(String),
}

/// What a run reports while it goes, for the command to show on stderr.
pub trait Observer {
    /// A note for the person or host reading stderr.
    fn note(&self, message: &str);
    /// The agent has started: where it runs (`pane %3` or `pid 1234`) and its directory.
    fn started(&self, _run: &RunDir, _profile: &str, _mode: Mode, _target: &str) {}
    /// The run is over, or we stopped waiting (called before the result is printed).
    fn finished(&self) {}
}

/// How waiting ended for this process.
pub enum Finish {
    /// The run is over; the manifest holds its outcome.
    Over { run: RunDir, manifest: Manifest },
    /// The run goes on without us: the detach limit passed (`signal: None`), or a
    /// signal ended a re-attached wait. A guard finishes the run.
    LeftRunning {
        run: RunDir,
        manifest: Manifest,
        signal: Option<i32>,
    },
}

/// What to do when a signal reaches the waiting process.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnSignal {
    /// Stop the agent, record `cancelled` (the process that started the run).
    Cancel,
    /// Stop waiting and leave the run to its guard (`wait`).
    Leave,
    /// Stop waiting, nothing else (the guard itself).
    Quit,
}

/// Starts the run and waits for it.
pub fn execute(
    req: &Request<'_>,
    runs_root: &Path,
    signals: &Signals,
    observer: &dyn Observer,
) -> Result<Finish> {
    let started = Instant::now();
    let say = &|m: &str| observer.note(m);
    let (run, mut manifest, starting) = prepare::prepare(req, runs_root, say)?;

    // The watch is started before the agent and is ready before the first look for a
    // file: no event can be missed, and the two start-ups overlap.
    let watch = Watch::start(&run.path)?;
    let mut agent = match start_agent(req, &run, &mut manifest, say) {
        Ok(agent) => agent,
        Err(err) => {
            drop(starting);
            // Keep the directory and say what happened in it.
            let _ = conclude::stop_and_record(
                &run,
                None,
                &Outcome::Failed {
                    reason: format!("could not start the agent: {err:#}"),
                },
            );
            return Err(err);
        }
    };
    let pid = agent.launcher_pid();
    let launcher = Launcher::new(pid);
    manifest.pid = u32::try_from(pid).ok();
    manifest.launcher = stop::identify(pid);
    manifest.waiter = stop::identify(sys::own_pid());
    manifest.save(&run)?;
    drop(starting);
    agent.release();
    let mut watch = match watch.ready() {
        Ok(watch) => watch,
        Err(err) => {
            let _ = conclude::stop_and_record(
                &run,
                Some(&agent),
                &Outcome::Failed {
                    reason: format!("{err:#}"),
                },
            );
            return Err(err);
        }
    };
    observer.started(
        &run,
        &req.profile.name,
        req.placement.mode(),
        &agent.describe(),
    );

    // A run with a deadline or a pane needs an owner that outlives this process (a
    // host's tool may SIGKILL it): the guard, which defers to us while we live. It is
    // started before the pane's hand-over: killed before it, the launcher gives up on
    // the hand-over by itself; killed after, the guard is there.
    let needs_owner = req.timeout.is_some() || matches!(req.placement, Placement::Pane { .. });
    if needs_owner && let Err(err) = ensure_guard(&run) {
        say(&format!(
            "agent-offload: no guard for run {}: {err:#}; it ends with this process",
            run.id
        ));
    }
    let (handover, tail) = match &req.placement {
        Placement::Pane { path, .. } => {
            let mut vars: Vec<(String, OsString)> = path
                .iter()
                .map(|p| ("PATH".to_owned(), p.clone()))
                .collect();
            vars.extend(req.secrets.iter().cloned());
            (tmux::hand_over(&run, pid, &vars).err(), None)
        }
        Placement::Headless { stream } => (None, stream.then(|| headless::Tail::start(&run))),
    };
    let finish = if let Some(err) = handover {
        let manifest = conclude::stop_and_record(
            &run,
            Some(&agent),
            &Outcome::Failed {
                reason: format!("{err:#}"),
            },
        )?;
        Finish::Over { run, manifest }
    } else {
        let timeout_reason = req.timeout.map_or_else(String::new, |t| {
            format!(
                "--timeout {} passed; the agent was stopped",
                crate::duration::human(t)
            )
        });
        Waiting {
            run,
            watch: &mut watch,
            launcher: &launcher,
            agent: &mut agent,
            deadline: req.timeout.and_then(|t| started.checked_add(t)),
            detach_at: req.detach_after.and_then(|d| started.checked_add(d)),
            timeout_reason,
            on_signal: OnSignal::Cancel,
            defer_to: None,
            stall: req.stall.map(|p| (StallWatch::new(p, started), p)),
        }
        .wait(signals)?
    };
    if let Some(t) = tail {
        t.finish();
    }
    observer.finished();
    Ok(finish)
}

/// Starts the launcher headless or in a pane; records the pane in the manifest.
fn start_agent(
    req: &Request<'_>,
    run: &RunDir,
    manifest: &mut Manifest,
    say: &dyn Fn(&str),
) -> Result<Agent> {
    Ok(match &req.placement {
        Placement::Headless { .. } => {
            let _ = stop::adopt_orphans();
            let child = headless::spawn(run, &req.secrets)?;
            let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
            Agent::Process {
                pid,
                child: Some(child),
                identity: None,
            }
        }
        Placement::Pane {
            caller,
            focus,
            min_width,
            ..
        } => {
            tmux::make_fifo(run)?;
            manifest.tmux_socket = caller.socket().map(|s| s.to_string_lossy().into_owned());
            // Recorded the moment tmux has made the pane: killed right after, this run
            // still names its pane and launcher (which gives up on its hand-over).
            let cwd = manifest.cwd.clone();
            let pane = tmux::open_pane(
                caller,
                run,
                &cwd,
                *focus,
                *min_width,
                &mut |pane| {
                    manifest.pane = Some(pane.id.clone());
                    manifest.launcher = stop::identify(pane.pid);
                    let _ = manifest.save(run);
                },
                say,
            )?;
            Agent::Pane {
                caller: caller.clone(),
                pane,
                identity: None,
            }
        }
    })
}

/// Waits on a run started earlier, by this or another process (`wait`, the guard).
/// `timeout` stops the agent like `run --timeout` would, counted from now; the run's
/// own deadline applies too. `detach_after` stops waiting and leaves it running.
pub fn attach(
    run: RunDir,
    signals: &Signals,
    timeout: Option<Duration>,
    detach_after: Option<Duration>,
    guard: bool,
) -> Result<Finish> {
    let manifest = Manifest::load(&run)?;
    if manifest.status.is_final() {
        return Ok(Finish::Over { run, manifest });
    }
    let now = Instant::now();
    let own_deadline = manifest.deadline();
    let wait_deadline = timeout.and_then(|t| now.checked_add(t));
    let deadline = match (own_deadline, wait_deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let timeout_reason = match (wait_deadline, own_deadline) {
        (Some(w), o) if o.is_none_or(|o| w <= o) => format!(
            "wait --timeout {} passed; the agent was stopped",
            crate::duration::human(timeout.unwrap_or_default())
        ),
        _ => format!(
            "its deadline ({}) passed; the agent was stopped",
            manifest.deadline_at.map_or_else(|| "?".to_owned(), rfc3339)
        ),
    };
    let Some(identity) = manifest.launcher.clone() else {
        // Started but never got as far as recording its launcher: nothing runs.
        let manifest = conclude::stop_and_record(&run, None, &Outcome::Lost)?;
        return Ok(Finish::Over { run, manifest });
    };
    let Some(mut agent) = Agent::from_manifest(&manifest) else {
        anyhow::bail!(
            "{} does not say how to reach the agent",
            run.file(dir::MANIFEST).display()
        );
    };
    let mut watch = if guard {
        Watch::new_inline(&run.path)?
    } else {
        Watch::new(&run.path)?
    };
    let launcher = Launcher::attach(&identity);
    if !launcher.alive() {
        // Nothing saw it end: unless it left a summary or an exit status, it is lost.
        let manifest = conclude::conclude(Ending {
            event: Event::Ended,
            run: &run,
            watch: &watch,
            launcher: &launcher,
            agent: &mut agent,
            timeout_reason,
            observed: false,
        })?;
        return Ok(Finish::Over { run, manifest });
    }
    Waiting {
        run,
        watch: &mut watch,
        launcher: &launcher,
        agent: &mut agent,
        deadline,
        detach_at: detach_after.and_then(|d| now.checked_add(d)),
        timeout_reason,
        on_signal: if guard {
            OnSignal::Quit
        } else {
            OnSignal::Leave
        },
        defer_to: if guard { manifest.waiter.clone() } else { None },
        stall: manifest.stall.map(|p| (StallWatch::new(p, now), p)),
    }
    .wait(signals)
}

/// The run's manifest, brought up to date: a run marked `running` whose launcher is
/// gone and that no process is finishing is concluded now (done, failed or lost), so
/// no run shows as running forever.
pub fn refresh(run: &RunDir) -> Result<Manifest> {
    let manifest = Manifest::load(run)?;
    if manifest.status.is_final()
        || manifest.launcher.as_ref().is_some_and(stop::is_alive)
        || RunLock::is_held(run)
    {
        return Ok(manifest);
    }
    let Some(mut agent) = Agent::from_manifest(&manifest) else {
        return conclude::stop_and_record(run, None, &Outcome::Lost);
    };
    let identity = manifest.launcher.clone().context("no launcher recorded")?;
    let watch = Watch::new(&run.path)?;
    conclude::conclude(Ending {
        event: Event::Ended,
        run,
        watch: &watch,
        launcher: &Launcher::attach(&identity),
        agent: &mut agent,
        timeout_reason: String::new(),
        observed: false,
    })
}

/// Stops a run as a timeout would and records it as cancelled.
pub fn cancel(run: &RunDir) -> Result<Manifest> {
    let manifest = Manifest::load(run)?;
    if manifest.status.is_final() {
        return Ok(manifest);
    }
    let agent = Agent::from_manifest(&manifest);
    let alive = manifest.launcher.as_ref().is_some_and(stop::is_alive);
    let outcome = if alive {
        Outcome::Cancelled { signal: None }
    } else {
        Outcome::Lost
    };
    conclude::stop_and_record(run, agent.as_ref(), &outcome)
}

struct Waiting<'a> {
    run: RunDir,
    watch: &'a mut Watch,
    launcher: &'a Launcher,
    agent: &'a mut Agent,
    deadline: Option<Instant>,
    detach_at: Option<Instant>,
    timeout_reason: String,
    on_signal: OnSignal,
    /// The guard leaves the decisive event to the run's waiter while it lives (it
    /// would decide the same, and is the one a person is looking at).
    defer_to: Option<ProcessId>,
    /// The stall detector, for a run that asks for one.
    stall: Option<(StallWatch, StallPolicy)>,
}

/// One look of the stall detector: records the run's health when it changes, warns on
/// stderr (the run's own process and `wait`; the guard has none), and returns the
/// event that ends the run when it stalled and the policy says stop. The guard looks
/// only once the waiter is gone.
fn look_for_stall(
    run: &RunDir,
    agent: &Agent,
    watch: &mut StallWatch,
    policy: StallPolicy,
    on_signal: OnSignal,
    defer_to: Option<&ProcessId>,
) -> Option<Event> {
    if defer_to.is_some_and(stop::is_alive) {
        watch.postpone();
        return None;
    }
    let verdict = watch.look(run, agent);
    let (state, kind) = match verdict {
        health::Verdict::Fine => return None,
        health::Verdict::Recovered => (HealthState::Working, None),
        health::Verdict::Stalled(kind) => (HealthState::Stalled, Some(kind)),
    };
    let health = Health {
        state,
        stall: kind,
        last_activity: Some(watch.last_activity()),
    };
    {
        let _lock = RunLock::take(run);
        if let Ok(mut m) = Manifest::load(run)
            && !m.status.is_final()
        {
            m.health = Some(health);
            let _ = m.save(run);
        }
    }
    let loud = on_signal != OnSignal::Quit;
    let after = crate::duration::human(watch.after());
    match kind {
        Some(kind) if policy.stop => Some(Event::Stalled(kind, policy.after_seconds)),
        Some(kind) => {
            if loud {
                say!(
                    "agent-offload: run {} looks stalled ({}): no sign of work (output, CPU) \
                     for {after}; it goes on (--on-stall stop would stop it; agent-offload \
                     cancel {} stops it now)",
                    run.id,
                    kind.as_str(),
                    run.id
                );
            }
            None
        }
        None => {
            if loud {
                say!("agent-offload: run {} is working again", run.id);
            }
            None
        }
    }
}

/// What the waiter does between events: the stall detector's looks, and the budget
/// checks of a pane run.
struct Ticks {
    budget: Option<(Meter, Instant)>,
    stall: Option<(StallWatch, StallPolicy)>,
}

impl Ticks {
    /// When the next is due.
    fn next(&self) -> Option<Instant> {
        let look = self.stall.as_ref().map(|(w, _)| w.next_look());
        let budget = self.budget.as_ref().map(|(_, at)| *at);
        [look, budget].into_iter().flatten().min()
    }

    /// Does what is due; an event when the run must end.
    fn tick(
        &mut self,
        run: &RunDir,
        agent: &Agent,
        on_signal: OnSignal,
        defer_to: Option<&ProcessId>,
    ) -> Option<Event> {
        let now = Instant::now();
        // A pane run's budget: its usage from the CLI's transcript.
        if let Some((meter, at)) = &mut self.budget
            && now >= *at
        {
            *at = now + BUDGET_POLL;
            if pane_over_budget(run, meter).is_some() {
                return Some(Event::OverBudget);
            }
        }
        match &mut self.stall {
            Some((w, policy)) if now >= w.next_look() => {
                look_for_stall(run, agent, w, *policy, on_signal, defer_to)
            }
            _ => None,
        }
    }
}

/// How often a pane run's transcript is read for its budget.
const BUDGET_POLL: Duration = Duration::from_secs(5);

/// Which budget a pane run crossed, from its CLI's session transcript. A codex or pi
/// session is first found in the CLI's store (and recorded).
pub(crate) fn pane_over_budget(run: &RunDir, meter: &Meter) -> Option<String> {
    let mut m = Manifest::load(run).ok()?;
    if m.session_id.is_none() {
        let id = session::discover(run, &m)?;
        let _lock = RunLock::take(run);
        if let Ok(mut fresh) = Manifest::load(run)
            && !fresh.status.is_final()
        {
            fresh.session_id = Some(id.clone());
            let _ = fresh.save(run);
        }
        m.session_id = Some(id);
    }
    let reported = session::transcript_usage(run, &m)?;
    meter.crossed(&meter.spent(&reported, false))
}

/// How long a guard leaves a decisive event to a living waiter before acting itself.
const DEFER_LIMIT: Duration = Duration::from_secs(10);

impl Waiting<'_> {
    fn wait(self, signals: &Signals) -> Result<Finish> {
        let Waiting {
            run,
            watch,
            launcher,
            agent,
            deadline,
            detach_at,
            timeout_reason,
            on_signal,
            defer_to,
            mut stall,
        } = self;
        // Budgets of a pane run are watched here (a headless one's relay does it).
        let mut ticks = Ticks {
            budget: Manifest::load(&run)
                .ok()
                .filter(|m| m.mode == Mode::Tmux)
                .and_then(|m| m.meter)
                .filter(Meter::has_budget)
                .map(|meter| (meter, Instant::now() + BUDGET_POLL)),
            stall: stall.take(),
        };
        let mut detach_at = detach_at;
        let recorded = || Manifest::load(&run).is_ok_and(|m| m.status.is_final());
        let (event, detach_due) = loop {
            let until = [deadline, detach_at, ticks.next()]
                .into_iter()
                .flatten()
                .min();
            let event = waiter::wait(watch, launcher, until, signals, &recorded);
            let now = Instant::now();
            if event == Event::TimedOut
                && deadline.is_none_or(|d| now < d)
                && detach_at.is_none_or(|d| now < d)
            {
                if let Some(e) = ticks.tick(&run, agent, on_signal, defer_to.as_ref()) {
                    break (e, false);
                }
                continue;
            }
            let detach_due = event == Event::TimedOut
                && detach_at.is_some_and(|d| now >= d)
                && deadline.is_none_or(|d| now < d);
            if detach_due
                && on_signal != OnSignal::Quit
                && let Err(err) = ensure_guard(&run)
            {
                // Leaving without a guard would leave the agent unsupervised (no
                // deadline, a pane never closed): wait for the run instead.
                say!(
                    "agent-offload: not detaching from run {}: {err:#}; waiting for it to end",
                    run.id
                );
                detach_at = None;
                continue;
            }
            break (event, detach_due);
        };
        let detaching = match event {
            Event::Signal(_) => on_signal != OnSignal::Cancel,
            _ => detach_due,
        };
        if detaching {
            if on_signal != OnSignal::Quit && matches!(event, Event::Signal(_)) {
                ensure_guard(&run)?;
            }
            let manifest = Manifest::load(&run)?;
            let signal = match event {
                Event::Signal(s) => Some(s),
                _ => None,
            };
            return Ok(Finish::LeftRunning {
                run,
                manifest,
                signal,
            });
        }
        if let Some(waiter) = defer_to.filter(|_| event != Event::Recorded) {
            // The waiter records the outcome and exits: wait for that (bounded).
            let exit = ExitWatch::new(waiter.pid);
            let until = Instant::now() + DEFER_LIMIT;
            while stop::is_alive(&waiter) && !recorded() && Instant::now() < until {
                exit.wait(until.saturating_duration_since(Instant::now()));
            }
        }
        let manifest = if event == Event::Recorded {
            agent.reap();
            Manifest::load(&run)?
        } else {
            conclude::conclude(Ending {
                event,
                run: &run,
                watch,
                launcher,
                agent,
                timeout_reason,
                observed: true,
            })?
        };
        Ok(Finish::Over { run, manifest })
    }
}

/// Makes sure a guard process will finish the run: closes the pane when the summary
/// appears, enforces the deadline, records the outcome. It runs in a session of its
/// own with no terminal and none of our file descriptors, so the host's pipes close
/// when we exit.
fn ensure_guard(run: &RunDir) -> Result<()> {
    let _lock = RunLock::take(run);
    let mut manifest = Manifest::load(run)?;
    if manifest.status.is_final() || manifest.guard.as_ref().is_some_and(stop::is_alive) {
        return Ok(());
    }
    let mut cmd = sys::own_command().context("cannot find agent-offload's own executable")?;
    cmd.arg(GUARD_COMMAND)
        .arg(&run.path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    headless::in_own_session(&mut cmd);
    let child = cmd.spawn().context("cannot start the run's guard")?;
    sys::note_own_helper(child.id());
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    manifest.guard = stop::identify(pid);
    manifest.save(run)
}

/// The guard: waits on a detached run until it ends and records the outcome.
pub fn guard_main(run_dir: &Path) -> Result<u8> {
    let signals = Signals::install()?;
    let _ = attach(
        RunDir::open(run_dir.to_path_buf()),
        &signals,
        None,
        None,
        true,
    )?;
    Ok(0)
}

/// Starts a helper of ours that must outlive this process (a fan-out's keeper): this
/// executable with `args`, in a session of its own (out of reach of signals to our
/// group, no terminal), stdin a pipe the caller uses as a go-ahead, stdout nothing,
/// stderr to `log`. Returns the child and its identity for a record.
pub fn spawn_helper(
    args: &[&std::ffi::OsStr],
    log: std::fs::File,
) -> Result<(std::process::Child, Option<ProcessId>)> {
    let mut cmd = sys::own_command().context("cannot find agent-offload's own executable")?;
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log);
    headless::in_own_session(&mut cmd);
    let child = cmd.spawn().context("cannot start a helper process")?;
    sys::note_own_helper(child.id());
    let id = stop::identify(i32::try_from(child.id()).unwrap_or(i32::MAX));
    Ok((child, id))
}

/// This process, named for a record.
pub fn own_identity() -> Option<ProcessId> {
    stop::identify(sys::own_pid())
}

/// A process recorded as a [`ProcessId`] (not necessarily our child), watched for its
/// end.
pub struct Watched {
    id: ProcessId,
    exit: ExitWatch,
}

impl Watched {
    pub fn new(id: &ProcessId) -> Watched {
        Watched {
            exit: ExitWatch::new(id.pid),
            id: id.clone(),
        }
    }

    /// Whether it still runs (the same process; a zombie has ended).
    pub fn alive(&self) -> bool {
        stop::is_alive(&self.id)
    }

    /// Blocks until it may have ended, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        self.exit.wait(timeout);
    }

    /// Sends it SIGTERM, if it is still the process recorded.
    pub fn terminate(&self) {
        if self.alive()
            && let Some(pid) = rustix::process::Pid::from_raw(self.id.pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}
