//! The agent CLIs' structured output and sessions, end to end: fake CLIs
//! (`fakes/structured_cli.sh`) that check their arguments as the real ones do and
//! answer with the events measured from them (`src/agents/fixtures/`), for their own
//! session. Headless: the session id, the raw events, the readable transcript,
//! `continue` resuming the same session (or failing as the CLI does for one it does not
//! know), degradation on events nobody knows, the session id surviving a killed
//! (`SIGKILL`) agent-offload, failed runs. tmux: the session found in the CLI's own
//! session store.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Test, eventually, read_nul_list, wait_bounded};
use crate::tmux_server::TmuxServer;

const FAKE: &str = include_str!("fakes/structured_cli.sh");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/agents/fixtures");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cli {
    Claude,
    Codex,
    Opencode,
    Pi,
    Gemini,
    Qwen,
    Cursor,
}

impl Cli {
    const ALL: [Cli; 7] = [
        Cli::Claude,
        Cli::Codex,
        Cli::Opencode,
        Cli::Pi,
        Cli::Gemini,
        Cli::Qwen,
        Cli::Cursor,
    ];

    fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Opencode => "opencode",
            Cli::Pi => "pi",
            Cli::Gemini => "gemini",
            Cli::Qwen => "qwen",
            Cli::Cursor => "cursor",
        }
    }

    /// The profile's own arguments: the built-in profile's unattended flag, or a model.
    fn profile_args(self) -> &'static [&'static str] {
        match self {
            Cli::Claude => &["--dangerously-skip-permissions"],
            Cli::Codex => &["--dangerously-bypass-approvals-and-sandbox"],
            Cli::Opencode => &["--model", "e2e/e2e-model"],
            Cli::Pi => &["--model", "e2e-model"],
            Cli::Gemini | Cli::Qwen => &["--yolo"],
            Cli::Cursor => &["--force"],
        }
    }

    /// The agent's last message in the CLI's fixture, as the transcript shows it.
    fn last_text(self) -> &'static str {
        match self {
            Cli::Cursor => "The README describes a demo project.",
            _ => "The script ran; the summary is published.",
        }
    }

    /// The agent's final message as the CLI reports it (cursor's documented `result`
    /// joins the run's assistant texts).
    fn final_message(self) -> &'static str {
        match self {
            Cli::Cursor => "I'll read the README first.The README describes a demo project.",
            _ => self.last_text(),
        }
    }

    /// The words a headless run must pass before the prompt; `ID` stands for the session
    /// (assigned, or resumed).
    fn headless_argv(self, resume: bool) -> Vec<&'static str> {
        let (head, session, tail): (&[&str], &[&str], &[&str]) = match self {
            Cli::Claude => (
                &["-p", "--output-format", "stream-json", "--verbose"],
                if resume {
                    &["--resume", "ID"]
                } else {
                    &["--session-id", "ID"]
                },
                &["--"],
            ),
            // `resume ID` is a subcommand of `exec`: after the profile's (exec) flags.
            Cli::Codex => {
                let mut words = vec!["exec", "--json"];
                words.extend(self.profile_args());
                if resume {
                    words.extend(["resume", "ID"]);
                }
                words.push("--");
                return words;
            }
            Cli::Opencode => (
                &["run", "--format", "json"],
                if resume { &["--session", "ID"] } else { &[] },
                &[],
            ),
            Cli::Pi => (
                &["-p", "--mode", "json"],
                if resume { &["--session", "ID"] } else { &[] },
                &[],
            ),
            Cli::Gemini | Cli::Qwen => (
                &["--output-format", "stream-json"],
                if resume {
                    &["--resume", "ID"]
                } else {
                    &["--session-id", "ID"]
                },
                if self == Cli::Gemini { &["-p"] } else { &[] },
            ),
            Cli::Cursor => (
                &["-p", "--output-format", "stream-json"],
                if resume { &["--resume", "ID"] } else { &[] },
                &[],
            ),
        };
        let mut words: Vec<&str> = head.to_vec();
        words.extend(session);
        words.extend(self.profile_args());
        words.extend(tail);
        words
    }

    /// What the CLI says on stderr when asked to resume a session it does not know,
    /// and its exit status (measured; cursor's is the fake's own guess).
    fn unknown_session(self, id: &str) -> (String, i32) {
        match self {
            Cli::Claude => (format!("No conversation found with session ID: {id}"), 1),
            Cli::Codex => (
                format!(
                    "Error: thread/resume: thread/resume failed: no rollout found for thread id \
                     {id} (code -32600)"
                ),
                1,
            ),
            Cli::Opencode => ("Error: Session not found".to_owned(), 1),
            Cli::Pi => (format!("No session found matching '{id}'"), 1),
            Cli::Gemini => (
                format!("Error resuming session: Invalid session identifier \"{id}\"."),
                42,
            ),
            Cli::Qwen => (format!("No saved session found with ID {id}."), 1),
            Cli::Cursor => (format!("Error: session not found: {id}"), 1),
        }
    }

    /// The CLI's exit status when the model server rejects its credentials (measured).
    fn error_status(self) -> i32 {
        match self {
            Cli::Gemini => 145,
            Cli::Pi | Cli::Qwen => 0,
            _ => 1,
        }
    }
}

