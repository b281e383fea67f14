//! cursor-agent (Cursor Agent).
//!
//! Arguments: `-p` headless, `--output-format stream-json` for its events (claude's
//! stream, read by `claude.rs`), a plain positional prompt, `--resume ID`. Not yet
//! checked against a real cursor-agent: its facts are from Cursor's documentation.
//! Its stream (fixture `cursor-documented.jsonl`, from the documentation):
//! `tool_call` events with `subtype`
//! `started`/`completed` and `tool_call{<name>ToolCall{args, result}}`, `thinking`
//! events, and a closing `result` like claude's, with `usage` when it reports it.
//! These are read by `claude.rs`'s parser, with claude's [`super::claude::FLAVOUR`].
//!
//! The workspace trust marker: cursor-agent asks whether to trust a directory the
//! first time it runs there, which would stall a delegated run; the answer is kept in
//! `${CURSOR_DATA_DIR:-~/.cursor}/projects/<key>/.workspace-trusted`. agent-offload
//! writes that file before every launch of an `interface: cursor` profile, unless the
//! profile says `trust_workspace: false` (see `docs/agent-clis.md`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::home::{self, Env, Home, HomeError};
use super::stream::Parse;
use super::{Builtin, Cli, PromptArgument, prompt, with_id};
use crate::atomic;
use crate::exit::usage;
use crate::interface::{Interface, Mode};

pub struct Cursor;

pub const BUILTIN: Builtin = Builtin {
    interface: Interface::Cursor,
    profile: "cursor",
    // Installed as `cursor-agent`; newer installs also (or only) provide `agent`.
    executables: &["cursor-agent", "agent"],
    args: &["--force"],
    env: &[],
};

impl Cli for Cursor {
    fn interface(&self) -> Interface {
        Interface::Cursor
    }

    fn mode_args(&self, mode: Mode) -> &'static [&'static str] {
        match mode {
            Mode::Tmux => &[],
            Mode::Headless => &["-p"],
        }
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        Some(&["--output-format", "stream-json"])
    }

    /// A plain positional prompt.
    fn prompt_argument(&self, _mode: Mode) -> PromptArgument {
        prompt(&[], true)
    }

    fn resume_args(&self, _mode: Mode, id: &str) -> Option<Vec<String>> {
        Some(with_id(&["--resume"], id))
    }

    /// Its closing `result` carries the cost, as claude's does.
    fn reports_cost(&self) -> bool {
        true
    }

    /// `$CURSOR_DATA_DIR`, else `~/.cursor`: where the trust markers are.
    fn home(&self, env: &Env<'_>) -> Option<Result<Home, HomeError>> {
        Some(home::resolve(env, "CURSOR_DATA_DIR", ".cursor"))
    }

    /// claude's stream (see `claude.rs`).
    fn stream(&self) -> Option<Box<dyn Parse>> {
        Some(Box::new(super::claude::Parser::new(
            &super::claude::FLAVOUR,
        )))
    }

    /// Cursor's trust marker, written before every launch (see [`trust`]).
    fn trust_workspace(&self, workspace: &Path, env: &Env<'_>) -> Result<Option<PathBuf>> {
        trust(workspace, env).map(Some)
    }
}

pub const TRUST_FILE: &str = ".workspace-trusted";

/// The marker's content, with Cursor's field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Marker<'a> {
    trusted_at: String,
    workspace_path: &'a str,
    trust_method: &'static str,
}

/// Cursor's per-workspace directory name: the absolute path with each run of
/// characters other than ASCII letters and digits replaced by one `-`, and leading
/// and trailing `-` removed (`/home/u/my_repo` → `home-u-my-repo`).
///
/// Unverified, so not implemented: keys are reportedly cut to 84 characters plus a
/// short hash suffix when the path is long; the hash function is not documented.
/// Also an assumption: "alphanumeric" is ASCII (a JavaScript `[^a-zA-Z0-9]` class), so
/// `é` or `日` count as separators. Working on bytes keeps non-UTF-8 paths exact.
pub fn workspace_key(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut key = String::new();
    let mut pending_dash = false;
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() {
            if pending_dash && !key.is_empty() {
                key.push('-');
            }
            pending_dash = false;
            key.push(char::from(b));
        } else {
            pending_dash = true;
        }
    }
    key
}

