//! pi (pi-coding-agent).
//!
//! Arguments: `-p` headless, `--mode json` for its events, a plain positional prompt
//! (pi rejects `--`: "Unknown option: --"), `--session ID` to resume. pi chooses its
//! session ids: a pane run's is found in its session store. pi does not ask for
//! permission.
//!
//! ## Its structured output: pi `--mode json`.
//!
//! Events (pi 0.73.1, fixture `pi-headless.jsonl`):
//! - First `session{version, id, cwd}`: the session id.
//! - `agent_start`, `turn_start`, `message_start`, `message_update` (streaming
//!   pieces): nothing to show.
//! - `message_end{message{role, content[], usage, stopReason, errorMessage?}}`: an
//!   assistant message's `content[]` of `{type: text, text}`, `{type: thinking,
//!   thinking}`, `{type: toolCall, name, arguments}`; `usage{input, output, cacheRead,
//!   cacheWrite, cost{total}}`. `user` and `toolResult` messages are not shown (the
//!   tool's result is shown from `tool_execution_end`).
//! - `tool_execution_start{toolCallId, toolName, args}`, `tool_execution_update`,
//!   `tool_execution_end{toolName, result{content[]}, isError}`.
//! - `turn_end`, `agent_end`: the end of a turn and of the run.
//! - `auto_retry_start/end`, `compaction_start/end`, `queue_update` and the like.
//!
//! Usage: per assistant message, in `message_end.message.usage`; the messages are
//! summed (a run of two model requests of 10 in / 5 out: two `message_end` of 10/5;
//! its resumed run again two, nothing cumulative). The same message, usage included,
//! is repeated in `turn_end.message` and in `agent_end.messages[]`: those are not
//! added. pi's `input` leaves out `cacheRead` and `cacheWrite` (pi-ai normalises the
//! provider's numbers so), which are added back here; `output` includes reasoning.
//!
//! An API error (a 401) is an assistant `message_end` with `stopReason: error` and
//! `errorMessage`, and pi 0.73.1 then exits 0: `Stream::error` is the only sign.

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::stream::{Known, Out, State, Usage, content_text, cost_at, str_at, sum, u64_at};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use std::path::{Path, PathBuf};

use super::transcript::{
    self, Format, Record, StoreSearch, find_named, in_project, key, recent_files, sorted_dirs,
};
use crate::interface::{Interface, Mode};
use serde_json::Value;

pub struct Pi;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Pi,
    profile: "pi",
    executables: &["pi"],
    // pi does not ask for permission.
    args: &[],
    env: &[],
};

impl Cli for Pi {
    fn interface(&self) -> Interface {
        Interface::Pi
    }

    fn mode_args(&self, mode: Mode) -> &'static [&'static str] {
        match mode {
            Mode::Tmux => &[],
            Mode::Headless => &["-p"],
        }
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--mode", "json"])
    }

    /// No `--` ("Unknown option: --"): a plain positional prompt.
    fn prompt_argument(&self, _mode: Mode) -> PromptArgument {
        prompt(&[], true)
    }

    fn resume_args(&self, _mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--session"], id))
    }

    /// Per-message costs in `message_end`.
    fn reports_cost(&self) -> bool {
        true
    }

    /// `$PI_CODING_AGENT_DIR`, else `~/.pi/agent`.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "PI_CODING_AGENT_DIR", ".pi/agent"))
    }

    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(Parser))
    }

    fn transcript(&self) -> Option<&'static Format> {
        Some(&FORMAT)
    }

    /// The file, written since the run started, that names the run directory:
    /// `sessions/--<cwd>--/<time>_<id>.jsonl` (any project's if the run's has none).
    fn find_session(&self, search: &StoreSearch<'_>) -> Option<String> {
        let root = sessions(search.env)?;
        let own = root.join(pi_project(&search.cwd.to_string_lossy()));
        let dirs = if own.is_dir() {
            vec![own]
        } else {
            sorted_dirs(&root)
        };
        let files = dirs
            .iter()
            .flat_map(|d| recent_files(d, search.since, "", ".jsonl"))
            .collect();
        let stem = transcript::search(files, search.marker)?;
        let id = stem.rsplit_once('_')?.1;
        crate::session_id::valid(id).then(|| id.to_owned())
    }
}

// The structured output.

/// Bookkeeping events with nothing for the transcript.
const SILENT: [&str; 11] = [
    "agent_start",
    "turn_start",
    "message_start",
    "message_update",
    "tool_execution_update",
    "queue_update",
    "compaction_start",
    "session_info_changed",
    "thinking_level_changed",
    "auto_retry_end",
    "compaction_end",
];

