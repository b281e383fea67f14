//! `agent-offload [run]`: delegate a task and wait for its summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Env;
use crate::cli::RunArgs;
use crate::config;
use crate::exit::usage;
use crate::interface::{Interface, Mode};
use crate::profile::{Headless, Profile};
use crate::run::{self, Placement, Request, Session, Signals};
use crate::status_line::{self, StatusLine};

pub fn run(args: &RunArgs, env: Env<'_>) -> Result<u8> {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(sub) = crate::cli::subcommand_as_prompt(&args.prompt, &raw) {
        return Err(usage(crate::cli::subcommand_as_prompt_error(
            &sub,
            &args.prompt,
        )));
    }
    refuse_misplaced_options(args)?;
    let cwd = working_dir(args.cwd.as_deref())?;
    let config = config::discover_and_load(args.config.as_deref(), &cwd, env)?;
    if args.profile.len() > 1 {
        return super::fanout::run(args, env, &cwd, &config);
    }
    if args.judge.is_some() || args.max_parallel.is_some() {
        return Err(usage(
            "--judge and --max-parallel are for a fan-out: give several profiles (-p a -p b)",
        ));
    }
    let profile = config.profile(args.profile.first().map(String::as_str))?;
    let headless = headless(args, profile, &config, env);
    let placement = placement(args, profile, &config, headless, env)?;
    let text = super::prompt::read_prompt(args, profile, &config, None)?;
    delegate(Delegation {
        args,
        env,
        config: &config,
        profile,
        placement,
        cwd,
        prompt: text,
        task: None,
        session: Session::New,
        parent: None,
        base: None,
        worktree: None,
    })
}

/// Whether the run gets a worktree: `--worktree`/`--no-worktree`, else the profile's or
/// the config's `worktree`.
fn worktree_start(
    args: &RunArgs,
    profile: &Profile,
    config: &config::Config,
) -> Option<run::WorktreeStart> {
    if args.no_worktree {
        return None;
    }
    args.worktree.or(match profile.worktree {
        Some(crate::profile::WorktreeChoice::No) => None,
        Some(crate::profile::WorktreeChoice::From(start)) => Some(start),
        None => config.worktree,
    })
}

/// A budget must be one agent-offload can watch: a usage error rather than a budget
/// that silently never stops anything.
fn check_budget(meter: &run::Meter, profile: &Profile, mode: Mode) -> Result<()> {
    if !meter.has_budget() {
        return Ok(());
    }
    let which = if meter.max_tokens.is_some() {
        "--max-tokens (max_tokens)"
    } else {
        "--max-cost (max_cost)"
    };
    let in_pane = mode == Mode::Tmux && crate::agents::cli(profile.interface).keeps_transcript();
    if !(run::structured(profile, mode) || in_pane) {
        let why = if mode == Mode::Tmux {
            format!(
                "the usage of {} in a pane cannot be read (no session transcript \
                 agent-offload reads); run it headless (-H)",
                profile.interface.name()
            )
        } else if profile.interface == Interface::Generic {
            format!(
                "profile \"{}\" is generic: its usage cannot be seen",
                profile.name
            )
        } else {
            format!(
                "profile \"{}\" chooses its own output format in its args, so its usage \
                 is not read",
                profile.name
            )
        };
        return Err(usage(format!(
            "{which} needs usage agent-offload can see: {why}"
        )));
    }
    let cli = crate::agents::cli(profile.interface);
    let reports_cost = if in_pane {
        cli.transcript().is_some_and(|t| t.costs)
    } else {
        cli.reports_cost()
    };
    if meter.max_cost.is_some() && meter.price.is_none() && !reports_cost {
        return Err(usage(format!(
            "--max-cost (max_cost): {} reports tokens but no cost; give profile \"{}\" a \
             price to estimate it (price: {{input: 1.25, cached_input: 0.125, output: 10}}, \
             USD per million tokens), or use --max-tokens",
            profile.interface.name(),
            profile.name
        )));
    }
    Ok(())
}

/// Refuses a prompt whose words include one of our options (exit 2, nothing started).
pub fn refuse_misplaced_options(args: &RunArgs) -> Result<()> {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(option) = crate::cli::misplaced_option(&args.prompt, &raw) {
        return Err(usage(crate::cli::misplaced_option_error(&option)));
    }
    match crate::cli::unknown_option(&args.prompt, &raw) {
        Some(message) => Err(usage(message)),
        None => Ok(()),
    }
}

