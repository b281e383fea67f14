//! codex.
//!
//! Arguments: `exec` headless (a subcommand, so it comes first), `--json` for its
//! events, `--no-daemon` in a pane, the prompt after `--` (a resumed pane: `codex
//! resume ID PROMPT`, without `--`), and `resume ID` after the profile's arguments
//! (`resume` is a subcommand of `codex exec` and of the TUI: their flags go before it).
//! codex chooses its session ids: a pane run's is found in its session store.
//!
//! ## Its structured output: codex `exec --json`.
//!
//! Events (codex 0.169.0, fixture `codex-headless.jsonl`):
//! - `thread.started{thread_id}`: the session id.
//! - `turn.started`: nothing to show.
//! - `item.started` / `item.updated` / `item.completed` with `item{id, type, …}`:
//!   `agent_message{text}`, `reasoning{text}`, `command_execution{command,
//!   aggregated_output, exit_code, status}`, `file_change{changes[{path, kind}]}`,
//!   `mcp_tool_call{server, tool, arguments, result, error}`, `web_search{query}`,
//!   `todo_list{items[{text, completed}]}`, `error{message}` (a warning: 0.169.0 starts
//!   every run with one, "Model metadata for `<model>` not found. Defaulting to
//!   fallback metadata…", and the run goes on).
//!   A command is shown when it starts, its output when it completes; everything else
//!   when it completes.
//! - `turn.completed{usage{input_tokens, cached_input_tokens, cache_write_input_tokens,
//!   output_tokens, reasoning_output_tokens}}`, `turn.failed{error{message}}`,
//!   `error{message}`.
//!
//! Usage: `turn.completed.usage` is documented as the turn's, but measured with codex
//! 0.169.0 it is the thread's running total: a run of two model requests reports 20
//! input tokens, and each `exec resume` of the same thread, again two requests, reports
//! 40, 60, 80, 100. So the latest one is taken, never summed (`UsageScope::Session`:
//! for a resumed thread it includes the runs before). `input_tokens` already includes
//! `cached_input_tokens` (the `OpenAI` convention). codex reports no cost.

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::stream::UsageScope;
use super::stream::{Known, Out, State, Usage, content_text, short_args, str_at, u64_at};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use std::path::{Path, PathBuf};

use super::transcript::{
    self, Format, Record, StoreSearch, find_named, inside, recent_files, sorted_dirs,
};
use crate::interface::{Interface, Mode};
use serde_json::Value;
use std::collections::HashSet;

pub struct Codex;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Codex,
    profile: "codex",
    executables: &["codex"],
    args: &["--dangerously-bypass-approvals-and-sandbox"],
    env: &[],
};

impl Cli for Codex {
    fn interface(&self) -> Interface {
        Interface::Codex
    }

    fn mode_args(&self, mode: Mode) -> &'static [&'static str] {
        match mode {
            // codex's TUI starts a background `codex app-server` daemon (double-forked,
            // its own session) that outlives the pane: measured with codex 0.169.0, the
            // daemon was still running after 3 of 4 runs. `--no-daemon` keeps it in
            // process; `codex exec` rejects the flag, so it is tmux mode only.
            Mode::Tmux => &["--no-daemon"],
            Mode::Headless => &["exec"],
        }
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--json"])
    }

    /// After `--`: a prompt starting with `-` is safe.
    fn prompt_argument(&self, _mode: Mode) -> PromptArgument {
        prompt(&["--"], false)
    }

    fn prompt_argument_resuming(&self, mode: Mode) -> PromptArgument {
        match mode {
            // `codex resume ID PROMPT` (the TUI's resume subcommand): measured without
            // `--` only.
            Mode::Tmux => prompt(&[], true),
            Mode::Headless => self.prompt_argument(mode),
        }
    }

    /// Flags of `codex exec` (and of the TUI) go before the `resume` subcommand.
    fn resume_args(&self, _mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["resume"], id))
    }

    fn resume_after_profile_args(&self) -> bool {
        true
    }

    /// Tokens only.
    fn reports_cost(&self) -> bool {
        false
    }

    /// `$CODEX_HOME`, else `~/.codex`.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "CODEX_HOME", ".codex"))
    }

    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(Parser::default()))
    }

    /// `turn.completed.usage` is the thread's running total.
    fn stream_usage_scope(&self) -> UsageScope {
        UsageScope::Session
    }

    fn transcript(&self) -> Option<&'static Format> {
        Some(&FORMAT)
    }

    /// The file, written since the run started, that names the run directory:
    /// `sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`, the days since the run
    /// started (local or UTC).
    fn find_session(&self, search: &StoreSearch<'_>) -> Option<String> {
        let root = sessions(search.env)?;
        let mut files = Vec::new();
        for day in days(&root, false) {
            files.extend(recent_files(&day, search.since, "rollout-", ".jsonl"));
        }
        let stem = transcript::search(files, search.marker)?;
        // rollout-<time>-<uuid>: the id is the last 36 characters.
        let id = stem.get(stem.len().checked_sub(36)?..)?;
        crate::session_id::valid(id).then(|| id.to_owned())
    }
}

