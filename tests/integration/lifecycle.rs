//! How runs end: failures, summaries published early, timeouts and signals, and that
//! no process of the agent survives any of them.

use std::time::Duration;

use crate::harness::{Test, eventually, process_running, send_signal, unique, wait_bounded};

fn profile(t: &Test, agent: &str) -> String {
    format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path(agent)
    )
}

/// A headless test with the agent `body`.
fn with_agent(body: &str) -> Test {
    let t = Test::new().agent("fake", body);
    let cfg = profile(&t, "fake");
    t.config(&cfg)
}

#[test]
fn agent_failing_without_summary() {
    let out = with_agent("echo 'compiling'; echo 'error: it broke' >&2; exit 3")
        .arg("do it")
        .run();
    out.status(1);
    let m = out.manifest();
    assert_eq!(m["status"], "failed");
    assert_eq!(m["exit_code"], 3);
    assert_eq!(m["agent_offload_exit"], 1);
    assert_eq!(
        m["reason"],
        "the agent exited with status 3 without writing a summary"
    );
    // stdout: the output's tail, as the summary stand-in.
    out.stdout_is("compiling\nerror: it broke\n");
    let dir = out.run_dir();
    out.stderr_contains(" failed after ")
        .stderr_contains("the agent exited with status 3 without writing a summary")
        .stderr_contains(&format!("  log: {}", dir.join("output.log").display()))
        .stderr_contains(&format!("  directory: {}", dir.display()))
        .stderr_contains("  last lines of the log:\n    compiling\n    error: it broke");
    assert!(!dir.join("done.md").exists());
    assert_eq!(std::fs::read_to_string(dir.join("exit")).unwrap(), "3\n");
}

#[test]
fn log_tail_is_the_last_lines() {
    let out = with_agent("i=1; while [ $i -le 50 ]; do echo line-$i; i=$((i+1)); done; exit 7")
        .arg("do it")
        .run();
    out.status(1);
    let expected: Vec<String> = (31..=50).map(|i| format!("line-{i}\n")).collect();
    out.stdout_is(&expected.concat());
    let tail: Vec<String> = (41..=50).map(|i| format!("\n    line-{i}")).collect();
    out.stderr_contains(&format!("  last lines of the log:{}", tail.concat()));
    assert!(!out.stderr().contains("    line-40\n"));
    assert_eq!(out.manifest()["exit_code"], 7);
}

#[test]
fn exit_zero_without_summary_is_a_failure() {
    let out = with_agent("echo 'I did it, honest'").arg("do it").run();
    out.status(1);
    let m = out.manifest();
    assert_eq!(m["status"], "failed");
    assert_eq!(m["exit_code"], 0);
    out.stderr_contains("the agent exited with status 0 without writing a summary");
    out.stdout_is("I did it, honest\n");
}

#[test]
fn command_not_found() {
    // Checked before anything starts, with doctor's words: exit 2, no run directory.
    let t = Test::new();
    let missing = t.path().join("no-such-agent");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        missing.display()
    );
    let out = t.config(&cfg).arg("do it").run();
    out.status(2).stderr_contains(&format!(
        "profile fake: command {} does not exist or is not executable: fix `command` in",
        missing.display()
    ));
    out.stderr_contains("nothing was started");
    assert!(out.test.run_dirs().is_empty());

    // A bare name looked up on PATH (the agent's: a literal PATH in the profile wins).
    let name = format!("no-such-agent-{}", unique());
    let t = Test::new();
    let cfg = format!("profiles:\n  fake:\n    command: {name}\n    headless: true\n");
    let out = t.config(&cfg).arg("do it").run();
    out.status(2)
        .stderr_contains(&format!("profile fake: command {name} is not on PATH"));
    assert!(out.test.run_dirs().is_empty());

    // A command that the agent itself cannot find (status 127) still fails the run
    // with a reason that says so.
    let t = Test::new().agent("fake", &format!("exec {name}"));
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).arg("do it").run();
    out.status(1).stderr_contains(
        "the agent's command was not found (exit status 127) and no summary was written",
    );
    assert_eq!(out.manifest()["exit_code"], 127);
}

#[test]
fn publish_and_exit_at_once() {
    let out = with_agent("publish 'quick'; exit 0").arg("do it").run();
    out.status(0).stdout_is("quick\n");
    assert_eq!(out.manifest()["status"], "done");
    // Publishing counts even when the agent then exits non-zero.
    let out = with_agent("publish 'done but grumpy'; exit 5")
        .arg("do it")
        .run();
    out.status(0).stdout_is("done but grumpy\n");
    let m = out.manifest();
    assert_eq!(m["status"], "done");
    assert_eq!(m["agent_offload_exit"], 0);
}

/// Some CLIs keep running after they answer: the run is done, and the leftover process
/// is stopped after the grace period.
#[test]
fn publish_and_keep_running() {
    let marker = format!("1000.{}", unique());
    let out = with_agent(&format!(
        "publish 'summary first'\nsleep {marker} &\nsleep {marker}\n"
    ))
    .arg("do it")
    .run();
    out.status(0).stdout_is("summary first\n");
    assert_eq!(out.manifest()["status"], "done");
    assert_all_gone(&out.test, &marker);
}

