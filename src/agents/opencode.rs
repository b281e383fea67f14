//! opencode.
//!
//! Arguments: `run` headless, `--format json` for its events, a plain positional
//! prompt headless and `--prompt PROMPT` in the TUI, `--session ID` to resume (in a
//! pane `run -i --session ID PROMPT`: the TUI opened with `--session` never submits the
//! prompt). Its sessions are in a `SQLite` database, not read. It asks before a tool
//! touches a path outside its working directory: `protocol_env` allows the run's.

use std::path::Path;

use super::home::{self, Env, Home, HomeError, Source};
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::interface::{Interface, Mode};

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

    fn builtin(&self) -> Option<&'static Builtin> {
        Some(&BUILTIN)
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
}
