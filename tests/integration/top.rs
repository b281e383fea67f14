//! `agent-offload top`: the snapshot (`--once`, and stdout not a terminal), and the live
//! view in a real pane of a private tmux server, driven with send-keys and read with
//! capture-pane: the table, quitting, cancelling, the log view, jumping to a pane.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{BIN, Test, eventually, unique};
use crate::tmux_server::TmuxServer;

const LIMIT: Duration = Duration::from_secs(60);

/// Headless profiles: `fake` (the default), whose agent prints `marker`, then waits
/// for the file `go` in the test directory before it publishes (and gives up when a
/// failed test has removed that directory); `quick`, whose agent
/// prints a line and publishes at once.
fn waiting(marker: &str) -> Test {
    let t = Test::new();
    let go = t.path().join("go");
    let body = format!(
        "echo 'working on {marker}'\nwhile [ ! -e '{}' ]; do [ -d '{}' ] || exit 1; sleep 0.05; done\npublish 'finished'",
        go.display(),
        t.path().display()
    );
    let t = t
        .agent("fake", &body)
        .agent("quick", "echo 'quick work'; publish 'quick summary'");
    let cfg = format!(
        "default_profile: fake\nprofiles:\n  fake:\n    command: {}\n    headless: true\n  \
         quick:\n    command: {}\n    headless: true\n",
        t.agent_path("fake"),
        t.agent_path("quick")
    );
    t.config(&cfg)
}

