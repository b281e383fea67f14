//! `agent-offload top`: a live view of the runs, read from the run directories alone,
//! so it shows every run whichever pane, host agent or machine login started it.
//!
//! This file is the data: which runs are shown, in what order, and each row's cells as
//! plain text ([`Entry::cells`], what the unit tests check and what `--once` prints).
//! `top/ui.rs` only draws those rows with ratatui and handles the keys.
//!
//! A refresh must stay cheap at any interval, with thousands of old runs: a finished
//! run never changes, so its row is read once and kept (dropped when the run is
//! pruned); only running runs are read again, through `run::refresh` (which concludes
//! a run whose launcher is gone) — no process-table scan, no git.

mod ui;

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Result;
use jiff::Timestamp;

use super::Env;
use crate::cli::TopArgs;
use crate::interface::Mode;
use crate::run::{self, Health, HealthState, Manifest, RunDir, Spent, Status};

/// The most finished runs shown (running runs are all shown, above them).
const FINISHED_SHOWN: usize = 50;
/// The shortest refresh period: `--interval 1ms` would spin.
const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

pub const HEADERS: [&str; 9] = [
    "ID", "PROFILE", "MODE", "STATUS", "ELAPSED", "TOKENS", "COST", "ACTIVITY", "HEALTH",
];

pub fn top(args: &TopArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let mut board = Board::new(root);
    board.refresh();
    // Outside a terminal there is nothing to draw on: one snapshot, like --once.
    if args.once || !std::io::stdout().is_terminal() {
        if board.entries.is_empty() {
            say!("agent-offload: no runs yet ({})", board.root.display());
        }
        super::print_document(board.plain(Timestamp::now()).as_bytes())?;
        return Ok(0);
    }
    ui::run(board, args.interval.max(MIN_INTERVAL), env)
}

/// What a row shows of one run, copied out of its manifest.
#[derive(Debug, Clone)]
pub struct Entry {
    pub run: RunDir,
    pub profile: String,
    pub mode: Mode,
    pub status: Status,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub spent: Option<Spent>,
    pub health: Option<Health>,
    /// Whether the stall detector watches the run (`--stall-after` is not `off`).
    pub watched: bool,
    /// The stall detector's last sign of work, else when `output.log` was last written.
    pub last_activity: Option<Timestamp>,
    pub pane: Option<String>,
    pub tmux_socket: Option<String>,
}

impl Entry {
    fn read(run: RunDir, m: &Manifest) -> Entry {
        let last_activity = m
            .health
            .as_ref()
            .and_then(|h| h.last_activity)
            .or_else(|| log_written(&run));
        Entry {
            spent: run::spent(&run, m),
            profile: m.profile.clone(),
            mode: m.mode,
            status: m.status,
            started_at: m.started_at,
            finished_at: m.finished_at,
            health: m.health.clone(),
            watched: m.stall.is_some(),
            last_activity,
            pane: m.pane.clone(),
            tmux_socket: m.tmux_socket.clone(),
            run,
        }
    }

    pub fn running(&self) -> bool {
        self.status == Status::Running
    }

