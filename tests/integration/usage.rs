//! Usage errors: exit 2, a clear message, and nothing launched.

use crate::harness::Test;

/// A test whose agent leaves a marker when it runs at all.
fn marking(headless: bool) -> Test {
    let t = Test::new();
    let marker = t.path().join("agent-ran");
    let t = t.agent("fake", &format!("touch '{}'; publish ok", marker.display()));
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: {headless}\n    env:\n      TOKEN: \
         {{from_env: SECRET_SRC}}\n",
        t.agent_path("fake")
    );
    t.config(&cfg).env("SECRET_SRC", "s3cret")
}

#[track_caller]
fn assert_nothing_launched(out: &crate::harness::Outcome) {
    assert!(
        !out.test.path().join("agent-ran").exists(),
        "the agent ran: {}",
        out.stderr()
    );
    assert!(
        !out.test.runs_root().exists(),
        "a run directory was created: {}",
        out.stderr()
    );
}

const NO_PROMPT: &str = "agent-offload: no prompt: give it as words (agent-offload \"fix the \
                         bug\"), with --prompt-file PATH, or on stdin (agent-offload < plan.md)";

/// stdin is /dev/null: not a terminal, but empty. That is "no prompt", said as such.
#[test]
fn no_prompt_with_stdin_at_dev_null() {
    let out = marking(true).run();
    out.status(2).stdout_is("");
    assert_eq!(out.stderr(), format!("{NO_PROMPT} (stdin was empty)\n"));
    assert_nothing_launched(&out);
}

#[test]
fn whitespace_only_prompts_are_refused() {
    let out = marking(true).arg(" \n\t ").run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        "agent-offload: the prompt from the command line is empty\n"
    );
    assert_nothing_launched(&out);

    let out = marking(true).stdin(" \n\n").run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        "agent-offload: the prompt from stdin is empty\n"
    );
    assert_nothing_launched(&out);

    let t = marking(true).file("blank.md", "\n   \n");
    let blank = t.path().join("blank.md");
    let out = t.arg("-f").arg(&blank).run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        "agent-offload: the prompt from the prompt file is empty\n"
    );
    assert_nothing_launched(&out);
}

#[test]
fn unreadable_prompt_file() {
    let t = marking(true);
    let missing = t.path().join("missing.md");
    let out = t.arg("-f").arg(&missing).run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: cannot read prompt file {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    assert_nothing_launched(&out);

    let t = marking(true);
    let binary = t.path().join("binary.md");
    std::fs::write(&binary, b"\xff\xfe not utf-8").unwrap();
    let out = t.arg("-f").arg(&binary).run();
    out.status(2);
    out.stderr_contains("is not UTF-8 text");
    assert_nothing_launched(&out);
}

#[test]
fn unknown_profile() {
    let out = marking(true).args(["-p", "nope", "do it"]).run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: no profile named \"nope\" in {} (profiles: fake)\n",
            out.test.config_path().display()
        )
    );
    assert_nothing_launched(&out);
}

#[test]
fn timeout_without_unit() {
    let out = marking(true).args(["--timeout", "90", "do it"]).run();
    out.status(2).stdout_is("");
    out.stderr_contains(
        "invalid value '90' for '--timeout <DURATION>': invalid duration \"90\": missing unit \
         (did you mean 90s or 90m?)",
    );
    assert_nothing_launched(&out);
}

#[test]
fn tmux_mode_outside_tmux() {
    // The profile says tmux (the default): every way out, `headless: auto` included.
    let out = marking(false)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .arg("do it")
        .run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: not inside tmux ($TMUX and $TMUX_PANE are not set): run \
             agent-offload from a tmux pane, add -H (--headless) to run the agent headless, or \
             set `headless: auto` for profile \"fake\" in {} (headless outside tmux, a pane \
             inside)\n",
            out.test.config_path().display()
        )
    );
    assert_nothing_launched(&out);
    // --tmux forces it over a headless profile (so the profile's setting is no way out);
    // TMUX alone is not enough.
    let out = marking(true)
        .env("TMUX", "/tmp/nonexistent-socket,1,0")
        .env_remove("TMUX_PANE")
        .args(["--tmux", "do it"])
        .run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        "agent-offload: not inside tmux ($TMUX and $TMUX_PANE are not set): --tmux needs a \
         tmux pane: run agent-offload from one, or use -H (--headless) instead to run the \
         agent headless\n"
    );
    assert_nothing_launched(&out);
}

