//! The prompt that hands a run's work to a fresh session (`continue -p OTHER`,
//! `continue --fresh`): the task as it was given (every step of the conversation), what
//! the run reported, what it changed and where its diff is, then the new prompt. The
//! new agent picks up where the other left off without anyone re-explaining the task.

use std::fmt::Write as _;
use std::path::Path;

use crate::git::changes;
use crate::store::dir::{self, Manifest, RunDir, Status};

/// The most of each earlier prompt carried over (a plan can be long; its head is what
/// the next agent needs, and the whole file is named).
const TASK_LIMIT: usize = 64 * 1024;
/// How many runs back a conversation is followed.
const MAX_DEPTH: usize = 20;
/// The patch written beside a run's other files when its work is handed off.
pub const DIFF: &str = "changes.diff";

/// The hand-off prompt for continuing `parent` (the newest run of a conversation) with
/// a fresh session, ending with `prompt`.
pub fn seed(root: &Path, parent: &RunDir, manifest: &Manifest, prompt: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "You are taking over a task that another coding agent worked on (agent-offload run \
         {}, profile \"{}\"), in this working directory: {}. Its work is in the working tree \
         already: build on it, do not start over.\n",
        manifest.id,
        manifest.profile,
        manifest.cwd.display()
    );
    let _ = writeln!(out, "## The task it was given\n");
    let chain = conversation(root, parent, manifest);
    let several = chain.len() > 1;
    for (i, (run, _)) in chain.iter().enumerate() {
        if several {
            let _ = writeln!(
                out,
                "{}",
                if i == 0 {
                    "First:".to_owned()
                } else {
                    format!("Then (step {}):", i + 1)
                }
            );
        }
        out.push_str(&task_of(run));
        out.push_str("\n\n");
    }
    let _ = writeln!(out, "## What it reported\n");
    out.push_str(&report_of(parent, manifest));
    out.push_str("\n\n## What it changed\n\n");
    match &manifest.changes {
        Some(c) => {
            out.push_str(&changes::describe(c));
            let diff = parent.file(DIFF);
            let written = !c.files.is_empty()
                && manifest
                    .git
                    .as_ref()
                    .is_some_and(|g| changes::write_diff(&g.toplevel, c, &diff));
            if written {
                let _ = write!(out, "\nThe whole diff of its changes: {}", diff.display());
            }
        }
        None => out.push_str("Not recorded (not a git repository)."),
    }
    let _ = write!(out, "\n\n## Your task now\n\n{prompt}");
    out
}

/// The runs of the conversation that ends with `parent`, oldest first, following
/// each run's `parent` (bounded, and never in a circle).
fn conversation(root: &Path, parent: &RunDir, manifest: &Manifest) -> Vec<(RunDir, Manifest)> {
    let mut chain = vec![(parent.clone(), manifest.clone())];
    while chain.len() < MAX_DEPTH {
        let Some(up) = chain.last().and_then(|(_, m)| m.parent.clone()) else {
            break;
        };
        // A run id is a directory name: nothing else is looked up.
        if up.contains('/') || up.starts_with('.') || chain.iter().any(|(r, _)| r.id == up) {
            break;
        }
        let run = RunDir::open(root.join(&up));
        let Ok(m) = Manifest::load(&run) else { break };
        chain.push((run, m));
    }
    chain.reverse();
    chain
}

/// The prompt a run was given, as the user wrote it (cut to [`TASK_LIMIT`]).
fn task_of(run: &RunDir) -> String {
    let Some(bytes) = run.small_file(dir::TASK, 16 * 1024 * 1024) else {
        return format!("(not recorded; see {})", run.file(dir::PROMPT).display());
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.len() <= TASK_LIMIT {
        return text.trim_end().to_owned();
    }
    let mut end = TASK_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... cut: the whole prompt is {}]",
        &text[..end],
        run.file(dir::TASK).display()
    )
}

/// What the run said when it ended: its summary, its question, or why it has neither.
fn report_of(run: &RunDir, m: &Manifest) -> String {
    match m.status {
        Status::Done => run.summary().map_or_else(
            || "It reported done, but its summary cannot be read.".to_owned(),
            |s| s.text.trim_end().to_owned(),
        ),
        Status::NeedsInput => {
            let q = run
                .question()
                .map_or_else(|| "(unreadable)".to_owned(), |q| q.text);
            format!(
                "It stopped to ask this question (the answer is in your task below):\n\n{}",
                q.trim_end()
            )
        }
        other => {
            let mut s = format!(
                "It ended without a summary (status {}): {}",
                other.as_str(),
                m.reason.as_deref().unwrap_or("no reason recorded")
            );
            let tail = run.log_tail(15);
            if !tail.is_empty() {
                let _ = write!(s, "\nThe last lines of its output:\n{tail}");
            }
            s
        }
    }
}
