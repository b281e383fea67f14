//! Bad input is rejected before anything starts (issue 16): durations past the
//! maximum.

use crate::harness::{Outcome, Test};

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
