//! The transcripts of every CLI (the fixtures) and the shared machinery.

use super::*;
use crate::agents::claude::{claude_project, sanitize};
use crate::agents::pi::pi_project;

const CLAUDE: &str = include_str!("../fixtures/claude-tui.jsonl");
const CODEX: &str = include_str!("../fixtures/codex-tui.jsonl");
const PI: &str = include_str!("../fixtures/pi-tui.jsonl");
const GEMINI: &str = include_str!("../fixtures/gemini-tui.jsonl");
const QWEN: &str = include_str!("../fixtures/qwen-tui.jsonl");

fn tokens(input: u64, output: u64) -> (Option<u64>, Option<u64>) {
    (Some(input), Some(output))
}

fn io(u: &Usage) -> (Option<u64>, Option<u64>) {
    (u.input_tokens, u.output_tokens)
}

/// The offset of the first line holding `marker` (where the run it names began).
fn start_of(text: &str, marker: &str) -> u64 {
    let at = text.find(marker).expect(marker);
    text[..at].rfind('\n').map_or(0, |i| i + 1) as u64
}

/// A new directory of its own for each call (the tests run in parallel).
fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "agent-offload-transcript-{}-{n}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn count_in(interface: Interface, text: &str, from: u64) -> Counted {
    let dir = scratch(interface.name());
    let path = dir.join("s.jsonl");
    write(&path, text);
    let counted = usage(interface, &path, from).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    counted
}

/// Two TUI runs of one session (the second resumed): the model server logged 3
/// requests for the first (one the session's title, not in the transcript) and 2
/// for the second, 10 in / 5 out each. The assistant records carry the final usage
/// (5 out, where the stream's said 1).
#[test]
fn claude_sums_messages_once() {
    let all = count_in(Interface::Claude, CLAUDE, 0);
    assert_eq!(io(&all.session), tokens(40, 20));
    assert_eq!(all.session.cached_input_tokens, Some(0));
    assert_eq!(all.since, all.session);
    assert_eq!(all.end, CLAUDE.len() as u64);
    let second = count_in(Interface::Claude, CLAUDE, start_of(CLAUDE, "MARK-claude-2"));
    assert_eq!(io(&second.session), tokens(40, 20));
    assert_eq!(io(&second.since), tokens(20, 10));
}

