//! The live status line while a run is waited on at a terminal: one line on stderr,
//! redrawn in place by a ticking thread (profile, pane or pid, elapsed time, the last
//! line of the agent's output) and erased when the run ends, so nothing of it stays in
//! the scrollback. Only ever used when stderr is a terminal: a host agent reading our
//! stderr through a pipe must get plain lines, never carriage returns or escapes.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::interface::Mode;
use crate::run::{Observer, RunDir};
use crate::style::Paint;

/// How often the line is redrawn: often enough for the seconds and the last output
/// line to feel live, rarely enough to cost nothing (one 8 KiB read per tick).
const TICK: Duration = Duration::from_millis(250);

/// Move to the start of the line and clear it.
const ERASE: &str = "\r\x1b[2K";

/// Decorates another observer (which prints the usual progress lines) with the live
/// line below them.
pub struct StatusLine {
    inner: Box<dyn Observer>,
    paint: Paint,
    shared: Arc<Mutex<Shared>>,
    ticker: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

#[derive(Default)]
struct Shared {
    /// The text currently drawn (empty: nothing on screen).
    drawn: bool,
    stopped: bool,
}

struct What {
    profile: String,
    target: String,
    run: RunDir,
    since: Instant,
}

impl StatusLine {
    pub fn new(inner: Box<dyn Observer>, paint: Paint) -> StatusLine {
        StatusLine {
            inner,
            paint,
            shared: Arc::new(Mutex::new(Shared::default())),
            ticker: Mutex::new(None),
        }
    }

    /// Stops the ticker and erases the line; idempotent.
    fn stop(&self) {
        let ticker = self
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((tx, handle)) = ticker {
            drop(tx);
            let _ = handle.join();
        }
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.stopped = true;
        erase(&mut shared);
    }
}

fn erase(shared: &mut Shared) {
    if shared.drawn {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(ERASE.as_bytes());
        let _ = err.flush();
        shared.drawn = false;
    }
}

impl Observer for StatusLine {
    fn note(&self, message: &str) {
        // Erase, print the note as a line of its own; the next tick redraws.
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        erase(&mut shared);
        self.inner.note(message);
    }

    fn started(&self, run: &RunDir, profile: &str, mode: Mode, target: &str) {
        {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            erase(&mut shared);
            self.inner.started(run, profile, mode, target);
        }
        let what = What {
            profile: profile.to_owned(),
            target: target.to_owned(),
            run: run.clone(),
            since: Instant::now(),
        };
        let (tx, rx) = mpsc::channel::<()>();
        let shared = Arc::clone(&self.shared);
        let paint = self.paint;
        let handle = std::thread::spawn(move || {
            loop {
                {
                    let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    if shared.stopped {
                        return;
                    }
                    let last = what.run.log_tail(1);
                    let line = render(&what, &last, terminal_width(), paint);
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "{ERASE}{line}");
                    let _ = err.flush();
                    shared.drawn = true;
                }
                match rx.recv_timeout(TICK) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        *self.ticker.lock().unwrap_or_else(PoisonError::into_inner) = Some((tx, handle));
    }

    fn finished(&self) {
        self.stop();
        self.inner.finished();
    }
}

impl Drop for StatusLine {
    /// An error between `started` and `finished` must not leave the line on screen.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The observer for `--quiet`: errors only, and those are not reported here.
pub struct Silent;

impl Observer for Silent {
    fn note(&self, _message: &str) {}
}

/// `agent-offload: claude · pane %3 · 1m05s · last output line`, cut to the terminal's width.
fn render(what: &What, last: &str, width: usize, paint: Paint) -> String {
    let head = format!(
        "agent-offload: {} · {} · {}",
        what.profile,
        what.target,
        elapsed(what.since.elapsed())
    );
    // One column is kept free: writing the last column makes some terminals wrap.
    let room = width.saturating_sub(1);
    let head = cut(&head, room);
    let last = last.trim();
    let rest = room.saturating_sub(head.chars().count() + 3);
    if last.is_empty() || rest < 4 {
        return head;
    }
    format!("{head}{}", paint.dim(&format!(" · {}", cut(last, rest))))
}

/// Whole seconds (the line is redrawn every second): `7s`, `1m5s`, `1h2m`.
fn elapsed(d: Duration) -> String {
    crate::duration::human(Duration::from_secs(d.as_secs()))
}

/// At most `n` characters, with `…` when cut; control characters become spaces.
fn cut(s: &str, n: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= n {
        return clean;
    }
    let mut out: String = clean.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w > 0)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what() -> What {
        What {
            profile: "claude".into(),
            target: "pane %3".into(),
            run: RunDir {
                id: "x".into(),
                path: "/nonexistent".into(),
            },
            since: Instant::now(),
        }
    }

    #[test]
    fn line_fits_the_terminal() {
        let plain = Paint { color: false };
        assert_eq!(
            render(&what(), "compiling\tfoo", 80, plain),
            "agent-offload: claude · pane %3 · 0s · compiling foo"
        );
        let narrow = render(&what(), "a long last line of output", 50, plain);
        assert_eq!(narrow.chars().count(), 49, "{narrow}");
        assert!(narrow.ends_with('…'), "{narrow}");
        assert_eq!(
            render(&what(), "", 80, plain),
            "agent-offload: claude · pane %3 · 0s"
        );
        assert_eq!(render(&what(), "x", 10, plain), "agent-of…");
    }

    #[test]
    fn elapsed_reads_as_time() {
        assert_eq!(elapsed(Duration::from_millis(7900)), "7s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m5s");
        assert_eq!(elapsed(Duration::from_secs(3720)), "1h2m");
    }
}
