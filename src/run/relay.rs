//! The relay: between a headless agent CLI that speaks structured output (JSON lines on
//! stdout) and the run directory. `launch.sh` starts it in the agent's place
//! (`agent-offload __relay DIR INTERFACE EXPECTED METER -- AGENT ARGS…`); it starts the agent
//! with its stdout on a pipe and, line by line,
//! - appends the raw event to `events.jsonl`;
//! - writes the readable transcript to its own stdout, which is `output.log`;
//! - records what it learnt in `stream.json` (session id, final message, error,
//!   usage) — the session id the moment it is seen, so that it survives whatever
//!   happens to the run next.
//!
//! It exits with the agent's status (128 + n for a signal), as the shell would, so the
//! launcher records it unchanged, once the agent has exited: not at the end of its
//! stdout, which a child the agent started (a dev server a tool ran) may hold open for
//! ever. After the agent's exit it reads what is left until the pipe goes quiet
//! ([`DRAIN_QUIET`], [`DRAIN_MAX`] at most); the run's stop then ends that child. The agent's stdin and stderr are the launcher's.
//! Nothing the agent writes can stop the relay from draining the pipe: a write that
//! fails (a full disk) is given up, the reading goes on.
//!
//! It also enforces the run's budgets (`--max-tokens`, `--max-cost`, see `usage`):
//! the event that crosses one stops the agent (TERM, a grace, KILL), and `stream.json`
//! says which budget it crossed.
//!
//! Resuming, the relay also checks the CLI resumed the session it was asked for: codex
//! starts a fresh thread, silently, for an id it cannot find by name (measured with codex
//! 0.169.0). A run must never continue in a session nobody asked for: the agent is
//! stopped and the run fails.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::agents::{Stream, UsageScope};
use crate::interface::Interface;
use crate::store::dir;
use crate::store::record::Recorded;
use crate::usage::Usage;
use crate::usage::{CostSource, Meter, Spent, Tokens};

/// The hidden subcommand that runs the relay.
pub const RELAY_COMMAND: &str = "__relay";
/// The longest line kept whole: beyond it a line is cut into pieces (shown raw).
const LINE_MAX: usize = 8 * 1024 * 1024;

/// What `stream.json` holds. Field names are read back by `session` and `conclude`.
#[derive(Serialize)]
struct Facts<'a> {
    interface: &'static str,
    session_id: Option<&'a str>,
    final_message: Option<&'a str>,
    error: Option<&'a str>,
    usage: &'a Usage,
    usage_scope: UsageScope,
    turns: Option<u64>,
    model: Option<&'a str>,
    /// The budget the run crossed, in words (the agent was stopped).
    over_budget: Option<&'a str>,
}

/// `__relay DIR INTERFACE EXPECTED METER -- PROGRAM ARGS…` (EXPECTED: the session id
/// being resumed, or `-`; METER: the run's [`Meter`] as JSON). Returns the agent's exit
/// status.
pub fn relay_main(args: &[OsString]) -> Result<u8> {
    let [dir, interface, expected, meter, dashes, program, rest @ ..] = args else {
        anyhow::bail!(
            "usage: agent-offload {RELAY_COMMAND} DIR INTERFACE EXPECTED METER -- PROGRAM ARGS..."
        );
    };
    let meter: Meter = meter
        .to_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .context("the meter is not valid")?;
    anyhow::ensure!(
        dashes == "--",
        "{RELAY_COMMAND}: expected -- before the program"
    );
    let interface = interface
        .to_str()
        .and_then(Interface::from_name)
        .context("unknown interface")?;
    let expected = expected.to_str().filter(|e| *e != "-").map(str::to_owned);
    let stream = Stream::new(interface).context("this interface has no structured output")?;
    let run_dir = PathBuf::from(dir);
    let events = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(run_dir.join(dir::EVENTS))
        .ok();
    let mut child = match Command::new(program)
        .args(rest)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            say!(
                "agent-offload: cannot start {}: {e}",
                Path::new(program).display()
            );
            // What the shell says for a command it cannot find or run.
            return Ok(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let stdout = child.stdout.take().context("the agent's stdout")?;
    let relay = Arc::new(Mutex::new(Relay {
        run_dir,
        interface,
        stream,
        events,
        expected,
        recorded_id: None,
        wrong_session: false,
        meter,
        over_budget: None,
        cost_unknown_said: false,
        saved_key: (None, None),
        saved_usage: crate::usage::Usage::default(),
        saved_at: None,
    }));
    // Two things end the relaying: the end of the agent's stdout, and the agent's own
    // exit. Either can come first: a child the agent started (a dev server a tool ran)
    // may hold the pipe open long after the agent is gone.
    let (tx, rx) = mpsc::channel();
    let lines = Arc::new(AtomicU64::new(0));
    {
        let (relay, lines, tx) = (Arc::clone(&relay), Arc::clone(&lines), tx.clone());
        std::thread::spawn(move || {
            pump(&relay, stdout, &lines);
            let _ = tx.send(End::Stdout);
        });
    }
    let pid = i32::try_from(child.id()).unwrap_or(0);
    std::thread::spawn(move || {
        crate::os::wait_child_exited(pid);
        let _ = tx.send(End::Agent);
    });
    if rx.recv() == Ok(End::Agent) {
        drain(&rx, &lines);
    }
    // Whatever is still to come (a child holding the pipe) is not relayed: the lock is
    // held to the end.
    let mut relay = relay
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stopped = relay.wrong_session || relay.over_budget.is_some();
    let status = if stopped {
        stop_child(&mut child)
    } else {
        child.wait().context("waiting for the agent")?
    };
    relay.end();
    if stopped {
        return Ok(1);
    }
    Ok(exit_byte(status))
}

/// What ended the relaying first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The end of the agent's stdout (or the relay stopped reading it).
    Stdout,
    /// The agent exited.
    Agent,
}

