//! The interactive `top`: draws the rows `top.rs` builds with ratatui (on crossterm),
//! and the keys: select, follow a log, jump to a pane, cancel (confirmed), quit.
//!
//! The terminal is always given back: by a guard on every return, and by a panic hook
//! (raw mode off, the alternate screen left, the cursor shown) before a panic message
//! is printed. SIGTERM and SIGHUP end the loop the same way as `q`.

use std::ffi::OsString;
use std::io::Stdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::{Board, Entry, HEADERS, printable};
use crate::commands::Env;
use crate::interface::Mode;
use crate::run::{self, RunDir, Status};

/// How long a key waits at most before the loop looks at signals and cancels again.
const TICK: Duration = Duration::from_millis(200);
/// How many log lines the log view keeps (the tail is read from the log's last 8 KiB).
const LOG_LINES: usize = 1000;

pub fn run(board: Board, interval: Duration, env: Env<'_>) -> Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    let mut app = App {
        board,
        selected: None,
        view: View::Table,
        confirm: None,
        message: None,
        cancelling: None,
        color: crate::style::color_wanted(true, env),
        tmux: env("TMUX"),
        tmux_pane: env("TMUX_PANE"),
        interval,
        quit: false,
    };
    app.keep_selection();
    let mut screen = Screen::enter()?;
    let mut next_refresh = Instant::now() + interval;
    // Debug builds only: a panic on the drawn screen, for the test that the terminal
    // is given back by the panic hook (the release profile aborts on a panic).
    #[cfg(debug_assertions)]
    let panic_after_draw = env("AGENT_OFFLOAD_TEST_PANIC").is_some_and(|v| v == "top");
    while !app.quit && !stop.load(Ordering::Relaxed) {
        screen
            .terminal
            .draw(|f| app.draw(f))
            .context("cannot draw on the terminal")?;
        #[cfg(debug_assertions)]
        assert!(!panic_after_draw, "AGENT_OFFLOAD_TEST_PANIC=top");
        let wait = next_refresh
            .saturating_duration_since(Instant::now())
            .min(TICK);
        // Our own wait on the terminal first: crossterm's reader spins on a terminal
        // that hung up (read returns 0 forever), so it is only asked when there is
        // input, and a hang-up ends `top`.
        match terminal_input(wait) {
            Input::Gone => break,
            Input::Ready => {
                if event::poll(Duration::ZERO).context("cannot read the terminal")? {
                    match event::read().context("cannot read the terminal")? {
                        Event::Key(key) if key.kind == KeyEventKind::Press => app.key(key),
                        _ => {}
                    }
                }
            }
            Input::None => {}
        }
        app.poll_cancel();
        if Instant::now() >= next_refresh {
            app.refresh();
            next_refresh = Instant::now() + interval;
        }
    }
    drop(screen);
    Ok(0)
}

/// What waiting on the terminal's input found.
enum Input {
    Ready,
    None,
    /// The terminal hung up (its tmux pane or window closed), or cannot be read.
    Gone,
}

/// Waits up to `wait` for input on stdin (the terminal).
fn terminal_input(wait: Duration) -> Input {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => Input::None,
        Ok(_) => {
            let got = fds[0].revents();
            if got.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                Input::Gone
            } else {
                Input::Ready
            }
        }
        Err(_) => Input::Gone,
    }
}

/// The terminal in raw mode on the alternate screen, given back when dropped.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        let entered = (|| -> std::io::Result<Screen> {
            terminal::enable_raw_mode()?;
            execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide)?;
            let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
            Ok(Screen { terminal })
        })();
        entered
            .inspect_err(|_| restore())
            .context("cannot set up the terminal")
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Raw mode off, the main screen back, the cursor shown; errors ignored (there is
/// nowhere better to say them, and a second call is harmless).
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
}

enum View {
    Table,
    /// Following one run's log; `scroll` lines up from the end (0: the newest).
    Log {
        id: String,
        scroll: usize,
    },
}

struct App {
    board: Board,
    /// The selected run, by id: it stays selected when rows move.
    selected: Option<String>,
    view: View,
    /// A cancel waiting for y/n.
    confirm: Option<RunDir>,
    /// The status bar's message (replaces the key help until the next key).
    message: Option<String>,
    cancelling: Option<Receiver<String>>,
    color: bool,
    tmux: Option<OsString>,
    tmux_pane: Option<OsString>,
    interval: Duration,
    quit: bool,
}

