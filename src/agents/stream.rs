//! Reading an agent CLI's structured output (JSON lines on stdout, headless mode) into
//! what agent-offload needs from a run: a readable transcript for `output.log` (a person
//! never sees raw JSON there, except for an event type this code does not know, which is
//! announced once and then shown raw), the session id, the agent's last message, the
//! error the CLI reported, and token usage and cost.
//!
//! The input is untrusted: any line, of any size, may arrive. Nothing here panics on it,
//! and what is kept is capped (`FINAL_MESSAGE_MAX`, `ERROR_MAX`; a session id is kept
//! only if it looks like one, see `valid_session_id`).
//!
//! Each CLI's file (`claude.rs`, `codex.rs`, ...) reads its own events through
//! [`Parse`] and documents them and how their usage adds up, the rule that differs most
//! between CLIs (the table is in `agents/mod.rs`). This file is what they share: the
//! bounded state, the rules for keeping what is read, and the readable transcript
//! (`render.rs`).

use serde_json::Value;

use crate::interface::Interface;

mod render;

pub use render::{Out, cap, short_args, shorten};
use render::{dollars, one_line, printable, readable_error};

/// At most this many bytes of the agent's last message are kept.
pub const FINAL_MESSAGE_MAX: usize = 64 * 1024;
/// At most this many bytes of an error message are kept.
pub const ERROR_MAX: usize = 4 * 1024;
/// A line of text shown in the transcript is cut after this many bytes.
const LINE_MAX: usize = 64 * 1024;
/// A tool's output is shown as at most this many lines.
const RESULT_LINES: usize = 10;
/// Each line of a tool's output is cut after this many characters.
const RESULT_LINE_CHARS: usize = 200;
/// A tool call's command or arguments are cut after this many characters.
const ARGS_CHARS: usize = 160;
/// After this many distinct unknown event types, no more notices (the events still
/// show raw): a hostile stream must not grow the set without bound.
const UNKNOWN_TYPES_MAX: usize = 32;

pub use crate::usage::Usage;

/// The sum of the numbers present; None if none is.
pub fn sum(values: &[Option<u64>]) -> Option<u64> {
    values.iter().flatten().fold(None, |total: Option<u64>, v| {
        Some(total.unwrap_or(0).saturating_add(*v))
    })
}

pub use crate::usage::UsageScope;

/// The parser of one run's stdout.
pub struct Stream {
    parser: Box<dyn Parse>,
    scope: UsageScope,
    state: State,
}

/// One CLI's reading of its events (in the CLI's file, returned by `Cli::stream`).
pub trait Parse: Send {
    /// One JSON event of type `kind`; `Known::No` for a type it does not know.
    fn event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known;

    /// Shows text held back (a streamed message without its closing newline).
    fn flush(&mut self, _out: &mut Out) {}
}

impl Stream {
    /// None for an interface without structured output (Generic).
    pub fn new(interface: Interface) -> Option<Stream> {
        let cli = super::cli(interface);
        Some(Stream {
            parser: cli.stream()?,
            scope: cli.stream_usage_scope(),
            state: State::new(cli.interface().name()),
        })
    }

    /// One line of the CLI's stdout (without its newline; may be any bytes decoded
    /// lossily, may be huge or not JSON). Returns readable text to append to the
    /// transcript (possibly empty), each line ending in '\n'.
    pub fn line(&mut self, line: &str) -> String {
        let mut out = Out::default();
        let line = line.strip_suffix('\r').unwrap_or(line);
        let event = if line.trim_start().starts_with('{') {
            serde_json::from_str::<Value>(line).ok()
        } else {
            None
        };
        match event {
            // Not JSON (a warning the CLI printed, or a line cut short): verbatim.
            None => {
                self.flush(&mut out);
                out.raw(line);
            }
            Some(event) => {
                let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
                let known = self.parser.event(&mut self.state, kind, &event, &mut out);
                if let Known::No(kind) = known {
                    self.flush(&mut out);
                    self.state.unknown(&kind, line, &mut out);
                }
            }
        }
        out.0
    }

    /// The end of the stream: text still held back (a streamed message without its
    /// closing newline) and the usage line, if the stream's own end did not show it.
    pub fn finish(&mut self) -> String {
        let mut out = Out::default();
        self.flush(&mut out);
        self.state.summary(&mut out);
        out.0
    }

    fn flush(&mut self, out: &mut Out) {
        self.parser.flush(out);
    }

    pub fn session_id(&self) -> Option<&str> {
        self.state.session_id.as_deref()
    }

    /// The agent's last assistant text.
    pub fn final_message(&self) -> Option<&str> {
        self.state.final_message.as_deref()
    }

    /// An error the CLI reported (API error, turn failed), short.
    pub fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    pub fn usage(&self) -> &Usage {
        &self.state.usage
    }

    /// What `usage` covers: this run alone, or the whole session including the runs it
    /// resumed (codex).
    pub fn usage_scope(&self) -> UsageScope {
        self.scope
    }

    /// The number of turns (model round trips or prompts, as the CLI counts them), where
    /// the stream says.
    pub fn turns(&self) -> Option<u64> {
        self.state.turns
    }

    /// The model the CLI said it uses, where it says.
    pub fn model(&self) -> Option<&str> {
        self.state.model.as_deref()
    }
}

/// Whether a parser knew an event's type; `No` carries the name to report.
pub enum Known {
    Yes,
    No(String),
}

/// What every parser records, with the rules for keeping it.
pub struct State {
    pub(super) cli: &'static str,
    pub(super) session_id: Option<String>,
    pub(super) model: Option<String>,
    pub(super) final_message: Option<String>,
    pub(super) error: Option<String>,
    pub(super) usage: Usage,
    pub(super) turns: Option<u64>,
    /// The usage changed since the last summary line.
    pub(super) summary_due: bool,
    pub(super) unknown_types: Vec<String>,
}

