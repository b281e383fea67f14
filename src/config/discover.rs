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
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--config",
            Origin::EnvVar => "$AGENT_OFFLOAD_CONFIG",
            Origin::Project => "project",
            Origin::User => "user",
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

/// Finds the config file. A file named explicitly must exist; otherwise the first
/// that exists wins, and when none does the error lists every place looked at.
pub fn find(
    flag: Option<&Path>,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<(PathBuf, Origin)> {
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
        return Ok((path, origin));
    }

    let mut looked = Vec::new();
    for dir in cwd.ancestors() {
        let candidate = dir.join(PROJECT_FILE);
        if candidate.is_file() {
            return Ok((candidate, Origin::Project));
        }
        looked.push(candidate);
    }
    if let Some(user) = user_config_path(env) {
        if user.is_file() {
            return Ok((user, Origin::User));
        }
        looked.push(user);
    }
    let list: Vec<String> = looked
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect();
    Err(usage(format!(
        "no config file found; looked at:\n{}\n  (and --config / ${ENV_VAR} were not given)\n\
         Create one of them, for example from examples/demo.yaml in the agent-offload repository.",
        list.join("\n")
    )))
}
