//! opencode.
//!
//! Arguments: `run` headless, `--format json` for its events, a plain positional
//! prompt headless and `--prompt PROMPT` in the TUI, `--session ID` to resume (in a
//! pane `run -i --session ID PROMPT`: the TUI opened with `--session` never submits the
//! prompt). Its sessions are in a `SQLite` database, not read. It asks before a tool
//! touches a path outside its working directory: `protocol_env` allows the run's.
//!
//! ## Its structured output: opencode `run --format json`.
//!
//! Events (opencode 1.18.33, fixture `opencode-headless.jsonl`), each `{type,
//! timestamp, sessionID, part}`:
//! - `step_start`: a model call begins; nothing to show.
//! - `text`: `part.text`, a finished text part of the assistant.
//! - `reasoning`: `part.text`, the model's reasoning.
//! - `tool_use`: `part{tool, state{status, input, output, error, title}}`, once the call
//!   finished (`completed` or `error`).
//! - `step_finish`: `part{reason, cost, tokens{input, output, reasoning, cache{read,
//!   write}}}`; `reason` `stop` ends the run, `tool-calls` means another step follows.
//! - `error`: `error{name, data{message}}`.
//!
//! Usage: per step (one model request), in `step_finish`; the steps are summed. A run
//! of two requests of 10 input and 5 output tokens reports two steps of 10/5, and its
//! resumed run again two of 10/5 (1.18.33): nothing is cumulative. opencode subtracts
//! from the provider's numbers (its `getUsage`): `tokens.input` leaves out `cache.read`
//! and `cache.write`, and `tokens.output` leaves out `tokens.reasoning`; both are added
//! back here, so that `Usage` means what it means for every CLI. `cost` is in dollars
//! (0 with a model that has no price).

use std::path::Path;

use super::home::{self, Env, Home, HomeError, Source};
use super::stream::Parse;
use super::stream::{Known, Out, State, Usage, content_text, cost_at, str_at, sum, u64_at};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};
use serde_json::Value;

pub struct Opencode;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Opencode,
    profile: "opencode",
    executables: &["opencode"],
    // Permissions are opencode config (`permission`), not flags; `run` allows the
    // shell by default.
    args: &[],
    env: &[],
};

impl Cli for Opencode {
    fn interface(&self) -> Interface {
        Interface::Opencode
    }

    fn mode_args(&self, mode: Mode) -> &'static [&'static str] {
        match mode {
            Mode::Tmux => &[],
            Mode::Headless => &["run"],
        }
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--format", "json"])
    }

    fn prompt_argument(&self, mode: Mode) -> PromptArgument {
        match mode {
            // The TUI takes its first prompt through `--prompt` and submits it.
            Mode::Tmux => prompt(&["--prompt"], true),
            // `opencode run` takes a plain positional prompt.
            Mode::Headless => prompt(&[], true),
        }
    }

    /// `opencode run -i --session ID PROMPT` (see `resume_args`) takes the prompt as
    /// `run` does.
    fn prompt_argument_resuming(&self, _mode: Mode) -> PromptArgument {
        self.prompt_argument(Mode::Headless)
    }

    fn resume_args(&self, mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(match mode {
            // The TUI opened with `--session ID --prompt P` shows the session but never
            // submits P (measured, opencode 1.18.33); `run -i` resumes, submits and
            // stays open like the TUI.
            Mode::Tmux => with_id(&["run", "-i", "--session"], id),
            Mode::Headless => with_id(&["--session"], id),
        })
    }

    /// Per-step costs in `step_finish`.
    fn reports_cost(&self) -> bool {
        true
    }

    /// opencode asks before any tool touches a path outside its working directory
    /// (permission `external_directory`), even with shell commands allowed: `opencode
    /// run` rejects the publication of done.md and still exits 0, and the TUI waits at
    /// a dialog (measured with opencode 1.18.33 by the end-to-end suite). Allowing
    /// exactly this run's directory lets it publish and nothing more.
    fn protocol_env(&self, run_dir: &Path) -> Vec<(&'static str, String)> {
        let pattern = format!("{}/**", run_dir.display());
        let permission = serde_json::json!({ "external_directory": { pattern: "allow" } });
        vec![("OPENCODE_PERMISSION", permission.to_string())]
    }

    /// Its configuration directory: `$OPENCODE_CONFIG_DIR`, else
    /// `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`. A relative
    /// `$XDG_CONFIG_HOME` is invalid and ignored (the XDG rule, not `home.rs`'s).
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        const VAR: &str = "OPENCODE_CONFIG_DIR";
        Some(match home::variable(env, VAR) {
            Ok(Some(dir)) => Ok(Home {
                dir,
                source: Source::Variable(VAR),
            }),
            Err(e) => Err(e),
            Ok(None) => match env("XDG_CONFIG_HOME").map(std::path::PathBuf::from) {
                Some(x) if x.is_absolute() => Ok(Home {
                    dir: x.join("opencode"),
                    source: Source::Default,
                }),
                _ => home::under_home(env, ".config/opencode", Some(VAR)),
            },
        })
    }

    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(Parser::default()))
    }
}

