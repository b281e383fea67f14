//! What the suite proves for each CLI, and the fixture that sets one test up: the
//! model server, a temporary HOME/TMPDIR/XDG for the agent, the CLI's own config, a
//! profile for it (for a hand-off, a profile for each of several CLIs), and for tmux
//! mode a private tmux server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clis::{AgentDirs, Cli, TOKEN_VAR};
use crate::harness::{Test, unique, wait_bounded};
use crate::model_server::{ERROR_MESSAGE, FINAL_TEXT, ModelServer};
use crate::tmux_server::TmuxServer;

/// agent-offload's own bound for a run that should succeed (a cold start of a node CLI
/// on a busy 2-core machine takes several seconds).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(150);
/// The bound for a run whose model server refuses every request: it must end well
/// before this (exit 1), not by it (exit 124).
const FAILING_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after a run ends processes are looked for again.
const SETTLE: Duration = Duration::from_secs(3);

/// The task given to every agent: run one shell command, which is the publication the
/// augmented prompt asks for; the model server fills in the paths it names.
pub fn task(summary: &str) -> String {
    format!(
        "This is an end-to-end test of agent-offload. Run the shell command on the SCRIPT \
         line below with your shell tool, exactly as written, once.\n\
         SCRIPT: printf '%s\\n' '{summary}' >{{DONE_TMP}} && mv {{DONE_TMP}} {{DONE}}\n"
    )
}

pub struct Agent {
    // Dropped first: the socket lives in the test directory.
    pub tmux: Option<TmuxServer>,
    pub server: ModelServer,
    /// The CLI of the profile runs start with (`-p`).
    pub cli: Cli,
    pub dirs: AgentDirs,
    token: String,
    t: Test,
}

pub struct Ran {
    pub output: Output,
    pub elapsed: Duration,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

impl Agent {
    pub fn new(cli: Cli, tmux: bool) -> Agent {
        Agent::with_profiles(&[cli], tmux)
    }

    /// A profile for each of `clis` (named after the CLI), all pointed at the same
    /// model server; runs start with the first.
    pub fn with_profiles(clis: &[Cli], tmux: bool) -> Agent {
        let cli = clis[0];
        let server = ModelServer::start();
        let t = Test::new();
        let root = t.path().to_owned();
        let dirs = AgentDirs {
            home: root.join("home"),
            tmp: root.join("agent-tmp"),
            config: root.join("config"),
            data: root.join("data"),
            cache: root.join("cache"),
            // The default place, so that run directories are where users have them:
            // ~/.local/state/agent-offload/runs.
            state: root.join("home/.local/state"),
            work: t.work(),
        };
        for d in [
            &dirs.home,
            &dirs.tmp,
            &dirs.config,
            &dirs.data,
            &dirs.cache,
            &dirs.state,
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Work happens in a repository, as it does for the people using this.
        let git = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(&dirs.work)
            .status()
            .expect("git is needed by the end-to-end tests");
        assert!(git.success());

        let mut yaml = if clis.len() > 1 {
            format!("default_profile: {}\n", cli.name())
        } else {
            String::new()
        };
        yaml.push_str("profiles:\n");
        for &cli in clis {
            yaml.push_str(&profile(cli, &dirs, &server.base_url()));
        }
        let token = format!("e2e-token-{}", unique());
        let tmux = tmux.then(|| TmuxServer::start(t.path(), &t.work()));
        let mut t = t
            .config(&yaml)
            .env(TOKEN_VAR, &token)
            .env_remove("XDG_STATE_HOME");
        if let Some(server) = &tmux {
            t = t.in_tmux(server);
        }
        Agent {
            tmux,
            server,
            cli,
            dirs,
            token,
            t,
        }
    }

    /// Runs `agent-offload --timeout T -p <cli> [extra] PROMPT` to its end.
    pub fn run(&self, extra: &[&str], prompt: &str, timeout: Duration) -> Ran {
        let mut words = vec!["-p", self.cli.name()];
        words.extend(extra);
        self.invoke(&[], &words, prompt, timeout)
    }

    /// Runs `agent-offload continue RUN --timeout T [extra] PROMPT` to its end.
    pub fn continue_run(&self, run: &str, extra: &[&str], prompt: &str, timeout: Duration) -> Ran {
        self.invoke(&["continue", run], extra, prompt, timeout)
    }

    /// Runs `agent-offload [command] --timeout T [extra] PROMPT` to its end.
    fn invoke(&self, command: &[&str], extra: &[&str], prompt: &str, timeout: Duration) -> Ran {
        let mut cmd = self.t.command();
        cmd.args(command)
            .arg("--timeout")
            .arg(format!("{}s", timeout.as_secs()))
            .args(extra)
            .arg(prompt)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let child = cmd.spawn().expect("spawn agent-offload");
        let bound = timeout + Duration::from_secs(60);
        let output = wait_bounded(child, bound);
        let ran = Ran {
            output,
            elapsed: start.elapsed(),
        };
        eprintln!(
            "{}: agent-offload {} ended with {:?} after {:.1} s",
            self.cli.name(),
            [command, extra].concat().join(" "),
            ran.output.status.code(),
            ran.elapsed.as_secs_f64()
        );
        if std::env::var_os("AGENT_OFFLOAD_E2E_VERBOSE").is_some() {
            eprintln!("{}", self.context(&ran));
        }
        ran
    }

    /// agent-offload's config file (the profiles), for a test that adds to it.
    pub fn config_file(&self) -> PathBuf {
        self.t.config_path()
    }

    /// The run directories, oldest first.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let root = self.dirs.state.join("agent-offload/runs");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    fn run_dir(&self) -> PathBuf {
        let dirs = self.run_dirs();
        assert_eq!(dirs.len(), 1, "one run directory: {dirs:?}");
        dirs.into_iter().next().unwrap()
    }

