//! The agent CLI's session behind a run: a new id where the CLI lets us choose one, and
//! finding the id afterwards where it does not (its structured output, a file a generic
//! agent wrote, the CLI's own session store).

use std::hash::{BuildHasher, Hasher};

use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use crate::agents::{self, transcript, transcript::StoreSearch};
use crate::interface::Mode;
use crate::store::dir::{self, Manifest, RunDir};
use crate::store::record::Recorded;

/// A random version 4 UUID (`8-4-4-4-12` lowercase hex), for a CLI that takes its
/// session id from us (claude `--session-id`). Uniqueness is all it needs: the 122
/// random bits come from the standard library's randomly keyed hasher.
pub fn new_uuid() -> String {
    let state = std::hash::RandomState::new();
    let half = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    let bits = (u128::from(half(1)) << 64) | u128::from(half(2));
    // Version 4 in the 13th hex digit, variant 10xx in the 17th.
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The run's session id, best source first: what the CLI's structured output said
/// (`stream.json`, written by the relay as soon as it is seen), the id recorded when
/// the run started (assigned, or the one resumed), what a generic agent wrote to
/// `session_id`. The files can be written by the agent too: only a valid id is taken.
pub fn discover(run: &RunDir, manifest: &Manifest) -> Option<String> {
    known(run, manifest).or_else(|| {
        (manifest.mode == Mode::Tmux)
            .then(|| find_in_store(run, manifest))
            .flatten()
    })
}

/// [`discover`] without searching the CLI's session store: what the run directory
/// says, cheap enough for every listing of a run still going.
pub fn known(run: &RunDir, manifest: &Manifest) -> Option<String> {
    Recorded::read(run)
        .and_then(|r| r.session_id)
        .or_else(|| manifest.session_id.clone())
        .or_else(|| run.reported_session_id())
}

/// Sessions are only looked for among files written since shortly before the run.
const STORE_SLACK: Duration = Duration::from_secs(60);

/// A TUI's session, found in the CLI's own session store (`agents::Cli::find_session`:
/// codex's and pi's): the file, written since the run started, that holds the run
/// directory's path (every prompt names it, in its completion instructions; no other
/// run's does). claude, gemini and qwen need no search (their id is assigned); opencode
/// keeps its sessions in a database (not read).
fn find_in_store(run: &RunDir, m: &Manifest) -> Option<String> {
    let interface = m.interface?;
    let since = SystemTime::try_from(m.started_at)
        .ok()?
        .checked_sub(STORE_SLACK)?;
    let marker = run.path.to_string_lossy().into_owned();
    let env = |name: &str| agent_var(m, name);
    agents::cli(interface).find_session(&StoreSearch {
        env: &env,
        cwd: &m.cwd,
        since,
        marker: marker.as_bytes(),
    })
}

/// A pane run's usage so far, from its CLI's session transcript (see `agents::transcript`):
/// what was written since the run started (`transcript_from` in `run.json`). What was
/// read is kept in the run directory (`transcript-usage.json`), so that each look (the
/// budget's every few seconds, `top`, `runs`, `show`) reads only what the CLI appended
/// since the last.
pub fn transcript_usage(run: &RunDir, m: &Manifest) -> Option<crate::usage::Usage> {
    if m.mode != Mode::Tmux {
        return None;
    }
    let id = m.session_id.as_deref()?;
    let env = |name: &str| agent_var(m, name);
    let interface = m.interface?;
    let path = transcript::locate(interface, id, &m.cwd, &env)?;
    let kept = run
        .small_file(dir::TRANSCRIPT_USAGE, PROGRESS_MAX)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let from = m.transcript_from.unwrap_or(0);
    let (counted, progress) = transcript::usage_from(interface, &path, from, kept)?;
    if progress.advanced
        && let Ok(json) = serde_json::to_vec(&progress)
        && json.len() as u64 <= PROGRESS_MAX
    {
        // Best effort: without it, the next look reads the transcript again.
        let _ = run.write_atomic(dir::TRANSCRIPT_USAGE, &json, 0o600);
    }
    Some(counted.since)
}

/// The largest `transcript-usage.json` kept (a tally of up to `KEYS_MAX` messages).
const PROGRESS_MAX: u64 = 32 * 1024 * 1024;

/// The size of the transcript of the session a pane run resumes, when it starts: its
/// usage is what is written after it.
pub fn transcript_size(m: &Manifest) -> Option<u64> {
    let id = m.session_id.as_deref()?;
    let env = |name: &str| agent_var(m, name);
    let path = transcript::locate(m.interface?, id, &m.cwd, &env)?;
    std::fs::metadata(path).ok().map(|md| md.len())
}

/// A variable of the agent's environment: the profile's literal value as `run.json`
/// records it, else (for a `from_env` value, or none) ours.
fn agent_var(m: &Manifest, name: &str) -> Option<OsString> {
    match m.env.iter().find(|(k, _)| k == name) {
        Some((_, v)) if !v.starts_with("<from $") => Some(OsString::from(v)),
        _ => std::env::var_os(name),
    }
    .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 36);
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{id}");
            assert!(crate::session_id::valid(id));
        }
    }
}