// The structured output.

/// Commands whose start was shown, so that their completion does not show them again;
/// bounded so that a stream of starts without completions cannot grow it forever.
const STARTED_MAX: usize = 1024;

#[derive(Default)]
pub(super) struct Parser {
    started: HashSet<String>,
}

impl Parser {
    fn on_event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        match kind {
            "thread.started" => {
                if let Some(id) = str_at(v, &["thread_id"]) {
                    st.set_session_id(id);
                }
                st.session_line(out);
            }
            "turn.started" => {}
            "item.started" | "item.updated" | "item.completed" => {
                let Some(item) = v.get("item") else {
                    return Known::Yes;
                };
                let item_type = str_at(item, &["type"]).unwrap_or("");
                if !self.item(st, kind, item_type, item, out) {
                    return Known::No(format!("{kind}/{item_type}"));
                }
            }
            "turn.completed" => {
                if let Some(u) = v.get("usage") {
                    st.set_usage(usage(u));
                }
                st.add_turn();
                // A retry reported on the way ("Reconnecting…") did not fail the turn.
                st.error = None;
                st.summary(out);
            }
            "turn.failed" => {
                let message = str_at(v, &["error", "message"]).unwrap_or("the turn failed");
                st.report_error(message, out);
                st.add_turn();
                st.summary(out);
            }
            "error" => {
                let message = str_at(v, &["message"]).unwrap_or("error");
                st.report_error(message, out);
            }
            _ => return Known::No(kind.to_owned()),
        }
        Known::Yes
    }

    /// One item event; false for an item type this code does not know.
    fn item(
        &mut self,
        st: &mut State,
        kind: &str,
        item_type: &str,
        item: &Value,
        out: &mut Out,
    ) -> bool {
        let id = str_at(item, &["id"]).unwrap_or("");
        let completed = kind == "item.completed";
        match item_type {
            "command_execution" => {
                let command = str_at(item, &["command"]).unwrap_or("");
                if kind == "item.started" {
                    out.command(command);
                    if self.started.len() < STARTED_MAX {
                        self.started.insert(id.to_owned());
                    }
                } else if completed {
                    if !self.started.remove(id) {
                        out.command(command);
                    }
                    out.result(str_at(item, &["aggregated_output"]).unwrap_or(""));
                    match item.get("exit_code").and_then(Value::as_i64) {
                        Some(0) | None => {}
                        Some(code) => out.line(&format!("    (exit {code})")),
                    }
                }
            }
            "agent_message" if completed => {
                let text = str_at(item, &["text"]).unwrap_or("");
                out.text(text);
                st.set_final(text);
            }
            "reasoning" if completed => out.thinking(str_at(item, &["text"]).unwrap_or("")),
            "file_change" if completed => {
                if let Some(Value::Array(changes)) = item.get("changes") {
                    for change in changes.iter().take(50) {
                        let verb = str_at(change, &["kind"]).unwrap_or("edit");
                        let path = str_at(change, &["path"]).unwrap_or("?");
                        out.line(&format!("→ {verb} {}", super::stream::shorten(path, 200)));
                    }
                }
            }
            "mcp_tool_call" => {
                if kind == "item.started" {
                    let server = str_at(item, &["server"]).unwrap_or("mcp");
                    let tool = str_at(item, &["tool"]).unwrap_or("tool");
                    out.tool(&format!("{server}.{tool}"), item.get("arguments"));
                } else if completed {
                    if let Some(err) = item.get("error").filter(|e| !e.is_null()) {
                        let message = str_at(err, &["message"])
                            .or(err.as_str())
                            .unwrap_or("failed");
                        out.error(message, true);
                    } else if let Some(result) = item.get("result") {
                        out.result(&content_text(result.get("content").unwrap_or(result)));
                    }
                }
            }
            "web_search" if completed => {
                let query = item.get("query").map(short_args).unwrap_or_default();
                out.line(&format!("→ web search {query}"));
            }
            "todo_list" if completed => todo_list(item, out),
            "error" if completed => {
                let message = str_at(item, &["message"]).unwrap_or("");
                out.line(&format!(
                    "warning: {}",
                    super::stream::shorten(message, 400)
                ));
            }
            "agent_message" | "reasoning" | "file_change" | "web_search" | "todo_list"
            | "error" => {}
            _ => return false,
        }
        true
    }
}