// The structured output.

#[derive(Default)]
pub(super) struct Parser {
    session_shown: bool,
}

impl Parser {
    fn on_event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        if let Some(id) = str_at(v, &["sessionID"]) {
            st.set_session_id(id);
        }
        if !self.session_shown && st.session_id.is_some() {
            self.session_shown = true;
            st.session_line(out);
        }
        let part = v.get("part").unwrap_or(&Value::Null);
        match kind {
            "step_start" => {}
            "text" => {
                let text = str_at(part, &["text"]).unwrap_or("");
                out.text(text);
                st.set_final(text);
            }
            "reasoning" => out.thinking(str_at(part, &["text"]).unwrap_or("")),
            "tool_use" => tool_use(part, out),
            "step_finish" => {
                if let Some(tokens) = part.get("tokens") {
                    st.add_usage(&usage(tokens, cost_at(part, &["cost"])));
                } else if let Some(cost) = cost_at(part, &["cost"]) {
                    st.add_usage(&Usage {
                        cost_usd: Some(cost),
                        ..Usage::default()
                    });
                }
                st.add_turn();
                if str_at(part, &["reason"]) != Some("tool-calls") {
                    st.summary(out);
                }
            }
            "error" => {
                let error = v.get("error").unwrap_or(&Value::Null);
                let message = str_at(error, &["data", "message"])
                    .or_else(|| str_at(error, &["message"]))
                    .or_else(|| error.as_str())
                    .or_else(|| str_at(error, &["name"]))
                    .unwrap_or("error");
                st.report_error(message, out);
            }
            _ => return Known::No(kind.to_owned()),
        }
        Known::Yes
    }
}

fn tool_use(part: &Value, out: &mut Out) {
    let tool = str_at(part, &["tool"]).unwrap_or("tool");
    let state = part.get("state").unwrap_or(&Value::Null);
    let input = state.get("input");
    match input.and_then(|i| str_at(i, &["command"])) {
        Some(command) if tool == "bash" => out.command(command),
        _ => out.tool(tool, input),
    }
    match str_at(state, &["status"]) {
        Some("error") => out.error(str_at(state, &["error"]).unwrap_or("failed"), true),
        _ => out.result(&state.get("output").map(content_text).unwrap_or_default()),
    }
}

fn usage(tokens: &Value, cost: Option<f64>) -> Usage {
    let input = u64_at(tokens, &["input"]);
    let read = u64_at(tokens, &["cache", "read"]);
    let write = u64_at(tokens, &["cache", "write"]);
    let total_input = sum(&[input, read, write]);
    Usage {
        input_tokens: total_input,
        cached_input_tokens: read,
        output_tokens: sum(&[u64_at(tokens, &["output"]), u64_at(tokens, &["reasoning"])]),
        reasoning_tokens: u64_at(tokens, &["reasoning"]),
        cost_usd: cost,
    }
}

