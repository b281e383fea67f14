//! A private tmux server per test: `tmux -S <tempdir>/sock -f /dev/null`, started with
//! a minimal environment so that anything the delegated agent gets beyond it must
//! have come through agent-offload's hand-over.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct TmuxServer {
    pub sock: PathBuf,
    pid: String,
    /// The pane the tests call agent-offload "from".
    pub caller: String,
}

impl TmuxServer {
    /// Starts a detached 240x60 session whose first pane runs `sh`, in `cwd`.
    pub fn start(dir: &Path, cwd: &Path) -> TmuxServer {
        Self::start_sized(dir, cwd, 240, 60)
    }

    pub fn start_sized(dir: &Path, cwd: &Path, width: u16, height: u16) -> TmuxServer {
        let (w, h) = (width.to_string(), height.to_string());
        let sock = dir.join("tmux.sock");
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                &w,
                "-y",
                &h,
                "-c",
            ])
            .arg(cwd)
            .arg("sh")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .status()
            .expect(
                "tmux must be installed to run these tests (CI installs it in .ci/run; \
                 locally: apt-get install tmux)",
            );
        assert!(status.success(), "could not start a tmux server");
        let mut server = TmuxServer {
            sock,
            pid: String::new(),
            caller: String::new(),
        };
        server.pid = server.tmux(&["display-message", "-p", "-t", "main", "#{pid}"]);
        server.caller = server.tmux(&["display-message", "-p", "-t", "main", "#{pane_id}"]);
        server
    }

    /// Runs a tmux command on this server; returns trimmed stdout, panics on failure.
    pub fn tmux(&self, args: &[&str]) -> String {
        self.try_tmux(args).expect("run tmux")
    }

    pub fn try_tmux(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// A format (`#{pane_active}`, ...) expanded for `target`.
    pub fn show(&self, target: &str, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", target, format])
    }

    /// `$TMUX` as tmux sets it inside its panes.
    pub fn tmux_env(&self) -> String {
        format!("{},{},0", self.sock.display(), self.pid)
    }

    /// Every pane on the server.
    pub fn panes(&self) -> Vec<String> {
        match self.try_tmux(&["list-panes", "-a", "-F", "#{pane_id}"]) {
            Ok(s) => s.lines().map(str::to_owned).collect(),
            Err(e) => panic!("list-panes: {e}"),
        }
    }

    pub fn kill(&self) {
        if self.try_tmux(&["kill-server"]).is_ok() {
            return;
        }
        // The socket is gone when the test's directory was removed first (a `Test`
        // dropped before this server): signal the server process instead, after making
        // sure the pid is still this server's.
        let sock = self.sock.to_string_lossy();
        let ours = self
            .pid
            .parse()
            .ok()
            .and_then(crate::harness::process)
            .is_some_and(|p| !p.zombie() && p.args.contains(sock.as_ref()));
        if ours {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        self.kill();
    }
}
