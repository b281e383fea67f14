//! The run directory: ids, creation with private permissions, atomic writes, and the
//! `run.json` manifest. Both modes, and any later waiter, share this layout.

use std::ffi::OsString;
use std::fs::{self, DirBuilder};
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::interface::{Interface, Mode};
pub use crate::outcome::Status;

pub const PROMPT: &str = "prompt.md";
/// The task as the user wrote it, without the completion instructions.
pub const TASK: &str = "task.md";
pub const LAUNCHER: &str = "launch.sh";
pub const MANIFEST: &str = "run.json";
pub const DONE: &str = "done.md";
pub const DONE_TMP: &str = "done.md.tmp";
pub const EXIT: &str = "exit";
pub const OUTPUT: &str = "output.log";
pub const ENV_FIFO: &str = "env.fifo";
/// The agent's question for whoever delegated the task, published like `done.md`.
pub const QUESTION: &str = "question.md";
pub const QUESTION_TMP: &str = "question.md.tmp";
/// Where an agent of a generic profile may report its session id.
pub const SESSION_ID: &str = "session_id";
/// A headless agent's structured output, as the CLI wrote it (JSON lines).
pub const EVENTS: &str = "events.jsonl";
/// What agent-offload read from the structured output: session id, final message,
/// error, usage (see `relay`).
pub const STREAM: &str = "stream.json";
/// How far a pane run's usage was read in its CLI's transcript, and the tally so far
/// (see `session::transcript_usage`).
pub const TRANSCRIPT_USAGE: &str = "transcript-usage.json";

/// The largest `run.json` read (its change list is the only part that grows).
const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

/// The lock file that places panes one at a time, beside the runs directory.
pub const PLACEMENT_LOCK: &str = "pane-placement.lock";

/// `$XDG_STATE_HOME/agent-offload/runs`, or `~/.local/state/agent-offload/runs`.
///
/// Refused when it, or the pane-placement lock beside it, is a symbolic link: run
/// directories, their secrets' FIFO and the lock would otherwise be made wherever the
/// link points (issue 16). Every command finds the runs here, so none follows one.
pub fn runs_root(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let base = env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })
        .ok_or(RootError::NoHome)?;
    let state = base.join("agent-offload");
    refuse_symlink(&state.join(PLACEMENT_LOCK))?;
    let root = state.join("runs");
    refuse_symlink(&root)?;
    Ok(root)
}

/// Why there is no runs directory to use.
#[derive(Debug)]
pub enum RootError {
    /// Neither `XDG_STATE_HOME` (absolute) nor `HOME` is set.
    NoHome,
    /// A symbolic link where agent-offload keeps its state (`to`: where it points).
    Link { path: PathBuf, to: Option<PathBuf> },
}

impl std::fmt::Display for RootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootError::NoHome => f.write_str(
                "neither XDG_STATE_HOME nor HOME is set: nowhere to keep run directories",
            ),
            RootError::Link { path, to } => {
                let to = to
                    .as_ref()
                    .map_or_else(String::new, |t| format!(" (to {})", t.display()));
                write!(
                    f,
                    "{} is a symbolic link{to}: agent-offload does not follow links in its \
                     state directory; remove the link (rm {})",
                    path.display(),
                    crate::shell::quote(&path.to_string_lossy())
                )
            }
        }
    }
}

impl std::error::Error for RootError {}

/// An error naming `path` if it is a symbolic link; anything else (a directory, a file,
/// nothing yet) is fine here.
fn refuse_symlink(path: &Path) -> Result<(), RootError> {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    Err(RootError::Link {
        path: path.to_path_buf(),
        to: fs::read_link(path).ok(),
    })
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
        // `runs_root` refused a link; one made since would have been followed above.
        refuse_symlink(root)?;
        let now = Timestamp::now();
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
    // No fsync: rename already gives readers all-or-nothing, and run state is not
    // worth the milliseconds a sync costs on the path from done.md to exit.
    crate::atomic::write_unsynced(target, bytes, mode)
}

