//! A fan-out: `agent-offload -p a -p b -p c PROMPT` sends the same task to several
//! profiles at once, each in a worktree of its own, waits for all, and prints one table
//! (profile, status, duration, cost, changes, `--check`), then each candidate's summary;
//! `--judge PROFILE` then asks one more run to name the best.
//!
//! Each candidate is an ordinary run started by a child `agent-offload run` (its own
//! waiter, guard, budgets, pane — panes started from one caller stack in the right-hand
//! column), so a fan-out is exactly as robust as a run. The fan-out forwards a signal to
//! its children, which cancel their runs. Its record is `fanout.json` in
//! `<state>/fanouts/<id>/`, with the task; `wait ID` waits for the fan-out as a whole.
//!
//! A fan-out that may detach (`--detach-after`, or the config's `detach_after`) hands
//! its queue to a keeper (`__fanout DIR`, see `keeper`) that outlives the command and
//! keeps `--max-parallel`; the command waits on the keeper until the limit passes.
//! Each candidate names its run in the fan-out's directory (`slot-N`) once it starts,
//! so the record tells the truth while the fan-out works.

mod keeper;

use keeper::Progress;
pub use keeper::{KEEPER_COMMAND, keeper_main};

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Env;
use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::{self, usage};
use crate::profile::{OnStall, StallAfter};
use crate::run::{self, Signals};

const RECORD: &str = "fanout.json";
const TASK: &str = "task.md";
const JUDGE_PROMPT: &str = "judge.md";
/// The most of one candidate's diff given to the judge inline (the whole is a file).
const JUDGE_DIFF_BYTES: usize = 24 * 1024;
const JUDGE_SUMMARY_CHARS: usize = 6000;

/// `fanout.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    cwd: PathBuf,
    profiles: Vec<String>,
    /// The candidates' runs, in the order of `profiles` (`null`: it never started).
    runs: Vec<Option<String>>,
    check: Option<String>,
    judge: Option<String>,
    /// The judge's run, once started.
    judge_run: Option<String>,
    started_at: String,
    /// The options every candidate was started with (for the judge, started later).
    options: Vec<String>,
    /// Where each candidate's worktree starts (`head`, `dirty`).
    #[serde(default)]
    start: Option<String>,
    /// `--max-parallel`.
    #[serde(default)]
    max_parallel: Option<u16>,
    /// The process that keeps a detachable fan-out's queue (`__fanout DIR`).
    #[serde(default)]
    keeper: Option<run::ProcessId>,
    /// Each candidate's place in the keeper's queue, in the order of `profiles` (empty:
    /// no keeper; the fan-out command ran them itself).
    #[serde(default)]
    progress: Vec<Progress>,
}

/// The file in which candidate `slot` names its run once it has started.
fn slot_file(slot: usize) -> String {
    format!("slot-{slot}")
}

/// A fan-out's candidate, as the run's observer: names its run in the fan-out's
/// directory the moment it starts, then reports as `inner` does.
pub struct Candidate {
    pub inner: Box<dyn run::Observer>,
    pub runs_root: PathBuf,
    pub fanout: String,
    pub slot: usize,
}

impl run::Observer for Candidate {
    fn note(&self, message: &str) {
        self.inner.note(message);
    }

    fn started(
        &self,
        run: &run::RunDir,
        profile: &str,
        mode: crate::interface::Mode,
        target: &str,
    ) {
        if let Some(dir) = find(&self.runs_root, &self.fanout).filter(|d| d.id == self.fanout) {
            let _ = dir.write_atomic(&slot_file(self.slot), run.id.as_bytes(), 0o600);
        }
        self.inner.started(run, profile, mode, target);
    }

    fn finished(&self) {
        self.inner.finished();
    }
}

/// The fan-outs directory, beside the runs directory.
fn fanouts_root(runs_root: &Path) -> PathBuf {
    runs_root
        .parent()
        .map_or_else(|| runs_root.join("fanouts"), |state| state.join("fanouts"))
}