/// Outside tmux with a profile whose command is not on PATH, one error names both
/// problems: fixing the first (-H) must not be what reveals the second.
#[test]
fn outside_tmux_with_a_missing_command_names_both_problems() {
    let missing = format!("no-such-agent-{}", crate::harness::unique());
    let gone = || {
        Test::new()
            .config(&format!("profiles:\n  gone:\n    command: {missing}\n"))
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
    };
    let command_problem = |t: &Test| {
        format!(
            "agent-offload: profile gone: command {missing} is not on PATH: install it, or set \
             `command` to its full path in {}; nothing was started",
            t.config_path().display()
        )
    };
    let out = gone().arg("do it").run();
    out.status(2).stdout_is("");
    let stderr = out.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("agent-offload: not inside tmux (")
            && lines[0].contains("-H (--headless)")
            && lines[0].contains("`headless: auto`"),
        "{stderr}"
    );
    assert_eq!(lines[1], command_problem(&out.test), "{stderr}");
    assert!(
        !out.test.runs_root().exists(),
        "a run directory was created"
    );
    // Headless, the command problem alone, as before.
    let out = gone().args(["-H", "do it"]).run();
    out.status(2);
    assert_eq!(out.stderr(), format!("{}\n", command_problem(&out.test)));
    assert!(
        !out.test.runs_root().exists(),
        "a run directory was created"
    );
}

#[test]
fn headless_and_tmux_conflict() {
    let out = marking(true).args(["-H", "--tmux", "do it"]).run();
    out.status(2);
    out.stderr_contains("cannot be used with");
    assert_nothing_launched(&out);
}

#[test]
fn bad_cwd() {
    let t = marking(true);
    let missing = t.path().join("no-such-dir");
    let out = t.arg("--cwd").arg(&missing).arg("do it").run();
    out.status(2);
    out.stderr_contains(&format!("--cwd {}: ", missing.display()));
    assert_nothing_launched(&out);

    let t = marking(true).file("a-file", "x");
    let file = t.path().join("a-file");
    let out = t.arg("--cwd").arg(&file).arg("do it").run();
    out.status(2);
    out.stderr_contains(&format!("--cwd {}: not a directory", file.display()));
    assert_nothing_launched(&out);
}

#[test]
fn missing_from_env_variable() {
    let out = marking(true).env_remove("SECRET_SRC").arg("do it").run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: profile \"fake\": env \"TOKEN\" takes its value from $SECRET_SRC, \
             which is not set (export SECRET_SRC before running agent-offload, or change {})\n",
            out.test.config_path().display()
        )
    );
    assert_nothing_launched(&out);
}

/// The control: the same setup with a prompt and the variable set does launch.
#[test]
fn the_control_case_launches() {
    let out = marking(true).arg("do it").run();
    out.status(0).stdout_is("ok\n");
    assert!(out.test.path().join("agent-ran").exists());
}

/// A NUL cannot be in an argument; the prompt is refused rather than altered.
#[test]
fn nul_bytes_in_the_prompt_are_refused() {
    let out = marking(true).stdin(b"before\0after".to_vec()).run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        "agent-offload: the prompt from stdin contains a NUL byte, which cannot be passed to \
         an agent\n"
    );
    assert_nothing_launched(&out);
}