impl State {
    pub(super) fn new(cli: &'static str) -> State {
        State {
            cli,
            session_id: None,
            model: None,
            final_message: None,
            error: None,
            usage: Usage::default(),
            turns: None,
            summary_due: false,
            unknown_types: Vec::new(),
        }
    }

    /// Keeps the first valid session id; an invalid one is ignored.
    pub(super) fn set_session_id(&mut self, id: &str) -> bool {
        if self.session_id.is_none() && valid_session_id(id) {
            self.session_id = Some(id.to_owned());
            return true;
        }
        false
    }

    pub(super) fn set_model(&mut self, model: &str) {
        if !model.is_empty() {
            self.model = Some(cap(&one_line(model), 200));
        }
    }

    pub(super) fn set_final(&mut self, text: &str) {
        if !text.trim().is_empty() {
            self.final_message = Some(cap(text, FINAL_MESSAGE_MAX));
        }
    }

    pub(super) fn set_error(&mut self, text: &str) {
        let text = readable_error(text);
        let text = text.trim();
        if !text.is_empty() {
            self.error = Some(cap(text, ERROR_MAX));
        }
    }

    /// Shows `error: …` (unless it repeats the error just shown: codex 0.169.0 sends the
    /// same message as `error` and then `turn.failed`) and records it.
    pub(super) fn report_error(&mut self, message: &str, out: &mut Out) {
        let message = readable_error(message);
        if self.error.as_deref() != Some(cap(message.trim(), ERROR_MAX).as_str()) {
            out.error(&message, false);
        }
        self.set_error(&message);
    }

    /// Replaces the usage with a running total the CLI reported.
    pub(super) fn set_usage(&mut self, usage: Usage) {
        self.usage = usage;
        self.summary_due = true;
    }

    /// Adds one message's, step's or turn's usage.
    pub(super) fn add_usage(&mut self, usage: &Usage) {
        self.usage.add(usage);
        self.summary_due = true;
    }

    pub(super) fn add_turn(&mut self) {
        self.turns = Some(self.turns.unwrap_or(0).saturating_add(1));
        self.summary_due = true;
    }

    pub(super) fn set_turns(&mut self, turns: u64) {
        self.turns = Some(turns);
        self.summary_due = true;
    }

    /// `session <id> (model <m>)`, once the id is known.
    pub(super) fn session_line(&self, out: &mut Out) {
        let Some(id) = &self.session_id else { return };
        match &self.model {
            Some(model) => out.line(&format!("session {id} (model {model})")),
            None => out.line(&format!("session {id}")),
        }
    }

    /// The last line of a run, with what is known: `turns 3, tokens 1200 in (1000
    /// cached), 50 out (20 reasoning), cost $0.0123`. Written once per change.
    pub(super) fn summary(&mut self, out: &mut Out) {
        if !self.summary_due {
            return;
        }
        self.summary_due = false;
        let u = &self.usage;
        let mut parts = Vec::new();
        if let Some(turns) = self.turns {
            parts.push(format!("turns {turns}"));
        }
        let mut tokens = Vec::new();
        if let Some(input) = u.input_tokens {
            let cached = u
                .cached_input_tokens
                .filter(|&c| c > 0)
                .map(|c| format!(" ({c} cached)"));
            tokens.push(format!("{input} in{}", cached.unwrap_or_default()));
        }
        if let Some(output) = u.output_tokens {
            let reasoning = u
                .reasoning_tokens
                .filter(|&r| r > 0)
                .map(|r| format!(" ({r} reasoning)"));
            tokens.push(format!("{output} out{}", reasoning.unwrap_or_default()));
        }
        if !tokens.is_empty() {
            parts.push(format!("tokens {}", tokens.join(", ")));
        }
        if let Some(cost) = u.cost_usd {
            parts.push(format!("cost ${}", dollars(cost)));
        }
        if !parts.is_empty() {
            out.line(&parts.join(", "));
        }
    }

    /// An event of a type this code does not know: not an error. The first of each type
    /// is announced, and every one is shown raw.
    pub(super) fn unknown(&mut self, kind: &str, line: &str, out: &mut Out) {
        let kind = cap(&printable(kind), 64);
        if !self.unknown_types.contains(&kind) && self.unknown_types.len() < UNKNOWN_TYPES_MAX {
            out.line(&format!(
                "agent-offload: unrecognised {} event \"{kind}\"; showing such events raw",
                self.cli
            ));
            self.unknown_types.push(kind);
        }
        out.raw(line);
    }
}

pub use crate::session_id::valid as valid_session_id;

/// The value at `path` (object keys) under `v`.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// A token count: a non-negative integer (a whole float is accepted too).
pub fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    let value = at(v, path)?;
    value.as_u64().or_else(|| {
        let f = value.as_f64()?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1e19).then_some(f as u64)
    })
}

/// A cost in dollars: a finite, non-negative number.
pub fn cost_at(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path)
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite() && *f >= 0.0)
}

/// The text of a content value: a string, or a list of `{type: text, text}` blocks (or
/// strings), joined by newlines.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut text = String::new();
            for item in items {
                let part = match item {
                    Value::String(s) => Some(s.as_str()),
                    _ => item.get("text").and_then(Value::as_str),
                };
                if let Some(part) = part {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&cap(part, FINAL_MESSAGE_MAX));
                }
                if text.len() > FINAL_MESSAGE_MAX {
                    break;
                }
            }
            text
        }
        _ => String::new(),
    }
}

#[cfg(test)]
pub mod tests;
