//! Reading what the agent left in the run directory: its summary, its exit status and
//! the tail of its output. These are the run's readable parts, as methods on
//! [`RunDir`], for the commands that show a run.
//!
//! Everything in the run directory is untrusted input: the delegated agent can put
//! anything there — a FIFO at `done.md` (an `open` that never returns), a symbolic link
//! to `/dev/zero` (a read that never ends), a directory, 50 MB of text, a 300 MB log.
//! So every file the agent can write is read through one reader, [`open_untrusted`]:
//! - it looks before it opens (`lstat`): only a regular file is opened at all, so no
//!   device is ever opened (opening one can have effects);
//! - it opens without following a symbolic link and without blocking
//!   (`O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`: a FIFO swapped in after the look opens at
//!   once instead of waiting for a writer), and `fstat`s what it opened: a regular file
//!   or nothing;
//! - it reads a bounded amount: the summary up to [`SUMMARY_LIMIT`] (beyond it, its
//!   head and tail), a log's tail from the end (a seek, never the whole file).
//!
//! [`entry`] is the look alone, for the waiter, which asks on every wake whether a
//! summary is there.

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{Mode, OFlags};

use crate::run::dir::{self, RunDir};

/// The most of a summary printed or put in `--json`: a longer one is cut to its first
/// and last [`SUMMARY_PART`] bytes, with a line between naming the whole file and its
/// size (documented in docs/commands.md, "Output and exit codes").
pub const SUMMARY_LIMIT: u64 = 64 * 1024;
/// The head and the tail kept of a summary over [`SUMMARY_LIMIT`].
const SUMMARY_PART: u64 = SUMMARY_LIMIT / 2;
/// How much of the log's end a tail is taken from.
const LOG_TAIL_BYTES: u64 = 8 * 1024;
/// The exit status file holds a number and a newline.
const EXIT_LIMIT: u64 = 64;

/// Why a file of the run directory was not read.
#[derive(Debug)]
pub enum Refused {
    Missing,
    /// Something other than a regular file is there: what, in words ("a FIFO").
    NotAFile(&'static str),
    Io(std::io::Error),
}

/// What is at a path of the run directory, as `lstat` sees it (a symbolic link is
/// not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Missing,
    /// A regular file, with what tells whether it is still being written.
    File(Stamp),
    /// Something other than a regular file: what, in words ("a FIFO").
    Other(&'static str),
}

/// A regular file's identity, size and times: when none of them changes, nothing
/// wrote to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub size: u64,
    /// Last write (seconds, nanoseconds).
    mtime: (i64, i64),
    /// Last change of the data or the inode (a rename, a `chmod`).
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether the inode changed after its last write: a rename (or `chmod`, `link`)
    /// came after the writing. A file written in place has `ctime == mtime`, as every
    /// write sets both to the same instant.
    pub fn changed_after_write(&self) -> bool {
        self.ctime > self.mtime
    }

    /// Whether the last write is at least `quiet` in the past, by the file's own clock.
    pub fn written_before(&self, quiet: Duration) -> bool {
        let (secs, nanos) = self.mtime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        let Some(written) = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)) else {
            return false;
        };
        SystemTime::now()
            .duration_since(written)
            .is_ok_and(|age| age >= quiet)
    }
}

/// What kind of file `t` is, in words, unless it is a regular file.
fn kind(t: std::fs::FileType) -> Option<&'static str> {
    Some(if t.is_file() {
        return None;
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    })
}

/// What is at `path`, without following a symbolic link or opening anything.
pub fn entry(path: &Path) -> Entry {
    match std::fs::symlink_metadata(path) {
        Ok(m) => match kind(m.file_type()) {
            None => Entry::File(Stamp::of(&m)),
            Some(k) => Entry::Other(k),
        },
        // Unreadable counts as missing: the run directory is ours, so it only happens
        // when something removed it, and then there is no summary either.
        Err(_) => Entry::Missing,
    }
}

/// The one way a file the agent can write is opened: only a regular file, never
/// through a symbolic link, never blocking. Returns it with its size.
pub fn open_untrusted(path: &Path) -> Result<(File, u64), Refused> {
    match entry(path) {
        Entry::Missing => return Err(Refused::Missing),
        Entry::Other(k) => return Err(Refused::NotAFile(k)),
        Entry::File(_) => {}
    }
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => Refused::Missing,
        // O_NOFOLLOW met a symbolic link (swapped in since the look): ELOOP, or
        // EMLINK on FreeBSD.
        rustix::io::Errno::LOOP | rustix::io::Errno::MLINK => Refused::NotAFile("a symbolic link"),
        e => Refused::Io(e.into()),
    })?;
    let file = File::from(fd);
    // What was opened, not what was looked at: a FIFO or a directory swapped in since
    // the look is refused here.
    let meta = file.metadata().map_err(Refused::Io)?;
    match kind(meta.file_type()) {
        None => Ok((file, meta.len())),
        Some(k) => Err(Refused::NotAFile(k)),
    }
}