    /// Everything useful to diagnose a failure: our output, the agent's log, the
    /// requests the model server saw.
    pub fn context(&self, ran: &Ran) -> String {
        let log = self
            .run_dirs()
            .pop()
            .and_then(|d| std::fs::read(d.join("output.log")).ok())
            .map_or_else(
                || "(none)".to_owned(),
                |b| {
                    let start = b.len().saturating_sub(6000);
                    String::from_utf8_lossy(&b[start..]).into_owned()
                },
            );
        format!(
            "\n--- {} status {:?} after {:.1} s\n--- stdout:\n{}\n--- stderr:\n{}\n--- output.log (tail):\n{}\n--- model server requests:\n{}",
            self.cli.name(),
            ran.output.status.code(),
            ran.elapsed.as_secs_f64(),
            ran.stdout(),
            ran.stderr(),
            log,
            self.server.summary()
        )
    }

    #[track_caller]
    pub fn check(&self, ok: bool, ran: &Ran, what: &str) {
        assert!(ok, "{what}{}", self.context(ran));
    }

    fn manifest(&self) -> Value {
        manifest_at(&self.run_dir())
    }

    /// The model saw the shell call through: one answer was the tool call, and a
    /// later request carried its result (answered with the final text).
    #[track_caller]
    fn check_tool_loop(&self, ran: &Ran) {
        let calls = self.server.model_calls();
        let tool_call = calls.iter().position(|r| r.answer.starts_with("tool call"));
        let after = tool_call.and_then(|i| {
            calls[i + 1..]
                .iter()
                .position(|r| r.answer.contains(FINAL_TEXT))
        });
        self.check(
            after.is_some(),
            ran,
            "the model server answered a shell call and then got its result",
        );
    }

    /// The `from_env` credential reached the model server.
    #[track_caller]
    fn check_token_arrived(&self, ran: &Ran) {
        let seen = self.server.model_calls().iter().any(|r| {
            r.headers
                .iter()
                .any(|(_, v)| v.contains(self.token.as_str()))
        });
        self.check(seen, ran, "the from_env token reached the model server");
    }