/// A run about to start, from `run` or `continue`.
pub struct Delegation<'a> {
    pub args: &'a RunArgs,
    pub env: Env<'a>,
    pub config: &'a config::Config,
    pub profile: &'a Profile,
    pub placement: Placement,
    pub cwd: PathBuf,
    pub prompt: String,
    /// The user's own words, when `prompt` was generated from them (a hand-off).
    pub task: Option<String>,
    pub session: Session,
    pub parent: Option<(String, run::Continuation)>,
    /// For a resumed session whose CLI reports a running total: what the earlier runs
    /// used (see `run::Meter`).
    pub base: Option<run::Tokens>,
    /// For a continued run: the worktree it works in (its parent's).
    pub worktree: Option<run::Worktree>,
}

/// Whether the run is headless: `-H` or `--tmux`, else the profile's or the config's
/// `headless`. When `auto` chooses headless (the caller is not inside tmux), stderr
/// says so: the person expected a pane.
fn headless(args: &RunArgs, profile: &Profile, config: &config::Config, env: Env<'_>) -> bool {
    if args.headless || args.tmux {
        return args.headless;
    }
    let setting = profile.headless.unwrap_or(config.headless);
    let headless = setting.resolve(run::Caller::from_env(env).is_some());
    if setting == Headless::Auto && headless && !args.quiet {
        say!("agent-offload: not inside tmux: running headless (headless: auto)");
    }
    headless
}

/// Where the agent runs: headless, or in a pane beside the caller's (which must exist).
/// Outside tmux, the error names every way out, and the profile's command problem too
/// when it has one: fixed one at a time, the second would only show after the first.
pub fn placement(
    args: &RunArgs,
    profile: &Profile,
    config: &config::Config,
    headless: bool,
    env: Env<'_>,
) -> Result<Placement> {
    if headless {
        return Ok(Placement::Headless {
            stream: args.stream,
        });
    }
    let Some(caller) = run::Caller::from_env(env) else {
        let mut problems = vec![not_in_tmux(args, profile)];
        problems.extend(command_problem(profile, env));
        return Err(crate::exit::usage_all(&problems));
    };
    Ok(Placement::Pane {
        caller,
        focus: profile.focus.unwrap_or(config.focus),
        min_width: profile.min_pane_width.unwrap_or(config.min_pane_width),
        path: env("PATH"),
    })
}

/// The usage error for a pane asked for outside tmux, with the ways out: a pane, `-H`,
/// or (unless `--tmux` asked for the pane) `headless: auto`.
fn not_in_tmux(args: &RunArgs, profile: &Profile) -> String {
    let why = "not inside tmux ($TMUX and $TMUX_PANE are not set)";
    if args.tmux {
        return format!(
            "{why}: --tmux needs a tmux pane: run agent-offload from one, or use -H \
             (--headless) instead to run the agent headless"
        );
    }
    let config = profile.defined_in.as_deref().map_or_else(
        || "a config file (`agent-offload init` writes one)".to_owned(),
        |p| p.display().to_string(),
    );
    format!(
        "{why}: run agent-offload from a tmux pane, add -H (--headless) to run the agent \
         headless, or set `headless: auto` for profile \"{}\" in {config} (headless outside \
         tmux, a pane inside)",
        profile.name
    )
}

/// What is wrong with the profile's command (not found, not executable), as the usage
/// error says it; `None` when the agent can be started.
fn command_problem(profile: &Profile, env: Env<'_>) -> Option<String> {
    let where_ = profile.defined_in.as_deref().map_or_else(
        || "a config file (`agent-offload init`)".to_owned(),
        |p| p.display().to_string(),
    );
    profile
        .command_problem(profile.agent_path(env("PATH")).as_deref(), &where_)
        .map(|(problem, fix)| format!("{problem}: {fix}; nothing was started"))
}

