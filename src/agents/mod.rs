//! Everything particular to one agent CLI, one file per CLI, behind the [`Cli`] trait
//! and the registry [`cli`]: its argument shapes (non-interactive form, structured
//! output, first prompt, new and resumed sessions), its own directory (one rule, in
//! `home.rs`), its stream of JSON events read into a transcript and usage, its session
//! transcript on disk (where it is, the usage it records: one mapping per CLI serves
//! the stream and the transcript where their records have the same shape), its session
//! store, its skill directory and its quirks. The machinery shared by all stays
//! generic: `stream.rs` (the event stream: bounded, untrusted, rendered), `transcript.rs`
//! (bounded line reading, tallies, containment in the CLI's store). The facts, measured
//! with the real CLIs, are in `docs/agent-clis.md`.
//!
//! Adding a CLI: a variant in `interface.rs` (with its name), a file here implementing
//! [`Cli`], and its line in [`cli`]; a built-in profile also goes in [`BUILTINS`] (the
//! order a zero-config default is chosen in). Nothing matches over `Interface` with a
//! wildcard, so the compiler lists what a new CLI must decide.
//!
//! The CLIs side by side (the files say why):
//!
//! | CLI | headless | pane | prompt | new session | resume |
//! |---|---|---|---|---|---|
//! | `claude.rs` | `-p` | | `-- P` | `--session-id ID` | `--resume ID` |
//! | `codex.rs` | `exec` | `--no-daemon` | `-- P` (resumed pane: `P`) | | `resume ID`, after the profile's args |
//! | `cursor.rs` | `-p` | | `P` | | `--resume ID` |
//! | `gemini.rs` | | | `-p P` / pane `-i P` | `--session-id ID` | `--resume ID` |
//! | `opencode.rs` | `run` | | `P` / pane `--prompt P` | | `--session ID` (pane: `run -i --session ID P`) |
//! | `pi.rs` | `-p` | | `P` (no `--`) | | `--session ID` |
//! | `qwen.rs` | | | `P` / pane `-i P` | `--session-id ID` | `--resume ID` |
//! | `generic.rs` | | | `-- P` | | the profile's `resume_args` |
//!
//! Usage in the headless stream (`stream.rs`; fixtures in `fixtures/`, cursor-agent
//! from its documentation only):
//!
//! | file | CLI | usage in the stream | rule |
//! |---|---|---|---|
//! | `claude.rs` | claude 2.1.197 (cursor-agent the same) | this run's total in the closing `result` | take it |
//! | `qwen.rs` | qwen-code 0.15.10 | per message in `assistant`; the session's running total in `result` | sum the messages (the `result` includes a resumed session's earlier runs) |
//! | `codex.rs` | codex 0.169.0 | the thread's running total in each `turn.completed` | take the latest; it includes a resumed thread's earlier runs (`UsageScope::Session`) |
//! | `gemini.rs` | gemini-cli 0.61.0 | this run's total in the closing `result.stats` | take it |
//! | `opencode.rs` | opencode 1.18.33 | per step (model request), `step_finish.part` | sum the steps |
//! | `pi.rs` | pi 0.73.1 | per assistant message, `message_end.message.usage` | sum the messages, not the copies in `turn_end`/`agent_end` |
//!
//! Usage in a pane run's session transcript (`transcript.rs`; fixtures `*-tui.jsonl`,
//! trimmed copies of real TUI transcripts holding two or three runs of one session,
//! against a model server answering 10 input and 5 output tokens per request):
//!
//! | CLI | file | usage records | rule |
//! |---|---|---|---|
//! | claude 2.1.197 | `$CLAUDE_CONFIG_DIR` or `~/.claude`, `projects/<cwd, non-alphanumerics → '-'>/<id>.jsonl`, subagents in `<id>/subagents/**.jsonl` | `assistant` records' `message.usage` (the stream's `result.usage` shape), one record per content block | per `message.id` the latest (field by field, the largest) usage, summed over messages |
//! | codex 0.169.0 | `$CODEX_HOME` or `~/.codex`, `sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl` | `event_msg` `token_count` `info.total_token_usage` (the stream's `turn.completed.usage` shape): the thread's running total | the last one; this run's is the last minus the last before `from` |
//! | pi 0.73.1 | `$PI_CODING_AGENT_DIR` or `~/.pi/agent`, `sessions/--<cwd, '/' → '-'>--/<time>_<id>.jsonl` | `message` records with `message.role` `assistant`: `message.usage` (the stream's shape) per model request | sum, once per record `id` |
//! | gemini 0.61.0 | `$GEMINI_CLI_HOME` or `~`, `.gemini/tmp/<project>/chats/session-<date>T<HH-MM>-<id, 8 chars>.jsonl`, `<project>` from `.gemini/projects.json` | `gemini` records' `tokens` (not the stream's `stats` shape), per model request; a record is written again (same `id`) when its tool calls are added | sum, once per `id` |
//! | qwen 0.15.10 | `$QWEN_RUNTIME_DIR`, `$QWEN_HOME` or `~/.qwen`, `projects/<cwd, non-alphanumerics → '-'>/chats/<id>.jsonl` | `assistant` records' `usageMetadata` (not the stream's claude shape), per model request | sum, once per record `uuid` |
//! | opencode, cursor | a `SQLite` database; not measured | not read | None |
//!
//! Reading only the last message undercounts; summing a running total overcounts. The
//! tests pin both. `Usage::input_tokens` counts every input token the model read,
//! cached ones included; `cached_input_tokens` is the part of it served from a cache,
//! when the CLI says. `output_tokens` counts every output token, reasoning included;
//! `reasoning_tokens` is the part of it spent reasoning. CLIs that split these
//! differently are added up.
//!
//! Each CLI's own directory (`home.rs`: `$VAR` with `~` expanded, else the default
//! under `$HOME`; absolute only):
//!
//! | CLI | variable | default | used for |
//! |---|---|---|---|
//! | claude | `CLAUDE_CONFIG_DIR` | `~/.claude` | transcripts, skills |
//! | codex | `CODEX_HOME` | `~/.codex` | transcripts, session store, skills |
//! | cursor | `CURSOR_DATA_DIR` | `~/.cursor` | the workspace trust marker |
//! | gemini | `GEMINI_CLI_HOME` (a home: `.gemini` below it) | `~/.gemini` | transcripts, skills |
//! | opencode | `OPENCODE_CONFIG_DIR` | `$XDG_CONFIG_HOME/opencode`, `~/.config/opencode` | skills |
//! | pi | `PI_CODING_AGENT_DIR` | `~/.pi/agent` | transcripts, session store, skills |
//! | qwen | `QWEN_HOME` (`QWEN_RUNTIME_DIR` for its chats) | `~/.qwen` | transcripts |

