//! `agent-offload init`: a commented starter config that our own loader accepts.

use crate::harness::Test;

fn with_clis(names: &[&str]) -> Test {
    let mut t = Test::new();
    for n in names {
        t = t.agent(&format!("bin/{n}"), "");
    }
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    t.env("PATH", path)
}

#[test]
fn writes_a_user_config_with_a_profile_per_detected_cli() {
    let t = with_clis(&["codex", "pi"]);
    let cfg = t.config_path();
    let out = t.arg("init").run();
    out.status(0);
    out.stdout_contains(&format!("wrote {}", cfg.display()));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("default_profile: codex\n"), "{text}");
    assert!(text.contains("# codex-other-model:"), "{text}");
    assert!(text.contains("{from_env: WORK_API_KEY}"), "{text}");
    assert!(text.contains("#   headless: true"), "{text}");
    assert!(text.contains("#   timeout: 30m"), "{text}");

    // Our own loader (the real binary) accepts it, with exactly the detected CLIs.
    let out = Test::new()
        .arg("profiles")
        .arg("--json")
        .arg("--config")
        .arg(&cfg)
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["default_profile"], "codex");
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["codex", "pi"]);
    assert_eq!(
        v["profiles"][0]["args"][0],
        "--dangerously-bypass-approvals-and-sandbox"
    );
}

#[test]
fn never_overwrites_without_force() {
    let t = with_clis(&["claude"]).config("profiles:\n  mine:\n    command: x\n");
    let cfg = t.config_path();
    let out = t.arg("init").run();
    out.status(2).stdout_is("");
    out.stderr_contains(&format!(
        "{} already exists; not overwriting it (add --force to replace it)",
        cfg.display()
    ));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "profiles:\n  mine:\n    command: x\n"
    );

    let t = out.test;
    let out = Test::new()
        .env("XDG_CONFIG_HOME", t.path().join("config"))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", t.path().join("bin").display()),
        )
        .args(["init", "--force"])
        .run();
    out.status(0);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("default_profile: claude"), "{text}");
    drop(t);
}

#[test]
fn project_writes_dot_agent_offload_yaml_in_the_current_directory() {
    let t = with_clis(&["gemini"]);
    let file = t.work().join(".agent-offload.yaml");
    let out = t.args(["init", "--project"]).run();
    out.status(0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("GEMINI_CLI_TRUST_WORKSPACE: \"true\""),
        "{text}"
    );
    assert!(
        !out.test.config_path().exists(),
        "the user config is left alone"
    );
    // Discovery finds it from the working directory.
    let out = Test::new()
        .cwd(out.test.work())
        .args(["profiles", "--json"])
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["origin"], "project");
    assert_eq!(v["profiles"][0]["name"], "gemini");
}

/// With no CLI on PATH the file still loads (a claude profile to edit) and says why.
#[test]
fn nothing_detected_still_writes_a_valid_config() {
    let t = with_clis(&[]);
    let cfg = t.config_path();
    let out = t.arg("init").run();
    out.status(0);
    out.stdout_contains("no agent CLI found on PATH");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("# No agent CLI was found on PATH"), "{text}");
    let out = Test::new().arg("profiles").arg("--config").arg(&cfg).run();
    out.status(0)
        .stdout_contains("claude --dangerously-skip-permissions");
}

/// The file is read in terminals and editors: no line wider than 100 columns, also
/// with the longest comment (no CLI found, every executable looked for listed).
#[test]
fn no_line_of_the_starter_is_wider_than_100_columns() {
    for clis in [
        &[][..],
        &["claude", "codex", "opencode", "pi", "gemini", "qwen"][..],
    ] {
        let t = with_clis(clis);
        let t = if clis.is_empty() {
            t.env("PATH", "/usr/bin:/bin")
        } else {
            t
        };
        let cfg = t.config_path();
        let out = t.arg("init").run();
        out.status(0);
        let text = std::fs::read_to_string(&cfg).unwrap();
        for line in text.lines() {
            let width = line.chars().count();
            assert!(width <= 100, "{width} columns: {line}\n{text}");
        }
    }
}
