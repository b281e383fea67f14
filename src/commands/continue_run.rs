//! `agent-offload continue RUN [PROMPT]`: a new run in the same session of the agent
//! CLI (an answer to its question, the next step), or a hand-off of its work to a fresh
//! session of another profile.

use anyhow::Result;

use super::Env;
use super::run::{Delegation, delegate, placement, working_dir};
use crate::cli::ContinueArgs;
use crate::config;
use crate::exit::usage;
use crate::interface::{Interface, Mode};
use crate::run::{self, Continuation, Session, Status};

/// The prompt when none is given.
const GO_ON: &str = "Go on with the task where you left off, and finish it.";

pub fn run(cont: &ContinueArgs, env: Env<'_>) -> Result<u8> {
    let args = &cont.args;
    super::run::refuse_misplaced_options(args)?;
    one_profile(args)?;
    let root = run::runs_root(env)?;
    let parent_dir = run::resolve(&root, &cont.run)?;
    let parent = run::refresh(&parent_dir)?;
    if parent.status == Status::Running {
        return Err(usage(format!(
            "run {} is still running: wait for it first (agent-offload wait {0}), or stop \
             it (agent-offload cancel {0})",
            parent.id
        )));
    }
    // The session belongs to the run's directory (claude and codex look sessions up by
    // it): the same one unless asked otherwise.
    let cwd = match &args.cwd {
        Some(d) => working_dir(Some(d))?,
        None if parent.cwd.is_dir() => parent.cwd.clone(),
        None => {
            return Err(usage(format!(
                "run {} worked in {}, which is no longer a directory: give the directory \
                 to continue in with --cwd",
                parent.id,
                parent.cwd.display()
            )));
        }
    };
    let config = config::discover_and_load(args.config.as_deref(), &cwd, env)?;
    let profile = config.profile(Some(
        args.profile
            .first()
            .map_or(parent.profile.as_str(), String::as_str),
    ))?;
    let parent_interface = parent.interface.unwrap_or(Interface::Generic);
    let same_cli = profile.interface == parent_interface
        && (profile.interface != Interface::Generic || profile.name == parent.profile);
    let handoff = cont.fresh || !same_cli;

    let headless = if args.headless {
        true
    } else if args.tmux {
        false
    } else {
        parent.mode == Mode::Headless
    };
    let session = if handoff {
        Session::New
    } else {
        let Some(id) = run::session_id(&parent_dir, &parent) else {
            return Err(usage(no_session(&parent, parent_interface)));
        };
        if profile.resume_args.is_none() && !crate::agents::cli(profile.interface).resumes() {
            return Err(usage(format!(
                "profile \"{}\" cannot resume a session: a generic profile needs resume_args \
                 (e.g. resume_args: [\"--resume\", \"{{session_id}}\"]); or hand the work to a \
                 fresh session with --fresh",
                profile.name
            )));
        }
        Session::Resume(id)
    };
    let placement = placement(args, profile, &config, headless, env)?;
    // A CLI that reports the session's running total (codex): what the runs before
    // this one used, so that this run's usage and budgets count its own.
    let base = how_resume(&session)
        .then(|| run::recorded_session_usage(&parent_dir))
        .flatten();
    let given = super::prompt::read_prompt(args, profile, &config, Some(GO_ON))?;
    let (prompt, task, how) = if handoff {
        let seeded = run::handoff_prompt(&root, &parent_dir, &parent, &given);
        (seeded, Some(given), Continuation::Handoff)
    } else {
        (given, None, Continuation::Resume)
    };
    if !args.quiet {
        say!(
            "agent-offload: {} run {} ({})",
            match how {
                Continuation::Resume => "resuming the session of",
                Continuation::Handoff => "handing off the work of",
            },
            parent.id,
            parent.status.as_str()
        );
    }
    delegate(Delegation {
        args,
        env,
        config: &config,
        profile,
        placement,
        cwd,
        prompt,
        task,
        session,
        parent: Some((parent.id.clone(), how)),
        base,
        // The same worktree, when the run had one and works there again.
        worktree: parent
            .worktree
            .clone()
            .filter(|wt| args.cwd.is_none() && wt.removed_at.is_none()),
    })
}

/// `continue` goes on with one profile: a fan-out starts from a new task. The refusal
/// names the option given (its `--help` does not offer them).
fn one_profile(args: &crate::cli::RunArgs) -> Result<()> {
    let given = if args.profile.len() > 1 {
        format!("-p/--profile given {} times", args.profile.len())
    } else if args.judge.is_some() {
        "--judge".to_owned()
    } else if args.max_parallel.is_some() {
        "--max-parallel".to_owned()
    } else {
        return Ok(());
    };
    Err(usage(format!(
        "continue does not take {given}: it goes on with one run and one profile (-p NAME); \
         a fan-out (-p a -p b, --judge, --max-parallel) starts from a new task \
         (agent-offload -p a -p b ... \"the task\")"
    )))
}

/// Why a run has no session to resume, and what to do instead.
fn how_resume(session: &Session) -> bool {
    matches!(session, Session::Resume(_))
}

fn no_session(parent: &run::Manifest, interface: Interface) -> String {
    let why = if interface == Interface::Generic {
        "its profile is generic and its agent did not report one (a generic agent writes its \
         session id to $AGENT_OFFLOAD_RUN_DIR/session_id)"
            .to_owned()
    } else {
        format!(
            "{} did not report one (the run may have ended before the CLI started a session)",
            interface.name()
        )
    };
    format!(
        "run {} has no session id to resume: {why}. Hand its work to a fresh session \
         instead: agent-offload continue {} --fresh \"...\"",
        parent.id, parent.id
    )
}
