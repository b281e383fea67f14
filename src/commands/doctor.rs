//! `agent-offload doctor`: one line per check, ✓ or ✗ with the fix; exit 1 when
//! anything is broken. Informational lines (`-`) never fail it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use super::{Env, tilde};
use crate::cli::DoctorArgs;
use crate::config::{self, Config, Found};
use crate::profile::{EnvValue, Headless};
use crate::skill::providers::Provider;
use crate::style::{Paint, color_wanted};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Info,
    Broken,
}

struct Check {
    level: Level,
    text: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn ok(&mut self, text: impl Into<String>) {
        self.0.push(Check {
            level: Level::Ok,
            text: text.into(),
            fix: None,
        });
    }

    fn info(&mut self, text: impl Into<String>) {
        self.0.push(Check {
            level: Level::Info,
            text: text.into(),
            fix: None,
        });
    }

    fn broken(&mut self, text: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Check {
            level: Level::Broken,
            text: text.into(),
            fix: Some(fix.into()),
        });
    }
}

pub fn run(args: &DoctorArgs, env: Env<'_>) -> Result<u8> {
    let cwd = std::env::current_dir()?;
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let shown = |p: &Path| tilde(p, home.as_deref());
    let mut checks = Checks::default();

    let config = check_config(args, &cwd, env, &shown, &mut checks);
    let needs_tmux = config.as_ref().is_none_or(|c| {
        c.profiles
            .values()
            .any(|p| p.headless.unwrap_or(c.headless) == Headless::No)
    });
    // tmux first in the output: it is what most setups trip on.
    let mut head = Checks::default();
    check_tmux(env, needs_tmux, &mut head);
    head.0.append(&mut checks.0);
    let mut checks = head;
    if let Some(config) = &config {
        check_profiles(config, env, &shown, &mut checks);
    }
    check_state_dir(env, &shown, &mut checks);
    checks.info(format!("waiting: {}", crate::run::describe_waiting()));
    check_skill(env, &shown, &mut checks);

    let paint = Paint {
        color: color_wanted(std::io::stdout().is_terminal(), env),
    };
    let mut broken = 0;
    for c in &checks.0 {
        let mark = match c.level {
            Level::Ok => paint.good("✓"),
            Level::Info => paint.dim("-"),
            Level::Broken => {
                broken += 1;
                paint.bad("✗")
            }
        };
        match &c.fix {
            Some(fix) => super::outln!("{mark} {} — fix: {fix}", c.text)?,
            None => super::outln!("{mark} {}", c.text)?,
        }
    }
    if broken == 0 {
        super::outln!("{}", paint.good("everything needed is in place"))?;
        Ok(0)
    } else {
        let s = if broken == 1 { "" } else { "s" };
        super::outln!("{}", paint.bad(&format!("{broken} problem{s} found")))?;
        Ok(crate::exit::FAILED)
    }
}

fn check_tmux(env: Env<'_>, needed: bool, checks: &mut Checks) {
    match crate::search_path::find("tmux", env("PATH").as_deref()) {
        Some(path) => {
            let version = Command::new(&path)
                .arg("-V")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
            match version {
                Some(v) => checks.ok(format!("{v} ({})", path.display())),
                None => checks.broken(format!("{} -V failed", path.display()), "reinstall tmux"),
            }
        }
        None if needed => checks.broken(
            "tmux is not on PATH (tmux-mode profiles need it)",
            "install tmux (apt-get install tmux, brew install tmux), or run headless with -H \
             or `headless: true`",
        ),
        None => checks.info("tmux is not on PATH (not needed: no profile needs a pane)"),
    }
    match (env("TMUX"), env("TMUX_PANE")) {
        (Some(_), Some(pane)) => {
            checks.ok(format!("inside tmux (pane {})", pane.to_string_lossy()));
        }
        _ => checks.info(
            "not inside tmux: tmux-mode runs must be started from a tmux pane; headless (-H) \
             runs work anywhere",
        ),
    }
}

fn check_config(
    args: &DoctorArgs,
    cwd: &Path,
    env: Env<'_>,
    shown: &dyn Fn(&Path) -> String,
    checks: &mut Checks,
) -> Option<Config> {
    let found = match config::find(args.config.as_deref(), cwd, env) {
        Ok(found) => found,
        Err(e) => {
            checks.broken(
                format!("config: {e:#}"),
                "fix the path, or unset $AGENT_OFFLOAD_CONFIG",
            );
            return None;
        }
    };
    match found {
        Found::File(path, origin) => match config::load(&path, origin, env) {
            Ok(c) => {
                checks.ok(format!(
                    "config {} ({}) is valid: {} profile{}, default {}",
                    shown(&path),
                    origin.describe(),
                    c.profiles.len(),
                    if c.profiles.len() == 1 { "" } else { "s" },
                    c.default_profile
                ));
                Some(c)
            }
            Err(e) => {
                // Each mistake the loader found, a check of its own.
                for mistake in format!("{e:#}").split(crate::exit::NEXT_PROBLEM) {
                    checks.broken(
                        format!("config {}: {mistake}", shown(&path)),
                        "edit the file at that line (`agent-offload config schema` gives \
                         editors the rules)",
                    );
                }
                None
            }
        },
        Found::Nothing { looked } => {
            let detected = config::detect(env("PATH").as_deref());
            let c = config::builtin::config(&detected);
            if let Some(c) = &c {
                let names: Vec<&str> = c.profiles.keys().map(String::as_str).collect();
                checks.ok(format!(
                    "no config file; built-in profiles for the agent CLIs on PATH: {} (default \
                     {}); `agent-offload init` writes a config to change them",
                    names.join(", "),
                    c.default_profile
                ));
            } else {
                let places: Vec<String> = looked.iter().map(|p| shown(p)).collect();
                checks.broken(
                    format!(
                        "no config file (looked at {}) and no agent CLI on PATH (looked for {})",
                        places.join(", "),
                        crate::agents::Builtin::all_executables().join(", ")
                    ),
                    "install an agent CLI, or write a config with `agent-offload init`",
                );
            }
            c
        }
    }
}

