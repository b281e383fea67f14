//! Runs in a git worktree of their own (`--worktree`): the agent works on a new branch
//! `agent-offload/<run id>` in a worktree under the state directory, so the person (or
//! host agent) that delegated keeps working in their own checkout, and several runs
//! never trample each other. The work comes back with `apply` (a three-way merge into
//! any checkout, see `apply`), `merge` (the branch), or goes with `discard`.
//!
//! The user's checkout, index and stash are never written while a worktree is made:
//! `--worktree=dirty` reads the working tree through a temporary index (as `changes`
//! does) and recreates it in the new worktree. The tree a dirty run starts from is kept
//! reachable by a ref of ours (`refs/agent-offload/<run id>`), so git's garbage
//! collection cannot take the base its changes are measured against.

mod apply;
mod include;

pub use apply::{Applied, ConflictMode, apply};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::changes;
use super::{output, reading, text};

/// Branches of runs are `agent-offload/<run id>`.
pub const BRANCH_PREFIX: &str = "agent-offload/";
/// The ref that keeps a dirty run's starting tree: `refs/agent-offload/<run id>`.
const BASE_REF_PREFIX: &str = "refs/agent-offload/";

pub use crate::profile::WorktreeStart as Start;
pub use crate::store::record::{Taken, Worktree};

impl Taken {
    pub fn now(object: String, into: PathBuf) -> Taken {
        Taken {
            at: crate::store::dir::rfc3339(jiff::Timestamp::now()),
            object,
            into,
        }
    }
}

impl Worktree {
    /// The tree the run's whole work is measured from: the base, with the included
    /// files as they were copied.
    pub fn start_tree(&self) -> &str {
        self.included_tree.as_deref().unwrap_or(&self.base_tree)
    }
}

use super::command as git;

/// Runs `cmd`; its trimmed stdout, or an error with what git said.
fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot run git"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim();
    bail!(
        "{what}: git failed{}",
        if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        }
    )
}

/// Commits agent-offload makes for itself (the ref that keeps a dirty base) carry its
/// own name: they are never part of anyone's history.
fn own_identity(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_AUTHOR_NAME", "agent-offload")
        .env("GIT_AUTHOR_EMAIL", "agent-offload@localhost")
        .env("GIT_COMMITTER_NAME", "agent-offload")
        .env("GIT_COMMITTER_EMAIL", "agent-offload@localhost")
}

/// The repository at `cwd` and its current commit, or the usage error that says why a
/// worktree cannot be made there: no repository, no commit, or a directory the
/// worktree would not have (issue 21: the run started, then could not enter it).
pub fn check(cwd: &Path, start: Start) -> std::result::Result<(PathBuf, String), Unfit> {
    let toplevel = text(reading(cwd).args(["rev-parse", "--show-toplevel"]))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Unfit::NotARepository {
            cwd: cwd.to_path_buf(),
        })?;
    let head = text(reading(cwd).args(["rev-parse", "--verify", "-q", "HEAD^{commit}"]))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Unfit::NoCommit {
            toplevel: toplevel.clone(),
        })?;
    if !in_start_tree(cwd, start) {
        return Err(match start {
            Start::Head => Unfit::NotInHead {
                cwd: cwd.to_path_buf(),
                head: head[..head.len().min(10)].to_owned(),
                toplevel,
            },
            Start::Dirty => Unfit::NothingCarried {
                cwd: cwd.to_path_buf(),
            },
        });
    }
    Ok((PathBuf::from(toplevel), head))
}

/// Why a worktree cannot start from a directory.
#[derive(Debug)]
pub enum Unfit {
    NotARepository {
        cwd: PathBuf,
    },
    NoCommit {
        toplevel: String,
    },
    NotInHead {
        cwd: PathBuf,
        head: String,
        toplevel: String,
    },
    NothingCarried {
        cwd: PathBuf,
    },
}

