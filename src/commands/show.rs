//! `agent-offload show [RUN]`: everything about one run.

use std::cell::RefCell;
use std::fmt::Write as _;

use anyhow::Result;

use super::{Env, report};
use crate::cli::ShowArgs;
use crate::run;

pub fn show(args: &ShowArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run_dir = super::run_or_newest_here(&root, args.run.as_deref())?;
    let m = run::refresh(&run_dir)?;
    let code = m.exit_code();
    if args.json {
        let mut value = serde_json::to_value(report::envelope(&run_dir, &m, code))?;
        value["command"] = serde_json::to_value(&m.command)?;
        value["env"] = serde_json::to_value(&m.env)?;
        value["prompt_file"] = serde_json::to_value(run_dir.prompt_file())?;
        value["deadline_at"] = serde_json::to_value(m.deadline_at.map(run::rfc3339))?;
        super::outln!("{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    // Written whole at the end: a reader that is gone ends it quietly (`Stdout`).
    let text = RefCell::new(String::new());
    let field = |k: &str, v: &str| {
        let _ = writeln!(text.borrow_mut(), "{k:<10} {v}");
    };
    field("id", &m.id);
    field("status", m.status.as_str());
    if let Some(reason) = &m.reason {
        field("reason", reason);
    }
    if let Some(by) = m.ended_by {
        field("ended by", by.as_str());
    }
    field("profile", &m.profile);
    field("mode", m.mode.as_str());
    match (&m.pane, m.pid) {
        (Some(p), _) => field("pane", p),
        (None, Some(pid)) => field("pid", &pid.to_string()),
        _ => {}
    }
    field("cwd", &m.cwd.display().to_string());
    if let Some(wt) = &m.worktree {
        show_worktree(&field, &run_dir, &m, wt);
    }
    if let Some(id) = run::known_session_id(&run_dir, &m) {
        field("session", &id);
    }
    if let Some(s) = run::spent(&run_dir, &m) {
        field("usage", &super::report::describe_spent(&s));
    }
    if let Some(h) = &m.health {
        field("health", &describe_health(h));
    }
    if let Some(budget) = m.meter.as_ref().and_then(describe_budget) {
        field("budget", &budget);
    }
    if let Some(parent) = &m.parent {
        let how = match m.continuation {
            Some(run::Continuation::Handoff) => "hand-off from",
            _ => "continues",
        };
        field("parent", &format!("{how} {parent}"));
    }
    field("command", &shell_words(&m.command));
    for (k, v) in &m.env {
        field("env", &format!("{k}={v}"));
    }
    field("started", &run::rfc3339(m.started_at));
    if let Some(f) = m.finished_at {
        field("finished", &run::rfc3339(f));
    }
    if let Some(d) = m.duration() {
        field("duration", &crate::duration::human(d));
    }
    if let Some(deadline) = m.deadline_at {
        field("deadline", &run::rfc3339(deadline));
    }
    if let Some(c) = m.exit_code {
        field("exit code", &c.to_string());
    }
    field("directory", &run_dir.path.display().to_string());
    field("log", &run_dir.log().display().to_string());
    if let Some(c) = &m.check {
        show_check(&field, c);
    }
    if let Some(c) = &m.changes {
        let _ = writeln!(text.borrow_mut(), "\n{}", run::describe_changes(c));
    }
    if let Some(summary) = run_dir.summary() {
        let _ = writeln!(text.borrow_mut(), "\nsummary:\n{}", summary.text.trim_end());
    } else if m.status == run::Status::NeedsInput
        && let Some(question) = run_dir.question()
    {
        let _ = writeln!(
            text.borrow_mut(),
            "\nquestion:\n{}\n\nanswer with: {}",
            question.text.trim_end(),
            report::answer_command(&m.id)
        );
    }
    super::print_document(text.into_inner().as_bytes())?;
    Ok(0)
}

/// The limits a run was given (`--max-tokens`, `--max-cost`), if any.
fn describe_budget(meter: &run::Meter) -> Option<String> {
    let mut budget = Vec::new();
    if let Some(t) = meter.max_tokens {
        budget.push(format!("{t} tokens"));
    }
    if let Some(c) = meter.max_cost {
        budget.push(format!("${c:.2}"));
    }
    (!budget.is_empty()).then(|| budget.join(", "))
}

fn describe_health(h: &run::Health) -> String {
    let state = match (h.state, h.stall) {
        (run::HealthState::Stalled, Some(kind)) => format!("stalled ({})", kind.as_str()),
        (run::HealthState::Stalled, None) => "stalled".to_owned(),
        (run::HealthState::Working, _) => "working".to_owned(),
    };
    let since = h.last_activity.map_or_else(String::new, |t| {
        format!("; last sign of work {}", run::rfc3339(t))
    });
    format!("{state}{since}")
}

/// `check  failed (exit 101): cargo test`, and where its output is.
fn show_check(field: &dyn Fn(&str, &str), c: &run::Check) {
    field(
        "check",
        &format!("{}: {}", run::describe_check(c), c.command),
    );
    if let Some(log) = &c.log {
        field("check log", &log.display().to_string());
    }
}

fn show_worktree(
    field: &dyn Fn(&str, &str),
    run_dir: &run::RunDir,
    m: &run::Manifest,
    wt: &run::Worktree,
) {
    field(
        "worktree",
        &format!(
            "{} (branch {}, from {} {})",
            wt.path.display(),
            wt.branch,
            wt.start.as_str(),
            &wt.base[..wt.base.len().min(10)]
        ),
    );
    let state = match (&wt.removed_at, &wt.applied, &wt.merged) {
        (Some(at), ..) => format!("discarded {at}"),
        (None, Some(a), _) => format!("applied to {} {}", a.into.display(), a.at),
        (None, None, Some(g)) => format!("merged into {} {}", g.into.display(), g.at),
        (None, None, None) if m.status.is_final() => {
            format!("not applied yet (agent-offload apply {})", m.id)
        }
        _ => "in use".to_owned(),
    };
    field("work", &state);
    if wt.removed_at.is_none()
        && let Some(moved) = run::base_moved(wt, &wt.repo)
    {
        field("base", &moved);
    }
    let patch = run_dir.file(run::DIFF);
    if patch.is_file() {
        field("patch", &patch.display().to_string());
    }
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| crate::shell::quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}