fn check_profiles(
    config: &Config,
    env: Env<'_>,
    shown: &dyn Fn(&Path) -> String,
    checks: &mut Checks,
) {
    let path_var = env("PATH");
    let is_root = rustix::process::geteuid().is_root();
    for p in config.profiles.values() {
        let where_ = p
            .defined_in
            .as_deref()
            .map_or_else(|| "a config file (`agent-offload init`)".to_owned(), shown);
        let path = p.agent_path(path_var.clone());
        match p.command_problem(path.as_deref(), &where_) {
            None => {
                let found = crate::search_path::find(&p.command, path.as_deref())
                    .map_or_else(String::new, |f| shown(&f));
                checks.ok(if found == p.command {
                    format!("profile {}: {}", p.name, p.command)
                } else {
                    format!("profile {}: {} → {found}", p.name, p.command)
                });
            }
            Some((problem, fix)) => checks.broken(problem, fix),
        }
        if !p.pass_env.is_empty() {
            let set = std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .filter(|k| crate::config::passes(&p.pass_env, k))
                .count();
            checks.ok(format!(
                "profile {}: pass_env {} ({set} set here; handed to the agent in a pane too)",
                p.name,
                p.pass_env.join(", ")
            ));
        }
        let mut agent_vars: Vec<&str> = Vec::new();
        for (name, value) in &p.env {
            agent_vars.push(name);
            if let EnvValue::FromEnv(var) = value {
                if env(var).is_some() {
                    checks.ok(format!("profile {}: env {name} from ${var} (set)", p.name));
                } else {
                    checks.broken(
                        format!(
                            "profile {}: env {name} takes its value from ${var}, which is not set",
                            p.name
                        ),
                        format!("export {var} in the shell that runs agent-offload"),
                    );
                }
            }
        }
        let var_set = |v: &str| agent_vars.contains(&v) || env(v).is_some();
        if let Some(problem) =
            crate::agents::cli(p.interface).launch_problem(&p.args, &var_set, is_root)
        {
            checks.broken(
                format!("profile {}: {problem}", p.name),
                format!("edit {where_}"),
            );
        }
    }
}

fn check_state_dir(env: Env<'_>, shown: &dyn Fn(&Path) -> String, checks: &mut Checks) {
    let root = match crate::run::runs_root(env) {
        Ok(r) => r,
        Err(e) => {
            let link = matches!(
                e.downcast_ref::<crate::store::dir::RootError>(),
                Some(crate::store::dir::RootError::Link { .. })
            );
            let fix = if link {
                "remove the link; agent-offload makes the directory itself"
            } else {
                "set HOME or XDG_STATE_HOME"
            };
            checks.broken(format!("state directory: {e:#}"), fix);
            return;
        }
    };
    // The nearest existing ancestor decides whether the runs directory can be made:
    // checking it leaves nothing behind.
    let existing = root
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let writable = existing.is_dir()
        && rustix::fs::access(
            existing,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
        .is_ok();
    if writable {
        let note = if existing == root {
            ""
        } else {
            " (created on the first run)"
        };
        checks.ok(format!(
            "state directory {} is writable{note}",
            shown(&root)
        ));
    } else {
        checks.broken(
            format!(
                "state directory {}: {} is not a writable directory",
                shown(&root),
                shown(existing)
            ),
            "fix its permissions, or point XDG_STATE_HOME at a writable directory",
        );
    }
}

/// The state of the installed skill file, compared with the bundled text.
#[derive(Debug, PartialEq, Eq)]
enum SkillState {
    Current,
    Outdated,
    Modified,
    Missing,
}

fn skill_state(skill_md: &Path) -> SkillState {
    match std::fs::read(skill_md) {
        Ok(content) => match crate::skill::classify(&content) {
            crate::skill::Copy::Current => SkillState::Current,
            crate::skill::Copy::Outdated => SkillState::Outdated,
            crate::skill::Copy::Modified => SkillState::Modified,
        },
        Err(_) => SkillState::Missing,
    }
}

fn check_skill(env: Env<'_>, shown: &dyn Fn(&Path) -> String, checks: &mut Checks) {
    let locations: Vec<_> = Provider::ALL
        .iter()
        .filter_map(|p| p.locate(env).ok())
        .collect();
    let mut any = false;
    for loc in locations.iter().filter(|l| l.config_dir.is_dir()) {
        any = true;
        let name = loc.provider.name();
        let skill_md = loc.skill_file();
        match skill_state(&skill_md) {
            SkillState::Current => {
                checks.ok(format!("skill for {name}: {} is current", shown(&skill_md)));
            }
            SkillState::Modified => checks.ok(format!(
                "skill for {name}: {} installed (modified locally; kept as it is)",
                shown(&skill_md)
            )),
            SkillState::Outdated => checks.broken(
                format!(
                    "skill for {name}: {} is from an older version",
                    shown(&skill_md)
                ),
                format!("agent-offload install-skill --provider {name}"),
            ),
            SkillState::Missing => checks.broken(
                format!("skill for {name}: {} is missing", shown(&skill_md)),
                format!("agent-offload install-skill --provider {name}"),
            ),
        }
    }
    if !any {
        let dirs: Vec<String> = locations.iter().map(|l| shown(&l.config_dir)).collect();
        checks.info(format!(
            "skill: no host agent configuration directory found ({})",
            dirs.join(", ")
        ));
    }
}
