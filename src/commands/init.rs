//! `agent-offload init [--project] [--force]`: write a commented starter config.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Env;
use crate::cli::InitArgs;
use crate::config::{self, starter};
use crate::exit::usage;

pub fn run(args: &InitArgs, env: Env<'_>) -> Result<u8> {
    let target = if args.project {
        std::env::current_dir()
            .context("cannot determine the current directory")?
            .join(config::PROJECT_FILE)
    } else {
        config::user_config_path(env).ok_or_else(|| {
            usage("neither XDG_CONFIG_HOME nor HOME is set: nowhere to write the user config (use --project)")
        })?
    };
    if target.exists() && !args.force {
        return Err(usage(format!(
            "{} already exists; not overwriting it (add --force to replace it)",
            target.display()
        )));
    }
    let detected = config::detect(env("PATH").as_deref());
    let text = starter::render(&detected);
    write_atomic(&target, text.as_bytes())?;
    super::outln!("wrote {}", target.display())?;
    if detected.is_empty() {
        super::outln!(
            "no agent CLI found on PATH (looked for {}): the file has a claude profile to edit",
            crate::agents::Builtin::all_executables().join(", ")
        )?;
    } else {
        for d in &detected {
            super::outln!("  profile {:<9} {}", d.builtin.profile, d.path.display())?;
        }
    }
    super::outln!(
        "next: `agent-offload doctor` checks the setup; `agent-offload profiles` lists the profiles"
    )?;
    Ok(0)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a
/// reader never sees half a config.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp: PathBuf = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
