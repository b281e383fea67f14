//! How a run's result is shown: the summary (or the log's tail) on stdout, what happened
//! on stderr; or with `--json`, one object on stdout. Shared by `run` and `wait`, so
//! re-attaching returns exactly what the first wait would have.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::exit;
use crate::run::{self, Changes, Finish, Manifest, RunDir, Status};

/// The `--json` result. Field names are a contract: host agents parse them.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub id: &'a str,
    pub run_dir: &'a std::path::Path,
    pub profile: &'a str,
    pub mode: &'static str,
    pub status: &'static str,
    /// The agent's own exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The exit code of this agent-offload command.
    pub agent_offload_exit: u8,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// The agent's summary (done.md), when it published one; over 64 KiB, its head and
    /// tail with a line between naming the whole file.
    pub summary: Option<String>,
    /// Whether `summary` was cut (the file is over 64 KiB).
    pub summary_truncated: bool,
    /// The size of the whole summary file in bytes.
    pub summary_bytes: Option<u64>,
    pub reason: Option<&'a str>,
    pub log: PathBuf,
    pub cwd: &'a std::path::Path,
    pub pane: Option<&'a str>,
    pub pid: Option<u32>,
    /// Files changed and commits made during the run (in a git repository).
    pub changes: Option<&'a Changes>,
    /// While the run goes on: the command that waits for it.
    pub resume: Option<String>,
    /// The agent CLI's session (null where the CLI has none, or it is not known).
    pub session_id: Option<String>,
    /// The run this one continues (`agent-offload continue`), and how: `resume` (the
    /// same session) or `handoff` (a fresh session of another profile).
    pub parent: Option<&'a str>,
    pub continuation: Option<&'static str>,
    /// The agent's last message, from the CLI's structured output (headless), when it
    /// ended without a summary.
    pub final_message: Option<String>,
    /// Status `needs_input`: the agent's question (question.md), cut like the summary.
    pub question: Option<String>,
    /// Status `needs_input`: the command that answers it.
    pub answer_with: Option<String>,
    /// The tokens the run used, as its CLI reported them (null where it says nothing).
    pub usage: Option<run::Tokens>,
    /// What it cost in US dollars, and whether the CLI said so (`reported`) or it is
    /// estimated from the profile's price (`estimated`); `none` when unknown.
    pub cost_usd: Option<f64>,
    pub cost_source: run::CostSource,
    /// The budgets it ran under.
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
    /// The stall detector's view: `state` (working or stalled), `stall` (why:
    /// `no_start`, `api_stall`, `approval_prompt`, `idle_after_answer`), `last_activity`.
    pub health: Option<&'a run::Health>,
    /// Who or what ended the run: `agent`, `pane_closed`, `timeout`, `cancel` (with
    /// `agent-offload cancel`), `signal` (to this command), `budget`, `stall`, `unknown`.
    pub ended_by: Option<&'static str>,
    /// `--worktree`: the worktree (path, branch, base commit, start, `base_tree`, and
    /// when its work was applied, merged or discarded), the patch of its whole work, and
    /// whether the checkout's HEAD moved from the base.
    pub worktree: Option<WorktreeView<'a>>,
    /// `--check CMD`: `command`, `passed`, `exit_code`, `seconds`, `log`.
    pub check: Option<&'a run::Check>,
    /// The fan-out the run is a candidate of.
    pub fanout: Option<&'a str>,
}

#[derive(Serialize)]
pub struct WorktreeView<'a> {
    #[serde(flatten)]
    pub record: &'a run::Worktree,
    pub patch: Option<PathBuf>,
    pub base_moved: Option<String>,
}

