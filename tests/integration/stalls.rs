//! The stall detector: a silent agent is called stalled, and why; a busy one never is.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Test, eventually, wait_bounded};
use crate::tmux_server::TmuxServer;

fn headless(t: Test, agent: &str, extra: &str) -> Test {
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    headless: true\n{extra}",
        t.agent_path(agent)
    );
    t.config(&cfg)
}

/// A 0-CPU agent that writes nothing: `no_start`, within the limit and 5 s, exit 5.
#[test]
fn a_silent_agent_is_stalled_no_start() {
    let marker = format!("60.{}", crate::harness::unique());
    let t = headless(
        Test::new().agent("a", &format!("exec sleep {marker}")),
        "a",
        "",
    );
    let started = Instant::now();
    let out = t
        .args(["--stall-after", "2s", "--on-stall", "stop", "go"])
        .run();
    let took = started.elapsed();
    out.status(5)
        .stderr_contains("stalled after")
        .stderr_contains("no sign of work (output, CPU) for 2s (no_start)");
    assert!(took < Duration::from_secs(7), "{took:?}");
    let m = out.manifest();
    assert_eq!(m["status"], "stalled");
    assert_eq!(m["agent_offload_exit"], 5);
    assert_eq!(m["health"]["state"], "stalled");
    assert_eq!(m["health"]["stall"], "no_start");
    crate::harness::assert_no_survivor(&format!("sleep {marker}"));
}

/// It said something, then nothing and no CPU: waiting on the model (`api_stall`).
#[test]
fn output_then_silence_is_an_api_stall() {
    let t = headless(
        Test::new().agent("a", "echo 'calling the model'; exec sleep 61"),
        "a",
        "    stall_after: 2s\n    on_stall: stop\n",
    );
    let out = t.arg("go").run();
    out.status(5).stderr_contains("(api_stall)");
}

/// A child that computes for twice the limit without a word is work, never a stall.
#[test]
fn a_busy_child_is_never_stalled() {
    let t = headless(
        Test::new().agent(
            "a",
            // A loop that never forks: its CPU time is its own on every backend.
            "sh -c 'while :; do :; done' & busy=$!\nsleep 5\nkill $busy\n\
             publish 'computed'",
        ),
        "a",
        "",
    );
    let out = t
        .args(["--stall-after", "2s", "--on-stall", "stop", "go"])
        .run();
    out.status(0).stdout_is("computed\n");
    assert!(!out.stderr().contains("stalled"), "{}", out.stderr());
}

/// `warn` (the default policy): stderr says so, run.json's health says so, and the run
/// goes on to its end; a sign of work afterwards is reported too.
#[test]
fn warn_reports_and_goes_on() {
    let t = Test::new();
    // The agent waits on a FIFO: no CPU at all until the test writes to it.
    let go = t.path().join("go-on");
    let made = std::process::Command::new("mkfifo")
        .arg(&go)
        .status()
        .unwrap();
    assert!(made.success());
    let t = t.agent(
        "a",
        &format!(
            "echo started\nread -r _ <'{}'\necho resumed\npublish finished",
            go.display()
        ),
    );
    let t = headless(t, "a", "    stall_after: 2s\n").arg("go");
    let child = t.spawn();
    // Gate on the recorded health, then let the agent go on.
    eventually(Duration::from_secs(20), "health: stalled", || {
        t.run_dirs().pop().is_some_and(|d| {
            std::fs::read_to_string(d.join("run.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|m| m["health"]["state"] == "stalled")
        })
    });
    let shown: Value = serde_json::from_slice(&t.exec(["show", "last", "--json"]).stdout).unwrap();
    assert_eq!(shown["health"]["stall"], "api_stall");
    assert_eq!(shown["status"], "running");
    std::fs::write(&go, "go\n").unwrap();
    let out = wait_bounded(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("looks stalled (api_stall)"), "{stderr}");
}

/// The CLI's final message is known but it never published: `idle_after_answer`.
#[test]
fn an_answer_without_a_summary_is_idle_after_answer() {
    let t = Test::new().agent(
        "claude",
        "echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s-1\"}'\n\
         echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"All done, I think.\",\"session_id\":\"s-1\"}'\n\
         exec sleep 62",
    );
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    interface: claude\n    headless: true\n",
        t.agent_path("claude")
    );
    let out = t
        .config(&cfg)
        .args(["--stall-after", "2s", "--on-stall", "stop", "go"])
        .run();
    out.status(5)
        .stderr_contains("(idle_after_answer)")
        .stdout_contains("All done, I think.");
}

/// A pane that shows a permission dialog the agent waits at: `approval_prompt`.
#[test]
fn a_permission_dialog_in_the_pane_is_an_approval_prompt() {
    let t = Test::new().agent(
        "a",
        "printf 'Bash command\\n  rm -rf build\\nDo you want to proceed?\\n> 1. Yes\\n  2. No\\n'\nexec sleep 63",
    );
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    stall_after: 2s\n    on_stall: stop\n",
        t.agent_path("a")
    );
    let out = t.config(&cfg).in_tmux(&server).arg("go").run();
    out.status(5).stderr_contains("(approval_prompt)");
    assert_eq!(server.panes().len(), 1, "the pane is closed");
}

/// `off` turns the detector off; a bad value names the field.
#[test]
fn stall_after_off_and_bad_values() {
    let t = headless(
        Test::new().agent("a", "sleep 3; publish late"),
        "a",
        "    stall_after: off\n    on_stall: stop\n",
    );
    let out = t.arg("go").run();
    out.status(0).stdout_is("late\n");
    assert_eq!(out.manifest()["stall"], Value::Null);

    let t = headless(
        Test::new().agent("a", "publish x"),
        "a",
        "    stall_after: soon\n",
    );
    let out = t.arg("go").run();
    out.status(2)
        .stderr_contains("profile \"p\": field \"stall_after\":")
        .stderr_contains("(or off)");
}
