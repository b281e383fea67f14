//! Config errors with their exact messages, and config discovery.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::harness::Test;

/// Runs a headless delegation against `yaml` as the user config and checks that it
/// fails with exit 2, stderr exactly `agent-offload: <config path><rest>`, and that no
/// run directory was created.
#[track_caller]
fn assert_config_error(yaml: &str, rest: &str) {
    let out = Test::new().config(yaml).args(["-H", "do it"]).run();
    let path = out.test.config_path();
    let expected = format!("agent-offload: {}{rest}\n", path.display());
    assert_eq!(
        out.stderr(),
        expected,
        "config:\n{yaml}\nstatus {:?}",
        out.output.status
    );
    out.status(2).stdout_is("");
    assert!(
        !out.test.runs_root().exists(),
        "a run directory was created for a bad config:\n{yaml}"
    );
}

#[test]
fn unknown_fields() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\nbogus: 1\n",
        ":4:1: unknown field \"bogus\" (expected one of default_profile, headless, focus, \
         min_pane_width, detach_after, stall_after, on_stall, worktree, max_tokens, max_cost, \
         profiles)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    comand: y\n",
        ":4:5: profile \"a\": unknown field \"comand\" (expected one of command, interface, \
         args, env, pass_env, prompt, headless, timeout, detach_after, focus, min_pane_width, \
         worktree, stall_after, on_stall, max_tokens, max_cost, price, resume_args, \
         trust_workspace)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      A: {from_env: B, other: C}\n",
        ":5:10: profile \"a\": env \"A\": unknown key \"other\" (expected {from_env: NAME})",
    );
}

/// Every bad profile is reported, each on a line of its own with its file, line,
/// profile and field, in the order of the file: the same mistake in two profiles, a
/// mistake the parse finds next to one the checks find, and a top-level one. A profile
/// left out for its mistake still counts as defined (`default_profile` names it), and
/// anchors still resolve.
#[test]
fn every_bad_profile_is_reported_at_once() {
    let unknown = "unknown field \"comand\" (expected one of command, interface, args, env, \
                   pass_env, prompt, headless, timeout, detach_after, focus, min_pane_width, \
                   worktree, stall_after, on_stall, max_tokens, max_cost, price, resume_args, \
                   trust_workspace)";
    let t = Test::new()
        .config("default_profile: a\nprofiles:\n  a:\n    comand: x\n  b:\n    comand: y\n");
    let path = t.config_path();
    let out = t.args(["-H", "do it"]).run();
    out.status(2).stdout_is("");
    let p = path.display();
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: {p}:4:5: profile \"a\": {unknown}\nagent-offload: {p}:6:5: profile \
             \"b\": {unknown}\n"
        )
    );
    assert!(!out.test.runs_root().exists());

    let t = Test::new().config(
        "detach_after: 5\ndefault_profile: a\nprofiles:\n  base: &base\n    command: x\n    \
         timeout: soon\n  a:\n    comand: x\n  b:\n    <<: *base\n    headless: maybe\n  \
         ok:\n    <<: *base\n    timeout: 5m\n",
    );
    let path = t.config_path();
    let out = t.args(["-H", "do it"]).run();
    out.status(2).stdout_is("");
    let p = path.display();
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: {p}:1:15: field \"detach_after\": invalid duration \"5\": missing \
             unit (did you mean 5s or 5m?)\n\
             agent-offload: {p}:6:14: profile \"base\": field \"timeout\": invalid duration \
             \"soon\" (expected e.g. 90s, 20m, 1h30m)\n\
             agent-offload: {p}:8:5: profile \"a\": {unknown}\n\
             agent-offload: {p}:11:15: profile \"b\": field \"headless\": invalid value \
             \"maybe\" (expected true, false or auto)\n"
        )
    );
}

