//! gemini (gemini-cli).
//!
//! Arguments: no words for headless, `-o`/`--output-format stream-json` for its
//! events, `-p PROMPT` headless and `-i PROMPT` in the TUI (no `--`), `--session-id ID`
//! for a new session (the id is ours), `--resume ID`. In a folder it does not trust,
//! gemini silently downgrades `--yolo`: the built-in profile sets
//! `GEMINI_CLI_TRUST_WORKSPACE`.
//!
//! ## Its structured output: gemini `-o stream-json`.
//!
//! Events (gemini-cli 0.61.0, fixture `gemini-headless.jsonl`):
//! - `init{session_id, model}`.
//! - `message{role, content, delta?}`: the assistant's text arrives in pieces
//!   (`delta: true`); the pieces are joined, shown line by line as each line ends, and
//!   the joined text since the last tool call is the final message. The user's prompt
//!   is echoed as a `user` message: not shown.
//! - `tool_use{tool_name, tool_id, parameters}`, `tool_result{tool_id, status, output,
//!   error?{type, message}}`.
//! - `error{severity, message}`: a `warning` is shown, only an error is recorded.
//! - `result{status, error?, stats{total_tokens, input_tokens, output_tokens, cached,
//!   duration_ms, tool_calls, models}}`.
//!
//! Usage: `result.stats` is this run's total over its model requests (summed over
//! `stats.models`), taken as is: a run reports 30 in / 15 out (three requests of 10/5,
//! one of them the `auto` model router's), and its resumed run again 30/15, not 60.
//! `input_tokens` includes `cached` (`input` is the part not cached). No cost, no
//! reasoning count.
//!
//! Measured with 0.61.0: the assistant's text came as a single `delta` message; a 401
//! is no `error` event but a `result{status: error, error{type, message}}` whose
//! message wraps the API's JSON body (made readable by `readable_error`); gemini then
//! exits 145. Warnings go to stderr, not into the stream.

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::stream::{Known, Out, State, Usage, content_text, str_at, u64_at};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use std::path::{Path, PathBuf};

use super::stream::sum;
use super::transcript::{Format, Record, find_all, first_line, in_project, key, read_json};
use crate::interface::{Interface, Mode};
use serde_json::Value;

pub struct Gemini;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Gemini,
    profile: "gemini",
    executables: &["gemini"],
    args: &["--yolo"],
    // In a folder it does not trust, gemini silently downgrades --yolo.
    env: &[("GEMINI_CLI_TRUST_WORKSPACE", "true")],
};

impl Cli for Gemini {
    fn interface(&self) -> Interface {
        Interface::Gemini
    }

    fn mode_args(&self, _mode: Mode) -> &'static [&'static str] {
        &[]
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--output-format", "stream-json"])
    }

    /// `-p PROMPT` is the non-interactive form, `-i PROMPT` the TUI.
    fn prompt_argument(&self, mode: Mode) -> PromptArgument {
        match mode {
            Mode::Headless => prompt(&["-p"], true),
            Mode::Tmux => prompt(&["-i"], true),
        }
    }

    /// Honoured headless and in the TUI (measured: gemini 0.61.0).
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

    /// `$GEMINI_CLI_HOME/.gemini`, else `~/.gemini`: the variable replaces the home
    /// directory, below which gemini keeps `.gemini`.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "GEMINI_CLI_HOME", "").map(|h| Home {
            dir: h.dir.join(".gemini"),
            ..h
        }))
    }

    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(Parser::default()))
    }

    fn transcript(&self) -> Option<&'static Format> {
        Some(&FORMAT)
    }
}

// The structured output.

#[derive(Default)]
pub(super) struct Parser {
    /// The assistant's text since the last non-message event: the final message so far.
    current: String,
    /// How much of `current` the transcript has shown (complete lines only).
    shown: usize,
}

