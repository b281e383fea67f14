//! Creating a run: the directory, `prompt.md`, `launch.sh` and the first `run.json`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::agents::{self, SESSION_ID_PLACEHOLDER};
use crate::git::{changes, worktree};
use crate::interface::Mode;
use crate::profile::{EnvValue, PROMPT_FILE_PLACEHOLDER, PromptDelivery};
use crate::run::launcher::{self, Launch, Word};
use crate::run::{Meter, Request, Session, WorktreeRequest, prompt, relay, session};
use crate::store::dir::{self, Manifest, RunDir, Status};
use crate::store::lock::RunLock;

/// Creates the run directory with `prompt.md`, `launch.sh` and a first `run.json`.
/// The profile's environment as `run.json` shows it: a value taken from the caller's
/// environment is named, never written down.
fn shown_env(req: &Request<'_>) -> Vec<(String, String)> {
    req.profile
        .env
        .iter()
        .map(|(k, v)| match v {
            EnvValue::Literal(s) => (k.clone(), s.clone()),
            EnvValue::FromEnv(var) => (k.clone(), format!("<from ${var}>")),
        })
        .collect()
}

pub fn prepare(
    req: &Request<'_>,
    runs_root: &Path,
    say: &dyn Fn(&str),
) -> Result<(RunDir, Manifest, RunLock)> {
    let run = RunDir::create(runs_root)?;
    // Held until the launcher is recorded: until then, no other process may conclude
    // that a run with no launcher is lost.
    let starting = RunLock::take(&run);
    let (cwd, worktree, entered) = match workplace(req, &run, runs_root, say) {
        Ok(place) => place,
        Err(err) => {
            // Nothing started: no run to keep.
            drop(starting);
            let _ = std::fs::remove_dir_all(&run.path);
            return Err(err);
        }
    };
    let session_id = match &req.session {
        Session::Resume(id) => Some(id.clone()),
        Session::New if agents::cli(req.profile.interface).assigns_session_id() => {
            Some(session::new_uuid())
        }
        Session::New => None,
    };
    // A headless CLI with structured output runs behind the relay, which keeps its
    // events and writes the readable transcript.
    let relay_exe = relayed(req);
    let (argv, delivered, stdin_from_prompt) = command_line(
        req,
        &run.path,
        session_id.as_deref(),
        relay_exe.is_some(),
        say,
    );
    let task = req.task.as_deref().unwrap_or(&req.prompt);
    run.write_atomic(dir::TASK, task.as_bytes(), 0o600)?;
    run.write_atomic(dir::PROMPT, delivered.as_bytes(), 0o600)?;
    let literal_env = literal_env(req.profile, &run.path);
    let launched = match relay_exe {
        Some(exe) => behind_relay(exe, req, &run, &argv),
        None => argv.clone(),
    };
    let script = Launch {
        run_id: &run.id,
        run_dir: &run.path,
        cwd: &cwd,
        argv: launched,
        stdin_from_prompt,
        literal_env: &literal_env,
        handover_wait: (req.placement.mode() == Mode::Tmux).then_some(launcher::HANDOVER_WAIT),
        gate: req.placement.mode() == Mode::Headless,
        prompt: &delivered,
    }
    .render();
    run.write_atomic(dir::LAUNCHER, script.as_bytes(), 0o700)?;
    let manifest = Manifest {
        version: 1,
        id: run.id.clone(),
        profile: req.profile.name.clone(),
        interface: Some(req.profile.interface),
        mode: req.placement.mode(),
        cwd: cwd.clone(),
        command: launcher::display_argv(&argv),
        env: shown_env(req),
        pid: None,
        pane: None,
        started_at: jiff::Timestamp::now(),
        finished_at: None,
        status: Status::Running,
        exit_code: None,
        reason: None,
        agent_offload_exit: None,
        tmux_socket: None,
        launcher: None,
        guard: None,
        waiter: None,
        deadline_at: req.timeout.and_then(deadline_from_now),
        git: changes::snapshot(
            &cwd,
            worktree.as_ref().map_or(&[][..], |w| w.included.as_slice()),
        ),
        changes: None,
        session_id,
        parent: req.parent.as_ref().map(|(id, _)| id.clone()),
        continuation: req.parent.as_ref().map(|&(_, how)| how),
        meter: (req.meter != Meter::default()).then_some(req.meter),
        usage: None,
        cost_usd: None,
        cost_source: None,
        health: None,
        stall: req.stall,
        transcript_from: None,
        ended_by: None,
        worktree,
        fanout: req.fanout.clone(),
        check: req.check.as_deref().map(crate::run::check::Check::asked),
    };
    let mut manifest = manifest;
    if manifest.mode == Mode::Tmux && matches!(req.session, Session::Resume(_)) {
        manifest.transcript_from = session::transcript_size(&manifest);
    }
    manifest.save(&run)?;
    // Now that run.json says this run works there, another may look.
    drop(entered);
    Ok((run, manifest, starting))
}