impl App {
    fn refresh(&mut self) {
        self.board.refresh();
        self.keep_selection();
    }

    /// Keeps the selection on a run that is shown (the first, when it went away).
    fn keep_selection(&mut self) {
        let shown = self
            .selected
            .as_deref()
            .is_some_and(|id| self.board.get(id).is_some());
        if !shown {
            self.selected = self.board.entries.first().map(|e| e.run.id.clone());
        }
    }

    fn index(&self) -> Option<usize> {
        let id = self.selected.as_deref()?;
        self.board.entries.iter().position(|e| e.run.id == id)
    }

    fn select_by(&mut self, delta: isize) {
        let len = self.board.entries.len();
        if len == 0 {
            return;
        }
        let at = self.index().unwrap_or(0);
        let to = at.saturating_add_signed(delta).min(len - 1);
        self.selected = Some(self.board.entries[to].run.id.clone());
    }

    /// The run the keys act on: the one whose log is shown, else the selected one.
    fn target(&self) -> Option<&Entry> {
        match &self.view {
            View::Log { id, .. } => self.board.get(id),
            View::Table => self.board.get(self.selected.as_deref()?),
        }
    }

    fn key(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Some(run) = self.confirm.take() {
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                self.start_cancel(run);
            } else {
                self.message = Some(format!("run {} not cancelled", printable(&run.id)));
            }
            return;
        }
        self.message = None;
        match key.code {
            KeyCode::Char('p') => self.message = Some(self.jump()),
            KeyCode::Char('c') => self.ask_cancel(),
            _ => match &mut self.view {
                View::Table => self.table_key(key.code),
                View::Log { scroll, .. } => match key.code {
                    KeyCode::Esc | KeyCode::Char('q') => self.view = View::Table,
                    KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_add(1),
                    KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_sub(1),
                    KeyCode::PageUp => *scroll = scroll.saturating_add(20),
                    KeyCode::PageDown => *scroll = scroll.saturating_sub(20),
                    KeyCode::End | KeyCode::Char('G') => *scroll = 0,
                    _ => {}
                },
            },
        }
    }

    fn table_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Esc | KeyCode::Char('q') => self.quit = true,
            KeyCode::Up | KeyCode::Char('k') => self.select_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.select_by(1),
            KeyCode::PageUp => self.select_by(-10),
            KeyCode::PageDown => self.select_by(10),
            KeyCode::Home | KeyCode::Char('g') => self.select_by(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.select_by(isize::MAX),
            KeyCode::Enter | KeyCode::Char('l') => {
                if let Some(id) = self.selected.clone() {
                    self.view = View::Log { id, scroll: 0 };
                }
            }
            _ => {}
        }
    }

    fn ask_cancel(&mut self) {
        let Some(e) = self.target() else {
            self.message = Some("no run selected".to_owned());
            return;
        };
        let id = printable(&e.run.id);
        if self.cancelling.is_some() {
            self.message = Some("a cancel is still under way".to_owned());
        } else if e.running() {
            self.confirm = Some(e.run.clone());
            self.message = Some(format!("cancel run {id}? y/n"));
        } else {
            self.message = Some(format!("run {id} is not running ({})", e.status.as_str()));
        }
    }

    /// Cancels on a thread of its own: stopping an agent takes up to its grace period,
    /// and the view goes on meanwhile.
    fn start_cancel(&mut self, dir: RunDir) {
        let (tx, rx) = channel();
        let id = printable(&dir.id);
        self.message = Some(format!("cancelling run {id}…"));
        std::thread::spawn(move || {
            let said = match run::cancel(&dir) {
                Ok(m) if m.status == Status::Cancelled => format!("run {id} cancelled"),
                Ok(m) => format!("run {id} had already ended: {}", m.status.as_str()),
                Err(err) => format!("cannot cancel run {id}: {err:#}"),
            };
            let _ = tx.send(said);
        });
        self.cancelling = Some(rx);
    }

    fn poll_cancel(&mut self) {
        let Some(rx) = &self.cancelling else { return };
        match rx.try_recv() {
            Ok(said) => {
                self.message = Some(printable(&said));
                self.cancelling = None;
                self.refresh();
            }
            Err(TryRecvError::Disconnected) => self.cancelling = None,
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Jumps to the run's pane; what happened, for the status bar.
    fn jump(&self) -> String {
        let Some(e) = self.target() else {
            return "no run selected".to_owned();
        };
        let here = crate::pane::jump::Here {
            tmux: self.tmux.as_deref(),
            pane: self.tmux_pane.as_deref(),
        };
        let id = &e.run.id;
        let jumped = match (e.pane.as_deref(), e.mode) {
            (Some(pane), _) => crate::pane::jump::jump(id, pane, e.tmux_socket.as_deref(), &here),
            (None, Mode::Headless) => Err(format!("run {id} is headless: it has no pane")),
            (None, Mode::Tmux) => Err(format!("run {id} has no pane recorded")),
        };
        match jumped {
            Ok(said) | Err(said) => printable(&said),
        }
    }

    fn draw(&self, f: &mut Frame) {
        let [title, body, bar] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(f.area());
        let running = self.board.entries.iter().filter(|e| e.running()).count();
        let heading = format!(
            "agent-offload top · {running} running · {} shown · every {} · {}",
            self.board.entries.len(),
            crate::duration::human(self.interval),
            // The time of day a person reads: local.
            jiff::ZonedDateTime::now().strftime("%H:%M:%S"),
        );
        f.render_widget(Line::styled(heading, Modifier::BOLD), title);
        match &self.view {
            View::Table => self.draw_table(f, body),
            View::Log { id, scroll } => self.draw_log(f, body, id, *scroll),
        }
        let help = match self.view {
            View::Table => "↑/↓ select · enter log · p pane · c cancel · q quit",
            View::Log { .. } => "↑/↓ scroll · end follow · p pane · c cancel · esc back",
        };
        let bar_text = self.message.as_deref().unwrap_or(help);
        let style = if self.confirm.is_some() {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        };
        f.render_widget(Line::styled(bar_text.to_owned(), style), bar);
    }

    fn draw_table(&self, f: &mut Frame, area: Rect) {
        let now = Timestamp::now();
        let cells: Vec<[String; 9]> = self.board.entries.iter().map(|e| e.cells(now)).collect();
        let mut widths = HEADERS.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let rows = cells.into_iter().zip(&self.board.entries).map(|(row, e)| {
            let status = self.status_style(e.status);
            Row::new(row.into_iter().enumerate().map(|(i, c)| {
                let cell = Cell::from(c);
                if i == 3 { cell.style(status) } else { cell }
            }))
        });
        let constraints = widths.map(|w| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)));
        let table = Table::new(rows, constraints)
            .header(Row::new(HEADERS).style(Style::new().add_modifier(Modifier::BOLD)))
            .column_spacing(2)
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state = TableState::default().with_selected(self.index());
        f.render_stateful_widget(table, area, &mut state);
        if self.board.entries.is_empty() {
            let [_, below] =
                Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(area);
            let none = format!("no runs yet ({})", self.board.root.display());
            f.render_widget(Line::from(printable(&none)), below);
        }
    }

    fn draw_log(&self, f: &mut Frame, area: Rect, id: &str, scroll: usize) {
        let (status, text) = match self.board.get(id) {
            Some(e) => (e.status.as_str(), e.run.log_tail(LOG_LINES)),
            None => ("gone", String::new()),
        };
        let block = Block::new()
            .borders(Borders::TOP)
            .title(printable(&format!(" log of {id} ({status}) ")));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let lines: Vec<&str> = text.lines().collect();
        let height = usize::from(inner.height);
        let scroll = scroll.min(lines.len().saturating_sub(height));
        let end = lines.len() - scroll;
        let start = end.saturating_sub(height);
        let shown: Vec<Line> = lines[start..end]
            .iter()
            .map(|l| Line::from(printable(l)))
            .collect();
        let shown = if shown.is_empty() {
            vec![Line::styled("(nothing logged yet)", Modifier::DIM)]
        } else {
            shown
        };
        f.render_widget(Paragraph::new(shown), inner);
    }

    fn status_style(&self, status: Status) -> Style {
        if !self.color {
            return Style::new();
        }
        match status {
            Status::Running => Style::new().fg(Color::Cyan),
            Status::Done => Style::new().fg(Color::Green),
            Status::NeedsInput => Style::new().fg(Color::Yellow),
            Status::Cancelled | Status::Lost => Style::new().add_modifier(Modifier::DIM),
            Status::Failed | Status::TimedOut | Status::OverBudget | Status::Stalled => {
                Style::new().fg(Color::Red)
            }
        }
    }
}
