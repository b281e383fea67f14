//! The run directory: ids, creation with private permissions, atomic writes, and the
//! `run.json` manifest. Both modes, and any later waiter, share this layout.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::interface::Mode;

pub const PROMPT: &str = "prompt.md";
pub const LAUNCHER: &str = "launch.sh";
pub const MANIFEST: &str = "run.json";
pub const DONE: &str = "done.md";
pub const DONE_TMP: &str = "done.md.tmp";
pub const EXIT: &str = "exit";
pub const OUTPUT: &str = "output.log";
pub const ENV_FIFO: &str = "env.fifo";

/// `$XDG_STATE_HOME/agent-offload/runs`, or `~/.local/state/agent-offload/runs`.
pub fn runs_root(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let base = env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })
        .context("neither XDG_STATE_HOME nor HOME is set: nowhere to keep run directories")?;
    Ok(base.join("agent-offload/runs"))
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new, uniquely named run directory (mode 0700). Ids start with the UTC
    /// start time to the millisecond so they sort by start; a random suffix keeps runs
    /// started in the same millisecond apart, and `mkdir` failing on an existing name
    /// makes uniqueness certain rather than likely.
    pub fn create(root: &Path) -> Result<RunDir> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("cannot create the runs directory {}", root.display()))?;
        let now = jiff::Timestamp::now();
        let stamp = format!(
            "{}-{:03}",
            now.strftime("%Y%m%d-%H%M%S"),
            now.subsec_millisecond()
        );
        let state = std::hash::RandomState::new();
        for attempt in 0u32..1000 {
            let mut h = state.build_hasher();
            h.write_u32(std::process::id());
            h.write_u32(attempt);
            h.write_i128(now.as_nanosecond());
            let id = format!("{stamp}-{:04x}", h.finish() & 0xffff);
            let path = root.join(&id);
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(RunDir { id, path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create run directory {}", path.display())
                    });
                }
            }
        }
        anyhow::bail!("could not find a free run id in {}", root.display())
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `name` atomically: a temporary file in the same directory, then renamed
    /// over the target, so a reader sees the old content or the new, never half.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> Result<()> {
        write_atomic(&self.file(name), bytes, mode)
    }
}

pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = target.with_extension(format!(
        "{}tmp-{}",
        target
            .extension()
            .map(|e| format!("{}.", e.to_string_lossy()))
            .unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // No fsync: rename already gives readers all-or-nothing, and run state is not
        // worth the milliseconds a sync costs on the path from done.md to exit.
        fs::rename(&tmp, target)
    };
    write().with_context(|| format!("cannot write {}", target.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Done,
    Failed,
    TimedOut,
    Cancelled,
}

/// `run.json`. Field names are part of the interface: tools read them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: String,
    pub profile: String,
    pub mode: Mode,
    pub cwd: PathBuf,
    /// The agent's command line; the prompt argument is shown as `<prompt.md>`.
    pub command: Vec<String>,
    /// The profile's environment, with every `from_env` value replaced by its source.
    pub env: Vec<(String, String)>,
    pub pid: Option<u32>,
    pub pane: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: Status,
    /// The agent's exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// What happened, in words, when the run did not end with a summary.
    pub reason: Option<String>,
    /// The code agent-offload exited with.
    pub agent_offload_exit: Option<u8>,
}

impl Manifest {
    pub fn save(&self, dir: &RunDir) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).context("cannot encode run.json")?;
        json.push(b'\n');
        dir.write_atomic(MANIFEST, &json, 0o600)
    }
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}
