//! A pane run's token usage, read from the agent CLI's own session transcript. A run
//! in a pane has no structured output to parse (see `events`): its usage is what the
//! CLI wrote to the session file named by the id `run.json` records.
//!
//! Two calls: [`locate`] finds the session's file, [`usage`] reads it. A resumed
//! session appends to the same file, so the caller records the file's size when the
//! run starts (0 if it does not exist yet) and passes it as `from`: [`Counted::since`]
//! is then this run's usage, [`Counted::session`] the whole session's. A caller that
//! looks again and again (a pane run's budget, `top`) uses [`usage_from`] instead and
//! keeps the [`Progress`] it returns: the next reading reads only what was appended.
//!
//! Measured with the pinned CLIs against a scripted model server that answers 10 input
//! and 5 output tokens per request (fixtures in `transcript_fixtures/`, trimmed copies
//! of real TUI transcripts, each holding two or three runs of one session):
//!
//! | CLI | file | usage records | rule |
//! |---|---|---|---|
//! | claude 2.1.197 | `$CLAUDE_CONFIG_DIR` or `~/.claude`, `projects/<cwd, non-alphanumerics → '-'>/<id>.jsonl`, subagents in `<id>/subagents/**.jsonl` | `assistant` records' `message.usage`, one record per content block | per `message.id` the latest (field by field, the largest) usage, summed over messages |
//! | codex 0.169.0 | `$CODEX_HOME` or `~/.codex`, `sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl` | `event_msg` `token_count` `info.total_token_usage`: the thread's running total | the last one; this run's is the last minus the last before `from` |
//! | pi 0.73.1 | `$PI_CODING_AGENT_DIR` or `~/.pi/agent`, `sessions/--<cwd, '/' → '-'>--/<time>_<id>.jsonl` | `message` records with `message.role` `assistant`: `message.usage` (and `cost.total`) per model request | sum, once per record `id` |
//! | gemini 0.61.0 | `$GEMINI_CLI_HOME` or `~`, `.gemini/tmp/<project>/chats/session-<date>T<HH-MM>-<id, 8 chars>.jsonl`, `<project>` from `.gemini/projects.json` | `gemini` records' `tokens`, per model request; a record is written again (same `id`) when its tool calls are added | sum, once per `id` |
//! | qwen 0.15.10 | `$QWEN_RUNTIME_DIR`, `$QWEN_HOME` or `~/.qwen`, `projects/<cwd, non-alphanumerics → '-'>/chats/<id>.jsonl` | `assistant` records' `usageMetadata`, per model request | sum, once per record `uuid` |
//! | opencode | a `SQLite` database | not read | None |
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
//! are opened as `read::open_untrusted` does (no symbolic link, no FIFO), read line by
//! line (a line over `LINE_MAX` is skipped, at most `READ_MAX` bytes in all), and
//! what does not parse is skipped. A located file must lie inside the CLI's store.
#![allow(dead_code)] // wired in by the pane runs' metering

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::usage::Usage;
fn sum(v: &[Option<u64>]) -> Option<u64> {
    crate::agents::sum(v)
}
use crate::interface::Interface;
use crate::run::read::open_untrusted;
use crate::session_id::valid as valid_session_id;

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
/// At most this many claude subagent transcripts are read.
const SUBAGENTS_MAX: usize = 256;

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