pub(super) fn event(st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
    match kind {
        "session" => {
            if let Some(id) = str_at(v, &["id"]) {
                st.set_session_id(id);
            }
            st.session_line(out);
        }
        "message_end" => message_end(st, v.get("message").unwrap_or(&Value::Null), out),
        "tool_execution_start" => {
            let name = str_at(v, &["toolName"]).unwrap_or("tool");
            let args = v.get("args");
            match args.and_then(|a| str_at(a, &["command"])) {
                Some(command) if name == "bash" => out.command(command),
                _ => out.tool(name, args),
            }
        }
        "tool_execution_end" => {
            let text = at_content(v.get("result"));
            if v.get("isError").and_then(Value::as_bool) == Some(true) {
                out.error(&text, true);
            } else {
                out.result(&text);
            }
        }
        "turn_end" => st.add_turn(),
        "agent_end" => st.summary(out),
        "auto_retry_start" => {
            let message = str_at(v, &["errorMessage"]).unwrap_or("");
            out.line(&format!(
                "retrying: {}",
                super::stream::shorten(message, 400)
            ));
        }
        _ if SILENT.contains(&kind) => {}
        _ => return Known::No(kind.to_owned()),
    }
    Known::Yes
}

/// A tool result's text: `result.content[]` text blocks, or a plain string.
fn at_content(result: Option<&Value>) -> String {
    match result {
        Some(Value::Object(map)) => map.get("content").map(content_text).unwrap_or_default(),
        Some(other) => content_text(other),
        None => String::new(),
    }
}

fn message_end(st: &mut State, message: &Value, out: &mut Out) {
    if str_at(message, &["role"]) != Some("assistant") {
        return;
    }
    let mut text = String::new();
    if let Some(Value::Array(blocks)) = message.get("content") {
        for block in blocks {
            match str_at(block, &["type"]) {
                Some("text") => {
                    if let Some(t) = str_at(block, &["text"]) {
                        out.text(t);
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&super::stream::cap(t, super::stream::FINAL_MESSAGE_MAX));
                    }
                }
                Some("thinking") => out.thinking(str_at(block, &["thinking"]).unwrap_or("")),
                // Shown from tool_execution_start, with the same arguments.
                _ => {}
            }
        }
    }
    st.set_final(&text);
    if let Some(u) = message.get("usage") {
        st.add_usage(&usage(u));
    }
    if str_at(message, &["stopReason"]) == Some("error") {
        let error = str_at(message, &["errorMessage"]).unwrap_or("the model call failed");
        st.report_error(error, out);
    }
}

fn usage(u: &Value) -> Usage {
    let input = u64_at(u, &["input"]);
    let read = u64_at(u, &["cacheRead"]);
    let write = u64_at(u, &["cacheWrite"]);
    let total_input = sum(&[input, read, write]);
    Usage {
        input_tokens: total_input,
        cached_input_tokens: read,
        output_tokens: u64_at(u, &["output"]),
        reasoning_tokens: None,
        cost_usd: cost_at(u, &["cost", "total"]),
    }
}

/// pi's stream needs no state.
struct Parser;

impl Parse for Parser {
    fn event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        event(st, kind, v, out)
    }
}

// The session transcript.

const FORMAT: Format = Format {
    locate,
    record,
    needle: b"\"usage\"",
    beside: None,
    costs: true,
};

/// `<home>/sessions`.
fn sessions(env: &Env<'_>) -> Option<PathBuf> {
    Some(Pi.home(env)?.ok()?.dir.join("sessions"))
}

/// `sessions/--<cwd>--/<time>_<id>.jsonl`.
fn locate(id: &str, cwd: &Path, env: &Env<'_>) -> Option<PathBuf> {
    let root = sessions(env)?;
    let suffix = format!("_{id}.jsonl");
    let named = |dir: &Path| find_named(dir, |n| n.ends_with(&suffix));
    in_project(&root, cwd, pi_project, &named)
}

/// `{type: message, id, message: {role: assistant, usage}}`: the usage of the
/// stream's `message_end` (read by [`usage`]), per model request.
fn record(v: &Value) -> Option<Record> {
    let message = v.get("message")?;
    if v.get("type")?.as_str()? != "message" || message.get("role")?.as_str()? != "assistant" {
        return None;
    }
    Some(Record::Add {
        key: key(v, "id"),
        usage: usage(message.get("usage").filter(|u| u.is_object())?),
    })
}