pub fn run(args: &RunArgs, env: Env<'_>, cwd: &Path, config: &Config) -> Result<u8> {
    if args.no_worktree {
        return Err(usage(
            "a fan-out runs each profile in a worktree of its own: --no-worktree cannot apply",
        ));
    }
    for name in args.profile.iter().chain(&args.judge) {
        config.profile(Some(name))?;
    }
    let start = args.worktree.unwrap_or(run::WorktreeStart::Head);
    run::check_worktree(cwd, start).map_err(|e| usage(e.said_of("a fan-out")))?;
    let first = config.profile(args.profile.first().map(String::as_str))?;
    let prompt = super::prompt::read_prompt(args, first, config, None)?;
    let root = run::runs_root(env)?;
    let dir = run::RunDir::create(&fanouts_root(&root))?;
    dir.write_atomic(TASK, prompt.as_bytes(), 0o600)?;
    let options = options(args);
    let mut record = Record {
        id: dir.id.clone(),
        cwd: cwd.to_path_buf(),
        profiles: args.profile.clone(),
        runs: vec![None; args.profile.len()],
        check: args.check.clone(),
        judge: args.judge.clone(),
        judge_run: None,
        started_at: run::rfc3339(jiff::Timestamp::now()),
        options,
        start: Some(start.as_str().to_owned()),
        max_parallel: args.max_parallel,
        keeper: None,
        progress: Vec::new(),
    };
    save(&dir, &record)?;
    if !args.quiet {
        say!(
            "agent-offload: fan-out {} of {} to {} profiles ({}), each in its own worktree; \
             directory {}",
            dir.id,
            config.describe(),
            args.profile.len(),
            args.profile.join(", "),
            dir.path.display()
        );
    }
    let signals = Signals::install()?;
    // The profiles' own `detach_after` is theirs; the fan-out detaches as a whole.
    if let Some(limit) = args.detach_after.or(config.detach_after) {
        return keeper::run_detachable(&dir, &mut record, limit, &signals, args.json, args.quiet);
    }
    let commands: Vec<Command> = (0..record.profiles.len())
        .map(|slot| candidate(&dir, &record, slot))
        .collect::<Result<_>>()?;
    let results = collect(
        commands,
        args.max_parallel.map_or(usize::MAX, usize::from),
        &signals,
        &args.profile,
        args.quiet,
        &mut |_, _| {},
    )?;
    finish(&dir, &mut record, &results, &signals, args.json, args.quiet)
}

/// The child `agent-offload run` for candidate `slot`.
fn candidate(dir: &run::RunDir, record: &Record, slot: usize) -> Result<Command> {
    let mut c = own_command()?;
    c.arg("run")
        .args(["-p", &record.profiles[slot]])
        .arg(format!(
            "--worktree={}",
            record.start.as_deref().unwrap_or("head")
        ))
        .arg("-f")
        .arg(dir.file(TASK))
        .args(["--fanout", &dir.id])
        .arg(format!("--fanout-slot={slot}"))
        .args(&record.options);
    Ok(c)
}

/// How long `wait FANOUT` waits, from now: `timeout` stops the fan-out (its queue and
/// its candidates, exit 124), `detach_after` stops waiting (exit 75).
#[derive(Clone, Copy, Default)]
pub struct Limits {
    pub timeout: Option<Duration>,
    pub detach_after: Option<Duration>,
}

/// `wait ID` for a fan-out: waits for its keeper's queue to end (if it has one) and for
/// every candidate, then judges (if asked and no judge gave a verdict yet: see
/// [`recorded_verdict`]) and prints the table.
pub fn wait(dir: &run::RunDir, json: bool, limits: Limits) -> Result<u8> {
    let signals = Signals::install()?;
    let now = Instant::now();
    let deadline = limits.timeout.and_then(|t| now.checked_add(t));
    let detach_at = limits.detach_after.and_then(|d| now.checked_add(d));
    let record = load(dir)?;
    if !record.progress.is_empty() {
        match keeper::wait_queue(dir, deadline, detach_at, &signals, false)? {
            keeper::Waited::Ended => {}
            keeper::Waited::Detach => return detached(&record, false),
            keeper::Waited::Signal(sig) => return Ok(exit::for_signal(sig)),
            keeper::Waited::Deadline => return timed_out(dir, &signals, json, limits),
        }
    }
    let remaining = |at: Option<Instant>| at.map(|at| at.saturating_duration_since(Instant::now()));
    conclude(
        dir,
        &signals,
        json,
        false,
        false,
        Limits {
            timeout: remaining(deadline),
            detach_after: remaining(detach_at),
        },
    )
}

