//! Zero config: with no config file, a profile for each agent CLI found on PATH, from
//! the knowledge in `agents::BUILTINS`. The first found (in that order) is the
//! default.

use std::ffi::OsStr;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::{Config, Origin};
use crate::agents::{BUILTINS, Builtin};
use crate::profile::{EnvValue, Headless, Profile, PromptDelivery};

/// An agent CLI found on PATH.
#[derive(Debug)]
pub struct Detected {
    pub builtin: &'static Builtin,
    /// The executable name that was found (`cursor-agent` or `agent`, ...).
    pub executable: &'static str,
    pub path: PathBuf,
}

/// The known agent CLIs on `path`, in `BUILTINS` order.
pub fn detect(path: Option<&OsStr>) -> Vec<Detected> {
    BUILTINS
        .iter()
        .filter_map(|builtin| {
            builtin.executables.iter().find_map(|&executable| {
                crate::search_path::find(executable, path).map(|path| Detected {
                    builtin,
                    executable,
                    path,
                })
            })
        })
        .collect()
}

/// The built-in profiles for what was detected; `None` when nothing was.
pub fn config(detected: &[Detected]) -> Option<Config> {
    let default_profile = detected.first()?.builtin.profile.to_owned();
    let profiles: IndexMap<String, Profile> = detected
        .iter()
        .map(|d| (d.builtin.profile.to_owned(), profile(d)))
        .collect();
    Some(Config {
        path: None,
        origin: Origin::BuiltIn,
        default_profile,
        headless: Headless::No,
        worktree: None,
        focus: false,
        min_pane_width: super::DEFAULT_MIN_PANE_WIDTH,
        detach_after: None,
        stall_after: None,
        on_stall: None,
        max_tokens: None,
        max_cost: None,
        profiles,
    })
}

fn profile(d: &Detected) -> Profile {
    let b = d.builtin;
    Profile {
        name: b.profile.to_owned(),
        // The bare name: looked up on PATH when the agent starts, like a config's.
        command: d.executable.to_owned(),
        interface: b.interface,
        args: b.args.iter().map(|&a| a.to_owned()).collect(),
        env: b
            .env
            .iter()
            .map(|&(k, v)| (k.to_owned(), EnvValue::Literal(v.to_owned())))
            .collect(),
        prompt: PromptDelivery::Argument,
        headless: None,
        timeout: None,
        detach_after: None,
        focus: None,
        worktree: None,
        min_pane_width: None,
        resume_args: None,
        pass_env: Vec::new(),
        stall_after: None,
        on_stall: None,
        max_tokens: None,
        max_cost: None,
        price: None,
        trust_workspace: true,
        defined_in: None,
    }
}
