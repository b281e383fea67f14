//! A small fluent harness around the real binary: every test gets a temporary HOME and
//! XDG directories, a config file, and fake agents written as shell scripts.
//!
//!     let out = Test::new()
//!         .agent("fake", "echo hi; publish 'all done'")
//!         .config("profiles:\n  fake:\n    command: ./fake\n    headless: true\n")
//!         .args(["do it"])
//!         .run();
//!     out.status(0).stdout_is("all done\n");

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_agent-offload");

/// Shell functions every fake agent can use. `publish TEXT` follows the completion
/// protocol exactly as the augmented prompt asks: done.md.tmp, then rename.
pub const AGENT_PRELUDE: &str = r#"#!/bin/sh
publish() {
  printf '%s\n' "$1" >"$AGENT_OFFLOAD_RUN_DIR/done.md.tmp" &&
    mv "$AGENT_OFFLOAD_RUN_DIR/done.md.tmp" "$AGENT_OFFLOAD_RUN_DIR/done.md"
}
# The prompt as the agent received it: the last argument.
for last in "$@"; do :; done
"#;

pub struct Test {
    pub tmp: tempfile::TempDir,
    args: Vec<OsString>,
    env: BTreeMap<String, OsString>,
    removed_env: Vec<String>,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
}

impl Test {
    pub fn new() -> Test {
        let tmp = tempfile::Builder::new()
            .prefix("ao-test-")
            .tempdir()
            .expect("tempdir");
        for d in ["home", "config", "state", "work"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let mut env = BTreeMap::new();
        env.insert("HOME".into(), tmp.path().join("home").into());
        env.insert("XDG_CONFIG_HOME".into(), tmp.path().join("config").into());
        env.insert("XDG_STATE_HOME".into(), tmp.path().join("state").into());
        env.insert(
            "PATH".into(),
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        );
        // `.ci/run` runs the suite a second time with the portable backend: every
        // agent-offload process of a test must use it.
        if let Some(backend) = std::env::var_os("AGENT_OFFLOAD_BACKEND") {
            env.insert("AGENT_OFFLOAD_BACKEND".into(), backend);
        }
        Test {
            tmp,
            args: Vec::new(),
            env,
            removed_env: Vec::new(),
            stdin: None,
            cwd: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The default working directory of the command (and of the agent).
    pub fn work(&self) -> PathBuf {
        self.cwd.clone().unwrap_or_else(|| self.path().join("work"))
    }

    pub fn runs_root(&self) -> PathBuf {
        self.path().join("state/agent-offload/runs")
    }

    /// Writes an executable fake agent `name` in the test directory: the prelude,
    /// then `body`.
    pub fn agent(self, name: &str, body: &str) -> Test {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_executable(&path, &format!("{AGENT_PRELUDE}{body}\n"));
        self
    }

    /// Writes the user config file (`$XDG_CONFIG_HOME/agent-offload/config.yaml`), where
    /// discovery finds it. Fake agents are referred to as `../../name`, or by absolute
    /// path through [`Test::agent_path`].
    pub fn config(self, yaml: &str) -> Test {
        let dir = self.path().join("config/agent-offload");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), yaml).unwrap();
        self
    }

    pub fn agent_path(&self, name: &str) -> String {
        self.path().join(name).to_string_lossy().into_owned()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config/agent-offload/config.yaml")
    }

    pub fn file(self, rel: &str, content: &str) -> Test {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Test {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<OsString>) -> Test {
        self.env.insert(k.into(), v.into());
        self
    }

    /// Runs agent-offload as if from the caller's pane of a private tmux server.
    pub fn in_tmux(self, server: &crate::tmux_server::TmuxServer) -> Test {
        self.env("TMUX", server.tmux_env())
            .env("TMUX_PANE", server.caller.clone())
    }

    pub fn env_remove(mut self, k: &str) -> Test {
        self.env.remove(k);
        self.removed_env.push(k.into());
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Test {
        self.cwd = Some(dir.into());
        self
    }

    /// The command, ready to run. Fake agents live in the test directory, config files
    /// refer to them as `./name` (relative to the config file) or by absolute path.
    pub fn command(&self) -> Command {
        self.command_from(Path::new(BIN))
    }

    /// [`Test::command`], running `program` (a copy of the binary) instead.
    pub fn command_from(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.work());
        // Keep the test runner's own tmux (if any) away from the tests.
        for k in &self.removed_env {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Runs the binary again in this test's environment with other arguments (`wait`,
    /// `runs`, ...), bounded like [`Test::run`].
    pub fn exec<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.exec_in(&self.work(), args)
    }

    /// [`Test::exec`] from the directory `dir`.
    pub fn exec_in<I, S>(&self, dir: &Path, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        wait_bounded(
            cmd.spawn().expect("spawn agent-offload"),
            Duration::from_secs(60),
        )
    }

    /// Starts the command without waiting (stdin as given, else /dev/null).
    pub fn spawn(&self) -> Child {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().expect("spawn agent-offload");
        if let Some(bytes) = &self.stdin {
            let mut s = child.stdin.take().unwrap();
            let bytes = bytes.clone();
            std::thread::spawn(move || {
                let _ = s.write_all(&bytes);
            });
        }
        child
    }

    /// Runs to completion, with a generous bound so a hang fails instead of blocking CI.
    pub fn run(self) -> Outcome {
        let child = self.spawn();
        let output = wait_bounded(child, Duration::from_secs(60));
        Outcome { output, test: self }
    }

    /// The run directories created so far, oldest first.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.runs_root())
            .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }
}

/// Writes an executable script at `path` without this process ever holding it open for
/// writing. Tests run in parallel threads, and a child forked by another thread while
/// the file is open inherits the descriptor until it execs: run then, the script fails
/// with "Text file busy" (ETXTBSY). So the text goes to a temporary file first and `cp`,
/// a process of its own, writes the script.
pub fn write_executable(path: &Path, text: &str) {
    let mut src = tempfile::NamedTempFile::new().expect("temporary file");
    src.write_all(text.as_bytes())
        .expect("write temporary file");
    src.flush().expect("write temporary file");
    let status = Command::new("cp")
        .arg(src.path())
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run cp");
    assert!(status.success(), "cp to {} failed", path.display());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Waits for `child` up to `limit`, killing it (and failing the test) if it hangs.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "agent-offload did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub struct Outcome {
    pub output: Output,
    pub test: Test,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn context(&self) -> String {
        format!(
            "\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn status(&self, code: i32) -> &Self {
        assert_eq!(self.output.status.code(), Some(code), "{}", self.context());
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout(), expected, "{}", self.context());
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}{}",
            self.context()
        );
        self
    }

