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
use std::path::{Path, PathBuf};

use crate::store::dir::{self, RunDir};

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

use crate::store::untrusted::read_at_most;
pub use crate::store::untrusted::{Entry, Refused, Stamp, entry, open_untrusted};

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
        crate::os::make_fifo(&fifo, 0o600).unwrap();
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
