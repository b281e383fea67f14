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

use anyhow::Result;
use clap_complete::env::EnvCompleter;

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
