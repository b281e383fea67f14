//! Everything in the run directory is untrusted input (issue 16, class 1): whatever the
//! agent leaves there — a FIFO, a symbolic link to `/dev/zero`, a directory, 50 MB of
//! summary, a 300 MB log, a summary written in place — no command hangs, reads without
//! bound or floods stdout, in both modes.
//!
//! agent-offload runs here under a memory limit on Linux (`ulimit -v`, 192 MiB): a
//! command that reads a whole hostile file (`/dev/zero`, 300 MB of log) fails there
//! instead of filling the machine's memory, so such a read shows in the output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{BIN, Test, mode};
use crate::tmux_server::TmuxServer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Headless,
    Tmux,
}

/// A test whose fake agent `agent` is `body`, in `mode` (with its tmux server).
fn setup(mode: Mode, body: &str) -> (Test, Option<TmuxServer>) {
    let t = Test::new().agent("agent", body);
    let path = t.agent_path("agent");
    match mode {
        Mode::Headless => {
            let cfg = format!("profiles:\n  fake:\n    command: {path}\n    headless: true\n");
            (t.config(&cfg), None)
        }
        Mode::Tmux => {
            let server = TmuxServer::start(t.path(), &t.work());
            let t = t
                .config(&format!("profiles:\n  fake:\n    command: {path}\n"))
                .in_tmux(&server);
            (t, Some(server))
        }
    }
}

