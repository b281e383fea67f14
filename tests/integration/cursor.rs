//! Cursor workspace trust: the marker is written before an `interface: cursor` agent
//! starts, in both modes, rewritten every launch, and not at all with
//! `trust_workspace: false`.

use std::path::{Path, PathBuf};

use crate::harness::Test;
use crate::tmux_server::TmuxServer;

/// A fake cursor-agent that copies the trust marker it finds at start (or writes
/// `absent`) to `<test dir>/seen`, records its arguments, then publishes.
fn agent(t: Test, marker: &Path) -> Test {
    let seen = t.path().join("seen");
    let args = t.path().join("args");
    let body = format!(
        "if [ -f '{m}' ]; then cp '{m}' '{s}'; else echo absent >'{s}'; fi\n\
         printf '%s\\n' \"$@\" >'{a}'\npublish 'cursor done'",
        m = marker.display(),
        s = seen.display(),
        a = args.display()
    );
    t.agent("cursor-agent", &body)
}

fn profile(t: &Test, extra: &str) -> String {
    format!(
        "profiles:\n  cur:\n    command: {}\n    interface: cursor\n{extra}",
        t.agent_path("cursor-agent")
    )
}

/// Cursor's key, computed independently of the implementation: split on anything
/// but ASCII letters and digits, join the pieces with `-`.
fn key(path: &Path) -> String {
    path.to_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn marker_for(data_dir: &Path, workspace: &Path) -> PathBuf {
    data_dir
        .join("projects")
        .join(key(workspace))
        .join(".workspace-trusted")
}

#[track_caller]
fn check_marker(text: &str, workspace: &Path) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["workspacePath"], workspace.to_str().unwrap(), "{text}");
    assert_eq!(v["trustMethod"], "cli-flag", "{text}");
    let at: jiff::Timestamp = v["trustedAt"]
        .as_str()
        .expect("trustedAt is a string")
        .parse()
        .unwrap_or_else(|e| panic!("trustedAt is not RFC 3339: {e}: {text}"));
    let age = jiff::Timestamp::now() - at;
    assert!(age.as_secs().abs() < 120, "trustedAt {at} is not now");
    assert_eq!(v.as_object().unwrap().len(), 3, "{text}");
}

#[test]
fn headless_run_trusts_the_workspace_before_the_agent_starts() {
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    let t = agent(t, &marker);
    let cfg = profile(&t, "    headless: true\n");
    let out = t.config(&cfg).arg("do it").run();
    out.status(0).stdout_is("cursor done\n");
    let seen = std::fs::read_to_string(out.test.path().join("seen")).unwrap();
    check_marker(&seen, &work);
    check_marker(&std::fs::read_to_string(&marker).unwrap(), &work);
    let shown = format!("~/.cursor/projects/{}/.workspace-trusted", key(&work));
    out.stderr_contains(&format!(
        "agent-offload: marked {} as a trusted Cursor workspace ({shown}); set \
         trust_workspace: false in profile \"cur\" to stop\n",
        work.display()
    ));
    assert_eq!(out.stderr().matches("trusted Cursor workspace").count(), 1);
    // cursor-agent's headless form.
    let args = std::fs::read_to_string(out.test.path().join("args")).unwrap();
    assert!(args.starts_with("-p\n"), "{args}");
}

#[test]
fn the_marker_is_rewritten_every_launch() {
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "{\"trustedAt\": \"2001-01-01T00:00:00Z\"}\n").unwrap();
    let t = agent(t, &marker);
    let cfg = profile(&t, "    headless: true\n");
    let t = t.config(&cfg);
    for _ in 0..2 {
        t.command().arg("again").output().unwrap();
        let text = std::fs::read_to_string(&marker).unwrap();
        check_marker(&text, &work);
        assert!(!text.contains("2001"));
        assert_eq!(
            std::fs::read_to_string(t.path().join("seen")).unwrap(),
            text
        );
    }
    // Only the marker in its directory: no temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(marker.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [".workspace-trusted"]);
}

#[test]
fn trust_workspace_false_writes_nothing() {
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    let t = agent(t, &marker);
    let cfg = profile(&t, "    headless: true\n    trust_workspace: false\n");
    let out = t.config(&cfg).arg("do it").run();
    out.status(0).stdout_is("cursor done\n");
    assert_eq!(
        std::fs::read_to_string(out.test.path().join("seen")).unwrap(),
        "absent\n"
    );
    assert!(!out.test.path().join("home/.cursor").exists());
    assert!(!out.stderr().contains("Cursor"), "{}", out.stderr());

    // `trust_workspace: true` is the default spelled out.
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    let t = agent(t, &marker);
    let cfg = profile(&t, "    headless: true\n    trust_workspace: true\n");
    let out = t.config(&cfg).arg("do it").run();
    out.status(0);
    assert!(marker.exists());
}

/// Other interfaces never get a marker.
#[test]
fn other_interfaces_write_nothing() {
    let t = Test::new().agent("a", "publish ok");
    let cfg = format!(
        "profiles:\n  a:\n    command: {}\n    interface: claude\n    headless: true\n",
        t.agent_path("a")
    );
    let out = t.config(&cfg).arg("x").run();
    out.status(0);
    assert!(!out.test.path().join("home/.cursor").exists());
}

/// `$CURSOR_DATA_DIR`, and a working directory with spaces, underscores, dots,
/// non-ASCII letters and a trailing slash on `--cwd`.
#[test]
fn data_dir_variable_and_an_awkward_working_directory() {
    let t = Test::new();
    let data = t.path().join("cursor data");
    let dir = t.work().join("my repo_v1.2").join("café 日本");
    std::fs::create_dir_all(&dir).unwrap();
    let workspace = dir.canonicalize().unwrap();
    let marker = marker_for(&data, &workspace);
    assert!(
        key(&workspace).ends_with("-work-my-repo-v1-2-caf"),
        "{}",
        key(&workspace)
    );
    let t = agent(t, &marker);
    let cfg = profile(&t, "    headless: true\n");
    let out = t
        .config(&cfg)
        .env("CURSOR_DATA_DIR", &data)
        .arg("--cwd")
        .arg(format!("{}/", dir.display()))
        .arg("x")
        .run();
    out.status(0);
    check_marker(&std::fs::read_to_string(&marker).unwrap(), &workspace);
    check_marker(
        &std::fs::read_to_string(out.test.path().join("seen")).unwrap(),
        &workspace,
    );
    assert!(!out.test.path().join("home/.cursor").exists());
    let entries: Vec<_> = std::fs::read_dir(data.join("projects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, [key(&workspace)]);
}

#[test]
fn tmux_run_trusts_the_workspace_too() {
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    let t = agent(t, &marker);
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = profile(&t, "");
    let out = t.config(&cfg).in_tmux(&server).arg("do it").run();
    out.status(0).stdout_is("cursor done\n");
    check_marker(
        &std::fs::read_to_string(out.test.path().join("seen")).unwrap(),
        &work,
    );
    out.stderr_contains("as a trusted Cursor workspace");
}

/// A usage error stops the command before Cursor's state is touched.
#[test]
fn nothing_is_written_when_the_command_is_wrong() {
    let t = Test::new();
    let work = t.work().canonicalize().unwrap();
    let marker = marker_for(&t.path().join("home/.cursor"), &work);
    let t = agent(t, &marker);
    // tmux mode outside tmux: exit 2.
    let cfg = profile(&t, "");
    let out = t.config(&cfg).env_remove("TMUX").arg("x").run();
    out.status(2);
    assert!(!out.test.path().join("home/.cursor").exists());
}
