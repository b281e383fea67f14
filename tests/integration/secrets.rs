//! The agent's environment: `from_env` secrets reach it without touching a file or an
//! argv, literal env reaches it, nesting guards do not.

use std::path::Path;
use std::time::Duration;

use crate::harness::{
    Test, eventually, processes_with, recorded_var, recorder, unique, wait_bounded,
};
use crate::tmux_server::TmuxServer;

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn from_env_secret_reaches_the_agent_but_no_file_and_no_argv() {
    let secret = format!("s3cr3t-{}", unique());
    let t = Test::new();
    let started = t.path().join("started");
    let go = t.path().join("go");
    // The agent records its environment, says it started, and waits to be told to
    // finish, so the test can look at every process's argv meanwhile.
    let body = format!(
        "{}\ntouch '{}'\nwhile [ ! -e '{}' ]; do sleep 0.02; done\necho \"token length ${{#TOKEN}}\"\n",
        recorder(t.path()).replace("publish recorded", ""),
        started.display(),
        go.display()
    ) + "publish finished";
    let t = t.agent("fake", &body);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    args: [--verbose]\n    \
         env:\n      TOKEN: {{from_env: SECRET_SRC}}\n      PLAIN: \"it's $HOME `x`\"\n      \
         NUM: 42\n      FLAG: true\n",
        t.agent_path("fake")
    );
    let t = t
        .config(&cfg)
        .env("SECRET_SRC", &secret)
        .env("CLAUDECODE", "1")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .arg("do the secret thing");
    let child = t.spawn();
    eventually(Duration::from_secs(10), "the agent to start", || {
        started.exists()
    });
    let leaks = processes_with(secret.as_bytes());
    std::fs::write(&go, "").unwrap();
    let output = wait_bounded(child, Duration::from_secs(30));
    assert!(
        leaks.is_empty(),
        "the secret is in a command line: {leaks:?}"
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "finished\n");

    let rec = t.path();
    assert_eq!(recorded_var(rec, "TOKEN").as_deref(), Some(secret.as_str()));
    assert_eq!(
        recorded_var(rec, "PLAIN").as_deref(),
        Some("it's $HOME `x`")
    );
    assert_eq!(recorded_var(rec, "NUM").as_deref(), Some("42"));
    assert_eq!(recorded_var(rec, "FLAG").as_deref(), Some("true"));
    // The caller's environment reaches the agent, minus the nesting guards.
    assert_eq!(
        recorded_var(rec, "SECRET_SRC").as_deref(),
        Some(secret.as_str())
    );
    assert_eq!(recorded_var(rec, "CLAUDECODE"), None);
    assert_eq!(recorded_var(rec, "CLAUDE_CODE_ENTRYPOINT"), None);
    assert!(recorded_var(rec, "AGENT_OFFLOAD_RUN_DIR").is_some());

    let dirs = t.run_dirs();
    assert_eq!(dirs.len(), 1);
    let files = files_under(&dirs[0]);
    for name in [
        "prompt.md",
        "launch.sh",
        "run.json",
        "output.log",
        "exit",
        "done.md",
    ] {
        assert!(
            files.iter().any(|f| f.file_name().unwrap() == name),
            "{name} missing from {files:?}"
        );
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is written in {}",
            f.display()
        );
    }
    // The log shows the agent had the value; run.json names its source instead.
    let log = std::fs::read_to_string(dirs[0].join("output.log")).unwrap();
    assert_eq!(log, format!("token length {}\n", secret.len()));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("run.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["env"],
        serde_json::json!([
            ["TOKEN", "<from $SECRET_SRC>"],
            ["PLAIN", "it's $HOME `x`"],
            ["NUM", "42"],
            ["FLAG", "true"]
        ])
    );
}

/// Values with quotes, newlines and shell syntax arrive unchanged.
#[test]
fn hostile_secret_values_arrive_exactly() {
    let secret = format!("a'b\"c $(touch pwned) `x` \\ \n\nend {}", unique());
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("fake", &body);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    env:\n      TOKEN: \
         {{from_env: SECRET_SRC}}\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).env("SECRET_SRC", &secret).arg("go").run();
    out.status(0);
    assert_eq!(
        recorded_var(out.test.path(), "TOKEN").as_deref(),
        Some(secret.as_str())
    );
    assert!(!out.test.work().join("pwned").exists());
}