/// agent-offload with `args` in `t`'s environment, under the memory limit, with `shell`
/// (a redirection, a umask) applied before it starts.
fn command(t: &Test, shell: &str, args: &[&str]) -> Command {
    let base = t.command();
    let limit = if cfg!(target_os = "linux") {
        "ulimit -v 196608; "
    } else {
        ""
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{limit}{shell} exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .env_clear()
        .current_dir(base.get_current_dir().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

/// Runs agent-offload with `args`; fails the test if it takes a minute.
fn run(t: &Test, args: &[&str]) -> Output {
    finish(command(t, "", args).spawn().unwrap())
}

/// Waits for `child` (a minute at most), reading its output as it comes: a hang or an
/// endless output fails the test instead of blocking it.
fn finish(mut child: Child) -> Output {
    let limit = Duration::from_secs(60);
    let start = Instant::now();
    let reader = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = r.read_to_end(&mut bytes);
            let _ = tx.send(bytes);
        });
        rx
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_default();
            panic!(
                "agent-offload did not finish within {limit:?}\nstderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let left = limit.saturating_sub(start.elapsed()) + Duration::from_secs(5);
    let take = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(left)
            .expect("the output's pipe stays open after agent-offload exited")
    };
    Output {
        status,
        stdout: take(stdout),
        stderr: take(stderr),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn assert_status(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "\n--- stdout ({} bytes):\n{}\n--- stderr:\n{}",
        out.stdout.len(),
        text(&out.stdout[..out.stdout.len().min(4096)]),
        text(&out.stderr)
    );
}

/// The single run directory of `t`.
fn run_dir(t: &Test) -> PathBuf {
    let dirs = t.run_dirs();
    assert_eq!(dirs.len(), 1, "one run directory: {dirs:?}");
    dirs.into_iter().next().unwrap()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

fn id(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The agent leaves something that is not a regular file at `done.md` (`make` is the
/// shell that makes it, in the run directory) and stays open, like a TUI: the run fails
/// at once saying what is there, and `runs`, `wait` and `show` answer promptly.
fn not_a_summary(mode: Mode, make: &str, kind: &str) {
    let body = format!("cd \"$AGENT_OFFLOAD_RUN_DIR\" && {make}\nexec sleep 600");
    let (t, _server) = setup(mode, &body);
    let reason = format!("done.md is {kind}, not a regular file");
    let out = run(&t, &["x"]);
    assert_status(&out, 1);
    assert!(text(&out.stderr).contains(&reason), "{}", text(&out.stderr));
    let dir = run_dir(&t);
    let m = manifest(&dir);
    assert_eq!(m["status"], "failed", "{m}");
    assert!(m["reason"].as_str().unwrap().contains(&reason), "{m}");

    let runs = run(&t, &["runs"]);
    assert_status(&runs, 0);
    assert!(
        text(&runs.stdout).contains("failed"),
        "{}",
        text(&runs.stdout)
    );
    let listed = run(&t, &["runs", "--json"]);
    assert_status(&listed, 0);
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list[0]["summary"], serde_json::Value::Null, "{list}");
    let waited = run(&t, &["wait", &id(&dir)]);
    assert_status(&waited, 1);
    assert!(text(&waited.stderr).contains(&reason));
    let shown = run(&t, &["show", &id(&dir)]);
    assert_status(&shown, 0);
    assert!(text(&shown.stdout).contains(&reason));
}

#[test]
fn a_fifo_at_done_md_fails_the_run_headless() {
    not_a_summary(Mode::Headless, "mkfifo done.md", "a FIFO");
}

#[test]
fn a_fifo_at_done_md_fails_the_run_in_tmux() {
    not_a_summary(Mode::Tmux, "mkfifo done.md", "a FIFO");
}

#[test]
fn a_symlink_to_dev_zero_at_done_md_fails_the_run_headless() {
    not_a_summary(Mode::Headless, "ln -s /dev/zero done.md", "a symbolic link");
}

#[test]
fn a_symlink_to_dev_zero_at_done_md_fails_the_run_in_tmux() {
    not_a_summary(Mode::Tmux, "ln -s /dev/zero done.md", "a symbolic link");
}

#[test]
fn a_directory_at_done_md_fails_the_run_headless() {
    not_a_summary(Mode::Headless, "mkdir done.md", "a directory");
}

#[test]
fn a_directory_at_done_md_fails_the_run_in_tmux() {
    not_a_summary(Mode::Tmux, "mkdir done.md", "a directory");
}

/// The agent leaves a FIFO at done.md and exits: the launcher's end is the event, and the
/// run fails the same way.
#[test]
fn a_fifo_at_done_md_from_an_agent_that_exits() {
    let (t, _server) = setup(
        Mode::Headless,
        "mkfifo \"$AGENT_OFFLOAD_RUN_DIR/done.md\"; exit 0",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 1);
    assert!(
        text(&out.stderr).contains("done.md is a FIFO, not a regular file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(manifest(&run_dir(&t))["status"], "failed");
}

/// The first, last and other lines of a 50 MB summary.
const FIRST: &str = "first line of the summary";
const LAST: &str = "last line of the summary";
const FILLER: &str = "filler line of a summary far too long";
const SUMMARY_LIMIT: usize = 64 * 1024;

fn huge_summary(mode: Mode) {
    // Lines at both ends, and 50 MB of hole between them (cheap to make, long to read).
    let body = format!(
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         {{ echo '{FIRST}'; yes '{FILLER}' | head -n 3000; }} >\"$d/done.md.tmp\"\n\
         dd if=/dev/null of=\"$d/done.md.tmp\" bs=1 seek=52428800 2>/dev/null\n\
         {{ echo; yes '{FILLER}' | head -n 3000; echo '{LAST}'; }} >>\"$d/done.md.tmp\"\n\
         mv \"$d/done.md.tmp\" \"$d/done.md\"\n\
         exec sleep 600"
    );
    let (t, _server) = setup(mode, &body);
    let out = run(&t, &["x"]);
    assert_status(&out, 0);
    let dir = run_dir(&t);
    let done = dir.join("done.md");
    let size = std::fs::metadata(&done).unwrap().len();
    assert!(size > 50_000_000);
    // Head and tail, at most the limit, with a line between naming the file and its size.
    let stdout = text(&out.stdout);
    assert!(
        out.stdout.len() <= SUMMARY_LIMIT + 512,
        "{} bytes on stdout",
        out.stdout.len()
    );
    assert!(
        stdout.starts_with(&format!("{FIRST}\n")),
        "{}",
        &stdout[..200]
    );
    assert!(stdout.ends_with(&format!("{LAST}\n")));
    let marker = format!(
        "[agent-offload: the summary is {size} bytes, over the 64 KiB limit: its middle is \
         left out here; the whole summary is {}]\n",
        done.display()
    );
    assert!(stdout.contains(&marker), "no marker line {marker:?}");
    // Whole lines on both sides of it.
    let line = format!("{FILLER}\n");
    let (head, tail) = stdout.split_once(&marker).unwrap();
    assert!(head.ends_with(&line), "{:?}", &head[head.len() - 100..]);
    assert!(tail.starts_with(&line), "{:?}", &tail[..100]);
    assert!(text(&out.stderr).contains(&format!("the summary is {size} bytes")));

    // --json: the cut summary, and that it was cut.
    let again = run(&t, &["wait", "--json", &id(&dir)]);
    assert_status(&again, 0);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        v["summary_truncated"],
        true,
        "{}",
        &text(&again.stdout)[..500]
    );
    assert_eq!(v["summary_bytes"], size);
    assert_eq!(v["summary"].as_str().unwrap(), stdout);
    assert!(again.stdout.len() <= SUMMARY_LIMIT + 4096);

    // show: bounded the same way; runs: the first line.
    let shown = run(&t, &["show", &id(&dir)]);
    assert_status(&shown, 0);
    assert!(shown.stdout.len() <= SUMMARY_LIMIT + 4096);
    assert!(text(&shown.stdout).contains(&marker));
    // (Wide enough for the whole first line: the table fits $COLUMNS.)
    let runs = finish(
        command(&t, "export COLUMNS=300;", &["runs"])
            .spawn()
            .unwrap(),
    );
    assert_status(&runs, 0);
    assert!(text(&runs.stdout).contains(FIRST), "{}", text(&runs.stdout));
    let listed = run(&t, &["runs", "--json"]);
    assert_status(&listed, 0);
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list[0]["summary_truncated"], true);
}

#[test]
fn a_huge_summary_is_cut_to_head_and_tail_headless() {
    huge_summary(Mode::Headless);
}

#[test]
fn a_huge_summary_is_cut_to_head_and_tail_in_tmux() {
    huge_summary(Mode::Tmux);
}

/// A short summary is whole, and says so in `--json`.
#[test]
fn a_short_summary_is_whole_in_json() {
    let (t, _server) = setup(Mode::Headless, "publish 'short and sweet'");
    let out = run(&t, &["--json", "x"]);
    assert_status(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"], "short and sweet\n");
    assert_eq!(v["summary_truncated"], false);
    assert_eq!(v["summary_bytes"], 16);
}

/// A failing agent leaves a sparse 300 MB log whose last bytes are text: the tail is
/// read from the end. Read whole, it would not fit under the memory limit.
fn huge_log(mode: Mode) {
    let (t, _server) = setup(
        mode,
        "log=\"$AGENT_OFFLOAD_RUN_DIR/output.log\"\n\
         dd if=/dev/null of=\"$log\" bs=1 seek=314572800 2>/dev/null\n\
         printf 'the last words of a failing agent\\n' >>\"$log\"\n\
         exit 3",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 1);
    let dir = run_dir(&t);
    assert!(std::fs::metadata(dir.join("output.log")).unwrap().len() > 314_572_800);
    assert!(
        text(&out.stdout).contains("the last words of a failing agent"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("status 3"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("    the last words of a failing agent"));
    // `logs` streams the whole of it (to /dev/null here) without holding it.
    let logs = finish(
        command(&t, ">/dev/null", &["logs", &id(&dir)])
            .spawn()
            .unwrap(),
    );
    assert_status(&logs, 0);
}

#[test]
fn a_huge_log_is_tailed_from_its_end_headless() {
    huge_log(Mode::Headless);
}

#[test]
fn a_huge_log_is_tailed_from_its_end_in_tmux() {
    huge_log(Mode::Tmux);
}

/// A FIFO at output.log: the failed run's tail and `logs` do not block on it.
fn fifo_log(mode: Mode) {
    let (t, _server) = setup(
        mode,
        "cd \"$AGENT_OFFLOAD_RUN_DIR\" && rm -f output.log && mkfifo output.log\nexit 3",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 1);
    assert!(
        text(&out.stderr).contains("status 3"),
        "{}",
        text(&out.stderr)
    );
    let dir = run_dir(&t);
    let logs = run(&t, &["logs", &id(&dir)]);
    assert_status(&logs, 1);
    assert!(
        text(&logs.stderr).contains("output.log is a FIFO, not a regular file"),
        "{}",
        text(&logs.stderr)
    );
}

#[test]
fn a_fifo_at_output_log_blocks_nothing_headless() {
    fifo_log(Mode::Headless);
}

#[test]
fn a_fifo_at_output_log_blocks_nothing_in_tmux() {
    fifo_log(Mode::Tmux);
}

/// A symbolic link at output.log to a file elsewhere: never followed, by the tail or by
/// `logs`.
fn symlink_log(mode: Mode) {
    let (t, _server) = setup(
        mode,
        "cd \"$AGENT_OFFLOAD_RUN_DIR\" && rm -f output.log && ln -s ../../../../elsewhere output.log\n\
         exit 3",
    );
    let elsewhere = t.path().join("elsewhere");
    std::fs::write(&elsewhere, "text from a file outside the run\n").unwrap();
    let out = run(&t, &["x"]);
    assert_status(&out, 1);
    let dir = run_dir(&t);
    assert_eq!(
        std::fs::read_to_string(dir.join("output.log")).unwrap(),
        "text from a file outside the run\n",
        "the link leads to the file"
    );
    assert!(!text(&out.stdout).contains("outside the run"));
    assert!(!text(&out.stderr).contains("outside the run"));
    let logs = run(&t, &["logs", &id(&dir)]);
    assert_status(&logs, 1);
    assert!(!text(&logs.stdout).contains("outside the run"));
    assert!(
        text(&logs.stderr).contains("output.log is a symbolic link, not a regular file"),
        "{}",
        text(&logs.stderr)
    );
}

#[test]
fn a_symlink_at_output_log_is_not_followed_headless() {
    symlink_log(Mode::Headless);
}

#[test]
fn a_symlink_at_output_log_is_not_followed_in_tmux() {
    symlink_log(Mode::Tmux);
}

/// An agent that writes done.md in place, in two parts with a pause between (its next
/// step, shorter than the 1 s the waiter lets such a file settle): the pane stays
/// until the file is complete, and both parts arrive. Whether a file written in place
/// is complete can only be told by time, so the pause is the agent's, part of what is
/// tested; the test itself waits on nothing but the run's end.
#[test]
fn a_summary_written_in_place_arrives_whole_in_tmux() {
    let (t, _server) = setup(
        Mode::Tmux,
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         echo 'first part' >\"$d/done.md\"\n\
         sleep 0.05\n\
         echo 'second part' >>\"$d/done.md\"\n\
         exec sleep 600",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 0);
    assert_eq!(text(&out.stdout), "first part\nsecond part\n");
}

/// The same with the agent's next step 300 ms after its first (issue 21, item 16: cut
/// to the first part in a pane, 4 of 4, while headless waited for the agent's exit): a
/// file written in place is given a quiet period long enough for a writer's next step.
#[test]
fn a_summary_written_in_place_in_two_slow_steps_arrives_whole_in_tmux() {
    let (t, _server) = setup(
        Mode::Tmux,
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         echo 'first part' >\"$d/done.md\"\n\
         sleep 0.3\n\
         echo 'second part' >>\"$d/done.md\"\n\
         exec sleep 600",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 0);
    assert_eq!(text(&out.stdout), "first part\nsecond part\n");
}

/// An agent that never stops writing done.md in place cannot hold the run: it ends
/// with what was there after a bounded wait.
#[test]
fn a_summary_that_never_stops_changing_is_bounded_in_tmux() {
    let (t, _server) = setup(
        Mode::Tmux,
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         echo 'start' >\"$d/done.md\"\n\
         while :; do echo 'more' >>\"$d/done.md\"; sleep 0.02; done",
    );
    let out = run(&t, &["x"]);
    assert_status(&out, 0);
    assert!(text(&out.stdout).starts_with("start\nmore\n"));
}

/// Everything agent-offload creates in a tmux run's directory is private, the pane's
/// transcript (written by tmux's `cat`, with the tmux server's umask) included.
#[test]
fn files_of_a_tmux_run_are_private() {
    let (t, _server) = setup(Mode::Tmux, "echo out; publish done; exec sleep 600");
    let out = finish(command(&t, "umask 000;", &["x"]).spawn().unwrap());
    assert_status(&out, 0);
    let dir = run_dir(&t);
    assert_eq!(mode(&dir), 0o700, "run directory");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let expected = match name.as_str() {
            // The agent's own file.
            "done.md" => continue,
            "launch.sh" => 0o700,
            _ => 0o600,
        };
        assert_eq!(mode(&dir.join(&name)), expected, "{name}");
    }
    assert_eq!(mode(&dir.join("output.log")), 0o600);
}
