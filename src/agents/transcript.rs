//! A pane run's token usage, read from the agent CLI's own session transcript: the
//! shared machinery. A run in a pane has no structured output to parse (see
//! `stream.rs`): its usage is what the CLI wrote to the session file named by the id
//! `run.json` records. Each CLI's file says where its file is and what a record holds
//! (a [`Format`], from `Cli::transcript`); the table is in `agents/mod.rs`.
//!
//! Two calls: [`locate`] finds the session's file, [`usage`] reads it. A resumed
//! session appends to the same file, so the caller records the file's size when the
//! run starts (0 if it does not exist yet) and passes it as `from`: [`Counted::since`]
//! is then this run's usage, [`Counted::session`] the whole session's. A caller that
//! looks again and again (a pane run's budget, `top`) uses [`usage_from`] instead and
//! keeps the [`Progress`] it returns: the next reading reads only what was appended.
//!
//! A message (or record) counts in [`Counted::since`] when it is first seen at or
//! after `from`: a record written again later (gemini's `$set` of the whole history on
//! resume, claude's repeated blocks) is not counted twice, nor moved into this run.
//!
//! What a transcript does not hold: the CLIs' side requests. claude (the session's
//! title, first run only), codex (a task title, every run) and gemini (the model
//! router's classifier, every request) each made one more model request per run than
//! the transcript records, which the headless stream (codex aside) does count.
//!
//! The files are the agent's, untrusted, possibly huge and still being written: they
//! are opened as `store::untrusted::open_untrusted` does (no symbolic link, no FIFO),
//! read line by line (a line over `LINE_MAX` is skipped, at most `READ_MAX` bytes in
//! all), and what does not parse is skipped. A located file must lie inside the CLI's
//! store. The session stores (codex's, pi's) are searched with the same bounds
//! ([`StoreSearch`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::home::Env;
use crate::interface::Interface;
use crate::store::untrusted::{open_untrusted, read_whole};
use crate::usage::Usage;

/// A transcript line longer than this is skipped (a pasted image, a huge tool output:
/// never a usage record).
const LINE_MAX: usize = 4 * 1024 * 1024;
/// At most this much of a session's files is read, in all.
const READ_MAX: u64 = 1024 * 1024 * 1024;
/// At most this many messages are told apart by id; past it they are summed as they
/// come (a hostile file must not grow memory without bound).
const KEYS_MAX: usize = 200_000;
/// At most this many directories are searched for a session not where expected.
const DIRS_MAX: usize = 10_000;
/// At most this many transcripts beside a session's (claude's subagents) are read.
pub const SUBAGENTS_MAX: usize = 256;

/// How one CLI's session transcript is found and read (in the CLI's file).
pub struct Format {
    /// Where session `id` is kept, for an agent whose environment is `env`, working in
    /// `cwd`; the id is valid (see [`locate`]).
    pub locate: fn(id: &str, cwd: &Path, env: &Env<'_>) -> Option<PathBuf>,
    /// The usage one record (a parsed line) holds.
    pub record: fn(&Value) -> Option<Record>,
    /// A line without these bytes holds no usage record (not parsed).
    pub needle: &'static [u8],
    /// Transcripts beside the session's whose records count by their time (claude's
    /// subagents), for the session file at the path given.
    pub beside: Option<fn(&Path) -> Vec<PathBuf>>,
    /// Whether the records hold a cost (pi's), not only tokens.
    pub costs: bool,
}

/// Where `interface`'s session `id` is kept, for an agent whose environment is `env`
/// (`HOME` and the CLI's own variables), working in `cwd`. None if the file does not
/// exist (yet), is not a regular file, or lies outside the store (a symbolic link out
/// of it), or if the CLI keeps no such file (opencode, cursor).
pub fn locate(interface: Interface, id: &str, cwd: &Path, env: &Env<'_>) -> Option<PathBuf> {
    if !crate::session_id::valid(id) || !id.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    (super::cli(interface).transcript()?.locate)(id, cwd, env)
}

/// What a transcript says was used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counted {
    /// The whole session, earlier runs of a resumed session included.
    pub session: Usage,
    /// What was recorded from byte `from` of the transcript on: this run's, when
    /// `from` is the size the file had when the run started.
    pub since: Usage,
    /// The end of the last complete line read: the file's size at that moment, but
    /// for a line still being written.
    pub end: u64,
}

