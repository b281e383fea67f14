//! The run lifecycle: create the run directory, write the prompt and the launcher,
//! start the agent (headless or in a tmux pane), wait for the first decisive event,
//! stop whatever is left, and record the outcome in `run.json`.

pub mod dir;
pub mod headless;
pub mod launcher;
pub mod prompt;
pub mod signals;
pub mod stop;
pub mod tmux;
pub mod waiter;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::exit;
use crate::interface::Mode;
use crate::profile::{EnvValue, PROMPT_FILE_PLACEHOLDER, Profile, PromptDelivery};
use dir::{Manifest, RunDir, Status};
use launcher::{Launch, Word};
use signals::Signals;
use waiter::{Event, Launcher, Watch};

/// After `done.md` appears, how long a headless agent may take to exit by itself
/// before it is stopped (some CLIs keep running after they answer).
pub const DONE_GRACE: Duration = Duration::from_secs(3);

/// Everything needed to start one run; built by the `run` command from checked input.
pub struct Request<'a> {
    pub profile: &'a Profile,
    pub mode: Mode,
    /// The task as the user wrote it (the completion instructions are added here).
    pub prompt: String,
    pub cwd: PathBuf,
    pub timeout: Option<Duration>,
    /// `from_env` values, resolved from our environment.
    pub secrets: Vec<(String, OsString)>,
    /// Copy a headless agent's output to stderr while it runs.
    pub stream: bool,
    /// tmux mode: the caller's pane, and whether the new pane takes the focus.
    pub tmux: Option<tmux::Caller>,
    pub focus: bool,
    /// tmux mode: the caller's PATH, handed to the pane with the secrets.
    pub path: Option<OsString>,
}

#[derive(Debug)]
pub enum Outcome {
    Done { summary: String },
    Failed { reason: String },
    TimedOut { after: Duration },
    Cancelled { signal: i32 },
}

impl Outcome {
    pub fn status(&self) -> Status {
        match self {
            Outcome::Done { .. } => Status::Done,
            Outcome::Failed { .. } => Status::Failed,
            Outcome::TimedOut { .. } => Status::TimedOut,
            Outcome::Cancelled { .. } => Status::Cancelled,
        }
    }

    /// The one mapping from an outcome to agent-offload's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done { .. } => exit::DONE,
            Outcome::Failed { .. } => exit::FAILED,
            Outcome::TimedOut { .. } => exit::TIMED_OUT,
            Outcome::Cancelled { signal } => {
                exit::SIGNAL_BASE.saturating_add(u8::try_from(*signal).unwrap_or(0))
            }
        }
    }
}