/// A file with very many mistakes is cut short, and says so.
#[test]
fn very_many_mistakes_are_cut_short() {
    let mut yaml = String::from("default_profile: p0\nprofiles:\n");
    for i in 0..30 {
        write!(yaml, "  p{i}:\n    comand: x\n").unwrap();
    }
    let t = Test::new().config(&yaml);
    let path = t.config_path();
    let out = t.args(["-H", "do it"]).run();
    out.status(2);
    let stderr = out.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 21, "{stderr}");
    assert!(
        lines[19].contains(":42:5: profile \"p19\": unknown field"),
        "{stderr}"
    );
    assert_eq!(
        lines[20],
        format!(
            "agent-offload: {}: more mistakes than these 20: fix these and load it again",
            path.display()
        )
    );
}

#[test]
fn wrong_types() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    args: hello\n",
        ":4:11: profile \"a\": field \"args\": expected a list (e.g. [\"--flag\", \"value\"])",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    headless: maybe\n",
        ":4:15: profile \"a\": field \"headless\": invalid value \"maybe\" (expected true, false or \
         auto)",
    );
    assert_config_error(
        "headless: 3\nprofiles:\n  a:\n    command: x\n",
        ":1:11: field \"headless\": invalid value 3 (expected true, false or auto)",
    );
    assert_config_error(
        "profiles: [a, b]\n",
        ":1:11: field \"profiles\": expected a mapping (name: value lines)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env: [A]\n",
        ":4:10: profile \"a\": field \"env\": expected a mapping (name: value lines)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      A: [1]\n",
        ":5:7: profile \"a\": env \"A\": invalid type: sequence, expected a string, number \
         or bool, or {from_env: NAME}",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      A:\n",
        ":5:8: profile \"a\": env \"A\": empty value (expected a string, number or bool, or \
         {from_env: NAME})",
    );
}

#[test]
fn worktree_is_a_bool_head_or_dirty() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    worktree: maybe\n",
        ":4:5: profile \"a\": field \"worktree\": invalid value: string \"maybe\", expected \
         true, false, head or dirty",
    );
    assert_config_error(
        "worktree: 3\nprofiles:\n  a:\n    command: x\n",
        ":1:1: field \"worktree\": invalid type: integer \"3\", expected true, false, head or \
         dirty",
    );
}

#[test]
fn trust_workspace_is_a_bool_for_cursor_profiles_only() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    interface: cursor\n    trust_workspace: maybe\n",
        ":5:22: profile \"a\": field \"trust_workspace\": invalid boolean (expected true or \
         false)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    trust_workspace: false\n",
        ":4:22: profile \"a\": field \"trust_workspace\": only applies to interface: cursor \
         (this profile's interface is generic)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    interface: codex\n    trust_workspace: true\n",
        ":5:22: profile \"a\": field \"trust_workspace\": only applies to interface: cursor \
         (this profile's interface is codex)",
    );
    assert_config_error(
        "trust_workspace: false\nprofiles:\n  a:\n    command: x\n",
        ":1:1: unknown field \"trust_workspace\" (expected one of default_profile, headless, \
         focus, min_pane_width, detach_after, stall_after, on_stall, worktree, max_tokens, \
         max_cost, profiles)",
    );
}

/// `min_pane_width` is a number of columns: the error names the file, line, profile
/// and field.
#[test]
fn min_pane_width_is_a_number_of_columns() {
    let expected = "invalid number (expected a whole number from 0 to 65535)";
    assert_config_error(
        "min_pane_width: wide\nprofiles:\n  a:\n    command: x\n",
        &format!(":1:17: field \"min_pane_width\": {expected}"),
    );
    for bad in ["-5", "70000", "1.5"] {
        assert_config_error(
            &format!("profiles:\n  a:\n    command: x\n    min_pane_width: {bad}\n"),
            &format!(":4:21: profile \"a\": field \"min_pane_width\": {expected}"),
        );
    }
}

#[test]
fn duplicate_keys() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      A: 1\n      A: 2\n",
        ":6:7: profile \"a\": field \"env\": duplicate key \"A\" (each key may appear once)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    command: y\n",
        ":4:5: profile \"a\": duplicate key \"command\" (each key may appear once)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n  a:\n    command: y\n",
        ":4:3: field \"profiles\": duplicate key \"a\" (each key may appear once)",
    );
}