/// `${CURSOR_DATA_DIR:-~/.cursor}` (the rule of `home.rs`).
pub fn data_dir(env: &Env<'_>) -> Result<PathBuf> {
    match Cursor.home(env) {
        Some(Ok(home)) => Ok(home.dir),
        Some(Err(HomeError::Relative { var, value })) => Err(usage(format!(
            "${var} is {:?}, not an absolute path: set it to an absolute path, unset it, or \
             set trust_workspace: false in the profile",
            value.display().to_string()
        ))),
        Some(Err(HomeError::NoHome { .. })) | None => Err(usage(
            "cannot find Cursor's data directory: neither CURSOR_DATA_DIR nor HOME is set \
             (set one, or set trust_workspace: false in the profile)",
        )),
    }
}

/// The trust marker for `workspace` (an absolute, canonical path).
pub fn trust_file(workspace: &Path, env: &Env<'_>) -> Result<PathBuf> {
    Ok(data_dir(env)?
        .join("projects")
        .join(workspace_key(workspace))
        .join(TRUST_FILE))
}

/// Marks `workspace` as trusted, replacing any earlier marker (Cursor has been seen to
/// ask again with an old one), and returns the marker's path.
pub fn trust(workspace: &Path, env: &Env<'_>) -> Result<PathBuf> {
    let file = trust_file(workspace, env)?;
    let marker = Marker {
        trusted_at: rfc3339_now(),
        workspace_path: &workspace.to_string_lossy(),
        trust_method: "cli-flag",
    };
    let mut json = serde_json::to_vec(&marker).context("cannot encode the trust marker")?;
    json.push(b'\n');
    if let Some(dir) = file.parent() {
        atomic::create_dir_all(dir)?;
    }
    atomic::write(&file, &json, 0o644)?;
    Ok(file)
}

/// Now, to the millisecond, as JavaScript's `toISOString` writes it.
fn rfc3339_now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Millisecond)
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::stream::tests::{assert_no_json, run};
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn keys() {
        let k = |p: &str| workspace_key(Path::new(p));
        assert_eq!(k("/home/u/my_repo"), "home-u-my-repo");
        assert_eq!(k("/home/u/my repo"), "home-u-my-repo");
        assert_eq!(k("/home/u/a  b__c..d"), "home-u-a-b-c-d");
        assert_eq!(k("/srv/app.v1.2/"), "srv-app-v1-2");
        assert_eq!(k("/tmp/café/日本/x"), "tmp-caf-x");
        assert_eq!(k("/tmp/-x-/"), "tmp-x");
        assert_eq!(k("/"), "");
        assert_eq!(k("/Home/U/Repo2"), "Home-U-Repo2");
    }

    #[test]
    fn non_utf8_bytes_are_separators() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\xffb"));
        assert_eq!(workspace_key(p), "tmp-a-b");
    }

    #[test]
    fn marker_json() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("cursor data");
        let data_os = data.clone().into_os_string();
        let env = move |k: &str| (k == "CURSOR_DATA_DIR").then(|| data_os.clone());
        let file = trust(Path::new("/w/my_repo"), &env).unwrap();
        assert_eq!(file, data.join("projects/w-my-repo/.workspace-trusted"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(v["workspacePath"], "/w/my_repo");
        assert_eq!(v["trustMethod"], "cli-flag");
        let at: jiff::Timestamp = v["trustedAt"].as_str().unwrap().parse().unwrap();
        assert!((jiff::Timestamp::now() - at).as_secs().abs() < 60);
    }

    #[test]
    fn data_dir_errors() {
        let env = |k: &str| (k == "CURSOR_DATA_DIR").then(|| OsString::from("rel"));
        assert_eq!(
            data_dir(&env).unwrap_err().to_string(),
            "$CURSOR_DATA_DIR is \"rel\", not an absolute path: set it to an absolute path, \
             unset it, or set trust_workspace: false in the profile"
        );
        let env = |k: &str| (k == "HOME").then(|| OsString::from("/h"));
        assert_eq!(data_dir(&env).unwrap(), Path::new("/h/.cursor"));
    }

    const CURSOR: &str = include_str!("fixtures/cursor-documented.jsonl");

    /// cursor-agent, from its documentation only (no CLI to record).
    #[test]
    fn a_documented_cursor_run() {
        let (stream, transcript) = run(Interface::Cursor, CURSOR);
        assert_no_json(&transcript);
        assert_eq!(
            stream.session_id(),
            Some("c6b62c6f-7ead-4fd6-9922-e952131177ff")
        );
        assert_eq!(
            transcript,
            "session c6b62c6f-7ead-4fd6-9922-e952131177ff (model Claude 4 Sonnet)\n\
             I'll read the README first.\n\
             → read README.md\n    # Project\n    A demo.\n\
             $ wc -l README.md\n    2 README.md\n\
             The README describes a demo project.\n"
        );
        assert!(stream.final_message().unwrap().ends_with("a demo project."));
        assert_eq!(stream.error(), None);
    }
}
