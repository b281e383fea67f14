//! Conversations: a question from the agent (`needs_input`, exit 3), `continue` resuming
//! the exact session, and the hand-off of a run's work to a fresh session.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Test, read_nul_list};

/// A generic fake agent that records its arguments in `argv.<n>` (n counts its runs),
/// reports the session id `sess-<n>`, and asks a question on its first run unless its
/// prompt says `FINISH`; a run with `--resume ID` publishes `resumed ID`.
fn conversational(t: Test) -> Test {
    let log = t.path().join("calls");
    std::fs::create_dir_all(&log).unwrap();
    let body = format!(
        r#"n=$(ls '{log}' | wc -l | tr -d ' ')
for a in "$@"; do printf '%s\0' "$a"; done >'{log}/argv.'$n
d="$AGENT_OFFLOAD_RUN_DIR"
printf 'sess-%s\n' "$n" >"$d/session_id"
prev=
for a in "$@"; do
  if [ "$prev" = --resume ]; then publish "resumed $a"; exit 0; fi
  prev=$a
done
case "$last" in
  *FINISH*) publish "finished";;
  *) printf 'Which colour: red or blue?\n' >"$d/question.md.tmp" && mv "$d/question.md.tmp" "$d/question.md";;
esac"#,
        log = log.display()
    );
    t.agent("fake", &body)
}

fn config(t: &Test, extra: &str) -> String {
    format!(
        "default_profile: fake\nprofiles:\n  fake:\n    command: {}\n    headless: true\n    \
         resume_args: [\"--resume\", \"{{session_id}}\"]\n  plain:\n    command: {0}\n    \
         headless: true\n{extra}",
        t.agent_path("fake")
    )
}

fn calls(t: &Test, n: usize) -> Vec<String> {
    read_nul_list(&t.path().join("calls").join(format!("argv.{n}")))
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

fn newest(t: &Test) -> PathBuf {
    t.run_dirs().pop().expect("a run directory")
}

/// The agent asks; agent-offload prints the question, exits 3 with status
/// `needs_input`; `continue RUN ANSWER` resumes that exact session with the answer.
#[test]
fn a_question_is_answered_in_the_same_session() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    let asked = t.exec(["paint the shed"]);
    assert_eq!(asked.status.code(), Some(3), "{asked:?}");
    assert_eq!(
        String::from_utf8_lossy(&asked.stdout),
        "Which colour: red or blue?\n"
    );
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert!(stderr.contains("needs input"), "{stderr}");
    assert!(stderr.contains("agent-offload continue "), "{stderr}");
    let first = newest(&t);
    let m = manifest(&first);
    assert_eq!(m["status"], "needs_input");
    assert_eq!(m["agent_offload_exit"], 3);
    assert_eq!(m["session_id"], "sess-0");

    // `show --json` and `runs --json` carry the session and the question.
    let shown = json(&t.exec(["show", "last", "--json"]));
    assert_eq!(shown["session_id"], "sess-0");
    assert_eq!(shown["question"], "Which colour: red or blue?\n");
    assert!(
        shown["answer_with"]
            .as_str()
            .unwrap()
            .starts_with("agent-offload continue ")
    );
    let listed = json(&t.exec(["runs", "--json"]));
    assert_eq!(listed[0]["session_id"], "sess-0");

    let answered = t.exec(["continue", "last", "--json", "blue"]);
    assert_eq!(answered.status.code(), Some(0), "{answered:?}");
    let result = json(&answered);
    assert_eq!(result["summary"], "resumed sess-0\n");
    assert_eq!(result["parent"], m["id"]);
    assert_eq!(result["continuation"], "resume");
    let argv = calls(&t, 1);
    assert_eq!(argv[..3], ["--resume", "sess-0", "--"]);
    assert!(argv[3].starts_with("blue\n"), "{argv:?}");
    // The new run has its own directory and completion instructions.
    let second = newest(&t);
    assert_ne!(first, second);
    assert!(argv[3].contains(&second.join("done.md").display().to_string()));
}

