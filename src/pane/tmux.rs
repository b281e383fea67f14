//! Every tmux command line lives here: opening the pane beside the caller, capturing
//! its output, handing over the environment, and closing it.
//!
//! The pane's environment comes from the tmux server, not from us, so PATH and the
//! profile's `from_env` secrets travel through a FIFO in the run directory that
//! `launch.sh` sources before anything else: the values exist only in the pipe and in
//! the shell's memory, never in a file or an argv (`tmux split-window -e NAME=value`
//! would put them in the tmux client's argv, visible to every user in `ps`).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::os::stop;
use crate::shell::{quote, quote_bytes};
use crate::store::dir::{self, RunDir};

/// The pane option that marks panes opened by agent-offload, holding the run id.
const RUN_OPTION: &str = "@agent-offload-run";
/// How long the launcher may take to open the environment FIFO before the run fails.
const HANDOVER_LIMIT: Duration = Duration::from_secs(10);

/// The tmux server and pane agent-offload was called from (`$TMUX`, `$TMUX_PANE`).
#[derive(Debug, Clone)]
pub struct Caller {
    socket: Option<OsString>,
    pane: String,
}

impl Caller {
    /// From the caller's environment; `None` outside tmux.
    pub fn from_env(env: &dyn Fn(&str) -> Option<OsString>) -> Option<Caller> {
        let tmux = env("TMUX").filter(|v| !v.is_empty())?;
        let pane = env("TMUX_PANE")?.into_string().ok()?;
        let socket = socket_of(&tmux).map(OsString::from);
        Some(Caller { socket, pane })
    }

    /// A server known only by its socket (a run started by another process): enough to
    /// close panes, not to place new ones.
    pub fn for_socket(socket: Option<OsString>) -> Caller {
        Caller {
            socket,
            pane: String::new(),
        }
    }

    pub fn socket(&self) -> Option<&std::ffi::OsStr> {
        self.socket.as_deref()
    }

    fn tmux(&self) -> Command {
        command(self.socket.as_deref())
    }

    /// Runs a tmux command and returns its stdout; the error carries tmux's stderr.
    fn output(&self, args: &[&str]) -> Result<String> {
        let out = self.tmux().args(args).output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!("tmux is not installed (not found on PATH)")
            } else {
                anyhow::Error::new(e).context("cannot run tmux")
            }
        })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(TmuxError::from_answer(args.first().copied().unwrap_or(""), said).into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A tmux command that failed, by what tmux answered (read once, here: the code above
/// decides on the kind, never on the words).
#[derive(Debug)]
pub enum TmuxError {
    /// The target pane no longer exists.
    Gone {
        command: String,
        said: String,
    },
    /// The window has no room for another pane.
    NoSpace {
        command: String,
        said: String,
    },
    Failed {
        command: String,
        said: String,
    },
}

impl TmuxError {
    fn from_answer(command: &str, said: String) -> TmuxError {
        let command = command.to_owned();
        if said.contains("can't find pane") {
            TmuxError::Gone { command, said }
        } else if said.contains("no space for new pane") || said.contains("pane too small") {
            TmuxError::NoSpace { command, said }
        } else {
            TmuxError::Failed { command, said }
        }
    }
}

impl std::fmt::Display for TmuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (TmuxError::Gone { command, said }
        | TmuxError::NoSpace { command, said }
        | TmuxError::Failed { command, said }) = self;
        write!(f, "tmux {command} failed: {said}")
    }
}

impl std::error::Error for TmuxError {}

