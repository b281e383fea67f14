//! `apply`: the run's changes (its base tree to the worktree's content) merged into a
//! checkout file by file, three ways: the base, the checkout's file as it is now (with
//! whatever uncommitted edits it has), and the run's. A file the checkout did not
//! touch takes the run's version; one both changed is merged with `git merge-file`.
//!
//! Everything is decided before anything is written: with a conflict (and no
//! `--conflicts=markers`) the checkout is left exactly as it was. The index is never
//! written: the result is uncommitted changes, staged or not as they were.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::super::changes;
use super::Worktree;
use crate::git::{output, reading};

/// What to do when a file cannot be merged cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictMode {
    /// Change nothing at all, and name the files.
    Refuse,
    /// Apply everything, leaving standard conflict markers (or, for a file that cannot
    /// hold them, the run's version beside it).
    Markers,
}

/// What `apply` did (or would have done).
#[derive(Debug, Default)]
pub struct Applied {
    /// Files written or removed: `(path, what)`.
    pub changed: Vec<(Vec<u8>, &'static str)>,
    /// Files that could not be merged cleanly: `(path, why)`.
    pub conflicts: Vec<(Vec<u8>, String)>,
    /// Whether anything was written.
    pub written: bool,
    /// The run's changes that are not in the checkout at their own path: `(path, why)`
    /// (a submodule change, or a conflict that could not hold markers, whose run's
    /// version went beside it).
    pub not_placed: Vec<(Vec<u8>, String)>,
    /// What the checkout now holds of the run's work, as a tree: the run's, with what
    /// was not placed as it was before. Recorded as applied, so that `discard` keeps
    /// what was not placed and the next `apply` starts from here.
    pub placed: String,
    /// The changes were taken from what was applied to this checkout before (a run
    /// continued since), not from the run's base.
    pub since_earlier_apply: bool,
}

/// One side of a file: what is at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    Missing,
    File {
        bytes: Vec<u8>,
        exec: bool,
    },
    Link(Vec<u8>),
    /// Something else at the path in the checkout (a directory, ...).
    Other(&'static str),
}

const A_DIRECTORY: Side = Side::Other("a directory");

/// What is decided for one path.
enum Action {
    Write(Side),
    Remove,
}

/// The checkout's path for a path of the tree (bytes, as git has them).
fn at(top: &Path, path: &[u8]) -> PathBuf {
    top.join(OsStr::from_bytes(path))
}

/// A path for a message.
fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Applies the run's changes to `theirs` (a tree) to the checkout at `target` (its top
/// level): from what was applied there before when it was (a run continued since),
/// else from the run's base.
pub fn apply(
    wt: &Worktree,
    theirs: &str,
    target: &Path,
    label: &str,
    mode: ConflictMode,
) -> Result<Applied> {
    let since = wt
        .applied
        .as_ref()
        .filter(|a| a.into == target)
        .map(|a| a.object.clone());
    let from_tree = since.clone().unwrap_or_else(|| wt.start_tree().to_owned());
    let raw = output(reading(target).args(["diff-tree", "-r", "-z", "-M", &from_tree, theirs]))
        .with_context(|| {
            format!(
                "cannot compare the run's trees {from_tree} and {theirs} in {}",
                target.display()
            )
        })?;
    let entries = parse_raw(&raw);
    let mut applied = Applied {
        since_earlier_apply: since.is_some(),
        ..Applied::default()
    };
    let (mut plan, unplaced) = decide(&entries, target, label, &mut applied)?;
    if !applied.conflicts.is_empty() && mode == ConflictMode::Refuse {
        return Ok(applied);
    }
    // A file that cannot hold markers keeps the checkout's version; the run's goes
    // beside it.
    for &(i, ref run_side) in &unplaced {
        let path = &entries[i].path;
        if let Some(side @ (Side::File { .. } | Side::Link(_))) = run_side {
            let mut beside = path.clone();
            beside.push(b'.');
            beside.extend_from_slice(label.replace(' ', "-").as_bytes());
            if let Some((_, why)) = applied.conflicts.iter_mut().find(|(p, _)| p == path) {
                let _ = write!(why, "; the run's version is beside it as {}", show(&beside));
            }
            plan.insert(beside, (Action::Write(side.clone()), usize::MAX));
        }
        if !applied.not_placed.iter().any(|(p, _)| p == path) {
            applied
                .not_placed
                .push((path.clone(), "not merged (a conflict)".to_owned()));
        }
    }
    applied.placed = if unplaced.is_empty() {
        theirs.to_owned()
    } else {
        // The run's tree, with each entry not placed as it was in the tree compared.
        let mut keep = Vec::new();
        for &(i, _) in &unplaced {
            let e = &entries[i];
            match &e.old_path {
                Some(old) if entry_renamed(e) => {
                    keep.push((e.old_mode.clone(), e.old_sha.clone(), old.clone()));
                    keep.push(("000000".to_owned(), e.old_sha.clone(), e.path.clone()));
                }
                _ => keep.push((e.old_mode.clone(), e.old_sha.clone(), e.path.clone())),
            }
        }
        changes::edit_tree(target, theirs, &keep)
            .context("cannot record which of the run's changes were applied")?
    };
    carry_out(&plan, target, &mut applied)?;
    Ok(applied)
}

/// Each planned action, by path, with the entry it comes from.
type Plan = BTreeMap<Vec<u8>, (Action, usize)>;
/// Entries not placed (by index), with the run's version to put beside.
type Unplaced = Vec<(usize, Option<Side>)>;

/// What to do with each entry, decided before anything is written: the plan, and the
/// entries not placed (with the run's version, to put beside the checkout's). The
/// conflicts and what is not placed go into `applied`.
fn decide(
    entries: &[RawEntry],
    target: &Path,
    label: &str,
    applied: &mut Applied,
) -> Result<(Plan, Unplaced)> {
    // Each planned action with the entry it comes from.
    let mut plan: Plan = BTreeMap::new();
    // Entries not placed, with the run's version to put beside the checkout's.
    let mut unplaced: Vec<(usize, Option<Side>)> = Vec::new();
    // A directory here where the run has a file: decided once the removals are known.
    let mut dirs: Vec<(usize, Side)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if entry.old_mode == "160000" || entry.new_mode == "160000" {
            applied.not_placed.push((
                entry.path.clone(),
                "a submodule change, not applied".to_owned(),
            ));
            unplaced.push((i, None));
            continue;
        }
        let to = &entry.path;
        let from = entry.old_path.as_ref().unwrap_or(to);
        let base = blob(target, &entry.old_mode, &entry.old_sha, from)?;
        let run_side = blob(target, &entry.new_mode, &entry.new_sha, to)?;
        let ours = read_side(&at(target, from))?;
        let renamed = from != to && entry.status != 'C';
        if renamed {
            // The new path must be free (or already hold the run's version).
            let there = read_side(&at(target, to))?;
            if there != Side::Missing && there != run_side {
                applied.conflicts.push((
                    to.clone(),
                    format!("the run renamed {} to it, and it exists here", show(from)),
                ));
                unplaced.push((i, Some(run_side)));
                continue;
            }
        }
        if !renamed && ours == A_DIRECTORY && base == Side::Missing && run_side != Side::Missing {
            dirs.push((i, run_side));
            continue;
        }
        match merge(&ours, &base, &run_side, label)? {
            Merge::Clean(result) => {
                if renamed {
                    if ours != Side::Missing {
                        plan.insert(from.clone(), (Action::Remove, i));
                    }
                    if result != Side::Missing {
                        plan.insert(to.clone(), (Action::Write(result), i));
                    }
                } else if result != ours {
                    let action = match result {
                        Side::Missing => Action::Remove,
                        other => Action::Write(other),
                    };
                    plan.insert(to.clone(), (action, i));
                }
            }
            Merge::Conflict { why, markers } => {
                applied.conflicts.push((to.clone(), why));
                match markers {
                    Some(text) => {
                        if renamed {
                            plan.insert(from.clone(), (Action::Remove, i));
                        }
                        plan.insert(to.clone(), (Action::Write(text), i));
                    }
                    None => unplaced.push((i, Some(run_side))),
                }
            }
        }
    }
    // A directory becomes the run's file when everything in it goes.
    for (i, run_side) in dirs {
        let path = &entries[i].path;
        if only_removals_under(target, path, &plan)? {
            plan.insert(path.clone(), (Action::Write(run_side), i));
        } else {
            applied
                .conflicts
                .push((path.clone(), "here it is a directory".to_owned()));
            unplaced.push((i, Some(run_side)));
        }
    }
    // A file cannot be written under one that stays a file (or a link) here.
    let blocked: Vec<(Vec<u8>, usize)> = plan
        .iter()
        .filter(|(_, (action, _))| matches!(action, Action::Write(_)))
        .filter_map(|(path, &(_, i))| {
            let stays = |dir: &[u8]| {
                !matches!(plan.get(dir), Some((Action::Remove, _)))
                    && fs::symlink_metadata(at(target, dir)).is_ok_and(|m| !m.is_dir())
            };
            let parent = ancestors(path).find(|dir| stays(dir))?;
            Some((parent.to_vec(), i))
        })
        .collect();
    for (parent, i) in blocked {
        plan.retain(|_, (_, j)| *j != i);
        applied.conflicts.push((
            entries[i].path.clone(),
            format!("{} is a file here", show(&parent)),
        ));
        unplaced.push((i, None));
    }
    Ok((plan, unplaced))
}