// --- the fake CLI and what it recorded -------------------------------------------------

/// Where the fake CLI keeps its calls and sessions.
fn state(t: &Test) -> PathBuf {
    t.path().join("cli")
}

/// Writes the fake `cli` (at `<test>/<cli name>`).
fn with_fake(t: Test, cli: Cli) -> Test {
    let dir = state(&t);
    std::fs::create_dir_all(&dir).unwrap();
    let body = format!(
        "CLI={}\nSTATE='{}'\nFIXTURES='{FIXTURES}'\n{FAKE}",
        cli.name(),
        dir.display()
    );
    t.agent(cli.name(), &body)
}

/// The YAML list of `args`.
fn yaml_list(args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A test whose default profile runs the fake `cli` headless, with `args`.
fn headless_with_args(cli: Cli, args: &[&str]) -> Test {
    let t = with_fake(Test::new(), cli);
    let cfg = format!(
        "default_profile: {n}\nprofiles:\n  {n}:\n    command: {}\n    interface: {n}\n    \
         headless: true\n    args: {}\n",
        t.agent_path(cli.name()),
        yaml_list(args),
        n = cli.name()
    );
    t.config(&cfg)
}

/// A test whose default profile runs the fake `cli` headless, with its usual args.
fn headless(cli: Cli) -> Test {
    headless_with_args(cli, cli.profile_args())
}

/// Creates the file `name` in the fake CLI's state directory (`fail`, `block`, ...).
fn touch(t: &Test, name: &str) {
    std::fs::write(state(t).join(name), "").unwrap();
}

/// The arguments of the fake's `n`th call.
fn call_argv(t: &Test, n: usize) -> Vec<String> {
    read_nul_list(&state(t).join(format!("calls/argv.{n}")))
}

/// The session the fake's `n`th call worked in.
fn call_session(t: &Test, n: usize) -> String {
    let path = state(t).join(format!("calls/id.{n}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim_end().to_owned()
}

/// Everything the fake's `n`th call wrote on stdout.
fn call_stdout(t: &Test, n: usize) -> Vec<u8> {
    std::fs::read(state(t).join(format!("calls/out.{n}"))).unwrap()
}

/// Asserts `argv` is `expected` (`ID` standing for `id`) followed by a prompt that
/// starts with `task`.
#[track_caller]
fn assert_argv(argv: &[String], expected: &[&str], id: &str, task: &str) {
    let (prompt, words) = argv.split_last().expect("some arguments");
    let want: Vec<String> = expected
        .iter()
        .map(|w| if *w == "ID" { id } else { w }.to_owned())
        .collect();
    assert_eq!(words, want.as_slice(), "the arguments before the prompt");
    assert!(
        prompt.starts_with(&format!("{task}\n")),
        "the prompt is the last argument: {argv:?}"
    );
}

// --- runs -----------------------------------------------------------------------------

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", context(out)))
}

fn context(out: &std::process::Output) -> String {
    format!(
        "\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn assert_status(out: &std::process::Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", context(out));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

fn manifest(dir: &Path) -> Value {
    read_json(&dir.join("run.json"))
}

fn newest(t: &Test) -> PathBuf {
    t.run_dirs().pop().expect("a run directory")
}

fn run_id(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("output.log")).unwrap()
}

/// Asserts a person can read `text`: no line of it is a JSON event.
#[track_caller]
fn assert_readable(what: &str, text: &str) {
    let raw: Vec<&str> = text.lines().filter(|l| l.starts_with("{\"")).collect();
    assert!(
        raw.is_empty(),
        "raw JSON in {what}: {raw:?}\n--- {what}:\n{text}"
    );
}

// --- 1. every CLI headless: session, events, transcript, continue --------------------

/// A new run, `continue` in the same session, and `continue` of a session the CLI no
/// longer knows.
fn headless_round_trip(cli: Cli) {
    let t = headless(cli);
    let out = t.exec(["--json", "first task"]);
    assert_status(&out, 0);
    let v = json(&out);
    let id = call_session(&t, 0);
    assert_argv(
        &call_argv(&t, 0),
        &cli.headless_argv(false),
        &id,
        "first task",
    );
    assert_eq!(v["session_id"], id.as_str(), "{}", context(&out));
    assert_eq!(
        v["summary"],
        format!("summary from {}, call 0\n", cli.name())
    );
    let first = newest(&t);
    assert_eq!(manifest(&first)["session_id"], id.as_str());
    // The raw events, exactly as the CLI wrote them, are kept.
    let events = std::fs::read(first.join("events.jsonl")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&events),
        String::from_utf8_lossy(&call_stdout(&t, 0))
    );
    assert!(String::from_utf8_lossy(&events).contains(&id));
    let transcript = log(&first);
    assert_readable("output.log", &transcript);
    assert!(
        transcript.contains(cli.last_text()),
        "output.log lacks the final message:\n{transcript}"
    );

    // The next step, in the same session: the CLI's own resume words, in their place.
    let parent = run_id(&first);
    let out = t.exec(["continue", &parent, "--json", "next step"]);
    assert_status(&out, 0);
    let v = json(&out);
    assert_argv(
        &call_argv(&t, 1),
        &cli.headless_argv(true),
        &id,
        "next step",
    );
    assert_eq!(call_session(&t, 1), id, "the CLI resumed the session");
    assert_eq!(v["session_id"], id.as_str());
    assert_eq!(
        v["summary"],
        format!("summary from {}, call 1\n", cli.name())
    );
    assert_eq!(v["parent"], parent.as_str());
    assert_eq!(v["continuation"], "resume");
    assert_readable("output.log", &log(&newest(&t)));

    // The CLI forgot its sessions (another machine, its store wiped): resuming fails as
    // the CLI fails, and says why.
    std::fs::remove_file(state(&t).join("sessions")).unwrap();
    let out = t.exec(["continue", &parent, "once more"]);
    assert_status(&out, 1);
    let (says, status) = cli.unknown_session(&id);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&says),
        "stderr lacks {says:?}{}",
        context(&out)
    );
    let m = manifest(&newest(&t));
    assert_eq!(m["status"], "failed");
    assert_eq!(m["exit_code"], status);
    assert_eq!(m["session_id"], id.as_str(), "the session asked for");
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "the agent exited with status {status} without writing a summary"
        )),
        "{reason}"
    );
    // claude says why in its stream too (a `result` whose session id is a random one,
    // not a session it started).
    if cli == Cli::Claude {
        assert!(reason.ends_with(&format!(": {says}")), "{reason}");
    }
    let argv = call_argv(&t, 2);
    assert_argv(&argv, &cli.headless_argv(true), &id, "once more");
}