/// A profile env literal overrides the caller's variable of the same name.
#[test]
fn profile_env_overrides_the_callers() {
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("fake", &body);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    env:\n      MODEL: \
         from-profile\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).env("MODEL", "from-caller").arg("go").run();
    out.status(0);
    assert_eq!(
        recorded_var(out.test.path(), "MODEL").as_deref(),
        Some("from-profile")
    );
}

/// The value of `name` in the environment written by `env -0` to `dir/env`, as bytes: values
/// that are not UTF-8 are compared exactly, not through a lossy conversion.
fn recorded_var_bytes(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let env = std::fs::read(dir.join("env")).unwrap();
    let prefix = format!("{name}=");
    env.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()).map(<[u8]>::to_vec))
}

/// A `from_env` value and PATH that are not UTF-8 reach the agent byte for byte, in
/// both modes. In tmux mode they travel through the hand-over FIFO, which once wrote
/// them through a lossy conversion: the agent got U+FFFD (issue 16).
#[test]
fn values_that_are_not_utf8_arrive_byte_for_byte() {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    for headless in [true, false] {
        let mut secret = b"s3cr\xff\xfe 'q' \xc3( ".to_vec();
        secret.extend_from_slice(unique().as_bytes());
        // A directory that does not exist, named with bytes that are not UTF-8, after
        // the real PATH that finds sh, env and the other tools the agent uses.
        let mut path = std::env::var_os("PATH")
            .unwrap_or_else(|| "/usr/bin:/bin".into())
            .as_bytes()
            .to_vec();
        path.extend_from_slice(b":/nonexistent/\xe9\xff'dir");

        let t = Test::new();
        // Only the environment: in a pane, stdin is the terminal (the recorder's `cat`
        // would wait for it forever).
        let body = format!("env -0 >'{}/env'\npublish recorded", t.path().display());
        let t = t.agent("fake", &body);
        let server = (!headless).then(|| TmuxServer::start(t.path(), &t.work()));
        let cfg = format!(
            "profiles:\n  fake:\n    command: {}\n    headless: {headless}\n    env:\n      \
             TOKEN: {{from_env: SECRET_SRC}}\n",
            t.agent_path("fake")
        );
        let mut t = t
            .config(&cfg)
            .env("SECRET_SRC", OsString::from_vec(secret.clone()))
            .env("PATH", OsString::from_vec(path.clone()));
        if let Some(server) = &server {
            t = t.in_tmux(server);
        }
        let out = t.arg("go").run();
        out.status(0).stdout_is("recorded\n");
        let rec = out.test.path();
        let mode = if headless { "headless" } else { "tmux" };
        // Both at once, so that a failure shows what became of each.
        assert_eq!(
            (
                recorded_var_bytes(rec, "TOKEN"),
                recorded_var_bytes(rec, "PATH")
            ),
            (Some(secret), Some(path)),
            "{mode}: the secret's and PATH's bytes"
        );
    }
}

/// `pass_env` hands the caller's variables (by name or prefix) to an agent in a pane,
/// whose environment otherwise comes from the tmux server; never through a file.
#[test]
fn pass_env_reaches_a_pane() {
    let value = format!("v-{}", unique());
    let t = Test::new();
    let body = format!("env -0 >'{}/env'\npublish recorded", t.path().display());
    let t = t.agent("fake", &body);
    let server = TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    pass_env: [MY_TOKEN, WORK_*]\n",
        t.agent_path("fake")
    );
    let out = t
        .config(&cfg)
        .env("MY_TOKEN", &value)
        .env("WORK_A", "a")
        .env("WORK_B", "b")
        .env("OTHER_VAR", "not passed")
        .in_tmux(&server)
        .arg("go")
        .run();
    out.status(0).stdout_is("recorded\n");
    let rec = out.test.path();
    assert_eq!(
        recorded_var_bytes(rec, "MY_TOKEN"),
        Some(value.clone().into_bytes())
    );
    assert_eq!(recorded_var_bytes(rec, "WORK_A"), Some(b"a".to_vec()));
    assert_eq!(recorded_var_bytes(rec, "WORK_B"), Some(b"b".to_vec()));
    assert_eq!(recorded_var_bytes(rec, "OTHER_VAR"), None);
    // Not in any file of the run directory.
    for file in files_under(&out.test.runs_root()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "{} holds the value",
            file.display()
        );
    }
    // A bad pattern names the field.
    let t = Test::new().agent("fake", "publish x");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    pass_env: [\"A-B\"]\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).args(["-H", "go"]).run();
    out.status(2)
        .stderr_contains("profile \"fake\": field \"pass_env\": \"A-B\" is not a variable name");
}