/// Starts the run, waits for it and prints the result.
pub fn delegate(d: Delegation<'_>) -> Result<u8> {
    let Delegation {
        args,
        env,
        config,
        profile,
        placement,
        cwd,
        prompt,
        task,
        session,
        parent,
        base,
        worktree,
    } = d;
    let worktree = match worktree {
        Some(wt) => run::WorktreeRequest::Inherit(Box::new(wt)),
        None => match worktree_start(args, profile, config) {
            Some(start) => {
                run::check_worktree(&cwd, start).map_err(|e| usage(e.to_string()))?;
                run::WorktreeRequest::New(start)
            }
            None => run::WorktreeRequest::None,
        },
    };
    let meter = run::Meter {
        max_tokens: args.max_tokens.or(profile.max_tokens).or(config.max_tokens),
        max_cost: args.max_cost.or(profile.max_cost).or(config.max_cost),
        price: profile.price,
        base,
    };
    check_budget(&meter, profile, placement.mode())?;
    let stall = match args
        .stall_after
        .or(profile.stall_after)
        .or(config.stall_after)
    {
        Some(crate::profile::StallAfter::Off) => None,
        Some(crate::profile::StallAfter::After(d)) => Some(d),
        None => Some(run::DEFAULT_STALL_AFTER),
    }
    .map(|after| run::StallPolicy {
        after_seconds: after.as_secs().max(1),
        stop: args.on_stall.or(profile.on_stall).or(config.on_stall)
            == Some(crate::profile::OnStall::Stop),
    });
    if let Some(problem) = command_problem(profile, env) {
        return Err(usage(problem));
    }
    let secrets = config::resolve_secrets(profile, env)?;
    let signals = Signals::install()?;
    let root = run::runs_root(env)?;

    let say = |m: &str| {
        if !args.quiet {
            say!("{m}");
        }
    };
    let observer = observer(args, env, &root);
    say(&format!("agent-offload: config {}", config.describe()));
    trust_cursor_workspace(profile, &cwd, env, args.quiet)?;
    let request = Request {
        profile,
        placement,
        prompt,
        task,
        cwd,
        timeout: args.timeout.or(profile.timeout),
        // A fan-out's candidate runs to its end: the fan-out detaches as a whole.
        detach_after: args.detach_after.or_else(|| {
            args.fanout
                .is_none()
                .then_some(profile.detach_after.or(config.detach_after))
                .flatten()
        }),
        secrets,
        session,
        parent,
        meter,
        stall,
        worktree,
        fanout: args.fanout.clone(),
        check: args.check.clone(),
    };
    let finish = run::execute(&request, &root, &signals, observer.as_ref())?;
    drop(observer);
    let finish = super::report::check(finish, &signals, args.timeout, args.quiet)?;
    super::report::print(&finish, args.json, args.quiet)
}

/// What the run reports on stderr. At a terminal, a live status line instead of the
/// headless transcript (--stream still asks for the transcript); never anything but
/// errors with --quiet. A fan-out's candidate also names its run to the fan-out.
fn observer(args: &RunArgs, env: Env<'_>, runs_root: &Path) -> Box<dyn run::Observer> {
    let live = std::io::stderr().is_terminal() && !args.stream;
    let observer: Box<dyn run::Observer> = match (args.quiet, live) {
        (true, _) => Box::new(status_line::Silent),
        (false, true) => Box::new(StatusLine::new(Box::new(Stderr), paint(env))),
        (false, false) => Box::new(Stderr),
    };
    match (&args.fanout, args.fanout_slot) {
        (Some(fanout), Some(slot)) => Box::new(super::fanout::Candidate {
            inner: observer,
            runs_root: runs_root.to_path_buf(),
            fanout: fanout.clone(),
            slot,
        }),
        _ => observer,
    }
}

/// Cursor asks before working in a directory it does not trust, which would stall the
/// run: write its trust marker first (every launch), and say so.
fn trust_cursor_workspace(profile: &Profile, cwd: &Path, env: Env<'_>, quiet: bool) -> Result<()> {
    if !profile.trust_workspace {
        return Ok(());
    }
    let Some(marker) = crate::agents::cli(profile.interface).trust_workspace(cwd, env)? else {
        return Ok(());
    };
    if quiet {
        return Ok(());
    }
    let home = env("HOME").map(PathBuf::from);
    say!(
        "agent-offload: marked {} as a trusted Cursor workspace ({}); set trust_workspace: \
         false in profile \"{}\" to stop",
        cwd.display(),
        super::tilde(&marker, home.as_deref()),
        profile.name
    );
    Ok(())
}

pub fn working_dir(cwd: Option<&Path>) -> Result<PathBuf> {
    let base = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("cannot determine the current directory: {e}"))?;
    let dir = match cwd {
        Some(d) => base.join(d),
        None => base,
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| usage(format!("--cwd {}: {e}", dir.display())))?;
    if !dir.is_dir() {
        return Err(usage(format!("--cwd {}: not a directory", dir.display())));
    }
    Ok(dir)
}

fn paint(env: Env<'_>) -> crate::style::Paint {
    crate::style::Paint {
        color: crate::style::color_wanted(true, env),
    }
}

/// Progress on stderr, one line per event.
struct Stderr;

impl run::Observer for Stderr {
    fn note(&self, message: &str) {
        say!("{message}");
    }

    fn started(&self, run: &run::RunDir, profile: &str, mode: Mode, target: &str) {
        say!(
            "agent-offload: run {} started ({profile}, {}, {target}); directory {}",
            run.id,
            mode.as_str(),
            run.path.display()
        );
    }
}