impl Unfit {
    /// The error, said of `what` asked for a worktree (`--worktree`, `a fan-out`).
    pub fn said_of(&self, what: &str) -> String {
        match self {
            Unfit::NotARepository { cwd } => format!(
                "{what}: {} is not in a git repository (a worktree needs one)",
                cwd.display()
            ),
            Unfit::NoCommit { toplevel } => format!(
                "{what}: the repository at {toplevel} has no commit yet to start a worktree \
                 from; commit first"
            ),
            Unfit::NotInHead {
                cwd,
                head,
                toplevel,
            } => format!(
                "{what}: {} is not in HEAD ({head}) of the repository at {toplevel}, so a \
                 worktree from it has no such directory: run from a directory HEAD has, commit \
                 it first, or carry uncommitted files with --worktree=dirty; nothing was started",
                cwd.display(),
            ),
            Unfit::NothingCarried { cwd } => format!(
                "{what}: {} has no file git would carry (it is empty, or holds only ignored \
                 files), so a worktree from it has no such directory: run from a directory \
                 with tracked or untracked files; nothing was started",
                cwd.display()
            ),
        }
    }
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if matches!(self, Unfit::NothingCarried { .. }) {
            "--worktree=dirty"
        } else {
            "--worktree"
        };
        f.write_str(&self.said_of(what))
    }
}

impl std::error::Error for Unfit {}

/// Whether the directory `cwd` is in the tree a worktree starts from: HEAD's, or for
/// `dirty` the working tree's (a file git tracks or would track is there). An ignored
/// directory counts: `.worktreeinclude` or `.worktreelink` may bring it, and `create`
/// looks again once they have.
fn in_start_tree(cwd: &Path, start: Start) -> bool {
    let listed = |args: &[&str]| output(reading(cwd).args(args)).unwrap_or_default();
    if listed(&["rev-parse", "--show-prefix"])
        .trim_ascii()
        .is_empty()
        || reading(cwd)
            .args(["check-ignore", "-q", "."])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    {
        return true;
    }
    match start {
        // From a subdirectory, ls-tree lists that directory of HEAD: nothing when HEAD
        // has no such directory (a tree is never empty).
        Start::Head => !listed(&["ls-tree", "HEAD"]).is_empty(),
        Start::Dirty => {
            use std::os::unix::ffi::OsStrExt;
            let names = listed(&[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ]);
            names
                .split(|&b| b == 0)
                .filter(|name| !name.is_empty())
                .any(|name| {
                    cwd.join(std::ffi::OsStr::from_bytes(name))
                        .symlink_metadata()
                        .is_ok()
                })
        }
    }
}

/// `<state>/worktrees`, beside the runs directory (never inside the user's repository).
pub fn root(runs_root: &Path) -> PathBuf {
    runs_root.parent().map_or_else(
        || runs_root.join("worktrees"),
        |state| state.join("worktrees"),
    )
}

/// Keeps a `dirty` run's starting tree reachable: a commit of it on top of the base,
/// under a ref of ours (not a branch).
fn keep_start(repo: &Path, base_tree: &str, base: &str, id: &str) -> Result<()> {
    let keep = run(
        own_identity(&mut git(repo)).args([
            "commit-tree",
            base_tree,
            "-p",
            base,
            "-m",
            &format!("agent-offload run {id}: the working tree it started from"),
        ]),
        "--worktree=dirty",
    )?;
    run(
        git(repo).args(["update-ref", &format!("{BASE_REF_PREFIX}{id}"), &keep]),
        "--worktree=dirty",
    )?;
    Ok(())
}

/// The usage error for an ignored directory that neither `.worktreeinclude` nor
/// `.worktreelink` brought into the worktree.
fn not_brought(cwd: &Path) -> anyhow::Error {
    crate::exit::usage(format!(
        "--worktree: {} is ignored by git and neither .worktreeinclude nor .worktreelink \
         brings it, so the worktree has no such directory; nothing was started",
        cwd.display()
    ))
}

