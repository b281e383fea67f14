//! What a run used: `usage`, `cost_usd` and `cost_source` in `run.json`, checked against
//! what the model server served. The server answers every model request with 10 input
//! and 5 output tokens, none cached, no reasoning (`model_server/wire.rs`, in each wire
//! protocol), so a run's usage is `10 n` in and `5 n` out, where `n` is the number of
//! the run's model requests the CLI's own report covers:
//!
//! - headless, from the CLI's events: the conversation's turns ([`Logged::is_turn`]);
//!   gemini's `result.stats` also counts its model router's classifier call (every
//!   model call); opencode's title request is not a step, and neither claude `-p` nor
//!   `codex exec` made a side request (measured, see /tmp/probe/REPORT.md);
//! - in a pane, from the CLI's session transcript: the turns only. The side requests
//!   (claude's and codex's titles, gemini's router) are not written there (see
//!   `src/agents/transcript.rs`).
//!
//! A pane is closed the moment `done.md` appears, and the CLIs write a turn to their
//! transcript some time after the model answered it: a task that publishes in its
//! shell call would leave the transcript's count to a race. So the pane task publishes
//! from the background, when the test lets it: once the model server has answered the
//! final turn and the CLI's transcript holds that answer and has been quiet for a
//! moment. The count is then exact.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::clis::Cli;
use crate::harness::unique;
use crate::model_server::{FINAL_TEXT, Logged};
use crate::scenarios::{Agent, RUN_TIMEOUT, Ran, manifest_at, task};

/// What the model server reports for each model request.
const INPUT_PER_REQUEST: u64 = 10;
const OUTPUT_PER_REQUEST: u64 = 5;
/// How long the transcript holding the final answer must stay unchanged before the pane
/// task may publish (the CLI may write the turn's usage after its text).
const TRANSCRIPT_QUIET: Duration = Duration::from_secs(2);

/// Whether the CLI's own usage report for a run covers the model call `call`.
fn reported(cli: Cli, tmux: bool, call: &Logged) -> bool {
    match (cli, tmux) {
        (Cli::Gemini, false) => call.is_model_call(),
        _ => call.is_turn(),
    }
}

/// The run directory created since `before` (there is exactly one), and its run.json.
fn new_run(a: &Agent, before: &[PathBuf], ran: &Ran) -> (PathBuf, Value) {
    let new: Vec<PathBuf> = a
        .run_dirs()
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    a.check(
        new.len() == 1,
        ran,
        &format!("one new run directory: {new:?}"),
    );
    let dir = new.into_iter().next().unwrap();
    let m = manifest_at(&dir);
    (dir, m)
}

/// The model calls after the first `skip` that the CLI's report covers.
fn served(a: &Agent, skip: usize, tmux: bool) -> u64 {
    let n = a
        .server
        .model_calls()
        .iter()
        .skip(skip)
        .filter(|c| reported(a.cli, tmux, c))
        .count();
    u64::try_from(n).unwrap()
}

/// `run.json` records `requests` model requests' worth of tokens: input and output
/// exactly, cached input and reasoning 0 or not reported.
#[track_caller]
fn check_tokens(a: &Agent, ran: &Ran, m: &Value, requests: u64) {
    let u = &m["usage"];
    eprintln!(
        "{}: {requests} model requests served; run.json usage {u}, cost_usd {}, cost_source {}",
        a.cli.name(),
        m["cost_usd"],
        m["cost_source"]
    );
    let none_or_zero = |v: &Value| v.is_null() || v.as_u64() == Some(0);
    a.check(
        u["input_tokens"].as_u64() == Some(INPUT_PER_REQUEST * requests)
            && u["output_tokens"].as_u64() == Some(OUTPUT_PER_REQUEST * requests)
            && none_or_zero(&u["cached_input_tokens"])
            && none_or_zero(&u["reasoning_tokens"]),
        ran,
        &format!(
            "run.json's usage is what the model server served for {requests} model \
             requests ({} in, {} out, none cached): {u}",
            INPUT_PER_REQUEST * requests,
            OUTPUT_PER_REQUEST * requests
        ),
    );
}