/// Writes the plan: removals first, as a file may take the place of a directory
/// emptied, and the other way round.
fn carry_out(plan: &Plan, target: &Path, applied: &mut Applied) -> Result<()> {
    let (removals, writes): (Vec<_>, Vec<_>) = plan
        .iter()
        .partition(|(_, (action, _))| matches!(action, Action::Remove));
    for (path, (action, _)) in removals.into_iter().chain(writes) {
        let to = at(target, path);
        match action {
            Action::Write(side) => {
                write_side(&to, side).with_context(|| format!("cannot write {}", to.display()))?;
                applied.changed.push((path.clone(), "written"));
            }
            Action::Remove => {
                match fs::remove_file(&to) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot remove {}", to.display()));
                    }
                }
                remove_empty_parents(&to, target);
                applied.changed.push((path.clone(), "removed"));
            }
        }
        applied.written = true;
    }
    Ok(())
}

fn entry_renamed(e: &RawEntry) -> bool {
    e.old_path.is_some() && e.status != 'C'
}

/// The directories above a path of the tree, nearest first (`a/b` for `a/b/c`).
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let cut = rest.iter().rposition(|&b| b == b'/')?;
        rest = &rest[..cut];
        Some(rest)
    })
}

/// Whether everything under the directory `dir` (a path of the tree) of the checkout
/// is removed by the plan: nothing of the user's would go with it.
fn only_removals_under(
    top: &Path,
    dir: &[u8],
    plan: &BTreeMap<Vec<u8>, (Action, usize)>,
) -> Result<bool> {
    let path = at(top, dir);
    let listing = fs::read_dir(&path).with_context(|| format!("cannot read {}", path.display()))?;
    for entry in listing {
        let entry = entry.with_context(|| format!("cannot read {}", path.display()))?;
        let mut rel = dir.to_vec();
        rel.push(b'/');
        rel.extend_from_slice(entry.file_name().as_bytes());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let gone = if is_dir {
            only_removals_under(top, &rel, plan)?
        } else {
            matches!(plan.get(&rel), Some((Action::Remove, _)))
        };
        if !gone {
            return Ok(false);
        }
    }
    Ok(true)
}