/// A multi-line summary is printed exactly, with one final newline added if missing.
#[test]
fn summary_is_printed_exactly() {
    let out = with_agent(
        "printf '# Summary\\n\\n- changed a.rs\\n- tests pass' >\"$AGENT_OFFLOAD_RUN_DIR/done.md.tmp\"\n\
         mv \"$AGENT_OFFLOAD_RUN_DIR/done.md.tmp\" \"$AGENT_OFFLOAD_RUN_DIR/done.md\"",
    )
    .arg("do it")
    .run();
    out.status(0)
        .stdout_is("# Summary\n\n- changed a.rs\n- tests pass\n");
}

/// An agent that starts a child ignoring TERM and HUP, writes `started`, and sleeps.
/// Every process of it has `marker` in its command line.
fn stubborn(t: Test, marker: &str) -> Test {
    let started = t.path().join("started");
    let body = format!(
        "sh -c \"trap '' TERM HUP; sleep {marker}; sleep {marker}\" &\n\
         trap '' HUP\n\
         touch '{}'\n\
         sleep {marker}\n",
        started.display()
    );
    let t = t.agent("fake", &body);
    let cfg = profile(&t, "fake");
    t.config(&cfg)
}

#[track_caller]
fn assert_all_gone(t: &Test, marker: &str) {
    assert!(
        !process_running(&format!("sleep {marker}")),
        "a child of the agent survived"
    );
    // The run-directory watch helper leaves on its own just after agent-offload exits
    // (closing its inotify instance takes the kernel a few milliseconds).
    let helper = format!("__watch {}", t.path().display());
    eventually(Duration::from_secs(30), "the watch helper to exit", || {
        !process_running(&helper)
    });
    // The run's guard (`__guard DIR`) leaves just after agent-offload, like the helper.
    crate::harness::assert_no_survivor(&t.path().display().to_string());
}

#[test]
fn timeout_stops_everything() {
    let marker = format!("900.{}", unique());
    let out = stubborn(Test::new(), &marker)
        .args(["--timeout", "1s", "do it"])
        .run();
    out.status(124);
    assert!(out.test.path().join("started").exists());
    let m = out.manifest();
    assert_eq!(m["status"], "timed_out");
    assert_eq!(m["agent_offload_exit"], 124);
    // The waiter records "--timeout 1s passed"; the run's guard, should it get there
    // first, "its deadline (...) passed": the same outcome in other words.
    let reason = m["reason"].as_str().unwrap_or_default();
    assert!(
        (reason.starts_with("--timeout 1s passed") || reason.starts_with("its deadline ("))
            && reason.ends_with(" passed; the agent was stopped"),
        "{reason}"
    );
    // Said once: "timed out after 1s: --timeout 1s passed", not the same twice.
    out.stderr_contains("timed out after");
    assert!(
        !out.stderr().contains("timed out after 1s: timed out"),
        "{}",
        out.stderr()
    );
    assert_all_gone(&out.test, &marker);
}

#[test]
fn profile_timeout_applies() {
    let marker = format!("901.{}", unique());
    let t = stubborn(Test::new(), &marker);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    timeout: 500ms\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).arg("do it").run();
    out.status(124);
    assert_eq!(out.manifest()["status"], "timed_out");
    assert_all_gone(&out.test, &marker);
}

fn cancel_with(signal: &str, number: i32) {
    let marker = format!("902.{}", unique());
    let t = stubborn(Test::new(), &marker).arg("do it");
    let child = t.spawn();
    let started = t.path().join("started");
    eventually(Duration::from_secs(10), "the agent to start", || {
        started.exists()
    });
    assert!(process_running(&format!("sleep {marker}")));
    send_signal(child.id(), signal);
    let output = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(
        output.status.code(),
        Some(128 + number),
        "SIG{signal}: {output:?}"
    );
    let dirs = t.run_dirs();
    assert_eq!(dirs.len(), 1);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("run.json")).unwrap()).unwrap();
    assert_eq!(m["status"], "cancelled", "SIG{signal}");
    assert_eq!(m["ended_by"], "signal", "SIG{signal}");
    assert_eq!(
        m["reason"],
        format!("agent-offload received signal {number} (SIG{signal}); the agent was stopped")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cancelled after"), "{stderr}");
    assert_all_gone(&t, &marker);
}

#[test]
fn sigterm_cancels() {
    cancel_with("TERM", 15);
}

#[test]
fn sigint_cancels() {
    cancel_with("INT", 2);
}

#[test]
fn sighup_cancels() {
    cancel_with("HUP", 1);
}

/// A daemonising grandchild (its own session, parent gone) is still found and stopped.
#[test]
fn setsid_grandchildren_are_stopped_too() {
    let marker = format!("903.{}", unique());
    let t = Test::new();
    let started = t.path().join("started");
    let body = format!(
        "setsid sh -c \"trap '' TERM HUP; sleep {marker}\" &\n\
         touch '{}'\n\
         sleep {marker}\n",
        started.display()
    );
    let t = t.agent("fake", &body);
    let cfg = profile(&t, "fake");
    let out = t.config(&cfg).args(["--timeout", "1s", "do it"]).run();
    out.status(124);
    assert_all_gone(&out.test, &marker);
}
