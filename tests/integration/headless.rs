//! Headless mode end to end.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Test, recorder, wait_bounded};

fn headless_profile(t: &Test, agent: &str) -> String {
    format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path(agent)
    )
}

#[test]
fn publishes_summary_and_exits_zero() {
    let t = Test::new().agent("fake", "echo working; publish 'all done'");
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("do the thing").run();
    out.status(0).stdout_is("all done\n");
    let m = out.manifest();
    assert_eq!(m["status"], "done");
    assert_eq!(m["exit_code"], 0);
    assert_eq!(m["mode"], "headless");
    let log = std::fs::read_to_string(out.run_dir().join("output.log")).unwrap();
    assert_eq!(log, "working\n");
}

/// 20 runs at once against one state directory: every one gets its own directory and
/// prints its own summary.
#[test]
fn twenty_concurrent_runs() {
    let t = Test::new().agent(
        "fake",
        // The first line of the prompt is the run's name: publish it back.
        "name=$(printf '%s\\n' \"$last\" | head -n 1)\nsleep 0.2\npublish \"summary of $name\"",
    );
    let cfg = headless_profile(&t, "fake");
    let t = t.config(&cfg);
    let children: Vec<_> = (0..20)
        .map(|i| {
            let mut cmd = t.command();
            cmd.arg(format!("task-{i:02}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            (i, cmd.spawn().unwrap())
        })
        .collect();
    let mut dirs = HashSet::new();
    for (i, child) in children {
        let out = wait_bounded(child, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "run {i}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("summary of task-{i:02}\n"),
            "run {i}"
        );
        // The run directory it reported is the one holding its own prompt.
        let dir = stderr
            .lines()
            .find_map(|l| l.split("; directory ").nth(1))
            .unwrap_or_else(|| panic!("no directory in {stderr}"))
            .to_owned();
        let prompt = std::fs::read_to_string(Path::new(&dir).join("prompt.md")).unwrap();
        assert!(prompt.starts_with(&format!("task-{i:02}\n")), "{dir}");
        assert!(dirs.insert(dir), "run {i} reused a directory");
    }
    assert_eq!(dirs.len(), 20);
    assert_eq!(t.run_dirs().len(), 20);
}

/// `--cwd` decides where the agent runs, and it is recorded.
#[test]
fn cwd_option_sets_the_agents_directory() {
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("rec", &body);
    let cfg = headless_profile(&t, "rec");
    std::fs::create_dir_all(t.path().join("elsewhere/sub dir")).unwrap();
    let target = t.path().join("elsewhere/sub dir").canonicalize().unwrap();
    let out = t
        .config(&cfg)
        .args(["--cwd", "../elsewhere/sub dir", "go"])
        .run();
    out.status(0);
    assert_eq!(
        std::fs::read_to_string(out.test.path().join("pwd")).unwrap(),
        format!("{}\n", target.display())
    );
    assert_eq!(out.manifest()["cwd"], target.display().to_string());

    // Without --cwd: the current directory.
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("rec", &body);
    let cfg = headless_profile(&t, "rec");
    let out = t.config(&cfg).arg("go").run();
    out.status(0);
    let work = out.test.work().canonicalize().unwrap();
    assert_eq!(
        std::fs::read_to_string(out.test.path().join("pwd")).unwrap(),
        format!("{}\n", work.display())
    );
}

/// The agent's output goes to output.log only, unless --stream copies it to stderr;
/// stdout carries the summary only either way.
#[test]
fn output_is_streamed_only_when_asked() {
    let t = Test::new().agent("fake", "echo 'transcript line'; publish 'the summary'");
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("go").run();
    out.status(0).stdout_is("the summary\n");
    assert!(
        !out.stderr().contains("transcript line"),
        "{}",
        out.stderr()
    );

    let t = Test::new().agent("fake", "echo 'transcript line'; publish 'the summary'");
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).args(["--stream", "go"]).run();
    out.status(0)
        .stdout_is("the summary\n")
        .stderr_contains("transcript line\n");
}

/// The agent's stdin is /dev/null for argument delivery: an agent that reads stdin to
/// EOF (as codex does) does not hang.
#[test]
fn stdin_is_closed_for_argument_delivery() {
    let t = Test::new().agent("fake", "n=$(cat | wc -c); publish \"read $n bytes\"");
    let cfg = headless_profile(&t, "fake");
    let out = t
        .config(&cfg)
        .stdin("caller's stdin is not the agent's")
        .arg("go")
        .run();
    out.status(0).stdout_is("read 0 bytes\n");
}

/// The explicit `run` subcommand and `-p` select the profile.
#[test]
fn run_subcommand_and_profile_flag() {
    let t = Test::new()
        .agent("one", "publish one")
        .agent("two", "publish two");
    let cfg = format!(
        "default_profile: one\nheadless: true\nprofiles:\n  one:\n    command: {}\n  two:\n    \
         command: {}\n",
        t.agent_path("one"),
        t.agent_path("two")
    );
    let t = t.config(&cfg);
    let out = t.command().arg("go").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\n");
    let out = t
        .command()
        .args(["run", "-p", "two", "go"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "two\n");
    let out = t
        .command()
        .args(["--profile", "two", "go"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "two\n");
    assert_eq!(t.run_dirs().len(), 3);
    let profiles: Vec<String> = t
        .run_dirs()
        .iter()
        .map(|d| {
            let m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap())
                    .unwrap();
            m["profile"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut sorted = profiles.clone();
    sorted.sort();
    assert_eq!(sorted, ["one", "two", "two"]);
}

/// opencode refuses to write outside its working directory without the
/// `external_directory` permission: agent-offload allows exactly the run directory,
/// unless the profile sets `OPENCODE_PERMISSION` itself.
#[test]
fn opencode_may_write_its_summary_in_the_run_directory() {
    let body =
        "printf '%s' \"$OPENCODE_PERMISSION\" >\"$AGENT_OFFLOAD_RUN_DIR/../../perm\"; publish ok";
    let t = Test::new().agent("opencode", body);
    let cfg = format!(
        "profiles:\n  oc:\n    command: {}\n    interface: opencode\n    headless: true\n",
        t.agent_path("opencode")
    );
    let out = t.config(&cfg).arg("x").run();
    out.status(0);
    let perm = std::fs::read_to_string(out.test.path().join("state/agent-offload/perm")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&perm).unwrap();
    let pattern = format!("{}/**", out.run_dir().display());
    assert_eq!(
        v,
        serde_json::json!({ "external_directory": { pattern: "allow" } })
    );

    let t = Test::new().agent("opencode", body);
    let cfg = format!(
        "profiles:\n  oc:\n    command: {}\n    interface: opencode\n    headless: true\n    \
         env:\n      OPENCODE_PERMISSION: '{{\"bash\": \"allow\"}}'\n",
        t.agent_path("opencode")
    );
    let out = t.config(&cfg).arg("x").run();
    out.status(0);
    assert_eq!(
        std::fs::read_to_string(out.test.path().join("state/agent-offload/perm")).unwrap(),
        "{\"bash\": \"allow\"}",
        "the profile's own setting wins"
    );
}

/// An agent that leaves a background child (a dev server, a watcher) and exits right
/// after publishing: the child ends with the run, as it does on every other ending.
#[test]
fn a_background_child_left_after_publishing_is_stopped() {
    let marker = format!("91.{}", crate::harness::unique());
    let t = Test::new().agent(
        "fake",
        &format!("sleep {marker} >/dev/null 2>&1 &\npublish 'served'"),
    );
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("start the dev server").run();
    out.status(0).stdout_is("served\n");
    assert!(
        !crate::harness::process_running(&format!("sleep {marker}")),
        "the background child outlived the run"
    );
}

/// A helper the agent daemonised (double fork and `setsid`: out of the agent's session
/// and process group, its parent gone) is still ended with the run: agent-offload is
/// the child subreaper its orphans are re-parented to (Linux).
#[test]
#[cfg(target_os = "linux")]
fn a_daemonised_helper_ends_with_the_run() {
    let marker = format!("93.{}", crate::harness::unique());
    let t = Test::new().agent(
        "fake",
        &format!(
            "(setsid sh -c 'exec sleep {marker}' </dev/null >/dev/null 2>&1 &)\n\
             while ! ps -A -o args= | grep -q '^sleep {marker}'; do sleep 0.01; done\n\
             publish 'daemon started'"
        ),
    );
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("start a daemon").run();
    out.status(0).stdout_is("daemon started\n");
    assert!(
        !crate::harness::process_running(&format!("sleep {marker}")),
        "the daemon outlived the run"
    );
}

/// Orphans adopted during a long run are collected as they exit, not piled up as
/// zombies until the run ends.
#[test]
#[cfg(target_os = "linux")]
fn adopted_orphans_are_collected_while_the_run_goes_on() {
    let root = "$AGENT_OFFLOAD_RUN_DIR/../..";
    let marker = format!("orphan-{}", crate::harness::unique());
    let t = Test::new().agent(
        "fake",
        &format!(
            "for i in 1 2 3; do (sh -c 'while [ ! -e \"$1/die\" ]; do sleep 0.02; done' {marker} \"{root}\" &); done\n\
             while [ ! -e \"{root}/go\" ]; do sleep 0.02; done\n\
             publish 'collected'"
        ),
    );
    let cfg = headless_profile(&t, "fake");
    let t = t.config(&cfg).arg("orphan some children");
    let child = t.spawn();
    let me = child.id();
    let state = t.path().join("state/agent-offload");
    let orphans = || -> Vec<crate::harness::Process> {
        crate::harness::processes()
            .into_iter()
            .filter(|p| p.ppid == me && (p.args.contains(&marker) || p.zombie()))
            .collect()
    };
    // Their parent subshells are gone: they are agent-offload's children now.
    crate::harness::eventually(Duration::from_secs(20), "three adopted orphans", || {
        orphans().iter().filter(|p| !p.zombie()).count() == 3
    });
    std::fs::write(state.join("die"), "").unwrap();
    // Only their parent can collect them: gone (not zombies) means agent-offload did.
    crate::harness::eventually(
        Duration::from_secs(20),
        "agent-offload to collect them",
        || orphans().is_empty(),
    );
    std::fs::write(state.join("go"), "").unwrap();
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "collected\n");
}

/// The summary is the product: when the outcome cannot be recorded (a full disk; here
/// the agent blocks the temporary file run.json is written through), the summary and
/// the exit code still come out, and stderr says what was not recorded.
#[test]
fn the_summary_is_printed_when_the_outcome_cannot_be_recorded() {
    let t = Test::new().agent(
        "fake",
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         while ! grep -q '\"launcher\": {' \"$d/run.json\"; do sleep 0.01; done\n\
         ao=$(ps -o ppid= -p \"$PPID\" | tr -d ' ')\n\
         mkdir \"$d/.run.json.tmp-$ao\"\n\
         publish 'the product'",
    );
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("x").run();
    out.status(0)
        .stdout_is("the product\n")
        .stderr_contains("could not record run");
}

/// run.json lives in the agent's directory too: a FIFO put there blocks nothing.
#[test]
fn a_fifo_at_run_json_blocks_nothing() {
    let t = Test::new().agent(
        "fake",
        "d=$AGENT_OFFLOAD_RUN_DIR\n\
         while ! grep -q '\"launcher\": {' \"$d/run.json\"; do sleep 0.01; done\n\
         rm \"$d/run.json\" && mkfifo \"$d/run.json\"\n\
         publish 'sabotage'",
    );
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("x").run();
    out.stderr_contains("FIFO");
    let listed = out.test.exec(["runs"]);
    assert_eq!(listed.status.code(), Some(0));
    let shown = out.test.exec(["show", "last"]);
    assert_ne!(shown.status.code(), Some(0));
}

/// A FIFO the agent leaves at `exit` would block the launcher's write of the exit status
/// forever: it is replaced, and the failure is reported with the agent's status.
#[test]
fn a_fifo_at_exit_blocks_nothing() {
    let t = Test::new().agent("fake", "mkfifo \"$AGENT_OFFLOAD_RUN_DIR/exit\"; exit 3");
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("x").run();
    out.status(1).stderr_contains("status 3");
    assert_eq!(out.manifest()["exit_code"], 3);
}

/// The README's quick start: the demo config outside tmux runs the demo agent headless
/// and says why (`headless: auto`).
#[test]
fn the_demo_runs_headless_outside_tmux_and_says_so() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    let out = Test::new()
        .env("DEMO_AGENT_STEP_SECONDS", "0")
        .args(["--config", demo, "add a --verbose flag"])
        .run();
    out.status(0)
        .stdout_contains("Demo summary")
        .stdout_contains("  > add a --verbose flag\n")
        .stderr_contains("agent-offload: not inside tmux: running headless (headless: auto)\n");
    assert_eq!(out.manifest()["mode"], "headless");
    let log = std::fs::read_to_string(out.run_dir().join("output.log")).unwrap();
    assert!(log.contains("[4/4] running the checks..."), "{log}");
}
