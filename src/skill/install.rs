//! Installing and removing one copy of the skill, never touching a copy a person
//! edited unless forced. Every change is one atomic step: a rename for a write, an
//! unlink for a removal.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{BUNDLED, Copy, classify};
use crate::atomic;

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Overwrite or remove a copy that was edited locally.
    pub force: bool,
    /// Decide what would happen, change nothing.
    pub dry_run: bool,
}

/// What happened (or, with `dry_run`, what would happen) to one copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Installed,
    Updated,
    UpToDate,
    SkippedModified,
    Removed,
    NotInstalled,
}

impl Action {
    /// The word shown for this action; `dry_run` turns changes into "would ...".
    pub fn describe(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::Installed, false) => "installed",
            (Action::Installed, true) => "would install",
            (Action::Updated, false) => "updated",
            (Action::Updated, true) => "would update",
            (Action::Removed, false) => "removed",
            (Action::Removed, true) => "would remove",
            (Action::UpToDate, _) => "up-to-date",
            (Action::SkippedModified, _) => "skipped: modified locally (use --force)",
            (Action::NotInstalled, _) => "not installed",
        }
    }
}

/// The existing copy at `file`, if any.
fn existing(file: &Path) -> Result<Option<Copy>> {
    match fs::read(file) {
        Ok(bytes) => Ok(Some(classify(&bytes))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// Installs the bundled skill at `file` (creating its directories), or updates an
/// unedited older copy; an edited copy is replaced only with `force`.
pub fn install(file: &Path, opts: Options) -> Result<Action> {
    let action = match existing(file)? {
        None => Action::Installed,
        Some(Copy::Current) => return Ok(Action::UpToDate),
        Some(Copy::Outdated) => Action::Updated,
        Some(Copy::Modified) if opts.force => Action::Updated,
        Some(Copy::Modified) => return Ok(Action::SkippedModified),
    };
    if !opts.dry_run {
        let target = write_target(file);
        if let Some(dir) = target.parent() {
            atomic::create_dir_all(dir)?;
        }
        atomic::write(&target, BUNDLED.as_bytes(), 0o644)?;
    }
    Ok(action)
}

/// Removes an unedited copy at `file` (an edited one only with `force`), then its
/// directory if nothing else is left in it.
pub fn uninstall(file: &Path, opts: Options) -> Result<Action> {
    match existing(file)? {
        None => return Ok(Action::NotInstalled),
        Some(Copy::Modified) if !opts.force => return Ok(Action::SkippedModified),
        Some(_) => {}
    }
    if !opts.dry_run {
        // A symlinked SKILL.md loses the link, never the file it points to.
        fs::remove_file(file).with_context(|| format!("cannot remove {}", file.display()))?;
        if let Some(dir) = file.parent() {
            match fs::remove_dir(dir) {
                // Other files (the person's own notes, scripts) keep the directory.
                Err(e) if e.kind() != ErrorKind::DirectoryNotEmpty => {
                    return Err(e).with_context(|| format!("cannot remove {}", dir.display()));
                }
                _ => {}
            }
        }
    }
    Ok(Action::Removed)
}

/// Where to write: through a symlinked SKILL.md to the file it points to (a person
/// who keeps skills in a dotfiles repository keeps the link), else `file` itself.
fn write_target(file: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && let Ok(real) = fs::canonicalize(file) {
        return real;
    }
    file.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORCE: Options = Options {
        force: true,
        dry_run: false,
    };

    #[test]
    fn lifecycle() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("skills/agent-offload/SKILL.md");
        let o = Options::default();
        assert_eq!(install(&file, o).unwrap(), Action::Installed);
        assert_eq!(fs::read_to_string(&file).unwrap(), BUNDLED);
        assert_eq!(install(&file, o).unwrap(), Action::UpToDate);
        fs::write(&file, "mine").unwrap();
        assert_eq!(install(&file, o).unwrap(), Action::SkippedModified);
        assert_eq!(uninstall(&file, o).unwrap(), Action::SkippedModified);
        assert_eq!(fs::read_to_string(&file).unwrap(), "mine");
        assert_eq!(install(&file, FORCE).unwrap(), Action::Updated);
        assert_eq!(fs::read_to_string(&file).unwrap(), BUNDLED);
        assert_eq!(uninstall(&file, o).unwrap(), Action::Removed);
        assert!(!file.parent().unwrap().exists());
        assert_eq!(uninstall(&file, o).unwrap(), Action::NotInstalled);
    }

    #[test]
    fn uninstall_keeps_a_directory_with_other_files() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("agent-offload/SKILL.md");
        install(&file, Options::default()).unwrap();
        fs::write(tmp.path().join("agent-offload/notes.md"), "x").unwrap();
        assert_eq!(
            uninstall(&file, Options::default()).unwrap(),
            Action::Removed
        );
        assert!(!file.exists());
        assert!(tmp.path().join("agent-offload/notes.md").exists());
    }

    #[test]
    fn a_symlinked_copy_is_updated_through_the_link() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("dotfiles/SKILL.md");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, "mine").unwrap();
        let file = tmp.path().join("skills/agent-offload/SKILL.md");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&real, &file).unwrap();
        assert_eq!(install(&file, FORCE).unwrap(), Action::Updated);
        assert!(
            fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), BUNDLED);
        assert_eq!(
            uninstall(&file, Options::default()).unwrap(),
            Action::Removed
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), BUNDLED);
    }

    #[test]
    fn unreadable_path_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("SKILL.md");
        fs::create_dir(&file).unwrap();
        let err = install(&file, Options::default()).unwrap_err();
        assert!(
            format!("{err:#}").starts_with(&format!("cannot read {}: ", file.display())),
            "{err:#}"
        );
    }
}