/// The usage `interface`'s transcript at `path` records: the whole session's, and the
/// part from byte `from` on. None for a CLI whose transcript is not read (opencode,
/// cursor) or a file that cannot be opened as a regular file.
#[allow(dead_code)] // one reading; the pane runs keep a `Progress` (`usage_from`)
pub fn usage(interface: Interface, path: &Path, from: u64) -> Option<Counted> {
    usage_from(interface, path, from, None).map(|(counted, _)| counted)
}

/// What readings of a session's files took in so far: where each file's complete lines
/// end and the tally of them, so that the next reading reads only what was appended
/// (a pane run's usage is looked at every few seconds, and a session can be hundreds
/// of megabytes). Kept by the caller between readings, as JSON; it is written where the
/// agent can write too, so it is read as untrusted: a progress that does not fit the
/// files is dropped and the files read again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    interface: Interface,
    path: PathBuf,
    from: u64,
    /// The main file first, then the files beside it (claude's subagents).
    files: Vec<Mark>,
    tally: Tally,
    /// With files beside (claude), reading from `from` > 0: when the run's part began
    /// (RFC 3339).
    boundary: Option<String>,
    /// Bytes read in all (of [`READ_MAX`]).
    read: u64,
    /// Whether this reading took in anything (the progress is worth keeping).
    #[serde(skip)]
    pub advanced: bool,
}

/// How far a file was read, and what identifies it: a file replaced (another inode),
/// cut shorter, or rewritten (other bytes before `end`) is read again from the start.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mark {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// The end of the last complete line read.
    end: u64,
    /// A hash of the bytes just before `end`.
    tail: u64,
}

/// What a reading does with one line (at its offset): the record in it, and whether
/// it counts in the run's part.
type LineFn<'a> = dyn FnMut(&mut Progress, u64, &[u8]) -> Option<(Record, bool)> + 'a;

/// How many bytes before a mark's end its `tail` hashes.
const TAIL: u64 = 256;

impl Progress {
    fn new(interface: Interface, path: &Path, from: u64) -> Progress {
        Progress {
            interface,
            path: path.to_path_buf(),
            from,
            files: Vec::new(),
            tally: Tally::default(),
            boundary: None,
            read: 0,
            advanced: true,
        }
    }

    /// Whether every file read so far is still the one read, up to where it was read.
    fn fits(&self, interface: Interface, path: &Path, from: u64) -> bool {
        self.interface == interface
            && self.path == path
            && self.from == from
            && self.files.first().is_some_and(|m| m.path == path)
            && self.files.iter().all(|m| {
                open_untrusted(&m.path)
                    .is_ok_and(|(f, _)| Mark::of(&f, &m.path, m.end).is_some_and(|now| now == *m))
            })
    }

    /// Reads `file` (at `path`) on from where it was left, feeding complete lines to
    /// the tally and the records of a last line still being written to `pending`.
    fn read_on(
        &mut self,
        file: &File,
        path: &Path,
        pending: &mut Vec<(Record, bool)>,
        line: &mut LineFn<'_>,
    ) {
        let at = if let Some(i) = self.files.iter().position(|m| m.path == path) {
            i
        } else {
            self.files.push(Mark {
                path: path.to_path_buf(),
                dev: 0,
                ino: 0,
                end: 0,
                tail: 0,
            });
            self.files.len() - 1
        };
        let start = self.files[at].end;
        let mut budget = READ_MAX.saturating_sub(self.read);
        let end = each_line(file, start, &mut budget, &mut |offset, bytes| {
            if let Some(r) = line(self, offset, bytes) {
                if bytes.ends_with(b"\n") {
                    self.tally.add(r.0, r.1);
                } else {
                    pending.push(r);
                }
            }
        });
        self.read = self.read.saturating_add(end - start);
        if let Some(mark) = Mark::of(file, path, end) {
            self.advanced |= mark != self.files[at];
            self.files[at] = mark;
        }
    }
}