use std::path::Path;

use crate::interface::{Interface, Mode};

mod claude;
mod codex;
mod cursor;
mod gemini;
mod generic;
pub mod home;
mod opencode;
mod pi;
mod qwen;
mod stream;
pub mod transcript;

pub use home::{Env, Home, HomeError, Source};
use stream::Parse;
pub use stream::{Stream, UsageScope};

/// The CLI behind `interface`: the registry, one line per CLI.
pub fn cli(interface: Interface) -> &'static dyn Cli {
    match interface {
        Interface::Generic => &generic::Generic,
        Interface::Claude => &claude::Claude,
        Interface::Codex => &codex::Codex,
        Interface::Cursor => &cursor::Cursor,
        Interface::Opencode => &opencode::Opencode,
        Interface::Pi => &pi::Pi,
        Interface::Gemini => &gemini::Gemini,
        Interface::Qwen => &qwen::Qwen,
    }
}

/// What agent-offload knows of one agent CLI. Each method is answered in the CLI's own
/// file; a default body is what a CLI without the feature answers.
pub trait Cli: Sync {
    fn interface(&self) -> Interface;

    /// Words the mode needs, placed before the profile's own arguments: the CLI's
    /// non-interactive form when headless (`codex exec` is a subcommand and must come
    /// first), and what its TUI needs in a pane.
    fn mode_args(&self, mode: Mode) -> &'static [&'static str];

    /// The flags that make the CLI's non-interactive form write JSON events on stdout,
    /// placed right after [`Cli::mode_args`]; `None` for a CLI without them. The relay
    /// reads the events (see `run::relay` and [`Stream`]).
    fn stream_args(&self) -> Option<&'static [&'static str]>;

    /// How the prompt is passed when it is delivered as an argument.
    fn prompt_argument(&self, mode: Mode) -> PromptArgument;

    /// How the prompt is passed when it is delivered as an argument to a resumed
    /// session: as for a new one, unless the resuming form differs.
    fn prompt_argument_resuming(&self, mode: Mode) -> PromptArgument {
        self.prompt_argument(mode)
    }

    /// The arguments that give a new session the id `id`, for a CLI that takes a new
    /// session's id from the caller (so that it is known before the agent starts);
    /// `None` for a CLI that chooses its own.
    fn new_session_args(&self, _id: &str) -> Option<Vec<String>> {
        None
    }

    /// The arguments that resume session `id`; `None` for a CLI agent-offload cannot
    /// resume (a generic profile says how in `resume_args`).
    fn resume_args(&self, mode: Mode, id: &str) -> Option<Vec<String>>;

    /// Whether [`Cli::resume_args`] go after the profile's own arguments (right before
    /// the prompt) rather than before them (right after the mode's words, where session
    /// options always go: a profile's args may end with a prompt file).
    fn resume_after_profile_args(&self) -> bool {
        false
    }

    /// Whether the CLI's structured output says what a run cost; the others report
    /// tokens only, and a cost is estimated from a profile's `price`.
    fn reports_cost(&self) -> bool;

    /// Environment the CLI needs so that it may follow the completion protocol, which
    /// writes in the run directory, outside the agent's working directory.
    fn protocol_env(&self, _run_dir: &Path) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// A known reason this CLI would refuse to start with these arguments, for
    /// `doctor`. `var_set` tells whether a variable is set in the agent's environment.
    fn launch_problem(
        &self,
        _args: &[String],
        _var_set: &dyn Fn(&str) -> bool,
        _is_root: bool,
    ) -> Option<String> {
        None
    }

    /// Makes the CLI trust `workspace` so that it does not stop to ask (Cursor's
    /// marker, see `cursor.rs`); returns the file written. `None`: nothing to do.
    fn trust_workspace(
        &self,
        _workspace: &Path,
        _env: &Env<'_>,
    ) -> anyhow::Result<Option<std::path::PathBuf>> {
        Ok(None)
    }

    /// The CLI's own directory (see `home.rs`): where it keeps its configuration, its
    /// skills (`<home>/skills`) and, for most, its sessions. `None` for a CLI
    /// agent-offload knows no directory of.
    fn home(&self, _env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        None
    }

    /// A parser of the CLI's structured output (see [`Stream`]); `None` without one.
    fn stream(&self) -> Option<Box<dyn Parse>> {
        None
    }

    /// What the usage in the CLI's stream covers.
    fn stream_usage_scope(&self) -> UsageScope {
        UsageScope::Run
    }

    /// How the CLI's session transcript is found and read, for a pane run's usage
    /// (see `transcript.rs`); `None` for a CLI whose transcript is not read.
    fn transcript(&self) -> Option<&'static transcript::Format> {
        None
    }

    /// A TUI's session id, found in the CLI's own session store, for a CLI that
    /// chooses its ids itself (see [`transcript::StoreSearch`]).
    fn find_session(&self, _search: &transcript::StoreSearch<'_>) -> Option<String> {
        None
    }
}

