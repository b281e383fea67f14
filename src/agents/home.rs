//! The one rule for finding an agent CLI's own directory (`~/.claude`, `$CODEX_HOME`,
//! ...), used for its transcripts, its session store, its skills and Cursor's trust
//! marker alike: the CLI's override variable when it is set and not empty, `~` and
//! `~/…` in it expanded as the CLIs expand them; else the default under `$HOME`. The
//! result must be an absolute path: a relative one is refused (the CLI would resolve
//! it against whatever directory it starts in), and so is a missing or relative
//! `$HOME`. Callers word the refusal for their context: an error where a person asked
//! for the directory (`install-skill`, Cursor's trust), "not found" where it is only
//! looked into (usage from a transcript).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment a directory is resolved in (the agent's, or ours).
pub type Env<'a> = dyn Fn(&str) -> Option<OsString> + 'a;

/// A CLI's directory and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    pub dir: PathBuf,
    pub source: Source,
}

/// Where a CLI's directory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The CLI's override variable, e.g. `CODEX_HOME`.
    Variable(&'static str),
    /// The default under the home directory (or `$XDG_CONFIG_HOME`).
    Default,
}

/// Why a CLI's directory cannot be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HomeError {
    /// The override variable is set to a path that is not absolute.
    Relative { var: &'static str, value: PathBuf },
    /// `$HOME` is not set to an absolute path; `var` would override the default.
    NoHome { var: Option<&'static str> },
}

/// A variable's value, unless unset or empty.
fn set(env: &Env<'_>, name: &str) -> Option<OsString> {
    env(name).filter(|v| !v.is_empty())
}

/// `$HOME`, absolute only.
pub fn home(env: &Env<'_>) -> Option<PathBuf> {
    set(env, "HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
}

/// `$VAR` as the rule reads it: `None` when unset or empty, `~` expanded, refused when
/// not absolute.
pub fn variable(env: &Env<'_>, var: &'static str) -> Result<Option<PathBuf>, HomeError> {
    let Some(value) = set(env, var) else {
        return Ok(None);
    };
    let dir = expand_tilde(&value, home(env).as_deref());
    if dir.is_absolute() {
        Ok(Some(dir))
    } else {
        Err(HomeError::Relative {
            var,
            value: PathBuf::from(value),
        })
    }
}

/// `$VAR` (see [`variable`]), else `$HOME/default` (`$HOME` itself for an empty
/// `default`).
pub fn resolve(env: &Env<'_>, var: &'static str, default: &str) -> Result<Home, HomeError> {
    if let Some(dir) = variable(env, var)? {
        return Ok(Home {
            dir,
            source: Source::Variable(var),
        });
    }
    under_home(env, default, Some(var))
}

/// `$HOME/default` (`$HOME` itself for an empty `default`).
pub fn under_home(
    env: &Env<'_>,
    default: &str,
    var: Option<&'static str>,
) -> Result<Home, HomeError> {
    let home = home(env).ok_or(HomeError::NoHome { var })?;
    let dir = if default.is_empty() {
        home
    } else {
        home.join(default)
    };
    Ok(Home {
        dir,
        source: Source::Default,
    })
}

/// `~` and `~/…` in a variable's value, as the CLIs expand them.
fn expand_tilde(value: &std::ffi::OsStr, home: Option<&Path>) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let bytes = value.as_bytes();
    match (bytes.strip_prefix(b"~"), home) {
        (Some(b""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with(b"/") => {
            let rest = std::ffi::OsStr::from_bytes(rest);
            h.join(Path::new(rest).strip_prefix("/").unwrap_or(Path::new(rest)))
        }
        _ => PathBuf::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn one_rule_for_every_directory() {
        let env = env_of(&[
            ("HOME", "/h"),
            ("A", "~/x"),
            ("B", "~"),
            ("C", "rel"),
            ("D", ""),
        ]);
        let dir = |var| resolve(&env, var, ".d").map(|h| h.dir);
        assert_eq!(dir("A"), Ok(PathBuf::from("/h/x")));
        assert_eq!(dir("B"), Ok(PathBuf::from("/h")));
        assert_eq!(
            dir("C"),
            Err(HomeError::Relative {
                var: "C",
                value: PathBuf::from("rel")
            })
        );
        // Empty is unset.
        assert_eq!(dir("D"), Ok(PathBuf::from("/h/.d")));
        assert_eq!(resolve(&env, "D", ".d").unwrap().source, Source::Default);
        assert_eq!(
            resolve(&env, "A", ".d").unwrap().source,
            Source::Variable("A")
        );
        // Without HOME, `~` is not expanded, so refused; the default cannot be told.
        let env = env_of(&[("A", "~/x"), ("HOME", "rel")]);
        assert!(matches!(
            resolve(&env, "A", ".d"),
            Err(HomeError::Relative { .. })
        ));
        assert_eq!(
            resolve(&env, "B", ".d"),
            Err(HomeError::NoHome { var: Some("B") })
        );
    }
}