/// `run.json`. Field names are part of the interface: tools read them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: String,
    pub profile: String,
    /// The agent CLI the profile starts (absent in runs from before 0.3).
    #[serde(default)]
    pub interface: Option<Interface>,
    pub mode: Mode,
    pub cwd: PathBuf,
    /// The agent's command line; the prompt argument is shown as `<prompt.md>`.
    pub command: Vec<String>,
    /// The profile's environment, with every `from_env` value replaced by its source.
    pub env: Vec<(String, String)>,
    pub pid: Option<u32>,
    pub pane: Option<String>,
    #[serde(with = "stamp")]
    pub started_at: Timestamp,
    #[serde(with = "opt_stamp")]
    pub finished_at: Option<Timestamp>,
    pub status: Status,
    /// The agent's exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// What happened, in words, when the run did not end with a summary.
    pub reason: Option<String>,
    /// The code agent-offload exited with.
    pub agent_offload_exit: Option<u8>,
    /// tmux mode: the server's socket, so any later process can close the pane.
    #[serde(default)]
    pub tmux_socket: Option<String>,
    /// The launcher process (pane's first process, or the headless `sh launch.sh`).
    #[serde(default)]
    pub launcher: Option<ProcessId>,
    /// The background process that finishes the run if the process waiting for it is
    /// gone (closes the pane when the summary appears, enforces the deadline, records
    /// the outcome): started for a detached run, a run with a deadline, a pane.
    #[serde(default)]
    pub guard: Option<ProcessId>,
    /// The `agent-offload run` process that started the run and waits for it; the
    /// guard leaves the run to it while it lives.
    #[serde(default)]
    pub waiter: Option<ProcessId>,
    /// When the run's `--timeout` expires.
    #[serde(default, with = "opt_stamp")]
    pub deadline_at: Option<Timestamp>,
    /// The working tree when the run started (in a git repository).
    #[serde(default)]
    pub git: Option<crate::store::record::Snapshot>,
    /// What the run changed, computed when it ended.
    #[serde(default)]
    pub changes: Option<crate::store::record::Changes>,
    /// The agent CLI's session: assigned at the start where the CLI allows it, else
    /// read from its output or its session store as soon as it is known.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The run this one continues (`agent-offload continue`).
    #[serde(default)]
    pub parent: Option<String>,
    /// How this run continues its parent: `resume` (the same session) or `handoff` (a
    /// fresh session of another CLI, seeded with what the parent produced).
    #[serde(default)]
    pub continuation: Option<Continuation>,
    /// Budgets, prices, and what earlier runs of a resumed session used.
    #[serde(default)]
    pub meter: Option<crate::usage::Meter>,
    /// The tokens this run used, as its CLI reported them.
    #[serde(default)]
    pub usage: Option<crate::usage::Tokens>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub cost_source: Option<crate::usage::CostSource>,
    /// The stall detector's view of a running run (see `--stall-after`).
    #[serde(default)]
    pub health: Option<Health>,
    /// A pane run resuming a session: the size of the session's transcript when it
    /// started (its usage is what is written after).
    #[serde(default)]
    pub transcript_from: Option<u64>,
    /// Who or what ended the run: `agent`, `pane_closed`, `timeout`, `cancel`,
    /// `signal`, `budget`, `stall`, `unknown`.
    #[serde(default)]
    pub ended_by: Option<crate::outcome::EndedBy>,
    /// What the run does about stalls (`None`: not watched).
    #[serde(default)]
    pub stall: Option<crate::store::record::StallPolicy>,
    /// The git worktree the agent works in (`--worktree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<crate::store::record::Worktree>,
    /// The fan-out this run is one candidate of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<String>,
    /// `--check CMD` and, once it ran, its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::store::record::Check>,
}

/// Whether a run shows signs of work: new output or events, CPU time of the agent's
/// processes. Written by whoever waits on the run, when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub state: HealthState,
    /// Why it looks stalled, when it does.
    #[serde(default)]
    pub stall: Option<StallKind>,
    /// The last sign of work seen.
    #[serde(default, with = "opt_stamp")]
    pub last_activity: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Working,
    Stalled,
}

crate::names::names! {
    /// What a stalled run is stuck on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum StallKind {
        /// Nothing at all since the agent was launched.
        NoStart = "no_start",
        /// No CPU and no output: waiting on the model's API (a half-open stream).
        ApiStall = "api_stall",
        /// The pane shows a permission dialog the CLI stopped at.
        ApprovalPrompt = "approval_prompt",
        /// The agent answered (its final message is there) but never published.
        IdleAfterAnswer = "idle_after_answer",
    }
}

