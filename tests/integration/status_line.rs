//! The live status line: drawn on a terminal (a real one: a pane of a private tmux
//! server), erased at the end; absent when stderr is a pipe; silenced by --quiet.

use std::path::Path;
use std::time::Duration;

use crate::harness::{BIN, Test, eventually};
use crate::tmux_server::TmuxServer;

/// A headless fake agent that prints a marker line, then waits for `go` before it
/// publishes: the test decides when the run ends.
fn waiting_agent(marker: &str) -> Test {
    let t = Test::new();
    let go = t.path().join("go");
    let body = format!(
        "echo 'working on {marker}'\nwhile [ ! -e '{}' ]; do sleep 0.05; done\npublish 'the summary'",
        go.display()
    );
    let t = t.agent("agent", &body);
    let cfg = format!(
        "profiles:\n  busy:\n    command: {}\n    headless: true\n",
        t.agent_path("agent")
    );
    t.config(&cfg)
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A script that runs agent-offload with the test's environment, then prints its
/// exit status, for typing into a pane.
fn write_command(t: &Test, extra_env: &str, args: &str) -> std::path::PathBuf {
    let p = t.path();
    let script = p.join("cmd.sh");
    let text = format!(
        "cd {work}\nenv -i HOME={home} XDG_CONFIG_HOME={cfg} XDG_STATE_HOME={state} \
         PATH=/usr/bin:/bin TERM=xterm-256color {extra_env} {bin} {args}\necho \"EXIT=$?\"\n",
        work = sh_quote(&t.work().display().to_string()),
        home = sh_quote(&p.join("home").display().to_string()),
        cfg = sh_quote(&p.join("config").display().to_string()),
        state = sh_quote(&p.join("state").display().to_string()),
        bin = sh_quote(BIN),
    );
    std::fs::write(&script, text).unwrap();
    script
}

fn capture(server: &TmuxServer, escapes: bool) -> String {
    let mut args = vec!["capture-pane", "-p", "-t", server.caller.as_str()];
    if escapes {
        args.push("-e");
    }
    server.tmux(&args)
}

fn run_in_pane(server: &TmuxServer, script: &Path) {
    server.tmux(&[
        "send-keys",
        "-t",
        &server.caller,
        &format!("sh {}", sh_quote(&script.display().to_string())),
        "Enter",
    ]);
}

#[test]
fn drawn_while_waiting_then_erased() {
    let marker = format!("marker-{}", crate::harness::unique());
    let t = waiting_agent(&marker);
    let server = TmuxServer::start(t.path(), &t.work());
    let script = write_command(&t, "", "go");
    run_in_pane(&server, &script);

    // The line shows profile, pid, elapsed time and the agent's last output line.
    let mut seen = String::new();
    eventually(Duration::from_secs(60), "the status line", || {
        seen = capture(&server, false);
        seen.lines().any(|l| {
            l.starts_with("agent-offload: busy · pid ")
                && l.contains("s · working on ")
                && l.contains(&marker)
        })
    });
    // It is redrawn in place: one status line, however many ticks have passed.
    std::thread::sleep(Duration::from_millis(1300));
    let later = capture(&server, false);
    let status_lines = later
        .lines()
        .filter(|l| l.starts_with("agent-offload: busy · "))
        .count();
    assert_eq!(status_lines, 1, "{later}");

    std::fs::write(t.path().join("go"), "").unwrap();
    let mut end = String::new();
    eventually(Duration::from_secs(60), "the run to end", || {
        end = capture(&server, false);
        end.contains("EXIT=")
    });
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(end.contains("\nthe summary\n"), "{end}");
    assert!(end.contains("agent-offload: run "), "{end}");
    assert!(
        !end.contains(&marker),
        "the status line is erased at the end:\n{end}"
    );
    assert!(!end.contains("agent-offload: busy · "), "{end}");
}

#[test]
fn quiet_draws_nothing_on_a_terminal() {
    let marker = format!("marker-{}", crate::harness::unique());
    let t = waiting_agent(&marker);
    let server = TmuxServer::start(t.path(), &t.work());
    let script = write_command(&t, "", "--quiet go");
    run_in_pane(&server, &script);
    // Give the status line every chance to appear, then end the run.
    eventually(Duration::from_secs(60), "the run to start", || {
        !t.run_dirs().is_empty()
    });
    std::thread::sleep(Duration::from_millis(800));
    assert!(!capture(&server, false).contains("agent-offload: busy"));
    std::fs::write(t.path().join("go"), "").unwrap();
    let mut end = String::new();
    eventually(Duration::from_secs(60), "the run to end", || {
        end = capture(&server, false);
        end.contains("EXIT=")
    });
    assert!(end.contains("\nthe summary\nEXIT=0"), "{end}");
    assert!(!end.contains("agent-offload:"), "{end}");
}

/// Piped stderr (how a host agent reads it): plain lines, no escape codes, no `\r`.
#[test]
fn nothing_of_it_when_stderr_is_a_pipe() {
    let t = Test::new().agent("agent", "echo progress; sleep 0.6; publish done");
    let cfg = format!(
        "profiles:\n  busy:\n    command: {}\n    headless: true\n",
        t.agent_path("agent")
    );
    let out = t.config(&cfg).arg("go").run();
    out.status(0).stdout_is("done\n");
    let err = out.stderr();
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(!err.contains('\r'), "{err:?}");
    assert!(!err.contains(" · "), "{err:?}");
    out.stderr_contains("agent-offload: run ");
}

#[test]
fn quiet_keeps_the_result_and_the_errors() {
    let two_agents = || {
        let t = Test::new()
            .agent("ok", "publish fine")
            .agent("bad", "echo broken >&2; exit 3");
        let cfg = format!(
            "default_profile: ok\nprofiles:\n  ok:\n    command: {}\n    headless: true\n  \
             bad:\n    command: {}\n    headless: true\n",
            t.agent_path("ok"),
            t.agent_path("bad")
        );
        t.config(&cfg)
    };
    let out = two_agents().args(["-q", "go"]).run();
    out.status(0).stdout_is("fine\n");
    assert_eq!(out.stderr(), "");

    let out = two_agents().args(["--quiet", "-p", "bad", "go"]).run();
    out.status(1);
    out.stderr_contains("failed after");
    out.stderr_contains("broken");
    assert!(!out.stderr().contains("started"), "{}", out.stderr());
    assert!(
        !out.stderr().contains("agent-offload: config"),
        "{}",
        out.stderr()
    );
}

#[test]
fn doctor_colours_only_on_a_terminal_without_no_color() {
    let t = Test::new();
    let server = TmuxServer::start(t.path(), &t.work());
    for (env, coloured) in [("", true), ("NO_COLOR=1", false)] {
        server.tmux(&["send-keys", "-t", &server.caller, "clear", "Enter"]);
        // The previous run's output must be gone before this one is judged.
        eventually(Duration::from_secs(60), "the screen to clear", || {
            !capture(&server, false).contains("EXIT=")
        });
        let script = write_command(&t, env, "doctor");
        run_in_pane(&server, &script);
        let mut screen = String::new();
        eventually(Duration::from_secs(60), "doctor to finish", || {
            screen = capture(&server, true);
            screen.contains("EXIT=")
        });
        assert!(screen.contains('✓'), "{screen}");
        assert_eq!(screen.contains("\u{1b}["), coloured, "{env}: {screen:?}");
    }
}