/// pi's: `--<cwd without its leading '/', every '/', '\' and ':' as '-'>--`.
pub(super) fn pi_project(cwd: &str) -> String {
    let cwd = cwd.strip_prefix(['/', '\\']).unwrap_or(cwd);
    format!("--{}--", cwd.replace(['/', '\\', ':'], "-"))
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::super::stream::{Usage, UsageScope};
    use crate::interface::Interface;

    const HEADLESS: &str = include_str!("fixtures/pi-headless.jsonl");
    const RESUME: &str = include_str!("fixtures/pi-resume.jsonl");
    const ERROR: &str = include_str!("fixtures/pi-error.jsonl");

    #[test]
    fn a_real_run() {
        let (stream, transcript) = run(Interface::Pi, HEADLESS);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("01a22e4c-9011-73df-bf4b-51f4b8bca3bf")
        );
        assert_eq!(
            stream.final_message(),
            Some("The script ran; the summary is published.")
        );
        assert_eq!(stream.error(), None);
        let lines: Vec<&str> = transcript.lines().collect();
        assert_eq!(lines[0], "session 01a22e4c-9011-73df-bf4b-51f4b8bca3bf");
        assert!(
            lines[1].starts_with("$ printf '%s\\n' 'probe summary 1' >'/tmp/probe/runs/"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "    (no output)");
        assert_eq!(lines[3], "The script ran; the summary is published.");
        assert_eq!(lines[4], "turns 2, tokens 20 in, 10 out, cost $0.00");
        assert_eq!(lines.len(), 5);
    }

    /// Two assistant messages of 10 in / 5 out: summed from `message_end` to 20 / 10.
    /// The same usage repeated in `turn_end` and `agent_end.messages` is not added
    /// (that would give 40 or more), and the last message alone (10) undercounts.
    #[test]
    fn usage_sums_the_messages_once() {
        let (stream, _) = run(Interface::Pi, HEADLESS);
        assert_eq!(stream.usage_scope(), UsageScope::Run);
        assert_eq!(
            stream.usage(),
            &Usage {
                input_tokens: Some(20),
                cached_input_tokens: Some(0),
                output_tokens: Some(10),
                reasoning_tokens: None,
                cost_usd: Some(0.0),
            }
        );
        let (stream, _) = run(Interface::Pi, RESUME);
        assert_eq!(
            stream.usage().input_tokens,
            Some(20),
            "the resumed run's own"
        );
    }

    #[test]
    fn cache_counts_as_input_and_cost_adds_up() {
        let events = r#"{"type":"message_end","message":{"role":"assistant","content":[],"usage":{"input":4,"output":2,"cacheRead":90,"cacheWrite":6,"totalTokens":102,"cost":{"total":0.125}},"stopReason":"toolUse"}}
{"type":"message_end","message":{"role":"assistant","content":[{"type":"text","text":"ok"}],"usage":{"input":1,"output":1,"cacheRead":100,"cacheWrite":0,"totalTokens":102,"cost":{"total":0.25}},"stopReason":"stop"}}"#;
        let (stream, _) = run(Interface::Pi, events);
        assert_eq!(
            stream.usage(),
            &Usage {
                input_tokens: Some(201),
                cached_input_tokens: Some(190),
                output_tokens: Some(3),
                reasoning_tokens: None,
                cost_usd: Some(0.375),
            }
        );
    }

    #[test]
    fn a_resumed_run_keeps_its_id() {
        let (stream, transcript) = run(Interface::Pi, RESUME);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("01a22e4c-9011-73df-bf4b-51f4b8bca3bf")
        );
        assert!(transcript.contains("'probe summary 2'"));
    }

    /// A 401 (0.73.1): the assistant message ends with `stopReason: error` and an
    /// `errorMessage`, and pi exits 0.
    #[test]
    fn a_real_api_error() {
        let (stream, transcript) = run(Interface::Pi, ERROR);
        assert_no_json(&transcript);
        assert_eq!(
            stream.error(),
            Some("401 e2e model server: credentials rejected")
        );
        assert_eq!(stream.final_message(), None);
        assert_eq!(
            transcript,
            "session 01a22e4c-dfbb-7098-92e9-951074032f50\n\
             error: 401 e2e model server: credentials rejected\n\
             turns 1, tokens 0 in, 0 out, cost $0.00\n"
        );
    }

    #[test]
    fn a_failing_tool() {
        let events = r#"{"type":"tool_execution_start","toolCallId":"c1","toolName":"read","args":{"path":"/nope"}}
{"type":"tool_execution_end","toolCallId":"c1","toolName":"read","result":{"content":[{"type":"text","text":"ENOENT: /nope"}]},"isError":true}"#;
        let (_, transcript) = run(Interface::Pi, events);
        assert_eq!(transcript, "→ read /nope\n    error: ENOENT: /nope\n");
    }
}
