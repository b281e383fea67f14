//! The candidates completion offers for values, asked of the binary at each TAB (see
//! `commands::completions` for the scripts): `-p <TAB>` the profiles of the config this
//! command line would load, a RUN argument `last` and the run ids. Never fails loudly:
//! a broken config or an unreadable state directory gives no candidates.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use crate::config;
use crate::store::dir as store;

/// `-p`/`--profile`: the profiles of the config this command line would load (its
/// `--config`, else discovery from the current directory), each with its command.
pub fn profiles() -> Vec<CompletionCandidate> {
    let Ok(cwd) = std::env::current_dir() else {
        return Vec::new();
    };
    let env = |k: &str| std::env::var_os(k);
    let flag = config_flag(std::env::args_os());
    let Ok(config) = config::discover_and_load(flag.as_deref(), &cwd, &env) else {
        return Vec::new();
    };
    config
        .profiles
        .values()
        .map(|p| CompletionCandidate::new(&p.name).help(Some(p.command.clone().into())))
        .collect()
}

/// A RUN argument: `last`, then every run id, newest first, with its status and
/// profile.
pub fn runs() -> Vec<CompletionCandidate> {
    let env = |k: &str| std::env::var_os(k);
    let Ok(root) = store::runs_root(&env) else {
        return Vec::new();
    };
    let runs = store::list(&root);
    let mut out = Vec::with_capacity(runs.len() + 1);
    if !runs.is_empty() {
        out.push(CompletionCandidate::new("last").help(Some("the newest run".into())));
    }
    for (order, r) in runs.iter().enumerate() {
        let help = store::Manifest::load(r)
            .ok()
            .map(|m| format!("{} {}", m.status.as_str(), m.profile).into());
        out.push(
            CompletionCandidate::new(&r.id)
                .help(help)
                .display_order(Some(order + 1)),
        );
    }
    out
}

/// The value of `--config` among the words being completed (`--config PATH` or
/// `--config=PATH`), which come after the `--` the scripts pass.
fn config_flag(args: impl IntoIterator<Item = OsString>) -> Option<PathBuf> {
    let words: Vec<OsString> = args.into_iter().skip_while(|a| a != "--").skip(1).collect();
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        if word == "--" {
            break;
        }
        if word == "--config" {
            found = words.get(i + 1).map(PathBuf::from);
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--config=")) {
            found = Some(PathBuf::from(value));
        }
    }
    found.filter(|p| p.as_os_str() != OsStr::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_config_flag_is_read_from_the_words_after_the_separator() {
        let line = |w: &[&str]| config_flag(words(w));
        assert_eq!(line(&["ao", "--", "ao", "-p", ""]), None);
        assert_eq!(
            line(&["ao", "--", "ao", "--config", "/c.yaml", "-p", ""]),
            Some(PathBuf::from("/c.yaml"))
        );
        assert_eq!(
            line(&["ao", "--", "ao", "--config=/c.yaml", "-p", ""]),
            Some(PathBuf::from("/c.yaml"))
        );
        // Not the completion's own arguments, and nothing after the prompt's `--`.
        assert_eq!(line(&["ao", "--config", "/x", "--", "ao", "-p"]), None);
        assert_eq!(line(&["ao", "--", "ao", "--", "--config", "/x"]), None);
        assert_eq!(line(&["ao", "--", "ao", "--config"]), None);
    }
}