struct RawEntry {
    old_mode: String,
    new_mode: String,
    old_sha: String,
    new_sha: String,
    status: char,
    old_path: Option<Vec<u8>>,
    path: Vec<u8>,
}

/// Parses `diff-tree -r -z` raw output: `:oldmode newmode oldsha newsha STATUS\0path\0`,
/// with two paths for a rename or copy. Paths stay bytes: git's names need not be UTF-8.
fn parse_raw(raw: &[u8]) -> Vec<RawEntry> {
    let mut fields = raw.split(|&b| b == 0);
    let mut entries = Vec::new();
    while let Some(head) = fields.next() {
        let Some(meta) = head.strip_prefix(b":") else {
            continue;
        };
        let meta = String::from_utf8_lossy(meta);
        let parts: Vec<&str> = meta.split_whitespace().collect();
        let [old_mode, new_mode, old_sha, new_sha, code] = parts[..] else {
            continue;
        };
        let status = code.chars().next().unwrap_or('M');
        let mut next = || fields.next().unwrap_or_default().to_vec();
        let (old_path, path) = if matches!(status, 'R' | 'C') {
            let old = next();
            (Some(old), next())
        } else {
            (None, next())
        };
        if path.is_empty() {
            continue;
        }
        entries.push(RawEntry {
            old_mode: old_mode.to_owned(),
            new_mode: new_mode.to_owned(),
            old_sha: old_sha.to_owned(),
            new_sha: new_sha.to_owned(),
            status,
            old_path,
            path,
        });
    }
    entries
}

