//! What the delegated agent changed: the working tree's full state is recorded as a git
//! tree when the run starts (HEAD plus every tracked and untracked, not-ignored file),
//! and compared with the state when it ends. The user's index and stash are never
//! touched: the snapshot is taken through a temporary index file (`GIT_INDEX_FILE`),
//! seeded from a copy of the real one so that git's stat cache keeps it fast.

use std::path::{Path, PathBuf};
use std::process::Stdio;

pub use crate::store::record::{Changes, Commit, FileChange, Snapshot};

use super::{output, reading as git, text};

/// The working tree's state, or `None` outside a git repository (or if git fails:
/// this is a report, never a reason to fail a run); `included` are ignored paths
/// (relative to the top level) taken into it all the same.
pub fn snapshot(cwd: &Path, included: &[String]) -> Option<Snapshot> {
    // Outside any repository (the common case for scratch directories) no git process
    // is started at all: look for `.git` first.
    if std::env::var_os("GIT_DIR").is_none() && !cwd.ancestors().any(|d| d.join(".git").exists()) {
        return None;
    }
    // One rev-parse for the top level, the index and HEAD; on an unborn branch HEAD
    // does not resolve and the question is asked again without it.
    let ask = |with_head: bool| {
        let mut cmd = git(cwd);
        cmd.args([
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--git-path",
            "index",
        ]);
        if with_head {
            cmd.arg("HEAD");
        }
        text(&mut cmd)
    };
    let (out, head_asked) = match ask(true) {
        Some(out) => (out, true),
        None => (ask(false)?, false),
    };
    let mut lines = out.lines();
    let toplevel = PathBuf::from(lines.next()?);
    let index = PathBuf::from(lines.next()?);
    let head = if head_asked {
        lines.next().map(str::to_owned)
    } else {
        None
    };
    let tree = write_tree(&toplevel, &index, included)?;
    Some(Snapshot {
        toplevel,
        index: Some(index),
        head,
        tree,
        included: included.to_vec(),
    })
}

/// The working tree as a tree object: `git add -A` into a copy of the real index (the
/// copy keeps git's stat cache, so unchanged files are not hashed again), then
/// `write-tree`. The real index is never written. The ignored paths `included` that
/// exist are added too (`add -f`, the names taken literally).
pub(super) fn write_tree(
    toplevel: &Path,
    real_index: &Path,
    included: &[String],
) -> Option<String> {
    tree_of_index(toplevel, real_index, Some(included))
}

/// What is staged, as a tree object (from a copy of the index; `None` while it has
/// unmerged entries).
pub(super) fn staged_tree(toplevel: &Path, real_index: &Path) -> Option<String> {
    tree_of_index(toplevel, real_index, None)
}

fn tree_of_index(toplevel: &Path, real_index: &Path, add_all: Option<&[String]>) -> Option<String> {
    let tmp = tempfile_path();
    if std::fs::copy(real_index, &tmp).is_err() {
        // No index yet (fresh repository): start from an empty one.
        let _ = std::fs::remove_file(&tmp);
    }
    let tree = (|| {
        if let Some(included) = add_all {
            output(
                git(toplevel)
                    .env("GIT_INDEX_FILE", &tmp)
                    .args(["add", "-A", "--", "."]),
            )?;
            let present: Vec<&String> = included
                .iter()
                .filter(|p| std::fs::symlink_metadata(toplevel.join(p)).is_ok())
                .collect();
            if !present.is_empty() {
                output(
                    git(toplevel)
                        .env("GIT_INDEX_FILE", &tmp)
                        .env("GIT_LITERAL_PATHSPECS", "1")
                        .args(["add", "-f", "--"])
                        .args(present),
                )?;
            }
        }
        text(git(toplevel).env("GIT_INDEX_FILE", &tmp).arg("write-tree"))
    })();
    let _ = std::fs::remove_file(&tmp);
    tree
}

