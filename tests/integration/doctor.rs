//! `agent-offload doctor`: one line per check, ✓/✗ with the fix, exit 1 when broken.

use crate::harness::Test;

/// A test with a working headless profile `ok` (a fake agent in `bin`), PATH = that
/// `bin` plus the system directories (where tmux is).
fn base(extra_profiles: &str) -> Test {
    let t = Test::new().agent("bin/fake-agent", "");
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let cfg = format!(
        "default_profile: ok\nprofiles:\n  ok:\n    command: fake-agent\n    headless: true\n{extra_profiles}"
    );
    t.env("PATH", path).config(&cfg)
}

fn lines(out: &crate::harness::Outcome) -> Vec<String> {
    out.stdout().lines().map(str::to_owned).collect()
}

#[track_caller]
fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", lines.join("\n")))
}

#[test]
fn a_healthy_setup_passes() {
    let t = base("");
    let cfg = t.config_path();
    let out = t.arg("doctor").run();
    out.status(0);
    let l = lines(&out);
    assert!(line_with(&l, "tmux ").starts_with("✓ tmux "), "{l:?}");
    assert!(line_with(&l, "not inside tmux").starts_with("- "));
    assert_eq!(
        line_with(&l, "config "),
        format!(
            "✓ config {} (user) is valid: 1 profile, default ok",
            cfg.display()
        )
    );
    assert!(line_with(&l, "profile ok: fake-agent → ").starts_with('✓'));
    assert!(line_with(&l, "state directory ").starts_with('✓'));
    assert!(line_with(&l, "skill: no host agent configuration directory found").starts_with("- "));
    assert_eq!(l.last().unwrap(), "everything needed is in place");
    assert!(!out.stdout().contains('\u{1b}'), "no colour into a pipe");
}

#[test]
fn a_broken_config_is_reported_with_its_position() {
    let t = Test::new().config("profiles:\n  a:\n    comand: x\n");
    let out = t.arg("doctor").run();
    out.status(1);
    let l = lines(&out);
    let line = line_with(&l, "config ");
    assert!(line.starts_with("✗ config "), "{line}");
    assert!(
        line.contains(":3:5: profile \"a\": unknown field \"comand\""),
        "{line}"
    );
    assert!(line.contains(" — fix: "), "{line}");
    assert_eq!(l.last().unwrap(), "1 problem found");
}

/// Every bad profile is a problem of its own, not only the first.
#[test]
fn every_bad_profile_of_a_broken_config_is_reported() {
    let t = Test::new().config(
        "default_profile: a\nprofiles:\n  a:\n    comand: x\n  b:\n    command: y\n    \
         timeout: soon\n  c:\n    command: z\n    comand: z\n",
    );
    let out = t.arg("doctor").run();
    out.status(1);
    let l = lines(&out);
    let broken: Vec<&String> = l.iter().filter(|l| l.starts_with("✗ config ")).collect();
    assert_eq!(broken.len(), 3, "{}", l.join("\n"));
    for (line, what) in broken.iter().zip([
        ":4:5: profile \"a\": unknown field \"comand\"",
        ":7:14: profile \"b\": field \"timeout\": invalid duration \"soon\"",
        ":10:5: profile \"c\": unknown field \"comand\"",
    ]) {
        assert!(line.contains(what), "{what} not in {line}");
        assert!(line.contains(" — fix: "), "{line}");
    }
    assert_eq!(l.last().unwrap(), "3 problems found");
}

#[test]
fn a_missing_command_and_a_missing_from_env_variable() {
    let t = base(
        "  gone:\n    command: no-such-agent-cli\n  keyed:\n    command: fake-agent\n    env:\n      \
         API_KEY: {from_env: DOCTOR_TEST_KEY}\n      OTHER: {from_env: DOCTOR_SET_KEY}\n",
    )
    .env("DOCTOR_SET_KEY", "x");
    let out = t.arg("doctor").run();
    out.status(1);
    let l = lines(&out);
    let gone = line_with(&l, "profile gone:");
    assert!(
        gone.starts_with(
            "✗ profile gone: command no-such-agent-cli is not on PATH — fix: install it"
        ),
        "{gone}"
    );
    let key = line_with(&l, "profile keyed: env API_KEY");
    assert_eq!(
        key,
        "✗ profile keyed: env API_KEY takes its value from $DOCTOR_TEST_KEY, which is not set — \
         fix: export DOCTOR_TEST_KEY in the shell that runs agent-offload"
    );
    assert!(line_with(&l, "profile keyed: env OTHER").starts_with('✓'));
    assert_eq!(l.last().unwrap(), "2 problems found");
}

