//! The running agent, however it was started: a headless process (our child, or one
//! we re-attached to) or a tmux pane. Stopping it means the same everywhere: close the
//! pane if there is one, then TERM, grace, KILL to everything in its session.

use std::process::Child;
use std::time::Duration;

use crate::interface::Mode;
use crate::os::stop;
use crate::outcome::signal_name;
use crate::pane::tmux;
use crate::store::dir::{Manifest, ProcessId, RunDir};

pub enum Agent {
    Process {
        pid: i32,
        child: Option<Child>,
        /// For a launcher started by another process: what `run.json` recorded.
        identity: Option<ProcessId>,
    },
    Pane {
        caller: tmux::Caller,
        pane: tmux::Pane,
        identity: Option<ProcessId>,
    },
}

impl Agent {
    /// The agent of a run started by another process, from its `run.json`.
    pub fn from_manifest(m: &Manifest) -> Option<Agent> {
        let identity = m.launcher.clone()?;
        let pid = identity.pid;
        Some(match m.mode {
            Mode::Headless => Agent::Process {
                pid,
                child: None,
                identity: Some(identity),
            },
            Mode::Tmux => Agent::Pane {
                caller: tmux::Caller::for_socket(m.tmux_socket.clone().map(Into::into)),
                pane: tmux::Pane {
                    id: m.pane.clone()?,
                    pid,
                },
                identity: Some(identity),
            },
        })
    }

    fn identity(&self) -> Option<&ProcessId> {
        match self {
            Agent::Process { identity, .. } | Agent::Pane { identity, .. } => identity.as_ref(),
        }
    }

    pub fn launcher_pid(&self) -> i32 {
        match self {
            Agent::Process { pid, .. } => *pid,
            Agent::Pane { pane, .. } => pane.pid,
        }
    }

    /// `pid 1234` or `pane %3`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Agent::Process { pid, .. } => format!("pid {pid}"),
            Agent::Pane { pane, .. } => format!("pane {}", pane.id),
        }
    }

    /// What the agent's pane shows now; `None` headless (or the pane is gone).
    pub fn pane_text(&self) -> Option<String> {
        match self {
            Agent::Pane { caller, pane, .. } => tmux::capture(caller, &pane.id),
            Agent::Process { .. } => None,
        }
    }

    /// Whether the agent sits in a pane (interactive agents never exit by themselves).
    pub fn is_pane(&self) -> bool {
        matches!(self, Agent::Pane { .. })
    }

    /// Stops the agent and everything it started; closes its pane.
    ///
    /// For an agent started by another process, nothing is touched unless it is
    /// certainly still ours: after a reboot, or once the launcher's pid belongs to
    /// another process, its pid, session id and pane id may name someone else's.
    pub fn stop(&self) {
        let pid = self.launcher_pid();
        // A pid from run.json that names no process (0 would mean our own group).
        if pid <= 0 {
            return;
        }
        let ours = self.identity().is_none_or(stop::still_ours);
        if !ours {
            return;
        }
        // The agent's processes are looked for before the pane is closed: closing it
        // HUPs the launcher, and what it started in a process group of its own would
        // then be out of the parent chain the sweep follows.
        let sweep = stop::Sweep::begin(pid);
        let closing = match self {
            Agent::Pane {
                caller,
                pane,
                identity,
            } => {
                // A pane id is only unique within one server's life: check that the
                // pane still runs our launcher before closing it.
                let same = identity.is_none() || tmux::pane_pid(caller, &pane.id) == Some(pane.pid);
                if same {
                    tmux::close(caller, pane)
                } else {
                    None
                }
            }
            Agent::Process { .. } => None,
        };
        sweep.finish(stop::GRACE);
        if let Some(mut client) = closing {
            let _ = client.wait();
        }
    }

    /// Lets a headless launcher we started go ahead and start the agent (see
    /// `headless::release`): called once `run.json` names it.
    pub fn release(&mut self) {
        if let Agent::Process {
            child: Some(child), ..
        } = self
        {
            crate::run::headless::release(child);
        }
    }

    /// Collects our child's exit status, if it is our child. Bounded: by now the
    /// launcher has ended or been killed.
    pub fn reap(&mut self) {
        if let Agent::Process {
            child: Some(child), ..
        } = self
        {
            // The exit is usually a moment away from being collectable: look early.
            let mut pause = Duration::from_micros(100);
            for _ in 0..200 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
        }
    }

    /// Why a run ended without a summary, in words, with the error the CLI reported in
    /// its structured output, if any.
    pub fn ended_reason(&mut self, run: &RunDir) -> String {
        let reason = self.ended_reason_alone(run);
        match run.reported_error() {
            Some(error) => format!("{reason}: {}", error.trim()),
            None => reason,
        }
    }

    fn ended_reason_alone(&mut self, run: &RunDir) -> String {
        if let Some(code) = run.exit_status() {
            return match code {
                127 => "the agent's command was not found (exit status 127) and no summary was written"
                    .to_owned(),
                126 => "the launcher could not start the agent (exit status 126) and no summary was written"
                    .to_owned(),
                c => format!("the agent exited with status {c} without writing a summary"),
            };
        }
        match self {
            Agent::Process {
                child: Some(child), ..
            } => {
                use std::os::unix::process::ExitStatusExt;
                match child.wait().ok().and_then(|s| s.signal()) {
                    Some(sig) => format!(
                        "the launcher was killed by signal {sig} ({}) before the agent finished",
                        signal_name(sig)
                    ),
                    None => {
                        "the launcher ended without recording the agent's exit status".to_owned()
                    }
                }
            }
            Agent::Process { .. } => format!(
                "the launcher ended without recording the agent's exit status (see {})",
                run.log().display()
            ),
            Agent::Pane { pane, .. } => format!(
                "pane {} was closed, or the tmux server ended, before the agent published a summary",
                pane.id
            ),
        }
    }
}
