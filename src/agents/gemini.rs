//! gemini (gemini-cli).
//!
//! Arguments: no words for headless, `-o`/`--output-format stream-json` for its
//! events, `-p PROMPT` headless and `-i PROMPT` in the TUI (no `--`), `--session-id ID`
//! for a new session (the id is ours), `--resume ID`. In a folder it does not trust,
//! gemini silently downgrades `--yolo`: the built-in profile sets
//! `GEMINI_CLI_TRUST_WORKSPACE`.

use super::home::{self, Env, Home, HomeError};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};

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

    fn builtin(&self) -> Option<&'static Builtin> {
        Some(&BUILTIN)
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
}