/// `wait --timeout` passed while the keeper's queue went on: it was stopped (its
/// candidates cancelled, the rest never started); the table, exit 124.
fn timed_out(dir: &run::RunDir, signals: &Signals, json: bool, limits: Limits) -> Result<u8> {
    let mut record = load(dir)?;
    say!(
        "agent-offload: --timeout {} passed; fan-out {} was stopped",
        limits
            .timeout
            .map_or_else(String::new, crate::duration::human),
        record.id
    );
    let results = results(&record, signals, Limits::default(), true)?;
    record_runs(&mut record, &results);
    save(dir, &record)?;
    print_results(&record, &results, None, None, json)?;
    Ok(exit::TIMED_OUT)
}

/// Waits for every candidate that started (already ended, once the keeper's queue
/// is done), then judges and prints: the end of every fan-out that had a keeper, and
/// of `wait FANOUT`. `announced`: each candidate's end was on stderr already.
fn conclude(
    dir: &run::RunDir,
    signals: &Signals,
    json: bool,
    quiet: bool,
    announced: bool,
    limits: Limits,
) -> Result<u8> {
    let mut record = load(dir)?;
    let results = results(&record, signals, limits, quiet || announced)?;
    finish(dir, &mut record, &results, signals, json, quiet)
}

/// Each candidate's result, by `wait RUN --json` (with `limits`); a candidate that
/// never started keeps its place and its missing row.
fn results(
    record: &Record,
    signals: &Signals,
    limits: Limits,
    quiet: bool,
) -> Result<Vec<Outcome>> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut labels = Vec::new();
    let mut commands = Vec::new();
    for (profile, id) in record.profiles.iter().zip(&record.runs) {
        if let Some(id) = id {
            let mut c = own_command()?;
            c.args(["wait", id, "--json"]);
            if let Some(t) = limits.timeout {
                c.arg(format!("--timeout={}", ms(t)));
            }
            if let Some(d) = limits.detach_after {
                c.arg(format!("--detach-after={}", ms(d)));
            }
            commands.push(c);
            labels.push(profile.clone());
        }
    }
    let waited = collect(
        commands,
        usize::MAX,
        signals,
        &labels,
        quiet,
        &mut |_, _| {},
    )?;
    // Candidates that never started keep their place (and their missing row).
    let mut results: Vec<Outcome> = Vec::new();
    let mut waited = waited.into_iter();
    for id in &record.runs {
        results.push(match id {
            Some(_) => waited
                .next()
                .unwrap_or_else(|| Outcome::missing(exit::USAGE)),
            None => Outcome::missing(exit::USAGE),
        });
    }
    Ok(results)
}

/// The runs of the fan-out in `dir`: the candidates that started, then the judge's.
pub fn members(dir: &run::RunDir) -> Result<Vec<String>> {
    let record = load(dir)?;
    Ok(record
        .runs
        .into_iter()
        .flatten()
        .chain(record.judge_run)
        .collect())
}

/// The candidates a working keeper has queued or started that have no run yet (their
/// profiles).
pub fn starting(dir: &run::RunDir) -> Result<Vec<String>> {
    let record = load(dir)?;
    if !record
        .keeper
        .as_ref()
        .is_some_and(|k| run::Watched::new(k).alive())
    {
        return Ok(Vec::new());
    }
    Ok(record
        .progress
        .iter()
        .zip(record.runs.iter().zip(&record.profiles))
        .filter(|(p, (id, _))| id.is_none() && matches!(p, Progress::Queued | Progress::Running))
        .map(|(_, (_, profile))| profile.clone())
        .collect())
}