fn todo_list(item: &Value, out: &mut Out) {
    let Some(Value::Array(items)) = item.get("items") else {
        return;
    };
    for todo in items.iter().take(20) {
        let done = todo.get("completed").and_then(Value::as_bool) == Some(true);
        let text = str_at(todo, &["text"]).unwrap_or("");
        out.line(&format!(
            "    [{}] {}",
            if done { "x" } else { " " },
            super::stream::shorten(text, 160)
        ));
    }
}

fn usage(u: &Value) -> Usage {
    Usage {
        input_tokens: u64_at(u, &["input_tokens"]),
        cached_input_tokens: u64_at(u, &["cached_input_tokens"]),
        output_tokens: u64_at(u, &["output_tokens"]),
        reasoning_tokens: u64_at(u, &["reasoning_output_tokens"]),
        cost_usd: None,
    }
}

impl Parse for Parser {
    fn event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        self.on_event(st, kind, v, out)
    }
}

// The session transcript.

const FORMAT: Format = Format {
    locate,
    record,
    needle: b"token_count",
    beside: None,
    costs: false,
};

/// `<home>/sessions`.
fn sessions(env: &Env<'_>) -> Option<PathBuf> {
    Some(Codex.home(env)?.ok()?.dir.join("sessions"))
}

/// `sessions/YYYY/MM/DD` directories, in order or the newest first.
fn days(root: &Path, newest_first: bool) -> Vec<PathBuf> {
    let sorted = |dir: &Path| {
        let mut dirs = sorted_dirs(dir);
        if newest_first {
            dirs.reverse();
        }
        dirs
    };
    let mut days = Vec::new();
    for year in sorted(root) {
        for month in sorted(&year) {
            days.extend(sorted(&month));
        }
    }
    days
}

/// `sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`, the newest day first.
fn locate(id: &str, _cwd: &Path, env: &Env<'_>) -> Option<PathBuf> {
    let root = sessions(env)?;
    let suffix = format!("-{id}.jsonl");
    days(&root, true).into_iter().find_map(|day| {
        find_named(&day, |n| n.starts_with("rollout-") && n.ends_with(&suffix))
            .and_then(|found| inside(&root, &found))
    })
}