#[test]
fn claude_headless_session_and_continue() {
    headless_round_trip(Cli::Claude);
}

#[test]
fn codex_headless_session_and_continue() {
    headless_round_trip(Cli::Codex);
}

#[test]
fn opencode_headless_session_and_continue() {
    headless_round_trip(Cli::Opencode);
}

#[test]
fn pi_headless_session_and_continue() {
    headless_round_trip(Cli::Pi);
}

#[test]
fn gemini_headless_session_and_continue() {
    headless_round_trip(Cli::Gemini);
}

#[test]
fn qwen_headless_session_and_continue() {
    headless_round_trip(Cli::Qwen);
}

#[test]
fn cursor_headless_session_and_continue() {
    headless_round_trip(Cli::Cursor);
}

/// codex 0.169.0 answers `exec resume NAME`, for a name that matches no thread, with a
/// new thread and exit 0. The relay stops it: the run fails, keeps the session it was
/// asked for, and says what happened.
#[test]
fn codex_resuming_into_another_thread_fails_the_run() {
    let t = headless(Cli::Codex);
    let out = t.exec(["first task"]);
    assert_status(&out, 0);
    let first = newest(&t);
    // The session known by a name (as a person may give one, or a codex that named it):
    // the relay's record is where `continue` takes it from.
    let stream = first.join("stream.json");
    let mut facts = read_json(&stream);
    assert_eq!(facts["session_id"], call_session(&t, 0).as_str());
    facts["session_id"] = "nightly-refactor".into();
    std::fs::write(&stream, facts.to_string()).unwrap();

    let out = t.exec(["continue", &run_id(&first), "next step"]);
    assert_status(&out, 1);
    let argv = call_argv(&t, 1);
    assert_argv(
        &argv,
        &Cli::Codex.headless_argv(true),
        "nightly-refactor",
        "next step",
    );
    let started = call_session(&t, 1);
    assert_ne!(started, "nightly-refactor");
    let says = format!(
        "agent-offload: codex was asked to resume session nightly-refactor but started \
         session {started}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&says),
        "stderr lacks {says:?}{}",
        context(&out)
    );
    let second = newest(&t);
    assert!(log(&second).contains(&says));
    assert!(
        !second.join("done.md").exists(),
        "the new thread never went on"
    );
    let m = manifest(&second);
    assert_eq!(m["status"], "failed");
    assert_eq!(m["session_id"], "nightly-refactor");
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.contains("new session instead of resuming"),
        "{reason}"
    );
}

