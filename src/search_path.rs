//! Finding a program on a PATH the caller passes in (never the process's own, so tests
//! and `doctor` see the same PATH the agent will).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The first executable regular file named `name` in the directories of `path`. A name
/// with a `/` is checked as it is. Empty PATH entries mean the current directory, as
/// in POSIX sh, and are skipped: agent-offload never runs a program from wherever the
/// caller happens to be.
pub fn find(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_executable_and_skips_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap(); // not executable
        std::fs::create_dir(a.join("dir")).unwrap(); // a directory
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(find("tool", Some(&path)), Some(b.join("tool")));
        assert_eq!(find("dir", Some(&path)), None);
        assert_eq!(find("missing", Some(&path)), None);
        assert_eq!(find("tool", None), None);
        let abs = b.join("tool");
        assert_eq!(find(abs.to_str().unwrap(), None), Some(abs));
    }
}