/// Words win over stdin.
#[test]
fn words_win_over_stdin() {
    let t = Test::new();
    let body = crate::harness::recorder(t.path());
    let t = t.agent("rec", &body);
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    headless: true\n    prompt: stdin\n",
        t.agent_path("rec")
    );
    let out = t.config(&cfg).stdin("from stdin").arg("from words").run();
    out.status(0);
    let got = std::fs::read_to_string(out.test.path().join("stdin")).unwrap();
    assert!(got.starts_with("from words\n"), "{got}");
    assert!(!got.contains("from stdin"));
}

/// Options after the prompt would silently become prompt text (host agents append
/// them): exit 2 naming the option and both ways out, nothing launched, also for
/// `continue`; `--` before the prompt keeps such words as prompt text.
#[test]
fn options_after_the_prompt_are_refused() {
    for args in [
        &["do the task", "--timeout", "1s", "--json"][..],
        &["do the task", "--json"],
        &["fix", "it", "--timeout=5m"],
        &["hi", "-H"],
        &["hi", "-Hq"],
        &["continue", "last", "more", "--json"],
    ] {
        let out = marking(true).args(args.iter().copied()).run();
        out.status(2);
        let option = args.iter().skip(1).find(|a| a.starts_with('-')).unwrap();
        let option = option.split('=').next().unwrap();
        out.stderr_contains(&format!(
            "{option} comes after the prompt, where it would be taken as prompt text"
        ))
        .stderr_contains("write -- before a prompt that really contains it");
        assert_nothing_launched(&out);
    }
    // After `--`, and inside one quoted word, they are prompt text.
    for args in [
        &["--", "explain", "--json"][..],
        &["explain the --json flag"],
    ] {
        let out = marking(true).args(args.iter().copied()).run();
        out.status(0);
        let prompt = std::fs::read_to_string(out.run_dir().join("task.md")).unwrap();
        assert!(prompt.contains("--json"), "{prompt}");
    }
}

/// Host agents write options first: `agent-offload -p fake continue last "answer"` would
/// start a fresh agent with the task "continue last answer" (issue 21). A subcommand's
/// name as the first word of a prompt given as words is refused, naming both ways;
/// after `--` it is prompt text.
#[test]
fn a_subcommand_after_run_options_is_refused() {
    for args in [
        &["-p", "fake", "continue", "last", "answer"][..],
        &["-H", "apply"],
        &["-q", "discard", "--force"],
        &["-H", "wait"],
    ] {
        let out = marking(true).args(args.iter().copied()).run();
        out.status(2);
        let sub = args
            .iter()
            .find(|a| !a.starts_with('-') && **a != "fake")
            .unwrap();
        out.stderr_contains(&format!("`{sub}` is a subcommand"))
            .stderr_contains(&format!("write it first (agent-offload {sub} "))
            .stderr_contains("-- before a prompt that starts with it");
        assert_nothing_launched(&out);
    }
    let out = marking(true)
        .args(["-p", "fake", "--", "continue", "the", "work"])
        .run();
    out.status(0);
    let task = std::fs::read_to_string(out.run_dir().join("task.md")).unwrap();
    assert_eq!(task.trim(), "continue the work");
}

/// A mistyped option after the prompt (`"do it" --jsn`) is refused rather than sent to
/// the agent as text, with clap's suggestion where it has one.
#[test]
fn an_unknown_option_after_the_prompt_is_refused() {
    let out = marking(true).args(["do it", "--jsn"]).run();
    out.status(2);
    out.stderr_contains("--jsn after the prompt looks like an option, but there is no such option")
        .stderr_contains("did you mean --json?")
        .stderr_contains("write -- before a prompt that really contains it");
    assert_nothing_launched(&out);
    let out = marking(true).args(["do it", "--frobnicate"]).run();
    out.status(2);
    out.stderr_contains("--frobnicate after the prompt looks like an option");
    assert_nothing_launched(&out);
    // A dash inside prose, or a lone `-`, is prompt text.
    let out = marking(true).args(["compare", "a", "-", "b", "-5"]).run();
    out.status(0);
}
