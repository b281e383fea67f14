//! qwen (qwen-code).
//!
//! Arguments: no words for headless, `-o`/`--output-format stream-json` for its
//! events (claude's stream, read by `claude.rs` with qwen's usage rule), a plain
//! positional prompt headless and `-i PROMPT` in the TUI (no `--`), `--session-id ID`
//! for a new session (the id is ours), `--resume ID`.

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
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
}