impl Parse for Parser {
    fn event(&mut self, st: &mut State, kind: &str, v: &Value, out: &mut Out) -> Known {
        self.on_event(st, kind, v, out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::super::stream::{Usage, UsageScope};
    use crate::interface::Interface;

    const HEADLESS: &str = include_str!("fixtures/opencode-headless.jsonl");
    const RESUME: &str = include_str!("fixtures/opencode-resume.jsonl");
    const ERROR: &str = include_str!("fixtures/opencode-error.jsonl");

    #[test]
    fn a_real_run() {
        let (stream, transcript) = run(Interface::Opencode, HEADLESS);
        assert_no_json(&transcript);
        assert_eq!(stream.session_id(), Some("ses_dd1b7b728ffe1y09rcNdGSpgaf"));
        assert_eq!(
            stream.final_message(),
            Some("The script ran; the summary is published.")
        );
        assert_eq!(stream.error(), None);
        let lines: Vec<&str> = transcript.lines().collect();
        assert_eq!(lines[0], "session ses_dd1b7b728ffe1y09rcNdGSpgaf");
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

    /// Two steps of 10 in / 5 out: summed to 20 / 10; the last step alone (10 / 5)
    /// would undercount.
    #[test]
    fn usage_sums_the_steps() {
        let (stream, _) = run(Interface::Opencode, HEADLESS);
        assert_eq!(stream.usage_scope(), UsageScope::Run);
        assert_eq!(
            stream.usage(),
            &Usage {
                input_tokens: Some(20),
                cached_input_tokens: Some(0),
                output_tokens: Some(10),
                reasoning_tokens: Some(0),
                cost_usd: Some(0.0),
            }
        );
        // The resumed run reports its own steps only.
        let (stream, _) = run(Interface::Opencode, RESUME);
        assert_eq!(stream.usage().input_tokens, Some(20));
        assert_eq!(stream.session_id(), Some("ses_dd1b7b728ffe1y09rcNdGSpgaf"));
    }

    #[test]
    fn cache_and_reasoning_are_added_back() {
        let steps = r#"{"type":"step_finish","sessionID":"ses_1","part":{"reason":"tool-calls","tokens":{"input":5,"output":3,"reasoning":2,"cache":{"read":100,"write":10}},"cost":0.25}}
{"type":"step_finish","sessionID":"ses_1","part":{"reason":"stop","tokens":{"input":1,"output":1,"reasoning":0,"cache":{"read":115,"write":0}},"cost":0.5}}"#;
        let (stream, transcript) = run(Interface::Opencode, steps);
        assert_eq!(
            stream.usage(),
            &Usage {
                input_tokens: Some(231),
                cached_input_tokens: Some(215),
                output_tokens: Some(6),
                reasoning_tokens: Some(2),
                cost_usd: Some(0.75),
            }
        );
        // The summary once, after the last step.
        assert_eq!(
            transcript,
            "session ses_1\nturns 2, tokens 231 in (215 cached), 6 out (2 reasoning), cost $0.75\n"
        );
    }

    #[test]
    fn a_real_api_error() {
        let (stream, transcript) = run(Interface::Opencode, ERROR);
        assert_no_json(&transcript);
        assert_eq!(
            stream.error(),
            Some("e2e model server: credentials rejected")
        );
        assert_eq!(stream.final_message(), None);
        assert_eq!(
            transcript,
            "session ses_dd1b709daffeRMWwIhqYV1vT8Q\nerror: e2e model server: credentials rejected\n"
        );
    }

    #[test]
    fn a_failed_tool_call() {
        let line = r#"{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"read","state":{"status":"error","input":{"filePath":"/nope"},"error":"File not found: /nope"}}}"#;
        let (_, transcript) = run(Interface::Opencode, line);
        assert_eq!(
            transcript,
            "session ses_1\n→ read /nope\n    error: File not found: /nope\n"
        );
    }
}