/// After the agent's exit, how long the pipe may stay quiet before the relay stops
/// reading it: what the agent wrote before it exited is already in the pipe and is read
/// at once; only a child still holding the pipe keeps it open.
const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// After the agent's exit, how long the relay reads the pipe at most (a child that keeps
/// writing cannot hold the run).
const DRAIN_MAX: Duration = Duration::from_secs(3);

/// Reads what is left in the agent's stdout after its exit: to the end of the pipe, or
/// until it stays quiet for [`DRAIN_QUIET`], at most [`DRAIN_MAX`].
fn drain(rx: &mpsc::Receiver<End>, lines: &AtomicU64) {
    let until = Instant::now() + DRAIN_MAX;
    let mut seen = lines.load(Ordering::SeqCst);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(DRAIN_QUIET.min(left)) {
            Ok(End::Stdout) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Ok(End::Agent) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = lines.load(Ordering::SeqCst);
                if now == seen || left.is_zero() {
                    return;
                }
                seen = now;
            }
        }
    }
}

/// Reads the agent's stdout to its end (or until the relay stops the agent), a line at
/// a time, counting them in `lines`.
fn pump(relay: &Mutex<Relay>, stdout: impl Read, lines: &AtomicU64) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match read_line(&mut reader, &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut relay = relay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let go_on = relay.line(&line);
        drop(relay);
        lines.fetch_add(1, Ordering::SeqCst);
        if !go_on {
            return;
        }
    }
}

/// How long a stopped agent has between TERM and KILL.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Stops the agent the relay started: TERM, [`STOP_GRACE`], KILL. (The run's own stop
/// sweeps whatever it started in turn.)
fn stop_child(child: &mut std::process::Child) -> std::process::ExitStatus {
    use rustix::process::{Pid, Signal, kill_process};
    if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
    let until = std::time::Instant::now() + STOP_GRACE;
    while std::time::Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    child
        .wait()
        .unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(9))
}

/// The status as the shell reports it: the exit code, or 128 + the signal.
fn exit_byte(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => crate::exit::for_signal(sig),
        (None, None) => 1,
    }
}

struct Relay {
    run_dir: PathBuf,
    interface: Interface,
    stream: Stream,
    events: Option<File>,
    expected: Option<String>,
    recorded_id: Option<String>,
    wrong_session: bool,
    meter: Meter,
    over_budget: Option<String>,
    cost_unknown_said: bool,
    /// What `stream.json` said when last written (see [`Relay::changed`]).
    saved_key: (Option<usize>, Option<usize>),
    saved_usage: crate::usage::Usage,
    saved_at: Option<std::time::Instant>,
}

impl Relay {
    /// Relays one line of the agent's stdout; false once the agent is to be stopped (a
    /// budget crossed, a session mismatch).
    fn line(&mut self, line: &[u8]) -> bool {
        let complete = line.last() == Some(&b'\n');
        if let Some(f) = &mut self.events {
            let ok = f.write_all(line).is_ok() && (complete || f.write_all(b"\n").is_ok());
            if !ok {
                // A full disk: stop keeping the raw events, go on relaying.
                self.events = None;
            }
        }
        let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
        let rendered = self.stream.line(&text);
        say(&rendered);
        if self.meter.has_budget() {
            let spent = self.meter.spent(
                self.stream.usage(),
                self.stream.usage_scope() == UsageScope::Session,
            );
            if self.meter.max_cost.is_some()
                && spent.cost_usd.is_none()
                && spent.tokens.total().unwrap_or(0) > 0
                && !self.cost_unknown_said
            {
                // A CLI that reports a cost of 0 for a model it has no price for.
                self.cost_unknown_said = true;
                say(&format!(
                    "agent-offload: {} reports no cost for this model, so --max-cost \
                     cannot be enforced: give the profile a price\n",
                    self.interface.name()
                ));
            }
            if let Some(crossed) = self.meter.crossed(&spent) {
                say(&format!("agent-offload: {crossed}: stopping the agent\n"));
                self.over_budget = Some(crossed);
                self.save();
                return false;
            }
        }
        if self.stream.session_id() != self.recorded_id.as_deref() {
            self.recorded_id = self.stream.session_id().map(str::to_owned);
            if let (Some(want), Some(got)) = (&self.expected, &self.recorded_id)
                && want != got
            {
                say(&format!(
                    "agent-offload: {} was asked to resume session {want} but started \
                     session {got}: stopping it (a run never goes on in a session \
                     nobody asked for)\n",
                    self.interface.name()
                ));
                self.wrong_session = true;
                self.save();
                return false;
            }
            self.save();
        } else if self.changed() {
            self.save();
        }
        true
    }