/// Starts a run that is still going when agent-offload returns (exit 75); its id.
fn start_detached(t: &Test, extra: &[&str]) -> String {
    let mut args = vec!["--detach-after", "300ms"];
    args.extend(extra);
    args.push("task");
    let out = t.exec(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .trim()
        .strip_prefix("still running: agent-offload wait ")
        .unwrap_or_else(|| panic!("not a detach line: {stdout:?}"))
        .to_owned()
}

fn run_dir(t: &Test, id: &str) -> PathBuf {
    t.runs_root().join(id)
}

fn status(t: &Test, id: &str) -> String {
    let text = std::fs::read_to_string(run_dir(t, id).join("run.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_owned()
}

/// Lets the waiting agents publish and waits for their runs to end, so no test leaves
/// a process behind.
fn finish(t: &Test, ids: &[&str]) {
    std::fs::write(t.path().join("go"), "").unwrap();
    for id in ids {
        eventually(LIMIT, "the run to end", || status(t, id) != "running");
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A script that runs `top` in this test's environment (plus the pane's `$TMUX`), then
/// prints its exit status, for typing into a pane.
fn top_script(t: &Test) -> PathBuf {
    let p = t.path();
    let script = p.join("top.sh");
    // `.ci/run`'s second pass: every agent-offload process of a test uses the same
    // backend (a launcher identified by one is not recognised by the other).
    let backend = std::env::var("AGENT_OFFLOAD_BACKEND")
        .map(|b| format!("AGENT_OFFLOAD_BACKEND={}", sh_quote(&b)))
        .unwrap_or_default();
    let text = format!(
        "env -i HOME={home} XDG_CONFIG_HOME={cfg} XDG_STATE_HOME={state} PATH={path} \
         TERM=xterm-256color TZ='<+14>-14' TMUX=\"$TMUX\" TMUX_PANE=\"$TMUX_PANE\" {backend} \
         {bin} top\n\
         echo \"EXIT=$?\"\n",
        home = sh_quote(&p.join("home").display().to_string()),
        cfg = sh_quote(&p.join("config").display().to_string()),
        state = sh_quote(&p.join("state").display().to_string()),
        path = sh_quote(&std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
        bin = sh_quote(BIN),
    );
    std::fs::write(&script, text).unwrap();
    script
}

fn start_top(server: &TmuxServer, pane: &str, script: &Path) {
    let line = format!("sh {}", sh_quote(&script.display().to_string()));
    server.tmux(&["send-keys", "-t", pane, &line, "Enter"]);
}

fn capture(server: &TmuxServer, pane: &str) -> String {
    server.tmux(&["capture-pane", "-p", "-t", pane])
}

/// Waits until the pane shows something for which `cond` holds; returns that screen.
#[track_caller]
fn screen_where(
    server: &TmuxServer,
    pane: &str,
    what: &str,
    cond: impl Fn(&str) -> bool,
) -> String {
    let mut seen = String::new();
    let mut last = String::new();
    let start = std::time::Instant::now();
    while start.elapsed() < LIMIT {
        seen = capture(server, pane);
        if cond(&seen) {
            return seen;
        }
        last.clone_from(&seen);
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}; the pane shows:\n{last}{seen}");
}

/// A panic while `top` draws (debug builds: `AGENT_OFFLOAD_TEST_PANIC=top`) aborts the
/// process (the profiles say `panic = "abort"`: exit 134), and the panic hook has given
/// the terminal back first: the main screen, the cursor, a shell that echoes.
#[test]
fn a_panic_in_top_aborts_and_gives_the_terminal_back() {
    let t = waiting(&unique());
    let id = start_detached(&t, &[]);
    let server = TmuxServer::start(t.path(), &t.work());
    let script = top_script(&t);
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        text.replacen("env -i ", "env -i AGENT_OFFLOAD_TEST_PANIC=top ", 1),
    )
    .unwrap();
    start_top(&server, &server.caller, &script);
    let end = screen_where(&server, &server.caller, "top to end", |s| {
        s.contains("EXIT=")
    });
    assert!(end.contains("EXIT=134"), "{end}");
    assert!(
        end.contains("AGENT_OFFLOAD_TEST_PANIC=top"),
        "the panic message is shown: {end}"
    );
    assert!(!end.contains("HEALTH"), "{end}");
    server.tmux(&[
        "send-keys",
        "-t",
        &server.caller,
        "echo shell-$((40+2))",
        "Enter",
    ]);
    screen_where(&server, &server.caller, "the shell", |s| {
        s.contains("shell-42")
    });
    let cursor = server.tmux(&[
        "display-message",
        "-p",
        "-t",
        &server.caller,
        "#{cursor_flag} #{alternate_on}",
    ]);
    assert_eq!(cursor.trim(), "1 0", "cursor shown, main screen");
    finish(&t, &[&id]);
}

/// Seconds since the epoch, as a clock at UTC+14 reads them.
fn clock_at_utc_plus_14() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now + 14 * 3600
}

/// The words of the table line that starts with `id`.
fn row<'a>(text: &'a str, id: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{text}"))
        .split_whitespace()
        .collect()
}

#[test]
fn once_lists_running_runs_first_with_every_column() {
    let t = waiting(&unique());
    // Started first, still running: above the newer finished run.
    let running = start_detached(&t, &[]);
    let quick = t.exec(["-q", "-p", "quick", "task"]);
    assert_eq!(
        quick.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&quick.stderr)
    );
    let done_id = t
        .run_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .find(|id| *id != running)
        .expect("the quick run");
    // The usage a structured CLI would have reported.
    let path = run_dir(&t, &done_id).join("run.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["usage"] = serde_json::json!({"input_tokens": 12000, "output_tokens": 345});
    m["cost_usd"] = serde_json::json!(0.5);
    m["cost_source"] = serde_json::json!("reported");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();

    let out = t.exec(["top", "--once"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID", "PROFILE", "MODE", "STATUS", "ELAPSED", "TOKENS", "COST", "ACTIVITY", "HEALTH"
        ]
    );
    assert!(lines[1].starts_with(&running), "{text}");
    assert!(lines[2].starts_with(&done_id), "{text}");

    let r = row(&text, &running);
    assert_eq!(
        &r[..4],
        [running.as_str(), "fake", "headless", "running"],
        "{text}"
    );
    assert!(r[4].ends_with('s'), "elapsed: {text}");
    assert_eq!(&r[5..7], ["-", "-"], "{text}");
    // It printed a line: output.log was written, seconds ago.
    assert!(r[7].ends_with('s') && r[8] == "ago", "{text}");
    // Watched by the stall detector (on by default), with no stall seen: working (it
    // showed `-` until the detector's first change of mind, issue 21).
    assert_eq!(r[9], "working", "{text}");
    assert_eq!(r.len(), 10, "{text}");

    let d = row(&text, &done_id);
    assert_eq!(
        &d[..4],
        [done_id.as_str(), "quick", "headless", "done"],
        "{text}"
    );
    assert_eq!(&d[5..7], ["12.3k", "$0.50"], "{text}");
    assert_eq!(d[9], "-", "no health for a finished run: {text}");

    // Not a terminal and no --once: the same snapshot rather than an error.
    let piped = t.exec(["top"]);
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&piped.stdout).lines().count(), 3);
    finish(&t, &[&running]);
}