/// The whole of a file the agent could have replaced (`run.json` lives in its
/// directory too), through [`open_untrusted`], refused past `limit` bytes.
pub fn read_whole(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let (file, size) = open_untrusted(path).map_err(|r| match r {
        Refused::Missing => std::io::Error::from(std::io::ErrorKind::NotFound),
        Refused::NotAFile(kind) => std::io::Error::other(format!("{kind}, not a regular file")),
        Refused::Io(e) => e,
    })?;
    if size > limit {
        return Err(std::io::Error::other(format!(
            "{size} bytes, more than the {limit} expected"
        )));
    }
    // The size seen, not the limit: the buffer is allocated (and zeroed) up front.
    read_at_most(&file, 0, size)
}

/// Reads at most `len` bytes of `file` from `offset` (fewer at its end).
fn read_at_most(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    // The buffer is allocated up front: no larger than what the file holds now.
    let there = file.metadata()?.len().saturating_sub(offset);
    let len = usize::try_from(len.min(there)).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let at = offset.saturating_add(got as u64);
        match file.read_at(&mut buf[got..], at) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// The agent's summary as shown: the whole file, or its head and tail.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The text: the summary, or when it is over [`SUMMARY_LIMIT`] its first and last
    /// lines (up to [`SUMMARY_PART`] bytes each) with a line between that names the
    /// whole file and its size.
    pub text: String,
    /// The whole file's size in bytes.
    pub bytes: u64,
    /// Whether `text` is cut.
    pub truncated: bool,
}

/// Cuts `bytes` (read from the start of a file) after its last line end, when there is
/// one in its second half, else after its last whole UTF-8 character.
fn cut_head(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) if i >= bytes.len() / 2 => &bytes[..=i],
        _ => &bytes[..whole_chars_end(bytes)],
    }
}

/// Where `bytes` ends without the start of a character the cut split (a UTF-8 lead byte
/// followed by fewer continuation bytes than it announces).
fn whole_chars_end(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if !is_continuation(b) {
            let len = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if len > back { n - back } else { n };
        }
    }
    n
}

/// Starts `bytes` (read up to the end of a file) after its first line end, when there is
/// one in its first half, else at the first whole UTF-8 character.
fn cut_tail(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) if i < bytes.len() / 2 => &bytes[i + 1..],
        _ => {
            let skip = bytes
                .iter()
                .take(3)
                .take_while(|&&b| is_continuation(b))
                .count();
            &bytes[skip..]
        }
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

impl RunDir {
    /// The summary (`done.md`), if the agent published one as a regular file, read
    /// bounded (see [`Summary`]).
    pub fn summary(&self) -> Option<Summary> {
        self.published(dir::DONE)
    }

    /// The agent's question (`question.md`), read like the summary.
    pub fn question(&self) -> Option<Summary> {
        self.published(dir::QUESTION)
    }

