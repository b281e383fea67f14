//! `agent-offload install-skill` and `uninstall-skill`: the bundled skill into (or out
//! of) each agent CLI's user skill directory, one result line per provider on stdout.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use super::Env;
use super::tilde;
use crate::cli::{InstallSkillArgs, UninstallSkillArgs};
use crate::exit;
use crate::skill::install::{self, Action, Options};
use crate::skill::providers::{Location, Provider, Source};

pub fn install(args: &InstallSkillArgs, env: Env<'_>) -> Result<u8> {
    let locations = if args.all {
        locate(&Provider::ALL, env)?
    } else if !args.providers.is_empty() {
        locate(&args.providers, env)?
    } else {
        detect(env)?
    };
    let opts = Options {
        force: args.force,
        dry_run: args.dry_run,
    };
    let out = Printer::new(env);
    let mut failed = false;
    for loc in &locations {
        let file = loc.skill_file();
        match install::install(&file, opts) {
            Ok(action) => out.line(loc.provider, &file, action, opts.dry_run)?,
            Err(e) => {
                say!("agent-offload: {}: {e:#}", loc.provider);
                failed = true;
            }
        }
    }
    if opts.dry_run {
        say!("agent-offload: dry run: nothing was changed");
    }
    // A skipped copy is a result, not a failure: the person's version stays installed.
    Ok(if failed { exit::FAILED } else { exit::DONE })
}

pub fn uninstall(args: &UninstallSkillArgs, env: Env<'_>) -> Result<u8> {
    let explicit = !args.providers.is_empty();
    let locations = if explicit {
        locate(&args.providers, env)?
    } else {
        locate(&Provider::ALL, env)?
    };
    let opts = Options {
        force: args.force,
        dry_run: args.dry_run,
    };
    let out = Printer::new(env);
    let mut failed = false;
    let mut printed = false;
    for loc in &locations {
        let file = loc.skill_file();
        // Without --provider, only the places where there is something to remove.
        if !explicit && std::fs::symlink_metadata(&file).is_err() {
            continue;
        }
        match install::uninstall(&file, opts) {
            Ok(action) => {
                out.line(loc.provider, &file, action, opts.dry_run)?;
                printed = true;
                // The person asked for it to be gone and it is not: say so in the code.
                failed |= action == Action::SkippedModified;
            }
            Err(e) => {
                say!("agent-offload: {}: {e:#}", loc.provider);
                failed = true;
            }
        }
    }
    if !printed && !failed {
        let mut msg = String::from("agent-offload: the skill is not installed; checked:");
        for loc in &locations {
            let _ = write!(msg, "\n  {}", out.show(&loc.skill_file()));
        }
        say!("{msg}");
    }
    if opts.dry_run {
        say!("agent-offload: dry run: nothing was changed");
    }
    Ok(if failed { exit::FAILED } else { exit::DONE })
}

/// The locations of `providers`, each once, in the order given.
fn locate(providers: &[Provider], env: Env<'_>) -> Result<Vec<Location>> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for &p in providers {
        if !seen.contains(&p) {
            seen.push(p);
            out.push(p.locate(env)?);
        }
    }
    Ok(out)
}

/// The providers whose configuration directory exists; none is an error (exit 1)
/// listing every directory looked at and how to choose one anyway.
fn detect(env: Env<'_>) -> Result<Vec<Location>> {
    let all = locate(&Provider::ALL, env)?;
    let found: Vec<Location> = all
        .iter()
        .filter(|l| l.config_dir.is_dir())
        .cloned()
        .collect();
    if !found.is_empty() {
        return Ok(found);
    }
    let home = home(env);
    let mut msg = String::from("no agent CLI configuration directory found; looked for:");
    for loc in &all {
        let _ = write!(
            msg,
            "\n  {:<8}  {}",
            loc.provider.name(),
            tilde(&loc.config_dir, home.as_deref())
        );
        if let Source::Variable(var) = loc.source {
            let _ = write!(msg, " (${var})");
        }
    }
    let _ = write!(
        msg,
        "\ninstall anyway with --provider NAME ({}; repeatable), or --all for every one",
        Provider::NAMES.join(", ")
    );
    Err(anyhow!(msg))
}

fn home(env: Env<'_>) -> Option<PathBuf> {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
}

/// Result lines on stdout: `provider  path: what happened`, the path with `~`, the
/// outcome in colour only when stdout is a terminal and `NO_COLOR` is not set.
struct Printer {
    home: Option<PathBuf>,
    colour: bool,
}

impl Printer {
    fn new(env: Env<'_>) -> Printer {
        Printer {
            home: home(env),
            colour: crate::style::color_wanted(std::io::stdout().is_terminal(), env),
        }
    }

    fn show(&self, path: &Path) -> String {
        tilde(path, self.home.as_deref())
    }

    fn line(
        &self,
        provider: Provider,
        file: &Path,
        action: Action,
        dry_run: bool,
    ) -> std::io::Result<()> {
        let word = action.describe(dry_run);
        let code = match action {
            Action::Installed | Action::Updated | Action::Removed => Some("32"),
            Action::SkippedModified => Some("33"),
            Action::UpToDate | Action::NotInstalled => None,
        };
        let word = match code {
            Some(code) if self.colour => format!("\x1b[{code}m{word}\x1b[0m"),
            _ => word.to_owned(),
        };
        super::outln!("{:<8}  {}: {word}", provider.name(), self.show(file))
    }
}