/// `{type: event_msg, payload: {type: token_count, info: {total_token_usage}}}`: the
/// stream's `turn.completed.usage` (read by [`usage`]), the thread's running total
/// (`info` is null when only rate limits changed).
fn record(v: &Value) -> Option<Record> {
    let payload = v.get("payload")?;
    if v.get("type")?.as_str()? != "event_msg" || payload.get("type")?.as_str()? != "token_count" {
        return None;
    }
    let u = payload
        .get("info")?
        .get("total_token_usage")
        .filter(|u| u.is_object())?;
    Some(Record::Total(usage(u)))
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::super::stream::{Usage, UsageScope};
    use crate::interface::Interface;

    const HEADLESS: &str = include_str!("fixtures/codex-headless.jsonl");
    const RESUME: &str = include_str!("fixtures/codex-resume.jsonl");
    const ERROR: &str = include_str!("fixtures/codex-error.jsonl");
    const WARNING: &str = "warning: Model metadata for `gpt-5.1-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.";

    #[test]
    fn a_real_run() {
        let (stream, transcript) = run(Interface::Codex, HEADLESS);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("01a22e46-f85b-7da2-8cf2-c20673f29be3")
        );
        assert_eq!(
            stream.final_message(),
            Some("The script ran; the summary is published.")
        );
        // The warning item does not make the run an error.
        assert_eq!(stream.error(), None);
        let lines: Vec<&str> = transcript.lines().collect();
        assert_eq!(lines[0], "session 01a22e46-f85b-7da2-8cf2-c20673f29be3");
        assert_eq!(lines[1], WARNING);
        // The command once (started, then completed), its empty output nothing.
        assert!(
            lines[2].starts_with(r#"$ /bin/bash -lc "printf '%s\\n' 'probe summary 1'"#),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "The script ran; the summary is published.");
        assert_eq!(lines[4], "turns 1, tokens 20 in, 10 out");
        assert_eq!(lines.len(), 5);
        assert_eq!(
            stream.usage(),
            &Usage {
                input_tokens: Some(20),
                cached_input_tokens: Some(0),
                output_tokens: Some(10),
                reasoning_tokens: Some(0),
                cost_usd: None,
            }
        );
    }

    /// 0.169.0's `turn.completed.usage` is the thread's running total: a resumed run of
    /// the same size reports 40 (its own 20 plus the first run's 20). Taken, not summed.
    #[test]
    fn usage_is_the_thread_total_never_summed() {
        let (stream, _) = run(Interface::Codex, RESUME);
        assert_eq!(stream.usage_scope(), UsageScope::Session);
        assert_eq!(stream.usage().input_tokens, Some(40));
        assert_eq!(stream.usage().output_tokens, Some(20));
        // Two turns in one stream: the second total replaces the first (60, not 100).
        let turns = r#"{"type":"turn.completed","usage":{"input_tokens":40,"cached_input_tokens":5,"output_tokens":20}}
{"type":"turn.completed","usage":{"input_tokens":60,"cached_input_tokens":5,"output_tokens":30}}"#;
        let (stream, transcript) = run(Interface::Codex, turns);
        assert_eq!(stream.usage().input_tokens, Some(60));
        assert_eq!(stream.usage().cached_input_tokens, Some(5));
        assert_eq!(stream.turns(), Some(2));
        assert!(transcript.ends_with("turns 2, tokens 60 in (5 cached), 30 out\n"));
    }

    #[test]
    fn a_real_resumed_run() {
        let (stream, transcript) = run(Interface::Codex, RESUME);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("01a22e46-f85b-7da2-8cf2-c20673f29be3")
        );
        assert!(transcript.contains("'probe summary 2'"));
    }

    /// A 401: `error` then `turn.failed` with the same message, shown once.
    #[test]
    fn a_real_api_error() {
        let (stream, transcript) = run(Interface::Codex, ERROR);
        assert_no_json(&transcript);
        let message = "unexpected status 401 Unauthorized: e2e model server: credentials rejected, url: http://127.0.0.1:35477/v1/responses";
        assert_eq!(stream.error(), Some(message));
        assert_eq!(stream.final_message(), None);
        assert_eq!(
            transcript.matches("error: unexpected status 401").count(),
            1
        );
        assert_eq!(
            stream.session_id(),
            Some("01a22e47-4993-7462-afc8-ad8e522561e3")
        );
    }

    #[test]
    fn command_output_is_shown_short_with_a_failing_exit_code() {
        let output: String = (1..=12)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let item = serde_json::json!({"type": "item.completed", "item": {"id": "item_9",
            "type": "command_execution", "command": "ls", "aggregated_output": output,
            "exit_code": 2, "status": "failed"}});
        let (_, transcript) = run(Interface::Codex, &item.to_string());
        assert_eq!(
            transcript,
            "$ ls\n    l1\n    l2\n    l3\n    l4\n    l5\n    l6\n    l7\n    l8\n    l9\n    l10\n    (… 2 more lines)\n    (exit 2)\n"
        );
    }

    #[test]
    fn documented_items_render() {
        let stream = r#"{"type":"item.completed","item":{"id":"1","type":"reasoning","text":"**Planning** the change"}}
{"type":"item.completed","item":{"id":"2","type":"file_change","changes":[{"path":"src/a.rs","kind":"update"}],"status":"completed"}}
{"type":"item.started","item":{"id":"3","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"query":"serde"},"status":"in_progress"}}
{"type":"item.completed","item":{"id":"3","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"query":"serde"},"result":{"content":[{"type":"text","text":"found"}]},"status":"completed"}}
{"type":"item.completed","item":{"id":"4","type":"web_search","query":"rust let chains"}}
{"type":"item.completed","item":{"id":"5","type":"todo_list","items":[{"text":"read","completed":true},{"text":"write","completed":false}]}}
{"type":"item.updated","item":{"id":"5","type":"todo_list","items":[]}}"#;
        let (_, transcript) = run(Interface::Codex, stream);
        assert_no_json(&transcript);
        assert_eq!(
            transcript,
            "(thinking) **Planning** the change\n→ update src/a.rs\n→ docs.search serde\n    found\n\
             → web search rust let chains\n    [x] read\n    [ ] write\n"
        );
    }
}
