//! What a run cost, and budgets that stop it: fake CLIs that speak a real CLI's event
//! format with known usage (pi: per message; codex: tokens only, no cost; claude: a
//! reported cost).

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::Value;

use crate::harness::Test;

/// A pi-like fake: its session line, then `n` assistant messages of 10 input and 5
/// output tokens each, at `cost` USD each; then it would go on for a long time.
fn pi_like(t: Test, n: usize, cost: f64) -> Test {
    let mut body = String::from(
        "echo '{\"type\":\"session\",\"version\":3,\"id\":\"01a22e4c-9011-73df-bf4b-51f4b8bca3bf\",\"cwd\":\"/x\"}'\n",
    );
    for i in 0..n {
        let _ = writeln!(
            body,
            "echo '{{\"type\":\"message_end\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"step {i}\"}}],\"usage\":{{\"input\":10,\"output\":5,\"cacheRead\":0,\"cacheWrite\":0,\"totalTokens\":15,\"cost\":{{\"total\":{cost}}}}}}}}}'"
        );
    }
    // Published only after a while: a budget must stop it well before.
    body.push_str("sleep 30\npublish 'too late'\n");
    t.agent("pi", &body)
}

fn profile(t: &Test, interface: &str, extra: &str) -> String {
    format!(
        "profiles:\n  p:\n    command: {}\n    interface: {interface}\n    headless: true\n{extra}",
        t.agent_path(interface)
    )
}

fn events_of(run_dir: &std::path::Path, kind: &str) -> usize {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("\"type\":\"{kind}\"")))
        .count()
}

/// `--max-tokens`: the event that crosses the budget stops the agent (the next ones
/// are never read), status `over_budget`, exit 4, the usage so far recorded.
#[test]
fn a_token_budget_stops_the_run_within_one_event() {
    let t = pi_like(Test::new(), 6, 0.0);
    let cfg = profile(&t, "pi", "");
    let out = t.config(&cfg).args(["--max-tokens", "40", "go"]).run();
    out.status(4)
        .stderr_contains("over budget")
        .stderr_contains("45 tokens used, over the budget of 40 tokens");
    let m = out.manifest();
    assert_eq!(m["status"], "over_budget");
    assert_eq!(m["agent_offload_exit"], 4);
    assert_eq!(m["usage"]["input_tokens"], 30);
    assert_eq!(m["usage"]["output_tokens"], 15);
    assert_eq!(m["meter"]["max_tokens"], 40);
    // The third message crossed it: nothing after it was read.
    assert_eq!(events_of(&out.run_dir(), "message_end"), 3);
    let log = std::fs::read_to_string(out.run_dir().join("output.log")).unwrap();
    assert!(log.contains("stopping the agent"), "{log}");
}

/// The same budget from the profile, and a cost budget on a reported cost.
#[test]
fn budgets_come_from_the_profile_and_cost_counts() {
    let t = pi_like(Test::new(), 6, 0.25);
    let cfg = profile(&t, "pi", "    max_cost: 0.6\n");
    let out = t.config(&cfg).arg("go").run();
    out.status(4)
        .stderr_contains("$0.7500 spent, over the budget of $0.60");
    let m = out.manifest();
    assert_eq!(m["cost_source"], "reported");
    assert_eq!(m["cost_usd"], 0.75);
}