// --- 2. degradation --------------------------------------------------------------------

/// Events of a type nobody knows are announced once per type and shown raw; lines that
/// are not JSON pass through; the run goes on.
fn unknown_events_degrade(cli: Cli) {
    let t = headless(cli);
    std::fs::write(
        state(&t).join("inject"),
        "{\"type\":\"telemetry\",\"n\":1}\n\
         plain words from the CLI\n\
         {\"type\":\"telemetry\",\"n\":2}\n\
         {\"type\":\"rate_limit\",\"wait\":0}\n\
         {not json at all\n",
    )
    .unwrap();
    let out = t.exec(["task"]);
    assert_status(&out, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("summary from {}, call 0\n", cli.name())
    );
    let dir = newest(&t);
    let transcript = log(&dir);
    let notice = |kind: &str| {
        format!(
            "agent-offload: unrecognised {} event \"{kind}\"; showing such events raw\n",
            cli.name()
        )
    };
    let telemetry = notice("telemetry");
    assert_eq!(
        transcript.matches(&telemetry).count(),
        1,
        "one notice per type:\n{transcript}"
    );
    for expected in [
        format!("{telemetry}{{\"type\":\"telemetry\",\"n\":1}}\nplain words from the CLI\n"),
        "{\"type\":\"telemetry\",\"n\":2}\n".to_owned(),
        format!(
            "{}{{\"type\":\"rate_limit\",\"wait\":0}}\n",
            notice("rate_limit")
        ),
        "\n{not json at all\n".to_owned(),
        cli.last_text().to_owned(),
    ] {
        assert!(
            transcript.contains(&expected),
            "output.log lacks {expected:?}:\n{transcript}"
        );
    }
    assert_eq!(manifest(&dir)["session_id"], call_session(&t, 0).as_str());
}