/// A blob of the given mode as a side (`Missing` for the all-zero id of an absent one);
/// a file as git writes it at `path` in `repo`'s checkout (through its content
/// filters: line endings, LFS and the like), so that it compares with the file there.
fn blob(repo: &Path, mode: &str, sha: &str, path: &[u8]) -> Result<Side> {
    if mode == "000000" || sha.bytes().all(|b| b == b'0') {
        return Ok(Side::Missing);
    }
    let mut cmd = reading(repo);
    cmd.arg("cat-file");
    if mode == "120000" {
        cmd.arg("blob");
    } else {
        let mut at = std::ffi::OsString::from("--path=");
        at.push(OsStr::from_bytes(path));
        cmd.arg("--filters").arg(at);
    }
    let bytes = output(cmd.arg(sha))
        .with_context(|| format!("cannot read object {sha} in {}", repo.display()))?;
    Ok(if mode == "120000" {
        Side::Link(bytes)
    } else {
        Side::File {
            bytes,
            exec: mode == "100755",
        }
    })
}

fn read_side(path: &Path) -> Result<Side> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Side::Missing),
        // A path under something that is not a directory is not there either.
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Side::Missing),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(if meta.file_type().is_symlink() {
        Side::Link(fs::read_link(path)?.into_os_string().into_encoded_bytes())
    } else if meta.is_file() {
        Side::File {
            bytes: fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
            exec: meta.permissions().mode() & 0o111 != 0,
        }
    } else if meta.is_dir() {
        Side::Other("a directory")
    } else {
        Side::Other("not a regular file")
    })
}

enum Merge {
    Clean(Side),
    Conflict { why: String, markers: Option<Side> },
}

