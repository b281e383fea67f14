//! The agent CLIs the skill is installed for, and where each one keeps its user-level
//! skills. Every directory honours the CLI's own override variable (see
//! `../shared/AGENT-CLIS.md`, "Skills").

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use anyhow::Result;

use crate::exit::usage;

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

/// Where a configuration directory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The CLI's override variable, e.g. `CODEX_HOME`.
    Variable(&'static str),
    /// The default under the home directory (or `$XDG_CONFIG_HOME`).
    Default,
}

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

    /// The variable that overrides the configuration directory, if the CLI has one.
    pub fn variable(self) -> Option<&'static str> {
        match self {
            Provider::Claude => Some("CLAUDE_CONFIG_DIR"),
            Provider::Codex => Some("CODEX_HOME"),
            Provider::Opencode => Some("OPENCODE_CONFIG_DIR"),
            Provider::Pi => Some("PI_CODING_AGENT_DIR"),
            Provider::Gemini | Provider::Agents => None,
        }
    }

    /// Resolves the configuration directory from `env`. An override variable that is
    /// set but empty counts as unset; one that is not an absolute path is an error
    /// (the CLI would resolve it against whatever directory it starts in).
    pub fn locate(self, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Location> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(var) = self.variable()
            && let Some(value) = set(var)
        {
            let dir = PathBuf::from(&value);
            if !dir.is_absolute() {
                return Err(usage(format!(
                    "${var} is {:?}, not an absolute path: set it to an absolute path (or \
                     unset it to use the default)",
                    dir.display().to_string()
                )));
            }
            return Ok(Location {
                provider: self,
                config_dir: dir,
                source: Source::Variable(var),
            });
        }
        let home = || -> Result<PathBuf> {
            let home = set("HOME").map(PathBuf::from).filter(|h| h.is_absolute());
            home.ok_or_else(|| {
                let hint = self
                    .variable()
                    .map(|v| format!(" or set ${v}"))
                    .unwrap_or_default();
                usage(format!(
                    "HOME is not set to an absolute path: cannot find the {} configuration \
                     directory (set HOME{hint})",
                    self.name()
                ))
            })
        };
        let config_dir = match self {
            Provider::Claude => home()?.join(".claude"),
            Provider::Codex => home()?.join(".codex"),
            // XDG: a relative $XDG_CONFIG_HOME is invalid and ignored.
            Provider::Opencode => match set("XDG_CONFIG_HOME").map(PathBuf::from) {
                Some(x) if x.is_absolute() => x.join("opencode"),
                _ => home()?.join(".config/opencode"),
            },
            Provider::Pi => home()?.join(".pi/agent"),
            Provider::Gemini => home()?.join(".gemini"),
            Provider::Agents => home()?.join(".agents"),
        };
        Ok(Location {
            provider: self,
            config_dir,
            source: Source::Default,
        })
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
            ("CODEX_HOME", ""),
            ("OPENCODE_CONFIG_DIR", "/o"),
            ("PI_CODING_AGENT_DIR", "/p"),
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
        assert_eq!(
            Provider::Pi.locate(&env).unwrap().config_dir,
            Path::new("/p")
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
        let env = env_of(&[("HOME", "/h"), ("CODEX_HOME", "~/.codex")]);
        let err = Provider::Codex.locate(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$CODEX_HOME is \"~/.codex\", not an absolute path: set it to an absolute path \
             (or unset it to use the default)"
        );
        let env = env_of(&[]);
        let err = Provider::Gemini.locate(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HOME is not set to an absolute path: cannot find the gemini configuration \
             directory (set HOME)"
        );
    }
}