/// A new worktree for run `id`, the directory the agent starts in (the same
/// subdirectory of it that `cwd` is of its repository), and notes for the person.
pub fn create(
    cwd: &Path,
    id: &str,
    start: Start,
    runs_root: &Path,
) -> Result<(Worktree, PathBuf, Vec<String>)> {
    let (repo, base) = check(cwd, start).map_err(|e| crate::exit::usage(e.to_string()))?;
    let prefix = run(git(cwd).args(["rev-parse", "--show-prefix"]), "--worktree")?;
    let dir = root(runs_root);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the worktrees directory {}", dir.display()))?;
    let path = dir.join(id);
    let branch = format!("{BRANCH_PREFIX}{id}");
    let _one_at_a_time = Serial::take(&dir);
    let agent_cwd = path.join(prefix.trim_end_matches('/'));

    // For `dirty`: the working tree and the index, as trees, before anything else runs.
    let (base_tree, staged) = match start {
        Start::Head => (
            run(
                git(&repo).args(["rev-parse", &format!("{base}^{{tree}}")]),
                "--worktree",
            )?,
            None,
        ),
        Start::Dirty => {
            let snap = changes::snapshot(&repo, &[])
                .context("--worktree=dirty: cannot read the working tree")?;
            let staged = snap
                .index
                .as_deref()
                .and_then(|index| changes::staged_tree(&repo, index));
            (snap.tree, staged)
        }
    };
    if start == Start::Dirty {
        keep_start(&repo, &base_tree, &base, id)?;
    }
    run(
        git(&repo)
            .args(["worktree", "add", "--quiet", "--lock", "--reason"])
            .arg(format!("agent-offload run {id} is running"))
            .args(["-b", &branch])
            .arg(&path)
            .arg(&base),
        "--worktree",
    )?;
    let mut record = Worktree {
        path: path.clone(),
        branch,
        base,
        start,
        repo: repo.clone(),
        base_tree: base_tree.clone(),
        included: Vec::new(),
        linked: Vec::new(),
        included_tree: None,
        applied: None,
        merged: None,
        removed_at: None,
    };
    let made = (|| -> Result<Vec<String>> {
        if start == Start::Dirty {
            // The files as they are in the user's working tree, then the index as it
            // is in theirs: staged changes stay staged, the rest unstaged or untracked.
            run(
                git(&path).args(["read-tree", "-u", "--reset", &base_tree]),
                "--worktree=dirty",
            )?;
            if let Some(staged) = &staged {
                run(git(&path).args(["read-tree", staged]), "--worktree=dirty")?;
            }
            let _ = git(&path)
                .args(["update-index", "-q", "--refresh"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let brought = include::bring(&repo, &path)?;
        record.included = brought.copied;
        record.linked = brought.linked;
        if !record.included.is_empty() {
            record.included_tree =
                Some(current_tree(&record).context("--worktree: cannot read the included files")?);
        }
        if !agent_cwd.is_dir() {
            return Err(not_brought(cwd));
        }
        Ok(brought.notes)
    })();
    let notes = match made {
        Ok(notes) => notes,
        Err(err) => {
            let _ = remove_unlocked(&record);
            return Err(err);
        }
    };
    Ok((record, agent_cwd, notes))
}

/// Locks the worktree while a run works in it (a continued run re-locks it).
pub fn lock(wt: &Worktree, id: &str) {
    let _ = git(&wt.repo)
        .args(["worktree", "lock", "--reason"])
        .arg(format!("agent-offload run {id} is running"))
        .arg(&wt.path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Unlocks it when the run ends (git may then remove it like any other).
pub fn unlock(wt: &Worktree) {
    let _ = git(&wt.repo)
        .args(["worktree", "unlock"])
        .arg(&wt.path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Worktrees are made and removed one at a time: git reads every entry of
/// `.git/worktrees` while it adds one, and fails on another's half-made entry
/// ("failed to read .../commondir"); `worktree prune` could take such an entry for a
/// stale one. A `flock` on the worktrees directory, bounded like every lock of ours.
struct Serial {
    _dir: Option<std::os::fd::OwnedFd>,
}

impl Serial {
    fn take(dir: &Path) -> Serial {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok();
        if let Some(fd) = &fd {
            crate::store::lock::lock_exclusive(fd, std::time::Duration::from_secs(120));
        }
        Serial { _dir: fd }
    }
}

/// Held by a run about to work in an existing worktree (a continuation) from the
/// moment it found no other run working there until its `run.json` says it does: of two
/// `continue`s, or a `continue` and a `discard`, only one gets through.
pub struct Entered {
    _one_at_a_time: Option<Serial>,
}

/// Enters the worktree for run `id`, unless `busy` names a run working in it now, or it
/// is gone; locks it as `create` does.
pub fn enter(wt: &Worktree, id: &str, busy: impl FnOnce() -> Option<String>) -> Result<Entered> {
    let held = wt.path.parent().map(Serial::take);
    if let Some(other) = busy() {
        return Err(crate::exit::usage(format!(
            "{}; nothing was started",
            in_use(wt, &other)
        )));
    }
    if !wt.path.is_dir() {
        return Err(crate::exit::usage(format!(
            "the worktree {} is gone (removed by hand?): continue in another directory with \
             --cwd; nothing was started",
            wt.path.display()
        )));
    }
    lock(wt, id);
    Ok(Entered {
        _one_at_a_time: held,
    })
}

/// Why the worktree cannot be touched now: run `other` works in it (a run and the runs
/// that continue it share one).
pub fn in_use(wt: &Worktree, other: &str) -> String {
    format!(
        "run {other} is working in {} (the worktree of run {}) now: wait for it \
         (agent-offload wait {other}) or stop it (agent-offload cancel {other}) first",
        wt.path.display(),
        wt.branch.trim_start_matches(BRANCH_PREFIX)
    )
}

/// Removes the worktree (whatever is in it), the branch and our base ref, unless `busy`
/// names a run working in it now (asked while no run can start in it).
pub fn remove(wt: &Worktree, busy: impl FnOnce() -> Option<String>) -> Result<()> {
    let _one_at_a_time = wt.path.parent().map(Serial::take);
    if let Some(other) = busy() {
        return Err(crate::exit::usage(in_use(wt, &other)));
    }
    remove_unlocked(wt)
}

fn remove_unlocked(wt: &Worktree) -> Result<()> {
    unlock(wt);
    if wt.path.exists() {
        run(
            git(&wt.repo)
                .args(["worktree", "remove", "--force"])
                .arg(&wt.path),
            "removing the worktree",
        )?;
    } else {
        // Removed by hand: git's record of it goes too (only records whose directory
        // is gone are pruned).
        let _ = git(&wt.repo)
            .args(["worktree", "prune"])
            .stderr(Stdio::null())
            .status();
    }
    if branch_tip(wt).is_some() {
        run(
            git(&wt.repo).args(["branch", "-D", "--quiet", &wt.branch]),
            "removing the branch",
        )?;
    }
    let id = wt.branch.trim_start_matches(BRANCH_PREFIX);
    let _ = git(&wt.repo)
        .args(["update-ref", "-d", &format!("{BASE_REF_PREFIX}{id}")])
        .stderr(Stdio::null())
        .status();
    Ok(())
}

/// The branch's commit, if the branch exists.
pub fn branch_tip(wt: &Worktree) -> Option<String> {
    text(reading(&wt.repo).args([
        "rev-parse",
        "--verify",
        "-q",
        &format!("refs/heads/{}^{{commit}}", wt.branch),
    ]))
    .filter(|s| !s.is_empty())
}

/// The worktree's content now (commits, uncommitted changes and the included files),
/// as a tree; `None` when it is gone.
pub fn current_tree(wt: &Worktree) -> Option<String> {
    if !wt.path.is_dir() {
        return None;
    }
    let index = text(reading(&wt.path).args([
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        "index",
    ]))?;
    changes::write_tree(&wt.path, Path::new(&index), &wt.included)
}

/// What the run did that would be lost by removing the worktree and the branch: `None`
/// when nothing changed, or when what is there now was applied or merged.
pub fn unsaved_work(wt: &Worktree) -> Option<String> {
    let tip = branch_tip(wt);
    let commits = tip
        .as_deref()
        .map_or(0, |tip| commits_between(&wt.repo, &wt.base, tip));
    let Some(tree) = current_tree(wt) else {
        // Removed by hand: what is left is the branch's commits.
        let merged = wt
            .merged
            .as_ref()
            .is_some_and(|m| Some(m.object.as_str()) == tip.as_deref());
        return (commits > 0 && !merged && wt.applied.is_none())
            .then(|| describe_work("", commits));
    };
    let committed_only = tip
        .as_deref()
        .is_some_and(|tip| tree_of(&wt.repo, tip).as_deref() == Some(tree.as_str()));
    let taken = wt.applied.as_ref().is_some_and(|a| a.object == tree)
        || (committed_only
            && wt
                .merged
                .as_ref()
                .is_some_and(|m| Some(m.object.as_str()) == tip.as_deref()));
    if taken || (tree == wt.start_tree() && commits == 0) {
        return None;
    }
    if let Some(applied) = &wt.applied {
        // Applied in part (or continued since): what is not in the checkout.
        let names =
            output(reading(&wt.repo).args(["diff", "--name-only", "-z", &applied.object, &tree]))
                .unwrap_or_default();
        let names: Vec<String> = names
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        if !names.is_empty() {
            return Some(format!(
                "not placed by apply into {}: {}",
                applied.into.display(),
                names.join(", ")
            ));
        }
    }
    let stat = text(reading(&wt.repo).args(["diff", "--shortstat", wt.start_tree(), &tree]))
        .unwrap_or_default();
    Some(describe_work(&stat, commits))
}

fn describe_work(stat: &str, commits: usize) -> String {
    let mut parts = Vec::new();
    if !stat.is_empty() {
        parts.push(stat.trim().to_owned());
    }
    if commits > 0 {
        parts.push(format!(
            "{commits} commit{} on {}",
            if commits == 1 { "" } else { "s" },
            "its branch"
        ));
    }
    if parts.is_empty() {
        "changes".to_owned()
    } else {
        parts.join("; ")
    }
}

fn tree_of(repo: &Path, commit: &str) -> Option<String> {
    text(reading(repo).args(["rev-parse", "--verify", "-q", &format!("{commit}^{{tree}}")]))
}

fn commits_between(repo: &Path, from: &str, to: &str) -> usize {
    text(reading(repo).args(["rev-list", "--count", &format!("{from}..{to}")]))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Whether the checkouts at `a` and `b` are of one repository (the same object store
/// and refs: a worktree of it counts).
pub fn same_repository(a: &Path, b: &Path) -> bool {
    let common = |dir: &Path| {
        text(reading(dir).args(["rev-parse", "--path-format=absolute", "--git-common-dir"]))
            .filter(|d| !d.is_empty())
            .and_then(|d| std::fs::canonicalize(d).ok())
    };
    matches!((common(a), common(b)), (Some(x), Some(y)) if x == y)
}

/// How far `HEAD` of the checkout at `dir` moved from the run's base: `None` when it
/// is still there (or cannot be told).
pub fn base_moved(wt: &Worktree, dir: &Path) -> Option<String> {
    let head = text(reading(dir).args(["rev-parse", "--verify", "-q", "HEAD^{commit}"]))
        .filter(|h| !h.is_empty())?;
    if head == wt.base {
        return None;
    }
    let ahead = commits_between(dir, &wt.base, &head);
    let behind = commits_between(dir, &head, &wt.base);
    let short = |s: &str| s[..s.len().min(10)].to_owned();
    Some(match (ahead, behind) {
        (a, 0) => format!(
            "the base moved: HEAD is {} commit{} past the run's base {}",
            a,
            if a == 1 { "" } else { "s" },
            short(&wt.base)
        ),
        _ => format!(
            "the base moved: HEAD {} is not a descendant of the run's base {} ({ahead} new, \
             {behind} not there)",
            short(&head),
            short(&wt.base)
        ),
    })
}

/// Writes the run's whole work (base tree to the worktree's content now) as a patch.
pub fn write_patch(wt: &Worktree, target: &Path) -> bool {
    let Some(tree) = current_tree(wt) else {
        return false;
    };
    let Some(patch) = output(reading(&wt.repo).args(["diff", "--binary", wt.start_tree(), &tree]))
    else {
        return false;
    };
    crate::atomic::write_unsynced(target, &patch, 0o600).is_ok()
}

/// Commits whatever is uncommitted in the worktree on its branch (for `merge`), with
/// the user's identity where git has one; returns the branch's commit.
pub fn commit_all(wt: &Worktree, message: &str) -> Result<String> {
    run(
        git(&wt.path).args(["add", "-A", "--", "."]),
        "merge: staging the run's changes",
    )?;
    let staged = git(&wt.path)
        .args(["diff", "--cached", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("merge: cannot run git")?;
    if !staged.success() {
        let mut cmd = git(&wt.path);
        if text(reading(&wt.path).args(["config", "user.email"])).is_none_or(|e| e.is_empty()) {
            own_identity(&mut cmd);
        }
        run(
            cmd.args(["commit", "--quiet", "--no-verify", "-m", message]),
            "merge: committing the run's changes on its branch",
        )?;
    }
    run(
        git(&wt.path).args(["rev-parse", "HEAD"]),
        "merge: reading the branch",
    )
}
