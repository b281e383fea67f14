//! Bad input is rejected before anything starts (issue 16): durations past the
//! maximum, a stdin (or prompt file) that never ends, links in the state directory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{Outcome, Test, wait_bounded};
use crate::tmux_server::TmuxServer;

/// Far past `u64` seconds once multiplied: this parsed, started the agent, then
/// panicked adding it to an `Instant` (exit 101, agent left running).
const HUGE: &str = "9999999999999999999h";

fn too_long(text: &str) -> String {
    format!("invalid duration \"{text}\": longer than the maximum, 365d")
}

/// A headless profile whose agent leaves a marker when it runs at all, and publishes.
fn marking() -> Test {
    let t = Test::new();
    let marker = t.path().join("agent-ran");
    let t = t.agent("fake", &format!("touch '{}'; publish ok", marker.display()));
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    t.config(&cfg)
}

#[track_caller]
fn assert_nothing_started(out: &Outcome) {
    assert!(
        !out.test.path().join("agent-ran").exists(),
        "the agent ran: {}",
        out.stderr()
    );
    assert!(
        out.test.run_dirs().is_empty(),
        "a run directory was created: {}",
        out.stderr()
    );
}

#[test]
fn run_durations_past_the_maximum_are_usage_errors() {
    for flag in ["--timeout", "--detach-after"] {
        for value in [HUGE, "366d", "365d1ms"] {
            let out = marking().args([flag, value, "do it"]).run();
            out.status(2).stdout_is("").stderr_contains(&format!(
                "invalid value '{value}' for '{flag} <DURATION>': {}",
                too_long(value)
            ));
            assert_nothing_started(&out);
        }
    }
    let out = marking().args(["prune", "--older-than", HUGE]).run();
    out.status(2).stderr_contains(&too_long(HUGE));
}

/// The maximum itself is accepted, and a deadline a year away works.
#[test]
fn the_maximum_duration_is_accepted() {
    let out = marking()
        .args(["--timeout", "365d", "--detach-after", "8760h", "do it"])
        .run();
    out.status(0).stdout_is("ok\n");
    let out = marking()
        .args(["prune", "--older-than", "365d", "--dry-run"])
        .run();
    out.status(0);
}

/// `wait` on a live run: a huge `--timeout` or `--detach-after` is refused, and the run
/// goes on untouched.
#[test]
fn wait_durations_past_the_maximum_are_usage_errors() {
    let t = Test::new();
    let go = t.path().join("go");
    let t = t.agent(
        "fake",
        &format!(
            "while [ ! -e '{}' ]; do sleep 0.02; done\npublish 'late summary'",
            go.display()
        ),
    );
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let out = t
        .config(&cfg)
        .args(["--detach-after", "200ms", "task"])
        .run();
    out.status(75);
    let t = &out.test;
    for flag in ["--timeout", "--detach-after"] {
        let w = t.exec(["wait", flag, HUGE]);
        let stderr = String::from_utf8_lossy(&w.stderr);
        assert_eq!(w.status.code(), Some(2), "wait {flag}: {stderr}");
        assert!(stderr.contains(&too_long(HUGE)), "wait {flag}: {stderr}");
    }
    assert_eq!(out.manifest()["status"], "running");
    std::fs::write(&go, "").unwrap();
    let w = t.exec(["wait"]);
    assert_eq!(
        w.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&w.stdout), "late summary\n");
}

/// Config durations past the maximum: exit 2, the file, line, column and field, and
/// nothing started.
#[test]
fn config_durations_past_the_maximum_are_config_errors() {
    let cases = [
        (
            format!("detach_after: {HUGE}\nprofiles:\n  a:\n    command: x\n"),
            format!(":1:15: field \"detach_after\": {}", too_long(HUGE)),
        ),
        (
            format!("profiles:\n  a:\n    command: x\n    timeout: {HUGE}\n"),
            format!(
                ":4:14: profile \"a\": field \"timeout\": {}",
                too_long(HUGE)
            ),
        ),
        (
            "profiles:\n  a:\n    command: x\n    detach_after: 366d\n".to_owned(),
            format!(
                ":4:19: profile \"a\": field \"detach_after\": {}",
                too_long("366d")
            ),
        ),
    ];
    for (yaml, rest) in cases {
        let out = Test::new().config(&yaml).args(["-H", "do it"]).run();
        let expected = format!(
            "agent-offload: {}{rest}\n",
            out.test.config_path().display()
        );
        assert_eq!(out.stderr(), expected, "config:\n{yaml}");
        out.status(2).stdout_is("");
        assert!(out.test.run_dirs().is_empty(), "config:\n{yaml}");
    }
}

/// Spawns the test's command with a stdin pipe the test keeps open; returns the child,
/// the pipe, and the lines of stderr as they come.
fn spawn_with_open_stdin(
    t: &Test,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    mpsc::Receiver<String>,
) {
    let mut child = t
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent-offload");
    let stdin = child.stdin.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, rx)
}

const STILL_READING: &str = "agent-offload: still reading the prompt from stdin: the run starts \
                             at its end of file (close it, or give the prompt as words)";

