//! qwen (qwen-code).
//!
//! Arguments: no words for headless, `-o`/`--output-format stream-json` for its
//! events (claude's stream, read by `claude.rs` with qwen's usage rule), a plain
//! positional prompt headless and `-i PROMPT` in the TUI (no `--`), `--session-id ID`
//! for a new session (the id is ours), `--resume ID`.
//!
//! ## Its structured output: claude's stream
//!
//! qwen-code 0.15.10 (fixture `qwen-headless.jsonl`) writes claude's events (`system`
//! `init` with `session_id` and `model`, `assistant`, `user`, `result`), its shell tool
//! `run_shell_command`. Its usage differs: each `assistant` event carries its model
//! request's usage (`input_tokens` is the whole prompt, `cache_read_input_tokens` part
//! of it), and `result.usage` is the session's running total (a resumed run of two
//! requests of 10 in reports 40). The messages are summed, and `result.usage` ignored.
//!
//! qwen reports an API error (a 401) as the agent's answer: [`api_error`].

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::claude::{Flavour, sanitize};
use super::stream::{Usage, u64_at};
use super::transcript::{Format, Record, in_project, key};
use crate::interface::{Interface, Mode};

pub struct Qwen;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Qwen,
    profile: "qwen",
    executables: &["qwen"],
    args: &["--yolo"],
    env: &[],
};

impl Cli for Qwen {
    fn interface(&self) -> Interface {
        Interface::Qwen
    }

    fn mode_args(&self, _mode: Mode) -> &'static [&'static str] {
        &[]
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--output-format", "stream-json"])
    }

    fn prompt_argument(&self, mode: Mode) -> PromptArgument {
        match mode {
            Mode::Headless => prompt(&[], true),
            Mode::Tmux => prompt(&["-i"], true),
        }
    }

    /// Honoured headless and in the TUI (measured: qwen 0.15.10).
    fn new_session_args(&self, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--session-id"], id))
    }

    fn resume_args(&self, _mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--resume"], id))
    }

    /// Tokens only.
    fn reports_cost(&self) -> bool {
        false
    }

    /// `$QWEN_HOME`, else `~/.qwen`.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "QWEN_HOME", ".qwen"))
    }

    /// claude's stream (see `claude.rs`).
    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(super::claude::Parser::new(&FLAVOUR)))
    }

    fn transcript(&self) -> Option<&'static Format> {
        Some(&FORMAT)
    }
}

// The structured output: claude's stream, read by `claude.rs`.

/// What qwen's stream does differently from claude's.
const FLAVOUR: Flavour = Flavour {
    message_usage: Some(message_usage),
    api_error: Some(api_error),
};

/// Each `assistant` event's `message.usage` is that model request's (qwen-code 0.15.10):
/// claude's field names, but `input_tokens` is the whole prompt, the cached part
/// (`cache_read_input_tokens`) included, so not claude's [`super::claude`] mapping;
/// nor the transcript's shape (`usageMetadata`, [`record`]).
fn message_usage(u: &Value) -> Usage {
    Usage {
        input_tokens: u64_at(u, &["input_tokens"]),
        cached_input_tokens: u64_at(u, &["cache_read_input_tokens"]),
        output_tokens: u64_at(u, &["output_tokens"]),
        reasoning_tokens: None,
        cost_usd: None,
    }
}

/// qwen-code 0.15.10 reports an API error (a 401) as the agent's answer, in a `result`
/// with `is_error: false`, and exits 0: `[API Error: 401 <message>]`.
fn api_error(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    inner.starts_with("API Error").then_some(inner)
}

// The session transcript.

const FORMAT: Format = Format {
    locate,
    record,
    needle: b"usageMetadata",
    beside: None,
    costs: false,
};

/// `${QWEN_RUNTIME_DIR:-<home>}/projects/<cwd, as claude names it>/chats/<id>.jsonl`.
fn locate(id: &str, cwd: &Path, env: &Env<'_>) -> Option<PathBuf> {
    let base = match home::variable(env, "QWEN_RUNTIME_DIR").ok()? {
        Some(dir) => dir,
        None => Qwen.home(env)?.ok()?.dir,
    };
    let root = base.join("projects");
    let file = format!("{id}.jsonl");
    let named = |dir: &Path| Some(dir.join("chats").join(&file));
    in_project(&root, cwd, sanitize, &named)
}