/// The values the launcher sets: the profile's literals, and what the CLI needs to be
/// allowed to publish its summary (the profile's own setting of the same variable wins).
fn literal_env(profile: &crate::profile::Profile, run_dir: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = profile
        .env
        .iter()
        .filter_map(|(k, v)| match v {
            EnvValue::Literal(s) => Some((k.clone(), s.clone())),
            EnvValue::FromEnv(_) => None,
        })
        .collect();
    for (name, value) in agents::cli(profile.interface).protocol_env(run_dir) {
        if !profile.env.iter().any(|(k, _)| k == name) {
            env.push((name.to_owned(), value));
        }
    }
    env
}

/// Where the agent works: the request's directory, a new worktree (and the same
/// subdirectory of it), or the worktree of the run it continues, entered only when no
/// run works there now (held until `run.json` is written).
fn workplace(
    req: &Request<'_>,
    run: &RunDir,
    runs_root: &Path,
    say: &dyn Fn(&str),
) -> Result<(
    std::path::PathBuf,
    Option<worktree::Worktree>,
    Option<worktree::Entered>,
)> {
    Ok(match &req.worktree {
        WorktreeRequest::None => (req.cwd.clone(), None, None),
        WorktreeRequest::New(start) => {
            let (wt, cwd, notes) = worktree::create(&req.cwd, &run.id, *start, runs_root)?;
            for note in notes {
                say(&format!("agent-offload: {note}"));
            }
            say(&format!(
                "agent-offload: worktree {} on branch {} (from {} {})",
                wt.path.display(),
                wt.branch,
                match start {
                    worktree::Start::Head => "HEAD",
                    worktree::Start::Dirty => "the working tree on",
                },
                &wt.base[..wt.base.len().min(10)]
            ));
            (cwd, Some(wt), None)
        }
        WorktreeRequest::Inherit(wt) => {
            let entered = worktree::enter(wt, &run.id, || super::working_in(runs_root, &wt.path))?;
            (req.cwd.clone(), Some((**wt).clone()), Some(entered))
        }
    })
}

/// The launcher's command line for an agent behind the relay.
fn behind_relay(exe: String, req: &Request<'_>, run: &RunDir, argv: &[Word]) -> Vec<Word> {
    let mut words = vec![
        Word::Literal(exe),
        Word::Literal(relay::RELAY_COMMAND.to_owned()),
        Word::Literal(run.path.to_string_lossy().into_owned()),
        Word::Literal(req.profile.interface.name().to_owned()),
        Word::Literal(match &req.session {
            Session::Resume(id) => id.clone(),
            Session::New => "-".to_owned(),
        }),
        Word::Literal(serde_json::to_string(&req.meter).unwrap_or_default()),
        Word::Literal("--".to_owned()),
    ];
    words.extend(argv.iter().cloned());
    words
}

/// Whether the run's agent runs behind the relay, and agent-offload's own executable
/// for it: headless, a CLI with structured output, and a profile that does not choose
/// an output format of its own (its args would conflict).
fn relayed(req: &Request<'_>) -> Option<String> {
    if !structured(req.profile, req.placement.mode()) {
        return None;
    }
    // launch.sh names the relay by path: after an upgrade, the executable at that path
    // now. Without an executable there, the agent runs without the relay.
    crate::os::own_path()
}

