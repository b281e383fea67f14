//! `apply`: the run's changes (its base tree to the worktree's content) merged into a
//! checkout file by file, three ways: the base, the checkout's file as it is now (with
//! whatever uncommitted edits it has), and the run's. A file the checkout did not
//! touch takes the run's version; one both changed is merged with `git merge-file`.
//!
//! Everything is decided before anything is written: with a conflict (and no
//! `--conflicts=markers`) the checkout is left exactly as it was. The index is never
//! written: the result is uncommitted changes, staged or not as they were.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::super::changes;
use super::Worktree;

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
    pub changed: Vec<(String, &'static str)>,
    /// Files that could not be merged cleanly: `(path, why)`.
    pub conflicts: Vec<(String, String)>,
    /// Whether anything was written.
    pub written: bool,
    /// Submodule changes, which are not applied.
    pub skipped: Vec<String>,
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

/// What is decided for one path.
enum Action {
    Write(Side),
    Remove,
}

/// Applies the run's changes, from its base tree to `theirs` (a tree), to the checkout
/// at `target` (its top level).
pub fn apply(
    wt: &Worktree,
    theirs: &str,
    target: &Path,
    label: &str,
    mode: ConflictMode,
) -> Result<Applied> {
    let raw = changes::output(changes::git(target).args([
        "diff-tree",
        "-r",
        "-z",
        "-M",
        &wt.base_tree,
        theirs,
    ]))
    .context("cannot compare the run's trees (were they removed?)")?;
    let mut plan: BTreeMap<String, Action> = BTreeMap::new();
    let mut applied = Applied::default();
    let mut conflicted: Vec<(String, Option<Side>)> = Vec::new();
    for entry in parse_raw(&raw) {
        if entry.old_mode == "160000" || entry.new_mode == "160000" {
            applied.skipped.push(entry.path.clone());
            continue;
        }
        let base = blob(target, &entry.old_mode, &entry.old_sha)?;
        let run_side = blob(target, &entry.new_mode, &entry.new_sha)?;
        let (from, to) = match &entry.old_path {
            Some(old) => (old.clone(), entry.path.clone()),
            None => (entry.path.clone(), entry.path.clone()),
        };
        let ours = read_side(&target.join(&from))?;
        let renamed = from != to && entry.status != 'C';
        if renamed {
            // The new path must be free (or already hold the run's version).
            let there = read_side(&target.join(&to))?;
            if there != Side::Missing && there != run_side {
                conflicted.push((to.clone(), None));
                applied.conflicts.push((
                    to.clone(),
                    format!("the run renamed {from} to it, and it exists here"),
                ));
                continue;
            }
        }
        match merge(&ours, &base, &run_side, label)? {
            Merge::Clean(result) => {
                if renamed {
                    if ours != Side::Missing {
                        plan.insert(from.clone(), Action::Remove);
                    }
                    if result != Side::Missing {
                        plan.insert(to.clone(), Action::Write(result));
                    }
                } else if result != ours {
                    plan.insert(
                        to.clone(),
                        match result {
                            Side::Missing => Action::Remove,
                            other => Action::Write(other),
                        },
                    );
                }
            }
            Merge::Conflict { why, markers } => {
                applied.conflicts.push((to.clone(), why));
                match markers {
                    Some(text) => {
                        if renamed {
                            plan.insert(from.clone(), Action::Remove);
                        }
                        plan.insert(to.clone(), Action::Write(text));
                    }
                    None => conflicted.push((to.clone(), Some(run_side.clone()))),
                }
            }
        }
    }
    if !applied.conflicts.is_empty() && mode == ConflictMode::Refuse {
        return Ok(applied);
    }
    // A file that cannot hold markers keeps the checkout's version; the run's goes
    // beside it.
    for (path, run_side) in conflicted {
        if let Some(side @ (Side::File { .. } | Side::Link(_))) = run_side {
            let beside = format!("{path}.{}", label.replace(' ', "-"));
            plan.insert(beside, Action::Write(side));
        }
    }
    for (path, action) in &plan {
        let at = target.join(path);
        match action {
            Action::Write(side) => {
                write_side(&at, side).with_context(|| format!("cannot write {}", at.display()))?;
                applied.changed.push((path.clone(), "written"));
            }
            Action::Remove => {
                match fs::remove_file(&at) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot remove {}", at.display()));
                    }
                }
                remove_empty_parents(&at, target);
                applied.changed.push((path.clone(), "removed"));
            }
        }
        applied.written = true;
    }
    Ok(applied)
}

struct RawEntry {
    old_mode: String,
    new_mode: String,
    old_sha: String,
    new_sha: String,
    status: char,
    old_path: Option<String>,
    path: String,
}

/// Parses `diff-tree -r -z` raw output: `:oldmode newmode oldsha newsha STATUS\0path\0`,
/// with two paths for a rename or copy.
fn parse_raw(raw: &[u8]) -> Vec<RawEntry> {
    let mut fields = raw
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut entries = Vec::new();
    while let Some(head) = fields.next() {
        let Some(meta) = head.strip_prefix(':') else {
            continue;
        };
        let parts: Vec<&str> = meta.split_whitespace().collect();
        let [old_mode, new_mode, old_sha, new_sha, code] = parts[..] else {
            continue;
        };
        let status = code.chars().next().unwrap_or('M');
        let (old_path, path) = if matches!(status, 'R' | 'C') {
            let old = fields.next().unwrap_or_default();
            (Some(old), fields.next().unwrap_or_default())
        } else {
            (None, fields.next().unwrap_or_default())
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

/// A blob of the given mode as a side (`Missing` for the all-zero id of an absent one).
fn blob(repo: &Path, mode: &str, sha: &str) -> Result<Side> {
    if mode == "000000" || sha.bytes().all(|b| b == b'0') {
        return Ok(Side::Missing);
    }
    let bytes = changes::output(changes::git(repo).args(["cat-file", "blob", sha]))
        .with_context(|| format!("cannot read object {sha} (was it removed?)"))?;
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
        let out = std::process::Command::new("git")
            .args(["merge-file", "-p", "-L", "yours", "-L", "base", "-L", label])
            .args(&paths)
            .stdin(Stdio::null())
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
    let name = at.file_name().unwrap_or_default().to_string_lossy();
    let tmp = parent.join(format!(".{name}.agent-offload-{}", std::process::id()));
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
            use std::os::unix::ffi::OsStrExt as _;
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &tmp)?;
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
