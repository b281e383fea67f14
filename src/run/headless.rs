//! Headless mode: the launcher runs without a terminal, in a session of its own, with
//! its output appended to `output.log`.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::agents::NESTING_GUARDS;
use crate::store::dir::{self, RunDir};

/// Starts `launch.sh`. The agent's environment is ours, plus the profile's `from_env`
/// values (handed over in the process environment: never in a file or an argv), minus
/// the nesting guards. Stdin is a pipe that carries the go-ahead (see
/// [`release`]); the launcher gives the agent `/dev/null` (codex waits for EOF on an
/// open stdin), or `prompt.md` for `stdin` delivery.
pub fn spawn(run: &RunDir, secrets: &[(String, OsString)]) -> Result<Child> {
    let log_path = run.file(dir::OUTPUT);
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(run.file(dir::LAUNCHER))
        .stdin(Stdio::piped())
        .stdout(
            log.try_clone()
                .context("cannot duplicate the log file handle")?,
        )
        .stderr(log)
        .envs(secrets.iter().map(|(k, v)| (k, v)));
    for guard in NESTING_GUARDS {
        cmd.env_remove(guard);
    }
    // A session of its own: the agent is out of reach of the caller's terminal signals
    // (see signals.rs) and everything it starts can be found and stopped by session.
    in_own_session(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("cannot start /bin/sh {}", run.file(dir::LAUNCHER).display()))
}

/// Lets the launcher start the agent: called once the run records its launcher. Had
/// agent-offload been killed before, the launcher would have read the end of its stdin
/// and ended without starting the agent.
pub fn release(child: &mut Child) {
    if let Some(mut gate) = child.stdin.take() {
        // A launcher already gone (killed) makes this fail: nothing to release.
        let _ = gate.write_all(b"go\n");
    }
}

/// Makes `cmd` start in a new session (`setsid`): no controlling terminal, its own
/// process group, out of reach of signals sent to ours.
pub fn in_own_session(cmd: &mut Command) {
    #[allow(unsafe_code)]
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
}

/// Copies what the agent writes to `output.log` onto our stderr while it runs.
pub struct Tail {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Tail {
    pub fn start(run: &RunDir) -> Tail {
        let path = run.file(dir::OUTPUT);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            // Through the untrusted reader: a FIFO the agent put at output.log would
            // block an ordinary open, and this thread is joined.
            let Ok((mut f, _)) = crate::store::read::open_untrusted(&path) else {
                return;
            };
            let _ = f.seek(SeekFrom::Start(0));
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let finishing = flag.load(Ordering::SeqCst);
                match f.read(&mut buf) {
                    Ok(0) if finishing => return,
                    Ok(0) => std::thread::sleep(Duration::from_millis(50)),
                    Ok(n) => {
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(&buf[..n]);
                        let _ = err.flush();
                    }
                    Err(_) => return,
                }
            }
        });
        Tail {
            stop,
            handle: Some(handle),
        }
    }

    /// Copies what is left and stops.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
