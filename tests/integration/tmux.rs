//! tmux mode end to end, on a private tmux server per test.

use std::time::Duration;

use crate::harness::{Test, eventually, process_running};
use crate::tmux_server::TmuxServer;

/// A test with a tmux server, a fake agent `agent` made of `body`, and a profile for it.
fn setup(body: &str, profile_extra: &str) -> (Test, TmuxServer) {
    let t = Test::new().agent("agent", body);
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n{profile_extra}",
        t.agent_path("agent")
    );
    let t = t.config(&cfg).in_tmux(&server);
    (t, server)
}

/// The pane recorded in the single run's run.json, once the run has one.
fn wait_for_pane(t: &Test) -> String {
    let mut pane = String::new();
    eventually(Duration::from_secs(10), "the run's pane", || {
        let Some(dir) = t.run_dirs().pop() else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(dir.join("run.json")) else {
            return false;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match v["pane"].as_str() {
            Some(p) => {
                p.clone_into(&mut pane);
                true
            }
            None => false,
        }
    });
    pane
}

/// Spawns agent-offload and returns once its agent has touched `started` (fake agents
/// in this file start with `touch "$AGENT_OFFLOAD_RUN_DIR/../../started"`).
fn spawn_started(t: &Test) -> std::process::Child {
    let child = t.spawn();
    wait_for_file(&t.path().join("state/agent-offload/started"));
    child
}

fn wait_for_file(path: &std::path::Path) {
    eventually(Duration::from_secs(10), &path.display().to_string(), || {
        path.exists()
    });
}

#[test]
fn done_while_the_agent_stays_open_closes_the_pane() {
    // Like a TUI: publishes, then sits at its prompt forever.
    let (t, server) = setup("publish 'tui summary'; exec sleep 7771", "");
    let out = t.arg("do it").run();
    out.status(0).stdout_is("tui summary\n");
    assert_eq!(
        server.panes(),
        vec![server.caller.clone()],
        "the run's pane is closed"
    );
    assert!(
        !process_running("sleep 7771"),
        "no process of the agent survives"
    );
    let watch_helper = format!("__watch {}", out.run_dir().display());
    eventually(Duration::from_secs(30), "the watch helper to exit", || {
        !process_running(&watch_helper)
    });
    let m = out.manifest();
    assert_eq!(m["mode"], "tmux");
    assert_eq!(m["status"], "done");
    assert!(m["pane"].as_str().unwrap().starts_with('%'));
}

#[test]
fn done_and_exit_in_the_same_instant_is_success() {
    let (t, server) = setup("publish 'quick'; exit 0", "");
    // Keep the outcome (and with it the temp dir holding the socket) alive.
    let out = t.arg("x").run();
    out.status(0).stdout_is("quick\n");
    assert_eq!(server.panes().len(), 1);
}

#[test]
fn exit_without_summary_fails_with_the_status_and_log() {
    let (t, server) = setup("echo 'something broke'; exit 7", "");
    let out = t.arg("x").run();
    out.status(1)
        .stderr_contains("status 7")
        .stderr_contains("output.log")
        .stdout_contains("something broke");
    assert_eq!(out.manifest()["status"], "failed");
    assert_eq!(out.manifest()["exit_code"], 7);
    assert_eq!(server.panes().len(), 1);
}

#[test]
fn pane_killed_by_a_person_ends_the_run() {
    let (t, server) = setup(
        "touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; exec sleep 7772",
        "",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    let pane = wait_for_pane(&t);
    server.tmux(&["kill-pane", "-t", &pane]);
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("was closed"), "{stderr}");
    let dir = t.run_dirs().pop().unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(m["ended_by"], "pane_closed");
    crate::harness::assert_no_survivor("sleep 7772");
}

#[test]
fn killed_tmux_server_ends_the_run() {
    let (t, server) = setup(
        "touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; exec sleep 7773",
        "",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    server.kill();
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    crate::harness::assert_no_survivor("sleep 7773");
}

#[test]
fn command_not_found_fails_promptly() {
    let t = Test::new();
    let server = TmuxServer::start(t.path(), &t.work());
    let out = t
        .config("profiles:\n  nope:\n    command: no-such-agent-cli-4711\n")
        .in_tmux(&server)
        .arg("x")
        .run();
    // Checked before a pane is opened: exit 2, nothing started.
    out.status(2)
        .stderr_contains("profile nope: command no-such-agent-cli-4711 is not on PATH");
    assert!(out.test.run_dirs().is_empty());
    assert_eq!(server.panes().len(), 1);
}

#[test]
fn timeout_closes_the_pane() {
    let (t, server) = setup("exec sleep 7774", "    timeout: 1s\n");
    let out = t.arg("x").run();
    out.status(124).stderr_contains("timed out");
    assert_eq!(out.manifest()["status"], "timed_out");
    assert_eq!(server.panes().len(), 1);
    crate::harness::assert_no_survivor("sleep 7774");
}

#[test]
fn sigterm_to_agent_offload_closes_the_pane() {
    let (t, server) = setup(
        "touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; exec sleep 7775",
        "",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    crate::harness::send_signal(child.id(), "TERM");
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(128 + 15));
    assert_eq!(server.panes().len(), 1);
    crate::harness::assert_no_survivor("sleep 7775");
    let dir = t.run_dirs().pop().unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(m["status"], "cancelled");
}

#[test]
fn a_child_that_ignores_hup_and_term_does_not_survive() {
    let body = "(trap '' HUP TERM; exec sleep 7776) &\n\
                sleep 0.2; publish 'left a child'; exec sleep 7777";
    let (t, server) = setup(body, "");
    let out = t.arg("x").run();
    out.status(0).stdout_is("left a child\n");
    assert_eq!(server.panes().len(), 1);
    assert!(
        !process_running("sleep 7776"),
        "the HUP/TERM-ignoring child was killed"
    );
    crate::harness::assert_no_survivor("sleep 7777");
}

/// Starts one run per task word at once and waits for all: each must succeed. Returns
/// their stdouts, in the tasks' order.
fn run_all_at_once(t: &Test, tasks: &[String]) -> Vec<String> {
    let children: Vec<_> = tasks
        .iter()
        .map(|task| {
            let mut cmd = t.command();
            cmd.arg(task)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    tasks
        .iter()
        .zip(children)
        .map(|(task, child)| {
            let out = crate::harness::wait_bounded(child, Duration::from_secs(60));
            assert_eq!(
                out.status.code(),
                Some(0),
                "run {task}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

#[test]
fn eight_concurrent_runs_from_one_pane() {
    let (t, server) = setup(
        "sleep 0.5; publish \"summary for $(printf '%s' \"$last\" | head -n 1)\"; exec sleep 7778",
        "",
    );
    let tasks: Vec<String> = (0..8).map(|i| format!("task-{i}")).collect();
    for (task, stdout) in tasks.iter().zip(run_all_at_once(&t, &tasks)) {
        assert_eq!(stdout, format!("summary for {task}\n"));
    }
    assert_eq!(t.run_dirs().len(), 8);
    assert_eq!(
        server.panes(),
        vec![server.caller.clone()],
        "every run's pane is closed"
    );
    // The caller's pane still has the whole window.
    assert_eq!(server.show(&server.caller, "#{pane_width}"), "240");
    crate::harness::assert_no_survivor("sleep 7778");
}

/// Runs that finish while others are being placed close the very panes placement may
/// have chosen to stack on (a race that failed about 1 run in 32): sixteen runs at once
/// whose agents finish at staggered moments, three rounds, every run must succeed.
#[test]
fn sixteen_staggered_runs_all_find_a_place() {
    // The task word is the agent's delay in tenths of a second.
    let (t, server) = setup(
        "n=$(printf '%s' \"$last\" | head -n 1); sleep \"0.$n\"; publish \"done $n\"; exec sleep 7790",
        "",
    );
    for round in 0..3 {
        let tasks: Vec<String> = (0..16).map(|i| format!("{}", i % 10)).collect();
        for (task, stdout) in tasks.iter().zip(run_all_at_once(&t, &tasks)) {
            assert_eq!(stdout, format!("done {task}\n"), "round {round}");
        }
    }
    assert_eq!(t.run_dirs().len(), 48);
    eventually(Duration::from_secs(10), "every run's pane to close", || {
        server.panes() == vec![server.caller.clone()]
    });
    crate::harness::assert_no_survivor("sleep 7790");
}

#[test]
fn secrets_and_path_reach_the_pane_without_files_or_argv() {
    let secret = format!("s3cret-{}-{}", std::process::id(), line!());
    // The agent is found through the caller's PATH only: the server's PATH lacks it.
    let t = Test::new().agent(
        "bin/fakeagent",
        "printf '%s' \"$TOKEN\" >\"$AGENT_OFFLOAD_RUN_DIR/../../seen\"\n\
         printf '%s' \"$PLAIN\" >\"$AGENT_OFFLOAD_RUN_DIR/../../plain\"\n\
         sleep 1; publish ok; exec sleep 7779",
    );
    let server = TmuxServer::start(t.path(), &t.work());
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let t = t
        .config(
            "profiles:\n  fake:\n    command: fakeagent\n    env:\n      TOKEN: {from_env: SRC_SECRET}\n      PLAIN: literal-value\n",
        )
        .env("PATH", path)
        .env("SRC_SECRET", secret.clone())
        .in_tmux(&server);
    let t = t.arg("x");
    let child = t.spawn();
    let seen = t.path().join("state/agent-offload/seen");
    wait_for_file(&seen);
    // While the agent runs: no process has the secret in its argv.
    let leaks = crate::harness::processes_with(secret.as_bytes());
    assert!(leaks.is_empty(), "secret in argv of {leaks:?}");
    let output = crate::harness::wait_bounded(child, Duration::from_secs(20));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), secret);
    assert_eq!(
        std::fs::read_to_string(t.path().join("state/agent-offload/plain")).unwrap(),
        "literal-value"
    );
    let dir = t.run_dirs().pop().unwrap();
    for f in std::fs::read_dir(&dir).unwrap().flatten() {
        let content = std::fs::read(f.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&content).contains(&secret),
            "secret written to {}",
            f.path().display()
        );
    }
    // The server itself never had it.
    let server_env = server.tmux(&["show-environment", "-g"]);
    assert!(!server_env.contains(&secret));
}

#[test]
fn pane_opens_beside_the_caller_even_when_another_window_is_active() {
    let (t, server) = setup(
        "touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; sleep 1; publish ok; exec sleep 7780",
        "",
    );
    let caller_window = server.show(&server.caller, "#{window_id}");
    server.tmux(&["new-window", "-t", "main", "sh"]); // now the active window
    let t = t.arg("x");
    let child = spawn_started(&t);
    let pane = wait_for_pane(&t);
    let info = server.show(&pane, "#{window_id} #{pane_left} #{pane_current_path}");
    let mut f = info.split(' ');
    assert_eq!(
        f.next(),
        Some(caller_window.as_str()),
        "same window as the caller"
    );
    let left: u32 = f.next().unwrap().parse().unwrap();
    assert!(left > 0, "to the right of the caller");
    assert_eq!(
        std::path::PathBuf::from(f.next().unwrap())
            .canonicalize()
            .unwrap(),
        t.work().canonicalize().unwrap(),
        "in the caller's working directory"
    );
    // Focus stays with the caller.
    assert_eq!(server.show(&server.caller, "#{pane_active}"), "1");
    let output = crate::harness::wait_bounded(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn hostile_prompt_bytes_arrive_exactly() {
    let (t, _server) = setup(
        "printf '%s' \"$last\" >\"$AGENT_OFFLOAD_RUN_DIR/../../received\"; publish ok; exec sleep 7781",
        "",
    );
    let prompt = "--- front\n-x 'single' \"double\" $(touch /tmp/ao-pwned) `id` \\back\\slash\n\u{e9}\u{4e2d}\u{1f600}\n\n";
    let out = t.stdin(prompt).run();
    out.status(0);
    let received =
        std::fs::read_to_string(out.test.path().join("state/agent-offload/received")).unwrap();
    assert!(received.starts_with(prompt), "{received:?}");
    let delivered = std::fs::read_to_string(out.run_dir().join("prompt.md")).unwrap();
    assert_eq!(received, delivered);
    assert!(!std::path::Path::new("/tmp/ao-pwned").exists());
}

#[test]
fn runs_inside_a_real_pane() {
    // The binary itself started in a pane, as a host agent would run it.
    let (t, server) = setup("publish 'from a pane'; exec sleep 7782", "");
    let dir = t.path().to_path_buf();
    let config = t.config_path();
    let script = format!(
        "XDG_STATE_HOME={state} {bin} --config {config} 'do it' >{d}/out 2>{d}/err; \
         echo $? >{d}/rc.tmp && mv {d}/rc.tmp {d}/rc",
        state = dir.join("state").display(),
        bin = crate::harness::BIN,
        config = config.display(),
        d = dir.display()
    );
    server.tmux(&["send-keys", "-t", &server.caller, &script, "Enter"]);
    wait_for_file(&dir.join("rc"));
    assert_eq!(
        std::fs::read_to_string(dir.join("rc")).unwrap().trim(),
        "0",
        "{}",
        std::fs::read_to_string(dir.join("err")).unwrap_or_default()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).unwrap(),
        "from a pane\n"
    );
    eventually(Duration::from_secs(30), "pane closed", || {
        server.panes().len() == 1
    });
}

/// Starts a run from the caller's pane of a `width`-column window with `profile_extra`
/// in its profile; the agent waits for the `go` file. Returns what the placement
/// looked like while the agent ran: (the run's pane is in the caller's window, the
/// run pane's width), and checks that the run then completes and leaves only the
/// caller's pane and window.
fn placed_in(width: u16, profile_extra: &str) -> (bool, u32) {
    let p = placement(width, profile_extra);
    (p.beside, p.width)
}

/// What [`placed_in`] saw, with the run's id, its window's name and the stderr.
struct Placement {
    beside: bool,
    width: u32,
    id: String,
    window_name: String,
    stderr: String,
}

fn placement(width: u16, profile_extra: &str) -> Placement {
    let t = Test::new().agent(
        "agent",
        "d=$AGENT_OFFLOAD_RUN_DIR; touch \"$d/../../started\"\n\
         while [ ! -e \"$d/../../go\" ]; do sleep 0.02; done\n\
         publish 'placed'; exec sleep 7797",
    );
    let server = TmuxServer::start_sized(t.path(), &t.work(), width, 30);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n{profile_extra}",
        t.agent_path("agent")
    );
    let t = t.config(&cfg).in_tmux(&server).arg("x");
    let child = spawn_started(&t);
    let pane = wait_for_pane(&t);
    let caller_window = server.show(&server.caller, "#{window_id}");
    let run_window = server.show(&pane, "#{window_id}");
    let pane_width: u32 = server.show(&pane, "#{pane_width}").parse().unwrap();
    let window_name = server.show(&pane, "#{window_name}");
    let id = t.run_dirs()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // The caller's window stays the active one.
    assert_eq!(server.show(&server.caller, "#{window_active}"), "1");
    std::fs::write(t.path().join("state/agent-offload/go"), "").unwrap();
    let output = crate::harness::wait_bounded(child, Duration::from_secs(20));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "placed\n");
    assert_eq!(server.panes(), vec![server.caller.clone()]);
    assert_eq!(
        server.tmux(&["list-windows", "-a", "-F", "#{window_id}"]),
        caller_window,
        "the run's window is closed with its pane"
    );
    crate::harness::assert_no_survivor("sleep 7797");
    Placement {
        beside: caller_window == run_window,
        width: pane_width,
        id,
        window_name,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// tmux cannot split a 2-column window at all: the run gets a window of its own (the
/// width check switched off, so this is tmux's "no space for new pane").
#[test]
fn a_window_too_small_to_split_gets_a_new_window() {
    let p = placement(2, "    min_pane_width: 0\n");
    assert!(!p.beside, "the run got a window of its own");
    assert_eq!(p.window_name, format!("ao-{}", p.id));
    assert!(
        p.stderr.contains(&format!(
            "agent-offload: run {0} opens in a new window 'ao-{0}' of this session: tmux has \
             no room for another pane in this window\n",
            p.id
        )),
        "{}",
        p.stderr
    );
}

/// A 100-column window split in two gives the agent 49 columns, under the default
/// minimum of 80: a new window instead of a squeezed pane, of the window's full width.
#[test]
fn a_pane_narrower_than_80_columns_gets_a_new_window() {
    let p = placement(100, "");
    assert!(!p.beside, "the run got a window of its own");
    assert_eq!(p.width, 100);
    // Named after the run, and stderr says where it went and why (issue 21: a window
    // named `sh`, and stderr said only "pane %10").
    assert_eq!(p.window_name, format!("ao-{}", p.id));
    assert!(
        p.stderr.contains(&format!(
            "agent-offload: run {0} opens in a new window 'ao-{0}' of this session: your \
             pane is 100 columns wide: one beside it would have 49, under min_pane_width 80\n",
            p.id
        )),
        "{}",
        p.stderr
    );
}

/// The minimum is the profile's (or the config's) `min_pane_width`.
#[test]
fn min_pane_width_is_configurable() {
    let (beside, width) = placed_in(100, "    min_pane_width: 40\n");
    assert!(
        beside,
        "a 49-column pane is wide enough for min_pane_width 40"
    );
    assert!((48..=50).contains(&width), "{width}");
    // At the top level, overridden by the profile's own setting.
    let (beside, _) = placed_in(100, "    min_pane_width: 40\nmin_pane_width: 90\n");
    assert!(beside, "the profile's setting wins");
    let (beside, _) = placed_in(200, "min_pane_width: 120\n");
    assert!(!beside, "the top-level setting applies: 99 columns < 120");
}

#[test]
fn completion_is_still_seen_when_the_watch_helper_dies() {
    let (t, _server) = setup(
        "d=$AGENT_OFFLOAD_RUN_DIR; touch \"$d/../../started\"\n\
         while [ ! -e \"$d/../../go\" ]; do sleep 0.02; done\n\
         publish 'seen anyway'; exec sleep 7784",
        "",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    let run_dir = t.run_dirs().pop().unwrap();
    let needle = format!("__watch {}", run_dir.display());
    let helper = crate::harness::processes()
        .into_iter()
        .find(|p| !p.zombie() && p.args.contains(&needle));
    if std::env::var_os("AGENT_OFFLOAD_BACKEND").is_some_and(|v| v == "portable") {
        // The portable backend polls: there is no helper to lose.
        assert!(helper.is_none(), "the portable backend started {helper:?}");
    } else {
        let pid = helper
            .expect("a watch helper runs for the run directory")
            .pid;
        crate::harness::send_signal(pid, "KILL");
        eventually(Duration::from_secs(10), "the helper to end", || {
            !crate::harness::pid_alive(pid)
        });
    }
    std::fs::write(t.path().join("state/agent-offload/go"), "").unwrap();
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "seen anyway\n");
}

#[test]
fn detach_in_tmux_then_wait() {
    // A TUI-like agent that finishes after the detach limit and then stays open.
    let (t, server) = setup(
        "sleep 1.5; publish 'pane summary'; exec sleep 7785",
        "    detach_after: 500ms\n",
    );
    let out = t.arg("x").run();
    out.status(75);
    let id = out
        .stdout()
        .strip_prefix("still running: agent-offload wait ")
        .map(|s| s.trim().to_owned())
        .expect("a detach line on stdout");
    // The agent goes on in its pane.
    assert_eq!(server.panes().len(), 2, "the run's pane is still open");
    let waited = out.test.exec(["wait", &id]);
    assert_eq!(
        waited.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&waited.stdout), "pane summary\n");
    eventually(Duration::from_secs(30), "the pane to close", || {
        server.panes().len() == 1
    });
    crate::harness::assert_no_survivor("sleep 7785");
}

#[test]
fn the_guard_closes_a_detached_pane_when_the_summary_appears() {
    let (t, server) = setup("sleep 1; publish 'nobody waited'; exec sleep 7786", "");
    let out = t.args(["--detach-after", "300ms", "x"]).run();
    out.status(75);
    eventually(
        Duration::from_secs(10),
        "the guard to close the pane",
        || server.panes().len() == 1,
    );
    let dir = out.run_dir();
    eventually(
        Duration::from_secs(30),
        "the outcome to be recorded",
        || std::fs::read_to_string(dir.join("run.json")).is_ok_and(|s| s.contains("\"done\"")),
    );
    crate::harness::assert_no_survivor("sleep 7786");
}

#[test]
fn an_unreachable_tmux_server_fails_and_keeps_the_run() {
    let t = Test::new().agent("agent", "publish never");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n",
        t.agent_path("agent")
    );
    let gone = t.path().join("no-such.sock");
    let out = t
        .config(&cfg)
        .env("TMUX", format!("{},1,0", gone.display()))
        .env("TMUX_PANE", "%0")
        .arg("x")
        .run();
    out.status(1).stderr_contains("tmux");
    let m = out.manifest();
    assert_eq!(m["status"], "failed");
    assert!(
        m["reason"]
            .as_str()
            .unwrap()
            .starts_with("could not start the agent"),
        "{m}"
    );
}

#[test]
fn focus_true_moves_the_focus_to_the_new_pane() {
    let (t, server) = setup(
        "d=$AGENT_OFFLOAD_RUN_DIR; touch \"$d/../../started\"\n\
         while [ ! -e \"$d/../../go\" ]; do sleep 0.02; done\n\
         publish ok; exec sleep 7787",
        "    focus: true\n",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    let pane = wait_for_pane(&t);
    assert_eq!(
        server.show(&pane, "#{pane_active}"),
        "1",
        "the new pane has the focus"
    );
    assert_eq!(server.show(&server.caller, "#{pane_active}"), "0");
    std::fs::write(t.path().join("state/agent-offload/go"), "").unwrap();
    let output = crate::harness::wait_bounded(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0));
}

/// Killed (`SIGKILL`) while its agent works in a pane: the guard closes the pane when the summary
/// appears and records the run, as the killed process would have.
#[test]
fn a_sigkilled_run_still_closes_its_pane() {
    let (t, server) = setup(
        "d=$AGENT_OFFLOAD_RUN_DIR; touch \"$d/../../started\"\n\
         while [ ! -e \"$d/../../go\" ]; do sleep 0.02; done\n\
         publish 'nobody was waiting'; exec sleep 7795",
        "",
    );
    let t = t.arg("x");
    let child = spawn_started(&t);
    let dir = t.run_dirs().pop().unwrap();
    let guard =
        || std::fs::read_to_string(dir.join("run.json")).is_ok_and(|s| s.contains("\"guard\": {"));
    eventually(Duration::from_secs(20), "the guard to be recorded", guard);
    crate::harness::send_signal(child.id(), "KILL");
    let _ = crate::harness::wait_bounded(child, Duration::from_secs(10));
    std::fs::write(t.path().join("state/agent-offload/go"), "").unwrap();
    eventually(
        Duration::from_secs(30),
        "the guard to close the pane",
        || server.panes().len() == 1,
    );
    eventually(
        Duration::from_secs(30),
        "the outcome to be recorded",
        || std::fs::read_to_string(dir.join("run.json")).is_ok_and(|s| s.contains("\"done\"")),
    );
    crate::harness::assert_no_survivor("sleep 7795");
}

/// Killed (`SIGKILL`) the moment its pane exists — before or after the environment
/// hand-over, whichever comes: the run names its pane, and the pane does not stay
/// open (the launcher gives up on a hand-over that never comes; after it, the guard
/// finishes the run).
#[test]
fn killed_right_after_the_pane_opens_nothing_stays() {
    let (t, server) = setup("publish 'quick'; exec sleep 7796", "");
    let t = t.arg("x");
    let child = t.spawn();
    let pane = wait_for_pane(&t);
    crate::harness::send_signal(child.id(), "KILL");
    let _ = crate::harness::wait_bounded(child, Duration::from_secs(10));
    assert!(pane.starts_with('%'));
    eventually(Duration::from_secs(40), "the pane to close", || {
        server.panes().len() == 1
    });
    crate::harness::assert_no_survivor("sleep 7796");
}

/// `headless: auto` opens a pane for a caller inside tmux and runs headless, saying so,
/// for one outside it (where `false` would be a usage error).
#[test]
fn headless_auto_uses_a_pane_inside_tmux_and_runs_headless_outside() {
    let (t, server) = setup("publish 'auto summary'", "    headless: auto\n");
    let out = t.arg("inside").run();
    out.status(0).stdout_is("auto summary\n");
    assert_eq!(out.manifest()["mode"], "tmux");
    assert!(!out.stderr().contains("headless"), "{}", out.stderr());
    assert_eq!(server.panes(), vec![server.caller.clone()]);

    let t = Test::new().agent("agent", "publish 'auto summary'");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: auto\n",
        t.agent_path("agent")
    );
    let out = t.config(&cfg).arg("outside").run();
    out.status(0)
        .stdout_is("auto summary\n")
        .stderr_contains("agent-offload: not inside tmux: running headless (headless: auto)\n");
    assert_eq!(out.manifest()["mode"], "headless");
}

/// Cancelled in a pane, the run says "the agent was stopped" only once it is: when
/// agent-offload exits, nothing of the agent is alive, however it takes its signals
/// (children that die of the pane's HUP, of TERM, only of KILL), and also a child in a
/// process group of its own (job control) whose parent, the agent, dies of the HUP:
/// without a session id to find it by (the portable backend, macOS) it had to be seen
/// before the pane was closed.
#[test]
fn a_cancelled_pane_run_exits_only_once_its_agent_is_gone() {
    let marker = format!("7798.{}", crate::harness::unique());
    let body = format!(
        "sh -c \"trap '' HUP TERM; sleep {marker}; sleep {marker}\" &\n\
         sh -c \"trap '' HUP; sleep {marker}; sleep {marker}\" &\n\
         sh -c \"sleep {marker}; sleep {marker}\" &\n\
         set -m\n\
         sh -c \"trap '' HUP TERM; sleep {marker}; sleep {marker}\" &\n\
         set +m\n\
         while [ \"$(ps -A -o args= | grep -c '^sleep {marker}')\" -lt 4 ]; do sleep 0.01; done\n\
         touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"\n\
         wait"
    );
    let (t, server) = setup(&body, "");
    let t = t.arg("x");
    let child = spawn_started(&t);
    crate::harness::send_signal(child.id(), "TERM");
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    let left: Vec<_> = crate::harness::processes()
        .into_iter()
        .filter(|p| !p.zombie() && p.args.contains(&marker))
        .collect();
    assert_eq!(output.status.code(), Some(128 + 15), "{output:?}");
    if !left.is_empty() {
        // Which session and group each survivor is in, against the run's launcher.
        let pids: Vec<String> = left.iter().map(|p| p.pid.to_string()).collect();
        let table = std::process::Command::new("ps")
            .args([
                "-o",
                "pid=,ppid=,pgid=,sid=,stat=,args=",
                "-p",
                &pids.join(","),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let manifest = t
            .run_dirs()
            .pop()
            .map(|d| std::fs::read_to_string(d.join("run.json")));
        panic!("alive after agent-offload exited: {left:?}\n{table:?}\n{manifest:?}");
    }
    assert_eq!(server.panes().len(), 1);
}

/// A fake agent that daemonises a helper the way servers do (`setsid`, then a fork
/// whose parent exits: the helper is in a session of its own and re-parented, out of
/// the agent's session, process group and parent chain), waits until it is so, and
/// then goes on with `then`. The helper and the agent's own sleep carry `marker`.
fn daemonising_agent(marker: &str, then: &str) -> String {
    format!(
        "(setsid sh -c 'sleep {marker} & exit' </dev/null >/dev/null 2>&1 &)\n\
         while ! ps -A -o args= | grep -q '^sleep {marker}'; do sleep 0.01; done\n\
         while ps -A -o args= | grep -q '^sh -c sleep {marker}'; do sleep 0.01; done\n\
         {then}"
    )
}

/// The daemon (and the whole agent) is gone once agent-offload has exited.
#[track_caller]
fn assert_daemon_gone(marker: &str) {
    let left: Vec<_> = crate::harness::processes()
        .into_iter()
        .filter(|p| !p.zombie() && p.args.contains(marker))
        .collect();
    for p in &left {
        crate::harness::send_signal(p.pid, "KILL");
    }
    assert!(
        left.is_empty(),
        "alive after agent-offload exited: {left:?}"
    );
}

/// A helper the agent in a pane daemonised ends with the run when the agent publishes:
/// the pane's first process is agent-offload's wrapper, the child subreaper the daemon
/// is re-parented to, so the stop sweep still reaches it.
#[test]
fn a_daemonised_helper_in_a_pane_ends_with_the_run() {
    let marker = format!("7799.{}", crate::harness::unique());
    let body = daemonising_agent(
        &marker,
        &format!("publish 'daemon started'; exec sleep {marker}"),
    );
    let (t, server) = setup(&body, "");
    let out = t.arg("start a daemon").run();
    out.status(0).stdout_is("daemon started\n");
    assert_daemon_gone(&marker);
    assert_eq!(server.panes(), vec![server.caller.clone()]);
}

/// The same when agent-offload is cancelled (SIGTERM) while the agent works.
#[test]
fn a_daemonised_helper_in_a_pane_ends_when_the_run_is_cancelled() {
    let marker = format!("7800.{}", crate::harness::unique());
    let body = daemonising_agent(
        &marker,
        &format!("touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; exec sleep {marker}"),
    );
    let (t, server) = setup(&body, "");
    let t = t.arg("x");
    let child = spawn_started(&t);
    crate::harness::send_signal(child.id(), "TERM");
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(128 + 15), "{output:?}");
    assert_daemon_gone(&marker);
    assert_eq!(server.panes().len(), 1);
}

/// The same when a person closes the pane (`tmux kill-pane`): the wrapper gets the
/// pane's SIGHUP and ends what it adopted before it exits.
#[test]
fn a_daemonised_helper_in_a_pane_ends_when_the_pane_is_killed() {
    let marker = format!("7801.{}", crate::harness::unique());
    let body = daemonising_agent(
        &marker,
        &format!("touch \"$AGENT_OFFLOAD_RUN_DIR/../../started\"; exec sleep {marker}"),
    );
    let (t, server) = setup(&body, "");
    let t = t.arg("x");
    let child = spawn_started(&t);
    let pane = wait_for_pane(&t);
    server.tmux(&["kill-pane", "-t", &pane]);
    let output = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_daemon_gone(&marker);
}