impl Parser {
    fn on_event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        if kind != "message" {
            self.flush(out);
        }
        match kind {
            "init" => {
                if let Some(id) = str_at(v, &["session_id"]) {
                    st.set_session_id(id);
                }
                if let Some(model) = str_at(v, &["model"]) {
                    st.set_model(model);
                }
                st.session_line(out);
            }
            "message" => self.message(st, v, out),
            "tool_use" => {
                let name = str_at(v, &["tool_name"]).unwrap_or("tool");
                let params = v.get("parameters");
                match params.and_then(|p| str_at(p, &["command"])) {
                    Some(command) if name == "run_shell_command" => out.command(command),
                    _ => out.tool(name, params),
                }
            }
            "tool_result" => {
                let failed = str_at(v, &["status"]).is_some_and(|s| s != "success");
                if failed {
                    let message = str_at(v, &["error", "message"])
                        .or_else(|| str_at(v, &["output"]))
                        .unwrap_or("failed");
                    out.error(message, true);
                } else {
                    out.result(&v.get("output").map(content_text).unwrap_or_default());
                }
            }
            "error" => {
                let message = str_at(v, &["message"]).unwrap_or("error");
                if str_at(v, &["severity"]) == Some("warning") {
                    out.line(&format!(
                        "warning: {}",
                        super::stream::shorten(message, 400)
                    ));
                } else {
                    st.report_error(message, out);
                }
            }
            "result" => {
                if str_at(v, &["status"]).is_some_and(|s| s != "success") {
                    let message = str_at(v, &["error", "message"]).unwrap_or("the run failed");
                    st.report_error(message, out);
                } else {
                    st.error = None;
                }
                if let Some(stats) = v.get("stats") {
                    st.set_usage(Usage {
                        input_tokens: u64_at(stats, &["input_tokens"]),
                        cached_input_tokens: u64_at(stats, &["cached"]),
                        output_tokens: u64_at(stats, &["output_tokens"]),
                        reasoning_tokens: None,
                        cost_usd: None,
                    });
                }
                st.summary(out);
            }
            _ => return Known::No(kind.to_owned()),
        }
        Known::Yes
    }

    fn message(&mut self, st: &mut State, v: &Value, out: &mut Out) {
        if str_at(v, &["role"]) != Some("assistant") {
            return;
        }
        let text = v.get("content").map(content_text).unwrap_or_default();
        if v.get("delta").and_then(Value::as_bool) != Some(true) {
            // A whole message: it stands alone.
            self.flush(out);
        }
        if self.current.len() < super::stream::FINAL_MESSAGE_MAX {
            self.current.push_str(&text);
        }
        st.set_final(&self.current);
        // Show the lines completed so far.
        if let Some(end) = self.current.rfind('\n')
            && end >= self.shown
        {
            out.text(&self.current[self.shown..end]);
            self.shown = end + 1;
        }
    }

    /// Shows what is left of the assistant's text and starts a new message.
    pub(super) fn flush(&mut self, out: &mut Out) {
        if let Some(rest) = self.current.get(self.shown..) {
            out.text(rest);
        }
        self.current.clear();
        self.shown = 0;
    }
}

impl Parse for Parser {
    fn event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        self.on_event(st, kind, v, out)
    }

    fn flush(&mut self, out: &mut Out) {
        Parser::flush(self, out);
    }
}

// The session transcript.

const FORMAT: Format = Format {
    locate,
    record,
    needle: b"\"tokens\"",
    beside: None,
    costs: false,
};

/// `<home>/tmp/<project>/chats/session-<date>T<HH-MM>-<id, 8 chars>.jsonl`, the one
/// whose header names the session.
fn locate(id: &str, cwd: &Path, env: &Env<'_>) -> Option<PathBuf> {
    let gemini = Gemini.home(env)?.ok()?.dir;
    let root = gemini.join("tmp");
    let short: String = id.chars().take(8).collect();
    let suffix = format!("-{short}.jsonl");
    let named = |dir: &Path| {
        find_all(&dir.join("chats"), |n| {
            n.starts_with("session-") && n.ends_with(&suffix)
        })
        .into_iter()
        .find(|p| header_is(p, id))
    };
    let project = |cwd: &str| gemini_project(&gemini, cwd).unwrap_or_default();
    in_project(&root, cwd, project, &named)
}

/// `{id, type: gemini, tokens: {input, output, cached, thoughts, tool}}`, the
/// response's `usageMetadata` (prompt, candidates, cached content, thoughts, tool-use
/// prompt): not the shape of the stream's `result.stats`. Input counts the tool-use
/// prompt; output counts the thoughts, which are also the reasoning.
fn record(v: &Value) -> Option<Record> {
    if v.get("type")?.as_str()? != "gemini" {
        return None;
    }
    let t = v.get("tokens").filter(|t| t.is_object())?;
    let count = |k: &str| u64_at(t, &[k]);
    let thoughts = count("thoughts");
    let usage = Usage {
        input_tokens: sum(&[count("input"), count("tool")]),
        cached_input_tokens: count("cached"),
        output_tokens: sum(&[count("output"), thoughts]),
        reasoning_tokens: thoughts,
        cost_usd: None,
    };
    Some(Record::Add {
        key: key(v, "id"),
        usage,
    })
}

