//! pi (pi-coding-agent).
//!
//! Arguments: `-p` headless, `--mode json` for its events, a plain positional prompt
//! (pi rejects `--`: "Unknown option: --"), `--session ID` to resume. pi chooses its
//! session ids: a pane run's is found in its session store. pi does not ask for
//! permission.

use super::home::{self, Env, Home, HomeError};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};

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
}