impl Mark {
    fn of(file: &File, path: &Path, end: u64) -> Option<Mark> {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let meta = file.metadata().ok()?;
        if meta.len() < end {
            return None;
        }
        let at = end.saturating_sub(TAIL);
        let mut bytes = vec![0; usize::try_from(end - at).ok()?];
        file.read_exact_at(&mut bytes, at).ok()?;
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hasher::write(&mut h, &bytes);
        Some(Mark {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
            end,
            tail: std::hash::Hasher::finish(&h),
        })
    }
}

impl PartialEq for Mark {
    fn eq(&self, other: &Mark) -> bool {
        (&self.path, self.dev, self.ino, self.end, self.tail)
            == (&other.path, other.dev, other.ino, other.end, other.tail)
    }
}

/// As [`usage`], going on from `progress`, what an earlier call returned for the same
/// files: only what was appended since is read. Returns the usage and the progress to
/// pass next time ([`Progress::advanced`]: whether it changed).
pub fn usage_from(
    interface: Interface,
    path: &Path,
    from: u64,
    progress: Option<Progress>,
) -> Option<(Counted, Progress)> {
    let format = super::cli(interface).transcript()?;
    let (record, needle) = (format.record, format.needle);
    let (file, _) = open_untrusted(path).ok()?;
    let mut p = match progress {
        Some(mut p) if p.fits(interface, path, from) => {
            p.advanced = false;
            p
        }
        _ => Progress::new(interface, path, from),
    };
    let mut pending = Vec::new();
    // The time this run's part began (its first record with a time), for the files
    // beside (claude's subagents).
    let searching = format.beside.is_some() && from > 0 && p.boundary.is_none();
    p.read_on(&file, path, &mut pending, &mut |p, offset, line| {
        let since = offset >= from;
        if since && searching && p.boundary.is_none() {
            p.boundary = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| timestamp(&v))
                .map(|t| t.to_string());
        }
        if !contains(line, needle) {
            return None;
        }
        let v = serde_json::from_slice::<Value>(line).ok()?;
        Some((record(&v)?, since))
    });
    let end = p.files[0].end;
    if let Some(beside) = format.beside {
        // Subagent records read before the boundary was known were not counted as the
        // run's: read them again, now that it is.
        if searching && p.boundary.is_some() && p.files.len() > 1 {
            return usage_from(interface, path, from, None);
        }
        let boundary = if from == 0 {
            Boundary::All
        } else {
            p.boundary
                .as_deref()
                .and_then(|t| t.parse().ok())
                .map_or(Boundary::None, Boundary::From)
        };
        read_beside(&beside(path), boundary, format, &mut p, &mut pending);
    }
    let (session, since) = if pending.is_empty() {
        p.tally.totals()
    } else {
        let mut tally = p.tally.clone();
        for (r, since) in pending {
            tally.add(r, since);
        }
        tally.totals()
    };
    Some((
        Counted {
            session,
            since,
            end,
        },
        p,
    ))
}

