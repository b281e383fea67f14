//! Runs you can come back to: detach and wait, the guard, runs/show/logs/cancel/prune,
//! the JSON envelope, and what the agent changed.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::harness::{
    Test, eventually, process, process_running, send_signal, still_alive, unique,
};

fn headless(t: Test, body: &str) -> Test {
    let t = t.agent("fake", body);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    t.config(&cfg)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{}", text(&o.stdout)))
}

/// The id in `still running: agent-offload wait ID`.
#[track_caller]
fn detached_id(stdout: &str) -> String {
    let id = stdout
        .strip_prefix("still running: agent-offload wait ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not a detach line: {stdout:?}"));
    assert!(!id.contains(char::is_whitespace), "{stdout:?}");
    id.to_owned()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

#[test]
fn detach_then_wait_returns_the_summary() {
    let go = "$AGENT_OFFLOAD_RUN_DIR/../../go";
    let t = headless(
        Test::new(),
        &format!(
            "echo started\nwhile [ ! -e \"{go}\" ]; do sleep 0.02; done\npublish 'late summary'"
        ),
    );
    let out = t.arg("--detach-after").arg("1s").arg("task").run();
    out.status(75).stderr_contains("still running");
    let id = detached_id(&out.stdout());
    let t = out.test;
    assert_eq!(manifest(&t.run_dirs()[0])["status"], "running");
    // The agent keeps working after we left.
    std::fs::write(t.path().join("state/agent-offload/go"), "").unwrap();
    let waited = t.exec(["wait", &id]);
    assert_eq!(code(&waited), 0, "{}", text(&waited.stderr));
    assert_eq!(text(&waited.stdout), "late summary\n");
    // Waiting on a finished run returns the same at once, with or without the id.
    let again = t.exec(["wait"]);
    assert_eq!(code(&again), 0);
    assert_eq!(text(&again.stdout), "late summary\n");
    let log = std::fs::read_to_string(t.run_dirs()[0].join("output.log")).unwrap();
    assert_eq!(log, "started\n", "output kept going to output.log");
}

#[test]
fn the_guard_finishes_a_detached_run_nobody_waits_for() {
    let marker = format!("55.{}", unique());
    let t = headless(
        Test::new(),
        &format!(
            "while [ ! -e \"$AGENT_OFFLOAD_RUN_DIR/../../go\" ]; do sleep 0.02; done\n\
             publish 'guarded'; exec sleep {marker}"
        ),
    );
    let out = t.args(["--detach-after", "500ms", "task"]).run();
    out.status(75);
    let dir = out.run_dir();
    // Only now, with nobody waiting, does the agent publish.
    std::fs::write(out.test.path().join("state/agent-offload/go"), "").unwrap();
    // The guard runs until the run has ended: its start time tells it from a process
    // given its pid later.
    let guard_pid = u32::try_from(manifest(&dir)["guard"]["pid"].as_u64().unwrap()).unwrap();
    let guard = process(guard_pid).expect("the guard runs");
    assert!(!guard.zombie(), "the guard runs: {guard:?}");
    eventually(
        Duration::from_secs(15),
        "the guard to record the outcome",
        || manifest(&dir)["status"] == "done",
    );
    // The agent hung after publishing: the guard stopped it after the grace period.
    eventually(Duration::from_secs(30), "the agent to be stopped", || {
        !process_running(&format!("sleep {marker}"))
    });
    eventually(Duration::from_secs(30), "the guard to exit", || {
        !still_alive(guard_pid, &guard.start)
    });
}