/// One message written as several records (one per content block), the earlier
/// ones with a partial output count: counted once, with its complete usage.
#[test]
fn claude_repeated_message_ids_count_once() {
    let text = r#"{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":1}}}
{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":42}}}
{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":1,"output_tokens":2}}}
"#;
    let c = count_in(Interface::Claude, text, 0);
    assert_eq!(io(&c.session), tokens(111, 44));
    assert_eq!(c.session.cached_input_tokens, Some(100));
    // A message first seen before `from` stays there.
    let from = start_of(text, "\"output_tokens\":42");
    let c = count_in(Interface::Claude, text, from);
    assert_eq!(io(&c.since), tokens(1, 2));
}

#[test]
fn claude_subagents_count_from_the_runs_start() {
    let dir = scratch("claude-sub");
    let main = dir.join("abc.jsonl");
    let before = r#"{"type":"assistant","timestamp":"2026-01-01T10:00:00Z","message":{"id":"m1","usage":{"input_tokens":10,"output_tokens":5}}}
"#;
    write(
        &main,
        &format!(
            "{before}{}",
            r#"{"type":"user","timestamp":"2026-01-01T11:00:00Z","message":{}}
{"type":"assistant","timestamp":"2026-01-01T11:00:01Z","message":{"id":"m2","usage":{"input_tokens":10,"output_tokens":5}}}
"#
        ),
    );
    write(
        &dir.join("abc/subagents/agent-1.jsonl"),
        r#"{"type":"assistant","timestamp":"2026-01-01T10:30:00Z","message":{"id":"s1","usage":{"input_tokens":100,"output_tokens":50}}}
{"type":"assistant","timestamp":"2026-01-01T11:00:02Z","message":{"id":"s2","usage":{"input_tokens":1000,"output_tokens":500}}}
{"type":"assistant","timestamp":"2026-01-01T11:00:03Z","message":{"id":"m2","usage":{"input_tokens":10,"output_tokens":5}}}
"#,
    );
    let c = usage(Interface::Claude, &main, before.len() as u64).unwrap();
    assert_eq!(io(&c.session), tokens(1120, 560));
    assert_eq!(io(&c.since), tokens(1010, 505));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Three TUI runs of one thread: 3 requests each in the server's log, one a task
/// title (not in the transcript); `total_token_usage` runs 15/30/…/90.
#[test]
fn codex_takes_the_running_total_never_sums_it() {
    let all = count_in(Interface::Codex, CODEX, 0);
    assert_eq!(io(&all.session), tokens(60, 30));
    assert_eq!(all.session.reasoning_tokens, Some(0));
    let third = count_in(Interface::Codex, CODEX, start_of(CODEX, "MARK-codex-3"));
    assert_eq!(io(&third.session), tokens(60, 30));
    assert_eq!(io(&third.since), tokens(20, 10));
    // Nothing recorded since `from` yet: nothing, not the earlier total.
    let none = count_in(Interface::Codex, CODEX, CODEX.len() as u64);
    assert_eq!(none.since, Usage::default());
}

/// Two TUI runs (2 requests each) in pi's session file.
#[test]
fn pi_sums_assistant_messages() {
    let all = count_in(Interface::Pi, PI, 0);
    assert_eq!(io(&all.session), tokens(40, 20));
    // pi reports a cost of 0 without a price: summed as it is.
    assert_eq!(all.session.cost_usd, Some(0.0));
    let second = count_in(Interface::Pi, PI, start_of(PI, "MARK-pi-2"));
    assert_eq!(io(&second.since), tokens(20, 10));
}

/// Two TUI runs, 3 requests each in the server's log (one the router's classifier,
/// not in the transcript). A message is written again with its tool calls (same
/// id), and the resumed run rewrites the history with `$set`: each counted once.
#[test]
fn gemini_counts_each_message_once() {
    let all = count_in(Interface::Gemini, GEMINI, 0);
    assert_eq!(io(&all.session), tokens(40, 20));
    assert_eq!(all.session.reasoning_tokens, Some(0));
    let second = count_in(Interface::Gemini, GEMINI, start_of(GEMINI, "MARK-gemini-2"));
    assert_eq!(io(&second.since), tokens(20, 10));
}

/// Two TUI runs, 2 requests each.
#[test]
fn qwen_sums_assistant_usage() {
    let all = count_in(Interface::Qwen, QWEN, 0);
    assert_eq!(io(&all.session), tokens(40, 20));
    let second = count_in(Interface::Qwen, QWEN, start_of(QWEN, "MARK-qwen-2"));
    assert_eq!(io(&second.since), tokens(20, 10));
}

/// Read as it is written, in pieces cut anywhere (mid-line too), with the progress
/// kept between readings as the run directory keeps it (JSON): the same usage as
/// one reading of the whole file, for every CLI and a resumed run's `from`.
#[test]
fn reading_on_from_a_progress_counts_what_one_reading_counts() {
    for (interface, text, mark) in [
        (Interface::Claude, CLAUDE, "MARK-claude-2"),
        (Interface::Codex, CODEX, "MARK-codex-3"),
        (Interface::Pi, PI, "MARK-pi-2"),
        (Interface::Gemini, GEMINI, "MARK-gemini-2"),
        (Interface::Qwen, QWEN, "MARK-qwen-2"),
    ] {
        for from in [0, start_of(text, mark)] {
            let whole = count_in(interface, text, from);
            let dir = scratch("pieces");
            let path = dir.join("s.jsonl");
            let mut kept: Option<Progress> = None;
            let mut written = 0;
            for cut in (0..text.len()).step_by(97).chain([text.len()]) {
                let cut = (cut..=text.len())
                    .find(|&c| text.is_char_boundary(c))
                    .unwrap();
                if cut < written {
                    continue;
                }
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .unwrap();
                std::io::Write::write_all(&mut f, &text.as_bytes()[written..cut]).unwrap();
                written = cut;
                let (counted, p) = usage_from(interface, &path, from, kept.take()).unwrap();
                assert!(counted.end <= written as u64);
                kept = Some(serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap());
            }
            let (last, p) = usage_from(interface, &path, from, kept).unwrap();
            assert_eq!(last, whole, "{interface:?} from {from}");
            // Nothing appended: nothing read, nothing to keep.
            let (again, p) = usage_from(interface, &path, from, Some(p)).unwrap();
            assert!(!p.advanced);
            assert_eq!(again, whole);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// A file replaced, cut shorter or rewritten before where it was read is read again
/// from its start; a progress for another file, or one that makes no sense, is
/// dropped.
#[test]
fn a_changed_file_is_read_again() {
    let dir = scratch("changed");
    let path = dir.join("s.jsonl");
    let line = |id: &str, n: u64| {
        format!(
            "{{\"type\":\"message\",\"id\":\"{id}\",\"message\":{{\"role\":\"assistant\",\"usage\":{{\"input\":{n},\"output\":1}}}}}}\n"
        )
    };
    write(&path, &format!("{}{}", line("a", 10), line("b", 20)));
    let (c, p) = usage_from(Interface::Pi, &path, 0, None).unwrap();
    assert_eq!(io(&c.session), tokens(30, 2));
    // Only what is appended is read: an edit in place well before the end, where
    // the reading's mark does not look, is not seen.
    let filler = "{\"type\":\"note\",\"text\":\"padding padding padding padding\"}\n".repeat(10);
    write(
        &path,
        &format!("{}{}{filler}", line("a", 10), line("b", 20)),
    );
    let (_, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    write(
        &path,
        &format!("{}{}{filler}", line("a", 90), line("b", 20)),
    );
    let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    assert_eq!(io(&c.session), tokens(30, 2));
    write(&path, &format!("{}{}", line("a", 10), line("b", 20)));
    let (_, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    // Rewritten in place, same size: the bytes before the mark differ.
    write(&path, &format!("{}{}", line("a", 10), line("b", 40)));
    let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    assert_eq!(io(&c.session), tokens(50, 2));
    // Cut shorter.
    write(&path, &line("a", 10));
    let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    assert_eq!(io(&c.session), tokens(10, 1));
    // Replaced by another file (another inode), longer.
    let new = dir.join("new.jsonl");
    write(
        &new,
        &format!("{}{}{}", line("a", 1), line("b", 2), line("c", 3)),
    );
    std::fs::rename(&new, &path).unwrap();
    let (c, p) = usage_from(Interface::Pi, &path, 0, Some(p)).unwrap();
    assert_eq!(io(&c.session), tokens(6, 3));
    // Kept for another `from`, another file or another CLI: not used.
    let (c, _) = usage_from(Interface::Pi, &path, 1, Some(p.clone())).unwrap();
    assert_eq!(io(&c.since), tokens(5, 2));
    assert!(usage_from(Interface::Qwen, &path, 0, Some(p)).is_some());
    // Whatever the run directory's file says, it parses or it is dropped.
    for bad in [
        "{}",
        "[]",
        "{\"interface\":\"pi\",\"path\":\"/x\",\"from\":0,\"files\":[],\"tally\":{\"keyed\":[[\"k\",true,[1e400,null,null,null,null]]]}}",
    ] {
        assert!(serde_json::from_str::<Progress>(bad).is_err(), "{bad}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_lines_are_skipped() {
    let big = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(LINE_MAX + 10));
    let good = r#"{"type":"message","id":"a","message":{"role":"assistant","usage":{"input":10,"output":5}}}"#;
    let text = format!(
        "not json\n{big}{good}\n\u{0}\u{ff}\n{{\"type\":\"message\",\"id\":\"b\",\"message\":{{\"role\":\"assistant\",\"usage\":{{\"input\":-1,\"output\":1e400}}}}}}\n{good}"
    );
    let c = count_in(Interface::Pi, &text, 0);
    assert_eq!(io(&c.session), tokens(10, 5));
    // The last line has no newline: read, but not past `end`.
    assert_eq!(c.end, (text.len() - good.len()) as u64);
    assert!(usage(Interface::Opencode, Path::new("/nonexistent"), 0).is_none());
    assert!(usage(Interface::Pi, Path::new("/nonexistent"), 0).is_none());
}

#[test]
fn locates_each_cli_s_file() {
    let home = scratch("locate");
    let cwd = home.join("my work.d");
    std::fs::create_dir_all(&cwd).unwrap();
    let cwd_s = cwd.to_string_lossy().into_owned();
    let env =
        |home: PathBuf| move |name: &str| (name == "HOME").then(|| home.clone().into_os_string());
    let var = env(home.clone());
    let id = "0d912906-b6b7-47be-84b8-ce72d0132e27";

    let claude = home
        .join(".claude/projects")
        .join(sanitize(&cwd_s))
        .join(format!("{id}.jsonl"));
    write(&claude, "");
    assert_eq!(
        locate(Interface::Claude, id, &cwd, &var),
        Some(claude.clone())
    );
    assert!(sanitize(&cwd_s).ends_with("-my-work-d"));

    let qwen = home
        .join(".qwen/projects")
        .join(sanitize(&cwd_s))
        .join("chats")
        .join(format!("{id}.jsonl"));
    write(&qwen, "");
    assert_eq!(locate(Interface::Qwen, id, &cwd, &var), Some(qwen));

    let pi = home
        .join(".pi/agent/sessions")
        .join(pi_project(&cwd_s))
        .join(format!("2026-11-30T21-12-06-204Z_{id}.jsonl"));
    write(&pi, "");
    assert_eq!(locate(Interface::Pi, id, &cwd, &var), Some(pi));

    let codex = home.join(format!(
        ".codex/sessions/2026/11/30/rollout-2026-11-30T21-05-57-{id}.jsonl"
    ));
    write(&codex, "");
    assert_eq!(locate(Interface::Codex, id, &cwd, &var), Some(codex));

    write(
        &home.join(".gemini/projects.json"),
        &serde_json::json!({"projects": {cwd_s.clone(): "work"}}).to_string(),
    );
    let chats = home.join(".gemini/tmp/work/chats");
    // Same first 8 characters, another session: not it.
    write(
        &chats.join("session-2026-11-30T21-12-0d912906.jsonl"),
        "{\"sessionId\":\"0d912906-0000-0000-0000-000000000000\"}\n",
    );
    let gemini = chats.join("session-2026-11-30T21-13-0d912906.jsonl");
    write(&gemini, &format!("{{\"sessionId\":\"{id}\"}}\n"));
    assert_eq!(locate(Interface::Gemini, id, &cwd, &var), Some(gemini));

    // An override variable wins; a session started elsewhere is found by its id.
    let other = home.join("claude-config");
    let moved = other
        .join("projects/-elsewhere")
        .join(format!("{id}.jsonl"));
    write(&moved, "");
    let var2 = |name: &str| match name {
        "CLAUDE_CONFIG_DIR" => Some(other.clone().into_os_string()),
        "HOME" => Some(home.clone().into_os_string()),
        _ => None,
    };
    assert_eq!(locate(Interface::Claude, id, &cwd, &var2), Some(moved));

    // Nothing outside the store, nothing for a bad id or a CLI without files.
    assert_eq!(locate(Interface::Claude, "no-such-id", &cwd, &var), None);
    assert_eq!(locate(Interface::Claude, "../x", &cwd, &var), None);
    assert_eq!(locate(Interface::Claude, "..", &cwd, &var), None);
    assert_eq!(locate(Interface::Opencode, id, &cwd, &var), None);
    std::fs::remove_file(&claude).unwrap();
    let outside = home.join("outside.jsonl");
    write(&outside, "");
    std::os::unix::fs::symlink(&outside, &claude).unwrap();
    assert_eq!(locate(Interface::Claude, id, &cwd, &var), None);
    assert!(usage(Interface::Claude, &claude, 0).is_none());
    assert_eq!(locate(Interface::Claude, id, &cwd, &|_| None), None);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn project_names_follow_the_clis() {
    assert_eq!(
        sanitize("/tmp/probe/runs/claude-t/work"),
        "-tmp-probe-runs-claude-t-work"
    );
    // One '-' per UTF-16 unit, as JavaScript's replace counts.
    assert_eq!(sanitize("/a/é/😀"), "-a-----");
    assert_eq!(
        pi_project("/tmp/probe/runs/pi-t/work"),
        "--tmp-probe-runs-pi-t-work--"
    );
    assert_eq!(claude_project(&"/x".repeat(150)), "");
}