    /// Whether what `stream.json` says is out of date: a new final message or error at
    /// once (the stall detector and a failed run read them while the agent may hang),
    /// new usage at most once a second (it is read by `show` and `top`).
    fn changed(&mut self) -> bool {
        let key = (
            self.stream.final_message().map(str::len),
            self.stream.error().map(str::len),
        );
        let usage = self.stream.usage().clone();
        let now = std::time::Instant::now();
        let due = key != self.saved_key
            || (usage != self.saved_usage
                && self
                    .saved_at
                    .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(1)));
        if due {
            self.saved_key = key;
            self.saved_usage = usage;
            self.saved_at = Some(now);
        }
        due
    }

    /// The end of the stream: the last of the transcript, and the final facts.
    fn end(&mut self) {
        let rest = self.stream.finish();
        say(&rest);
        self.save();
    }

    fn save(&self) {
        let facts = Facts {
            interface: self.interface.name(),
            session_id: if self.wrong_session {
                self.expected.as_deref()
            } else {
                self.stream.session_id()
            },
            final_message: self.stream.final_message(),
            error: if self.wrong_session {
                Some("the CLI started a new session instead of resuming the one asked for")
            } else {
                self.stream.error()
            },
            usage: self.stream.usage(),
            usage_scope: self.stream.usage_scope(),
            turns: self.stream.turns(),
            model: self.stream.model(),
            over_budget: self.over_budget.as_deref(),
        };
        if let Ok(mut json) = serde_json::to_vec_pretty(&facts) {
            json.push(b'\n');
            let _ = crate::atomic::write_unsynced(&self.run_dir.join(dir::STREAM), &json, 0o600);
        }
    }
}

/// Writes transcript text to stdout (`output.log`); a failed write is given up.
fn say(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Reads one line, newline included, of at most [`LINE_MAX`] bytes (a longer line
/// comes as several). Returns the number of bytes read; 0 at the end.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(line.len());
        }
        let room = LINE_MAX - line.len();
        let (take, done) = match buf.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len().min(room), buf.len() >= room),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            return Ok(line.len());
        }
    }
}

/// Reading what the relay wrote (`stream.json`; the record type is the store's).
impl Recorded {
    pub fn read(run: &dir::RunDir) -> Option<Recorded> {
        let bytes = run.small_file(dir::STREAM, 1024 * 1024)?;
        let mut r: Recorded = serde_json::from_slice(&bytes).ok()?;
        r.session_id = r.session_id.filter(|id| crate::session_id::valid(id));
        Some(r)
    }
}

/// The session's running total as a run's CLI last reported it, for a CLI that reports
/// one (codex): what a run resuming the session starts from.
pub fn recorded_session_usage(run: &dir::RunDir) -> Option<Tokens> {
    let r = Recorded::read(run)?;
    (r.usage_scope == Some(UsageScope::Session)).then_some(r.usage?.tokens)
}

/// What a run has spent: as recorded when it ended, or so far (see [`measure`]).
pub fn spent(run: &dir::RunDir, m: &dir::Manifest) -> Option<Spent> {
    if let Some(tokens) = m.usage {
        return Some(Spent {
            tokens,
            cost_usd: m.cost_usd,
            cost_source: m.cost_source.unwrap_or(CostSource::None),
        });
    }
    measure(run, m)
}

/// What a run has spent so far, from the CLI's transcript (a pane run) or the
/// relay's `stream.json` (headless), priced by its meter.
pub fn measure(run: &dir::RunDir, m: &dir::Manifest) -> Option<Spent> {
    if let Some(reported) = crate::run::session::transcript_usage(run, m) {
        return Some(m.meter.unwrap_or_default().spent(&reported, false));
    }
    let r = Recorded::read(run)?;
    let reported = r.usage?;
    Some(m.meter.unwrap_or_default().spent(
        &reported.as_events(),
        r.usage_scope == Some(UsageScope::Session),
    ))
}

impl dir::RunDir {
    /// The agent's last message, from its structured output (headless runs of CLIs
    /// that have one).
    pub fn final_message(&self) -> Option<String> {
        Recorded::read(self)?
            .final_message
            .filter(|m| !m.trim().is_empty())
    }

    /// The error the agent CLI reported in its structured output.
    pub fn reported_error(&self) -> Option<String> {
        Recorded::read(self)?.error.filter(|m| !m.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_come_in_pieces_and_short_ones_whole() {
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', LINE_MAX + 10));
        input.extend(b"\nlast");
        let mut reader = BufReader::with_capacity(1024, &input[..]);
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            if read_line(&mut reader, &mut line).unwrap() == 0 {
                break;
            }
            lines.push(line);
        }
        let sizes: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, LINE_MAX, 11, 4]);
        assert_eq!(lines[3], b"last");
    }
}