/// gemini's short project name for `cwd`, from `projects.json` (`{"projects": {"<abs
/// cwd>": "<name>"}}`, read bounded).
fn gemini_project(gemini: &Path, cwd: &str) -> Option<String> {
    let v = read_json(&gemini.join("projects.json"), 4 * 1024 * 1024)?;
    let name = v.get("projects")?.get(cwd)?.as_str()?;
    (!name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..")
        .then(|| name.to_owned())
}

/// Whether gemini's chat file begins with the header of session `id` (its name holds
/// only the id's first 8 characters).
fn header_is(path: &Path, id: &str) -> bool {
    first_line(path)
        .and_then(|line| serde_json::from_slice::<Value>(&line).ok())
        .and_then(|v| v.get("sessionId")?.as_str().map(|s| s == id))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::super::stream::{Usage, UsageScope};
    use crate::interface::Interface;

    const HEADLESS: &str = include_str!("fixtures/gemini-headless.jsonl");
    const RESUME: &str = include_str!("fixtures/gemini-resume.jsonl");
    const ERROR: &str = include_str!("fixtures/gemini-error.jsonl");

    #[test]
    fn a_real_run() {
        let (stream, transcript) = run(Interface::Gemini, HEADLESS);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("b77507ab-fb8e-4bb7-b767-39204f834f83")
        );
        assert_eq!(
            stream.final_message(),
            Some("The script ran; the summary is published.")
        );
        assert_eq!(stream.error(), None);
        let lines: Vec<&str> = transcript.lines().collect();
        assert_eq!(
            lines[0],
            "session b77507ab-fb8e-4bb7-b767-39204f834f83 (model auto)"
        );
        assert!(
            lines[1].starts_with("$ printf '%s\\n' 'probe summary 1' >'/tmp/probe/runs/"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "The script ran; the summary is published.");
        assert_eq!(lines[3], "tokens 30 in, 15 out");
        assert_eq!(lines.len(), 4);
    }

    /// `result.stats` is the run's total: taken, not added to anything; the resumed
    /// run reports its own 30, not 60.
    #[test]
    fn usage_is_the_result_total() {
        let expected = Usage {
            input_tokens: Some(30),
            cached_input_tokens: Some(0),
            output_tokens: Some(15),
            reasoning_tokens: None,
            cost_usd: None,
        };
        let (stream, _) = run(Interface::Gemini, HEADLESS);
        assert_eq!(stream.usage(), &expected);
        assert_eq!(stream.usage_scope(), UsageScope::Run);
        let (stream, transcript) = run(Interface::Gemini, RESUME);
        assert_eq!(stream.usage(), &expected);
        assert_eq!(
            stream.session_id(),
            Some("b77507ab-fb8e-4bb7-b767-39204f834f83")
        );
        assert!(transcript.contains("'probe summary 2'"));
        // Two results (never seen, but a running total): the last one wins.
        let twice = format!(
            "{}\n{}",
            HEADLESS.trim_end(),
            HEADLESS.lines().last().unwrap()
        );
        let (stream, _) = run(Interface::Gemini, &twice);
        assert_eq!(stream.usage(), &expected);
    }

    /// A 401: `result{status: error}` with the API's JSON inside its message.
    #[test]
    fn a_real_api_error() {
        let (stream, transcript) = run(Interface::Gemini, ERROR);
        assert_no_json(&transcript);
        let message = "API Error: 401 e2e model server: credentials rejected";
        assert_eq!(stream.error(), Some(message));
        assert_eq!(stream.final_message(), None);
        assert_eq!(
            transcript,
            format!(
                "session 09e23ef5-a45a-4f30-ac7d-6a8166865b02 (model auto)\nerror: {message}\ntokens 0 in, 0 out\n"
            )
        );
    }

    #[test]
    fn streamed_text_is_joined_and_shown_line_by_line() {
        let events = r#"{"type":"init","session_id":"s-1","model":"gemini-2.5-pro"}
{"type":"message","role":"user","content":"do it"}
{"type":"message","role":"assistant","content":"First li","delta":true}
{"type":"message","role":"assistant","content":"ne\nSecond","delta":true}
{"type":"message","role":"assistant","content":" line","delta":true}
{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t1","parameters":{"command":"ls -a"}}
{"type":"tool_result","tool_id":"t1","status":"success","output":"a\nb"}
{"type":"message","role":"assistant","content":"Done.","delta":true}"#;
        let mut stream = super::super::Stream::new(Interface::Gemini).unwrap();
        let mut shown = Vec::new();
        for line in events.lines() {
            shown.push(stream.line(line));
        }
        assert_eq!(shown[0], "session s-1 (model gemini-2.5-pro)\n");
        assert_eq!(shown[1], "");
        assert_eq!(shown[2], "");
        assert_eq!(shown[3], "First line\n", "a line is shown once complete");
        assert_eq!(shown[4], "");
        assert_eq!(shown[5], "Second line\n$ ls -a\n");
        assert_eq!(shown[6], "    a\n    b\n");
        assert_eq!(shown[7], "");
        assert_eq!(stream.final_message(), Some("Done."));
        assert_eq!(stream.finish(), "Done.\n");
    }

    #[test]
    fn a_failing_tool_and_a_warning() {
        let events = r#"{"type":"tool_use","tool_name":"read_file","tool_id":"t1","parameters":{"absolute_path":"/x"}}
{"type":"tool_result","tool_id":"t1","status":"error","output":"","error":{"type":"FILE_NOT_FOUND","message":"File not found: /x"}}
{"type":"error","severity":"warning","message":"Loop detected"}
{"type":"result","status":"error","error":{"type":"FatalTurnLimitedError","message":"Reached max session turns"},"stats":{"total_tokens":30,"input_tokens":20,"output_tokens":10,"cached":5,"input":15,"duration_ms":9,"tool_calls":1}}"#;
        let (stream, transcript) = run(Interface::Gemini, events);
        assert_no_json(&transcript);
        assert_eq!(
            transcript,
            "→ read_file /x\n    error: File not found: /x\nwarning: Loop detected\n\
             error: Reached max session turns\ntokens 20 in (5 cached), 10 out\n"
        );
        assert_eq!(stream.error(), Some("Reached max session turns"));
    }
}
