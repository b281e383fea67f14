//! Atomic file replacement: a hidden temporary file in the same directory, then a rename
//! over the target, so a reader sees the old content or the new one, never half of it.
//!
//! Two strengths. [`write`] also syncs the file and the directory, so a crash cannot
//! lose the rename either: for the user's files (the installed skill, Cursor's trust
//! marker), written rarely. [`write_unsynced`] skips the syncs: for run state, which
//! sits on the path from done.md to exit and is not worth milliseconds of fsync.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Replaces `target` with `bytes`. `mode` is the new file's permission bits before the
/// umask. The temporary file is removed when anything fails.
pub fn write(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    replace(target, bytes, mode, true)
}

/// Like [`write`], without the syncs.
pub fn write_unsynced(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    replace(target, bytes, mode, false)
}

fn replace(target: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = temp_path(target);
    let attempt = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, target)?;
        // The rename itself is durable once the directory is synced.
        if sync {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    attempt().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("cannot write {}", target.display()))
    })
}

/// `dir/.NAME.tmp-PID`: hidden, in the same directory (so the rename stays on one file
/// system), and not named like the target (so no agent CLI loads a half-written copy).
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Creates `dir` and its parents, naming the directory in the error.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("SKILL.md");
        write(&target, b"one", 0o644).unwrap();
        write(&target, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["SKILL.md"]);
    }

    #[test]
    fn errors_name_the_path() {
        let err = write(Path::new("/nonexistent-dir-ao/x"), b"", 0o644).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("cannot write /nonexistent-dir-ao/x: "),
            "{err:#}"
        );
    }
}
