//! `--check CMD` on a single run: its exit code, what `show`, stderr and `--json` say,
//! a signal while it runs, and what it starts in the background.

use std::time::Duration;

use crate::harness::{Test, assert_no_survivor, eventually, send_signal, unique, wait_bounded};

fn setup() -> Test {
    let t = Test::new().agent("fake", "publish 'did it'");
    let cfg = format!(
        "profiles:\n  fake: {{command: {}, headless: true}}\n",
        t.agent_path("fake")
    );
    t.config(&cfg)
}

#[test]
fn a_failed_check_exits_7_and_says_so_even_with_quiet() {
    let out = setup()
        .args(["-q", "--check", "echo tests broke; exit 3", "do it"])
        .run();
    out.status(7).stdout_is("did it\n");
    let stderr = out.stderr();
    assert!(
        stderr.starts_with("agent-offload: check failed (exit 3) after "),
        "{stderr}"
    );
    assert!(
        stderr.contains(": echo tests broke; exit 3\n  log: ")
            && stderr.trim_end().ends_with("check.log"),
        "{stderr}"
    );
    let m = out.manifest();
    assert_eq!(m["check"]["passed"], false, "{m}");
    assert_eq!(m["check"]["exit_code"], 3, "{m}");
    let log = out.run_dir().join("check.log");
    assert_eq!(std::fs::read_to_string(log).unwrap(), "tests broke\n");

    // Waiting again, `show` and `--json` say the same.
    let t = &out.test;
    let id = m["id"].as_str().unwrap();
    let waited = t.exec(["wait", id]);
    assert_eq!(waited.status.code(), Some(7), "{waited:?}");
    let waited = t.exec(["wait", id, "--json"]);
    assert_eq!(waited.status.code(), Some(7), "{waited:?}");
    let v: serde_json::Value = serde_json::from_slice(&waited.stdout).unwrap();
    assert_eq!(v["agent_offload_exit"], 7, "{v}");
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(v["check"]["passed"], false, "{v}");
    assert_eq!(v["check"]["exit_code"], 3, "{v}");
    let shown = t.exec(["show", id]);
    let text = String::from_utf8_lossy(&shown.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("check "))
        .unwrap_or_else(|| panic!("no check line: {text}"));
    assert!(
        line.contains("failed (exit 3): echo tests broke; exit 3"),
        "{line}"
    );
    let shown = t.exec(["show", id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["agent_offload_exit"], 7, "{v}");
}

#[test]
fn a_passing_check_exits_0_and_json_carries_it() {
    let out = setup()
        .args(["--json", "--check", "echo fine", "do it"])
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["agent_offload_exit"], 0, "{v}");
    assert_eq!(v["check"]["command"], "echo fine", "{v}");
    assert_eq!(v["check"]["passed"], true, "{v}");
    assert_eq!(v["check"]["exit_code"], 0, "{v}");
    assert!(v["check"]["log"].as_str().unwrap().ends_with("check.log"));
    let shown = out.test.exec(["show"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("check ") && l.contains("passed: echo fine")),
        "{text}"
    );
}

#[test]
fn a_failed_check_in_json_exits_7() {
    let out = setup()
        .args(["--json", "--check", "exit 101", "do it"])
        .run();
    out.status(7);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["agent_offload_exit"], 7, "{v}");
    assert_eq!(v["check"]["passed"], false, "{v}");
    assert_eq!(v["check"]["exit_code"], 101, "{v}");
}

#[test]
fn a_signal_during_the_check_exits_128_plus_n_and_stops_it() {
    let marker = format!("sleep 7{}", &unique()[..4]);
    let t = setup();
    let started = t.path().join("check-started");
    let t = t.args([
        "--check",
        &format!("touch '{}'; exec {marker}", started.display()),
        "do it",
    ]);
    let child = t.spawn();
    eventually(Duration::from_secs(20), "the check to start", || {
        started.exists()
    });
    send_signal(child.id(), "TERM");
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert_no_survivor(&marker);
    let dirs = t.run_dirs();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("run.json")).unwrap()).unwrap();
    assert_eq!(m["check"]["passed"], false, "{m}");
    assert_eq!(
        m["check"]["stopped"], "stopped by signal 15 to agent-offload",
        "{m}"
    );
}

#[test]
fn what_a_check_starts_in_the_background_ends_with_it() {
    // One child in the check's process group, one in a session of its own (setsid):
    // both started (their files exist) before the check's shell exits 0.
    let n = &unique()[..4];
    let (grouped, daemon) = (format!("sleep 8{n}"), format!("sleep 9{n}"));
    let t = setup();
    let check = format!(
        "sh -c 'touch a; exec {grouped}' & setsid sh -c 'touch b; exec {daemon}' & \
         while [ ! -e a ] || [ ! -e b ]; do sleep 0.01; done"
    );
    let out = t.args(["--check", &check, "do it"]).run();
    out.status(0);
    assert_no_survivor(&grouped);
    assert_no_survivor(&daemon);
}

#[test]
fn a_check_past_its_time_limit_is_stopped_and_fails() {
    let marker = format!("sleep 6{}", &unique()[..4]);
    let out = setup()
        .args([
            "--timeout",
            "1s",
            "--check",
            &format!("{marker} & exec {marker}"),
            "do it",
        ])
        .run();
    out.status(7)
        .stderr_contains("check stopped after 1s (its time limit)");
    assert_no_survivor(&marker);
    let m = out.manifest();
    assert_eq!(m["check"]["passed"], false, "{m}");
    assert_eq!(m["agent_offload_exit"], 7, "{m}");
}