/// The cost a run without a profile price records: claude's own (a number; claude
/// prices the model name from its own table), nothing for the others (opencode and pi
/// report 0 for a model without a price, which is no cost known).
#[track_caller]
fn check_cost_without_price(a: &Agent, ran: &Ran, m: &Value) {
    let (cost, source) = (&m["cost_usd"], &m["cost_source"]);
    if a.cli == Cli::Claude {
        a.check(
            source == "reported" && cost.as_f64().is_some_and(|c| c >= 0.0),
            ran,
            &format!("claude reports its cost: cost_usd {cost}, cost_source {source}"),
        );
    } else {
        a.check(
            source == "none" && cost.is_null(),
            ran,
            &format!(
                "{} reports no cost and the profile has no price: cost_usd {cost}, \
                 cost_source {source}",
                a.cli.name()
            ),
        );
    }
}

/// A headless run: its usage is what the server served for the requests the CLI's
/// events cover, and its cost as the CLI reports it (or none).
pub fn headless(cli: Cli) {
    let a = Agent::new(cli, false);
    let summary = format!("e2e usage summary {}", unique());
    let ran = a.run(&["-H"], &task(&summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0) && ran.stdout() == format!("{summary}\n"),
        &ran,
        "agent-offload exits 0 with the summary",
    );
    let (_, m) = new_run(&a, &[], &ran);
    let n = served(&a, 0, false);
    a.check(
        n >= 2,
        &ran,
        "the run made two model requests at least (the shell call, the final answer)",
    );
    check_tokens(&a, &ran, &m, n);
    check_cost_without_price(&a, &ran, &m);
}

/// A headless run, then `continue RUN`: the second run's usage is its own requests', not
/// the session's running total (codex's `turn.completed` and qwen's `result.usage` are
/// running totals across resumed runs).
pub fn resume_headless(cli: Cli) {
    let a = Agent::new(cli, false);
    let first_summary = format!("e2e first usage summary {}", unique());
    let ran = a.run(&["-H"], &task(&first_summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0),
        &ran,
        "the first run exits 0",
    );
    let (first_dir, first) = new_run(&a, &[], &ran);
    let n1 = served(&a, 0, false);
    check_tokens(&a, &ran, &first, n1);

    let before = a.run_dirs();
    let skip = a.server.model_calls().len();
    let second_summary = format!("e2e second usage summary {}", unique());
    let id = first["id"].as_str().unwrap().to_owned();
    let ran = a.continue_run(&id, &[], &task(&second_summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0) && ran.stdout() == format!("{second_summary}\n"),
        &ran,
        "the continued run exits 0 with its summary",
    );
    let (_, second) = new_run(&a, &before, &ran);
    a.check(
        second["continuation"] == "resume"
            && second["session_id"] == first["session_id"]
            && !second["session_id"].is_null(),
        &ran,
        &format!("the second run resumed the first's session: {second}"),
    );
    let n2 = served(&a, skip, false);
    a.check(n2 >= 2, &ran, "the second run made two model requests");
    check_tokens(&a, &ran, &second, n2);
    // The first run's record is left as it was.
    check_tokens(&a, &ran, &manifest_at(&first_dir), n1);
}

/// A profile `price` (USD per million tokens) for a CLI that reports no cost: the cost
/// is estimated from the tokens, `cost_source` `estimated`.
pub fn price(cli: Cli) {
    let a = Agent::new(cli, false);
    let (input_price, output_price) = (1_000_000.0, 2_000_000.0);
    let config = a.config_file();
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    // The profile is the file's only one, and its last key so far is `env`.
    let _ = writeln!(
        yaml,
        "    price: {{input: {input_price}, output: {output_price}}}"
    );
    std::fs::write(&config, yaml).unwrap();
    let summary = format!("e2e priced summary {}", unique());
    let ran = a.run(&["-H"], &task(&summary), RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(0),
        &ran,
        "agent-offload exits 0",
    );
    let (_, m) = new_run(&a, &[], &ran);
    let n = served(&a, 0, false);
    check_tokens(&a, &ran, &m, n);
    #[allow(clippy::cast_precision_loss)] // small counts
    let want = ((INPUT_PER_REQUEST * n) as f64 * input_price
        + (OUTPUT_PER_REQUEST * n) as f64 * output_price)
        / 1e6;
    let cost = m["cost_usd"].as_f64();
    a.check(
        m["cost_source"] == "estimated" && cost.is_some_and(|c| (c - want).abs() < 1e-6),
        &ran,
        &format!(
            "the cost is estimated from the price: {want} USD for {n} requests; run.json: \
             cost_usd {}, cost_source {}",
            m["cost_usd"], m["cost_source"]
        ),
    );
}