    /// The row, as text, at `now`.
    pub fn cells(&self, now: Timestamp) -> [String; 9] {
        let elapsed = since(self.started_at, self.finished_at.unwrap_or(now));
        let (tokens, cost) = match &self.spent {
            Some(s) => (
                s.tokens
                    .total()
                    .map_or_else(|| "-".to_owned(), run::short_count),
                match (s.cost_usd, s.cost_source) {
                    (Some(c), run::CostSource::Estimated) => format!("~${c:.2}"),
                    (Some(c), _) => format!("${c:.2}"),
                    (None, _) => "-".to_owned(),
                },
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let activity = self
            .last_activity
            .map_or_else(|| "-".to_owned(), |t| format!("{} ago", since(t, now)));
        // Health is the stall detector's view of a live run; a finished run's status
        // says how it ended. The detector records a health only when it changes: until
        // its first stall, a watched run is working (not yet without a sign of work for
        // the stall limit).
        let health = match (&self.health, self.running()) {
            (Some(h), true) => match (h.state, h.stall) {
                (HealthState::Working, _) => "working".to_owned(),
                (HealthState::Stalled, Some(kind)) => format!("stalled: {}", kind.as_str()),
                (HealthState::Stalled, None) => "stalled".to_owned(),
            },
            (None, true) if self.watched => "working".to_owned(),
            _ => "-".to_owned(),
        };
        [
            self.run.id.clone(),
            self.profile.clone(),
            self.mode.as_str().to_owned(),
            self.status.as_str().to_owned(),
            elapsed,
            tokens,
            cost,
            activity,
            health,
        ]
        .map(|c| printable(&c))
    }
}

/// When `output.log` was last written: its metadata only, never opened (not through a
/// link either: the agent can put anything at that path).
fn log_written(run: &RunDir) -> Option<Timestamp> {
    let meta = std::fs::symlink_metadata(run.log()).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    Timestamp::try_from(meta.modified().ok()?).ok()
}

/// The time from `from` to `to` in whole seconds (`42s`, `4m5s`, `3d4h`; 0s when `to`
/// is earlier).
pub fn since(from: Timestamp, to: Timestamp) -> String {
    let secs = to.duration_since(from).as_secs().max(0);
    crate::duration::human(std::time::Duration::from_secs(secs.unsigned_abs()))
}

/// `text` with control characters replaced: a run's `run.json` can be written by its
/// agent, and an escape sequence in a profile name must not reach the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The runs shown, and what is kept of finished ones between refreshes.
pub struct Board {
    pub root: PathBuf,
    /// Running runs (newest first), then the most recently finished.
    pub entries: Vec<Entry>,
    /// Every finished run seen, by id: read once.
    finished: HashMap<String, Entry>,
}

impl Board {
    pub fn new(root: PathBuf) -> Board {
        Board {
            root,
            entries: Vec::new(),
            finished: HashMap::new(),
        }
    }

    /// Reads the runs again: the running ones, and finished ones not seen before.
    pub fn refresh(&mut self) {
        let mut running = Vec::new();
        let mut present = HashSet::new();
        // Newest first (ids start with the start time).
        for dir in run::list(&self.root) {
            present.insert(dir.id.clone());
            if self.finished.contains_key(&dir.id) {
                continue;
            }
            // Unreadable (a run.json being replaced by hand, say): skipped this time,
            // as `runs` skips it.
            let Ok(m) = run::refresh(&dir) else { continue };
            let entry = Entry::read(dir, &m);
            if entry.running() {
                running.push(entry);
            } else {
                self.finished.insert(entry.run.id.clone(), entry);
            }
        }
        self.finished.retain(|id, _| present.contains(id));
        self.entries = order(running, self.finished.values());
    }

    /// The table as plain text, as `--once` prints it.
    pub fn plain(&self, now: Timestamp) -> String {
        let rows: Vec<[String; 9]> = self.entries.iter().map(|e| e.cells(now)).collect();
        super::table(&HEADERS, &rows)
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.run.id == id)
    }
}

/// Running runs as given (newest first), then the [`FINISHED_SHOWN`] finished runs
/// that ended last.
fn order<'a>(running: Vec<Entry>, finished: impl Iterator<Item = &'a Entry>) -> Vec<Entry> {
    let mut done: Vec<&Entry> = finished.collect();
    done.sort_by(|a, b| {
        let end = |e: &Entry| e.finished_at.unwrap_or(e.started_at);
        end(b).cmp(&end(a)).then_with(|| b.run.id.cmp(&a.run.id))
    });
    let mut all = running;
    all.extend(done.into_iter().take(FINISHED_SHOWN).cloned());
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{CostSource, StallKind, Tokens};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn entry(id: &str, status: Status) -> Entry {
        Entry {
            run: RunDir::open(PathBuf::from(format!("/runs/{id}"))),
            profile: "spark".to_owned(),
            mode: Mode::Headless,
            status,
            started_at: at("2026-01-01T10:00:00Z"),
            finished_at: None,
            spent: None,
            health: None,
            watched: true,
            last_activity: None,
            pane: None,
            tmux_socket: None,
        }
    }

    #[test]
    fn a_running_row_counts_to_now_and_shows_its_health() {
        let mut e = entry("20260101-100000-000-abcd", Status::Running);
        e.mode = Mode::Tmux;
        e.spent = Some(Spent {
            tokens: Tokens {
                input_tokens: Some(12_000),
                output_tokens: Some(345),
                ..Tokens::default()
            },
            cost_usd: Some(0.0412),
            cost_source: CostSource::Reported,
        });
        e.last_activity = Some(at("2026-01-01T10:04:50Z"));
        e.health = Some(Health {
            state: HealthState::Stalled,
            stall: Some(StallKind::ApiStall),
            last_activity: None,
        });
        assert_eq!(
            e.cells(at("2026-01-01T10:05:03Z")),
            [
                "20260101-100000-000-abcd",
                "spark",
                "tmux",
                "running",
                "5m3s",
                "12.3k",
                "$0.04",
                "13s ago",
                "stalled: api_stall"
            ]
        );
        e.health = Some(Health {
            state: HealthState::Working,
            stall: None,
            last_activity: None,
        });
        assert_eq!(e.cells(at("2026-01-01T12:00:00Z"))[8], "working");
        assert_eq!(e.cells(at("2026-01-01T12:00:00Z"))[4], "2h");
        // Nothing recorded yet: working while watched, unknown when not.
        e.health = None;
        assert_eq!(e.cells(at("2026-01-01T12:00:00Z"))[8], "working");
        e.watched = false;
        assert_eq!(e.cells(at("2026-01-01T12:00:00Z"))[8], "-");
    }

    #[test]
    fn a_finished_row_stops_its_clock_and_unknowns_are_dashes() {
        let mut e = entry("b", Status::Done);
        e.finished_at = Some(at("2026-01-01T10:00:42Z"));
        // A health left over from while it ran is not shown.
        e.health = Some(Health {
            state: HealthState::Working,
            stall: None,
            last_activity: None,
        });
        assert_eq!(
            e.cells(at("2026-03-01T00:00:00Z")),
            ["b", "spark", "headless", "done", "42s", "-", "-", "-", "-"]
        );
        e.spent = Some(Spent {
            tokens: Tokens::default(),
            cost_usd: Some(1.5),
            cost_source: CostSource::Estimated,
        });
        let cells = e.cells(at("2026-03-01T00:00:00Z"));
        assert_eq!((cells[5].as_str(), cells[6].as_str()), ("-", "~$1.50"));
        // A start in the future (a clock set back) is no negative time.
        e.finished_at = Some(at("2025-01-01T00:00:00Z"));
        assert_eq!(e.cells(at("2026-03-01T00:00:00Z"))[4], "0s");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut e = entry("c", Status::Failed);
        e.profile = "evil\u{1b}[2J\nname".to_owned();
        assert_eq!(e.cells(Timestamp::now())[1], "evil?[2J?name");
    }

    #[test]
    fn running_first_then_the_latest_finished_bounded() {
        let mut running = entry("r", Status::Running);
        running.started_at = at("2025-06-01T00:00:00Z");
        let mut finished = Vec::new();
        for i in 0..60 {
            let mut e = entry(&format!("f{i:02}"), Status::Done);
            e.finished_at = Some(at("2026-01-01T10:00:00Z") + jiff::SignedDuration::from_secs(i));
            finished.push(e);
        }
        // Started first but finished last: at the top of the finished runs.
        let mut late = entry("a-long-one", Status::Failed);
        late.started_at = at("2020-01-01T00:00:00Z");
        late.finished_at = Some(at("2026-02-01T00:00:00Z"));
        finished.push(late);
        let shown = order(vec![running], finished.iter());
        let ids: Vec<&str> = shown.iter().map(|e| e.run.id.as_str()).collect();
        assert_eq!(ids.len(), 1 + FINISHED_SHOWN);
        assert_eq!(&ids[..4], ["r", "a-long-one", "f59", "f58"]);
        assert_eq!(ids.last(), Some(&"f11"));
    }

    #[test]
    fn durations_are_short() {
        let t = at("2026-01-01T00:00:00Z");
        let plus = |s| t + jiff::SignedDuration::from_secs(s);
        assert_eq!(since(t, plus(59)), "59s");
        assert_eq!(since(t, plus(61)), "1m1s");
        assert_eq!(since(t, plus(-5)), "0s");
        assert_eq!(since(t, plus(3 * 86_400 + 4 * 3600)), "3d4h");
    }
}