/// Within its budget a run is done, and `--json`, `show` and `runs` say what it used.
#[test]
fn usage_is_reported_everywhere() {
    let t = Test::new().agent(
        "pi",
        "echo '{\"type\":\"session\",\"version\":3,\"id\":\"s-1\",\"cwd\":\"/x\"}'\n\
         echo '{\"type\":\"message_end\",\"message\":{\"role\":\"assistant\",\"content\":[],\"usage\":{\"input\":1200,\"output\":300,\"cacheRead\":200,\"cacheWrite\":0,\"cost\":{\"total\":0.5}}}}'\n\
         publish done",
    );
    let cfg = profile(&t, "pi", "");
    let t = t.config(&cfg);
    let out = t.exec(["--json", "--max-tokens", "100000", "go"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // pi counts cached input apart; agent-offload's input includes it.
    assert_eq!(v["usage"]["input_tokens"], 1400);
    assert_eq!(v["usage"]["cached_input_tokens"], 200);
    assert_eq!(v["usage"]["output_tokens"], 300);
    assert_eq!(v["cost_usd"], 0.5);
    assert_eq!(v["cost_source"], "reported");
    assert_eq!(v["max_tokens"], 100_000);
    let shown = t.exec(["show", "last"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("usage      1.7k tokens (1.4k in, 300 out), $0.5000"),
        "{text}"
    );
    let listed = String::from_utf8_lossy(&t.exec(["runs"]).stdout).into_owned();
    assert!(listed.contains("USAGE"), "{listed}");
    assert!(listed.contains("1.7k $0.50"), "{listed}");
}

/// codex reports tokens, never a cost: with the profile's price the cost is
/// `estimated`; without one it is unknown (`none`), and a cost budget is refused.
#[test]
fn a_price_estimates_what_the_cli_does_not_report() {
    let body = "echo '{\"type\":\"thread.started\",\"thread_id\":\"01a22e46-f85b-7da2-8cf2-c20673f29be3\"}'\n\
                echo '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1000000,\"cached_input_tokens\":400000,\"output_tokens\":100000}}'\n\
                publish done";
    let t = Test::new().agent("codex", body);
    let cfg = profile(
        &t,
        "codex",
        "    price: {input: 2, cached_input: 0.5, output: 10}\n",
    );
    let out = t.config(&cfg).arg("go").run();
    out.status(0);
    let m = out.manifest();
    assert_eq!(m["cost_source"], "estimated");
    // 600k * 2 + 400k * 0.5 + 100k * 10, per million.
    assert!((m["cost_usd"].as_f64().unwrap() - 2.4).abs() < 1e-9, "{m}");

    let t = Test::new().agent("codex", body);
    let cfg = profile(&t, "codex", "");
    let out = t.config(&cfg).arg("go").run();
    out.status(0);
    let m = out.manifest();
    assert_eq!(m["cost_source"], "none");
    assert_eq!(m["cost_usd"], Value::Null);
    assert_eq!(m["usage"]["input_tokens"], 1_000_000);

    let out = out.test.exec(["--max-cost", "1", "go"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("codex reports tokens but no cost; give profile \"p\" a price"),
        "{stderr}"
    );
}

/// A budget agent-offload cannot watch is a usage error, never a silent no-op: a
/// generic profile, a profile choosing its own output format, an agent in a pane.
#[test]
fn a_budget_that_cannot_be_watched_is_refused() {
    let t = Test::new().agent("generic", "publish done");
    let cfg = profile(&t, "generic", "");
    let out = t.config(&cfg).args(["--max-tokens", "10", "go"]).run();
    out.status(2)
        .stderr_contains("--max-tokens (max_tokens) needs usage agent-offload can see")
        .stderr_contains("is generic");
    assert!(out.test.run_dirs().is_empty());

    let t = Test::new().agent("codex", "publish done");
    let cfg = profile(&t, "codex", "    args: [--json]\n");
    let out = t.config(&cfg).args(["--max-tokens", "10", "go"]).run();
    out.status(2)
        .stderr_contains("chooses its own output format");

    // opencode keeps its sessions in SQLite: in a pane its usage cannot be read.
    let t = Test::new().agent("opencode", "publish done");
    let cfg = profile(&t, "opencode", "    headless: false\n    max_tokens: 5\n")
        .replace("    headless: true\n", "");
    let server = crate::tmux_server::TmuxServer::start(t.path(), &t.work());
    let out = t.config(&cfg).in_tmux(&server).arg("go").run();
    out.status(2)
        .stderr_contains("the usage of opencode in a pane cannot be read");
    assert_eq!(server.panes().len(), 1);

    // Bad budgets in the config name the field.
    let t = Test::new().agent("pi", "publish done");
    let cfg = profile(&t, "pi", "    max_cost: -1\n");
    let out = t.config(&cfg).arg("go").run();
    out.status(2).stderr_contains(
        "profile \"p\": field \"max_cost\": must be an amount of US dollars more than zero",
    );
}

/// The fake claude TUI: writes its transcript (for the id given with --session-id)
/// with `messages`, then runs `then`.
fn claude_tui(t: Test, messages: &str, then: &str) -> Test {
    let home = t.path().join("home");
    let body = format!(
        r#"prev=; id=
for a in "$@"; do [ "$prev" = --session-id ] && id=$a; prev=$a; done
dir='{home}/.claude/projects'/$(pwd | sed 's/[^A-Za-z0-9]/-/g')
mkdir -p "$dir"
msg() {{ printf '{{"type":"assistant","sessionId":"%s","message":{{"id":"%s","role":"assistant","usage":{{"input_tokens":%s,"cache_creation_input_tokens":0,"cache_read_input_tokens":%s,"output_tokens":%s}}}}}}\n' "$id" "$1" "$2" "$3" "$4"; }}
{{ {messages}; }} >"$dir/$id.jsonl"
{then}"#,
        home = home.display()
    );
    t.agent("claude", &body)
}

/// A pane run's budget is watched through its transcript: crossed, the pane is
/// closed and the run ends `over_budget` (exit 4).
#[test]
fn a_pane_runs_budget_is_watched_through_its_transcript() {
    let marker = format!("64.{}", crate::harness::unique());
    let t = claude_tui(
        Test::new(),
        "msg m1 100 0 20; msg m2 100 0 20",
        &format!("exec sleep {marker}"),
    );
    let server = crate::tmux_server::TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    interface: claude\n",
        t.agent_path("claude")
    );
    let out = t
        .config(&cfg)
        .in_tmux(&server)
        .args(["--max-tokens", "200", "go"])
        .run();
    out.status(4)
        .stderr_contains("240 tokens used, over the budget of 200 tokens");
    assert_eq!(out.manifest()["status"], "over_budget");
    assert_eq!(server.panes().len(), 1, "the pane is closed");
    crate::harness::assert_no_survivor(&format!("sleep {marker}"));
}

/// In a pane there is no event stream: a claude TUI's usage comes from its session
/// transcript (`~/.claude/projects/<cwd>/<session id>.jsonl`), counted once per message
/// (a message written twice counts once).
#[test]
fn a_pane_runs_usage_comes_from_the_transcript() {
    // m1 is written twice (a record per content block), m2 once.
    let t = claude_tui(
        Test::new(),
        "msg m1 100 20 7; msg m1 100 20 30; msg m2 50 0 10",
        "publish done",
    );
    let server = crate::tmux_server::TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    interface: claude\n",
        t.agent_path("claude")
    );
    let out = t.config(&cfg).in_tmux(&server).arg("go").run();
    out.status(0);
    let m = out.manifest();
    // m1 once (its latest usage: 100 + 20 cached in, 30 out) and m2.
    assert_eq!(m["usage"]["input_tokens"], 170, "{m}");
    assert_eq!(m["usage"]["cached_input_tokens"], 20, "{m}");
    assert_eq!(m["usage"]["output_tokens"], 40, "{m}");
    out.stderr_contains("used 210 tokens");
}

/// A pane run's usage is read from its transcript as the CLI appends to it: each look
/// (`runs`, `show`, `top`, the budget's) reads only what was appended since the last
/// (issue 21, item 15: every look read the whole file, 1.4 s for `top --once` beside a
/// 300 MB session). Seen from outside: an edit in place well before the end of what was
/// read is not read again, what is appended is counted, and a file replaced (another
/// inode) or cut shorter is read again whole.
#[test]
fn a_pane_runs_usage_reads_only_what_its_transcript_appended() {
    let t = Test::new();
    let marker = t.path().join("transcript-at");
    let pad = format!(
        "printf '%s\\n' '{{\"type\":\"user\",\"pad\":\"{}\"}}'",
        "x".repeat(400)
    );
    let t = claude_tui(
        t,
        &format!("msg m1 100 0 10; {pad}"),
        &format!(
            "echo \"$dir/$id.jsonl\" >'{}.tmp' && mv '{0}.tmp' '{0}'\nexec sleep 6402",
            marker.display()
        ),
    );
    let server = crate::tmux_server::TmuxServer::start(t.path(), &t.work());
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    interface: claude\n",
        t.agent_path("claude")
    );
    let t = t.config(&cfg).in_tmux(&server).arg("go");
    let mut child = t.spawn();
    crate::harness::eventually(std::time::Duration::from_secs(20), "the transcript", || {
        marker.exists()
    });
    let transcript = std::path::PathBuf::from(std::fs::read_to_string(&marker).unwrap().trim());
    let input = || -> Value {
        let out = t.exec(["runs", "--json"]);
        assert!(out.status.success(), "{out:?}");
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list[0]["status"], "running", "{list}");
        list[0]["usage"]["input_tokens"].clone()
    };
    assert_eq!(input(), 100);
    // m1's 100 input tokens made 900 in place: same size, same file, far from its end.
    let text = std::fs::read_to_string(&transcript).unwrap();
    std::fs::write(
        &transcript,
        text.replacen("\"input_tokens\":100", "\"input_tokens\":900", 1),
    )
    .unwrap();
    assert_eq!(input(), 100, "what was read is not read again");
    let m2 = text
        .lines()
        .next()
        .unwrap()
        .replace("\"m1\"", "\"m2\"")
        .replace("\"input_tokens\":100", "\"input_tokens\":50");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    writeln!(f, "{m2}").unwrap();
    drop(f);
    assert_eq!(input(), 150, "what was appended is counted");
    // Replaced, as a CLI rewriting its session would: read again whole.
    let new = transcript.with_extension("new");
    std::fs::copy(&transcript, &new).unwrap();
    std::fs::rename(&new, &transcript).unwrap();
    assert_eq!(input(), 950, "a replaced file is read again");
    // Cut shorter: read again too.
    std::fs::write(&transcript, format!("{}\n", text.lines().next().unwrap())).unwrap();
    assert_eq!(input(), 100, "a file cut shorter is read again");
    let out = t.exec(["cancel", "last"]);
    assert!(out.status.success(), "{out:?}");
    let _ = child.wait();
    crate::harness::assert_no_survivor("sleep 6402");
}