#[test]
fn once_with_no_runs_prints_the_header() {
    let t = Test::new();
    let out = t.exec(["top", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ID  PROFILE  MODE  STATUS  ELAPSED  TOKENS  COST  ACTIVITY  HEALTH\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no runs yet"));
}

#[test]
fn the_live_view_draws_the_table_and_q_quits() {
    let t = waiting(&unique());
    let id = start_detached(&t, &[]);
    let server = TmuxServer::start(t.path(), &t.work());
    start_top(&server, &server.caller, &top_script(&t));
    let screen = screen_where(&server, &server.caller, "the table", |s| {
        s.lines()
            .any(|l| l.starts_with("ID ") && l.contains("HEALTH"))
            && s.lines()
                .any(|l| l.starts_with(&id) && l.contains("running"))
    });
    let after = clock_at_utc_plus_14();
    assert!(screen.contains("agent-offload top · 1 running"), "{screen}");
    // The heading's time of day is local (the script's TZ is UTC+14), to the minute
    // it was drawn in or the one before.
    let heading = screen
        .lines()
        .find(|l| l.contains("agent-offload top ·"))
        .unwrap();
    let earlier = after.saturating_sub(60);
    assert!(
        [after, earlier].iter().any(|&s| heading.contains(&format!(
            "{:02}:{:02}:",
            s / 3600 % 24,
            s / 60 % 60
        ))),
        "{heading}"
    );
    server.tmux(&["send-keys", "-t", &server.caller, "q"]);
    let end = screen_where(&server, &server.caller, "top to exit", |s| {
        s.contains("EXIT=")
    });
    assert!(end.contains("EXIT=0"), "{end}");
    // The terminal is back: the table is gone and the shell answers.
    assert!(!end.contains("HEALTH"), "{end}");
    server.tmux(&[
        "send-keys",
        "-t",
        &server.caller,
        "echo shell-$((40+2))",
        "Enter",
    ]);
    screen_where(&server, &server.caller, "the shell", |s| {
        s.contains("shell-42")
    });
    finish(&t, &[&id]);
}

#[test]
fn c_asks_and_y_cancels_the_selected_run() {
    let t = waiting(&unique());
    let id = start_detached(&t, &[]);
    let server = TmuxServer::start(t.path(), &t.work());
    let pane = server.caller.clone();
    start_top(&server, &pane, &top_script(&t));
    screen_where(&server, &pane, "the run's row", |s| s.contains(&id));

    // n keeps it running.
    server.tmux(&["send-keys", "-t", &pane, "c"]);
    let ask = format!("cancel run {id}? y/n");
    screen_where(&server, &pane, "the question", |s| s.contains(&ask));
    server.tmux(&["send-keys", "-t", &pane, "n"]);
    screen_where(&server, &pane, "the answer", |s| {
        s.contains("not cancelled")
    });
    assert_eq!(status(&t, &id), "running");

    server.tmux(&["send-keys", "-t", &pane, "c"]);
    screen_where(&server, &pane, "the question", |s| s.contains(&ask));
    server.tmux(&["send-keys", "-t", &pane, "y"]);
    eventually(LIMIT, "run.json to say cancelled", || {
        status(&t, &id) == "cancelled"
    });
    // The row can show the new state (top reads run.json on its own) a moment before
    // the cancel returns and its message is written: wait for both.
    let said = format!("run {id} cancelled");
    let screen = screen_where(&server, &pane, "the cancelled row and message", |s| {
        s.lines()
            .any(|l| l.starts_with(&id) && l.contains("cancelled"))
            && s.contains(&said)
    });
    assert!(screen.contains("0 running"), "{screen}");
    server.tmux(&["send-keys", "-t", &pane, "q"]);
    screen_where(&server, &pane, "top to exit", |s| s.contains("EXIT=0"));
}

#[test]
fn enter_follows_the_log_and_esc_goes_back() {
    let marker = format!("marker-{}", unique());
    let t = waiting(&marker);
    let id = start_detached(&t, &[]);
    let server = TmuxServer::start(t.path(), &t.work());
    let pane = server.caller.clone();
    start_top(&server, &pane, &top_script(&t));
    screen_where(&server, &pane, "the run's row", |s| s.contains(&id));
    server.tmux(&["send-keys", "-t", &pane, "Enter"]);
    let log = screen_where(&server, &pane, "the log view", |s| {
        s.contains(&format!("log of {id} (running)")) && s.contains(&format!("working on {marker}"))
    });
    assert!(!log.contains("HEALTH"), "the table is replaced: {log}");
    // Refreshed: the run ends while its log is shown.
    std::fs::write(t.path().join("go"), "").unwrap();
    screen_where(&server, &pane, "the log view to follow the run", |s| {
        s.contains(&format!("log of {id} (done)"))
    });
    server.tmux(&["send-keys", "-t", &pane, "Escape"]);
    screen_where(&server, &pane, "the table again", |s| s.contains("HEALTH"));
    server.tmux(&["send-keys", "-t", &pane, "q"]);
    screen_where(&server, &pane, "top to exit", |s| s.contains("EXIT=0"));
}

/// `p` on a run in a pane: its window and pane selected, and the client watching `top`
/// switched to the run's session. The client is a real one: `tmux attach` running in
/// a pane of a second server.
#[test]
fn p_jumps_to_the_runs_pane() {
    let marker = unique();
    let t = Test::new();
    let go = t.path().join("go");
    let body = format!(
        "echo 'in a pane {marker}'\nwhile [ ! -e '{}' ]; do [ -d '{}' ] || exit 1; sleep 0.05; done\npublish 'finished'",
        go.display(),
        t.path().display()
    );
    let t = t.agent("fake", &body);
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg).in_tmux(&server);
    let id = start_detached(&t, &[]);
    let text = std::fs::read_to_string(run_dir(&t, &id).join("run.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let run_pane = m["pane"].as_str().expect("a pane").to_owned();
    // Elsewhere on the server: the caller's pane is the active one again.
    server.tmux(&["select-pane", "-t", &server.caller]);

    // `top` in a session of its own, watched by a real client.
    let top_pane = server.tmux(&[
        "new-session",
        "-d",
        "-s",
        "watch",
        "-x",
        "200",
        "-y",
        "40",
        "-P",
        "-F",
        "#{pane_id}",
        "sh",
    ]);
    let viewer_dir = t.path().join("viewer");
    std::fs::create_dir_all(&viewer_dir).unwrap();
    let viewer = TmuxServer::start(&viewer_dir, &t.work());
    let attach = format!(
        "env -u TMUX PATH={} TERM=xterm-256color tmux -S {} attach -t watch",
        sh_quote(&std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
        sh_quote(&server.sock.display().to_string())
    );
    viewer.tmux(&["send-keys", "-t", &viewer.caller, &attach, "Enter"]);
    let client_session = || server.try_tmux(&["list-clients", "-F", "#{client_session}"]);
    eventually(LIMIT, "the client to attach", || {
        client_session().is_ok_and(|s| s == "watch")
    });

    start_top(&server, &top_pane, &top_script(&t));
    screen_where(&server, &top_pane, "the run's row", |s| {
        s.lines().any(|l| l.starts_with(&id) && l.contains("tmux"))
    });
    assert_eq!(server.show(&run_pane, "#{pane_active}"), "0");
    server.tmux(&["send-keys", "-t", &top_pane, "p"]);
    eventually(LIMIT, "the client to switch to the run's session", || {
        client_session().is_ok_and(|s| s == "main")
    });
    assert_eq!(server.show(&run_pane, "#{pane_active}"), "1");
    let said = screen_where(&server, &top_pane, "the status bar", |s| {
        s.contains(&format!("switched to pane {run_pane} of run {id}"))
    });
    assert!(!said.contains("cannot"), "{said}");
    server.tmux(&["send-keys", "-t", &top_pane, "q"]);
    screen_where(&server, &top_pane, "top to exit", |s| s.contains("EXIT=0"));
    finish(&t, &[&id]);
}

#[test]
fn p_on_a_headless_run_says_it_has_no_pane() {
    let t = waiting(&unique());
    let id = start_detached(&t, &[]);
    let server = TmuxServer::start(t.path(), &t.work());
    let pane = server.caller.clone();
    start_top(&server, &pane, &top_script(&t));
    screen_where(&server, &pane, "the run's row", |s| s.contains(&id));
    server.tmux(&["send-keys", "-t", &pane, "p"]);
    screen_where(&server, &pane, "the message", |s| {
        s.contains(&format!("run {id} is headless: it has no pane"))
    });
    server.tmux(&["send-keys", "-t", &pane, "q"]);
    screen_where(&server, &pane, "top to exit", |s| s.contains("EXIT=0"));
    finish(&t, &[&id]);
}