/// Where `interface`'s session `id` is kept, for an agent whose environment gives
/// `var` (`HOME`, `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `PI_CODING_AGENT_DIR`,
/// `GEMINI_CLI_HOME`, `QWEN_HOME`, `QWEN_RUNTIME_DIR`), working in `cwd`. None if the
/// file does not exist (yet), is not a regular file, or lies outside the store (a
/// symbolic link out of it), or if the CLI keeps no such file (opencode, cursor).
pub fn locate(
    interface: Interface,
    id: &str,
    cwd: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if !valid_session_id(id) || !id.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let dir_of = |name: &str, default: &str| cli_dir(&var, home.as_deref(), name, default);
    let file = format!("{id}.jsonl");
    match interface {
        Interface::Claude => {
            let root = dir_of("CLAUDE_CONFIG_DIR", ".claude")?.join("projects");
            let named = |dir: &Path| Some(dir.join(&file));
            in_project(&root, cwd, claude_project, &named)
        }
        Interface::Qwen => {
            let base = var("QWEN_RUNTIME_DIR")
                .map(|v| expand_tilde(&v, home.as_deref()))
                .filter(|p| p.is_absolute())
                .or_else(|| dir_of("QWEN_HOME", ".qwen"))?;
            let root = base.join("projects");
            let named = |dir: &Path| Some(dir.join("chats").join(&file));
            in_project(&root, cwd, sanitize, &named)
        }
        Interface::Pi => {
            let root = sessions_root(interface, &var)?;
            let suffix = format!("_{id}.jsonl");
            let named = |dir: &Path| find_named(dir, |n| n.ends_with(&suffix));
            in_project(&root, cwd, pi_project, &named)
        }
        Interface::Codex => {
            let root = sessions_root(interface, &var)?;
            let suffix = format!("-{id}.jsonl");
            // sessions/YYYY/MM/DD, the newest first.
            for year in sorted_dirs(&root).into_iter().rev() {
                for month in sorted_dirs(&year).into_iter().rev() {
                    for day in sorted_dirs(&month).into_iter().rev() {
                        if let Some(found) =
                            find_named(&day, |n| n.starts_with("rollout-") && n.ends_with(&suffix))
                            && let Some(found) = inside(&root, &found)
                        {
                            return Some(found);
                        }
                    }
                }
            }
            None
        }
        Interface::Gemini => {
            let gemini = var("GEMINI_CLI_HOME")
                .map(|v| expand_tilde(&v, home.as_deref()))
                .or(home.clone())
                .filter(|p| p.is_absolute())?
                .join(".gemini");
            let root = gemini.join("tmp");
            let short: String = id.chars().take(8).collect();
            let suffix = format!("-{short}.jsonl");
            let named = |dir: &Path| {
                find_all(&dir.join("chats"), |n| {
                    n.starts_with("session-") && n.ends_with(&suffix)
                })
                .into_iter()
                .find(|p| gemini_header_is(p, id))
            };
            let project = |cwd: &str| gemini_project(&gemini, cwd).unwrap_or_default();
            in_project(&root, cwd, project, &named)
        }
        Interface::Generic | Interface::Cursor | Interface::Opencode => None,
    }
}

/// The directory holding codex's (`$CODEX_HOME/sessions`, default `~/.codex`) or
/// pi's (`$PI_CODING_AGENT_DIR/sessions`, default `~/.pi/agent`) session files; `None`
/// for the other CLIs, whose files are found by `locate` alone.
pub fn sessions_root(
    interface: Interface,
    var: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let (name, default) = match interface {
        Interface::Codex => ("CODEX_HOME", ".codex"),
        Interface::Pi => ("PI_CODING_AGENT_DIR", ".pi/agent"),
        _ => return None,
    };
    Some(cli_dir(&var, home.as_deref(), name, default)?.join("sessions"))
}

/// A CLI's own directory: `$NAME` (with `~` expanded), else `~/DEFAULT`; absolute only.
fn cli_dir(
    var: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    name: &str,
    default: &str,
) -> Option<PathBuf> {
    var(name)
        .map(|v| expand_tilde(&v, home))
        .or_else(|| home.map(|h| h.join(default)))
        .filter(|p| p.is_absolute())
}

