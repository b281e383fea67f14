//! codex.
//!
//! Arguments: `exec` headless (a subcommand, so it comes first), `--json` for its
//! events, `--no-daemon` in a pane, the prompt after `--` (a resumed pane: `codex
//! resume ID PROMPT`, without `--`), and `resume ID` after the profile's arguments
//! (`resume` is a subcommand of `codex exec` and of the TUI: their flags go before it).
//! codex chooses its session ids: a pane run's is found in its session store.

use super::home::{self, Env, Home, HomeError};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};

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

    fn builtin(&self) -> Option<&'static Builtin> {
        Some(&BUILTIN)
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
}
