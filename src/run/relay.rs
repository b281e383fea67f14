//! The relay: between a headless agent CLI that speaks structured output (JSON lines on
//! stdout) and the run directory. `launch.sh` starts it in the agent's place
//! (`agent-offload __relay DIR INTERFACE EXPECTED -- AGENT ARGS…`); it starts the agent
//! with its stdout on a pipe and, line by line,
//! - appends the raw event to `events.jsonl`;
//! - writes the readable transcript to its own stdout, which is `output.log`;
//! - records what it learnt in `stream.json` (session id, final message, error,
//!   usage) — the session id the moment it is seen, so that it survives whatever
//!   happens to the run next.
//!
//! It exits with the agent's status (128 + n for a signal), as the shell would, so the
//! launcher records it unchanged. The agent's stdin and stderr are the launcher's.
//! Nothing the agent writes can stop the relay from draining the pipe: a write that
//! fails (a full disk) is given up, the reading goes on.
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

use anyhow::{Context, Result};
use serde::Serialize;

use crate::events::{Stream, Usage, UsageScope};
use crate::interface::Interface;
use crate::run::dir;

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
}

/// `__relay DIR INTERFACE EXPECTED -- PROGRAM ARGS…` (EXPECTED: the session id being
/// resumed, or `-`). Returns the agent's exit status.
pub fn relay_main(args: &[OsString]) -> Result<u8> {
    let [dir, interface, expected, dashes, program, rest @ ..] = args else {
        anyhow::bail!(
            "usage: agent-offload {RELAY_COMMAND} DIR INTERFACE EXPECTED -- PROGRAM ARGS..."
        );
    };
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
            eprintln!(
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
    let mut relay = Relay {
        run_dir,
        interface,
        stream,
        events,
        expected,
        recorded_id: None,
        wrong_session: false,
    };
    relay.pump(stdout);
    if relay.wrong_session {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0))
                .unwrap_or(rustix::process::Pid::INIT),
            rustix::process::Signal::TERM,
        );
    }
    let status = child.wait().context("waiting for the agent")?;
    relay.end();
    if relay.wrong_session {
        return Ok(1);
    }
    Ok(exit_byte(status))
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
}

impl Relay {
    /// Reads the agent's stdout to its end (or to a session mismatch).
    fn pump(&mut self, stdout: impl Read) {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            match read_line(&mut reader, &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let complete = line.last() == Some(&b'\n');
            if let Some(f) = &mut self.events {
                let ok = f.write_all(&line).is_ok() && (complete || f.write_all(b"\n").is_ok());
                if !ok {
                    // A full disk: stop keeping the raw events, go on relaying.
                    self.events = None;
                }
            }
            let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
            let rendered = self.stream.line(&text);
            say(&rendered);
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
                    return;
                }
                self.save();
            }
        }
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

/// What the relay recorded for a run, read back (untrusted: the agent can write there).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Recorded {
    pub session_id: Option<String>,
    pub final_message: Option<String>,
    pub error: Option<String>,
}

impl Recorded {
    pub fn read(run: &dir::RunDir) -> Option<Recorded> {
        let bytes = run.small_file(dir::STREAM, 1024 * 1024)?;
        let mut r: Recorded = serde_json::from_slice(&bytes).ok()?;
        r.session_id = r.session_id.filter(|id| dir::valid_session_id(id));
        Some(r)
    }
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