/// How a run continues the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Continuation {
    Resume,
    Handoff,
}

pub use crate::os::ProcessId;

impl Manifest {
    pub fn save(&self, dir: &RunDir) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).context("cannot encode run.json")?;
        json.push(b'\n');
        dir.write_atomic(MANIFEST, &json, 0o600)
    }

    /// Reads `run.json` as untrusted input (the agent can write in its directory): never
    /// through a link, never blocking on a FIFO, bounded.
    pub fn load(dir: &RunDir) -> Result<Manifest> {
        let path = dir.file(MANIFEST);
        let bytes = crate::store::untrusted::read_whole(&path, MANIFEST_LIMIT)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid run.json", path.display()))
    }

    /// The deadline, if any, as an instant of this process's clock.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        let left = self.deadline_at?.duration_since(Timestamp::now());
        let left = std::time::Duration::try_from(left).unwrap_or(std::time::Duration::ZERO);
        std::time::Instant::now().checked_add(left)
    }

    /// Seconds from start to finish (or to now, while running).
    pub fn duration(&self) -> Option<std::time::Duration> {
        let end = self.finished_at.unwrap_or_else(Timestamp::now);
        std::time::Duration::try_from(end.duration_since(self.started_at)).ok()
    }

    /// The directory the run was started from: its `cwd`, or for a run in a worktree
    /// the same place in the checkout the worktree was made from.
    pub fn origin(&self) -> PathBuf {
        match &self.worktree {
            Some(wt) => match self.cwd.strip_prefix(&wt.path) {
                // Not `join("")`, which would add a trailing `/` to what is shown.
                Ok(rel) if rel.as_os_str().is_empty() => wt.repo.clone(),
                Ok(rel) => wt.repo.join(rel),
                Err(_) => wt.repo.clone(),
            },
            None => self.cwd.clone(),
        }
    }

    /// The code agent-offload exits with for this run: the one recorded, or the one its
    /// status implies; then what its `--check` made of it (`exit::after_check`).
    pub fn exit_code(&self) -> u8 {
        let code = self
            .agent_offload_exit
            .unwrap_or_else(|| crate::exit::for_status(self.status));
        match &self.check {
            Some(c) => crate::exit::after_check(code, c.passed, c.signal),
            None => code,
        }
    }
}

impl RunDir {
    pub fn open(path: PathBuf) -> RunDir {
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        RunDir { id, path }
    }
}

/// Every run directory under `root`, newest first. Entries that are not run
/// directories (no `run.json`) are skipped.
pub fn list(root: &Path) -> Vec<RunDir> {
    // Never through a link (`runs_root` refuses one; this is the last word).
    if refuse_symlink(root).is_err() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut runs: Vec<RunDir> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type().ok()?.is_dir().then(|| RunDir::open(e.path()))
        })
        .filter(|r| r.file(MANIFEST).is_file())
        .collect();
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    runs
}

/// Finds a run by id, unique id prefix, or `last` (the newest).
pub fn resolve(root: &Path, spec: &str) -> Result<RunDir> {
    let runs = list(root);
    if spec == "last" {
        return runs
            .into_iter()
            .next()
            .ok_or_else(|| crate::exit::usage(format!("no runs yet in {}", root.display())));
    }
    if let Some(exact) = runs.iter().find(|r| r.id == spec) {
        return Ok(exact.clone());
    }
    let matches: Vec<&RunDir> = runs.iter().filter(|r| r.id.starts_with(spec)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(crate::exit::usage(format!(
            "no run matches \"{spec}\" in {} (see agent-offload runs)",
            root.display()
        ))),
        many => Err(crate::exit::usage(format!(
            "\"{spec}\" matches {} runs: {}{}",
            many.len(),
            many.iter()
                .take(5)
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if many.len() > 5 { ", ..." } else { "" }
        ))),
    }
}

/// RFC 3339 in UTC with exactly three fractional digits, so that the text sorts like
/// the time it names (`41.790Z` before `41.798Z`).
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `run.json` times: [`rfc3339`] text.
mod stamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod opt_stamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // the signature serde's `with` asks for
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&super::rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