#[test]
fn unknown_variants() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    interface: claud\n",
        ":4:16: profile \"a\": field \"interface\": unknown variant \"claud\" (expected one of \
         generic, claude, codex, cursor, opencode, pi, gemini, qwen)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    prompt: file\n",
        ":4:13: profile \"a\": field \"prompt\": unknown variant \"file\" (expected one of \
         argument, stdin, prompt-file-arg)",
    );
}

#[test]
fn env_names_must_be_shell_identifiers() {
    for bad in ["BAD-NAME", "1ABC", "A.B"] {
        assert_config_error(
            &format!("profiles:\n  a:\n    command: x\n    env:\n      {bad}: 1\n"),
            &format!(
                ":5:{}: profile \"a\": env \"{bad}\": not a valid variable name (letters, \
                 digits and '_', not starting with a digit)",
                // The position of the value: `      NAME: 1`.
                7 + bad.len() + 2
            ),
        );
    }
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      GOOD: {from_env: 1BAD}\n",
        ":5:13: profile \"a\": env \"GOOD\": from_env \"1BAD\" is not a valid variable name \
         (letters, digits and '_', not starting with a digit)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    env:\n      GOOD: {from_env: \"A B\"}\n",
        ":5:13: profile \"a\": env \"GOOD\": from_env \"A B\" is not a valid variable name \
         (letters, digits and '_', not starting with a digit)",
    );
}

#[test]
fn prompt_file_arg_needs_the_placeholder() {
    let msg = "profile \"a\": field \"prompt\": prompt-file-arg needs {prompt_file} in one of \
               the args (e.g. args: [\"--file\", \"{prompt_file}\"])";
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    prompt: prompt-file-arg\n    args: [--file]\n",
        &format!(":5:11: {msg}"),
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    prompt: prompt-file-arg\n",
        &format!(":3:5: {msg}"),
    );
}

#[test]
fn default_profile_problems() {
    assert_config_error(
        "default_profile: b\nprofiles:\n  a:\n    command: x\n",
        ":1:18: field \"default_profile\": no profile named \"b\" (profiles: a)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n  b:\n    command: y\n",
        ": field \"default_profile\" is required when there is more than one profile \
         (profiles: a, b)",
    );
    assert_config_error(
        "profiles: {}\n",
        ": field \"profiles\": no profiles defined (add at least one, with a command)",
    );
}

#[test]
fn bad_timeouts() {
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    timeout: 90\n",
        ":4:14: profile \"a\": field \"timeout\": invalid duration \"90\": missing unit (did \
         you mean 90s or 90m?)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    timeout: soon\n",
        ":4:14: profile \"a\": field \"timeout\": invalid duration \"soon\" (expected e.g. 90s, \
         20m, 1h30m)",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: x\n    timeout: 5x\n",
        ":4:14: profile \"a\": field \"timeout\": invalid duration \"5x\": unknown unit \"x\" \
         (use ms, s, m, h or d)",
    );
}

#[test]
fn command_problems() {
    assert_config_error(
        "profiles:\n  a:\n    args: [x]\n",
        ":3:5: profile \"a\": missing required field \"command\"",
    );
    assert_config_error(
        "profiles:\n  a:\n    command: \"  \"\n",
        ":3:14: profile \"a\": field \"command\": must not be empty",
    );
    assert_config_error(
        "profiles:\n  a b:\n    command: x\n",
        ":3:5: profile \"a b\": invalid profile name (use letters, digits, '.', '_' and '-')",
    );
}

// ---- discovery ----