/// `tree` with some entries set back, `(mode, id, path)` (mode `000000`: absent), as a
/// new tree object; through a temporary index, paths as bytes.
pub(super) fn edit_tree(
    dir: &Path,
    tree: &str,
    entries: &[(String, String, Vec<u8>)],
) -> Option<String> {
    use std::io::Write as _;
    let tmp = tempfile_path();
    let edited = (|| {
        output(
            git(dir)
                .env("GIT_INDEX_FILE", &tmp)
                .args(["read-tree", tree]),
        )?;
        let mut input = Vec::new();
        for (mode, id, path) in entries {
            if mode == "000000" {
                input.extend_from_slice(b"0 0000000000000000000000000000000000000000");
            } else {
                input.extend_from_slice(format!("{mode} {id}").as_bytes());
            }
            input.push(b'\t');
            input.extend_from_slice(path);
            input.push(0);
        }
        let mut child = git(dir)
            .env("GIT_INDEX_FILE", &tmp)
            .args(["update-index", "-z", "--index-info"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let written = child.stdin.take()?.write_all(&input).is_ok();
        (child.wait().ok()?.success() && written).then_some(())?;
        text(git(dir).env("GIT_INDEX_FILE", &tmp).arg("write-tree"))
    })();
    let _ = std::fs::remove_file(&tmp);
    edited
}

fn tempfile_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "agent-offload-index-{}-{nanos}",
        std::process::id()
    ))
}

/// What changed since `before`: files (with line counts) and new commits.
pub fn since(before: &Snapshot) -> Option<Changes> {
    let dir = &before.toplevel;
    let after = match &before.index {
        Some(index) => {
            // HEAD is asked for while the tree is written: the two do not depend on
            // each other, and each git process costs a few milliseconds.
            let head = git(dir)
                .args(["rev-parse", "--verify", "-q", "HEAD^{commit}"])
                .stdout(Stdio::piped())
                .spawn();
            let tree = write_tree(dir, index, &before.included);
            let head = head
                .ok()
                .and_then(|child| child.wait_with_output().ok())
                .filter(|out| out.status.success())
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
                .filter(|h| !h.is_empty());
            Snapshot {
                toplevel: dir.clone(),
                index: Some(index.clone()),
                head,
                tree: tree?,
                included: before.included.clone(),
            }
        }
        None => snapshot(dir, &before.included)?,
    };
    // The same tree: no file changed, and git need not be asked.
    let raw = if after.tree == before.tree {
        Vec::new()
    } else {
        // Both views in one process: `--raw` entries (status, paths) start with ':',
        // `--numstat` entries with the counts.
        output(git(dir).args([
            "diff-tree",
            "-r",
            "-z",
            "-M",
            "--raw",
            "--numstat",
            &before.tree,
            &after.tree,
        ]))?
    };
    let (mut files, counts) = parse_diff(&raw);
    let (mut insertions, mut deletions) = (0, 0);
    for f in &mut files {
        if let Some(&(ins, del)) = counts.iter().find(|(p, _)| *p == f.path).map(|(_, c)| c) {
            f.insertions = ins;
            f.deletions = del;
            insertions += ins.unwrap_or(0);
            deletions += del.unwrap_or(0);
        }
    }
    let commits = match (&before.head, &after.head) {
        (Some(a), Some(b)) if a == b => Vec::new(),
        (_, None) => Vec::new(),
        (from, Some(to)) => {
            let range = match from {
                Some(from) => format!("{from}..{to}"),
                None => to.clone(),
            };
            let log =
                text(git(dir).args(["log", "--reverse", "-n", "200", "--format=%H%x09%s", &range]))
                    .unwrap_or_default();
            log.lines()
                .filter_map(|l| {
                    let (sha, summary) = l.split_once('\t')?;
                    Some(Commit {
                        sha: sha.to_owned(),
                        summary: summary.to_owned(),
                    })
                })
                .collect()
        }
    };
    Some(Changes {
        files,
        commits,
        insertions,
        deletions,
        base_tree: Some(before.tree.clone()),
        tree: Some(after.tree),
    })
}

type Counts = (Option<u64>, Option<u64>);