#[test]
fn claude_unknown_events_are_announced_once_and_shown_raw() {
    unknown_events_degrade(Cli::Claude);
}

#[test]
fn codex_unknown_events_are_announced_once_and_shown_raw() {
    unknown_events_degrade(Cli::Codex);
}

/// A profile that chooses the output format itself gets the CLI's output as it is: no
/// relay, no stream flags added, a raw output.log and no events.jsonl.
fn own_output_format_is_not_relayed(cli: Cli, args: &[&str], expected: &[&str]) {
    let t = headless_with_args(cli, args);
    let out = t.exec(["task"]);
    assert_status(&out, 0);
    let id = call_session(&t, 0);
    assert_argv(&call_argv(&t, 0), expected, &id, "task");
    let dir = newest(&t);
    // (and what it wrote on stderr: gemini's notices)
    let transcript = log(&dir);
    let stdout = String::from_utf8(call_stdout(&t, 0)).unwrap();
    assert!(
        transcript.contains(&stdout),
        "output.log is not the CLI's stdout as it is:\n{transcript}"
    );
    assert!(!dir.join("events.jsonl").exists());
    assert!(!dir.join("stream.json").exists());
    // The id assigned up front is still known.
    assert_eq!(manifest(&dir)["session_id"], id.as_str());
}

#[test]
fn claude_profile_with_its_own_output_format_is_not_relayed() {
    own_output_format_is_not_relayed(
        Cli::Claude,
        &["--output-format=stream-json", "--verbose"],
        &[
            "-p",
            "--session-id",
            "ID",
            "--output-format=stream-json",
            "--verbose",
            "--",
        ],
    );
}

#[test]
fn gemini_profile_with_its_own_output_format_is_not_relayed() {
    own_output_format_is_not_relayed(
        Cli::Gemini,
        &["-o", "stream-json"],
        &["--session-id", "ID", "-o", "stream-json", "-p"],
    );
}

// --- 3. the session id survives a SIGKILLed agent-offload -----------------------------

enum Then {
    /// Let the agent finish; `wait` re-attaches.
    Wait,
    /// `cancel` it.
    Cancel,
}

