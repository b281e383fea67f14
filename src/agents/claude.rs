//! claude (Claude Code).
//!
//! Arguments: `-p` headless, `--output-format stream-json --verbose` for its events,
//! the prompt after `--`, `--session-id ID` for a new session (the id is ours) and
//! `--resume ID`. As root it refuses `--dangerously-skip-permissions` unless
//! `IS_SANDBOX=1`; inside another claude it refuses to start (`NESTING_GUARDS`).

use super::home::{self, Env, Home, HomeError};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};

pub struct Claude;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Claude,
    profile: "claude",
    executables: &["claude"],
    // As root claude refuses this flag unless IS_SANDBOX=1 (docs/agent-clis.md).
    args: &["--dangerously-skip-permissions"],
    env: &[],
};

/// Environment variables that make claude refuse to start inside another claude.
pub const NESTING_GUARDS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

impl Cli for Claude {
    fn interface(&self) -> Interface {
        Interface::Claude
    }

    fn builtin(&self) -> Option<&'static Builtin> {
        Some(&BUILTIN)
    }

    fn mode_args(&self, mode: Mode) -> &'static [&'static str] {
        match mode {
            Mode::Tmux => &[],
            Mode::Headless => &["-p"],
        }
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        // stream-json needs --verbose with -p (measured, claude 2.1.197).
        Some(&["--output-format", "stream-json", "--verbose"])
    }

    /// After `--`: a prompt starting with `-` is safe.
    fn prompt_argument(&self, _mode: Mode) -> PromptArgument {
        prompt(&["--"], false)
    }

    /// Honoured headless and in the TUI (measured: claude 2.1.197); an id already in
    /// use is refused, never reused.
    fn new_session_args(&self, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--session-id"], id))
    }

    fn resume_args(&self, _mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--resume"], id))
    }

    /// `total_cost_usd` in the closing `result`.
    fn reports_cost(&self) -> bool {
        true
    }

    fn launch_problem(
        &self,
        args: &[String],
        var_set: &dyn Fn(&str) -> bool,
        is_root: bool,
    ) -> Option<String> {
        (is_root
            && args.iter().any(|a| a == "--dangerously-skip-permissions")
            && !var_set("IS_SANDBOX"))
        .then(|| {
            "claude refuses --dangerously-skip-permissions when run as root; set \
             IS_SANDBOX: \"1\" in the profile's env (in a sandbox), or run as another user"
                .to_owned()
        })
    }

    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "CLAUDE_CONFIG_DIR", ".claude"))
    }
}
