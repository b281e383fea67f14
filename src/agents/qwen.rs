//! qwen (qwen-code).
//!
//! Arguments: no words for headless, `-o`/`--output-format stream-json` for its
//! events (claude's stream, read by `claude.rs` with qwen's usage rule), a plain
//! positional prompt headless and `-i PROMPT` in the TUI (no `--`), `--session-id ID`
//! for a new session (the id is ours), `--resume ID`.

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::claude::sanitize;
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
        Some(Box::new(super::claude::Parser::qwen()))
    }

    fn transcript(&self) -> Option<&'static Format> {
        Some(&FORMAT)
    }
}

// The session transcript.

const FORMAT: Format = Format {
    locate,
    record,
    needle: b"usageMetadata",
    beside: None,
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