/// `{uuid, type: assistant, usageMetadata: {promptTokenCount, candidatesTokenCount,
/// thoughtsTokenCount, cachedContentTokenCount}}`: not the shape of the stream's
/// (claude's) `message.usage`. With an OpenAI-compatible provider the candidates are
/// the completion tokens, reasoning included (the `thoughtsTokenCount` part).
fn record(v: &Value) -> Option<Record> {
    if v.get("type")?.as_str()? != "assistant" {
        return None;
    }
    let u = v.get("usageMetadata").filter(|u| u.is_object())?;
    let count = |k: &str| u64_at(u, &[k]);
    let usage = Usage {
        input_tokens: count("promptTokenCount"),
        cached_input_tokens: count("cachedContentTokenCount"),
        output_tokens: count("candidatesTokenCount"),
        reasoning_tokens: count("thoughtsTokenCount"),
        cost_usd: None,
    };
    Some(Record::Add {
        key: key(v, "uuid"),
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::super::stream::{Usage, UsageScope};
    use crate::interface::Interface;

    const QWEN: &str = include_str!("fixtures/qwen-headless.jsonl");
    const QWEN_RESUME: &str = include_str!("fixtures/qwen-resume.jsonl");
    const QWEN_ERROR: &str = include_str!("fixtures/qwen-error.jsonl");

    /// A 401 (0.15.10): the error text as the assistant's answer, `is_error: false`.
    #[test]
    fn a_real_qwen_api_error() {
        let (stream, transcript) = run(Interface::Qwen, QWEN_ERROR);
        assert_no_json(&transcript);
        let message = "API Error: 401 e2e model server: credentials rejected";
        assert_eq!(stream.error(), Some(message));
        assert_eq!(stream.final_message(), None);
        assert_eq!(
            transcript.matches(&format!("error: {message}\n")).count(),
            1
        );
        // claude's text of the same shape is the agent's answer.
        let line =
            r#"{"type":"result","subtype":"success","is_error":false,"result":"[API Error: x]"}"#;
        let (stream, _) = run(Interface::Claude, line);
        assert_eq!(stream.error(), None);
        assert_eq!(stream.final_message(), Some("[API Error: x]"));
    }

    #[test]
    fn a_real_qwen_run() {
        let (stream, transcript) = run(Interface::Qwen, QWEN);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("1af93d76-bfcf-4f8e-ac0b-e5cbe582e935")
        );
        assert_eq!(
            stream.final_message(),
            Some("The script ran; the summary is published.")
        );
        assert_eq!(stream.error(), None);
        let lines: Vec<&str> = transcript.lines().collect();
        assert_eq!(
            lines[0],
            "session 1af93d76-bfcf-4f8e-ac0b-e5cbe582e935 (model e2e-model)"
        );
        assert!(
            lines[1].starts_with("$ printf '%s\\n' 'probe summary 1' >'/tmp/probe/runs/qwen-h/"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("    Command: printf"), "{}", lines[2]);
        assert_eq!(lines[9], "The script ran; the summary is published.");
        assert_eq!(lines[10], "turns 2, tokens 20 in, 10 out");
    }

    /// qwen 0.15.10: each assistant message carries its request's usage (10/5); the
    /// `result` carries the session's running total, 20/10 for a first run but 40/20
    /// for its resumed run of the same two requests. The messages are summed.
    #[test]
    fn qwen_usage_sums_the_messages_not_the_session_total() {
        let expected = Usage {
            input_tokens: Some(20),
            cached_input_tokens: Some(0),
            output_tokens: Some(10),
            reasoning_tokens: None,
            cost_usd: None,
        };
        let (stream, _) = run(Interface::Qwen, QWEN);
        assert_eq!(stream.usage(), &expected);
        let (stream, transcript) = run(Interface::Qwen, QWEN_RESUME);
        assert_eq!(stream.usage(), &expected);
        assert_eq!(stream.usage_scope(), UsageScope::Run);
        assert!(transcript.contains("'probe summary 2'"));
        // An id seen again replaces that message's usage instead of adding to it.
        let repeated = r#"{"type":"assistant","message":{"id":"m1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}
{"type":"assistant","message":{"id":"m1","content":[],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":4}}}
{"type":"assistant","message":{"id":"m2","content":[],"usage":{"input_tokens":12,"output_tokens":5}}}"#;
        let (stream, _) = run(Interface::Qwen, repeated);
        assert_eq!(stream.usage().input_tokens, Some(22));
        assert_eq!(stream.usage().cached_input_tokens, Some(4));
        assert_eq!(stream.usage().output_tokens, Some(10));
    }
}