pub struct Report {
    pub dir: RunDir,
    pub manifest: Manifest,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// The agent once started.
enum Agent {
    Headless(Child),
    Pane(tmux::Caller, tmux::Pane),
}

impl Agent {
    /// Stops the agent and everything it started; closes its pane.
    fn stop(&self, launcher: &Launcher) {
        if let Agent::Pane(caller, pane) = self {
            tmux::close(caller, pane);
        }
        stop::terminate(launcher.pid(), stop::GRACE);
    }
}

/// What a run reports while it goes, for the command to show on stderr.
pub trait Observer {
    /// A note for the person or host reading stderr.
    fn note(&self, message: &str);
    /// The agent has started: where it runs (`pane %3` or `pid 1234`) and its directory.
    fn started(&self, _run: &RunDir, _profile: &str, _mode: Mode, _target: &str) {}
    /// The run is over (called before the final report is printed).
    fn finished(&self) {}
}

/// Runs the request to its end, reporting progress to `observer`.
pub fn execute(
    req: &Request<'_>,
    runs_root: &Path,
    signals: &Signals,
    observer: &dyn Observer,
) -> Result<Report> {
    let started = Instant::now();
    let say = &|m: &str| observer.note(m);
    let (run, mut manifest) = prepare(req, runs_root, say)?;

    // The watch exists before the agent does: no event can be missed.
    let mut watch = Watch::new(&run.path)?;
    let (mut agent, launcher) = match req.mode {
        Mode::Headless => {
            let child = headless::spawn(&run, &req.secrets)?;
            let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
            manifest.pid = Some(child.id());
            (Agent::Headless(child), Launcher::new(pid))
        }
        Mode::Tmux => {
            let caller = req
                .tmux
                .clone()
                .ok_or_else(|| anyhow::anyhow!("tmux mode needs $TMUX and $TMUX_PANE"))?;
            tmux::make_fifo(&run)?;
            let pane = tmux::open_pane(&caller, &run, &req.cwd, req.focus)?;
            manifest.pid = u32::try_from(pane.pid).ok();
            manifest.pane = Some(pane.id.clone());
            let launcher = Launcher::new(pane.pid);
            (Agent::Pane(caller, pane), launcher)
        }
    };
    manifest.save(&run)?;
    let target = match &agent {
        Agent::Headless(c) => format!("pid {}", c.id()),
        Agent::Pane(_, p) => format!("pane {}", p.id),
    };
    observer.started(&run, &req.profile.name, req.mode, &target);

    let handover = match &agent {
        Agent::Pane(..) => {
            let mut vars: Vec<(String, OsString)> = req
                .path
                .iter()
                .map(|p| ("PATH".to_owned(), p.clone()))
                .collect();
            vars.extend(req.secrets.iter().cloned());
            tmux::hand_over(&run, launcher.pid(), &vars).err()
        }
        Agent::Headless(_) => None,
    };
    let tail = (req.stream && req.mode == Mode::Headless).then(|| headless::Tail::start(&run));
    let outcome = if let Some(err) = handover {
        agent.stop(&launcher);
        Outcome::Failed {
            reason: format!("{err:#}"),
        }
    } else {
        let deadline = req.timeout.map(|t| started + t);
        let event = waiter::wait(&mut watch, &launcher, deadline, signals);
        settle(event, req, &run, &watch, &launcher, &mut agent)
    };
    reap(&mut agent);
    if let Some(t) = tail {
        t.finish();
    }
    record(&run, &mut manifest, &outcome)?;
    observer.finished();
    Ok(Report {
        dir: run,
        manifest,
        outcome,
        elapsed: started.elapsed(),
    })
}

/// Creates the run directory with `prompt.md`, `launch.sh` and a first `run.json`.
fn prepare(req: &Request<'_>, runs_root: &Path, say: &dyn Fn(&str)) -> Result<(RunDir, Manifest)> {
    let run = RunDir::create(runs_root)?;
    let (argv, delivered, stdin_from_prompt) = command_line(req, &run.path, say);
    run.write_atomic(dir::PROMPT, delivered.as_bytes(), 0o600)?;
    let literal_env: Vec<(String, String)> = req
        .profile
        .env
        .iter()
        .filter_map(|(k, v)| match v {
            EnvValue::Literal(s) => Some((k.clone(), s.clone())),
            EnvValue::FromEnv(_) => None,
        })
        .collect();
    let script = Launch {
        run_id: &run.id,
        run_dir: &run.path,
        cwd: &req.cwd,
        argv: argv.clone(),
        stdin_from_prompt,
        literal_env: &literal_env,
        env_from_fifo: req.mode == Mode::Tmux,
    }
    .render();
    run.write_atomic(dir::LAUNCHER, script.as_bytes(), 0o700)?;
    let manifest = Manifest {
        version: 1,
        id: run.id.clone(),
        profile: req.profile.name.clone(),
        mode: req.mode,
        cwd: req.cwd.clone(),
        command: launcher::display_argv(&argv),
        env: req
            .profile
            .env
            .iter()
            .map(|(k, v)| match v {
                EnvValue::Literal(s) => (k.clone(), s.clone()),
                EnvValue::FromEnv(var) => (k.clone(), format!("<from ${var}>")),
            })
            .collect(),
        pid: None,
        pane: None,
        started_at: dir::now_rfc3339(),
        finished_at: None,
        status: Status::Running,
        exit_code: None,
        reason: None,
        agent_offload_exit: None,
    };
    manifest.save(&run)?;
    Ok((run, manifest))
}

/// Turns the first event into an outcome, stopping whatever of the agent is left.
fn settle(
    event: Event,
    req: &Request<'_>,
    run: &RunDir,
    watch: &Watch,
    launcher: &Launcher,
    agent: &mut Agent,
) -> Outcome {
    let done = || Outcome::Done {
        summary: read_summary(run),
    };
    match event {
        Event::Done => {
            // An interactive agent never exits by itself: close its pane at once. A
            // headless one may still be writing its final answer: give it a moment.
            let exited = matches!(agent, Agent::Headless(_)) && launcher.wait_exit(DONE_GRACE);
            if !exited {
                agent.stop(launcher);
            }
            done()
        }
        Event::Ended => {
            // Whatever the agent left behind goes too (and a remain-on-exit pane).
            agent.stop(launcher);
            // An agent can publish and exit in the same instant: look once more.
            if watch.done() {
                done()
            } else {
                Outcome::Failed {
                    reason: ended_reason(run, agent),
                }
            }
        }
        Event::TimedOut => {
            agent.stop(launcher);
            Outcome::TimedOut {
                after: req.timeout.unwrap_or_default(),
            }
        }
        Event::Signal(signal) => {
            agent.stop(launcher);
            Outcome::Cancelled { signal }
        }
    }
}

/// Writes the final state to `run.json`.
fn record(run: &RunDir, manifest: &mut Manifest, outcome: &Outcome) -> Result<()> {
    manifest.finished_at = Some(dir::now_rfc3339());
    manifest.status = outcome.status();
    manifest.exit_code = read_exit_code(run);
    manifest.reason = match outcome {
        Outcome::Done { .. } => None,
        Outcome::Failed { reason } => Some(reason.clone()),
        Outcome::TimedOut { after } => Some(format!(
            "timed out after {}; the agent was stopped",
            crate::duration::human(*after)
        )),
        Outcome::Cancelled { signal } => Some(format!(
            "agent-offload received signal {signal} ({}); the agent was stopped",
            signal_name(*signal)
        )),
    };
    manifest.agent_offload_exit = Some(outcome.exit_code());
    manifest.save(run)
}

/// The agent's command line, the prompt as it will be delivered, and whether it goes
/// on stdin.
fn command_line(
    req: &Request<'_>,
    run_dir: &Path,
    say: &dyn Fn(&str),
) -> (Vec<Word>, String, bool) {
    let p = req.profile;
    let mut delivered = prompt::augment(&req.prompt, run_dir);
    let prompt_file = run_dir.join(dir::PROMPT);
    let mut argv = vec![Word::Literal(p.command.clone())];
    argv.extend(
        p.interface
            .mode_args(req.mode)
            .iter()
            .map(|a| Word::Literal((*a).to_owned())),
    );
    let file = prompt_file.to_string_lossy();
    argv.extend(p.args.iter().map(|a| {
        Word::Literal(if p.prompt == PromptDelivery::PromptFileArg {
            a.replace(PROMPT_FILE_PLACEHOLDER, &file)
        } else {
            a.clone()
        })
    }));
    let mut stdin = false;
    match p.prompt {
        PromptDelivery::Argument => {
            let form = p.interface.prompt_argument(req.mode);
            argv.extend(form.prefix.iter().map(|a| Word::Literal((*a).to_owned())));
            if form.guard_leading_dash && delivered.starts_with('-') {
                // No `--` in this CLI: a leading newline keeps the prompt from being
                // read as an option.
                delivered.insert(0, '\n');
            }
            if delivered.len() > prompt::MAX_ARG_BYTES {
                say(&format!(
                    "agent-offload: the prompt is {} KiB, more than one command-line argument may \
                     hold; the agent is asked to read it from {}",
                    delivered.len() / 1024,
                    prompt_file.display()
                ));
                argv.push(Word::Literal(prompt::pointer_to(&prompt_file)));
            } else {
                argv.push(Word::PromptText);
            }
        }
        PromptDelivery::Stdin => stdin = true,
        PromptDelivery::PromptFileArg => {}
    }
    (argv, delivered, stdin)
}

fn read_summary(run: &RunDir) -> String {
    std::fs::read(run.file(dir::DONE))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn read_exit_code(run: &RunDir) -> Option<i32> {
    std::fs::read_to_string(run.file(dir::EXIT))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn reap(agent: &mut Agent) {
    match agent {
        Agent::Pane(..) => {}
        Agent::Headless(child) => {
            // Bounded: the launcher has ended or been killed by now.
            for _ in 0..200 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Why a run ended without a summary, in words.
fn ended_reason(run: &RunDir, agent: &mut Agent) -> String {
    if let Some(code) = read_exit_code(run) {
        return match code {
            127 => "the agent's command was not found (exit status 127) and no summary was written"
                .to_owned(),
            126 => "the launcher could not start the agent (exit status 126) and no summary was written"
                .to_owned(),
            c => format!("the agent exited with status {c} without writing a summary"),
        };
    }
    match agent {
        Agent::Headless(child) => {
            use std::os::unix::process::ExitStatusExt;
            match child.wait().ok().and_then(|s| s.signal()) {
                Some(sig) => format!(
                    "the launcher was killed by signal {sig} ({}) before the agent finished",
                    signal_name(sig)
                ),
                None => "the launcher ended without recording the agent's exit status".to_owned(),
            }
        }
        Agent::Pane(_, pane) => format!(
            "pane {} was closed, or the tmux server ended, before the agent published a summary",
            pane.id
        ),
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        9 => "SIGKILL",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// The last `lines` lines of the run's output log (at most 8 KiB), for messages.
pub fn output_tail(run: &RunDir, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(run.file(dir::OUTPUT)) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(8 * 1024);
    let text = strip_terminal_codes(&String::from_utf8_lossy(&bytes[start..]));
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
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
    fn terminal_codes_are_stripped() {
        assert_eq!(
            strip_terminal_codes("\u{1b}[1;32mok\u{1b}[0m\r\n\u{1b}]0;title\u{7}next\u{1b}(B"),
            "ok\nnext"
        );
    }
}
