//! What each agent CLI needs from us: its non-interactive form, how a first prompt is
//! passed, and its quirks. All knowledge of a particular agent CLI lives here, so that
//! adding one is a change to this file (see `../shared/AGENT-CLIS.md` for the facts).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    #[default]
    Generic,
    Claude,
    Codex,
    Cursor,
    Opencode,
    Pi,
    Gemini,
    Qwen,
}

/// How the agent is started: in a pane with its interactive TUI, or without a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Tmux,
    Headless,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tmux => "tmux",
            Mode::Headless => "headless",
        }
    }
}

/// How a prompt given as an argument is written on the command line.
#[derive(Debug, PartialEq, Eq)]
pub struct PromptArgument {
    /// Words placed right before the prompt (`--`, `-i`, `--prompt`, ...).
    pub prefix: &'static [&'static str],
    /// The CLI would read a prompt that begins with `-` as an option (it has no `--`):
    /// such a prompt is delivered with a leading newline.
    pub guard_leading_dash: bool,
}

impl Interface {
    #[cfg(test)]
    pub const ALL: [Interface; 8] = [
        Interface::Generic,
        Interface::Claude,
        Interface::Codex,
        Interface::Cursor,
        Interface::Opencode,
        Interface::Pi,
        Interface::Gemini,
        Interface::Qwen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Interface::Generic => "generic",
            Interface::Claude => "claude",
            Interface::Codex => "codex",
            Interface::Cursor => "cursor",
            Interface::Opencode => "opencode",
            Interface::Pi => "pi",
            Interface::Gemini => "gemini",
            Interface::Qwen => "qwen",
        }
    }

    /// Words the mode needs, placed before the profile's own arguments: the CLI's
    /// non-interactive form when headless (`codex exec` is a subcommand and must come
    /// first), and what its TUI needs in a pane.
    pub fn mode_args(self, mode: Mode) -> &'static [&'static str] {
        match (self, mode) {
            // codex's TUI starts a background `codex app-server` daemon (double-forked,
            // its own session) that outlives the pane: measured with codex 0.169.0, the
            // daemon was still running after 3 of 4 runs. `--no-daemon` keeps it in
            // process; `codex exec` rejects the flag, so it is tmux mode only.
            (Interface::Codex, Mode::Tmux) => &["--no-daemon"],
            (_, Mode::Tmux)
            | (Interface::Generic | Interface::Gemini | Interface::Qwen, Mode::Headless) => &[],
            (Interface::Claude | Interface::Cursor | Interface::Pi, Mode::Headless) => &["-p"],
            (Interface::Codex, Mode::Headless) => &["exec"],
            (Interface::Opencode, Mode::Headless) => &["run"],
        }
    }

    /// How the prompt is passed when it is delivered as an argument.
    pub fn prompt_argument(self, mode: Mode) -> PromptArgument {
        let (prefix, guard): (&'static [&'static str], bool) = match (self, mode) {
            // These accept `--`, so a prompt starting with `-` is safe after it.
            (Interface::Generic | Interface::Claude | Interface::Codex, _) => (&["--"], false),
            // gemini: `-p PROMPT` is the non-interactive form, `-i PROMPT` the TUI.
            (Interface::Gemini, Mode::Headless) => (&["-p"], true),
            (Interface::Gemini | Interface::Qwen, Mode::Tmux) => (&["-i"], true),
            // opencode's TUI takes its first prompt through `--prompt` and submits it.
            (Interface::Opencode, Mode::Tmux) => (&["--prompt"], true),
            // pi rejects `--` ("Unknown option: --"); opencode run, qwen and cursor
            // take a plain positional prompt.
            (Interface::Opencode | Interface::Qwen, Mode::Headless)
            | (Interface::Pi | Interface::Cursor, _) => (&[], true),
        };
        PromptArgument {
            prefix,
            guard_leading_dash: guard,
        }
    }
}

/// Environment variables that make an agent CLI refuse to start inside another one.
/// They are removed from the delegated agent's environment in both modes.
pub const NESTING_GUARDS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headless_forms_match_the_clis() {
        assert_eq!(Interface::Claude.mode_args(Mode::Headless), ["-p"]);
        assert_eq!(Interface::Codex.mode_args(Mode::Headless), ["exec"]);
        assert_eq!(Interface::Opencode.mode_args(Mode::Headless), ["run"]);
        assert_eq!(Interface::Pi.mode_args(Mode::Headless), ["-p"]);
        assert!(Interface::Generic.mode_args(Mode::Headless).is_empty());
        for i in Interface::ALL {
            let tmux = i.mode_args(Mode::Tmux);
            if i == Interface::Codex {
                assert_eq!(tmux, ["--no-daemon"]);
            } else {
                assert!(tmux.is_empty(), "{}", i.name());
            }
        }
    }

    #[test]
    fn pi_never_gets_a_double_dash() {
        for mode in [Mode::Tmux, Mode::Headless] {
            let p = Interface::Pi.prompt_argument(mode);
            assert!(p.prefix.is_empty());
            assert!(p.guard_leading_dash);
        }
        assert_eq!(
            Interface::Opencode.prompt_argument(Mode::Tmux).prefix,
            ["--prompt"]
        );
    }
}