/// An upgrade (`cargo install`, Homebrew) replaces the binary while a run goes on: the
/// guard still starts, from the running image, and finishes the run.
#[test]
#[cfg(target_os = "linux")]
fn a_detached_run_survives_its_binary_being_removed() {
    let root = "$AGENT_OFFLOAD_RUN_DIR/../..";
    let t = headless(
        Test::new(),
        &format!(
            "touch \"{root}/started\"\nwhile [ ! -e \"{root}/go\" ]; do sleep 0.02; done\n\
             publish 'after the upgrade'"
        ),
    );
    let copy = t.path().join("agent-offload-copy");
    let copied = std::process::Command::new("cp")
        .arg(crate::harness::BIN)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    let t = t.args(["--detach-after", "2s", "task"]);
    let child = t
        .command_from(&copy)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let state = t.path().join("state/agent-offload");
    eventually(Duration::from_secs(20), "the agent to start", || {
        state.join("started").exists()
    });
    std::fs::remove_file(&copy).unwrap();
    let out = crate::harness::wait_bounded(child, Duration::from_secs(60));
    assert_eq!(code(&out), 75, "{}", text(&out.stderr));
    let id = detached_id(&text(&out.stdout));
    let dir = &t.run_dirs()[0];
    let guard_pid = u32::try_from(manifest(dir)["guard"]["pid"].as_u64().unwrap()).unwrap();
    assert!(crate::harness::pid_alive(guard_pid), "the guard runs");
    std::fs::write(state.join("go"), "").unwrap();
    eventually(
        Duration::from_secs(20),
        "the guard to record the outcome",
        || manifest(dir)["status"] == "done",
    );
    let waited = t.exec(["wait", &id]);
    assert_eq!(code(&waited), 0, "{}", text(&waited.stderr));
    assert_eq!(text(&waited.stdout), "after the upgrade\n");
}

