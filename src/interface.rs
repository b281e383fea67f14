//! What each agent CLI needs from us: its non-interactive form, how a first prompt is
//! passed, and its quirks. All knowledge of a particular agent CLI lives here, so that
//! adding one is a change to this file (see `../shared/AGENT-CLIS.md` for the facts).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which agent CLI a profile starts, for its argument conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
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

    pub fn from_name(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether the CLI's structured output says what a run cost (claude's
    /// `total_cost_usd`, opencode's and pi's per-step costs, cursor's); the others
    /// report tokens only, and a cost is estimated from a profile's `price`.
    pub fn reports_cost(self) -> bool {
        matches!(
            self,
            Interface::Claude | Interface::Opencode | Interface::Pi | Interface::Cursor
        )
    }

    /// Whether agent-offload reads the CLI's session transcript for a pane run's usage
    /// (see `run::transcript`): all but opencode (a database) and cursor (not measured).
    pub fn keeps_transcript(self) -> bool {
        matches!(
            self,
            Interface::Claude
                | Interface::Codex
                | Interface::Pi
                | Interface::Gemini
                | Interface::Qwen
        )
    }

    /// The flags that make the CLI's non-interactive form write JSON events on stdout,
    /// placed right after [`Interface::mode_args`]; `None` for a CLI without them.
    /// The relay reads the events (see `run::relay` and `events`).
    pub fn stream_args(self) -> Option<&'static [&'static str]> {
        Some(match self {
            Interface::Generic => return None,
            // stream-json needs --verbose with -p (measured, claude 2.1.197).
            Interface::Claude => &["--output-format", "stream-json", "--verbose"],
            Interface::Codex => &["--json"],
            Interface::Opencode => &["--format", "json"],
            Interface::Pi => &["--mode", "json"],
            Interface::Cursor | Interface::Gemini | Interface::Qwen => {
                &["--output-format", "stream-json"]
            }
        })
    }

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

    /// How the prompt is passed when it is delivered as an argument to a resumed
    /// session: as for a new one, except where the resuming form differs.
    pub fn prompt_argument_resuming(self, mode: Mode) -> PromptArgument {
        match (self, mode) {
            // `opencode run -i --session ID PROMPT` (see `resume_args`) takes the
            // prompt as `run` does.
            (Interface::Opencode, Mode::Tmux) => self.prompt_argument(Mode::Headless),
            // `codex resume ID PROMPT` (the TUI's resume subcommand): measured without
            // `--` only.
            (Interface::Codex, Mode::Tmux) => PromptArgument {
                prefix: &[],
                guard_leading_dash: true,
            },
            _ => self.prompt_argument(mode),
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

/// The placeholder for the session id in a profile's `resume_args`.
pub const SESSION_ID_PLACEHOLDER: &str = "{session_id}";

impl Interface {
    /// Whether the CLI takes a new session's id from the caller, so that the id is
    /// known before the agent starts (`--session-id`, in both modes).
    pub fn assigns_session_id(self) -> bool {
        matches!(
            self,
            Interface::Claude | Interface::Gemini | Interface::Qwen
        )
    }

    /// The arguments that give a new session the id `id` (see
    /// [`Interface::assigns_session_id`]).
    pub fn new_session_args(self, id: &str) -> Vec<String> {
        match self {
            // Honoured headless and in the TUI (measured: claude 2.1.197, gemini 0.61.0,
            // qwen 0.15.10); an id already in use is refused, never reused.
            Interface::Claude | Interface::Gemini | Interface::Qwen => {
                vec!["--session-id".to_owned(), id.to_owned()]
            }
            _ => Vec::new(),
        }
    }

    /// Whether [`Interface::resume_args`] go after the profile's own arguments (right
    /// before the prompt) rather than before them (right after the mode's words, where
    /// session options always go: a profile's args may end with a prompt file).
    pub fn resume_after_profile_args(self) -> bool {
        // `resume` is a subcommand of `codex exec` (and of the TUI): its flags before it.
        self == Interface::Codex
    }

    /// The arguments that resume session `id`; `None` for a CLI agent-offload cannot
    /// resume (a generic profile says how in `resume_args`).
    pub fn resume_args(self, mode: Mode, id: &str) -> Option<Vec<String>> {
        let words: &[&str] = match (self, mode) {
            (Interface::Generic, _) => return None,
            // The TUI opened with `--session ID --prompt P` shows the session but never
            // submits P (measured, opencode 1.18.33); `run -i` resumes, submits and
            // stays open like the TUI.
            (Interface::Opencode, Mode::Tmux) => &["run", "-i", "--session"],
            // Flags of `codex exec` (and of the TUI) go before the `resume` subcommand.
            (Interface::Codex, _) => &["resume"],
            (Interface::Opencode | Interface::Pi, _) => &["--session"],
            (Interface::Claude | Interface::Cursor | Interface::Gemini | Interface::Qwen, _) => {
                &["--resume"]
            }
        };
        let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        args.push(id.to_owned());
        Some(args)
    }
}

/// What agent-offload needs to start a CLI without a config file: the built-in
/// profile `agent-offload` uses when the CLI is on PATH and no config file exists, and
/// the starting point `agent-offload init` writes. One entry per CLI.
#[derive(Debug, PartialEq, Eq)]
pub struct Builtin {
    pub interface: Interface,
    /// The profile's name.
    pub profile: &'static str,
    /// Executable names to look for on PATH, in order; the first found is used.
    pub executables: &'static [&'static str],
    /// Flags for unattended work: the delegated agent must not stop to ask for
    /// permission, since nobody may be watching its pane.
    pub args: &'static [&'static str],
    /// Literal environment the CLI needs for the flags above to take effect.
    pub env: &'static [(&'static str, &'static str)],
}