/// A task whose shell call returns at once and leaves a job that publishes `summary`
/// once `gate` exists (for at most 2 minutes, then it gives up unpublished). The job is
/// a script in `dir`, started in a session of its own, and the shell call returns only
/// once it runs there (a second script waits for it): codex, gemini and qwen end the
/// shell call's process group when it returns, and with it a job merely put in the
/// background, or one still on its way into its own session (measured: the summary
/// never appeared). The SCRIPT line itself has no `$(...)`: gemini refuses to run a
/// command with one.
fn gated_task(summary: &str, gate: &Path, dir: &Path) -> String {
    let name = format!("publish-{}", unique());
    let (job, wait, started) = (
        dir.join(format!("{name}.sh")),
        dir.join(format!("{name}.wait.sh")),
        dir.join(format!("{name}.started")),
    );
    crate::clis::write(
        &job,
        &format!(
            ": >'{started}'\n\
             i=0\n\
             while [ ! -e '{gate}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n\
             [ -e '{gate}' ] && printf '%s\\n' '{summary}' >\"$1\" && mv \"$1\" \"$2\"\n",
            gate = gate.display(),
            started = started.display(),
        ),
    );
    crate::clis::write(
        &wait,
        &format!(
            "i=0\n\
             while [ ! -e '{}' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n",
            started.display(),
        ),
    );
    format!(
        "This is an end-to-end test of agent-offload. Run the shell command on the SCRIPT \
         line below with your shell tool, exactly as written, once.\n\
         SCRIPT: setsid sh '{}' {{DONE_TMP}} {{DONE}} </dev/null >/dev/null 2>&1 & sh '{}'\n",
        job.display(),
        wait.display(),
    )
}

/// The `.jsonl` files under `root`, recursively.
fn jsonl_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                found.push(path);
            }
        }
    }
    found
}

/// Waits (while the run goes on) until the model server has answered the final turn
/// and a transcript in the CLI's store holds that answer and has not changed for
/// [`TRANSCRIPT_QUIET`], then creates `gate`. Returns what it saw, for diagnosis.
fn open_gate(a: &Agent, gate: &Path, ended: &AtomicBool) -> String {
    let store = a.cli.session_store(&a.dirs).expect("a file store");
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut last: Option<(PathBuf, u64, SystemTime)> = None;
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && !ended.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        let answered = a
            .server
            .model_calls()
            .iter()
            .any(|c| c.answer.contains(FINAL_TEXT));
        if !answered {
            continue;
        }
        let holding = jsonl_files(&store)
            .into_iter()
            .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(FINAL_TEXT)));
        let Some(path) = holding else { continue };
        let md = std::fs::metadata(&path).ok();
        let now = (
            path.clone(),
            md.as_ref().map_or(0, std::fs::Metadata::len),
            md.and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        if last.as_ref() != Some(&now) {
            last = Some(now);
            quiet_since = Instant::now();
            continue;
        }
        if quiet_since.elapsed() >= TRANSCRIPT_QUIET {
            std::fs::write(gate, "").unwrap();
            return format!("gate opened: {} holds the final answer", path.display());
        }
    }
    format!(
        "gate never opened: the final answer was {} in a transcript under {}",
        if last.is_some() { "found" } else { "not found" },
        store.display()
    )
}