    /// A file the agent publishes for the delegating agent to read (`done.md`,
    /// `question.md`): whole up to [`SUMMARY_LIMIT`], else its head and tail.
    fn published(&self, name: &str) -> Option<Summary> {
        let path = self.file(name);
        let (file, size) = open_untrusted(&path).ok()?;
        if size <= SUMMARY_LIMIT {
            let bytes = read_at_most(&file, 0, SUMMARY_LIMIT).ok()?;
            return Some(Summary {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                bytes: size,
                truncated: false,
            });
        }
        let head = read_at_most(&file, 0, SUMMARY_PART).ok()?;
        let tail = read_at_most(&file, size - SUMMARY_PART, SUMMARY_PART).ok()?;
        let mut text = String::from_utf8_lossy(cut_head(&head)).into_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&cut_marker(&path, size));
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(cut_tail(&tail)));
        Some(Summary {
            text,
            bytes: size,
            truncated: true,
        })
    }

    /// The session id a generic agent reported in `session_id` (see
    /// [`crate::session_id::valid`]); `None` when there is none or it is not a valid id.
    pub fn reported_session_id(&self) -> Option<String> {
        let (file, _) = open_untrusted(&self.file(dir::SESSION_ID)).ok()?;
        let bytes = read_at_most(&file, 0, 1024).ok()?;
        let id = std::str::from_utf8(&bytes).ok()?.trim();
        crate::session_id::valid(id).then(|| id.to_owned())
    }

    /// A small file of the run directory, whole, when it is at most `limit` bytes.
    pub fn small_file(&self, name: &str, limit: u64) -> Option<Vec<u8>> {
        let (file, size) = open_untrusted(&self.file(name)).ok()?;
        if size > limit {
            return None;
        }
        read_at_most(&file, 0, limit).ok()
    }

    /// Where the agent publishes its summary.
    pub fn summary_file(&self) -> PathBuf {
        self.file(dir::DONE)
    }

    /// The start of the summary, at most `max` bytes (for a list of runs).
    pub fn summary_start(&self, max: u64) -> Option<String> {
        let (file, _) = open_untrusted(&self.file(dir::DONE)).ok()?;
        let bytes = read_at_most(&file, 0, max).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The agent's exit status, as the launcher recorded it in `exit`.
    pub fn exit_status(&self) -> Option<i32> {
        let (file, _) = open_untrusted(&self.file(dir::EXIT)).ok()?;
        let bytes = read_at_most(&file, 0, EXIT_LIMIT).ok()?;
        std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
    }

    /// The agent's output log.
    pub fn log(&self) -> PathBuf {
        self.file(dir::OUTPUT)
    }

    /// The output log opened for reading the whole of it (`logs`), through the reader
    /// for untrusted files; `None` while there is none.
    pub fn open_log(&self) -> anyhow::Result<Option<File>> {
        let path = self.log();
        match open_untrusted(&path) {
            Ok((file, _)) => Ok(Some(file)),
            Err(Refused::Missing) => Ok(None),
            Err(Refused::NotAFile(kind)) => anyhow::bail!(
                "{}: not read",
                not_a_file(&path.display().to_string(), kind)
            ),
            Err(Refused::Io(e)) => {
                Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())))
            }
        }
    }

    /// The prompt as delivered.
    pub fn prompt_file(&self) -> PathBuf {
        self.file(dir::PROMPT)
    }

    /// The last `lines` non-blank lines of the output log, as text, taken from its last
    /// 8 KiB: the log is read from the end, never whole (it can be hundreds of MB).
    pub fn log_tail(&self, lines: usize) -> String {
        let Ok((file, size)) = open_untrusted(&self.log()) else {
            return String::new();
        };
        let start = size.saturating_sub(LOG_TAIL_BYTES);
        let Ok(bytes) = read_at_most(&file, start, LOG_TAIL_BYTES) else {
            return String::new();
        };
        // Started mid-file: the first line is a fragment.
        let bytes = if start > 0 { cut_tail(&bytes) } else { &bytes };
        let text = strip_terminal_codes(&String::from_utf8_lossy(bytes));
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The line put where a long summary was cut.
fn cut_marker(path: &Path, size: u64) -> String {
    format!(
        "[agent-offload: the summary is {size} bytes, over the {} KiB limit: its middle is \
         left out here; the whole summary is {}]",
        SUMMARY_LIMIT / 1024,
        path.display()
    )
}

/// Why a file the agent left is not read, in words: `done.md is a FIFO, not a regular
/// file`.
pub fn not_a_file(name: &str, kind: &str) -> String {
    format!("{name} is {kind}, not a regular file")
}

/// Removes terminal control sequences (a pane's transcript is full of them) and
/// carriage returns, so a log tail reads as text.
fn strip_terminal_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters, then one final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and friends: up to BEL or ST (ESC \\)
                Some(']' | 'P' | '_' | '^') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Two-byte sequences such as ESC ( B
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_head_ends_at_a_line_or_a_whole_character() {
        assert_eq!(cut_head(b"one\ntwo\nthr"), b"one\ntwo\n");
        // No line end in the second half: the last whole character.
        assert_eq!(cut_head(b"\nabcdefgh"), b"\nabcdefgh");
        assert_eq!(cut_head("abcdé".as_bytes()), "abcdé".as_bytes());
        assert_eq!(cut_head(&"abcdé".as_bytes()[..5]), b"abcd");
        assert_eq!(cut_head(&"abcd€".as_bytes()[..6]), b"abcd");
        assert_eq!(cut_head(&"abcd😀".as_bytes()[..7]), b"abcd");
        assert_eq!(cut_head("abcd😀".as_bytes()), "abcd😀".as_bytes());
    }

    #[test]
    fn a_cut_tail_starts_at_a_line_or_a_whole_character() {
        assert_eq!(cut_tail(b"ial\nnext\nlast\n"), b"next\nlast\n");
        assert_eq!(cut_tail(&"€abcdefgh".as_bytes()[1..]), b"abcdefgh");
        assert_eq!(cut_tail(b"abcdefgh\n"), b"abcdefgh\n");
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        crate::run::sys::make_fifo(&fifo, 0o600).unwrap();
        assert!(matches!(
            open_untrusted(&fifo),
            Err(Refused::NotAFile("a FIFO"))
        ));
        assert_eq!(entry(&fifo), Entry::Other("a FIFO"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            open_untrusted(&link),
            Err(Refused::NotAFile("a symbolic link"))
        ));
        assert!(matches!(
            open_untrusted(dir.path()),
            Err(Refused::NotAFile("a directory"))
        ));
        assert!(matches!(
            open_untrusted(&dir.path().join("none")),
            Err(Refused::Missing)
        ));
        let file = dir.path().join("file");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(open_untrusted(&file).unwrap().1, 4);
    }

    #[test]
    fn terminal_codes_are_stripped() {
        assert_eq!(
            strip_terminal_codes("\u{1b}[1;32mok\u{1b}[0m\r\n\u{1b}]0;title\u{7}next\u{1b}(B"),
            "ok\nnext"
        );
    }
}