/// The record, with the runs candidates have named since it was written (`slot-N`).
fn load(dir: &run::RunDir) -> Result<Record> {
    let path = dir.file(RECORD);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut record: Record = serde_json::from_slice(&bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for (slot, id) in record.runs.iter_mut().enumerate() {
        if id.is_none()
            && let Ok(named) = std::fs::read_to_string(dir.file(&slot_file(slot)))
            && valid_run_id(named.trim())
        {
            *id = Some(named.trim().to_owned());
        }
    }
    Ok(record)
}

/// A run id as agent-offload makes them (what a `slot-N` file may name).
fn valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The fan-out `spec` names (an id or a unique prefix of one), if any.
pub fn find(runs_root: &Path, spec: &str) -> Option<run::RunDir> {
    let root = fanouts_root(runs_root);
    let entries = std::fs::read_dir(&root).ok()?;
    let mut matches: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(spec))
        .collect();
    if let Some(exact) = matches.iter().find(|m| *m == spec) {
        return Some(run::RunDir::open(root.join(exact)));
    }
    (matches.len() == 1).then(|| run::RunDir::open(root.join(matches.remove(0))))
}

/// What one child `agent-offload` gave back.
struct Outcome {
    code: u8,
    /// Its `--json` result, when it printed one.
    result: Option<Value>,
}

impl Outcome {
    fn missing(code: u8) -> Outcome {
        Outcome { code, result: None }
    }
}