/// A run in a pane: its usage, read from the CLI's session transcript when the run
/// ends, is the turns the model server answered (side requests are not in a
/// transcript), exactly; no cost is known without a price (claude's transcript has
/// none either).
pub fn tmux(cli: Cli) {
    let a = Agent::new(cli, true);
    let summary = format!("e2e pane usage summary {}", unique());
    let gate = a.dirs.tmp.join(format!("publish-{}", unique()));
    let ended = AtomicBool::new(false);
    let (ran, gated) = std::thread::scope(|s| {
        let gating = s.spawn(|| open_gate(&a, &gate, &ended));
        let ran = a.run(&[], &gated_task(&summary, &gate, &a.dirs.tmp), RUN_TIMEOUT);
        ended.store(true, Ordering::SeqCst);
        (ran, gating.join().unwrap())
    });
    a.check(
        ran.output.status.code() == Some(0) && ran.stdout() == format!("{summary}\n"),
        &ran,
        &format!("agent-offload exits 0 with the summary ({gated})"),
    );
    let (_, m) = new_run(&a, &[], &ran);
    a.check(
        m["mode"] == "tmux" && m["session_id"].is_string(),
        &ran,
        &format!("a pane run with a session: {m}"),
    );
    let n = served(&a, 0, true);
    a.check(
        n >= 2,
        &ran,
        "the run's conversation had two model requests (the shell call, the final answer)",
    );
    check_tokens(&a, &ran, &m, n);
    a.check_no_survivors(&ran);
}

/// `--max-tokens 20` on a task of two model requests (15 tokens after the first, 30
/// after the second) whose shell call does not publish: the relay stops the agent at
/// the event reporting 30, the run ends `over_budget` (exit 4) with the budget named,
/// and its usage so far is kept. No model request follows.
pub fn budget(cli: Cli) {
    let a = Agent::new(cli, false);
    let prompt = "This is an end-to-end test of agent-offload. Run the shell command on the \
                  SCRIPT line below with your shell tool, exactly as written, once.\n\
                  SCRIPT: echo e2e budget step\n";
    let ran = a.run(&["-H", "--max-tokens", "20"], prompt, RUN_TIMEOUT);
    a.check(
        ran.output.status.code() == Some(4),
        &ran,
        "agent-offload exits 4 (over budget)",
    );
    let (_, m) = new_run(&a, &[], &ran);
    let reason = m["reason"].as_str().unwrap_or_default();
    a.check(
        m["status"] == "over_budget" && reason.contains("over the budget of 20 tokens"),
        &ran,
        &format!("status over_budget, the reason naming the budget: {m}"),
    );
    a.check(
        ran.stderr().contains("over the budget of 20 tokens"),
        &ran,
        "stderr names the budget",
    );
    let n = served(&a, 0, false);
    check_tokens(&a, &ran, &m, 2);
    a.check(
        n == 2 && a.server.model_calls().len() == 2,
        &ran,
        "the model server saw the two requests and no third",
    );
    // Nothing more arrives once the agent is stopped.
    std::thread::sleep(Duration::from_secs(2));
    a.check(
        a.server.model_calls().len() == 2,
        &ran,
        "no model request after the run ended",
    );
    a.check_no_survivors(&ran);
}

/// The usage scenarios, one module per CLI: `usage::claude::headless`, ...
macro_rules! usage_tests {
    ($($module:ident => $cli:expr, [$($(#[$attr:meta])* $test:ident),* $(,)?];)*) => {$(
        mod $module {
            use crate::clis::Cli;

            $(
                #[test]
                $(#[$attr])*
                fn $test() {
                    super::$test($cli);
                }
            )*
        }
    )*};
}

usage_tests! {
    claude => Cli::Claude, [headless, tmux, budget];
    codex => Cli::Codex, [headless, resume_headless, price, tmux, budget];
    opencode => Cli::Opencode, [headless];
    pi => Cli::Pi, [headless, tmux];
    gemini => Cli::Gemini, [headless, tmux];
    qwen => Cli::Qwen, [headless, resume_headless, tmux];
}