fn merge(ours: &Side, base: &Side, theirs: &Side, label: &str) -> Result<Merge> {
    if ours == theirs || theirs == base {
        return Ok(Merge::Clean(ours.clone()));
    }
    if ours == base {
        return Ok(Merge::Clean(theirs.clone()));
    }
    let conflict = |why: &str| Merge::Conflict {
        why: why.to_owned(),
        markers: None,
    };
    match (ours, base, theirs) {
        (Side::Other(what), _, _) => Ok(conflict(&format!("here it is {what}"))),
        (Side::Missing, _, _) => Ok(conflict("removed here, changed by the run")),
        (_, _, Side::Missing) => Ok(conflict("changed here, removed by the run")),
        (
            Side::File { bytes: o, exec: oe },
            Side::File { bytes: b, exec: be },
            Side::File { bytes: t, exec: te },
        ) => text_merge(o, b, t, if oe == be { *te } else { *oe }, label, ""),
        (Side::File { bytes: o, exec: oe }, Side::Missing, Side::File { bytes: t, exec: te }) => {
            text_merge(o, &[], t, *oe || *te, label, " (added on both sides)")
        }
        _ => Ok(conflict("a symbolic link changed on both sides")),
    }
}

/// `git merge-file` on the three versions: the merge, or the version with markers.
fn text_merge(
    ours: &[u8],
    base: &[u8],
    theirs: &[u8],
    exec: bool,
    label: &str,
    what: &str,
) -> Result<Merge> {
    if [ours, base, theirs].iter().any(|b| b.contains(&0)) {
        return Ok(Merge::Conflict {
            why: format!("binary, changed on both sides{what}"),
            markers: None,
        });
    }
    let dir = scratch_dir()?;
    let result = (|| -> Result<Merge> {
        let paths = [dir.join("ours"), dir.join("base"), dir.join("theirs")];
        for (path, bytes) in paths.iter().zip([ours, base, theirs]) {
            fs::write(path, bytes)?;
        }
        let out = crate::git::bare()
            .args(["merge-file", "-p", "-L", "yours", "-L", "base", "-L", label])
            .args(&paths)
            .stderr(Stdio::null())
            .output()
            .context("cannot run git merge-file")?;
        let merged = Side::File {
            bytes: out.stdout,
            exec,
        };
        match out.status.code() {
            Some(0) => Ok(Merge::Clean(merged)),
            Some(n) if n > 0 && n < 128 => Ok(Merge::Conflict {
                why: format!(
                    "{n} conflicting hunk{}{what}",
                    if n == 1 { "" } else { "s" }
                ),
                markers: Some(merged),
            }),
            _ => bail!("git merge-file failed"),
        }
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

fn scratch_dir() -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "agent-offload-merge-{}-{nanos}",
        std::process::id()
    ));
    fs::DirBuilder::new()
        .recursive(false)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Writes one side at `at`, atomically (a temporary name in the same directory, then
/// renamed over it); an existing file keeps its permissions but for the exec bits.
fn write_side(at: &Path, side: &Side) -> Result<()> {
    let parent = at.parent().context("a path with no directory")?;
    fs::create_dir_all(parent)?;
    let mut name = std::ffi::OsString::from(".");
    name.push(at.file_name().unwrap_or_default());
    name.push(format!(".agent-offload-{}", std::process::id()));
    let tmp = parent.join(name);
    let _ = fs::remove_file(&tmp);
    match side {
        Side::File { bytes, exec } => {
            let old = fs::symlink_metadata(at)
                .ok()
                .filter(fs::Metadata::is_file)
                .map(|m| m.permissions().mode() & 0o7777);
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(if *exec { 0o777 } else { 0o666 })
                .open(&tmp)?;
            file.write_all(bytes)?;
            drop(file);
            if let Some(mode) = old {
                let mode = if *exec {
                    mode | ((mode & 0o444) >> 2)
                } else {
                    mode & !0o111
                };
                fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
            }
        }
        Side::Link(target) => {
            std::os::unix::fs::symlink(OsStr::from_bytes(target), &tmp)?;
        }
        Side::Missing | Side::Other(_) => return Ok(()),
    }
    if let Err(e) = fs::rename(&tmp, at) {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(())
}

/// Directories left empty by a removal go too, up to the top level (as git does).
fn remove_empty_parents(path: &Path, top: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == top || !d.starts_with(top) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