/// The CLIs agent-offload knows, in the order the default built-in profile is chosen.
pub const BUILTINS: [Builtin; 7] = [
    Builtin {
        interface: Interface::Claude,
        profile: "claude",
        executables: &["claude"],
        // As root claude refuses this flag unless IS_SANDBOX=1 (AGENT-CLIS.md).
        args: &["--dangerously-skip-permissions"],
        env: &[],
    },
    Builtin {
        interface: Interface::Codex,
        profile: "codex",
        executables: &["codex"],
        args: &["--dangerously-bypass-approvals-and-sandbox"],
        env: &[],
    },
    Builtin {
        interface: Interface::Opencode,
        profile: "opencode",
        executables: &["opencode"],
        // Permissions are opencode config (`permission`), not flags; `run` allows the
        // shell by default.
        args: &[],
        env: &[],
    },
    Builtin {
        interface: Interface::Pi,
        profile: "pi",
        executables: &["pi"],
        // pi does not ask for permission.
        args: &[],
        env: &[],
    },
    Builtin {
        interface: Interface::Cursor,
        profile: "cursor",
        // Installed as `cursor-agent`; newer installs also (or only) provide `agent`.
        executables: &["cursor-agent", "agent"],
        args: &["--force"],
        env: &[],
    },
    Builtin {
        interface: Interface::Gemini,
        profile: "gemini",
        executables: &["gemini"],
        args: &["--yolo"],
        // In a folder it does not trust, gemini silently downgrades --yolo.
        env: &[("GEMINI_CLI_TRUST_WORKSPACE", "true")],
    },
    Builtin {
        interface: Interface::Qwen,
        profile: "qwen",
        executables: &["qwen"],
        args: &["--yolo"],
        env: &[],
    },
];

impl Builtin {
    /// Every executable name looked for, in order (for messages).
    pub fn all_executables() -> Vec<&'static str> {
        BUILTINS
            .iter()
            .flat_map(|b| b.executables.iter().copied())
            .collect()
    }
}

impl Interface {
    /// A known reason this CLI would refuse to start with these arguments, for
    /// `doctor`. `var_set` tells whether a variable is set in the agent's environment.
    pub fn launch_problem(
        self,
        args: &[String],
        var_set: &dyn Fn(&str) -> bool,
        is_root: bool,
    ) -> Option<String> {
        match self {
            // claude refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1.
            Interface::Claude
                if is_root
                    && args.iter().any(|a| a == "--dangerously-skip-permissions")
                    && !var_set("IS_SANDBOX") =>
            {
                Some(
                    "claude refuses --dangerously-skip-permissions when run as root; set \
                     IS_SANDBOX: \"1\" in the profile's env (in a sandbox), or run as another user"
                        .to_owned(),
                )
            }
            _ => None,
        }
    }
}

impl Interface {
    /// Environment the CLI needs so that it may follow the completion protocol, which
    /// writes in the run directory, outside the agent's working directory.
    ///
    /// opencode asks before any tool touches a path outside its working directory
    /// (permission `external_directory`), even with shell commands allowed: `opencode
    /// run` rejects the publication of done.md and still exits 0, and the TUI waits at
    /// a dialog (measured with opencode 1.18.33 by the end-to-end suite). Allowing
    /// exactly this run's directory lets it publish and nothing more.
    pub fn protocol_env(self, run_dir: &std::path::Path) -> Vec<(&'static str, String)> {
        match self {
            Interface::Opencode => {
                let pattern = format!("{}/**", run_dir.display());
                let permission = serde_json::json!({ "external_directory": { pattern: "allow" } });
                vec![("OPENCODE_PERMISSION", permission.to_string())]
            }
            _ => Vec::new(),
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
    fn builtins_cover_every_cli_once_with_unattended_flags() {
        let names: Vec<_> = BUILTINS.iter().map(|b| b.interface).collect();
        for i in Interface::ALL {
            let n = names.iter().filter(|&&x| x == i).count();
            assert_eq!(n, usize::from(i != Interface::Generic), "{}", i.name());
        }
        let args = |i: Interface| BUILTINS.iter().find(|b| b.interface == i).unwrap().args;
        assert_eq!(args(Interface::Claude), ["--dangerously-skip-permissions"]);
        assert_eq!(
            args(Interface::Codex),
            ["--dangerously-bypass-approvals-and-sandbox"]
        );
        assert_eq!(args(Interface::Gemini), ["--yolo"]);
        assert_eq!(args(Interface::Qwen), ["--yolo"]);
        assert_eq!(args(Interface::Cursor), ["--force"]);
        assert_eq!(
            Builtin::all_executables(),
            [
                "claude",
                "codex",
                "opencode",
                "pi",
                "cursor-agent",
                "agent",
                "gemini",
                "qwen"
            ]
        );
    }

    #[test]
    fn claude_as_root_needs_is_sandbox() {
        let args = vec!["--dangerously-skip-permissions".to_owned()];
        let unset = |_: &str| false;
        let set = |v: &str| v == "IS_SANDBOX";
        assert!(
            Interface::Claude
                .launch_problem(&args, &unset, true)
                .is_some()
        );
        assert!(
            Interface::Claude
                .launch_problem(&args, &set, true)
                .is_none()
        );
        assert!(
            Interface::Claude
                .launch_problem(&args, &unset, false)
                .is_none()
        );
        assert!(
            Interface::Codex
                .launch_problem(&args, &unset, true)
                .is_none()
        );
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