pub fn envelope<'a>(run: &'a RunDir, m: &'a Manifest, code: u8) -> Envelope<'a> {
    let summary = run.summary();
    let spent = run::spent(run, m);
    Envelope {
        id: &m.id,
        run_dir: &run.path,
        profile: &m.profile,
        mode: m.mode.as_str(),
        status: m.status.as_str(),
        exit_code: m.exit_code,
        agent_offload_exit: code,
        started_at: run::rfc3339(m.started_at),
        finished_at: m.finished_at.map(run::rfc3339),
        duration_seconds: m
            .duration()
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0),
        summary_truncated: summary.as_ref().is_some_and(|s| s.truncated),
        summary_bytes: summary.as_ref().map(|s| s.bytes),
        summary: summary.map(|s| s.text),
        reason: m.reason.as_deref(),
        log: run.log(),
        cwd: &m.cwd,
        pane: m.pane.as_deref(),
        pid: m.pid,
        changes: m.changes.as_ref(),
        resume: (m.status == Status::Running).then(|| resume_command(&m.id)),
        session_id: run::known_session_id(run, m),
        parent: m.parent.as_deref(),
        continuation: m.continuation.map(|c| match c {
            run::Continuation::Resume => "resume",
            run::Continuation::Handoff => "handoff",
        }),
        final_message: (m.status != Status::Done)
            .then(|| run.final_message())
            .flatten(),
        question: (m.status == Status::NeedsInput)
            .then(|| run.question().map(|q| q.text))
            .flatten(),
        answer_with: (m.status == Status::NeedsInput).then(|| answer_command(&m.id)),
        usage: spent.map(|s| s.tokens),
        cost_usd: spent.and_then(|s| s.cost_usd),
        cost_source: spent.map_or(run::CostSource::None, |s| s.cost_source),
        max_tokens: m.meter.and_then(|b| b.max_tokens),
        max_cost: m.meter.and_then(|b| b.max_cost),
        health: m.health.as_ref(),
        ended_by: m.ended_by.map(crate::outcome::EndedBy::as_str),
        worktree: m.worktree.as_ref().map(|wt| WorktreeView {
            record: wt,
            patch: Some(run.file(run::DIFF)).filter(|p| p.is_file()),
            base_moved: (wt.removed_at.is_none() && m.status.is_final())
                .then(|| run::base_moved(wt, &wt.repo))
                .flatten(),
        }),
        check: m.check.as_ref(),
        fanout: m.fanout.as_deref(),
    }
}

/// `12.3k tokens (10.1k in, 2.2k out), $0.0412 (reported)`, for stderr and `show`.
pub fn describe_spent(s: &run::Spent) -> String {
    let t = &s.tokens;
    let mut text = match t.total() {
        Some(total) => format!(
            "{} tokens ({} in, {} out)",
            run::short_count(total),
            run::short_count(t.input_tokens.unwrap_or(0)),
            run::short_count(t.output_tokens.unwrap_or(0))
        ),
        None => "tokens not reported".to_owned(),
    };
    if let Some(cost) = s.cost_usd {
        let how = match s.cost_source {
            run::CostSource::Estimated => " (estimated)",
            _ => "",
        };
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!(", ${cost:.4}{how}"));
    }
    text
}

/// A run that ended without a summary: the log's tail on stdout, what happened on
/// stderr (even with --quiet: a failed run is an error).
fn print_failure(
    stdout: &mut impl Write,
    run: &RunDir,
    manifest: &Manifest,
    took: &str,
) -> Result<()> {
    // The agent's own last words when its CLI reported them, else the log's end.
    let final_message = run.final_message();
    let tail_on_stdout = final_message.is_none();
    let last = final_message.unwrap_or_else(|| run.log_tail(20));
    if !last.is_empty() {
        writeln!(stdout, "{}", last.trim_end())?;
    }
    let mut msg = format!(
        "agent-offload: run {} {}{took}: {}\n  log: {}\n  directory: {}",
        run.id,
        manifest.status.as_str().replace('_', " "),
        manifest.reason.as_deref().unwrap_or("no summary"),
        run.log().display(),
        run.path.display()
    );
    // At a terminal stdout and stderr are one screen: the log's end once is enough.
    let shown = tail_on_stdout && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let short_tail = if shown {
        String::new()
    } else {
        run.log_tail(10)
    };
    if !short_tail.is_empty() {
        msg.push_str("\n  last lines of the log:");
        for line in short_tail.lines() {
            msg.push_str("\n    ");
            msg.push_str(line);
        }
    }
    if let Some(c) = manifest
        .changes
        .as_ref()
        .filter(|c| !c.files.is_empty() || !c.commits.is_empty())
    {
        msg.push_str("\nagent-offload: ");
        msg.push_str(&run::describe_changes(c));
    }
    if let Some(s) = run::spent(run, manifest) {
        msg.push_str("\nagent-offload: used ");
        msg.push_str(&describe_spent(&s));
    }
    // A failed run is an error: reported even with --quiet.
    say!("{msg}");
    Ok(())
}

/// A run that asked: the question on stdout, how to answer it on stderr.
fn print_question(
    stdout: &mut impl Write,
    run: &RunDir,
    manifest: &Manifest,
    took: &str,
    say: &dyn Fn(&str),
) -> Result<()> {
    let question = run.question();
    let text = question.as_ref().map_or("", |q| q.text.as_str());
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    say(&format!(
        "agent-offload: run {} needs input{took}: the agent asked the question above ({}) \
         and stopped. Answer in the same session with: {}",
        run.id,
        run.file("question.md").display(),
        answer_command(&run.id)
    ));
    if let Some(c) = &manifest.changes {
        say(&format!("agent-offload: {}", run::describe_changes(c)));
    }
    Ok(())
}

