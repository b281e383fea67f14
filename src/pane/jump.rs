//! `p` in `top`: brings a run's pane to the front — its window selected, the pane
//! selected, and the tmux client `top` runs in switched to the pane's session when it
//! is another. Every command goes to the run's own tmux server (its recorded socket).
//! The caller says which run and pane; this knows no run directory.

use std::ffi::OsStr;

/// Where `top` itself runs: `$TMUX` and `$TMUX_PANE`, when inside tmux.
pub struct Here<'a> {
    pub tmux: Option<&'a OsStr>,
    pub pane: Option<&'a OsStr>,
}

impl Here<'_> {
    /// The socket of the server `top` runs in (`$TMUX` is `socket,pid,session`).
    fn socket(&self) -> Option<&OsStr> {
        super::tmux::socket_of(self.tmux.filter(|t| !t.is_empty())?)
    }
}

/// Jumps to `pane` of run `id` on the tmux server at `socket` (`None`: the one of
/// `$TMUX`). `Ok`: what was done; `Err`: why not. Both for the status bar, in words.
pub fn jump(id: &str, pane: &str, socket: Option<&str>, here: &Here<'_>) -> Result<String, String> {
    // run.json can be written by the agent: only a pane id is passed to tmux.
    if !valid_pane_id(pane) {
        return Err(format!("run {id} names no valid pane ({pane:?})"));
    }
    let socket = socket.map(OsStr::new);
    let tmux = |args: &[&str]| tmux(socket, args);
    let session = tmux(&["display-message", "-p", "-t", pane, "#{session_id}"])
        .map_err(|err| format!("cannot reach pane {pane} of run {id}: {err}"))?;
    tmux(&["select-window", "-t", pane])
        .and_then(|_| tmux(&["select-pane", "-t", pane]))
        .map_err(|err| format!("cannot select pane {pane} of run {id}: {err}"))?;
    // Without -S, tmux talks to $TMUX's server: a run with no socket recorded is on it.
    let same_server = here
        .socket()
        .is_some_and(|ours| socket.is_none_or(|s| s == ours));
    if !same_server {
        let attach = socket.map_or_else(
            || "tmux attach".to_owned(),
            |s| {
                format!(
                    "tmux -S {} attach",
                    crate::shell::quote(&s.to_string_lossy())
                )
            },
        );
        return Ok(format!(
            "selected pane {pane} of run {id}, on a tmux server this terminal is not \
             attached to ({attach})"
        ));
    }
    let our_session = here
        .pane
        .and_then(|p| p.to_str())
        .and_then(|p| tmux(&["display-message", "-p", "-t", p, "#{session_id}"]).ok());
    if our_session.as_deref() != Some(session.as_str()) {
        // The client is found from $TMUX, which this process and tmux share.
        tmux(&["switch-client", "-t", &session]).map_err(|err| {
            format!(
                "selected pane {pane} of run {id}, but cannot switch this client to its \
                     session: {err}"
            )
        })?;
    }
    Ok(format!("switched to pane {pane} of run {id}"))
}

/// `%` and digits: what tmux gives as a pane id.
fn valid_pane_id(pane: &str) -> bool {
    pane.strip_prefix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Runs tmux on `socket` (else the server of `$TMUX`, else the default); its trimmed
/// stdout, or its stderr as the error.
fn tmux(socket: Option<&OsStr>, args: &[&str]) -> Result<String, String> {
    let out = super::tmux::command(socket)
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "tmux is not installed".to_owned(),
            _ => format!("cannot run tmux: {e}"),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pane_ids_reach_tmux() {
        assert!(valid_pane_id("%0"));
        assert!(valid_pane_id("%123"));
        for bad in ["%", "3", "%3;kill-server", "-t", "%-1", "main:0.1"] {
            assert!(!valid_pane_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_server_is_the_socket_in_tmux() {
        let here = Here {
            tmux: Some(OsStr::new("/tmp/tmux-0/default,123,0")),
            pane: None,
        };
        assert_eq!(here.socket(), Some(OsStr::new("/tmp/tmux-0/default")));
        let outside = Here {
            tmux: Some(OsStr::new("")),
            pane: None,
        };
        assert_eq!(outside.socket(), None);
    }
}