/// One transcript record's usage.
pub enum Record {
    /// One model request's (or message's) usage; a `key` seen again replaces it.
    Add { key: Option<String>, usage: Usage },
    /// The session's running total so far (codex).
    Total(Usage),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tally {
    /// Messages by key: whether first seen in the run's part, and the usage.
    #[serde(with = "packed_keyed")]
    keyed: HashMap<String, (bool, Usage)>,
    /// Messages without a key (or past `KEYS_MAX`), summed.
    #[serde(with = "packed")]
    loose: Usage,
    #[serde(with = "packed")]
    loose_since: Usage,
    /// The last running total before `from`, and the last of all.
    #[serde(with = "packed_opt")]
    total_before: Option<Usage>,
    #[serde(with = "packed_opt")]
    total_last: Option<Usage>,
    total_since: bool,
}

impl Tally {
    fn add(&mut self, record: Record, since: bool) {
        match record {
            Record::Add { key, usage } => match key {
                Some(key) if self.keyed.len() < KEYS_MAX || self.keyed.contains_key(&key) => {
                    let entry = self.keyed.entry(key).or_insert((since, Usage::default()));
                    entry.1 = largest(&entry.1, &usage);
                }
                _ => {
                    self.loose.add(&usage);
                    if since {
                        self.loose_since.add(&usage);
                    }
                }
            },
            Record::Total(usage) => {
                if !since {
                    self.total_before = Some(usage.clone());
                }
                self.total_last = Some(usage);
                self.total_since = since;
            }
        }
    }

    fn totals(&self) -> (Usage, Usage) {
        let mut session = self.loose.clone();
        let mut since = self.loose_since.clone();
        for (in_since, usage) in self.keyed.values() {
            session.add(usage);
            if *in_since {
                since.add(usage);
            }
        }
        if let Some(last) = &self.total_last {
            session.add(last);
            if self.total_since {
                let base = self.total_before.clone().unwrap_or_default();
                since.add(&minus(last, &base));
            }
        }
        (session, since)
    }
}

/// Which records of the files beside a session's (claude's subagents) belong to this
/// run.
#[derive(Clone, Copy)]
enum Boundary {
    All,
    /// Those written at or after this time (when the run's part of the main file began).
    From(jiff::Timestamp),
    /// None: the run has written nothing yet.
    None,
}

/// Reads the files beside the session's (claude's subagents): their messages have ids
/// of their own; one also in the main file is counted once.
fn read_beside(
    files: &[PathBuf],
    boundary: Boundary,
    format: &Format,
    p: &mut Progress,
    pending: &mut Vec<(Record, bool)>,
) {
    for file in files.iter().take(SUBAGENTS_MAX) {
        let Ok((f, _)) = open_untrusted(file) else {
            continue;
        };
        p.read_on(&f, file, pending, &mut |_, _, line| {
            if !contains(line, format.needle) {
                return None;
            }
            let v = serde_json::from_slice::<Value>(line).ok()?;
            let since = match boundary {
                Boundary::All => true,
                Boundary::From(t) => timestamp(&v).is_some_and(|at| at >= t),
                Boundary::None => false,
            };
            Some(((format.record)(&v)?, since))
        });
        if p.read >= READ_MAX {
            break;
        }
    }
}

/// Regular `.jsonl` files under `dir`, `depth` levels down, no symbolic link followed.
pub fn jsonl_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.filter_map(Result::ok).take(DIRS_MAX) {
        if out.len() >= SUBAGENTS_MAX {
            return;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        } else if kind.is_dir() && depth > 1 {
            jsonl_files(&path, depth - 1, out);
        }
    }
}

fn timestamp(v: &Value) -> Option<jiff::Timestamp> {
    v.get("timestamp")?.as_str()?.parse().ok()
}