    /// No process of the run is left: none has the run's directory in its environment
    /// (launch.sh exports it, so every process the agent started inherits it) or the
    /// test's directory in its command line (a daemon that cleaned its environment).
    /// Checked again after a few seconds, to catch a process that detached itself
    /// before the run was stopped and appears only later.
    #[track_caller]
    pub fn check_no_survivors(&self, ran: &Ran) {
        let env_needles: Vec<String> = self
            .run_dirs()
            .iter()
            .map(|d| format!(" AGENT_OFFLOAD_RUN_DIR={} ", d.display()))
            .collect();
        let test_dir = self.t.path().to_string_lossy().into_owned();
        let left = || -> Vec<(String, String)> {
            processes(|_, environ, cmdline| {
                let environ = format!(" {environ} ");
                env_needles.iter().any(|n| environ.contains(n.as_str()))
                    || cmdline.contains(&test_dir)
            })
            .into_iter()
            // The test's own tmux server (its socket is in the test directory).
            .filter(|(_, cmd)| !cmd.contains("tmux.sock"))
            .collect()
        };
        // agent-offload's own helpers exit when agent-offload has: the inotify helper
        // (`__watch`; closing its inotify instance takes the kernel some milliseconds)
        // and the run's guard (`__guard`, which defers to the waiting process until it
        // exits, then sees the outcome recorded and leaves). They are looked for only
        // in the later check.
        let helpers = [
            format!("{} __watch ", crate::harness::BIN),
            format!("{} __guard ", crate::harness::BIN),
        ];
        let now: Vec<_> = left()
            .into_iter()
            .filter(|(_, cmd)| !helpers.iter().any(|h| cmd.starts_with(h.as_str())))
            .collect();
        kill_all(&now);
        self.check(
            now.is_empty(),
            ran,
            &format!("no process of the run survives it; left: {now:#?}"),
        );
        std::thread::sleep(SETTLE);
        let later = left();
        kill_all(&later);
        self.check(
            later.is_empty(),
            ran,
            &format!(
                "no process of the run appears after it ({} s later); found: {later:#?}",
                SETTLE.as_secs()
            ),
        );
    }
}

/// The profile for `cli`, configured against the model server at `base_url`: its own
/// config files in `dirs`, and the same environment in both modes (in tmux mode the
/// pane's environment comes from the tmux server, so everything the agent needs is in
/// the profile).
fn profile(cli: Cli, dirs: &AgentDirs, base_url: &str) -> String {
    let setup = cli.configure(dirs, base_url);
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut env = vec![
        ("HOME", s(&dirs.home)),
        ("TMPDIR", s(&dirs.tmp)),
        ("XDG_CONFIG_HOME", s(&dirs.config)),
        ("XDG_DATA_HOME", s(&dirs.data)),
        ("XDG_CACHE_HOME", s(&dirs.cache)),
        ("XDG_STATE_HOME", s(&dirs.state)),
    ];
    env.extend(setup.env);
    let q = |v: &str| Value::String(v.to_owned()).to_string();
    let mut yaml = format!(
        "  {name}:\n    command: {exe}\n    interface: {name}\n    args: {args}\n    env:\n",
        name = cli.name(),
        exe = q(&s(&cli.executable())),
        args = serde_json::to_string(&setup.args).unwrap(),
    );
    for (k, v) in env {
        let _ = writeln!(yaml, "      {k}: {}", q(&v));
    }
    let _ = writeln!(yaml, "      {}: {{from_env: {TOKEN_VAR}}}", setup.token_var);
    yaml
}

/// A run's `run.json`.
pub fn manifest_at(run_dir: &Path) -> Value {
    let text = std::fs::read_to_string(run_dir.join("run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Kills the processes found by a failed check, so that they do not outlive the test.
fn kill_all(procs: &[(String, String)]) {
    for (pid, _) in procs {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", pid])
            .stderr(Stdio::null())
            .status();
    }
}

/// The live processes (pid, command line) for which `select(pid, environment,
/// command line)` holds; zombies and this test excluded. Read with `ps`
/// ([`crate::harness::processes_with_env`]), which fails the test rather than find
/// nothing where it cannot look; the environment is its `NAME=value` words joined with
/// single spaces.
fn processes(select: impl Fn(&str, &str, &str) -> bool) -> Vec<(String, String)> {
    let me = std::process::id();
    crate::harness::processes_with_env()
        .into_iter()
        .filter(|(p, env)| p.pid != me && !p.zombie() && select(&p.pid.to_string(), env, &p.args))
        .map(|(p, _)| (p.pid.to_string(), p.args))
        .collect()
}

pub fn summary_for(cli: Cli, mode: &str) -> String {
    format!("e2e summary from {} ({mode}): the script ran", cli.name())
}

pub fn headless(cli: Cli) {
    let a = Agent::new(cli, false);
    let summary = summary_for(cli, "headless");
    let ran = a.run(&["-H"], &task(&summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0),
        &ran,
        "agent-offload exits 0",
    );
    a.check(
        ran.stdout() == format!("{summary}\n"),
        &ran,
        "stdout is the summary",
    );
    assert_eq!(a.manifest()["status"], "done");
    assert_eq!(a.manifest()["mode"], "headless");
    a.check_tool_loop(&ran);
    a.check_token_arrived(&ran);
    a.check_no_survivors(&ran);
}

pub fn tmux(cli: Cli) {
    let a = Agent::new(cli, true);
    let summary = summary_for(cli, "tmux");
    let ran = a.run(&[], &task(&summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0),
        &ran,
        "agent-offload exits 0",
    );
    a.check(
        ran.stdout() == format!("{summary}\n"),
        &ran,
        "stdout is the summary",
    );
    let m = a.manifest();
    assert_eq!(m["status"], "done");
    assert_eq!(m["mode"], "tmux");
    assert!(m["pane"].as_str().is_some_and(|p| p.starts_with('%')));
    let server = a.tmux.as_ref().unwrap();
    a.check(
        server.panes() == vec![server.caller.clone()],
        &ran,
        "the run's pane is closed; only the caller's is left",
    );
    // The pane is closed as soon as done.md appears, so the result of the shell call
    // may never reach the model: only the call itself is certain.
    a.check(
        a.server
            .model_calls()
            .iter()
            .any(|r| r.answer.starts_with("tool call")),
        &ran,
        "the model server answered with a shell call",
    );
    a.check_token_arrived(&ran);
    a.check_no_survivors(&ran);
}

pub fn unauthorized(cli: Cli) {
    let a = Agent::new(cli, false);
    a.server.fail_with(401);
    let ran = a.run(&["-H"], &task("never published"), FAILING_RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(1),
        &ran,
        "the run fails (exit 1) before its timeout",
    );
    a.check(
        !a.server.model_calls().is_empty(),
        &ran,
        "the agent asked the model server",
    );
    let stderr = ran.stderr();
    a.check(
        stderr.contains(ERROR_MESSAGE) || stderr.contains("401"),
        &ran,
        "the failure message shows the agent's error (the server's message or the status)",
    );
    assert_eq!(a.manifest()["status"], "failed");
    a.check_no_survivors(&ran);
}

/// The skill `agent-offload install-skill` installs is the one the CLI loads: after
/// installing it for the CLI's provider (qwen reads the shared `~/.agents`), a request
/// the CLI sends to the model lists it, by name and by a phrase of its description.
pub fn skill(cli: Cli) {
    let a = Agent::new(cli, false);
    let provider = match cli {
        Cli::Qwen => "agents",
        other => other.name(),
    };
    let mut install = a.t.command();
    install.args(["install-skill", "--provider", provider]);
    if cli == Cli::Codex {
        // Where the profile points codex: the provider honours the same variable.
        install.env("CODEX_HOME", a.dirs.home.join(".codex"));
    }
    let installed = install.output().expect("run install-skill");
    assert!(
        installed.status.success()
            && String::from_utf8_lossy(&installed.stdout).contains("installed"),
        "install-skill --provider {provider}: {installed:?}"
    );
    let name = "agent-offload";
    let marker = "Delegate an implementation task to another coding agent CLI";
    let summary = summary_for(cli, "skill");
    let ran = a.run(&["-H"], &task(&summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0),
        &ran,
        "agent-offload exits 0",
    );
    let listed = a
        .server
        .model_calls()
        .iter()
        .any(|r| r.body.contains(name) && r.body.contains(marker));
    a.check(
        listed,
        &ran,
        "a request to the model lists the skill (its name and description)",
    );
}