    /// The single run directory this test created.
    #[track_caller]
    pub fn run_dir(&self) -> PathBuf {
        let dirs = self.test.run_dirs();
        assert_eq!(
            dirs.len(),
            1,
            "expected one run directory{}",
            self.context()
        );
        dirs.into_iter().next().unwrap()
    }

    /// `run.json` of the single run directory.
    #[track_caller]
    pub fn manifest(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.run_dir().join("run.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// Waits until `cond` holds, up to `limit`; panics with `what` otherwise.
#[track_caller]
pub fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One row of the process table, as `ps` shows it.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The state letters (`S`, `R+`, `Z`, ...); a zombie's start with `Z`.
    pub stat: String,
    /// When the process started (`ps -o lstart`, to the second): a pid with another
    /// start time is another process.
    pub start: String,
    /// The command line, arguments joined with single spaces.
    pub args: String,
}

impl Process {
    pub fn zombie(&self) -> bool {
        self.stat.starts_with('Z')
    }
}

/// The process table, zombies included, read with `ps` (procps on Linux, BSD `ps` on
/// macOS: both take these options). `ps`'s own row is left out.
///
/// A check that cannot look must fail, not pass: this panics if `ps` cannot be run,
/// fails, or prints a table that does not hold the test process itself, rather than
/// return an empty table in which "no process survives" would hold vacuously.
pub fn processes() -> Vec<Process> {
    ps_table(false)
}

/// [`processes`], each with the environment `ps` shows for it (`NAME=value` words joined
/// with single spaces, as it started; empty where `ps` shows none: another user's
/// process, or on macOS a hardened-runtime binary).
pub fn processes_with_env() -> Vec<(Process, String)> {
    let plain = processes();
    ps_table(true)
        .into_iter()
        .map(|with_env| {
            // `ps` prints the environment after the command line: strip the command
            // line the plain table shows for the same process. If it changed between
            // the two reads, the whole text stands for both (matching more, never less).
            let same = plain
                .iter()
                .find(|q| q.pid == with_env.pid && q.start == with_env.start)
                .and_then(|q| Some((q, with_env.args.strip_prefix(q.args.as_str())?)));
            if let Some((q, env)) = same {
                (q.clone(), env.trim_start().to_owned())
            } else {
                let env = with_env.args.clone();
                (with_env, env)
            }
        })
        .collect()
}

/// The row of `pid`, zombie or not; `None` if no process has that pid.
pub fn process(pid: u32) -> Option<Process> {
    processes().into_iter().find(|p| p.pid == pid)
}

/// Whether `pid` is a live process: in the table and not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    process(pid).is_some_and(|p| !p.zombie())
}

/// Whether the process `pid` that started at `start` is still alive: false once it has
/// exited, even if its pid was given to another process since.
pub fn still_alive(pid: u32, start: &str) -> bool {
    process(pid).is_some_and(|p| !p.zombie() && p.start == start)
}

/// Whether any live process has `needle` in its command line (arguments joined with
/// single spaces).
pub fn process_running(needle: &str) -> bool {
    processes()
        .iter()
        .any(|p| !p.zombie() && p.args.contains(needle))
}

/// The live processes whose command line (arguments joined with single spaces, as `ps`
/// shows them) contains `needle`: (pid, command line), zombies excluded.
pub fn processes_with(needle: &[u8]) -> Vec<(String, String)> {
    let needle = String::from_utf8_lossy(needle);
    processes()
        .into_iter()
        .filter(|p| !p.zombie() && p.args.contains(needle.as_ref()))
        .map(|p| (p.pid.to_string(), p.args))
        .collect()
}

/// Runs `ps` over every process; with `env`, the command lines are followed by the
/// environments (procps: `e`; macOS: `-E`).
fn ps_table(env: bool) -> Vec<Process> {
    let mut cmd = Command::new("ps");
    cmd.args(["-A", "-ww"]);
    if env {
        cmd.arg(if cfg!(target_os = "linux") { "e" } else { "-E" });
    }
    // The needles are never passed to ps: its own row cannot match one.
    cmd.args([
        "-o", "pid=", "-o", "ppid=", "-o", "stat=", "-o", "lstart=", "-o", "args=",
    ])
    .env("LC_ALL", "C")
    .env_remove("PS_PERSONALITY")
    .env_remove("PS_FORMAT")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot read the process table: running `ps` failed: {e}"));
    let ps_pid = child.id();
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot read the process table: `ps` failed: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cannot read the process table: `ps` exited with {}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = parse_ps_output(&text);
    let me = std::process::id();
    assert!(
        rows.iter().any(|p| p.pid == me),
        "cannot read the process table: `ps` does not show this test (pid {me}):\n{text}"
    );
    rows.retain(|p| p.pid != ps_pid);
    rows
}

/// The rows of `ps -o pid= -o ppid= -o stat= -o lstart= -o args=`; panics on output
/// that does not start with such a row.
pub fn parse_ps_output(text: &str) -> Vec<Process> {
    let mut rows: Vec<Process> = Vec::new();
    for line in text.lines() {
        match parse_ps_row(line) {
            Some(row) => rows.push(row),
            // A command line holding a newline continues on the next line.
            None => match rows.last_mut() {
                Some(p) => {
                    p.args.push(' ');
                    p.args.push_str(line);
                }
                None => panic!("cannot read the process table: `ps` printed {line:?}"),
            },
        }
    }
    rows
}

/// `PID PPID STAT Www Mmm DD HH:MM:SS YYYY ARGS...` (the start time in the C locale).
fn parse_ps_row(line: &str) -> Option<Process> {
    fn word(s: &str) -> Option<(&str, &str)> {
        let s = s.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        (end > 0).then(|| (&s[..end], &s[end..]))
    }
    let (pid, rest) = word(line)?;
    let (ppid, rest) = word(rest)?;
    let (stat, mut rest) = word(rest)?;
    let mut start = Vec::new();
    for _ in 0..5 {
        let (w, r) = word(rest)?;
        start.push(w);
        rest = r;
    }
    let time_ok = start[3].split(':').count() == 3;
    let year_ok = start[4].parse::<u32>().is_ok();
    if !(time_ok && year_ok && start[2].parse::<u32>().is_ok()) {
        return None;
    }
    Some(Process {
        pid: pid.parse().ok()?,
        ppid: ppid.parse().ok()?,
        stat: stat.to_owned(),
        start: start.join(" "),
        args: rest.trim_start().to_owned(),
    })
}

/// A string no other test (or earlier run) uses: for markers in command lines and
/// secret values.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}{:09}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fake-agent body that records what it received into `dir`: `argv` (each argument
/// followed by a NUL), `stdin`, `env` (`env -0`) and `pwd`, then publishes `recorded`.
pub fn recorder(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"for a in "$@"; do printf '%s\0' "$a"; done >'{d}/argv'
cat >'{d}/stdin'
env -0 >'{d}/env'
pwd >'{d}/pwd'
publish recorded"#
    )
}

