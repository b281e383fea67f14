//! What the delegated agent changed: the working tree's full state is recorded as a git
//! tree when the run starts (HEAD plus every tracked and untracked, not-ignored file),
//! and compared with the state when it ends. The user's index and stash are never
//! touched: the snapshot is taken through a temporary index file (`GIT_INDEX_FILE`),
//! seeded from a copy of the real one so that git's stat cache keeps it fast.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// The state of the working tree at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub toplevel: PathBuf,
    /// `None` on an unborn branch.
    pub head: Option<String>,
    /// The tree object holding the working tree's content.
    pub tree: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Changes {
    pub files: Vec<FileChange>,
    /// Commits made during the run, oldest first.
    pub commits: Vec<Commit>,
    pub insertions: u64,
    pub deletions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `modified`, `deleted`, `renamed`, `copied` or `type_changed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// `None` for binary files.
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub summary: String,
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        // Reading commands must not take locks that could get in the user's way.
        .env("GIT_OPTIONAL_LOCKS", "0");
    cmd
}

fn output(cmd: &mut Command) -> Option<Vec<u8>> {
    let out = cmd.output().ok()?;
    out.status.success().then_some(out.stdout)
}

fn text(cmd: &mut Command) -> Option<String> {
    output(cmd).map(|b| String::from_utf8_lossy(&b).trim().to_owned())
}

/// The working tree's state, or `None` outside a git repository (or if git fails:
/// this is a report, never a reason to fail a run).
pub fn snapshot(cwd: &Path) -> Option<Snapshot> {
    // Outside any repository (the common case for scratch directories) no git process
    // is started at all: look for `.git` first.
    if std::env::var_os("GIT_DIR").is_none() && !cwd.ancestors().any(|d| d.join(".git").exists()) {
        return None;
    }
    // One rev-parse for the top level, the git directory and HEAD (absent on an
    // unborn branch: then the first two lines come alone).
    let out = text(git(cwd).args([
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-path",
        "index",
    ]))?;
    let mut lines = out.lines();
    let toplevel = PathBuf::from(lines.next()?);
    let real_index = PathBuf::from(lines.next()?);
    snapshot_at(toplevel, &real_index)
}

fn snapshot_at(toplevel: PathBuf, real_index: &Path) -> Option<Snapshot> {
    let head = text(git(&toplevel).args(["rev-parse", "--verify", "-q", "HEAD^{commit}"]))
        .filter(|h| !h.is_empty());
    let tmp = tempfile_path();
    if std::fs::copy(real_index, &tmp).is_err() {
        // No index yet (fresh repository): start from an empty one.
        let _ = std::fs::remove_file(&tmp);
    }
    let tree = (|| {
        output(
            git(&toplevel)
                .env("GIT_INDEX_FILE", &tmp)
                .args(["add", "-A", "--", "."]),
        )?;
        text(git(&toplevel).env("GIT_INDEX_FILE", &tmp).arg("write-tree"))
    })();
    let _ = std::fs::remove_file(&tmp);
    Some(Snapshot {
        toplevel,
        head,
        tree: tree?,
    })
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
    let after = snapshot(&before.toplevel)?;
    let dir = &before.toplevel;
    let diff = |format: &str| {
        output(git(dir).args([
            "diff-tree",
            "-r",
            "-z",
            "-M",
            format,
            &before.tree,
            &after.tree,
        ]))
    };
    let mut files = parse_name_status(&diff("--name-status")?);
    let counts = parse_numstat(&diff("--numstat")?);
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
    })
}

fn parse_name_status(raw: &[u8]) -> Vec<FileChange> {
    let mut fields = raw
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut out = Vec::new();
    while let Some(code) = fields.next() {
        if code.is_empty() {
            continue;
        }
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
        out.push(FileChange {
            path,
            status: status.to_owned(),
            old_path,
            insertions: None,
            deletions: None,
        });
    }
    out
}

type Counts = (Option<u64>, Option<u64>);

/// `--numstat -z`: `ins\tdel\tpath\0`, or for a rename `ins\tdel\t\0old\0new\0`;
/// binary files count as `-`.
fn parse_numstat(raw: &[u8]) -> Vec<(String, Counts)> {
    let mut fields = raw
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut out = Vec::new();
    while let Some(head) = fields.next() {
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
        out.push((path, (ins.parse().ok(), del.parse().ok())));
    }
    out
}

/// A compact list for stderr: `M src/a.rs (+3 -1)`, `R old -> new`, commits.
pub fn describe(c: &Changes) -> String {
    use std::fmt::Write as _;
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
        let ns = b"M\0src/a.rs\0R087\0old name.txt\0new name.txt\0A\0b.bin\0";
        let files = parse_name_status(ns);
        assert_eq!(files.len(), 3);
        assert_eq!(files[1].status, "renamed");
        assert_eq!(files[1].old_path.as_deref(), Some("old name.txt"));
        assert_eq!(files[1].path, "new name.txt");
        let num = b"3\t1\tsrc/a.rs\x001\t0\t\0old name.txt\0new name.txt\0-\t-\tb.bin\0";
        let counts = parse_numstat(num);
        assert_eq!(counts[0], ("src/a.rs".to_owned(), (Some(3), Some(1))));
        assert_eq!(counts[1], ("new name.txt".to_owned(), (Some(1), Some(0))));
        assert_eq!(counts[2], ("b.bin".to_owned(), (None, None)));
    }
}
