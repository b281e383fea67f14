//! The command line itself: options written before a subcommand, options after the
//! prompt, a closed stdout, the help text.

use std::process::Output;

use crate::harness::{Test, init_repo};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A headless profile `fake` (and `other`, the same agent) in a git repository: it
/// prints two lines, then asks a question when its prompt says ASK, else publishes
/// `first line` and `second line` and adds a file.
fn setup() -> Test {
    let t = Test::new().agent(
        "fake",
        r#"echo "log one"; echo "log two"
d="$AGENT_OFFLOAD_RUN_DIR"
case "$last" in
  *ASK*) printf 'Which one?\nA or B\n' >"$d/q.tmp" && mv "$d/q.tmp" "$d/question.md";;
  *) echo new >"new-$$.txt"; publish "first line
second line";;
esac"#,
    );
    let cfg = format!(
        "default_profile: fake\nprofiles:\n  fake:\n    command: {0}\n    headless: true\n  other:\n    command: {0}\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    let repo = init_repo(&t.work());
    std::fs::write(repo.join("a.txt"), "a\n").unwrap();
    crate::harness::git(&repo, &["add", "-A"]);
    crate::harness::git(&repo, &["commit", "-qm", "start"]);
    t
}

/// What is wrong with a command's end with its stdout closed, if anything.
fn complaint(args: &[&str], out: &Output, code: i32) -> Option<String> {
    let err = text(&out.stderr);
    let quiet = !err.contains("panicked") && !err.to_lowercase().contains("broken pipe");
    (out.status.code() != Some(code) || !quiet).then(|| {
        format!(
            "{args:?}: {:?}, expected exit {code} and no complaint; stderr:\n{err}",
            out.status
        )
    })
}

/// Every command that prints on stdout treats a reader that is gone (`| head -1`) as
/// the end of its output: no panic (exit 101, a stack trace), no error, the exit code
/// it has with the reader there. The read end is closed before the command starts, so
/// the first write fails: deterministic, where racing `head` is not.
#[test]
fn a_closed_stdout_is_a_quiet_end() {
    let t = setup();
    let dir = t.path().join("pages");
    let dir = dir.to_str().unwrap();
    // Runs to look at: a done worktree run and one that asks a question.
    for args in [&["--worktree", "first"][..], &["ASK me"]] {
        let out = t.exec(args);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            text(&out.stderr)
        );
    }
    // The same code as with the reader there (read-only commands).
    let same: &[&[&str]] = &[
        &["show"],
        &["show", "--json"],
        &["runs"],
        &["runs", "--json"],
        &["runs", "--all"],
        &["logs", "last"],
        &["logs", "-f", "last"],
        &["wait", "last"],
        &["wait", "last", "--json"],
        &["profiles"],
        &["profiles", "--json"],
        &["doctor"],
        &["top", "--once"],
        &["man"],
        &["man", "--dir", dir],
        &["completions", "bash"],
        &["config", "schema"],
        &["install-skill", "--all", "--dry-run"],
        &["uninstall-skill", "--dry-run"],
        &["prune", "--older-than", "1s", "--dry-run"],
        &["--help"],
        &["--version"],
        &["show", "--help"],
    ];
    let mut wrong = Vec::new();
    for args in same {
        let open = t.exec(*args);
        let closed = t.exec_stdout_closed(*args);
        wrong.extend(complaint(args, &closed, open.status.code().unwrap()));
    }
    // Commands that change something, with the code each has.
    let changing: &[(&[&str], i32)] = &[
        (&["apply", "--conflicts=markers"], 0),
        (&["new task"], 0),
        (&["--json", "new task"], 0),
        (&["ASK again"], 3),
        (&["continue", "last", "--fresh", "B"], 3),
        (&["-p", "fake", "-p", "other", "fan out"], 0),
        (&["--json", "-p", "fake", "-p", "other", "fan out"], 0),
        (&["prune", "--older-than", "1s"], 0),
        (&["init", "--project"], 0),
    ];
    for (args, code) in changing {
        let closed = t.exec_stdout_closed(*args);
        wrong.extend(complaint(args, &closed, *code));
    }
    assert!(
        wrong.is_empty(),
        "with stdout closed:\n{}",
        wrong.join("\n")
    );
}