/// The fake reports its session, then waits for the model; agent-offload is killed
/// (SIGKILL: no chance to record anything). Once the run is concluded, by `wait` or
/// `cancel`, its session is the one from the events.
fn session_survives_sigkill(cli: Cli, then: &Then) {
    let t = headless(cli);
    touch(&t, "block");
    let t = t.arg("long task");
    let mut child = t.spawn();
    let mut dir = PathBuf::new();
    // Gates: the relay has recorded the session, and agent-offload the launcher. (Killed
    // before it records the launcher, which the relay can beat under load, the run is
    // concluded `lost` by the next `show` while its agent goes on, never stopped: a race
    // of its own, not what this test is about.)
    let recorded = |dir: &Path, file: &str, field: &str| {
        std::fs::read_to_string(dir.join(file)).is_ok_and(|text| {
            serde_json::from_str::<Value>(&text).is_ok_and(|v| !v[field].is_null())
        })
    };
    eventually(
        Duration::from_secs(30),
        "the session and the launcher to be recorded",
        || {
            let Some(d) = t.run_dirs().pop() else {
                return false;
            };
            dir = d;
            recorded(&dir, "stream.json", "session_id") && recorded(&dir, "run.json", "launcher")
        },
    );
    let id = call_session(&t, 0);
    child.kill().unwrap();
    let killed = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(killed.status.code(), None, "killed by a signal");
    let run = run_id(&dir);
    let shown = json(&t.exec(["show", &run, "--json"]));
    assert_eq!(shown["status"], "running", "the agent goes on: {shown}");

    let status = match then {
        Then::Wait => {
            std::fs::write(state(&t).join("release"), "").unwrap();
            let out = t.exec(["wait", &run, "--json"]);
            assert_status(&out, 0);
            let v = json(&out);
            assert_eq!(v["session_id"], id.as_str());
            assert_eq!(
                v["summary"],
                format!("summary from {}, call 0\n", cli.name())
            );
            "done"
        }
        Then::Cancel => {
            let out = t.exec(["cancel", &run]);
            assert_status(&out, 0);
            "cancelled"
        }
    };
    let shown = json(&t.exec(["show", &run, "--json"]));
    assert_eq!(shown["status"], status);
    assert_eq!(shown["session_id"], id.as_str(), "{shown}");
    let listed = json(&t.exec(["runs", "--json"]));
    assert_eq!(listed[0]["session_id"], id.as_str(), "{listed}");
    assert_eq!(manifest(&dir)["session_id"], id.as_str());
}

#[test]
fn codex_session_survives_sigkill_then_wait() {
    session_survives_sigkill(Cli::Codex, &Then::Wait);
}

#[test]
fn opencode_session_survives_sigkill_then_cancel() {
    session_survives_sigkill(Cli::Opencode, &Then::Cancel);
}

#[test]
fn claude_session_survives_sigkill_then_wait() {
    session_survives_sigkill(Cli::Claude, &Then::Wait);
}

// --- 4. failed runs --------------------------------------------------------------------

/// The model server rejects the credentials (each CLI's measured 401 stream and exit
/// status): the run fails without a summary, stdout shows the agent's last words
/// readably, and the reason carries the CLI's error.
fn rejected_credentials_fail_readably(cli: Cli) {
    let t = headless(cli);
    touch(&t, "fail");
    let out = t.exec(["task"]);
    assert_status(&out, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_readable("stdout", &stdout);
    assert!(
        stdout.contains("credentials rejected"),
        "stdout lacks the agent's last words{}",
        context(&out)
    );
    let dir = newest(&t);
    assert!(!dir.join("done.md").exists());
    let m = manifest(&dir);
    assert_eq!(m["status"], "failed");
    assert_eq!(m["exit_code"], cli.error_status());
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "the agent exited with status {} without writing a summary: ",
            cli.error_status()
        )),
        "{reason}"
    );
    assert!(reason.contains("credentials rejected"), "{reason}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(reason),
        "stderr gives the reason{}",
        context(&out)
    );
    assert_eq!(m["session_id"], call_session(&t, 0).as_str());
    assert_readable("output.log", &log(&dir));
}

#[test]
fn claude_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Claude);
}

#[test]
fn codex_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Codex);
}

#[test]
fn opencode_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Opencode);
}

#[test]
fn pi_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Pi);
}

#[test]
fn gemini_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Gemini);
}

#[test]
fn qwen_rejected_credentials_fail_readably() {
    rejected_credentials_fail_readably(Cli::Qwen);
}

