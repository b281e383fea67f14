//! The agent CLIs the skill is installed for, and where each one keeps its user-level
//! skills. Each CLI's directory is its own (`agents::Cli::home`, one rule for every
//! CLI); `~/.agents` is shared by several (the table is in `docs/commands.md`, install-skill).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use anyhow::Result;

use crate::agents::{HomeError, home};
use crate::exit::usage;
use crate::interface::Interface;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    Claude,
    Codex,
    Opencode,
    Pi,
    Gemini,
    /// `~/.agents`: the shared location that codex, pi, gemini, qwen, opencode, amp and
    /// others also read.
    Agents,
}

pub use crate::agents::Source;

/// A provider's configuration directory, resolved from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub provider: Provider,
    /// The agent CLI's configuration directory; it "exists" means the CLI is set up.
    pub config_dir: PathBuf,
    pub source: Source,
}

impl Location {
    /// `<config dir>/skills/agent-offload`.
    pub fn skill_dir(&self) -> PathBuf {
        self.config_dir.join("skills").join(super::NAME)
    }

    /// `<config dir>/skills/agent-offload/SKILL.md`.
    pub fn skill_file(&self) -> PathBuf {
        self.skill_dir().join(super::FILE_NAME)
    }
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::Claude,
        Provider::Codex,
        Provider::Opencode,
        Provider::Pi,
        Provider::Gemini,
        Provider::Agents,
    ];

    /// The names accepted by `--provider`, in [`Provider::ALL`] order.
    pub const NAMES: [&'static str; 6] = ["claude", "codex", "opencode", "pi", "gemini", "agents"];

    pub fn name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::Codex => "codex",
            Provider::Opencode => "opencode",
            Provider::Pi => "pi",
            Provider::Gemini => "gemini",
            Provider::Agents => "agents",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The agent CLI whose skill directory this is; `None` for the shared `~/.agents`.
    fn cli(self) -> Option<&'static dyn crate::agents::Cli> {
        let interface = match self {
            Provider::Claude => Interface::Claude,
            Provider::Codex => Interface::Codex,
            Provider::Opencode => Interface::Opencode,
            Provider::Pi => Interface::Pi,
            Provider::Gemini => Interface::Gemini,
            Provider::Agents => return None,
        };
        Some(crate::agents::cli(interface))
    }

    /// Resolves the configuration directory from `env`, by the one rule of
    /// `agents::home`: the CLI's override variable (set and not empty, `~` expanded),
    /// else its default under `$HOME`. A variable that is not an absolute path is an
    /// error (the CLI would resolve it against whatever directory it starts in).
    pub fn locate(self, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Location> {
        let found = match self.cli().and_then(|cli| cli.home(env)) {
            Some(found) => found,
            None => home::under_home(env, ".agents", None),
        };
        match found {
            Ok(home) => Ok(Location {
                provider: self,
                config_dir: home.dir,
                source: home.source,
            }),
            Err(HomeError::Relative { var, value }) => Err(usage(format!(
                "${var} is {:?}, not an absolute path: set it to an absolute path (or \
                 unset it to use the default)",
                value.display().to_string()
            ))),
            Err(HomeError::NoHome { var }) => {
                let hint = var.map(|v| format!(" or set ${v}")).unwrap_or_default();
                Err(usage(format!(
                    "HOME is not set to an absolute path: cannot find the {} configuration \
                     directory (set HOME{hint})",
                    self.name()
                )))
            }
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn defaults_under_home() {
        let env = env_of(&[("HOME", "/h")]);
        let dirs: Vec<_> = Provider::ALL
            .iter()
            .map(|p| p.locate(&env).unwrap().skill_file())
            .collect();
        assert_eq!(
            dirs,
            [
                "/h/.claude/skills/agent-offload/SKILL.md",
                "/h/.codex/skills/agent-offload/SKILL.md",
                "/h/.config/opencode/skills/agent-offload/SKILL.md",
                "/h/.pi/agent/skills/agent-offload/SKILL.md",
                "/h/.gemini/skills/agent-offload/SKILL.md",
                "/h/.agents/skills/agent-offload/SKILL.md",
            ]
            .map(PathBuf::from)
        );
        assert_eq!(Provider::NAMES, Provider::ALL.map(Provider::name));
    }

    #[test]
    fn overrides_win_and_empty_means_unset() {
        let env = env_of(&[
            ("HOME", "/h"),
            ("CLAUDE_CONFIG_DIR", "/c"),
            ("OPENCODE_CONFIG_DIR", "/o"),
            ("PI_CODING_AGENT_DIR", ""),
        ]);
        let claude = Provider::Claude.locate(&env).unwrap();
        assert_eq!(claude.config_dir, Path::new("/c"));
        assert_eq!(claude.source, Source::Variable("CLAUDE_CONFIG_DIR"));
        let codex = Provider::Codex.locate(&env).unwrap();
        assert_eq!(codex.config_dir, Path::new("/h/.codex"));
        assert_eq!(codex.source, Source::Default);
        assert_eq!(
            Provider::Opencode.locate(&env).unwrap().config_dir,
            Path::new("/o")
        );
        // Empty means unset.
        let pi = Provider::Pi.locate(&env).unwrap();
        assert_eq!(pi.config_dir, Path::new("/h/.pi/agent"));
        assert_eq!(pi.source, Source::Default);
        // gemini's variable replaces the home directory, `.gemini` below it.
        let env = env_of(&[("HOME", "/h"), ("GEMINI_CLI_HOME", "/g")]);
        assert_eq!(
            Provider::Gemini.locate(&env).unwrap().config_dir,
            Path::new("/g/.gemini")
        );
    }

    #[test]
    fn opencode_follows_xdg_config_home_when_absolute() {
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(
            Provider::Opencode.locate(&env).unwrap().config_dir,
            Path::new("/x/opencode")
        );
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "rel")]);
        assert_eq!(
            Provider::Opencode.locate(&env).unwrap().config_dir,
            Path::new("/h/.config/opencode")
        );
    }

    #[test]
    fn relative_override_and_missing_home_are_errors() {
        let env = env_of(&[("HOME", "/h"), ("PI_CODING_AGENT_DIR", ".pi")]);
        let err = Provider::Pi.locate(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$PI_CODING_AGENT_DIR is \".pi\", not an absolute path: set it to an absolute \
             path (or unset it to use the default)"
        );
        // `~` is expanded, as for every CLI directory.
        let env = env_of(&[("HOME", "/h"), ("PI_CODING_AGENT_DIR", "~/p")]);
        assert_eq!(
            Provider::Pi.locate(&env).unwrap().config_dir,
            Path::new("/h/p")
        );
        let env = env_of(&[]);
        let err = Provider::Gemini.locate(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HOME is not set to an absolute path: cannot find the gemini configuration \
             directory (set HOME or set $GEMINI_CLI_HOME)"
        );
    }
}