/// The command that answers a run's question.
pub fn answer_command(id: &str) -> String {
    format!("agent-offload continue {id} \"ANSWER\"")
}

pub fn resume_command(id: &str) -> String {
    format!("agent-offload wait {id}")
}

/// Prints the result and returns the exit code.
/// The time a check may take when the run set no `--timeout`.
pub const CHECK_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Runs the run's `--check`, if it asked for one and has ended, and says how it went;
/// the finish with the manifest as it is now.
pub fn check(
    finish: Finish,
    signals: &run::Signals,
    timeout: Option<std::time::Duration>,
    quiet: bool,
) -> Result<Finish> {
    let Finish::Over { run, manifest } = finish else {
        return Ok(finish);
    };
    let pending = manifest.check.as_ref().is_some_and(|c| c.passed.is_none());
    if !pending {
        return Ok(Finish::Over { run, manifest });
    }
    if !quiet {
        say!(
            "agent-offload: check: {}",
            manifest.check.as_ref().map_or("", |c| c.command.as_str())
        );
    }
    let result = run::run_check(&run, signals, timeout.unwrap_or(CHECK_LIMIT))?;
    // A failed check is an error: said even with --quiet (the exit code is 7, or 128+n).
    if let Some(c) = result
        .as_ref()
        .filter(|c| !quiet || c.passed == Some(false))
    {
        say!(
            "agent-offload: check {}{}: {}\n  log: {}",
            run::describe_check(c),
            c.seconds.map_or_else(String::new, |s| format!(
                " after {}",
                crate::duration::human(std::time::Duration::from_secs_f64(s))
            )),
            c.command,
            run.file("check.log").display()
        );
    }
    let manifest = Manifest::load(&run).unwrap_or(manifest);
    Ok(Finish::Over { run, manifest })
}

pub fn print(finish: &Finish, json: bool, quiet: bool) -> Result<u8> {
    let mut stdout = super::Stdout;
    let say = |m: &str| {
        if !quiet {
            say!("{m}");
        }
    };
    let (run, manifest, code) = match finish {
        Finish::Over { run, manifest } => (run, manifest, manifest.exit_code()),
        Finish::LeftRunning {
            run,
            manifest,
            signal,
        } => {
            let code = signal.map_or(exit::DETACHED, exit::for_signal);
            (run, manifest, code)
        }
    };
    if json {
        serde_json::to_writer_pretty(&mut stdout, &envelope(run, manifest, code))?;
        writeln!(stdout)?;
        stdout.flush()?;
        return Ok(code);
    }
    let took = manifest.duration().map_or_else(String::new, |d| {
        format!(" after {}", crate::duration::human(d))
    });
    match finish {
        Finish::LeftRunning { signal, .. } => {
            writeln!(stdout, "still running: {}", resume_command(&run.id))?;
            let why = match signal {
                Some(s) => format!("stopped waiting on signal {s}"),
                None => "stopped waiting (--detach-after)".to_owned(),
            };
            say(&format!(
                "agent-offload: run {} is still running{took}; {why}. It goes on by itself \
                 (output in {}); resume with: {}  (or: agent-offload cancel {})",
                run.id,
                run.log().display(),
                resume_command(&run.id),
                run.id
            ));
        }
        Finish::Over { .. } if manifest.status == Status::Done => {
            let summary = run.summary();
            let text = summary.as_ref().map_or("", |s| s.text.as_str());
            stdout.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                stdout.write_all(b"\n")?;
            }
            if let Some(s) = summary.as_ref().filter(|s| s.truncated) {
                say(&format!(
                    "agent-offload: the summary is {} bytes: printed its first and last lines \
                     only; the whole summary is {}",
                    s.bytes,
                    run.summary_file().display()
                ));
            }
            say(&format!(
                "agent-offload: run {} done{took}; directory {}",
                run.id,
                run.path.display()
            ));
            if let Some(s) = run::spent(run, manifest) {
                say(&format!("agent-offload: used {}", describe_spent(&s)));
            }
            if let Some(c) = &manifest.changes {
                say(&format!("agent-offload: {}", run::describe_changes(c)));
            }
        }
        Finish::Over { .. } if manifest.status == Status::NeedsInput => {
            print_question(&mut stdout, run, manifest, &took, &say)?;
        }
        Finish::Over { .. } => print_failure(&mut stdout, run, manifest, &took)?,
    }
    stdout.flush()?;
    Ok(code)
}