#[test]
fn tmux_missing_is_broken_only_when_a_profile_needs_it() {
    // PATH without tmux; every profile headless: not a problem.
    let t = Test::new().agent("bin/fake-agent", "");
    let bin = t.path().join("bin");
    let t = t
        .env("PATH", &bin)
        .config("profiles:\n  ok:\n    command: fake-agent\n    headless: true\n");
    let out = t.arg("doctor").run();
    out.status(0);
    assert!(line_with(&lines(&out), "tmux is not on PATH").starts_with("- "));

    let t = Test::new().agent("bin/fake-agent", "");
    let bin = t.path().join("bin");
    let t = t
        .env("PATH", &bin)
        .config("profiles:\n  pane:\n    command: fake-agent\n");
    let out = t.arg("doctor").run();
    out.status(1);
    assert!(line_with(&lines(&out), "tmux is not on PATH").starts_with("✗ "));
}

#[test]
fn inside_tmux_is_reported() {
    let out = base("")
        .env("TMUX", "/tmp/x,1,0")
        .env("TMUX_PANE", "%7")
        .arg("doctor")
        .run();
    out.status(0);
    assert_eq!(
        line_with(&lines(&out), "inside tmux"),
        "✓ inside tmux (pane %7)"
    );
}

#[test]
fn skill_current_modified_or_missing_per_detected_host() {
    let t = base("");
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    std::fs::create_dir_all(home.join(".pi/agent/skills/agent-offload")).unwrap();
    std::fs::write(
        home.join(".pi/agent/skills/agent-offload/SKILL.md"),
        "edited by me",
    )
    .unwrap();
    let codex_home = t.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let t = t.env("CODEX_HOME", codex_home);
    let installed = t.exec(["install-skill", "--provider", "claude"]);
    assert_eq!(installed.status.code(), Some(0));
    let out = t.arg("doctor").run();
    out.status(1);
    let l = lines(&out);
    assert_eq!(
        line_with(&l, "skill for claude"),
        "✓ skill for claude: ~/.claude/skills/agent-offload/SKILL.md is current"
    );
    assert_eq!(
        line_with(&l, "skill for pi"),
        "✓ skill for pi: ~/.pi/agent/skills/agent-offload/SKILL.md installed (modified locally; \
         kept as it is)"
    );
    let codex = line_with(&l, "skill for codex");
    assert!(codex.starts_with("✗ skill for codex: "), "{codex}");
    assert!(
        codex.ends_with("codex-home/skills/agent-offload/SKILL.md is missing — fix: agent-offload install-skill --provider codex"),
        "{codex}"
    );
    // Providers whose directory does not exist are not mentioned.
    assert!(!out.stdout().contains("skill for gemini"));
}

#[test]
fn zero_config_with_built_in_profiles_is_fine() {
    let t = Test::new().agent("bin/pi", "");
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let out = t.env("PATH", path).arg("doctor").run();
    let l = lines(&out);
    assert!(
        line_with(
            &l,
            "no config file; built-in profiles for the agent CLIs on PATH: pi"
        )
        .starts_with('✓')
    );
    assert!(line_with(&l, "profile pi: pi → ").starts_with('✓'));
}

#[test]
fn no_config_and_no_cli_is_broken() {
    let t = Test::new();
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = t.env("PATH", &empty).arg("doctor").run();
    out.status(1);
    let l = lines(&out);
    let line = line_with(&l, "no config file");
    assert!(line.starts_with("✗ "), "{line}");
    assert!(
        line.contains("looked for claude, codex, opencode, pi, cursor-agent, agent, gemini, qwen")
    );
}

/// `doctor` names how runs wait; it is also the proof that `.ci/run`'s second pass of
/// this suite (`AGENT_OFFLOAD_BACKEND=portable`) really reaches every binary it starts.
#[test]
fn doctor_names_the_waiting_backend_in_effect() {
    let out = base("").arg("doctor").run();
    let l = lines(&out);
    let waiting = line_with(&l, "waiting: ");
    let portable = std::env::var_os("AGENT_OFFLOAD_BACKEND").is_some_and(|v| v == "portable");
    if portable {
        assert!(waiting.contains("portable: a 100 ms poll, ps"), "{waiting}");
    } else if cfg!(target_os = "linux") {
        assert!(waiting.contains("Linux: inotify"), "{waiting}");
        assert!(!waiting.contains("no exit watch"), "{waiting}");
    } else {
        assert!(waiting.contains("macOS: kqueue"), "{waiting}");
    }
    let forced = base("")
        .env("AGENT_OFFLOAD_BACKEND", "portable")
        .arg("doctor")
        .run();
    assert!(line_with(&lines(&forced), "waiting: ").contains("(AGENT_OFFLOAD_BACKEND=portable)"));
}