/// Runs the children, at most `parallel` at once, until all have exited; a signal to
/// us is forwarded to them (they cancel their runs and exit). `progress` hears of each
/// child's start and end (and of those a signal left unstarted).
fn collect(
    commands: Vec<Command>,
    parallel: usize,
    signals: &Signals,
    labels: &[String],
    quiet: bool,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<Outcome>> {
    let total = commands.len();
    let (tx, rx) = mpsc::channel::<(usize, std::io::Result<std::process::Output>)>();
    let mut queue = commands.into_iter().enumerate();
    let mut running: Vec<(usize, u32)> = Vec::new();
    let mut results: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let mut forwarded = false;
    let start_next = |queue: &mut dyn Iterator<Item = (usize, Command)>,
                      running: &mut Vec<(usize, u32)>|
     -> Result<Option<usize>> {
        let Some((i, mut cmd)) = queue.next() else {
            return Ok(None);
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .context("cannot start agent-offload for a candidate")?;
        running.push((i, child.id()));
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, child.wait_with_output()));
        });
        Ok(Some(i))
    };
    while running.len() < parallel
        && let Some(i) = start_next(&mut queue, &mut running)?
    {
        progress(i, Progress::Running);
    }
    while !running.is_empty() {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((i, output)) => {
                running.retain(|(j, _)| *j != i);
                let outcome = match output {
                    Ok(out) => Outcome {
                        code: out
                            .status
                            .code()
                            .and_then(|c| u8::try_from(c).ok())
                            .unwrap_or(exit::FAILED),
                        result: serde_json::from_slice(&out.stdout).ok(),
                    },
                    Err(_) => Outcome::missing(exit::FAILED),
                };
                if !quiet {
                    say!(
                        "agent-offload: {} {}",
                        labels.get(i).map_or("?", String::as_str),
                        describe_outcome(&outcome)
                    );
                }
                results[i] = Some(outcome);
                progress(i, Progress::Ended);
                while !forwarded
                    && running.len() < parallel
                    && let Some(i) = start_next(&mut queue, &mut running)?
                {
                    progress(i, Progress::Running);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !forwarded && let Some(sig) = signals.pending() {
            forwarded = true;
            for &(_, pid) in &running {
                if let Some(pid) = rustix::process::Pid::from_raw(pid.cast_signed()) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
            }
            // Those not started yet never start.
            for (i, _) in queue.by_ref() {
                results[i] = Some(Outcome::missing(exit::for_signal(sig)));
                progress(i, Progress::NotStarted);
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Outcome::missing(exit::FAILED)))
        .collect())
}

fn describe_outcome(o: &Outcome) -> String {
    let Some(v) = &o.result else {
        return format!("did not start (exit {})", o.code);
    };
    let status = v["status"].as_str().unwrap_or("?");
    let id = v["id"].as_str().unwrap_or("?");
    match v["duration_seconds"].as_f64() {
        Some(s) if status != "running" => format!(
            "{} after {} (run {id})",
            status.replace('_', " "),
            crate::duration::human(Duration::from_secs_f64(s.max(0.0)))
        ),
        _ => format!("{} (run {id})", status.replace('_', " ")),
    }
}

/// Records the runs, judges, prints, and decides the exit code.
fn finish(
    dir: &run::RunDir,
    record: &mut Record,
    results: &[Outcome],
    signals: &Signals,
    json: bool,
    quiet: bool,
) -> Result<u8> {
    record_runs(record, results);
    save(dir, record)?;
    if let Some(sig) = signals.pending() {
        return Ok(exit::for_signal(sig));
    }
    if let Some(signal_code) = results
        .iter()
        .map(|o| o.code)
        .find(|&c| c > 128 && c != exit::DETACHED)
    {
        say!(
            "agent-offload: fan-out {} was stopped by a signal",
            record.id
        );
        return Ok(signal_code);
    }
    if results.iter().any(|o| o.code == exit::DETACHED) {
        return detached(record, quiet);
    }
    let judged = match record.judge.clone() {
        Some(judge) => Some(judge_once(dir, record, results, &judge, signals, quiet)?),
        None => None,
    };
    let pick = judged
        .as_ref()
        .and_then(|j| j.result.as_ref())
        .and_then(|v| pick(v, record));
    let good = |o: &Outcome| {
        o.result
            .as_ref()
            .is_some_and(|v| v["status"] == "done" && v["check"]["passed"].as_bool() != Some(false))
    };
    let code = if results.iter().any(good) {
        exit::DONE
    } else {
        exit::FAILED
    };
    print_results(record, results, judged.as_ref(), pick.as_deref(), json)?;
    if !json && !quiet {
        say!(
            "agent-offload: take a candidate's work with agent-offload apply RUN (or merge \
             RUN); throw the rest away with agent-offload discard RUN --force"
        );
    }
    Ok(code)
}

/// The runs the candidates' results name, into the record.
fn record_runs(record: &mut Record, results: &[Outcome]) {
    for (slot, outcome) in record.runs.iter_mut().zip(results) {
        if let Some(id) = outcome.result.as_ref().and_then(|v| v["id"].as_str()) {
            *slot = Some(id.to_owned());
        }
    }
}

/// The fan-out goes on without this command: how to wait for it (stdout), exit 75.
fn detached(record: &Record, quiet: bool) -> Result<u8> {
    super::outln!("still running: agent-offload wait {}", record.id)?;
    if !quiet {
        say!(
            "agent-offload: fan-out {} goes on without this command; wait for all of it \
             with: agent-offload wait {0}",
            record.id
        );
    }
    Ok(exit::DETACHED)
}

/// The table and each summary, or with `json` the array of results.
fn print_results(
    record: &Record,
    results: &[Outcome],
    judged: Option<&Outcome>,
    pick: Option<&str>,
    json: bool,
) -> Result<()> {
    if json {
        let mut all: Vec<Value> = results
            .iter()
            .zip(&record.profiles)
            .map(|(o, profile)| {
                let mut v = o.result.clone().unwrap_or_else(|| {
                    serde_json::json!({"profile": profile, "status": "not_started",
                        "agent_offload_exit": o.code})
                });
                v["role"] = "candidate".into();
                if record.judge.is_some() {
                    v["picked"] = (pick.is_some() && v["id"].as_str() == pick).into();
                }
                v
            })
            .collect();
        if let Some(j) = judged {
            let mut v = j.result.clone().unwrap_or_else(|| serde_json::json!({}));
            v["role"] = "judge".into();
            v["pick"] = pick.into();
            all.push(v);
        }
        let mut out = super::Stdout;
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
        return Ok(());
    }
    print_table(record, results, pick)?;
    if let Some(j) = judged {
        let summary = j.result.as_ref().and_then(|v| v["summary"].as_str());
        let mut out = super::Stdout;
        writeln!(
            out,
            "\n== judge ({}): {}",
            record.judge.as_deref().unwrap_or("?"),
            match pick {
                Some(p) => format!("picks {p}"),
                None => "named no candidate".to_owned(),
            }
        )?;
        if let Some(s) = summary {
            writeln!(out, "{}", s.trim_end())?;
        }
    }
    Ok(())
}

fn print_table(record: &Record, results: &[Outcome], pick: Option<&str>) -> Result<()> {
    let mut rows = Vec::new();
    for (o, profile) in results.iter().zip(&record.profiles) {
        let v = o.result.clone().unwrap_or(Value::Null);
        let id = v["id"].as_str().unwrap_or("-").to_owned();
        let files = v["changes"]["files"].as_array().map_or(0, Vec::len);
        let lines = format!(
            "+{} -{}",
            v["changes"]["insertions"].as_u64().unwrap_or(0),
            v["changes"]["deletions"].as_u64().unwrap_or(0)
        );
        let check = if v["check"].is_object() {
            v["check"]["passed"].as_bool().map_or_else(
                || "not run".to_owned(),
                |p| {
                    if p {
                        "passed".to_owned()
                    } else {
                        v["check"]["exit_code"]
                            .as_i64()
                            .map_or_else(|| "failed".to_owned(), |c| format!("failed ({c})"))
                    }
                },
            )
        } else {
            "-".to_owned()
        };
        let picked = if pick.is_some() && Some(id.as_str()) == pick {
            " <- picked"
        } else {
            ""
        };
        rows.push([
            profile.clone(),
            v["status"].as_str().unwrap_or("not started").to_owned(),
            v["duration_seconds"].as_f64().map_or_else(
                || "-".to_owned(),
                |s| crate::duration::human(Duration::from_secs_f64(s.max(0.0))),
            ),
            v["cost_usd"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |c| format!("${c:.2}")),
            files.to_string(),
            lines,
            check,
            format!("{id}{picked}"),
        ]);
    }
    let mut out = super::Stdout;
    out.write_all(
        super::table(
            &[
                "PROFILE", "STATUS", "DURATION", "COST", "FILES", "LINES", "CHECK", "RUN",
            ],
            &rows,
        )
        .as_bytes(),
    )?;
    for (o, profile) in results.iter().zip(&record.profiles) {
        let Some(v) = &o.result else {
            continue;
        };
        let text = match (v["summary"].as_str(), v["question"].as_str()) {
            (Some(s), _) | (None, Some(s)) => s.to_owned(),
            _ => format!(
                "{}\nlog: {}",
                v["final_message"]
                    .as_str()
                    .or_else(|| v["reason"].as_str())
                    .unwrap_or("no summary"),
                v["log"].as_str().unwrap_or("-")
            ),
        };
        writeln!(
            out,
            "\n== {profile} ({}): {}\n{}",
            v["id"].as_str().unwrap_or("?"),
            v["status"].as_str().unwrap_or("?"),
            text.trim_end()
        )?;
    }
    Ok(())
}

/// The verdict of the judge this fan-out already ran (`wait FANOUT` again): its run's
/// result, read back rather than judged again. `None` when no judge ran yet, or it did
/// not reach a verdict of its own (stopped by a signal, cancelled, still running).
fn recorded_verdict(record: &Record, signals: &Signals) -> Result<Option<Outcome>> {
    let Some(id) = &record.judge_run else {
        return Ok(None);
    };
    let mut c = own_command()?;
    c.args(["wait", id, "--json"]);
    let label = format!("judge {}", record.judge.as_deref().unwrap_or("?"));
    let outcome = collect(vec![c], 1, signals, &[label], true, &mut |_, _| {})?.pop();
    Ok(outcome.filter(|o| {
        o.result
            .as_ref()
            .is_some_and(|v| !matches!(v["status"].as_str(), Some("running" | "cancelled") | None))
    }))
}

/// The judge's verdict: the one recorded, else a new judge's.
fn judge_once(
    dir: &run::RunDir,
    record: &mut Record,
    results: &[Outcome],
    judge: &str,
    signals: &Signals,
    quiet: bool,
) -> Result<Outcome> {
    match recorded_verdict(record, signals)? {
        Some(verdict) => Ok(verdict),
        None => judge_them(dir, record, results, judge, signals, quiet),
    }
}

/// Starts the judge (in a worktree of its own, so nothing it does reaches the
/// checkout) with every candidate's summary, check and diff; waits for it.
fn judge_them(
    dir: &run::RunDir,
    record: &mut Record,
    results: &[Outcome],
    judge: &str,
    signals: &Signals,
    quiet: bool,
) -> Result<Outcome> {
    let task = std::fs::read_to_string(dir.file(TASK)).unwrap_or_default();
    let prompt = judge_prompt(&task, record, results);
    dir.write_atomic(JUDGE_PROMPT, prompt.as_bytes(), 0o600)?;
    let mut c = own_command()?;
    c.arg("run")
        .args(["-p", judge, "--worktree"])
        .arg("-f")
        .arg(dir.file(JUDGE_PROMPT))
        .args(record.options.iter().filter(|o| !o.starts_with("--check")));
    if !quiet {
        say!("agent-offload: asking {judge} to judge the candidates");
    }
    let mut out = collect(
        vec![c],
        1,
        signals,
        &[format!("judge {judge}")],
        quiet,
        &mut |_, _| {},
    )?;
    let outcome = out.pop().unwrap_or_else(|| Outcome::missing(exit::FAILED));
    if let Some(id) = outcome.result.as_ref().and_then(|v| v["id"].as_str()) {
        record.judge_run = Some(id.to_owned());
        save(dir, record)?;
        // A judge that changed nothing leaves no worktree behind (`discard` keeps one
        // that did).
        let _ = own_command()?
            .args(["discard", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(outcome)
}

fn judge_prompt(task: &str, record: &Record, results: &[Outcome]) -> String {
    use std::fmt::Write as _;
    let ids: Vec<&str> = results
        .iter()
        .filter_map(|o| o.result.as_ref()?["id"].as_str())
        .collect();
    let mut p = format!(
        "You are judging {} candidate solutions to the same task. Each was made by a \
         different coding agent in a git worktree of its own. Do not change any files: \
         read, compare, and decide.\n\nThe task they were given:\n\n{}\n",
        ids.len(),
        task.trim_end()
    );
    for (n, (o, profile)) in results.iter().zip(&record.profiles).enumerate() {
        let Some(v) = &o.result else {
            continue;
        };
        let _ = write!(
            p,
            "\n## Candidate {}: run {} (profile {profile})\n\nStatus: {}\n",
            n + 1,
            v["id"].as_str().unwrap_or("?"),
            v["status"].as_str().unwrap_or("?")
        );
        if let Some(path) = v["worktree"]["path"].as_str() {
            let _ = writeln!(p, "Its worktree: {path}");
        }
        if v["check"].is_object() {
            let _ = writeln!(
                p,
                "Check `{}`: {} (log: {})",
                v["check"]["command"].as_str().unwrap_or(""),
                match v["check"]["passed"].as_bool() {
                    Some(true) => "passed".to_owned(),
                    Some(false) => format!(
                        "failed (exit {})",
                        v["check"]["exit_code"]
                            .as_i64()
                            .map_or_else(|| "?".to_owned(), |c| c.to_string())
                    ),
                    None => "not run".to_owned(),
                },
                v["check"]["log"].as_str().unwrap_or("-")
            );
        }
        let summary: String = v["summary"]
            .as_str()
            .or_else(|| v["reason"].as_str())
            .unwrap_or("(none)")
            .chars()
            .take(JUDGE_SUMMARY_CHARS)
            .collect();
        let _ = writeln!(p, "\nIts summary:\n\n{}\n", summary.trim_end());
        if let Some(patch) = v["worktree"]["patch"].as_str() {
            let diff = std::fs::read(patch).unwrap_or_default();
            let cut = diff.len() > JUDGE_DIFF_BYTES;
            let shown = String::from_utf8_lossy(&diff[..diff.len().min(JUDGE_DIFF_BYTES)]);
            let _ = writeln!(
                p,
                "Its diff ({patch}{}):\n\n```diff\n{}\n```",
                if cut {
                    ", cut here: read the whole file"
                } else {
                    ""
                },
                shown.trim_end()
            );
        } else {
            p.push_str("It changed no file.\n");
        }
    }
    let _ = write!(
        p,
        "\nCompare them on correctness first (the check results, the task's requirements), \
         then on scope and code quality. The first line of your summary must name the best \
         one exactly as `best: RUN` with RUN one of: {}. Then give your reasons, and what \
         the others got wrong.\n",
        ids.join(", ")
    );
    p
}

/// The candidate the judge named on a `best: RUN` line (a run id, a unique prefix of
/// one, or a profile name).
fn pick(judge: &Value, record: &Record) -> Option<String> {
    let summary = judge["summary"].as_str()?;
    let named = summary.lines().find_map(|l| {
        let l = l.trim().trim_start_matches(['*', '#', '-', ' ', '`']);
        let rest = l
            .strip_prefix("best:")
            .or_else(|| l.strip_prefix("Best:"))?;
        Some(rest.trim().trim_matches(['`', '*', '.', ' ']).to_owned())
    })?;
    let runs: Vec<(&String, &String)> = record
        .runs
        .iter()
        .zip(&record.profiles)
        .filter_map(|(id, profile)| Some((id.as_ref()?, profile)))
        .collect();
    if let Some((id, _)) = runs.iter().find(|(id, _)| **id == named) {
        return Some((*id).clone());
    }
    let by_prefix: Vec<_> = runs
        .iter()
        .filter(|(id, _)| named.len() >= 4 && id.starts_with(&named))
        .collect();
    if let [(id, _)] = by_prefix.as_slice() {
        return Some((*id).clone());
    }
    let by_profile: Vec<_> = runs.iter().filter(|(_, p)| **p == named).collect();
    match by_profile.as_slice() {
        [(id, _)] => Some((*id).clone()),
        _ => None,
    }
}

/// The options every candidate gets, as words for a child `agent-offload run`.
fn options(args: &RunArgs) -> Vec<String> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut o = vec!["--json".to_owned(), "--quiet".to_owned()];
    if let Some(c) = &args.config {
        let c = std::path::absolute(c).unwrap_or_else(|_| c.clone());
        o.push(format!("--config={}", c.display()));
    }
    if let Some(cwd) = &args.cwd {
        let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.clone());
        o.push(format!("--cwd={}", cwd.display()));
    }
    if args.headless {
        o.push("--headless".to_owned());
    }
    if args.tmux {
        o.push("--tmux".to_owned());
    }
    if let Some(t) = args.timeout {
        o.push(format!("--timeout={}", ms(t)));
    }
    if let Some(n) = args.max_tokens {
        o.push(format!("--max-tokens={n}"));
    }
    if let Some(c) = args.max_cost {
        o.push(format!("--max-cost={c}"));
    }
    match args.stall_after {
        Some(StallAfter::Off) => o.push("--stall-after=off".to_owned()),
        Some(StallAfter::After(d)) => o.push(format!("--stall-after={}", ms(d))),
        None => {}
    }
    match args.on_stall {
        Some(OnStall::Warn) => o.push("--on-stall=warn".to_owned()),
        Some(OnStall::Stop) => o.push("--on-stall=stop".to_owned()),
        None => {}
    }
    if let Some(c) = &args.check {
        o.push(format!("--check={c}"));
    }
    o
}

fn save(dir: &run::RunDir, record: &Record) -> Result<()> {
    dir.write_atomic(RECORD, &serde_json::to_vec_pretty(record)?, 0o600)
}

/// This executable, for a child the fan-out starts itself (a candidate, a `wait`, the
/// keeper): its running image, as for the guard (`os::own_command`), so that after an
/// upgrade the children are the same version as the fan-out that records them.
fn own_command() -> Result<Command> {
    crate::os::own_command().context("cannot find agent-offload's own executable")
}