/// The NUL-separated words written by [`recorder`].
pub fn read_nul_list(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut words: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    // Every word ends with a NUL: the last split is the empty rest.
    assert_eq!(words.pop().as_deref(), Some(""), "{}", path.display());
    words
}

/// The environment written by [`recorder`], as `NAME=value` strings.
pub fn recorded_env(dir: &Path) -> Vec<String> {
    read_nul_list(&dir.join("env"))
}

/// The value of `name` in the environment written by [`recorder`].
pub fn recorded_var(dir: &Path, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    recorded_env(dir)
        .into_iter()
        .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_owned))
}

/// The mode bits (`0o777`) of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o777
}

/// Sends `signal` (e.g. "TERM") to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Asserts that no process with `needle` in its command line outlives what the test
/// just ran. A process killed (`SIGKILL`) during the stop may still be in the exit path
/// when agent-offload returns (seen under heavy load), so this waits a bounded moment
/// for it to go; a real survivor fails, with its table row.
#[track_caller]
pub fn assert_no_survivor(needle: &str) {
    let start = Instant::now();
    loop {
        let left: Vec<Process> = processes()
            .into_iter()
            .filter(|p| !p.zombie() && p.args.contains(needle))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "survivors of {needle:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `git -C dir ARGS` with no user or system config of the machine's; its stdout (the
/// test fails if git does).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new repository at `dir` (branch `main`) with an identity in its config, for the
/// fake agents that commit; returns `dir`.
pub fn init_repo(dir: &Path) -> PathBuf {
    git(dir, &["-c", "init.defaultBranch=main", "init", "-q"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    dir.to_path_buf()
}

impl Test {
    /// [`Test::exec`] with stdout a pipe whose read end is closed before the command
    /// starts: its first write to stdout fails with EPIPE, deterministically (what
    /// `| head -1` does to every write after the first line, by chance of timing).
    pub fn exec_stdout_closed<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.exec_closed(args, true)
    }

    /// [`Test::exec`] with stderr a pipe whose read end is already closed (a host that
    /// stopped reading it): every write to stderr fails.
    pub fn exec_stderr_closed<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.exec_closed(args, false)
    }

    /// Runs the binary with stdout (else stderr) a pipe nobody reads, the other piped.
    fn exec_closed<I, S>(&self, args: I, stdout: bool) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.work())
            .stdin(Stdio::null());
        if stdout {
            cmd.stdout(writer).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::piped()).stderr(writer);
        }
        let child = cmd.spawn().expect("spawn agent-offload");
        // The parent's copy of the write end is gone with `cmd`.
        drop(cmd);
        wait_bounded(child, Duration::from_secs(60))
    }
}