/// A stderr nobody reads (`2>&1 | head -1` gone, a host that closed it) is no panic:
/// every command still does its work and ends with the code it has with a reader there,
/// its stdout whole. (Each of these says something on stderr.)
#[test]
fn a_closed_stderr_changes_nothing() {
    let t = setup();
    let cases: &[(&[&str], i32)] = &[
        (&["a task"], 0),
        (&["--worktree", "in a worktree"], 0),
        (&["ASK me"], 3),
        (&["show", "no-such-run"], 2),
        (&["--no-such-option"], 2),
        (&["-p", "fake", "-p", "other", "fan out"], 0),
        (&["doctor"], 0),
    ];
    let mut wrong = Vec::new();
    for (args, code) in cases {
        let out = t.exec_stderr_closed(*args);
        if out.status.code() != Some(*code) {
            wrong.push(format!(
                "{args:?}: {:?}, expected exit {code}; stdout:\n{}",
                out.status,
                text(&out.stdout)
            ));
        }
    }
    let out = t.exec_stderr_closed(["a task"]);
    assert_eq!(text(&out.stdout), "first line\nsecond line\n");
    assert!(
        wrong.is_empty(),
        "with stderr closed:\n{}",
        wrong.join("\n")
    );
}

/// The headings of a help text: its lines that start a section (`Name:` alone).
fn headings(help: &str) -> Vec<String> {
    help.lines()
        .filter(|l| {
            !l.starts_with(' ') && l.ends_with(':') && !l.contains(' ')
                || l == &"Prompt and profile:"
                || l == &"Worktree and fan-out:"
                || l == &"Worktree and check:"
        })
        .map(str::to_owned)
        .collect()
}

/// `run`'s options are grouped under headings, in `--help` and `-h`, for the default
/// command, `run` and `continue`; the plain "Options" keeps only help and version.
#[test]
fn help_groups_the_options() {
    let t = Test::new();
    for args in [
        &["--help"][..],
        &["-h"],
        &["run", "--help"],
        &["continue", "--help"],
    ] {
        let out = t.exec(args);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        let found = headings(&help);
        // continue starts no fan-out: its worktree options are under their own heading.
        let worktree = if args[0] == "continue" {
            "Worktree and check:"
        } else {
            "Worktree and fan-out:"
        };
        for h in [
            "Options:",
            "Prompt and profile:",
            "Mode:",
            "Limits:",
            worktree,
            "Output:",
        ] {
            assert!(
                found.iter().any(|f| f == h),
                "{args:?}: no {h} in {found:?}\n{help}"
            );
        }
        let options = help.split("\nOptions:\n").nth(1).unwrap();
        let options = options.split("\nPrompt and profile:\n").next().unwrap();
        for word in [
            "--profile",
            "--timeout",
            "--json",
            "--worktree",
            "--headless",
        ] {
            assert!(
                !options.contains(word),
                "{args:?}: {word} under Options:\n{options}"
            );
        }
    }
}

/// `continue --help` offers only what continue takes: not the fan-out options it
/// refuses. Given anyway, the refusal names the option given, before anything else is
/// looked at (no run is needed to be told), and nothing starts.
#[test]
fn continue_offers_no_fan_out_and_its_refusals_name_the_option() {
    let t = Test::new();
    for args in [&["continue", "--help"][..], &["continue", "-h"]] {
        let out = t.exec(args);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        for word in ["--judge", "--max-parallel", "fan-out", "more than once"] {
            assert!(!help.contains(word), "{args:?} offers {word}:\n{help}");
        }
        assert!(help.contains("--profile"), "{help}");
    }
    for (args, named) in [
        (
            &["continue", "last", "--judge", "j", "go on"][..],
            "--judge",
        ),
        (
            &["continue", "last", "--max-parallel", "2", "go on"],
            "--max-parallel",
        ),
        (
            &["continue", "last", "-p", "a", "-p", "b", "go on"],
            "-p/--profile given 2 times",
        ),
    ] {
        let out = t.exec(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("agent-offload: continue does not take {named}: ")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("a fan-out"), "{stderr}");
    }
    assert!(t.run_dirs().is_empty(), "nothing started");
}
