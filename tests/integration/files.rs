//! The run directory: its files, their permissions, and run.json.

use crate::harness::{BIN, Test, mode};

#[test]
fn permissions_are_private() {
    let t = Test::new().agent("fake", "echo out; publish done");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    // A permissive umask must not loosen anything.
    let base = t.command();
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "umask 000; exec \"$0\" \"$@\"", BIN, "go"])
        .env_clear()
        .current_dir(base.get_current_dir().unwrap());
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let dirs = t.run_dirs();
    assert_eq!(dirs.len(), 1);
    let dir = dirs[0].clone();
    assert_eq!(mode(&dir), 0o700, "run directory");
    assert_eq!(mode(&t.runs_root()), 0o700, "runs root");
    for (file, expected) in [
        ("prompt.md", 0o600),
        ("task.md", 0o600),
        ("run.json", 0o600),
        ("output.log", 0o600),
        ("exit", 0o600),
        ("launch.sh", 0o700),
    ] {
        assert_eq!(mode(&dir.join(file)), expected, "{file}");
    }
    // Nothing else is left behind: no temporary files.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "done.md",
            "exit",
            "launch.sh",
            "output.log",
            "prompt.md",
            "run.json",
            "task.md"
        ]
    );
}

#[test]
fn manifest_fields() {
    let t = Test::new().agent("fake", "publish done");
    let cfg = format!(
        "profiles:\n  spark:\n    command: {}\n    interface: claude\n    args: [--model, \
         \"big one\"]\n    headless: true\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).arg("go").run();
    out.status(0);
    let dir = out.run_dir();
    let m = out.manifest();
    let id = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(m["version"], 1);
    assert_eq!(m["id"], id);
    assert_eq!(m["profile"], "spark");
    assert_eq!(m["mode"], "headless");
    assert_eq!(
        m["cwd"],
        out.test
            .work()
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );
    // claude's session id is assigned before the agent starts, and recorded.
    let session = m["session_id"].as_str().expect("session_id");
    assert_eq!(session.len(), 36, "{session}");
    assert_eq!(m["interface"], "claude");
    assert_eq!(m["parent"], serde_json::Value::Null);
    assert_eq!(
        m["command"],
        serde_json::json!([
            out.test.agent_path("fake"),
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--session-id",
            session,
            "--model",
            "big one",
            "--",
            "<prompt.md>"
        ])
    );
    assert!(m["pid"].as_u64().is_some_and(|p| p > 1), "{m}");
    assert_eq!(m["pane"], serde_json::Value::Null);
    let started = m["started_at"].as_str().unwrap();
    let finished = m["finished_at"].as_str().unwrap();
    // RFC 3339 UTC, sortable as text.
    for ts in [started, finished] {
        assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
    }
    assert!(started <= finished, "{started} > {finished}");
    assert_eq!(m["status"], "done");
    assert_eq!(m["exit_code"], 0);
    assert_eq!(m["reason"], serde_json::Value::Null);
    assert_eq!(m["agent_offload_exit"], 0);
    // The id starts with the UTC start time, so ids sort by start.
    let stamp = started.replace([':', '-'], "").replace('T', "-");
    assert!(id[..15] <= stamp[..15], "{id} vs {started}");
    assert!(id[..15] >= *"2000", "{id}");
    // stderr names the run and its directory.
    out.stderr_contains(&format!(
        "agent-offload: run {id} started (spark, headless, pid {}",
        m["pid"]
    ))
    .stderr_contains(&format!("; directory {}", dir.display()));
}

/// `launch.sh` is the launcher that ran: running it again by hand repeats the run
/// (the exit file is rewritten with the new status). A headless launcher starts the
/// agent on a go-ahead line on stdin, and not at all without one.
#[test]
fn launcher_is_self_contained() {
    let t = Test::new();
    let count = t.path().join("count");
    let t = t.agent("fake", &format!("echo x >>'{}'; exit 4", count.display()));
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).arg("go").run();
    out.status(1);
    let dir = out.run_dir();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo go | sh '{}'",
            dir.join("launch.sh").display()
        ))
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(4));
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "x\nx\n");
    assert_eq!(std::fs::read_to_string(dir.join("exit")).unwrap(), "4\n");
    // No go-ahead (agent-offload killed before the run was recorded): no agent.
    let out = std::process::Command::new("sh")
        .arg(dir.join("launch.sh"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the agent was not started"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "x\nx\n");
}