/// The agent answered but forgot to publish its summary: the run fails, and stdout is
/// the agent's last message from its events (gemini's streamed deltas joined), not the
/// log's tail; `show --json` has it too.
#[test]
fn a_forgotten_summary_shows_the_final_message() {
    std::thread::scope(|s| {
        for cli in Cli::ALL {
            s.spawn(move || {
                let t = headless(cli);
                touch(&t, "forget");
                let out = t.exec(["task"]);
                assert_status(&out, 1);
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    format!("{}\n", cli.final_message()),
                    "{cli:?}{}",
                    context(&out)
                );
                let dir = newest(&t);
                let shown = json(&t.exec(["show", &run_id(&dir), "--json"]));
                assert_eq!(shown["status"], "failed");
                assert_eq!(shown["final_message"], cli.final_message(), "{cli:?}");
                assert_eq!(shown["session_id"], call_session(&t, 0).as_str());
            });
        }
    });
}

/// A CLI that exits while a child a tool started (a dev server) still holds its stdout:
/// the run ends with the CLI, not with the child (which would be never without
/// `--timeout`), and the child is stopped with the run.
#[test]
fn a_cli_that_exits_while_a_child_holds_its_stdout_ends_the_run() {
    std::thread::scope(|s| {
        for cli in Cli::ALL {
            s.spawn(move || {
                let marker = format!("9310.{}", crate::harness::unique());
                let t = headless(cli);
                touch(&t, "forget");
                std::fs::write(state(&t).join("linger"), &marker).unwrap();
                let out = t.exec(["--timeout", "40s", "task"]);
                let left = crate::harness::processes_with(format!("sleep {marker}").as_bytes());
                assert_status(&out, 1);
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    format!("{}\n", cli.final_message()),
                    "{cli:?}{}",
                    context(&out)
                );
                assert!(
                    left.is_empty(),
                    "{cli:?}: the child outlived the run: {left:?}"
                );
                let m = manifest(&newest(&t));
                assert_eq!(m["status"], "failed", "{cli:?}");
            });
        }
    });
}

// --- 5. tmux: the session found in the CLI's store ------------------------------------

/// The other runs' sessions a store holds: `count` files named like the CLI's, written
/// now, each naming another run directory of the same state directory.
fn other_runs(t: &Test, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let id = format!("0190aaaa-bbbb-4ccc-8ddd-{i:012}");
            let other_dir = t.runs_root().join(format!("20200101-000000-000-{i:04x}"));
            let prompt = format!(
                "another task\\nWrite it to: {}/done.md.tmp",
                other_dir.display()
            );
            (id, prompt)
        })
        .collect()
}

/// A test with a tmux server whose panes have this test's HOME, and the fake `cli` as
/// the default (tmux) profile.
fn tmux_fake(cli: Cli) -> (Test, TmuxServer) {
    let t = with_fake(Test::new(), cli);
    // The panes' HOME is the server's: the same as agent-offload's here.
    let server = TmuxServer::start(&t.path().join("home"), &t.work());
    let cfg = format!(
        "default_profile: {n}\nprofiles:\n  {n}:\n    command: {}\n    interface: {n}\n    \
         args: {}\n",
        t.agent_path(cli.name()),
        yaml_list(cli.profile_args()),
        n = cli.name()
    );
    let t = t.config(&cfg).in_tmux(&server);
    (t, server)
}

/// Today's UTC date as codex names its session directories (`YYYY/MM/DD`).
fn utc_day() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y/%m/%d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The TUI's run finds its session in the store; `continue` resumes it in a pane.
fn tmux_store_round_trip(t: &Test, resume_argv: &[&str]) {
    let out = t.exec(["tui task"]);
    assert_status(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("summary from the"));
    let id = call_session(t, 0);
    let first = newest(t);
    let m = manifest(&first);
    assert_eq!(m["mode"], "tmux");
    assert_eq!(
        m["session_id"],
        id.as_str(),
        "the session of this run's store file"
    );

    let out = t.exec(["continue", &run_id(&first), "next step"]);
    assert_status(&out, 0);
    assert_argv(&call_argv(t, 1), resume_argv, &id, "next step");
    assert_eq!(call_session(t, 1), id);
    let m = manifest(&newest(t));
    assert_eq!(m["mode"], "tmux");
    assert_eq!(m["session_id"], id.as_str());
}