/// Parses `diff-tree -z --raw --numstat`. Raw entries: `:modes shas STATUS\0path\0`,
/// or for a rename or copy `...R100\0old\0new\0`. Numstat entries: `ins\tdel\tpath\0`,
/// or for a rename `ins\tdel\t\0old\0new\0`; binary files count as `-`.
fn parse_diff(raw: &[u8]) -> (Vec<FileChange>, Vec<(String, Counts)>) {
    let mut fields = raw
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let (mut files, mut counts) = (Vec::new(), Vec::new());
    while let Some(head) = fields.next() {
        if let Some(meta) = head.strip_prefix(':') {
            let code = meta.split_whitespace().last().unwrap_or("M");
            let kind = code.chars().next().unwrap_or('M');
            let (old_path, path) = if matches!(kind, 'R' | 'C') {
                let old = fields.next().unwrap_or_default();
                (Some(old), fields.next().unwrap_or_default())
            } else {
                (None, fields.next().unwrap_or_default())
            };
            let status = match kind {
                'A' => "added",
                'D' => "deleted",
                'R' => "renamed",
                'C' => "copied",
                'T' => "type_changed",
                _ => "modified",
            };
            files.push(FileChange {
                path,
                status: status.to_owned(),
                old_path,
                insertions: None,
                deletions: None,
            });
            continue;
        }
        let mut parts = head.splitn(3, '\t');
        let (Some(ins), Some(del), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = if path.is_empty() {
            let _old = fields.next();
            fields.next().unwrap_or_default()
        } else {
            path.to_owned()
        };
        counts.push((path, (ins.parse().ok(), del.parse().ok())));
    }
    (files, counts)
}

/// Writes the run's changes as a patch (`git diff --binary BASE TREE`) to `target`;
/// false when there is nothing to write or git cannot (the trees were pruned).
pub fn write_diff(toplevel: &Path, c: &Changes, target: &Path) -> bool {
    let (Some(base), Some(tree)) = (&c.base_tree, &c.tree) else {
        return false;
    };
    let Some(patch) = output(git(toplevel).args(["diff", "--binary", base, tree])) else {
        return false;
    };
    crate::atomic::write_unsynced(target, &patch, 0o600).is_ok()
}

/// A compact list for stderr: `M src/a.rs (+3 -1)`, `R old -> new`, commits.
pub fn describe(c: &Changes) -> String {
    use std::fmt::Write as _;
    if c.files.is_empty() && c.commits.is_empty() {
        return "changes: none (no file changed, no commit made)".to_owned();
    }
    let mut s = format!(
        "changes: {} file{}, +{} -{}{}",
        c.files.len(),
        if c.files.len() == 1 { "" } else { "s" },
        c.insertions,
        c.deletions,
        match c.commits.len() {
            0 => String::new(),
            1 => ", 1 commit".to_owned(),
            n => format!(", {n} commits"),
        }
    );
    for f in &c.files {
        let letter = match f.status.as_str() {
            "added" => 'A',
            "deleted" => 'D',
            "renamed" => 'R',
            "copied" => 'C',
            "type_changed" => 'T',
            _ => 'M',
        };
        let name = match &f.old_path {
            Some(old) => format!("{old} -> {}", f.path),
            None => f.path.clone(),
        };
        let counts = match (f.insertions, f.deletions) {
            (Some(0), Some(0)) => String::new(),
            (Some(i), Some(d)) => format!(" (+{i} -{d})"),
            _ => " (binary)".to_owned(),
        };
        let _ = write!(s, "\n  {letter} {name}{counts}");
    }
    for commit in &c.commits {
        let short = &commit.sha[..commit.sha.len().min(10)];
        let _ = write!(s, "\n  commit {short} {}", commit.summary);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_z_output() {
        let raw: &[u8] = b":100644 100644 aaa bbb M\0src/a.rs\0\
:100644 100644 ccc ccc R087\0old name.txt\0new name.txt\0\
:000000 100644 000 ddd A\0b.bin\0\
3\t1\tsrc/a.rs\x001\t0\t\0old name.txt\0new name.txt\0-\t-\tb.bin\0";
        let (files, counts) = parse_diff(raw);
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].status, "modified");
        assert_eq!(files[1].status, "renamed");
        assert_eq!(files[1].old_path.as_deref(), Some("old name.txt"));
        assert_eq!(files[1].path, "new name.txt");
        assert_eq!(files[2].status, "added");
        assert_eq!(counts[0], ("src/a.rs".to_owned(), (Some(3), Some(1))));
        assert_eq!(counts[1], ("new name.txt".to_owned(), (Some(1), Some(0))));
        assert_eq!(counts[2], ("b.bin".to_owned(), (None, None)));
    }
}
