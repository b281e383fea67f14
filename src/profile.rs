//! A profile: one checked way of starting an agent CLI. Built by `config` from the raw
//! YAML, so everything here is already valid.

use std::path::PathBuf;
use std::time::Duration;

use crate::interface::Interface;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptDelivery {
    /// As a command-line argument, in the interface's form.
    Argument,
    /// On the agent's standard input, from `prompt.md`.
    Stdin,
    /// `{prompt_file}` in `args` is replaced by the absolute path of `prompt.md`.
    PromptFileArg,
}

impl PromptDelivery {
    pub fn name(self) -> &'static str {
        match self {
            PromptDelivery::Argument => "argument",
            PromptDelivery::Stdin => "stdin",
            PromptDelivery::PromptFileArg => "prompt-file-arg",
        }
    }
}

/// The `headless` setting: where the agent runs when the command line says neither
/// `-H` nor `--tmux`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Headless {
    /// `false`: in a tmux pane beside the caller (outside tmux, a usage error).
    #[default]
    No,
    /// `true`: without a terminal.
    Yes,
    /// `auto`: in a pane when the caller is inside tmux, headless otherwise.
    Auto,
}

impl Headless {
    pub fn name(self) -> &'static str {
        match self {
            Headless::No => "tmux",
            Headless::Yes => "headless",
            Headless::Auto => "auto",
        }
    }

    /// Whether the run is headless, for a caller inside tmux or not.
    pub fn resolve(self, inside_tmux: bool) -> bool {
        match self {
            Headless::No => false,
            Headless::Yes => true,
            Headless::Auto => !inside_tmux,
        }
    }
}

/// The placeholder in `args` for the absolute path of `prompt.md`.
pub const PROMPT_FILE_PLACEHOLDER: &str = "{prompt_file}";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// Written in the config file.
    Literal(String),
    /// Taken from agent-offload's own environment at launch; never written anywhere.
    FromEnv(String),
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    /// The program as written in the config, or resolved against the config file's
    /// directory when it is a relative path containing `/`.
    pub command: String,
    pub interface: Interface,
    pub args: Vec<String>,
    pub env: Vec<(String, EnvValue)>,
    /// Names (or `PREFIX*`) of variables handed from our environment to the agent.
    pub pass_env: Vec<String>,
    pub prompt: PromptDelivery,
    pub headless: Option<Headless>,
    pub timeout: Option<Duration>,
    /// Stop waiting after this long and leave the agent running (exit 75).
    pub detach_after: Option<Duration>,
    pub focus: Option<bool>,
    /// A worktree of its own, or explicitly none (over the config's yes).
    pub worktree: Option<WorktreeChoice>,
    /// tmux mode: a pane narrower than this many columns goes to a new window.
    pub min_pane_width: Option<u16>,
    /// The stall detector's limit (`Off`: not watched) and what a stall does.
    pub stall_after: Option<StallAfter>,
    pub on_stall: Option<OnStall>,
    /// Budgets: stop the run past this many tokens or US dollars.
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
    /// USD per million tokens, for a CLI that reports no cost.
    pub price: Option<crate::usage::Price>,
    /// Arguments that resume a session, with `{session_id}` for its id: for a generic
    /// profile (which has none built in), or to override the built-in ones.
    pub resume_args: Option<Vec<String>>,
    /// `interface: cursor`: write Cursor's workspace trust marker before each launch.
    pub trust_workspace: bool,
    /// The config file that defined the profile (`None` for a built-in profile).
    pub defined_in: Option<PathBuf>,
}

impl Profile {
    /// Why the profile's command cannot be started with this `PATH` — what is wrong
    /// and how to fix it — or `None` when it resolves to an executable file. `run`
    /// refuses to start such a run; `doctor` reports it. `where_` names the config.
    pub fn command_problem(
        &self,
        path: Option<&std::ffi::OsStr>,
        where_: &str,
    ) -> Option<(String, String)> {
        if crate::search_path::find(&self.command, path).is_some() {
            return None;
        }
        Some(if self.command.contains('/') {
            (
                format!(
                    "profile {}: command {} does not exist or is not executable",
                    self.name, self.command
                ),
                format!("fix `command` in {where_}, or chmod +x it"),
            )
        } else {
            (
                format!(
                    "profile {}: command {} is not on PATH",
                    self.name, self.command
                ),
                format!("install it, or set `command` to its full path in {where_}"),
            )
        })
    }

    /// The `PATH` the agent will search: a literal `PATH` in the profile's env, else
    /// `ours` (tmux mode hands the caller's over; headless inherits it).
    pub fn agent_path(&self, ours: Option<std::ffi::OsString>) -> Option<std::ffi::OsString> {
        self.env
            .iter()
            .find_map(|(k, v)| match v {
                EnvValue::Literal(p) if k == "PATH" => Some(p.into()),
                _ => None,
            })
            .or(ours)
    }
}

/// A profile's `worktree` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorktreeChoice {
    No,
    From(WorktreeStart),
}

/// `--stall-after`: a duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallAfter {
    Off,
    After(std::time::Duration),
}

/// What a stall does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OnStall {
    Warn,
    Stop,
}

crate::names::names! {
    /// Where a run's worktree starts from.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub enum WorktreeStart {
        /// The current commit (`HEAD`).
        Head = "head",
        /// The current working tree: `HEAD` plus staged, unstaged and untracked (not
        /// ignored) changes.
        Dirty = "dirty",
    }
}
