//! The record types `run.json` holds for the parts of a run other layers carry out
//! (the check, the stall policy, the worktree, the git snapshots and changes). Data
//! only: the code that fills them lives with what it does (`run/check.rs`,
//! `run/health.rs`, `git/worktree/`, `git/changes.rs`), as inherent impls there.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::profile::WorktreeStart as Start;

/// The check a run asked for, and once it ran, its result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub command: String,
    /// Whether it exited 0; `None` until it has run.
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Why it did not finish by itself (its time limit, a signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The signal to agent-offload that stopped it: the command then exits 128 + n.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub log: Option<PathBuf>,
}

/// What a run does about stalls; recorded in `run.json` so that whoever waits (the
/// run's own process, `wait`, the guard) applies the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallPolicy {
    /// Seconds without a sign of work.
    pub after_seconds: u64,
    /// Stop the agent (status `stalled`, exit 5) instead of warning.
    pub stop: bool,
}

/// A run's worktree, as recorded in `run.json` (field names are part of the interface).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Worktree {
    /// The worktree's top level.
    pub path: PathBuf,
    pub branch: String,
    /// The commit the branch starts from.
    pub base: String,
    pub start: Start,
    /// The top level of the checkout it was made from.
    pub repo: PathBuf,
    /// The tree the run's changes are measured against: the base commit's, or for
    /// `dirty` the working tree it started from.
    pub base_tree: String,
    /// Ignored files brought over by `.worktreeinclude` (copied) and `.worktreelink`
    /// (symbolic links), as paths relative to the top level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked: Vec<String>,
    /// `base_tree` with the included files as they were copied: an edit the run makes
    /// to one of them is its work too (applied, and kept by `discard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_tree: Option<String>,
    /// When its changes were applied to a checkout, and which tree was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Taken>,
    /// When its branch was merged, and which commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Taken>,
    /// When the worktree and the branch were removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
}

/// The work was taken into a checkout: when, what (a tree or a commit), where.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Taken {
    pub at: String,
    pub object: String,
    pub into: PathBuf,
}

/// The state of the working tree at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub toplevel: PathBuf,
    /// The repository's index file (copied, never written).
    #[serde(default)]
    pub index: Option<PathBuf>,
    /// `None` on an unborn branch.
    pub head: Option<String>,
    /// The tree object holding the working tree's content.
    pub tree: String,
    /// Ignored paths taken into the tree all the same: the files a worktree run was
    /// given by `.worktreeinclude`, whose edits are the run's work too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Changes {
    pub files: Vec<FileChange>,
    /// Commits made during the run, oldest first.
    pub commits: Vec<Commit>,
    pub insertions: u64,
    pub deletions: u64,
    /// The git trees compared (the working tree at the start and at the end), from
    /// which the run's diff can be written later (`git diff BASE TREE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_tree: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `modified`, `deleted`, `renamed`, `copied` or `type_changed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// `None` for binary files.
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub summary: String,
}

/// What the relay recorded for a run, read back (untrusted: the agent can write there).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Recorded {
    pub session_id: Option<String>,
    pub final_message: Option<String>,
    pub error: Option<String>,
    #[serde(default)]
    pub usage: Option<RecordedUsage>,
    #[serde(default)]
    pub usage_scope: Option<crate::usage::UsageScope>,
    #[serde(default)]
    pub over_budget: Option<String>,
}

/// `stream.json`'s usage: [`crate::usage::Tokens`] and the reported cost.
#[derive(Debug, Default, Clone, Copy, serde::Deserialize)]
pub struct RecordedUsage {
    #[serde(flatten)]
    pub tokens: crate::usage::Tokens,
    pub cost_usd: Option<f64>,
}

impl RecordedUsage {
    pub fn as_events(&self) -> crate::usage::Usage {
        crate::usage::Usage {
            input_tokens: self.tokens.input_tokens,
            cached_input_tokens: self.tokens.cached_input_tokens,
            output_tokens: self.tokens.output_tokens,
            reasoning_tokens: self.tokens.reasoning_tokens,
            cost_usd: self.cost_usd,
        }
    }
}
