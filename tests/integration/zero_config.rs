//! No config file: built-in profiles for the agent CLIs on PATH.

use std::fmt::Write as _;

use crate::harness::{Test, read_nul_list, recorder};

/// A test whose PATH is a private `bin` directory (with the fake CLIs `names`) plus the
/// system directories for sh and friends.
fn with_clis(names: &[&str], body: &str) -> Test {
    let mut t = Test::new();
    for n in names {
        t = t.agent(&format!("bin/{n}"), body);
    }
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    t.env("PATH", path)
}

fn profiles_json(t: Test) -> serde_json::Value {
    let out = t.args(["profiles", "--json"]).run();
    out.status(0);
    serde_json::from_str(&out.stdout()).unwrap()
}

#[test]
fn every_cli_on_path_gets_a_built_in_profile_first_found_is_default() {
    let v = profiles_json(with_clis(&["qwen", "gemini", "codex", "cursor-agent"], ""));
    assert_eq!(v["config"], serde_json::Value::Null);
    assert_eq!(v["origin"], "built-in");
    assert_eq!(v["default_profile"], "codex");
    let rows = v["profiles"].as_array().unwrap();
    let summary: Vec<(String, String, String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["command"].as_str().unwrap().to_owned(),
                r["interface"].as_str().unwrap().to_owned(),
                r["args"].to_string(),
                r["builtin"].as_bool().unwrap(),
            )
        })
        .collect();
    let row = |n: &str, c: &str, i: &str, a: &str| (n.into(), c.into(), i.into(), a.into(), true);
    assert_eq!(
        summary,
        vec![
            row(
                "codex",
                "codex",
                "codex",
                r#"["--dangerously-bypass-approvals-and-sandbox"]"#
            ),
            row("cursor", "cursor-agent", "cursor", r#"["--force"]"#),
            row("gemini", "gemini", "gemini", r#"["--yolo"]"#),
            row("qwen", "qwen", "qwen", r#"["--yolo"]"#),
        ]
    );
    assert_eq!(rows[0]["mode"], "tmux");
}

#[test]
fn claude_opencode_pi_and_cursor_as_agent() {
    let v = profiles_json(with_clis(&["agent", "pi", "opencode", "claude"], ""));
    assert_eq!(v["default_profile"], "claude");
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["claude", "opencode", "pi", "cursor"]);
    assert_eq!(
        v["profiles"][0]["args"][0],
        "--dangerously-skip-permissions"
    );
    assert_eq!(v["profiles"][3]["command"], "agent");
}

#[test]
fn table_says_the_profiles_are_built_in() {
    let out = with_clis(&["claude"], "").arg("profiles").run();
    out.status(0);
    out.stdout_contains("config: none; built-in profiles for the agent CLIs found on PATH");
    out.stdout_contains(
        "*  claude   claude     argument  tmux  claude --dangerously-skip-permissions",
    );
}

/// The built-in claude profile really starts `claude` with the unattended flag.
#[test]
fn a_built_in_profile_runs() {
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("bin/claude", &body);
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let out = t.env("PATH", path).args(["-H", "fix it"]).run();
    out.status(0).stdout_is("recorded\n");
    out.stderr_contains("agent-offload: config the built-in profiles (no config file");
    let argv = read_nul_list(&out.test.path().join("argv"));
    let session = out.manifest()["session_id"].as_str().unwrap().to_owned();
    assert_eq!(
        argv[..8],
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--session-id",
            &session,
            "--dangerously-skip-permissions",
            "--"
        ]
    );
    assert!(argv[8].starts_with("fix it"), "{argv:?}");
    assert_eq!(out.manifest()["profile"], "claude");
}

#[test]
fn a_config_file_replaces_the_built_in_profiles() {
    let t = with_clis(&["claude", "codex"], "").config("profiles:\n  mine:\n    command: x\n");
    let v = profiles_json(t);
    assert_eq!(v["origin"], "user");
    assert_eq!(v["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(v["profiles"][0]["name"], "mine");
    assert_eq!(v["profiles"][0]["builtin"], false);
}

#[test]
fn nothing_on_path_and_no_config_lists_places_and_programs() {
    let t = Test::new();
    let empty = t.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let cwd = t.work().join("deep");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = t.env("PATH", &empty).cwd(&cwd).args(["-H", "go"]).run();
    out.status(2).stdout_is("");
    let mut expected = String::from("agent-offload: no config file found; looked at:\n");
    for dir in cwd.canonicalize().unwrap().ancestors() {
        let _ = writeln!(expected, "  {}", dir.join(".agent-offload.yaml").display());
    }
    let _ = writeln!(expected, "  {}", out.test.config_path().display());
    expected.push_str(
        "  (and --config / $AGENT_OFFLOAD_CONFIG were not given)\n\
         and no agent CLI on PATH to use without one; looked for: claude, codex, opencode, pi, \
         cursor-agent, agent, gemini, qwen\n\
         Install one of them, or write a config file with `agent-offload init` (or start from \
         examples/demo.yaml in the agent-offload repository).\n",
    );
    assert_eq!(out.stderr(), expected);
    assert!(!out.test.runs_root().exists());
}