fn fake_profile(t: &Test, publish: &str) -> String {
    let name = format!("agent-{publish}");
    crate::harness::write_executable(
        &t.path().join(&name),
        &format!("{}publish {publish}\n", crate::harness::AGENT_PRELUDE),
    );
    format!(
        "profiles:\n  p:\n    command: {}\n    headless: true\n",
        t.agent_path(&name)
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The user config, a project file in `work/` and one in `work/a`: the nearest to the
/// working directory wins over the user file.
#[test]
fn nearest_project_file_beats_the_user_config() {
    let t = Test::new();
    let user = fake_profile(&t, "user");
    let outer = fake_profile(&t, "outer");
    let inner = fake_profile(&t, "inner");
    let work = t.work();
    write(&work.join(".agent-offload.yaml"), &outer);
    write(&work.join("a/.agent-offload.yaml"), &inner);
    std::fs::create_dir_all(work.join("a/b/c")).unwrap();
    let t = t.config(&user);

    let run_in = |dir: PathBuf| {
        let out = t.command().current_dir(&dir).arg("go").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (stdout, stderr) = run_in(work.join("a/b/c"));
    assert_eq!(stdout, "inner\n");
    assert!(
        stderr.contains(&format!(
            "agent-offload: config {} (project)",
            work.join("a/.agent-offload.yaml").display()
        )),
        "{stderr}"
    );
    let (stdout, _) = run_in(work.clone());
    assert_eq!(stdout, "outer\n");
    // Outside the project: the user file.
    let (stdout, stderr) = run_in(t.path().join("home"));
    assert_eq!(stdout, "user\n");
    assert!(
        stderr.contains(&format!(
            "agent-offload: config {} (user)",
            t.config_path().display()
        )),
        "{stderr}"
    );
}

#[test]
fn flag_beats_env_var_beats_project_file() {
    let t = Test::new();
    let flag = fake_profile(&t, "flag");
    let envv = fake_profile(&t, "envvar");
    let project = fake_profile(&t, "project");
    write(&t.path().join("flag.yaml"), &flag);
    write(&t.path().join("env.yaml"), &envv);
    write(&t.work().join(".agent-offload.yaml"), &project);
    let env_path = t.path().join("env.yaml");
    let t = t.env("AGENT_OFFLOAD_CONFIG", &env_path);

    let out = t.command().arg("go").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "envvar\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "config {} ($AGENT_OFFLOAD_CONFIG)",
            env_path.display()
        )),
        "{out:?}"
    );
    // --config relative to the working directory.
    let out = t
        .command()
        .args(["--config", "../flag.yaml", "go"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "flag\n", "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("flag.yaml (--config)"),
        "{out:?}"
    );
}

#[test]
fn a_named_config_must_exist() {
    let t = Test::new();
    let missing = t.path().join("nope.yaml");
    let out = t.args(["--config", "nope.yaml", "-H", "go"]).run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: config file {} (from --config) does not exist\n",
            out.test.work().join("nope.yaml").display()
        )
    );
    assert!(!missing.exists());

    let t = Test::new();
    let missing = t.path().join("gone.yaml");
    let out = t
        .env("AGENT_OFFLOAD_CONFIG", &missing)
        .args(["-H", "go"])
        .run();
    out.status(2);
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: config file {} (from $AGENT_OFFLOAD_CONFIG) does not exist\n",
            missing.display()
        )
    );
    assert!(!out.test.runs_root().exists());
}

// "No config file and no agent CLI on PATH" is tested in zero_config.rs.

/// Without `XDG_CONFIG_HOME` the user file is under `~/.config`.
#[test]
fn user_config_defaults_to_home_dot_config() {
    let t = Test::new();
    let cfg = fake_profile(&t, "home");
    write(
        &t.path().join("home/.config/agent-offload/config.yaml"),
        &cfg,
    );
    let out = t.env_remove("XDG_CONFIG_HOME").arg("go").run();
    out.status(0).stdout_is("home\n");
}

/// A command with a `/` that is not absolute is relative to the config file.
#[test]
fn relative_commands_are_relative_to_the_config_file() {
    let t = Test::new().agent("rel-agent", "publish relative");
    write(
        &t.path().join("cfg.yaml"),
        "profiles:\n  p:\n    command: ./rel-agent\n    headless: true\n",
    );
    let cfg = t.path().join("cfg.yaml");
    let out = t.arg("--config").arg(cfg).arg("go").run();
    out.status(0).stdout_is("relative\n");
}
