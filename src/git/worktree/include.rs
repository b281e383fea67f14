//! Files a build needs that git does not carry (`.env`, `node_modules`, ...): a
//! repository lists them in `.worktreeinclude` (copied into each new worktree) or
//! `.worktreelink` (symbolic links to the originals, for large directories: the
//! directory is made and each of its entries linked), both in
//! gitignore syntax at its top level. Only files git ignores are matched: tracked ones
//! are checked out anyway, and an untracked, not-ignored one brought over would be
//! taken for the run's own new file (its link applied as a conflict, committed by
//! `merge`); those are named and left out.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::git::{output, reading};

pub const INCLUDE: &str = ".worktreeinclude";
pub const LINK: &str = ".worktreelink";

#[derive(Debug, Default)]
pub struct Brought {
    pub copied: Vec<String>,
    pub linked: Vec<String>,
    /// What to tell the person: paths a list matched that git does not ignore.
    pub notes: Vec<String>,
}

/// Brings the files `repo`'s lists name into the worktree at `into`.
pub fn bring(repo: &Path, into: &Path) -> Result<Brought> {
    let mut brought = Brought::default();
    let linked = matching(repo, LINK, &mut brought.notes);
    for rel in &linked {
        let (from, to) = (repo.join(rel), into.join(rel));
        if fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        link(&from, &to).with_context(|| {
            format!("{LINK}: cannot link {} to {}", to.display(), from.display())
        })?;
        brought.linked.push(rel.clone());
    }
    for rel in matching(repo, INCLUDE, &mut brought.notes) {
        // A path also linked (or inside one) is not copied over its link.
        if linked
            .iter()
            .any(|l| rel == *l || rel.starts_with(&format!("{l}/")))
        {
            continue;
        }
        let (from, to) = (repo.join(&rel), into.join(&rel));
        if fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        copy(&from, &to).with_context(|| format!("{INCLUDE}: cannot copy {rel}"))?;
        brought.copied.push(rel);
    }
    Ok(brought)
}

/// Ignored paths under `repo` that the patterns in `repo/list` match; a directory
/// matched as a whole is one entry. Untracked ones git does not ignore get a note.
fn matching(repo: &Path, list: &str, notes: &mut Vec<String>) -> Vec<String> {
    let file = repo.join(list);
    if !file.is_file() {
        return Vec::new();
    }
    let Some(out) = output(
        reading(repo)
            .args([
                "ls-files",
                "-z",
                "--others",
                "--ignored",
                "--directory",
                "--no-empty-directory",
            ])
            .arg(format!("--exclude-from={}", file.display())),
    ) else {
        return Vec::new();
    };
    let matched: Vec<&[u8]> = out
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty() && *p != list.as_bytes())
        .collect();
    let ignored = ignored_of(repo, &matched);
    let mut paths = Vec::new();
    for p in matched {
        let name = String::from_utf8_lossy(p).trim_end_matches('/').to_owned();
        if ignored.iter().any(|i| i == p) {
            paths.push(name);
        } else {
            let what = if list == LINK { "linked" } else { "copied" };
            notes.push(format!(
                "{list}: {name} is not ignored by git: not {what} (it would be taken for \
                 the run's own change); add it to .gitignore to have it {what}"
            ));
        }
    }
    paths
}

/// Those of `paths` that git ignores (`check-ignore`, which reads them as given).
fn ignored_of(repo: &Path, paths: &[&[u8]]) -> Vec<Vec<u8>> {
    use std::io::Write as _;
    if paths.is_empty() {
        return Vec::new();
    }
    let Ok(mut child) = reading(repo)
        .args(["check-ignore", "-z", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        return Vec::new();
    };
    let input: Vec<u8> = paths
        .iter()
        .flat_map(|p| p.iter().chain(&[0]))
        .copied()
        .collect();
    // Written from a thread: check-ignore answers as it reads, and a long list would
    // fill both pipes.
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let out = child
        .wait_with_output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let _ = writer.join();
    out.split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A file becomes a symbolic link to the original. A directory becomes a directory of
/// links to its entries: a real directory still matches a `dir/` ignore pattern (a link
/// to one would not, and would show up as a new file to commit).
fn link(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    if fs::symlink_metadata(from)?.is_dir() {
        fs::create_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            std::os::unix::fs::symlink(entry.path(), to.join(entry.file_name()))?;
        }
    } else {
        std::os::unix::fs::symlink(from, to)?;
    }
    Ok(())
}

/// Copies a file, a symbolic link or a directory tree, keeping permissions; links are
/// copied as links, never followed.
fn copy(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
    } else if meta.is_dir() {
        fs::create_dir(to)?;
        let mut entries: Vec<PathBuf> = fs::read_dir(from)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for entry in entries {
            let name = entry.file_name().unwrap_or_default();
            copy(&entry, &to.join(name))?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.permissions().mode()))?;
    } else if meta.is_file() {
        fs::copy(from, to)?;
    }
    // Sockets, FIFOs and devices are not files a build reads: skipped.
    Ok(())
}