impl dyn Cli {
    /// Whether the CLI takes a new session's id from the caller (see
    /// [`Cli::new_session_args`]).
    pub fn assigns_session_id(&self) -> bool {
        self.new_session_args("x").is_some()
    }

    /// Whether agent-offload can resume the CLI's sessions (see [`Cli::resume_args`]).
    pub fn resumes(&self) -> bool {
        self.resume_args(Mode::Tmux, "x").is_some()
    }

    /// Whether agent-offload reads the CLI's session transcript for a pane run's usage.
    pub fn keeps_transcript(&self) -> bool {
        self.transcript().is_some()
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

/// `install-skill --help`: each CLI's skill directory (see each file's `Cli::home`) and
/// the shared `~/.agents`.
pub const SKILL_DIRS_HELP: &str = "\
Providers and their configuration directories (the skill goes in <dir>/skills/agent-offload/):
  claude    $CLAUDE_CONFIG_DIR, else ~/.claude
  codex     $CODEX_HOME, else ~/.codex
  opencode  $OPENCODE_CONFIG_DIR, else $XDG_CONFIG_HOME/opencode (~/.config/opencode)
  pi        $PI_CODING_AGENT_DIR, else ~/.pi/agent
  gemini    $GEMINI_CLI_HOME/.gemini, else ~/.gemini
  agents    ~/.agents (also read by codex, pi, gemini, qwen, opencode, amp, ...)";

/// The placeholder for the session id in a profile's `resume_args`.
pub const SESSION_ID_PLACEHOLDER: &str = "{session_id}";

/// Environment variables that make an agent CLI refuse to start inside another one.
/// They are removed from the delegated agent's environment in both modes.
pub const NESTING_GUARDS: &[&str] = claude::NESTING_GUARDS;

/// What agent-offload needs to start a CLI without a config file: the built-in
/// profile `agent-offload` uses when the CLI is on PATH and no config file exists, and
/// the starting point `agent-offload init` writes. One per CLI, in its file.
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
    claude::BUILTIN,
    codex::BUILTIN,
    opencode::BUILTIN,
    pi::BUILTIN,
    cursor::BUILTIN,
    gemini::BUILTIN,
    qwen::BUILTIN,
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

/// `words` as owned arguments followed by `id`.
fn with_id(words: &[&str], id: &str) -> Vec<String> {
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    args.push(id.to_owned());
    args
}

/// A prompt form.
const fn prompt(prefix: &'static [&'static str], guard_leading_dash: bool) -> PromptArgument {
    PromptArgument {
        prefix,
        guard_leading_dash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_answers_for_each_interface() {
        for i in Interface::ALL {
            assert_eq!(cli(i).interface(), i);
        }
    }

    #[test]
    fn headless_forms_match_the_clis() {
        let m = |i| cli(i).mode_args(Mode::Headless);
        assert_eq!(m(Interface::Claude), ["-p"]);
        assert_eq!(m(Interface::Codex), ["exec"]);
        assert_eq!(m(Interface::Opencode), ["run"]);
        assert_eq!(m(Interface::Pi), ["-p"]);
        assert!(m(Interface::Generic).is_empty());
        for i in Interface::ALL {
            let tmux = cli(i).mode_args(Mode::Tmux);
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
        let claude = cli(Interface::Claude);
        assert!(claude.launch_problem(&args, &unset, true).is_some());
        assert!(claude.launch_problem(&args, &set, true).is_none());
        assert!(claude.launch_problem(&args, &unset, false).is_none());
        assert!(
            cli(Interface::Codex)
                .launch_problem(&args, &unset, true)
                .is_none()
        );
    }

    #[test]
    fn pi_never_gets_a_double_dash() {
        for mode in [Mode::Tmux, Mode::Headless] {
            let p = cli(Interface::Pi).prompt_argument(mode);
            assert!(p.prefix.is_empty());
            assert!(p.guard_leading_dash);
        }
        assert_eq!(
            cli(Interface::Opencode).prompt_argument(Mode::Tmux).prefix,
            ["--prompt"]
        );
    }

    #[test]
    fn assigned_ids_and_resume_forms() {
        let assigns: Vec<_> = Interface::ALL
            .into_iter()
            .filter(|&i| cli(i).assigns_session_id())
            .collect();
        assert_eq!(
            assigns,
            [Interface::Claude, Interface::Gemini, Interface::Qwen]
        );
        assert_eq!(
            cli(Interface::Claude).new_session_args("u"),
            Some(vec!["--session-id".to_owned(), "u".to_owned()])
        );
        assert_eq!(cli(Interface::Generic).resume_args(Mode::Tmux, "x"), None);
        assert_eq!(
            cli(Interface::Opencode)
                .resume_args(Mode::Tmux, "x")
                .unwrap(),
            ["run", "-i", "--session", "x"]
        );
        assert_eq!(
            cli(Interface::Codex)
                .resume_args(Mode::Headless, "x")
                .unwrap(),
            ["resume", "x"]
        );
    }
}