/// `--json` on a run that asks: the question and the command that answers it.
#[test]
fn needs_input_in_json() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    let out = t.exec(["--json", "paint"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!(v["status"], "needs_input");
    assert_eq!(v["agent_offload_exit"], 3);
    assert_eq!(v["question"], "Which colour: red or blue?\n");
    assert_eq!(v["summary"], Value::Null);
    assert_eq!(v["session_id"], "sess-0");
}

/// A run whose agent reported no session cannot be resumed: exit 2, nothing started,
/// and the message says how to hand the work off instead.
#[test]
fn no_session_id_is_a_usage_error() {
    let t = Test::new().agent(
        "fake",
        "d=\"$AGENT_OFFLOAD_RUN_DIR\"; printf 'Why?\\n' >\"$d/q\" && mv \"$d/q\" \"$d/question.md\"",
    );
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    resume_args: [\"-r\", \"{{session_id}}\"]\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    assert_eq!(t.exec(["go"]).status.code(), Some(3));
    let out = t.exec(["continue", "last", "because"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no session id to resume"), "{stderr}");
    assert!(stderr.contains("--fresh"), "{stderr}");
    assert_eq!(t.run_dirs().len(), 1, "nothing was started");
}

/// A generic profile without `resume_args` cannot resume (exit 2), and the config
/// refuses `resume_args` without the placeholder, naming the field.
#[test]
fn resuming_needs_resume_args() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    assert_eq!(t.exec(["-p", "plain", "paint"]).status.code(), Some(3));
    let out = t.exec(["continue", "last", "blue"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs resume_args"));

    let bad = format!(
        "profiles:\n  fake:\n    command: {}\n    resume_args: [\"--resume\"]\n",
        t.agent_path("fake")
    );
    let t = t.config(&bad);
    let out = t.exec(["profiles"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("field \"resume_args\": needs {session_id}"),
        "{stderr}"
    );
    assert!(stderr.contains("config.yaml:4"), "{stderr}");
}

/// A run still going cannot be continued (exit 2).
#[test]
fn a_running_run_cannot_be_continued() {
    let t = Test::new().agent("fake", "sleep 30");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    let out = t.exec(["--detach-after", "1ms", "go"]);
    assert_eq!(out.status.code(), Some(75));
    let cont = t.exec(["continue", "last", "more"]);
    assert_eq!(cont.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&cont.stderr).contains("is still running"));
    assert_eq!(t.exec(["cancel", "last"]).status.code(), Some(0));
}

/// A hand-off (`-p OTHER`) starts a fresh session seeded with the task, the summary,
/// the change list and the diff, then the new prompt.
#[test]
fn a_handoff_carries_the_work_to_a_fresh_session() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    let work = t.work();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&work)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(work.join("shed.txt"), "grey\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "start"]);
    // The first run changes a file, then finishes.
    let editor = t.path().join("fake");
    let body = std::fs::read_to_string(&editor).unwrap();
    crate::harness::write_executable(
        &editor,
        &body.replacen("prev=\n", "echo red >shed.txt\nprev=\n", 1),
    );
    let first = t.exec(["FINISH painting the shed red"]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let parent = newest(&t);

    // The seeded prompt holds the first task, FINISH included: the fake publishes.
    let out = t.exec(["continue", "last", "-p", "plain", "--json", "now the door"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["continuation"], "handoff");
    let argv = calls(&t, 1);
    assert!(!argv.iter().any(|a| a == "--resume"), "{argv:?}");
    let prompt = argv.last().unwrap();
    for needle in [
        "FINISH painting the shed red",
        "## What it reported\n\nfinished",
        "M shed.txt",
        "## Your task now\n\nnow the door",
    ] {
        assert!(prompt.contains(needle), "{needle:?} missing in {prompt}");
    }
    let diff = parent.join("changes.diff");
    assert!(prompt.contains(&diff.display().to_string()), "{prompt}");
    let patch = std::fs::read_to_string(&diff).unwrap();
    assert!(patch.contains("-grey\n+red\n"), "{patch}");
}

/// `--fresh` hands off even to the same profile.
#[test]
fn fresh_hands_off_to_the_same_profile() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    assert_eq!(t.exec(["paint"]).status.code(), Some(3));
    let out = t.exec(["continue", "last", "--fresh", "FINISH: blue"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let argv = calls(&t, 1);
    assert!(!argv.iter().any(|a| a == "--resume"), "{argv:?}");
    let prompt = argv.last().unwrap();
    assert!(
        prompt.contains("It stopped to ask this question"),
        "{prompt}"
    );
    assert!(prompt.contains("Which colour: red or blue?"), "{prompt}");
}

/// A claude profile gets `--session-id UUID` on a new run (recorded before the agent
/// starts), and `--resume UUID` on `continue`.
#[test]
fn claude_sessions_are_assigned_and_resumed() {
    let t = conversational(Test::new());
    let cfg = format!(
        "profiles:\n  claude:\n    command: {}\n    interface: claude\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    // The fake asks (its first argument is not --resume).
    assert_eq!(t.exec(["paint"]).status.code(), Some(3));
    let argv = calls(&t, 0);
    let at = argv
        .iter()
        .position(|a| a == "--session-id")
        .expect("--session-id");
    let id = argv[at + 1].clone();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(manifest(&newest(&t))["session_id"], id.as_str());
    let out = t.exec(["continue", "last", "blue"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let argv = calls(&t, 1);
    let at = argv.iter().position(|a| a == "--resume").expect("--resume");
    assert_eq!(argv[at + 1], id, "{out:?}");
    assert!(!argv.iter().any(|a| a == "--session-id"));
}

/// A chained hand-off carries each step's own words: the prompt of a hand-off is not
/// nested inside the next one (issue 21: "Then (step 2): You are taking over…").
#[test]
fn a_chained_handoff_keeps_each_steps_own_words() {
    let t = conversational(Test::new());
    let cfg = config(&t, "");
    let t = t.config(&cfg);
    for (i, step) in ["FINISH step one", "FINISH step two", "FINISH step three"]
        .iter()
        .enumerate()
    {
        let out = if i == 0 {
            t.exec([*step])
        } else {
            t.exec(["continue", "last", "--fresh", step])
        };
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        // What the run records as its task is the step as the user wrote it.
        let task = std::fs::read_to_string(newest(&t).join("task.md")).unwrap();
        assert_eq!(task, *step);
    }
    let prompt = calls(&t, 2).pop().unwrap();
    assert_eq!(prompt.matches("You are taking over").count(), 1, "{prompt}");
    assert!(
        prompt.contains(
            "## The task it was given\n\nFirst:\nFINISH step one\n\nThen (step 2):\n\
             FINISH step two\n\n## What it reported\n\nfinished\n\n"
        ),
        "{prompt}"
    );
    assert!(
        prompt.contains("## Your task now\n\nFINISH step three"),
        "{prompt}"
    );
}
