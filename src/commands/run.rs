//! `agent-offload [run]`: delegate a task and wait for its summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;

use super::Env;
use crate::cli::RunArgs;
use crate::config;
use crate::exit::usage;
use crate::interface::Mode;
use crate::run::{self, Outcome, Request, dir, prompt, signals::Signals};
use crate::status_line::{self, StatusLine};

pub fn run(args: &RunArgs, env: Env<'_>) -> Result<u8> {
    let cwd = working_dir(args)?;
    let config = config::discover_and_load(args.config.as_deref(), &cwd, env)?;
    let profile = config.profile(args.profile.as_deref())?;
    let mode = if args.headless {
        Mode::Headless
    } else if args.tmux || !profile.headless.unwrap_or(config.headless) {
        Mode::Tmux
    } else {
        Mode::Headless
    };
    let caller = run::tmux::Caller::from_env(env);
    if mode == Mode::Tmux && caller.is_none() {
        return Err(usage(
            "not inside tmux ($TMUX and $TMUX_PANE are not set): run agent-offload from a tmux \
             pane, or add -H to run the agent headless",
        ));
    }
    let stdin = std::io::stdin();
    let mut stdin_lock = stdin.lock();
    let stdin_source: Option<&mut dyn std::io::Read> =
        (!std::io::stdin().is_terminal()).then_some(&mut stdin_lock as &mut dyn std::io::Read);
    let text = prompt::read(&args.prompt, args.prompt_file.as_deref(), stdin_source)?;
    let secrets = config::resolve_secrets(profile, env)?;
    let signals = Signals::install()?;
    let root = dir::runs_root(env)?;

    let say = |m: &str| {
        if !args.quiet {
            eprintln!("{m}");
        }
    };
    // At a terminal, a live status line instead of the headless transcript (--stream
    // still asks for the transcript); never anything but errors with --quiet.
    let live = std::io::stderr().is_terminal() && !args.stream;
    let observer: Box<dyn run::Observer> = match (args.quiet, live) {
        (true, _) => Box::new(status_line::Silent),
        (false, true) => Box::new(StatusLine::new(Box::new(Stderr), paint(env))),
        (false, false) => Box::new(Stderr),
    };
    say(&format!("agent-offload: config {}", config.describe()));
    let request = Request {
        profile,
        mode,
        prompt: text,
        cwd,
        timeout: args.timeout.or(profile.timeout),
        secrets,
        stream: args.stream,
        tmux: caller,
        focus: profile.focus.unwrap_or(config.focus),
        path: env("PATH"),
    };
    let report = run::execute(&request, &root, &signals, observer.as_ref())?;

    let log = report.dir.file(dir::OUTPUT);
    let took = crate::duration::human(report.elapsed);
    let mut stdout = std::io::stdout().lock();
    match &report.outcome {
        Outcome::Done { summary } => {
            stdout.write_all(summary.as_bytes())?;
            if !summary.ends_with('\n') {
                stdout.write_all(b"\n")?;
            }
            say(&format!(
                "agent-offload: run {} done in {took}; directory {}",
                report.dir.id,
                report.dir.path.display()
            ));
        }
        other => {
            let tail = run::output_tail(&report.dir, 20);
            if !tail.is_empty() {
                writeln!(stdout, "{tail}")?;
            }
            let what = match other {
                Outcome::TimedOut { .. } => "timed out",
                Outcome::Cancelled { .. } => "cancelled",
                _ => "failed",
            };
            let mut msg = format!(
                "agent-offload: run {} {what} after {took}: {}\n  log: {}\n  directory: {}",
                report.dir.id,
                report.manifest.reason.as_deref().unwrap_or("no summary"),
                log.display(),
                report.dir.path.display()
            );
            let short_tail = run::output_tail(&report.dir, 10);
            if !short_tail.is_empty() {
                msg.push_str("\n  last lines of the log:");
                for line in short_tail.lines() {
                    msg.push_str("\n    ");
                    msg.push_str(line);
                }
            }
            eprintln!("{msg}");
        }
    }
    stdout.flush()?;
    Ok(report.outcome.exit_code())
}

fn working_dir(args: &RunArgs) -> Result<PathBuf> {
    let base = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("cannot determine the current directory: {e}"))?;
    let dir = match &args.cwd {
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
        eprintln!("{message}");
    }

    fn started(&self, run: &run::dir::RunDir, profile: &str, mode: Mode, target: &str) {
        eprintln!(
            "agent-offload: run {} started ({profile}, {}, {target}); directory {}",
            run.id,
            mode.as_str(),
            run.path.display()
        );
    }
}
