//! Which config file applies: `--config`, `$AGENT_OFFLOAD_CONFIG`, the nearest
//! `.agent-offload.yaml` from the working directory up, then the user's file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::exit::usage;

pub const PROJECT_FILE: &str = ".agent-offload.yaml";
pub const ENV_VAR: &str = "AGENT_OFFLOAD_CONFIG";

/// How the config file was found, for messages and `profiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    EnvVar,
    Project,
    User,
    /// No config file: the built-in profiles for the agent CLIs on PATH.
    BuiltIn,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--config",
            Origin::EnvVar => "$AGENT_OFFLOAD_CONFIG",
            Origin::Project => "project",
            Origin::User => "user",
            Origin::BuiltIn => "built-in",
        }
    }
}

pub fn user_config_path(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
        return Some(PathBuf::from(xdg).join("agent-offload/config.yaml"));
    }
    env("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".config/agent-offload/config.yaml"))
}

/// The outcome of looking for a config file.
#[derive(Debug)]
pub enum Found {
    File(PathBuf, Origin),
    /// No file exists; these are every place looked at, in order.
    Nothing {
        looked: Vec<PathBuf>,
    },
}

/// Finds the config file. A file named explicitly must exist; otherwise the first
/// that exists wins, and when none does the places looked at are returned.
pub fn find(
    flag: Option<&Path>,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Found> {
    let explicit = flag.map(|p| (p.to_path_buf(), Origin::Flag)).or_else(|| {
        env(ENV_VAR)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), Origin::EnvVar))
    });
    if let Some((path, origin)) = explicit {
        let path = if path.is_absolute() {
            path
        } else {
            cwd.join(path)
        };
        if !path.is_file() {
            return Err(usage(format!(
                "config file {} (from {}) does not exist",
                path.display(),
                origin.describe()
            )));
        }
        return Ok(Found::File(path, origin));
    }

    let mut looked = Vec::new();
    for dir in cwd.ancestors() {
        let candidate = dir.join(PROJECT_FILE);
        if candidate.is_file() {
            return Ok(Found::File(candidate, Origin::Project));
        }
        looked.push(candidate);
    }
    if let Some(user) = user_config_path(env) {
        if user.is_file() {
            return Ok(Found::File(user, Origin::User));
        }
        looked.push(user);
    }
    Ok(Found::Nothing { looked })
}

/// The error for "no config file and no agent CLI on PATH": every place looked at, and
/// every program looked for.
pub fn nothing_found(looked: &[PathBuf], programs: &[&str]) -> anyhow::Error {
    let list: Vec<String> = looked
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect();
    usage(format!(
        "no config file found; looked at:\n{}\n  (and --config / ${ENV_VAR} were not given)\n\
         and no agent CLI on PATH to use without one; looked for: {}\n\
         Install one of them, or write a config file with `agent-offload init` (or start \
         from examples/demo.yaml in the agent-offload repository).",
        list.join("\n"),
        programs.join(", ")
    ))
}
