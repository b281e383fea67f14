//! Git: the one way this crate runs it, what a run changed (`changes`), and a run's
//! worktree (`worktree`: making it, applying and merging its work, removing it).

pub mod changes;
pub mod worktree;

use std::path::Path;
use std::process::{Command, Stdio};

/// `git` with its input closed: every git this crate runs is built here.
pub fn bare() -> Command {
    let mut cmd = Command::new("git");
    cmd.stdin(Stdio::null());
    cmd
}

/// `git -C DIR`, failing with git's own words (its stderr is the caller's to read).
pub fn command(dir: &Path) -> Command {
    let mut cmd = bare();
    cmd.arg("-C").arg(dir);
    cmd
}

/// A git command that only reads, in `dir`: it takes no optional lock that could get
/// in the user's way, and what it says on stderr is not shown.
pub fn reading(dir: &Path) -> Command {
    let mut cmd = command(dir);
    cmd.stderr(Stdio::null()).env("GIT_OPTIONAL_LOCKS", "0");
    cmd
}

/// Runs `cmd`; its stdout if it succeeded.
pub fn output(cmd: &mut Command) -> Option<Vec<u8>> {
    let out = cmd.output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// Runs `cmd`; its stdout, trimmed, if it succeeded.
pub fn text(cmd: &mut Command) -> Option<String> {
    output(cmd).map(|b| String::from_utf8_lossy(&b).trim().to_owned())
}