#[test]
fn wait_on_a_failed_run_repeats_the_failure() {
    let t = headless(Test::new(), "echo 'it broke'; exit 4");
    let out = t.arg("task").run();
    out.status(1).stderr_contains("status 4");
    let again = out.test.exec(["wait", "last"]);
    assert_eq!(code(&again), 1);
    assert!(text(&again.stdout).contains("it broke"));
    assert!(
        text(&again.stderr).contains("status 4"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn json_result_is_one_object_with_the_documented_fields() {
    let t = headless(Test::new(), "echo working; publish 'the summary'");
    let out = t.args(["--json", "task"]).run();
    out.status(0);
    let v = json(&out.output);
    for field in [
        "id",
        "run_dir",
        "profile",
        "mode",
        "status",
        "exit_code",
        "agent_offload_exit",
        "started_at",
        "finished_at",
        "duration_seconds",
        "summary",
        "reason",
        "log",
        "cwd",
        "pane",
        "pid",
        "changes",
        "resume",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["status"], "done");
    assert_eq!(v["summary"], "the summary\n");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["agent_offload_exit"], 0);
    assert_eq!(v["mode"], "headless");
    assert!(
        v["started_at"]
            .as_str()
            .unwrap()
            .parse::<jiff_free::Rfc3339>()
            .is_ok()
    );
    assert_eq!(
        std::fs::read_to_string(v["log"].as_str().unwrap()).unwrap(),
        "working\n"
    );
    // Detached, the envelope says how to resume.
    // An agent that works until it is cancelled.
    let t = headless(
        Test::new(),
        "while [ ! -e \"$AGENT_OFFLOAD_RUN_DIR/never\" ]; do sleep 0.02; done; publish x",
    );
    let out = t.args(["--json", "--detach-after", "300ms", "task"]).run();
    out.status(75);
    let v = json(&out.output);
    assert_eq!(v["status"], "running");
    assert_eq!(v["agent_offload_exit"], 75);
    assert_eq!(
        v["resume"],
        format!("agent-offload wait {}", v["id"].as_str().unwrap())
    );
    let id = v["id"].as_str().unwrap().to_owned();
    let cancelled = out.test.exec(["cancel", &id]);
    assert_eq!(code(&cancelled), 0);
}

/// A tiny RFC 3339 shape check, so the test does not depend on a date crate.
mod jiff_free {
    pub struct Rfc3339;
    impl std::str::FromStr for Rfc3339 {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let b = s.as_bytes();
            let ok = b.len() >= 20
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'));
            if ok { Ok(Rfc3339) } else { Err(()) }
        }
    }
}

#[test]
fn cancel_stops_a_detached_run() {
    let marker = format!("56.{}", unique());
    let t = headless(
        Test::new(),
        &format!("(trap '' TERM HUP; exec sleep {marker}) &\nexec sleep {marker}"),
    );
    let out = t.args(["--detach-after", "300ms", "task"]).run();
    out.status(75);
    let id = detached_id(&out.stdout());
    let t = out.test;
    assert!(process_running(&format!("sleep {marker}")));
    let c = t.exec(["cancel", &id[..12]]);
    assert_eq!(code(&c), 0, "{}", text(&c.stderr));
    assert!(text(&c.stderr).contains("cancelled"), "{}", text(&c.stderr));
    assert!(
        !process_running(&format!("sleep {marker}")),
        "no agent process survives"
    );
    let dir = &t.run_dirs()[0];
    let m = manifest(dir);
    assert_eq!(m["status"], "cancelled");
    // Who ended it is said as such: not a signal to agent-offload (128+n), which a
    // host would take for its own tool's timeout.
    assert_eq!(m["ended_by"], "cancel");
    assert_eq!(
        m["reason"],
        "cancelled with agent-offload cancel; the agent was stopped"
    );
    let w = t.exec(["wait", &id]);
    assert_eq!(code(&w), 6);
    assert!(
        text(&w.stderr).contains("cancelled with agent-offload cancel"),
        "{}",
        text(&w.stderr)
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&t.exec(["show", &id, "--json"]).stdout).unwrap();
    assert_eq!(shown["ended_by"], "cancel");
    assert_eq!(shown["agent_offload_exit"], 6);
    // Cancelling again says so and changes nothing.
    let c = t.exec(["cancel", &id]);
    assert_eq!(code(&c), 0);
    assert!(
        text(&c.stderr).contains("already ended"),
        "{}",
        text(&c.stderr)
    );
}

#[test]
fn a_run_whose_launcher_and_guard_were_killed_is_lost() {
    let marker = format!("57.{}", unique());
    let t = headless(Test::new(), &format!("exec sleep {marker}"));
    let out = t.args(["--detach-after", "300ms", "task"]).run();
    out.status(75);
    let dir = out.run_dir();
    let m = manifest(&dir);
    let guard = m["guard"]["pid"].as_i64().unwrap().to_string();
    let launcher = u32::try_from(m["launcher"]["pid"].as_u64().unwrap()).unwrap();
    let launcher_start = process(launcher).expect("the launcher runs").start;
    std::process::Command::new("kill")
        .args(["-KILL", &guard])
        .status()
        .unwrap();
    send_signal(launcher, "KILL");
    eventually(Duration::from_secs(30), "the launcher to die", || {
        !still_alive(launcher, &launcher_start)
    });
    let runs = out.test.exec(["runs", "--json"]);
    assert_eq!(code(&runs), 0);
    let list = json(&runs);
    assert_eq!(list[0]["status"], "lost", "{list}");
    assert!(list[0]["reason"].as_str().unwrap().starts_with("lost"));
    // Nothing of the agent is left either.
    crate::harness::assert_no_survivor(&format!("sleep {marker}"));
    let w = out.test.exec(["wait", "last"]);
    assert_eq!(code(&w), 1);
    assert!(text(&w.stderr).contains("lost"), "{}", text(&w.stderr));
}

#[test]
fn wait_timeout_stops_the_agent() {
    let marker = format!("58.{}", unique());
    let t = headless(Test::new(), &format!("exec sleep {marker}"));
    let out = t.args(["--detach-after", "200ms", "task"]).run();
    out.status(75);
    let w = out.test.exec(["wait", "--timeout", "500ms"]);
    assert_eq!(code(&w), 124, "{}", text(&w.stderr));
    assert!(text(&w.stderr).contains("timed out"));
    assert_eq!(manifest(&out.run_dir())["status"], "timed_out");
    crate::harness::assert_no_survivor(&format!("sleep {marker}"));
}

#[test]
fn wait_can_detach_again() {
    let t = headless(
        Test::new(),
        "while [ ! -e \"$AGENT_OFFLOAD_RUN_DIR/../../go\" ]; do sleep 0.02; done\n\
         publish done-later",
    );
    let out = t.args(["--detach-after", "200ms", "task"]).run();
    out.status(75);
    let id = detached_id(&out.stdout());
    let w = out.test.exec(["wait", "--detach-after", "200ms", &id]);
    assert_eq!(code(&w), 75);
    assert_eq!(detached_id(&text(&w.stdout)), id);
    std::fs::write(out.test.path().join("state/agent-offload/go"), "").unwrap();
    let w = out.test.exec(["wait", &id]);
    assert_eq!(code(&w), 0);
    assert_eq!(text(&w.stdout), "done-later\n");
}

#[test]
fn runs_show_and_logs() {
    let t = headless(
        Test::new(),
        "echo line-one; echo line-two; publish '# Fixed the parser\n\nDetails.'",
    );
    let out = t.arg("first task").run();
    out.status(0);
    let t = out.test;
    let second = t.exec(["--", "second", "task"]);
    assert_eq!(code(&second), 0);
    let dirs = t.run_dirs();
    let (first_id, second_id) = (
        dirs[0].file_name().unwrap().to_string_lossy().into_owned(),
        dirs[1].file_name().unwrap().to_string_lossy().into_owned(),
    );

    let table = text(&t.exec(["runs"]).stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID"), "{table}");
    for h in [
        "PROFILE", "MODE", "STATUS", "AGE", "DURATION", "CWD", "SUMMARY",
    ] {
        assert!(lines[0].contains(h), "{h}: {table}");
    }
    assert!(lines[1].starts_with(&second_id), "newest first: {table}");
    assert!(lines[2].starts_with(&first_id));
    assert!(
        lines[1].contains("fake") && lines[1].contains("headless") && lines[1].contains("done")
    );
    assert!(lines[1].ends_with("Fixed the parser"), "{table}");

    let list = json(&t.exec(["runs", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], second_id.as_str());

    let show = t.exec(["show", &first_id[..first_id.len() - 1]]);
    assert_eq!(code(&show), 0, "{}", text(&show.stderr));
    let s = text(&show.stdout);
    for needle in [
        "status     done",
        "profile    fake",
        "mode       headless",
        "summary:\n# Fixed the parser",
    ] {
        assert!(s.contains(needle), "{needle:?} in\n{s}");
    }
    let sj = json(&t.exec(["show", "--json", "last"]));
    assert_eq!(sj["id"], second_id.as_str());
    assert!(
        sj["command"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "<prompt.md>")
    );

    let logs = t.exec(["logs", &first_id]);
    assert_eq!(text(&logs.stdout), "line-one\nline-two\n");
    let missing = t.exec(["show", "nope"]);
    assert_eq!(code(&missing), 2);
    assert!(text(&missing.stderr).contains("no run matches \"nope\""));
}

/// `show` and `logs` without RUN act on the newest run started from the current
/// directory, as `wait` does; `last` is the newest of all.
#[test]
fn show_and_logs_default_to_the_newest_run_from_here() {
    let t = headless(
        Test::new(),
        "echo \"log of ${PWD##*/}\"; publish \"summary of ${PWD##*/}\"",
    );
    let out = t.arg("here").run();
    out.status(0);
    let t = out.test;
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let other = t.exec(["--cwd", elsewhere.to_str().unwrap(), "there"]);
    assert_eq!(code(&other), 0, "{}", text(&other.stderr));
    let ids: Vec<String> = t
        .run_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();

    let show = t.exec(["show", "--json"]);
    assert_eq!(code(&show), 0, "{}", text(&show.stderr));
    let v = json(&show);
    assert_eq!(
        v["id"],
        ids[0].as_str(),
        "the newest run from here, not the newest"
    );
    assert_eq!(v["summary"], "summary of work\n");
    let show = t.exec(["show"]);
    assert!(text(&show.stdout).contains(&format!("id         {}", ids[0])));
    let logs = t.exec(["logs"]);
    assert_eq!(code(&logs), 0, "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "log of work\n");

    // From the other directory: its run.
    let logs = t.exec_in(&elsewhere, ["logs"]);
    assert_eq!(text(&logs.stdout), "log of elsewhere\n");
    assert_eq!(
        json(&t.exec_in(&elsewhere, ["show", "--json"]))["id"],
        ids[1].as_str()
    );

    // From a directory no run started from: a usage error that says what to do.
    let none = t.path().join("home");
    for command in ["show", "logs"] {
        let out = t.exec_in(&none, [command]);
        assert_eq!(code(&out), 2, "{command}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "agent-offload: no run was started from {}; name one (agent-offload runs \
                 lists them)\n",
                none.canonicalize().unwrap().display()
            ),
            "{command}"
        );
        assert_eq!(text(&out.stdout), "", "{command}");
    }
}

#[test]
fn an_ambiguous_prefix_is_refused() {
    let t = headless(Test::new(), "publish ok");
    let out = t.arg("a").run();
    out.status(0);
    let t = out.test;
    assert_eq!(code(&t.exec(["b"])), 0);
    // Both ids start with the year.
    let r = t.exec(["show", "20"]);
    assert_eq!(code(&r), 2);
    assert!(
        text(&r.stderr).contains("matches 2 runs"),
        "{}",
        text(&r.stderr)
    );
}

#[test]
fn logs_follow_until_the_run_ends() {
    let t = headless(
        Test::new(),
        "echo one; sleep 0.5; echo two; sleep 0.5; echo three; publish ok",
    );
    let out = t.args(["--detach-after", "100ms", "task"]).run();
    out.status(75);
    let f = out.test.exec(["logs", "-f", "last"]);
    assert_eq!(code(&f), 0);
    assert_eq!(text(&f.stdout), "one\ntwo\nthree\n");
}

#[test]
fn prune_removes_old_finished_runs_only() {
    let t = headless(Test::new(), "publish ok");
    let out = t.arg("old").run();
    out.status(0);
    let t = out.test;
    let old = t.run_dirs()[0].clone();
    // Make the first run look ten days old.
    let mut m = manifest(&old);
    m["finished_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(old.join("run.json"), serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(code(&t.exec(["new"])), 0);
    let dry = t.exec(["prune", "--dry-run"]);
    assert!(text(&dry.stdout).contains("would remove"));
    // The default, 7 days, written as people write it (once: "168h00m").
    assert_eq!(
        text(&dry.stderr),
        "agent-offload: would remove 1 finished run older than 7d\n"
    );
    assert_eq!(t.run_dirs().len(), 2);
    let p = t.exec(["prune", "--older-than", "36h"]);
    assert_eq!(code(&p), 0, "{}", text(&p.stderr));
    assert_eq!(
        text(&p.stderr),
        "agent-offload: removed 1 finished run older than 1d12h\n"
    );
    let left = t.run_dirs();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], old);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn changes_list_files_and_commits_and_leave_the_index_alone() {
    let t = Test::new();
    let work = t.work();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("keep.txt"), "1\n2\n3\n").unwrap();
    std::fs::write(work.join("old name.txt"), "rename me\n").unwrap();
    std::fs::write(work.join("gone.txt"), "bye\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "init"]);
    // The user's own staged change and an untracked file, before the run.
    std::fs::write(work.join("staged.txt"), "mine\n").unwrap();
    git(&work, &["add", "staged.txt"]);
    let index_before = git(&work, &["diff", "--cached", "--stat"]);
    let t = headless(
        t,
        "echo 4 >> keep.txt\n\
         mv 'old name.txt' 'new name.txt'\n\
         rm gone.txt\n\
         echo fresh > added.txt\n\
         GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@x GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@x \
         git commit -q -m 'agent: tweak keep' -- keep.txt >/dev/null\n\
         publish changed",
    );
    let out = t.args(["--json", "task"]).run();
    out.status(0);
    let v = json(&out.output);
    let c = &v["changes"];
    let files = c["files"].as_array().unwrap();
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p} missing from {c}"))
    };
    assert_eq!(find("keep.txt")["status"], "modified");
    assert_eq!(find("keep.txt")["insertions"], 1);
    assert_eq!(find("added.txt")["status"], "added");
    assert_eq!(find("gone.txt")["status"], "deleted");
    assert_eq!(find("new name.txt")["status"], "renamed");
    assert_eq!(find("new name.txt")["old_path"], "old name.txt");
    assert!(
        files.iter().all(|f| f["path"] != "staged.txt"),
        "unchanged by the run"
    );
    let commits = c["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["summary"], "agent: tweak keep");
    // The user's staged change is exactly as it was; no stash was used.
    assert_eq!(git(&work, &["diff", "--cached", "--stat"]), index_before);
    assert_eq!(git(&work, &["stash", "list"]), "");
    // Without --json the list follows the summary on stderr.
    let t = out.test;
    let again = t.exec(["wait", "last"]);
    let err = text(&again.stderr);
    assert!(err.contains("changes: 4 files"), "{err}");
    assert!(err.contains("R old name.txt -> new name.txt"), "{err}");
    assert!(err.contains("agent: tweak keep"), "{err}");
}

#[test]
fn outside_git_there_is_no_change_list() {
    let t = headless(Test::new(), "publish ok");
    let out = t.args(["--json", "task"]).run();
    out.status(0);
    assert!(json(&out.output)["changes"].is_null());
    assert!(!out.stderr().contains("changes:"));
}

#[test]
fn a_launcher_from_another_boot_is_never_signalled() {
    // A run recorded before a reboot: its pid (and session id) may now belong to
    // someone else. Simulated by rewriting the recorded boot id of a live run.
    let marker = format!("59.{}", unique());
    let t = headless(Test::new(), &format!("exec sleep {marker}"));
    let out = t.args(["--detach-after", "300ms", "task"]).run();
    out.status(75);
    let dir = out.run_dir();
    let mut m = manifest(&dir);
    let guard = m["guard"]["pid"].as_i64().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-KILL", &guard])
        .status()
        .unwrap();
    m["launcher"]["boot_id"] = "another-boot".into();
    std::fs::write(dir.join("run.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let runs = json(&out.test.exec(["runs", "--json"]));
    assert_eq!(runs[0]["status"], "lost");
    assert!(
        process_running(&format!("sleep {marker}")),
        "a process that may not be ours was signalled"
    );
    let launcher = u32::try_from(m["launcher"]["pid"].as_u64().unwrap()).unwrap();
    send_signal(launcher, "KILL");
    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &format!("sleep {marker}")])
        .status();
}

#[test]
fn changes_on_an_unborn_branch() {
    let t = Test::new();
    git(&t.work(), &["init", "-q"]);
    let t = headless(
        t,
        "echo new > first.txt\n\
         GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@x GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@x \
         sh -c 'git add first.txt && git commit -q -m first' >/dev/null\n\
         publish ok",
    );
    let out = t.args(["--json", "task"]).run();
    out.status(0);
    let c = &json(&out.output)["changes"];
    assert_eq!(c["files"][0]["path"], "first.txt", "{c}");
    assert_eq!(c["files"][0]["status"], "added");
    assert_eq!(c["commits"][0]["summary"], "first", "{c}");
}

#[test]
fn a_run_that_changed_nothing_says_so() {
    let t = Test::new();
    git(&t.work(), &["init", "-q"]);
    std::fs::write(t.work().join("a.txt"), "a\n").unwrap();
    git(&t.work(), &["add", "a.txt"]);
    git(&t.work(), &["commit", "-qm", "a"]);
    let out = headless(t, "publish 'nothing to do'").arg("task").run();
    out.status(0)
        .stderr_contains("changes: none (no file changed, no commit made)");
}

/// Host tools kill commands with SIGKILL: the run's guard, started with every run that
/// has a deadline, still stops the agent at the deadline and records it.
#[test]
fn a_sigkilled_run_still_ends_at_its_deadline() {
    let marker = format!("94.{}", unique());
    let root = "$AGENT_OFFLOAD_RUN_DIR/../..";
    let t = headless(
        Test::new(),
        &format!("touch \"{root}/started\"; exec sleep {marker}"),
    );
    let t = t.args(["--timeout", "2s", "task"]);
    let child = t.spawn();
    let state = t.path().join("state/agent-offload");
    eventually(Duration::from_secs(20), "the agent to start", || {
        state.join("started").exists()
    });
    let dir = t.run_dirs().pop().unwrap();
    eventually(Duration::from_secs(20), "the guard to be recorded", || {
        manifest(&dir)["guard"]["pid"].is_u64()
    });
    send_signal(child.id(), "KILL");
    let _ = crate::harness::wait_bounded(child, Duration::from_secs(10));
    eventually(
        Duration::from_secs(30),
        "the guard to record the timeout",
        || manifest(&dir)["status"] == "timed_out",
    );
    crate::harness::assert_no_survivor(&format!("sleep {marker}"));
}