#[test]
fn codex_tui_session_is_found_in_its_store_and_resumed() {
    let (t, _server) = tmux_fake(Cli::Codex);
    let codex_home = t.path().join("codex-home");
    // CODEX_HOME from the profile: the pane's and agent-offload's.
    let cfg = std::fs::read_to_string(t.config_path()).unwrap()
        + &format!("    env:\n      CODEX_HOME: {}\n", codex_home.display());
    let t = t.config(&cfg);
    let day = codex_home.join("sessions").join(utc_day());
    std::fs::create_dir_all(&day).unwrap();
    for (id, prompt) in other_runs(&t, 16) {
        std::fs::write(
            day.join(format!("rollout-2020-01-01T00-00-00-{id}.jsonl")),
            format!(
                "{{\"type\":\"session_meta\",\"payload\":{{\"id\":\"{id}\",\"cwd\":\"{}\"}}}}\n\
                 {{\"type\":\"response_item\",\"payload\":{{\"text\":\"{prompt}\"}}}}\n",
                t.work().display()
            ),
        )
        .unwrap();
    }
    // codex's TUI resumes with its `resume` subcommand after the flags, `--no-daemon`
    // first (and no `--` before the prompt).
    let resume: Vec<&str> = ["--no-daemon"]
        .into_iter()
        .chain(Cli::Codex.profile_args().iter().copied())
        .chain(["resume", "ID"])
        .collect();
    tmux_store_round_trip(&t, &resume);
    let first = call_argv(&t, 0);
    assert_eq!(
        first[..3],
        [
            "--no-daemon",
            "--dangerously-bypass-approvals-and-sandbox",
            "--"
        ]
    );
}

#[test]
fn pi_tui_session_is_found_in_its_store_and_resumed() {
    let (t, _server) = tmux_fake(Cli::Pi);
    let cwd = t.work().canonicalize().unwrap();
    let project = format!(
        "--{}--",
        cwd.to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "-")
    );
    let sessions = t.path().join("home/.pi/agent/sessions").join(project);
    std::fs::create_dir_all(&sessions).unwrap();
    for (id, prompt) in other_runs(&t, 16) {
        std::fs::write(
            sessions.join(format!("2020-01-01T00-00-00-000Z_{id}.jsonl")),
            format!(
                "{{\"type\":\"session\",\"version\":3,\"id\":\"{id}\",\"cwd\":\"{}\"}}\n\
                 {{\"type\":\"message\",\"message\":{{\"text\":\"{prompt}\"}}}}\n",
                cwd.display()
            ),
        )
        .unwrap();
    }
    let resume: Vec<&str> = ["--session", "ID"]
        .into_iter()
        .chain(Cli::Pi.profile_args().iter().copied())
        .collect();
    tmux_store_round_trip(&t, &resume);
    assert_argv(&call_argv(&t, 0), Cli::Pi.profile_args(), "", "tui task");
}

// --- 6. --stream -----------------------------------------------------------------------

/// `--stream` copies the readable transcript to stderr: never the raw events.
fn stream_shows_the_transcript(cli: Cli) {
    let t = headless(cli);
    let out = t.exec(["--stream", "task"]);
    assert_status(&out, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("summary from {}, call 0\n", cli.name())
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_readable("stderr", &stderr);
    let id = call_session(&t, 0);
    for expected in [format!("session {id}"), cli.last_text().to_owned()] {
        assert!(
            stderr.contains(&expected),
            "stderr lacks {expected:?}{}",
            context(&out)
        );
    }
}

#[test]
fn claude_stream_shows_the_transcript() {
    stream_shows_the_transcript(Cli::Claude);
}

#[test]
fn codex_stream_shows_the_transcript() {
    stream_shows_the_transcript(Cli::Codex);
}

#[test]
fn pi_stream_shows_the_transcript() {
    stream_shows_the_transcript(Cli::Pi);
}
