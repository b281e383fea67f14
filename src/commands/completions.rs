//! Shell completion: `agent-offload completions SHELL` prints a small script that asks
//! the binary itself for the candidates at each TAB (`clap_complete`'s dynamic
//! completion, `CompleteEnv`), so subcommands and options come from the same clap
//! definitions as the parser, and values from the user's state: `-p <TAB>` offers
//! the profiles of the config agent-offload would load from here, and a RUN argument
//! (`wait`, `show`, `logs`, `cancel`, `continue`) the run ids, newest first, after
//! `last`.
//!
//! The script calls `agent-offload` with [`COMPLETE_VAR`] set to the shell's name and
//! the words of the command line after `--`; `main` hands that request to
//! `CompleteEnv` before anything else. Completion never fails loudly: a broken config
//! or an unreadable state directory gives no candidates, and nothing on stderr (bash
//! would print it over the prompt).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use anyhow::Result;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::EnvCompleter;

use crate::{config, run};

/// The variable that turns a call of the binary into a completion request. Ours, not
/// `clap_complete`'s default `COMPLETE`, which another program's users may have set.
pub const COMPLETE_VAR: &str = "AGENT_OFFLOAD_COMPLETE";

/// The program the scripts call: found on PATH at each TAB, so a script written once
/// keeps working when the binary is upgraded or moved (Homebrew's Cellar path changes
/// with each version).
const PROGRAM: &str = "agent-offload";

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    use clap_complete::env::{Bash, Elvish, Fish, Powershell, Zsh};
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Elvish => &Elvish,
        clap_complete::Shell::Fish => &Fish,
        clap_complete::Shell::PowerShell => &Powershell,
        clap_complete::Shell::Zsh => &Zsh,
        other => anyhow::bail!("no completion script for {other}"),
    };
    let mut script = Vec::new();
    completer.write_registration(COMPLETE_VAR, PROGRAM, PROGRAM, PROGRAM, &mut script)?;
    if shell == clap_complete::Shell::Zsh {
        // Installed as `_agent-offload` in $fpath (the README's way), the file is the
        // body of an autoloaded function: its first call only defines the completer
        // and registers it, so complete this first TAB too.
        script.extend_from_slice(
            b"if [[ ${funcstack[1]-} == _agent-offload ]]; then\n    \
              _clap_dynamic_completer_agent_offload \"$@\"\nfi\n",
        );
    }
    super::print_document(&script)?;
    Ok(0)
}

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
    let Ok(root) = run::runs_root(&env) else {
        return Vec::new();
    };
    let runs = run::list(&root);
    let mut out = Vec::with_capacity(runs.len() + 1);
    if !runs.is_empty() {
        out.push(CompletionCandidate::new("last").help(Some("the newest run".into())));
    }
    for (order, r) in runs.iter().enumerate() {
        let help = run::Manifest::load(r)
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