/// Whether a run of `p` in `mode` speaks the CLI's structured output (read by the
/// relay, which sees its session id and usage as they come).
pub fn structured(p: &crate::profile::Profile, mode: Mode) -> bool {
    if mode != Mode::Headless {
        return false;
    }
    let Some(flags) = agents::cli(p.interface).stream_args() else {
        return false;
    };
    let own = |flag: &str| {
        p.args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    !(own(flags[0]) || (flags[0] == "--output-format" && own("-o")))
}

/// The arguments that resume session `id`: the profile's `resume_args`, else the
/// CLI's own (the `continue` command checked that one of them exists).
pub fn session_args_to_resume(p: &crate::profile::Profile, mode: Mode, id: &str) -> Vec<String> {
    match &p.resume_args {
        Some(args) => args
            .iter()
            .map(|a| a.replace(SESSION_ID_PLACEHOLDER, id))
            .collect(),
        None => agents::cli(p.interface)
            .resume_args(mode, id)
            .unwrap_or_default(),
    }
}

fn deadline_from_now(timeout: Duration) -> Option<jiff::Timestamp> {
    let span = jiff::SignedDuration::try_from(timeout).ok()?;
    jiff::Timestamp::now().checked_add(span).ok()
}

/// The agent's command line, the prompt as it will be delivered, and whether it goes
/// on stdin.
fn command_line(
    req: &Request<'_>,
    run_dir: &Path,
    session_id: Option<&str>,
    relayed: bool,
    say: &dyn Fn(&str),
) -> (Vec<Word>, String, bool) {
    let p = req.profile;
    let mut delivered = prompt::augment(&req.prompt, run_dir);
    let prompt_file = run_dir.join(dir::PROMPT);
    let mut argv = vec![Word::Literal(p.command.clone())];
    argv.extend(
        agents::cli(p.interface)
            .mode_args(req.placement.mode())
            .iter()
            .map(|a| Word::Literal((*a).to_owned())),
    );
    if relayed {
        let flags = agents::cli(p.interface).stream_args().unwrap_or_default();
        argv.extend(flags.iter().map(|a| Word::Literal((*a).to_owned())));
    }
    // Session options go right after the mode's words (a profile's args may end with a
    // prompt file); `codex … resume ID` and a profile's own `resume_args` come after
    // the profile's args.
    let (session_first, session_last) = match (&req.session, session_id) {
        (Session::New, Some(id)) => (
            agents::cli(p.interface)
                .new_session_args(id)
                .unwrap_or_default(),
            Vec::new(),
        ),
        (Session::Resume(_), Some(id)) => {
            let words = session_args_to_resume(p, req.placement.mode(), id);
            if p.resume_args.is_some() || agents::cli(p.interface).resume_after_profile_args() {
                (Vec::new(), words)
            } else {
                (words, Vec::new())
            }
        }
        (_, None) => (Vec::new(), Vec::new()),
    };
    argv.extend(session_first.into_iter().map(Word::Literal));
    let file = prompt_file.to_string_lossy();
    argv.extend(p.args.iter().map(|a| {
        Word::Literal(if p.prompt == PromptDelivery::PromptFileArg {
            a.replace(PROMPT_FILE_PLACEHOLDER, &file)
        } else {
            a.clone()
        })
    }));
    argv.extend(session_last.into_iter().map(Word::Literal));
    let mut stdin = false;
    match p.prompt {
        PromptDelivery::Argument => {
            let form = match req.session {
                Session::Resume(_) if p.resume_args.is_none() => {
                    agents::cli(p.interface).prompt_argument_resuming(req.placement.mode())
                }
                _ => agents::cli(p.interface).prompt_argument(req.placement.mode()),
            };
            argv.extend(form.prefix.iter().map(|a| Word::Literal((*a).to_owned())));
            if form.guard_leading_dash && delivered.starts_with('-') {
                // No `--` in this CLI: a leading newline keeps the prompt from being
                // read as an option.
                delivered.insert(0, '\n');
            }
            if delivered.len() > prompt::MAX_ARG_BYTES {
                say(&format!(
                    "agent-offload: the prompt is {} KiB, more than one command-line argument may \
                     hold; the agent is asked to read it from {}",
                    delivered.len() / 1024,
                    prompt_file.display()
                ));
                argv.push(Word::Literal(prompt::pointer_to(&prompt_file)));
            } else {
                argv.push(Word::PromptText);
            }
        }
        PromptDelivery::Stdin => stdin = true,
        PromptDelivery::PromptFileArg => {}
    }
    (argv, delivered, stdin)
}
