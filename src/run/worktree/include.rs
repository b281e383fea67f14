//! Files a build needs that git does not carry (`.env`, `node_modules`, ...): a
//! repository lists them in `.worktreeinclude` (copied into each new worktree) or
//! `.worktreelink` (symbolic links to the originals, for large directories: the
//! directory is made and each of its entries linked), both in
//! gitignore syntax at its top level. Only untracked files are matched: tracked ones
//! are checked out anyway.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::super::changes;

pub const INCLUDE: &str = ".worktreeinclude";
pub const LINK: &str = ".worktreelink";

#[derive(Debug, Default)]
pub struct Brought {
    pub copied: Vec<String>,
    pub linked: Vec<String>,
}

/// Brings the files `repo`'s lists name into the worktree at `into`.
pub fn bring(repo: &Path, into: &Path) -> Result<Brought> {
    let mut brought = Brought::default();
    let linked = matching(repo, LINK);
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
    for rel in matching(repo, INCLUDE) {
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

/// Untracked paths under `repo` that the patterns in `repo/list` match; a directory
/// matched as a whole is one entry.
fn matching(repo: &Path, list: &str) -> Vec<String> {
    let file = repo.join(list);
    if !file.is_file() {
        return Vec::new();
    }
    let Some(out) = changes::output(
        changes::git(repo)
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
    out.split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).trim_end_matches('/').to_owned())
        .filter(|p| !p.is_empty() && p != list)
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