/// A stdin that never ends: after a moment agent-offload says what it waits for; the
/// run starts when stdin ends.
#[test]
fn a_stdin_that_stays_open_is_announced() {
    let t = marking();
    let (child, mut stdin, lines) = spawn_with_open_stdin(&t);
    // The notice is the event: nothing is written to stdin before it.
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("a line on stderr while stdin stays open");
    assert_eq!(first, STILL_READING);
    assert!(t.run_dirs().is_empty(), "started before the prompt ended");
    stdin.write_all(b"the task\n").unwrap();
    drop(stdin);
    let out = wait_bounded(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    assert!(t.path().join("agent-ran").exists());
}

/// `--timeout` or `--detach-after`, whichever is shorter, also bounds the wait for the
/// prompt: exit 2, nothing started, the bound named. A bound past the notice's moment
/// says what it waits for first.
#[test]
fn a_stdin_that_never_ends_is_bounded_by_the_timeout() {
    let cases = [
        (&["--timeout", "1s"][..], "1s (--timeout)", false),
        (
            &["--timeout", "1h", "--detach-after", "3s"],
            "3s (--detach-after)",
            true,
        ),
    ];
    for (args, bound, noticed) in cases {
        let t = marking().args(args);
        let (child, stdin, lines) = spawn_with_open_stdin(&t);
        let out = wait_bounded(child, Duration::from_secs(30));
        drop(stdin);
        let mut expected = Vec::new();
        if noticed {
            expected.push(format!("{STILL_READING}; giving up after {bound}"));
        }
        expected.push(format!(
            "agent-offload: no prompt arrived from stdin within {bound}; nothing was started"
        ));
        let stderr: Vec<String> = lines.iter().collect();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr:?}");
        assert_eq!(stderr, expected, "{args:?}");
        assert!(t.run_dirs().is_empty());
        assert!(!t.path().join("agent-ran").exists());
    }
}

/// The config's `detach_after` bounds it too, named as such.
#[test]
fn the_configs_bound_covers_the_prompt_too() {
    let t = Test::new().agent("fake", "publish ok");
    let cfg = format!(
        "detach_after: 1s\nprofiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    let (child, stdin, lines) = spawn_with_open_stdin(&t);
    let out = wait_bounded(child, Duration::from_secs(30));
    drop(stdin);
    let stderr: Vec<String> = lines.iter().collect();
    assert_eq!(out.status.code(), Some(2), "{stderr:?}");
    assert_eq!(
        stderr.last().map(String::as_str),
        Some(
            "agent-offload: no prompt arrived from stdin within 1s (the config's \
             detach_after); nothing was started"
        )
    );
    assert!(t.run_dirs().is_empty());
}

/// A prompt file that is a FIFO nobody writes to is bounded the same way.
#[test]
fn a_prompt_file_that_never_ends_is_bounded_too() {
    let t = marking();
    let fifo = t.path().join("prompt.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let out = t.args(["--timeout", "1s", "-f"]).arg(&fifo).run();
    out.status(2).stdout_is("").stderr_contains(&format!(
        "agent-offload: no prompt arrived from the prompt file {} within 1s (--timeout); \
         nothing was started\n",
        fifo.display()
    ));
    assert_nothing_started(&out);
}

/// A prompt past 16 MiB is refused, from a file or from a stdin that streams forever.
#[test]
fn a_prompt_past_the_maximum_is_refused() {
    let t = marking();
    let big = t.path().join("big.md");
    std::fs::write(&big, vec![b'a'; 16 * 1024 * 1024 + 1]).unwrap();
    let out = t.arg("-f").arg(&big).run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        "agent-offload: the prompt from the prompt file is longer than the maximum, 16 MiB\n"
    );
    assert_nothing_started(&out);

    let t = marking();
    let child = t
        .command()
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "agent-offload: the prompt from stdin is longer than the maximum, 16 MiB\n"
    );
    assert!(t.run_dirs().is_empty());
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn link_refused(link: &Path, target: &Path) -> String {
    format!(
        "agent-offload: {} is a symbolic link (to {}): agent-offload does not follow links in \
         its state directory; remove the link (rm {})\n",
        link.display(),
        target.display(),
        link.display()
    )
}

/// A `runs` directory that is a link is refused by every command that uses it, and
/// nothing is made where it points.
#[test]
fn a_runs_directory_that_is_a_link_is_refused() {
    let t = marking();
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = t.runs_root();
    symlink(&elsewhere, &link);
    let expected = link_refused(&link, &elsewhere);
    let out = t.arg("do it").run();
    out.status(1).stdout_is("");
    assert_eq!(out.stderr(), expected);
    assert!(!out.test.path().join("agent-ran").exists());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    for args in [&["runs"][..], &["wait"], &["prune"], &["show", "last"]] {
        let o = out.test.exec(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), expected, "{args:?}");
    }
}

/// The pane-placement lock that is a link (here to a file that does not exist yet) is
/// refused before a pane opens, and its target is never created.
#[test]
fn a_placement_lock_that_is_a_link_is_refused() {
    let t = Test::new().agent("agent", "publish ok");
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n",
        t.agent_path("agent")
    );
    let target = t.path().join("not-a-lock");
    let link = t.path().join("state/agent-offload/pane-placement.lock");
    symlink(&target, &link);
    let out = t.config(&cfg).in_tmux(&server).arg("do it").run();
    out.status(1).stdout_is("");
    assert_eq!(out.stderr(), link_refused(&link, &target));
    assert!(!target.exists(), "the lock's link was followed");
    assert_eq!(server.panes(), vec![server.caller.clone()]);
    assert!(out.test.run_dirs().is_empty());
}
