//! What is generated from our own definitions: shell completions, the man page, and
//! the config's JSON Schema, which must accept the example configs and `init`'s output
//! and reject what the loader rejects.

use std::process::Command;

use crate::harness::Test;

fn stdout_of(args: &[&str]) -> String {
    let out = Test::new().args(args.iter().copied()).run();
    out.status(0);
    out.stdout()
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        // fish spells options `-l profile`, the others `--profile`.
        for word in [
            "agent-offload",
            "doctor",
            "init",
            "completions",
            "profile",
            "quiet",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        assert!(
            !script.contains("__watch"),
            "{shell}: hidden command completed"
        );
    }
    // The bash script is valid bash.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.bash");
    std::fs::write(&file, stdout_of(&["completions", "bash"])).unwrap();
    let status = Command::new("bash").arg("-n").arg(&file).status().unwrap();
    assert!(status.success());
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = Test::new().args(["completions", "tcsh"]).run();
    out.status(2).stderr_contains("invalid value 'tcsh'");
}

#[test]
fn man_page_is_roff_from_the_clap_definitions() {
    let man = stdout_of(&["man"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &man[..80.min(man.len())]
    );
    assert!(man.contains(".TH agent-offload 1"), "{man}");
    assert!(man.contains("\\-\\-quiet"), "{man}");
    assert!(man.contains("doctor"), "{man}");
}

fn schema() -> jsonschema::Validator {
    let text = stdout_of(&["config", "schema"]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::validator_for(&value).expect("a valid JSON Schema")
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[track_caller]
fn assert_valid(v: &jsonschema::Validator, text: &str) {
    let errors: Vec<String> = v.iter_errors(&yaml(text)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
}

#[track_caller]
fn assert_invalid(v: &jsonschema::Validator, text: &str) {
    assert!(!v.is_valid(&yaml(text)), "accepted:\n{text}");
}

#[test]
fn schema_accepts_the_examples_and_init_output() {
    let v = schema();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    assert_valid(&v, &std::fs::read_to_string(demo).unwrap());

    // Every built-in CLI, as init writes it.
    let mut t = Test::new();
    for n in [
        "claude",
        "codex",
        "opencode",
        "pi",
        "cursor-agent",
        "gemini",
        "qwen",
    ] {
        t = t.agent(&format!("bin/{n}"), "");
    }
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let cfg = t.config_path();
    let out = t.env("PATH", path).arg("init").run();
    out.status(0);
    let text = std::fs::read_to_string(cfg).unwrap();
    assert_valid(&v, &text);
    // ... and with its commented examples switched on.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("  # ") {
            Some(rest) if rest.starts_with(' ') || (rest.ends_with(':') && !rest.contains(' ')) => {
                format!("  {rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert!(uncommented.contains("\n  claude-work:\n"), "{uncommented}");
    assert_valid(&v, &uncommented);

    // The full example in docs/configuration.md.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = doc
        .find("```yaml\ndefault_profile: spark")
        .expect("the full example in docs/configuration.md");
    let body = &doc[start + "```yaml\n".len()..];
    assert_valid(&v, &body[..body.find("```").unwrap()]);
}

#[test]
fn schema_is_strict() {
    let v = schema();
    assert_valid(
        &v,
        "profiles:\n  a:\n    command: x\n    env:\n      N: 1\n      B: true\n      S: s\n      \
         K: {from_env: HOST_KEY}\n",
    );
    assert_valid(
        &v,
        "headless: auto\nprofiles:\n  a:\n    command: x\n    headless: false\n",
    );
    for bad in [
        "profiles: {}\n",
        "profile:\n  a:\n    command: x\n",
        "profiles:\n  a:\n    comand: x\n",
        "profiles:\n  a:\n    command: x\n    interface: clod\n",
        "profiles:\n  a:\n    command: x\n    prompt: file\n",
        "profiles:\n  a:\n    command: x\n    timeout: 90\n",
        "profiles:\n  a:\n    command: x\n    timeout: 5 minutes\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: {from_env: HOST_KEY, x: 1}\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: {from: HOST_KEY}\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: [a]\n",
        "profiles:\n  a:\n    command: x\n    env:\n      1K: v\n",
        "profiles:\n  a:\n    command: x\n    args: \"--flag\"\n",
        "headless: yes please\nprofiles:\n  a:\n    command: x\n",
        "profiles:\n  a:\n    command: x\n    headless: automatic\n",
    ] {
        assert_invalid(&v, bad);
    }
}

/// A reader that closes the pipe at once (`| head`) is not an error: exit 0, nothing on
/// stderr, never a panic (exit 101).
#[test]
fn a_closed_stdout_ends_documents_quietly() {
    for args in [
        &["config", "schema"][..],
        &["man"],
        &["completions", "bash"],
    ] {
        let t = crate::harness::Test::new();
        let mut child = t
            .command()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before agent-offload has even started writing.
        drop(child.stdout.take());
        let out = crate::harness::wait_bounded(child, std::time::Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}