/// Calls `f` with each line's offset and bytes (newline included), read from byte
/// `from` of `file`, at most `budget` bytes (taken off it). A line over `LINE_MAX` is
/// skipped; a last line without its newline is passed too (a complete record parses, a
/// partial one does not). Returns the end of the last complete line.
pub fn each_line(
    mut file: &File,
    from: u64,
    budget: &mut u64,
    f: &mut dyn FnMut(u64, &[u8]),
) -> u64 {
    if from > 0 && file.seek(SeekFrom::Start(from)).is_err() {
        return from;
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file.take(*budget));
    let (mut pos, mut start) = (from, from);
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.map_or(chunk.len(), |i| i + 1);
        if !too_long {
            if line.len() + take > LINE_MAX {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&chunk[..take]);
            }
        }
        reader.consume(take);
        pos += take as u64;
        if newline.is_some() {
            if !too_long {
                f(start, &line);
            }
            line.clear();
            too_long = false;
            start = pos;
        }
    }
    if !too_long && !line.is_empty() {
        f(start, &line);
    }
    *budget = budget.saturating_sub(pos - from);
    start
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `Usage` kept in a [`Progress`] as one short array (a tally can hold many).
type Packed = (
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<f64>,
);

fn pack(u: &Usage) -> Packed {
    (
        u.input_tokens,
        u.cached_input_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.cost_usd,
    )
}

fn unpack(p: Packed) -> Usage {
    Usage {
        input_tokens: p.0,
        cached_input_tokens: p.1,
        output_tokens: p.2,
        reasoning_tokens: p.3,
        cost_usd: p.4.filter(|c| c.is_finite() && *c >= 0.0),
    }
}