/// `tmux` talking to the server at `socket` (`None`: the one `$TMUX` names, else the
/// default), its input closed: every tmux this crate runs is built here.
pub fn command(socket: Option<&std::ffi::OsStr>) -> Command {
    // Looked up on PATH once per process, not at each of a run's tmux commands (an
    // exec tried in every PATH directory before tmux's). Not found: `tmux`, whose
    // spawn then fails as "not installed".
    static TMUX: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let found =
        TMUX.get_or_init(|| crate::search_path::find("tmux", std::env::var_os("PATH").as_deref()));
    let mut cmd = Command::new(found.as_deref().unwrap_or(Path::new("tmux")));
    if let Some(s) = socket {
        cmd.arg("-S").arg(s);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// The server's socket in a `$TMUX` value (`socket_path,server_pid,session_index`);
/// `None` when it names none.
pub fn socket_of(tmux: &std::ffi::OsStr) -> Option<&std::ffi::OsStr> {
    let bytes = tmux.as_bytes();
    let end = bytes.iter().position(|&b| b == b',').unwrap_or(bytes.len());
    (end > 0).then(|| std::ffi::OsStr::from_bytes(&bytes[..end]))
}

/// A pane running a launcher.
#[derive(Debug, Clone)]
pub struct Pane {
    pub id: String,
    pub pid: i32,
}

/// Opens the run's pane: to the right of the caller's pane, or stacked in the column of
/// earlier runs' panes in that window, or in a new window when tmux has no room left or
/// the pane would be narrower than `min_width` columns (0: never for width).
/// Its output is captured to `output.log` before the launcher can print anything (the
/// launcher first waits for the environment hand-over).
///
/// `opened` is told about the pane as soon as tmux has made it, before it is set up:
/// a process killed from then on leaves a run that names its pane. A new window is
/// named after the run (`ao-RUNID`), and `say` is told where it went and why: the
/// person is looking at the window it did not open in.
pub fn open_pane(
    caller: &Caller,
    run: &RunDir,
    cwd: &Path,
    focus: bool,
    min_width: u16,
    opened: &mut dyn FnMut(&Pane),
    say: &dyn Fn(&str),
) -> Result<Pane> {
    // The pane's transcript is appended by tmux's `cat >> output.log` (pipe-pane,
    // below), which would create it with the tmux server's umask (0644 as a rule):
    // create it private first, never through a symbolic link.
    let log = run.file(dir::OUTPUT);
    create_private(&log).with_context(|| format!("cannot create {}", log.display()))?;
    // Runs started at the same moment from one pane would all see no earlier run pane
    // and all split the caller's pane, slicing it into ever thinner columns: place
    // panes one at a time (an advisory lock on a file beside the run directories).
    let _placing = PlacementLock::take(run);
    let command = pane_command(run);
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let cwd = cwd.to_string_lossy();
    let format = "#{pane_id} #{pane_pid}";
    let detach: &[&str] = if focus { &[] } else { &["-d"] };

    // Panes of finishing runs close without the placement lock: the pane chosen to
    // stack on can vanish between the choice and the split. Then choose again, from
    // the layout as it is now (bounded: each retry means another run just ended).
    let mut attempts = 0;
    let (split, stack_on) = loop {
        let window = look_at_window(caller)?;
        let stack_on = window.stack_on.clone();
        let (direction, target) = match &stack_on {
            Some(p) => ("-v", p.as_str()),
            None => ("-h", caller.pane.as_str()),
        };
        if let Some(width) = too_narrow(caller, &window, target, stack_on.is_none(), min_width) {
            let why = if stack_on.is_some() {
                format!(
                    "the column of runs in this window is {width} columns wide, under \
                     min_pane_width {min_width}"
                )
            } else {
                format!(
                    "your pane is {width} columns wide: one beside it would have {}, under \
                     min_pane_width {min_width}",
                    new_pane_width(width, true)
                )
            };
            break (Err(why), stack_on);
        }
        let mut split: Vec<&str> = vec!["split-window", direction];
        split.extend_from_slice(detach);
        split.extend_from_slice(&["-t", target, "-c", &cwd, "-P", "-F", format]);
        split.extend_from_slice(&command);
        let result = caller.output(&split);
        attempts += 1;
        match result {
            Err(e) if stack_on.is_some() && is_gone(&e) && attempts < PLACEMENT_ATTEMPTS => {}
            result => break (Ok(result), stack_on),
        }
    };
    let name = format!("ao-{}", run.id);
    // A new window in the caller's session, after the caller's window.
    let new_window = |why: &str| -> Result<String> {
        let window =
            caller.output(&["display-message", "-p", "-t", &caller.pane, "#{window_id}"])?;
        let window = window.trim();
        let mut new_window: Vec<&str> = vec!["new-window", "-a"];
        new_window.extend_from_slice(detach);
        new_window.extend_from_slice(&["-n", &name, "-t", window, "-c", &cwd, "-P", "-F", format]);
        new_window.extend_from_slice(&command);
        let line = caller.output(&new_window)?;
        say(&format!(
            "agent-offload: run {} opens in a new window '{name}' of this session: {why}",
            run.id
        ));
        Ok(line)
    };
    let (line, in_new_window) = match split {
        Ok(Ok(line)) => (line, false),
        // Too narrow to be usable, or a crowded window: a window of its own instead of
        // failing.
        Err(why) => (new_window(&why)?, true),
        Ok(Err(e)) if is_no_space(&e) => (
            new_window("tmux has no room for another pane in this window")?,
            true,
        ),
        Ok(Err(e)) => return Err(e),
    };
    let pane = parse_pane(&line)?;
    opened(&pane);
    let pipe = format!("cat >> {}", quote(&log.to_string_lossy()));
    let mut chained = vec![
        "set-option",
        "-p",
        "-t",
        &pane.id,
        RUN_OPTION,
        &run.id,
        ";",
        "pipe-pane",
        "-o",
        "-t",
        &pane.id,
        &pipe,
    ];
    if stack_on.is_some() && !in_new_window {
        // Keep the column of runs evenly sized.
        chained.extend_from_slice(&[";", "select-layout", "-E", "-t", &pane.id]);
    }
    if let Err(e) = caller.output(&chained) {
        if let Some(mut c) = close(caller, &pane) {
            let _ = c.wait();
        }
        return Err(e.context("cannot set up the new pane"));
    }
    Ok(pane)
}

/// The hidden subcommand a pane runs first (see `run::pane_leader`).
pub const PANE_COMMAND: &str = "__pane";

/// What the pane runs (tmux executes the words directly, without a shell): agent-offload's
/// wrapper around the launcher, `agent-offload __pane RUNDIR` (see `run::pane_leader`),
/// which ends what the agent daemonised; the launcher itself should this executable's
/// path be unknown. The tmux server starts it, so it is named by path (`os::own_path`).
fn pane_command(run: &RunDir) -> Vec<String> {
    match crate::os::own_path() {
        Some(exe) => vec![
            exe,
            PANE_COMMAND.to_owned(),
            run.path.to_string_lossy().into_owned(),
        ],
        None => vec![
            "sh".to_owned(),
            run.file(dir::LAUNCHER).to_string_lossy().into_owned(),
        ],
    }
}

/// An exclusive `flock` held while a pane is placed; released on drop. Best effort:
/// without it placement still works, only less tidily under concurrency.
struct PlacementLock {
    _file: Option<std::fs::File>,
}

impl PlacementLock {
    fn take(run: &RunDir) -> PlacementLock {
        // Beside the runs directory: `$XDG_STATE_HOME/agent-offload/`.
        let Some(root) = run.path.parent().and_then(Path::parent) else {
            return PlacementLock { _file: None };
        };
        // Never through a symbolic link (`runs_root` refused one before the run
        // started; one made since fails here with ELOOP and the pane is placed
        // unlocked): the link's target would be created or locked instead.
        let file = create_private(&root.join(dir::PLACEMENT_LOCK)).ok();
        if let Some(f) = &file {
            // Placing a pane takes milliseconds.
            crate::store::lock::lock_exclusive(f, Duration::from_secs(5));
        }
        PlacementLock { _file: file }
    }
}

/// How many times a pane is placed again when the pane chosen to stack on closed.
const PLACEMENT_ATTEMPTS: u32 = 8;

/// Whether `e` is tmux saying that the target pane no longer exists.
fn is_gone(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<TmuxError>(), Some(TmuxError::Gone { .. }))
}

/// Opens `path` for appending, creating it with mode 0600, never through a symbolic
/// link (the link's target would be created or written instead).
fn create_private(path: &Path) -> rustix::io::Result<std::fs::File> {
    rustix::fs::open(
        path,
        rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::APPEND
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map(std::fs::File::from)
}

/// Whether the pane a split of `target` would make is narrower than `min_width`: a
/// split beside it (`-h`, tmux's default of half) gets half its width less the border
/// between them; a pane stacked under it (`-v`) gets its whole width. The width is the
/// listing's (else tmux is asked); when it cannot be read, the split is tried (and tmux
/// says whether there is room). Returns `target`'s width when too narrow.
fn too_narrow(
    caller: &Caller,
    window: &Window,
    target: &str,
    beside: bool,
    min_width: u16,
) -> Option<u32> {
    if min_width == 0 {
        return None;
    }
    let listed = window
        .widths
        .iter()
        .find(|(id, _)| id == target)
        .map(|&(_, w)| w);
    let width = listed.or_else(|| {
        caller
            .output(&["display-message", "-p", "-t", target, "#{pane_width}"])
            .ok()
            .and_then(|w| w.trim().parse::<u32>().ok())
    })?;
    (new_pane_width(width, beside) < u32::from(min_width)).then_some(width)
}

/// The width of the pane a split of a pane `width` columns wide makes.
fn new_pane_width(width: u32, beside: bool) -> u32 {
    if beside {
        width.saturating_sub(1) / 2
    } else {
        width
    }
}

/// Whether `e` is tmux saying that the window has no room for another pane.
fn is_no_space(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<TmuxError>(),
        Some(TmuxError::NoSpace { .. })
    )
}

fn parse_pane(line: &str) -> Result<Pane> {
    let mut it = line.split_whitespace();
    let (Some(id), Some(pid)) = (it.next(), it.next()) else {
        bail!("unexpected answer from tmux: {line:?}");
    };
    Ok(Pane {
        id: id.to_owned(),
        pid: pid
            .parse()
            .with_context(|| format!("unexpected pane pid from tmux: {line:?}"))?,
    })
}

/// The caller's window as one `list-panes` shows it: the tallest pane of an earlier run,
/// if any (the new run is stacked below it rather than slicing the window into thinner
/// columns), and each pane's width (for `min_pane_width`, without asking tmux again).
struct Window {
    stack_on: Option<String>,
    widths: Vec<(String, u32)>,
}

fn look_at_window(caller: &Caller) -> Result<Window> {
    let listing = caller.output(&[
        "list-panes",
        "-t",
        &caller.pane,
        "-F",
        &format!("#{{pane_id}} #{{pane_height}} #{{pane_width}} #{{{RUN_OPTION}}}"),
    ])?;
    let mut widths = Vec::new();
    let mut tallest: Option<(u32, String)> = None;
    for line in listing.lines() {
        let mut f = line.split_whitespace();
        let (Some(id), Some(height), Some(width)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(height), Ok(width)) = (height.parse::<u32>(), width.parse::<u32>()) else {
            continue;
        };
        widths.push((id.to_owned(), width));
        // Only panes with the run option set are runs' panes.
        if f.next().is_some() && tallest.as_ref().is_none_or(|(h, _)| height >= *h) {
            tallest = Some((height, id.to_owned()));
        }
    }
    Ok(Window {
        stack_on: tallest.map(|(_, id)| id),
        widths,
    })
}

/// Creates the FIFO that `launch.sh` reads its environment from.
pub fn make_fifo(run: &RunDir) -> Result<()> {
    let path = run.file(dir::ENV_FIFO);
    crate::os::make_fifo(&path, 0o600).with_context(|| format!("cannot create {}", path.display()))
}

/// Writes `export` lines for `vars` into the FIFO once the launcher opens it. Bounded:
/// gives up when the launcher dies or does not open it within [`HANDOVER_LIMIT`].
pub fn hand_over(run: &RunDir, launcher_pid: i32, vars: &[(String, OsString)]) -> Result<()> {
    let path = run.file(dir::ENV_FIFO);
    let mut script = Vec::new();
    for (name, value) in vars {
        script.extend_from_slice(format!("{name}=").as_bytes());
        // Bytes, not text: a value that is not UTF-8 arrives as it is, not as U+FFFD.
        script.extend_from_slice(&quote_bytes(value.as_bytes()));
        script.extend_from_slice(format!("; export {name}\n").as_bytes());
    }
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    let fd = loop {
        // Non-blocking open for writing fails with ENXIO until a reader has it open:
        // it never blocks, so a pane that fails to start cannot hang us.
        match rustix::fs::open(
            &path,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            Ok(fd) => break fd,
            Err(rustix::io::Errno::NXIO) => {}
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot open {}", path.display()))
                );
            }
        }
        if !stop::alive(launcher_pid) {
            bail!("the pane's launcher ended before it read its environment");
        }
        if start.elapsed() > HANDOVER_LIMIT {
            bail!("the pane's launcher did not start within {HANDOVER_LIMIT:?}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Blocking writes from here: the reader is there and reads to EOF.
    let flags = rustix::fs::fcntl_getfl(&fd).context("fcntl on the environment FIFO")?;
    rustix::fs::fcntl_setfl(&fd, flags - rustix::fs::OFlags::NONBLOCK)
        .context("fcntl on the environment FIFO")?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&script)
        .with_context(|| format!("cannot write to {}", path.display()))?;
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// What pane `id` shows now (its visible lines, no escape sequences).
pub fn capture(caller: &Caller, id: &str) -> Option<String> {
    caller.output(&["capture-pane", "-p", "-t", id]).ok()
}

/// The first process of pane `id`, if the pane exists.
pub fn pane_pid(caller: &Caller, id: &str) -> Option<i32> {
    caller
        .output(&["display-message", "-p", "-t", id, "#{pane_pid}"])
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Starts closing the pane (tmux sends SIGHUP to what runs in it) and returns the
/// tmux client to wait for, so the caller can sweep the pane's processes meanwhile.
/// Errors are ignored: the pane or the whole server may already be gone, which is
/// what we want.
pub fn close(caller: &Caller, pane: &Pane) -> Option<std::process::Child> {
    caller
        .tmux()
        .args(["kill-pane", "-t", &pane.id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_from_env() {
        let env = |k: &str| match k {
            "TMUX" => Some("/tmp/tmux-0/default,123,0".into()),
            "TMUX_PANE" => Some("%3".into()),
            _ => None,
        };
        let c = Caller::from_env(&env).unwrap();
        assert_eq!(
            c.socket.as_deref(),
            Some(std::ffi::OsStr::new("/tmp/tmux-0/default"))
        );
        assert_eq!(c.pane, "%3");
        assert!(Caller::from_env(&|_| None).is_none());
    }

    #[test]
    fn pane_line() {
        let p = parse_pane("%12 4567\n").unwrap();
        assert_eq!((p.id.as_str(), p.pid), ("%12", 4567));
        assert!(parse_pane("").is_err());
    }
}