/// The usage `interface`'s transcript at `path` records: the whole session's, and the
/// part from byte `from` on. None for a CLI whose transcript is not read (opencode,
/// cursor) or a file that cannot be opened as a regular file.
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
    /// The main file first, then claude's subagent files.
    files: Vec<Mark>,
    tally: Tally,
    /// claude, reading from `from` > 0: when the run's part began (RFC 3339).
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
    let record: fn(&Value) -> Option<Record> = match interface {
        Interface::Claude => claude_record,
        Interface::Codex => codex_record,
        Interface::Pi => pi_record,
        Interface::Gemini => gemini_record,
        Interface::Qwen => qwen_record,
        Interface::Generic | Interface::Cursor | Interface::Opencode => return None,
    };
    let needle: &[u8] = match interface {
        Interface::Codex => b"token_count",
        Interface::Gemini => b"\"tokens\"",
        Interface::Qwen => b"usageMetadata",
        _ => b"\"usage\"",
    };
    let (file, _) = open_untrusted(path).ok()?;
    let mut p = match progress {
        Some(mut p) if p.fits(interface, path, from) => {
            p.advanced = false;
            p
        }
        _ => Progress::new(interface, path, from),
    };
    let mut pending = Vec::new();
    // claude: the time this run's part began (its first record with a time), for
    // its subagents' files.
    let searching = interface == Interface::Claude && from > 0 && p.boundary.is_none();
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
    if interface == Interface::Claude {
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
        claude_subagents(path, boundary, &mut p, &mut pending);
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
enum Record {
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

/// claude: `{type: assistant, message: {id, usage: {input_tokens,
/// cache_creation_input_tokens, cache_read_input_tokens, output_tokens}}}`. Input
/// counts the cache reads and writes too, as `events::claude` does.
fn claude_record(v: &Value) -> Option<Record> {
    if v.get("type")?.as_str()? != "assistant" {
        return None;
    }
    let message = v.get("message")?;
    let u = message.get("usage").filter(|u| u.is_object())?;
    let cache_read = count(u, "cache_read_input_tokens");
    let usage = Usage {
        input_tokens: sum(&[
            count(u, "input_tokens"),
            count(u, "cache_creation_input_tokens"),
            cache_read,
        ]),
        cached_input_tokens: cache_read,
        output_tokens: count(u, "output_tokens"),
        reasoning_tokens: None,
        cost_usd: None,
    };
    let key = key(message, "id")
        .or_else(|| key(v, "requestId"))
        .or_else(|| key(v, "uuid"));
    Some(Record::Add { key, usage })
}

/// codex: `{type: event_msg, payload: {type: token_count, info: {total_token_usage}}}`,
/// the thread's running total (`info` is null when only rate limits changed).
fn codex_record(v: &Value) -> Option<Record> {
    let payload = v.get("payload")?;
    if v.get("type")?.as_str()? != "event_msg" || payload.get("type")?.as_str()? != "token_count" {
        return None;
    }
    let u = payload
        .get("info")?
        .get("total_token_usage")
        .filter(|u| u.is_object())?;
    Some(Record::Total(Usage {
        input_tokens: count(u, "input_tokens"),
        cached_input_tokens: count(u, "cached_input_tokens"),
        output_tokens: count(u, "output_tokens"),
        reasoning_tokens: count(u, "reasoning_output_tokens"),
        cost_usd: None,
    }))
}

/// pi: `{type: message, id, message: {role: assistant, usage: {input, output,
/// cacheRead, cacheWrite, cost: {total}}}}`, as `events::pi` reads `message_end`.
fn pi_record(v: &Value) -> Option<Record> {
    let message = v.get("message")?;
    if v.get("type")?.as_str()? != "message" || message.get("role")?.as_str()? != "assistant" {
        return None;
    }
    let u = message.get("usage").filter(|u| u.is_object())?;
    let read = count(u, "cacheRead");
    let usage = Usage {
        input_tokens: sum(&[count(u, "input"), read, count(u, "cacheWrite")]),
        cached_input_tokens: read,
        output_tokens: count(u, "output"),
        reasoning_tokens: None,
        cost_usd: u
            .get("cost")
            .and_then(|c| c.get("total"))
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0),
    };
    Some(Record::Add {
        key: key(v, "id"),
        usage,
    })
}

/// gemini: `{id, type: gemini, tokens: {input, output, cached, thoughts, tool}}`, the
/// response's `usageMetadata` (prompt, candidates, cached content, thoughts, tool-use
/// prompt). Input counts the tool-use prompt; output counts the thoughts, which are
/// also the reasoning.
fn gemini_record(v: &Value) -> Option<Record> {
    if v.get("type")?.as_str()? != "gemini" {
        return None;
    }
    let t = v.get("tokens").filter(|t| t.is_object())?;
    let thoughts = count(t, "thoughts");
    let usage = Usage {
        input_tokens: sum(&[count(t, "input"), count(t, "tool")]),
        cached_input_tokens: count(t, "cached"),
        output_tokens: sum(&[count(t, "output"), thoughts]),
        reasoning_tokens: thoughts,
        cost_usd: None,
    };
    Some(Record::Add {
        key: key(v, "id"),
        usage,
    })
}

/// qwen: `{uuid, type: assistant, usageMetadata: {promptTokenCount,
/// candidatesTokenCount, thoughtsTokenCount, cachedContentTokenCount}}`. With an
/// OpenAI-compatible provider the candidates are the completion tokens, reasoning
/// included (the `thoughtsTokenCount` part).
fn qwen_record(v: &Value) -> Option<Record> {
    if v.get("type")?.as_str()? != "assistant" {
        return None;
    }
    let u = v.get("usageMetadata").filter(|u| u.is_object())?;
    let usage = Usage {
        input_tokens: count(u, "promptTokenCount"),
        cached_input_tokens: count(u, "cachedContentTokenCount"),
        output_tokens: count(u, "candidatesTokenCount"),
        reasoning_tokens: count(u, "thoughtsTokenCount"),
        cost_usd: None,
    };
    Some(Record::Add {
        key: key(v, "uuid"),
        usage,
    })
}

/// Which of a claude session's subagent records belong to this run.
#[derive(Clone, Copy)]
enum Boundary {
    All,
    /// Those written at or after this time (when the run's part of the main file began).
    From(jiff::Timestamp),
    /// None: the run has written nothing yet.
    None,
}

/// claude 2.x keeps a subagent's conversation in `<id>/subagents/**/agent-*.jsonl`
/// beside the session's file (found in the 2.1.197 binary; not measured). Its messages
/// have ids of their own; one also in the main file is counted once.
fn claude_subagents(
    path: &Path,
    boundary: Boundary,
    p: &mut Progress,
    pending: &mut Vec<(Record, bool)>,
) {
    let mut files = Vec::new();
    jsonl_files(&path.with_extension("").join("subagents"), 3, &mut files);
    files.sort();
    for file in files.into_iter().take(SUBAGENTS_MAX) {
        let Ok((f, _)) = open_untrusted(&file) else {
            continue;
        };
        p.read_on(&f, &file, pending, &mut |_, _, line| {
            if !contains(line, b"\"usage\"") {
                return None;
            }
            let v = serde_json::from_slice::<Value>(line).ok()?;
            let since = match boundary {
                Boundary::All => true,
                Boundary::From(t) => timestamp(&v).is_some_and(|at| at >= t),
                Boundary::None => false,
            };
            Some((claude_record(&v)?, since))
        });
        if p.read >= READ_MAX {
            break;
        }
    }
}

/// Regular `.jsonl` files under `dir`, `depth` levels down, no symbolic link followed.
fn jsonl_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
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
fn each_line(mut file: &File, from: u64, budget: &mut u64, f: &mut dyn FnMut(u64, &[u8])) -> u64 {
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

/// A token count: a non-negative integer (a whole float too), as `events` reads them.
fn count(v: &Value, key: &str) -> Option<u64> {
    let value = v.get(key)?;
    value.as_u64().or_else(|| {
        let f = value.as_f64()?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1e19).then_some(f as u64)
    })
}

/// A message key: a short string (a longer one is not an id: no key).
fn key(v: &Value, name: &str) -> Option<String> {
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

/// `~` and `~/…` in a variable's value, as the CLIs expand them.
fn expand_tilde(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(value),
    }
}

/// The session file in the project directory `root/<project(cwd)>` (`cwd` as given,
/// then resolved: claude names it after the real path), else in any project
/// directory (a session is found by its id wherever it was started from).
fn in_project(
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

/// claude's project directory name: every character that is not an ASCII letter or
/// digit becomes `-` (one per UTF-16 unit, as JavaScript counts); past 200 characters,
/// cut and followed by a hash (claude 2.1.197: such a directory is found by the search
/// of every project instead).
fn claude_project(cwd: &str) -> String {
    let name = sanitize(cwd);
    if name.len() > 200 {
        String::new()
    } else {
        name
    }
}

/// Every character that is not an ASCII letter or digit becomes `-`, one per UTF-16
/// unit (claude's and qwen's `replace(/[^a-zA-Z0-9]/g, "-")`).
fn sanitize(cwd: &str) -> String {
    cwd.chars()
        .flat_map(|c| {
            let n = if c.is_ascii_alphanumeric() {
                1
            } else {
                c.len_utf16()
            };
            std::iter::repeat_n(if c.is_ascii_alphanumeric() { c } else { '-' }, n)
        })
        .collect()
}

/// pi's: `--<cwd without its leading '/', every '/', '\' and ':' as '-'>--`.
pub fn pi_project(cwd: &str) -> String {
    let cwd = cwd.strip_prefix(['/', '\\']).unwrap_or(cwd);
    format!("--{}--", cwd.replace(['/', '\\', ':'], "-"))
}

/// gemini's short project name for `cwd`, from `projects.json` (`{"projects": {"<abs
/// cwd>": "<name>"}}`, read bounded).
fn gemini_project(gemini: &Path, cwd: &str) -> Option<String> {
    let bytes = super::read::read_whole(&gemini.join("projects.json"), 4 * 1024 * 1024).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let name = v.get("projects")?.get(cwd)?.as_str()?;
    (!name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..")
        .then(|| name.to_owned())
}

/// Whether gemini's chat file begins with the header of session `id` (its name holds
/// only the id's first 8 characters).
fn gemini_header_is(path: &Path, id: &str) -> bool {
    let Ok((file, _)) = open_untrusted(path) else {
        return false;
    };
    let mut first = Vec::new();
    let mut budget = LINE_MAX as u64;
    let mut seen = false;
    each_line(&file, 0, &mut budget, &mut |_, line| {
        if !seen {
            seen = true;
            first = line.to_vec();
        }
    });
    serde_json::from_slice::<Value>(&first)
        .ok()
        .and_then(|v| v.get("sessionId")?.as_str().map(|s| s == id))
        .unwrap_or(false)
}

/// The first regular file in `dir` whose name matches.
fn find_named(dir: &Path, matches: impl Fn(&str) -> bool) -> Option<PathBuf> {
    find_all(dir, matches).into_iter().next()
}

/// The regular files in `dir` whose names match, sorted.
fn find_all(dir: &Path, matches: impl Fn(&str) -> bool) -> Vec<PathBuf> {
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
fn inside(root: &Path, file: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    let root = std::fs::canonicalize(root).ok()?;
    let real = std::fs::canonicalize(file).ok()?;
    real.starts_with(&root).then(|| file.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: &str = include_str!("../agents/fixtures/claude-tui.jsonl");
    const CODEX: &str = include_str!("../agents/fixtures/codex-tui.jsonl");
    const PI: &str = include_str!("../agents/fixtures/pi-tui.jsonl");
    const GEMINI: &str = include_str!("../agents/fixtures/gemini-tui.jsonl");
    const QWEN: &str = include_str!("../agents/fixtures/qwen-tui.jsonl");

    fn tokens(input: u64, output: u64) -> (Option<u64>, Option<u64>) {
        (Some(input), Some(output))
    }

    fn io(u: &Usage) -> (Option<u64>, Option<u64>) {
        (u.input_tokens, u.output_tokens)
    }

    /// The offset of the first line holding `marker` (where the run it names began).
    fn start_of(text: &str, marker: &str) -> u64 {
        let at = text.find(marker).expect(marker);
        text[..at].rfind('\n').map_or(0, |i| i + 1) as u64
    }

    /// A new directory of its own for each call (the tests run in parallel).
    fn scratch(name: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "agent-offload-transcript-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn count_in(interface: Interface, text: &str, from: u64) -> Counted {
        let dir = scratch(interface.name());
        let path = dir.join("s.jsonl");
        write(&path, text);
        let counted = usage(interface, &path, from).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        counted
    }

    /// Two TUI runs of one session (the second resumed): the model server logged 3
    /// requests for the first (one the session's title, not in the transcript) and 2
    /// for the second, 10 in / 5 out each. The assistant records carry the final usage
    /// (5 out, where the stream's said 1).
    #[test]
    fn claude_sums_messages_once() {
        let all = count_in(Interface::Claude, CLAUDE, 0);
        assert_eq!(io(&all.session), tokens(40, 20));
        assert_eq!(all.session.cached_input_tokens, Some(0));
        assert_eq!(all.since, all.session);
        assert_eq!(all.end, CLAUDE.len() as u64);
        let second = count_in(Interface::Claude, CLAUDE, start_of(CLAUDE, "MARK-claude-2"));
        assert_eq!(io(&second.session), tokens(40, 20));
        assert_eq!(io(&second.since), tokens(20, 10));
    }

    /// One message written as several records (one per content block), the earlier
    /// ones with a partial output count: counted once, with its complete usage.
    #[test]
    fn claude_repeated_message_ids_count_once() {
        let text = r#"{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":1}}}
{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":42}}}
{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":1,"output_tokens":2}}}
"#;
        let c = count_in(Interface::Claude, text, 0);
        assert_eq!(io(&c.session), tokens(111, 44));
        assert_eq!(c.session.cached_input_tokens, Some(100));
        // A message first seen before `from` stays there.
        let from = start_of(text, "\"output_tokens\":42");
        let c = count_in(Interface::Claude, text, from);
        assert_eq!(io(&c.since), tokens(1, 2));
    }

    #[test]
    fn claude_subagents_count_from_the_runs_start() {
        let dir = scratch("claude-sub");
        let main = dir.join("abc.jsonl");
        let before = r#"{"type":"assistant","timestamp":"2026-01-01T10:00:00Z","message":{"id":"m1","usage":{"input_tokens":10,"output_tokens":5}}}
"#;
        write(
            &main,
            &format!(
                "{before}{}",
                r#"{"type":"user","timestamp":"2026-01-01T11:00:00Z","message":{}}
{"type":"assistant","timestamp":"2026-01-01T11:00:01Z","message":{"id":"m2","usage":{"input_tokens":10,"output_tokens":5}}}
"#
            ),
        );
        write(
            &dir.join("abc/subagents/agent-1.jsonl"),
            r#"{"type":"assistant","timestamp":"2026-01-01T10:30:00Z","message":{"id":"s1","usage":{"input_tokens":100,"output_tokens":50}}}
{"type":"assistant","timestamp":"2026-01-01T11:00:02Z","message":{"id":"s2","usage":{"input_tokens":1000,"output_tokens":500}}}
{"type":"assistant","timestamp":"2026-01-01T11:00:03Z","message":{"id":"m2","usage":{"input_tokens":10,"output_tokens":5}}}
"#,
        );
        let c = usage(Interface::Claude, &main, before.len() as u64).unwrap();
        assert_eq!(io(&c.session), tokens(1120, 560));
        assert_eq!(io(&c.since), tokens(1010, 505));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Three TUI runs of one thread: 3 requests each in the server's log, one a task
    /// title (not in the transcript); `total_token_usage` runs 15/30/…/90.
    #[test]
    fn codex_takes_the_running_total_never_sums_it() {
        let all = count_in(Interface::Codex, CODEX, 0);
        assert_eq!(io(&all.session), tokens(60, 30));
        assert_eq!(all.session.reasoning_tokens, Some(0));
        let third = count_in(Interface::Codex, CODEX, start_of(CODEX, "MARK-codex-3"));
        assert_eq!(io(&third.session), tokens(60, 30));
        assert_eq!(io(&third.since), tokens(20, 10));
        // Nothing recorded since `from` yet: nothing, not the earlier total.
        let none = count_in(Interface::Codex, CODEX, CODEX.len() as u64);
        assert_eq!(none.since, Usage::default());
    }

    /// Two TUI runs (2 requests each) in pi's session file.
    #[test]
    fn pi_sums_assistant_messages() {
        let all = count_in(Interface::Pi, PI, 0);
        assert_eq!(io(&all.session), tokens(40, 20));
        // pi reports a cost of 0 without a price: summed as it is.
        assert_eq!(all.session.cost_usd, Some(0.0));
        let second = count_in(Interface::Pi, PI, start_of(PI, "MARK-pi-2"));
        assert_eq!(io(&second.since), tokens(20, 10));
    }

    /// Two TUI runs, 3 requests each in the server's log (one the router's classifier,
    /// not in the transcript). A message is written again with its tool calls (same
    /// id), and the resumed run rewrites the history with `$set`: each counted once.
    #[test]
    fn gemini_counts_each_message_once() {
        let all = count_in(Interface::Gemini, GEMINI, 0);
        assert_eq!(io(&all.session), tokens(40, 20));
        assert_eq!(all.session.reasoning_tokens, Some(0));
        let second = count_in(Interface::Gemini, GEMINI, start_of(GEMINI, "MARK-gemini-2"));
        assert_eq!(io(&second.since), tokens(20, 10));
    }

    /// Two TUI runs, 2 requests each.
    #[test]
    fn qwen_sums_assistant_usage() {
        let all = count_in(Interface::Qwen, QWEN, 0);
        assert_eq!(io(&all.session), tokens(40, 20));
        let second = count_in(Interface::Qwen, QWEN, start_of(QWEN, "MARK-qwen-2"));
        assert_eq!(io(&second.since), tokens(20, 10));
    }

    /// Read as it is written, in pieces cut anywhere (mid-line too), with the progress
    /// kept between readings as the run directory keeps it (JSON): the same usage as
    /// one reading of the whole file, for every CLI and a resumed run's `from`.
    #[test]
    fn reading_on_from_a_progress_counts_what_one_reading_counts() {
        for (interface, text, mark) in [
            (Interface::Claude, CLAUDE, "MARK-claude-2"),
            (Interface::Codex, CODEX, "MARK-codex-3"),
            (Interface::Pi, PI, "MARK-pi-2"),
            (Interface::Gemini, GEMINI, "MARK-gemini-2"),
            (Interface::Qwen, QWEN, "MARK-qwen-2"),
        ] {
            for from in [0, start_of(text, mark)] {
                let whole = count_in(interface, text, from);
                let dir = scratch("pieces");
                let path = dir.join("s.jsonl");
                let mut kept: Option<Progress> = None;
                let mut written = 0;
                for cut in (0..text.len()).step_by(97).chain([text.len()]) {
                    let cut = (cut..=text.len())
                        .find(|&c| text.is_char_boundary(c))
                        .unwrap();
                    if cut < written {
                        continue;
                    }
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .unwrap();
                    std::io::Write::write_all(&mut f, &text.as_bytes()[written..cut]).unwrap();
                    written = cut;
                    let (counted, p) = usage_from(interface, &path, from, kept.take()).unwrap();
                    assert!(counted.end <= written as u64);
                    kept = Some(serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap());
                }
                let (last, p) = usage_from(interface, &path, from, kept).unwrap();
                assert_eq!(last, whole, "{interface:?} from {from}");
                // Nothing appended: nothing read, nothing to keep.
                let (again, p) = usage_from(interface, &path, from, Some(p)).unwrap();
                assert!(!p.advanced);
                assert_eq!(again, whole);
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    /// A file replaced, cut shorter or rewritten before where it was read is read again
    /// from its start; a progress for another file, or one that makes no sense, is
    /// dropped.
    #[test]
    fn a_changed_file_is_read_again() {
        let dir = scratch("changed");
        let path = dir.join("s.jsonl");
        let line = |id: &str, n: u64| {
            format!(
                "{{\"type\":\"message\",\"id\":\"{id}\",\"message\":{{\"role\":\"assistant\",\"usage\":{{\"input\":{n},\"output\":1}}}}}}\n"
            )
        };
        write(&path, &format!("{}{}", line("a", 10), line("b", 20)));
        let (c, p) = usage_from(Interface::Pi, &path, 0, None).unwrap();
        assert_eq!(io(&c.session), tokens(30, 2));
        // Only what is appended is read: an edit in place well before the end, where
        // the reading's mark does not look, is not seen.
        let filler =
            "{\"type\":\"note\",\"text\":\"padding padding padding padding\"}\n".repeat(10);
        write(
            &path,
            &format!("{}{}{filler}", line("a", 10), line("b", 20)),
        );
        let (_, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        write(
            &path,
            &format!("{}{}{filler}", line("a", 90), line("b", 20)),
        );
        let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        assert_eq!(io(&c.session), tokens(30, 2));
        write(&path, &format!("{}{}", line("a", 10), line("b", 20)));
        let (_, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        // Rewritten in place, same size: the bytes before the mark differ.
        write(&path, &format!("{}{}", line("a", 10), line("b", 40)));
        let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        assert_eq!(io(&c.session), tokens(50, 2));
        // Cut shorter.
        write(&path, &line("a", 10));
        let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        assert_eq!(io(&c.session), tokens(10, 1));
        // Replaced by another file (another inode), longer.
        let new = dir.join("new.jsonl");
        write(
            &new,
            &format!("{}{}{}", line("a", 1), line("b", 2), line("c", 3)),
        );
        std::fs::rename(&new, &path).unwrap();
        let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
        assert_eq!(io(&c.session), tokens(6, 3));
        // Kept for another `from`, another file or another CLI: not used.
        let (c, _) = usage_from(Interface::Pi, &path, 1, Some(p.clone())).unwrap();
        assert_eq!(io(&c.since), tokens(5, 2));
        assert!(usage_from(Interface::Qwen, &path, 0, Some(p)).is_some());
        // Whatever the run directory's file says, it parses or it is dropped.
        for bad in [
            "{}",
            "[]",
            "{\"interface\":\"pi\",\"path\":\"/x\",\"from\":0,\"files\":[],\"tally\":{\"keyed\":[[\"k\",true,[1e400,null,null,null,null]]]}}",
        ] {
            assert!(serde_json::from_str::<Progress>(bad).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_lines_are_skipped() {
        let big = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(LINE_MAX + 10));
        let good = r#"{"type":"message","id":"a","message":{"role":"assistant","usage":{"input":10,"output":5}}}"#;
        let text = format!(
            "not json\n{big}{good}\n\u{0}\u{ff}\n{{\"type\":\"message\",\"id\":\"b\",\"message\":{{\"role\":\"assistant\",\"usage\":{{\"input\":-1,\"output\":1e400}}}}}}\n{good}"
        );
        let c = count_in(Interface::Pi, &text, 0);
        assert_eq!(io(&c.session), tokens(10, 5));
        // The last line has no newline: read, but not past `end`.
        assert_eq!(c.end, (text.len() - good.len()) as u64);
        assert!(usage(Interface::Opencode, Path::new("/nonexistent"), 0).is_none());
        assert!(usage(Interface::Pi, Path::new("/nonexistent"), 0).is_none());
    }

    #[test]
    fn locates_each_cli_s_file() {
        let home = scratch("locate");
        let cwd = home.join("my work.d");
        std::fs::create_dir_all(&cwd).unwrap();
        let cwd_s = cwd.to_string_lossy().into_owned();
        let env = |home: PathBuf| {
            move |name: &str| (name == "HOME").then(|| home.to_string_lossy().into_owned())
        };
        let var = env(home.clone());
        let id = "0d912906-b6b7-47be-84b8-ce72d0132e27";

        let claude = home
            .join(".claude/projects")
            .join(sanitize(&cwd_s))
            .join(format!("{id}.jsonl"));
        write(&claude, "");
        assert_eq!(
            locate(Interface::Claude, id, &cwd, &var),
            Some(claude.clone())
        );
        assert!(sanitize(&cwd_s).ends_with("-my-work-d"));

        let qwen = home
            .join(".qwen/projects")
            .join(sanitize(&cwd_s))
            .join("chats")
            .join(format!("{id}.jsonl"));
        write(&qwen, "");
        assert_eq!(locate(Interface::Qwen, id, &cwd, &var), Some(qwen));

        let pi = home
            .join(".pi/agent/sessions")
            .join(pi_project(&cwd_s))
            .join(format!("2026-11-30T21-12-06-204Z_{id}.jsonl"));
        write(&pi, "");
        assert_eq!(locate(Interface::Pi, id, &cwd, &var), Some(pi));

        let codex = home.join(format!(
            ".codex/sessions/2026/11/30/rollout-2026-11-30T21-05-57-{id}.jsonl"
        ));
        write(&codex, "");
        assert_eq!(locate(Interface::Codex, id, &cwd, &var), Some(codex));

        write(
            &home.join(".gemini/projects.json"),
            &serde_json::json!({"projects": {cwd_s.clone(): "work"}}).to_string(),
        );
        let chats = home.join(".gemini/tmp/work/chats");
        // Same first 8 characters, another session: not it.
        write(
            &chats.join("session-2026-11-30T21-12-0d912906.jsonl"),
            "{\"sessionId\":\"0d912906-0000-0000-0000-000000000000\"}\n",
        );
        let gemini = chats.join("session-2026-11-30T21-13-0d912906.jsonl");
        write(&gemini, &format!("{{\"sessionId\":\"{id}\"}}\n"));
        assert_eq!(locate(Interface::Gemini, id, &cwd, &var), Some(gemini));

        // An override variable wins; a session started elsewhere is found by its id.
        let other = home.join("claude-config");
        let moved = other
            .join("projects/-elsewhere")
            .join(format!("{id}.jsonl"));
        write(&moved, "");
        let var2 = |name: &str| match name {
            "CLAUDE_CONFIG_DIR" => Some(other.to_string_lossy().into_owned()),
            "HOME" => Some(home.to_string_lossy().into_owned()),
            _ => None,
        };
        assert_eq!(locate(Interface::Claude, id, &cwd, &var2), Some(moved));

        // Nothing outside the store, nothing for a bad id or a CLI without files.
        assert_eq!(locate(Interface::Claude, "no-such-id", &cwd, &var), None);
        assert_eq!(locate(Interface::Claude, "../x", &cwd, &var), None);
        assert_eq!(locate(Interface::Claude, "..", &cwd, &var), None);
        assert_eq!(locate(Interface::Opencode, id, &cwd, &var), None);
        std::fs::remove_file(&claude).unwrap();
        let outside = home.join("outside.jsonl");
        write(&outside, "");
        std::os::unix::fs::symlink(&outside, &claude).unwrap();
        assert_eq!(locate(Interface::Claude, id, &cwd, &var), None);
        assert!(usage(Interface::Claude, &claude, 0).is_none());
        assert_eq!(locate(Interface::Claude, id, &cwd, &|_| None), None);
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn project_names_follow_the_clis() {
        assert_eq!(
            sanitize("/tmp/probe/runs/claude-t/work"),
            "-tmp-probe-runs-claude-t-work"
        );
        // One '-' per UTF-16 unit, as JavaScript's replace counts.
        assert_eq!(sanitize("/a/é/😀"), "-a-----");
        assert_eq!(
            pi_project("/tmp/probe/runs/pi-t/work"),
            "--tmp-probe-runs-pi-t-work--"
        );
        assert_eq!(claude_project(&"/x".repeat(150)), "");
    }
}