mod packed {
    use super::{Packed, Usage, pack, unpack};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(u: &Usage, s: S) -> Result<S::Ok, S::Error> {
        pack(u).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Usage, D::Error> {
        Packed::deserialize(d).map(unpack)
    }
}

mod packed_opt {
    use super::{Packed, Usage, pack, unpack};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option`
    pub fn serialize<S: Serializer>(u: &Option<Usage>, s: S) -> Result<S::Ok, S::Error> {
        u.as_ref().map(pack).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
        Option::<Packed>::deserialize(d).map(|p| p.map(unpack))
    }
}

/// The keyed messages as a list of `[key, since, usage]`, bounded by `KEYS_MAX`.
mod packed_keyed {
    use std::collections::HashMap;

    use super::{KEYS_MAX, Packed, Usage, pack, unpack};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        keyed: &HashMap<String, (bool, Usage)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(keyed.iter().map(|(k, (since, u))| (k, since, pack(u))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<String, (bool, Usage)>, D::Error> {
        let list = Vec::<(String, bool, Packed)>::deserialize(d)?;
        if list.len() > KEYS_MAX {
            return Err(serde::de::Error::custom("too many keys"));
        }
        Ok(list
            .into_iter()
            .map(|(k, since, u)| (k, (since, unpack(u))))
            .collect())
    }
}

/// A message key: a short string (a longer one is not an id: no key).
pub fn key(v: &Value, name: &str) -> Option<String> {
    v.get(name)?
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .map(str::to_owned)
}

/// Field by field, the larger: one message's usage recorded twice, the later
/// record complete (claude writes a record per content block).
fn largest(a: &Usage, b: &Usage) -> Usage {
    let max = |a: Option<u64>, b: Option<u64>| a.max(b);
    Usage {
        input_tokens: max(a.input_tokens, b.input_tokens),
        cached_input_tokens: max(a.cached_input_tokens, b.cached_input_tokens),
        output_tokens: max(a.output_tokens, b.output_tokens),
        reasoning_tokens: max(a.reasoning_tokens, b.reasoning_tokens),
        cost_usd: match (a.cost_usd, b.cost_usd) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
    }
}

/// `a - b` field by field, not below 0 (a running total minus an earlier one).
fn minus(a: &Usage, b: &Usage) -> Usage {
    let sub = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
    Usage {
        input_tokens: sub(a.input_tokens, b.input_tokens),
        cached_input_tokens: sub(a.cached_input_tokens, b.cached_input_tokens),
        output_tokens: sub(a.output_tokens, b.output_tokens),
        reasoning_tokens: sub(a.reasoning_tokens, b.reasoning_tokens),
        cost_usd: a.cost_usd.map(|a| (a - b.cost_usd.unwrap_or(0.0)).max(0.0)),
    }
}

/// The session file in the project directory `root/<project(cwd)>` (`cwd` as given,
/// then resolved: claude names it after the real path), else in any project
/// directory (a session is found by its id wherever it was started from).
pub fn in_project(
    root: &Path,
    cwd: &Path,
    project: impl Fn(&str) -> String,
    named: &dyn Fn(&Path) -> Option<PathBuf>,
) -> Option<PathBuf> {
    let mut tried = Vec::new();
    let real = std::fs::canonicalize(cwd).ok();
    for cwd in std::iter::once(cwd).chain(real.as_deref()) {
        let name = project(&cwd.to_string_lossy());
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            continue;
        }
        let dir = root.join(&name);
        if let Some(found) = named(&dir).and_then(|p| inside(root, &p)) {
            return Some(found);
        }
        tried.push(dir);
    }
    sorted_dirs(root)
        .into_iter()
        .filter(|d| !tried.contains(d))
        .find_map(|d| named(&d).and_then(|p| inside(root, &p)))
}

/// The first regular file in `dir` whose name matches.
pub fn find_named(dir: &Path, matches: impl Fn(&str) -> bool) -> Option<PathBuf> {
    find_all(dir, matches).into_iter().next()
}

/// The regular files in `dir` whose names match, sorted.
pub fn find_all(dir: &Path, matches: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(&matches))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .take(DIRS_MAX)
        .collect();
    found.sort();
    found
}

/// The subdirectories of `dir` (no symbolic link), sorted, at most `DIRS_MAX`.
pub fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .take(DIRS_MAX)
        .collect();
    dirs.sort();
    dirs
}

/// `file` if it is a regular file (not a link) whose real path lies inside `root`'s.
pub fn inside(root: &Path, file: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    let root = std::fs::canonicalize(root).ok()?;
    let real = std::fs::canonicalize(file).ok()?;
    real.starts_with(&root).then(|| file.to_path_buf())
}

/// The first line of `path` (opened untrusted), at most `LINE_MAX` bytes.
pub fn first_line(path: &Path) -> Option<Vec<u8>> {
    let (file, _) = open_untrusted(path).ok()?;
    let mut first = None;
    let mut budget = LINE_MAX as u64;
    each_line(&file, 0, &mut budget, &mut |_, line| {
        if first.is_none() {
            first = Some(line.to_vec());
        }
    });
    first
}

/// A small JSON file of the CLI's (opened untrusted), refused past `limit` bytes.
pub fn read_json(path: &Path, limit: u64) -> Option<Value> {
    serde_json::from_slice(&read_whole(path, limit).ok()?).ok()
}

/// The search of a CLI's session store for a TUI's session: the file, written since
/// `since`, whose beginning holds `marker` (the run directory's path: every prompt
/// names it, in its completion instructions; no other run's does).
pub struct StoreSearch<'a> {
    pub env: &'a Env<'a>,
    pub cwd: &'a Path,
    pub since: SystemTime,
    pub marker: &'a [u8],
}

/// How much of a session file is searched for the run's marker: the prompt is in its
/// first messages.
const STORE_READ: u64 = 4 * 1024 * 1024;
/// The most session files looked into.
const STORE_FILES: usize = 200;

/// Regular files in `dir` named `PREFIX…SUFFIX`, modified since `since`.
pub fn recent_files(dir: &Path, since: SystemTime, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t >= since))
        })
        .map(|e| e.path())
        .take(STORE_FILES)
        .collect()
}

/// The stem of the first file whose beginning holds `marker`.
pub fn search(files: Vec<PathBuf>, marker: &[u8]) -> Option<String> {
    files.into_iter().find_map(|path| {
        let mut head = Vec::new();
        std::fs::File::open(&path)
            .ok()?
            .take(STORE_READ)
            .read_to_end(&mut head)
            .ok()?;
        head.windows(marker.len())
            .any(|w| w == marker)
            .then(|| path.file_stem()?.to_str().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests;
