//! Fan-out: the same task to several profiles at once, each in its own worktree, one
//! table, `--check`, `--judge`, `--max-parallel`, detaching and `wait`, signals.

use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{Test, assert_no_survivor, eventually, git, init_repo, send_signal, unique};
use crate::tmux_server::TmuxServer;

fn repo(t: &Test) -> PathBuf {
    let repo = init_repo(&t.work());
    std::fs::write(repo.join("a.txt"), "a\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "start"]);
    repo
}

/// Agents: `good` writes ok.txt and publishes; `broken` fails without a summary;
/// `slow` waits for `$GATE` (a file) first, then writes other.txt; `judge` names the
/// candidate of profile `slow`. Every agent notes its start and end in `$LOG`.
fn setup(extra: &str) -> Test {
    setup_with("", extra)
}

/// [`setup`], with `slow_options` added to profile `slow`'s (`, detach_after: 1s`).
fn setup_with(slow_options: &str, extra: &str) -> Test {
    let log_and_gate = r"log=${AGENT_OFFLOAD_RUN_DIR}/../../fanout-test.log";
    let t = Test::new()
        .agent(
            "good",
            &format!("{log_and_gate}\necho start good >>$log\necho ok >ok.txt\necho end good >>$log\npublish 'good did it'"),
        )
        .agent("broken", "echo 'broken: giving up'; exit 3")
        .agent(
            "slow",
            &format!(
                "{log_and_gate}\necho start slow >>$log\nwhile [ ! -e \"$AGENT_OFFLOAD_RUN_DIR/../../gate\" ]; do sleep 0.05; done\necho other >other.txt\necho end slow >>$log\npublish 'slow did it'"
            ),
        )
        .agent(
            "judge",
            r#"id=$(printf '%s' "$last" | sed -n 's/^## Candidate [0-9]*: run \([^ ]*\) (profile slow)$/\1/p')
printf '%s\n' "$last" >"$AGENT_OFFLOAD_RUN_DIR/../../judge-saw"
publish "best: $id
slow's is the one"
"#,
        );
    let cfg = format!(
        "default_profile: good\nprofiles:\n  good: {{command: {}, headless: true}}\n  broken: \
         {{command: {}, headless: true}}\n  slow: {{command: {}, headless: true{slow_options}}}\n  judge: \
         {{command: {}, headless: true}}\n{extra}",
        t.agent_path("good"),
        t.agent_path("broken"),
        t.agent_path("slow"),
        t.agent_path("judge"),
    );
    t.config(&cfg)
}

fn open_gate(t: &Test) {
    std::fs::create_dir_all(t.path().join("state/agent-offload")).unwrap();
    std::fs::write(t.path().join("state/agent-offload/gate"), "").unwrap();
}

#[test]
fn three_profiles_one_failing_one_slow_give_one_table_with_checks_and_a_judge() {
    let t = setup("");
    let repo = repo(&t);
    // The slow one may go on only once the others have ended: its row comes last.
    let gate = t.path().join("state/agent-offload/gate");
    let t = t.args([
        "-p",
        "good",
        "-p",
        "broken",
        "-p",
        "slow",
        "--check",
        "test -f ok.txt",
        "--judge",
        "judge",
        "the task",
    ]);
    let child = t.spawn();
    let log = t.path().join("state/agent-offload/fanout-test.log");
    eventually(Duration::from_secs(20), "good to end", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("end good"))
    });
    std::fs::write(&gate, "").unwrap();
    let out = crate::harness::wait_bounded(child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("PROFILE  STATUS"), "{stdout}");
    let row = |p: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{p} ")))
            .map_or_else(
                || panic!("no row for {p}: {stdout}"),
                |l| l.split_whitespace().collect::<Vec<_>>(),
            )
    };
    let good = row("good");
    assert_eq!(&good[1], &"done");
    assert_eq!(&good[4..7], &["1", "+1", "-0"], "{good:?}");
    assert_eq!(good[7], "passed");
    let broken = row("broken");
    assert_eq!(broken[1], "failed");
    assert_eq!(
        broken[7..9],
        ["failed", "(1)"],
        "its check ran in its worktree"
    );
    let slow = row("slow");
    assert_eq!(slow[1], "done");
    assert_eq!(slow[7..9], ["failed", "(1)"], "no ok.txt in its worktree");
    assert_eq!(
        slow.last(),
        Some(&"picked"),
        "the judge picked slow: {stdout}"
    );
    assert!(stdout.contains("== judge (judge): picks "), "{stdout}");
    assert!(stdout.contains("slow's is the one"), "{stdout}");
    assert!(stdout.contains("good did it"), "{stdout}");
    assert!(
        stdout.contains("exited with status 3"),
        "the failure's reason: {stdout}"
    );
    // The judge saw each candidate's summary, check and diff.
    let saw = std::fs::read_to_string(t.path().join("state/agent-offload/judge-saw")).unwrap();
    assert!(saw.contains("Check `test -f ok.txt`: passed"), "{saw}");
    assert!(saw.contains("+ok"), "good's diff: {saw}");
    assert!(saw.contains("slow did it"), "{saw}");
    // The checkout is untouched; every candidate kept its worktree and branch.
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&repo, &["branch", "--list", "agent-offload/*"])
            .lines()
            .count(),
        3,
        "three candidates' branches; the judge's is gone (it changed nothing)"
    );
}

#[test]
fn json_gives_an_array_of_candidates_and_the_judge() {
    let t = setup("");
    repo(&t);
    open_gate(&t);
    let out = t
        .args([
            "-p", "good", "-p", "slow", "--judge", "judge", "--json", "the task",
        ])
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["profile"], "good");
    assert_eq!(all[0]["role"], "candidate");
    assert_eq!(all[0]["picked"], false);
    assert_eq!(all[1]["profile"], "slow");
    assert_eq!(all[1]["picked"], true);
    assert!(all[1]["worktree"]["path"].is_string());
    assert_eq!(all[2]["role"], "judge");
    assert_eq!(all[2]["pick"], all[1]["id"]);
    assert_eq!(all[0]["fanout"], all[1]["fanout"]);
}

#[test]
fn max_parallel_one_runs_them_one_after_another() {
    let t = setup("");
    repo(&t);
    open_gate(&t);
    let out = t
        .args([
            "-p",
            "slow",
            "-p",
            "good",
            "--max-parallel",
            "1",
            "the task",
        ])
        .run();
    out.status(0);
    let log = std::fs::read_to_string(out.test.path().join("state/agent-offload/fanout-test.log"))
        .unwrap();
    assert_eq!(log, "start slow\nend slow\nstart good\nend good\n");
}

/// A fan-out of `good` and `slow` that detaches after 300 ms (exit 75) while `slow`
/// waits at its gate, and the fan-out's id from its "still running" line.
fn detached_good_and_slow() -> (crate::harness::Outcome, String) {
    let t = setup("");
    repo(&t);
    let out = t
        .args([
            "-p",
            "good",
            "-p",
            "slow",
            "--detach-after",
            "300ms",
            "the task",
        ])
        .run();
    out.status(75);
    let stdout = out.stdout();
    let id = stdout
        .trim()
        .strip_prefix("still running: agent-offload wait ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned();
    (out, id)
}

#[test]
fn a_detached_fan_out_is_waited_for_as_a_whole() {
    let (out, id) = detached_good_and_slow();
    open_gate(&out.test);
    let waited = out.test.exec(["wait", &id]);
    let text = String::from_utf8_lossy(&waited.stdout);
    assert_eq!(waited.status.code(), Some(0), "{text}");
    assert!(
        text.contains("slow did it") && text.contains("good did it"),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with("slow ")).unwrap();
    assert!(row.contains(" done "), "{row}");
}

#[test]
fn a_signal_to_the_fan_out_cancels_every_candidate() {
    let marker = format!("sleep 5{}", &unique()[..3]);
    let t = Test::new().agent(
        "waits",
        &format!("touch \"$AGENT_OFFLOAD_RUN_DIR/../../started-$$\"\nexec {marker}"),
    );
    let cfg = format!(
        "default_profile: w1\nprofiles:\n  w1: {{command: {0}, headless: true}}\n  w2: \
         {{command: {0}, headless: true}}\n",
        t.agent_path("waits")
    );
    let t = t.config(&cfg);
    repo(&t);
    let t = t.args(["-p", "w1", "-p", "w2", "--json", "x"]);
    let child = t.spawn();
    let state = t.path().join("state/agent-offload");
    eventually(Duration::from_secs(20), "both agents to start", || {
        std::fs::read_dir(&state).is_ok_and(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("started-"))
            })
            .count()
                == 2
        })
    });
    send_signal(child.id(), "TERM");
    let out = crate::harness::wait_bounded(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert_no_survivor(&marker);
    for dir in t.run_dirs() {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(m["status"], "cancelled", "{m}");
    }
}

#[test]
fn fan_out_mistakes_are_usage_errors_before_anything_starts() {
    let t = setup("");
    let out = t.args(["-p", "good", "-p", "slow", "x"]).run();
    out.status(2).stderr_contains("not in a git repository");
    let t = out.test;
    repo(&t);
    let unknown = t.exec(["-p", "good", "-p", "nope", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));
    let judge_alone = t.exec(["-p", "good", "--judge", "judge", "x"]);
    assert_eq!(judge_alone.status.code(), Some(2));
    assert!(t.run_dirs().is_empty(), "nothing started");
}

#[test]
fn in_tmux_the_candidates_panes_stack_in_the_right_hand_column() {
    // Each agent notes its pane's place, then waits until both have.
    let t = Test::new().agent(
        "placed",
        r#"state="$AGENT_OFFLOAD_RUN_DIR/../.."
touch "$state/here-$$"
while [ "$(ls "$state" | grep -c '^here-')" -lt 2 ]; do sleep 0.05; done
tmux display-message -p -t "$TMUX_PANE" '#{pane_left} #{pane_top} #{window_id}' >"$state/place.tmp-$$"
mv "$state/place.tmp-$$" "$state/place-$$"
while [ "$(ls "$state" | grep -c '^place-')" -lt 2 ]; do sleep 0.05; done
publish placed"#,
    );
    let cfg = format!(
        "default_profile: p1\nprofiles:\n  p1: {{command: {0}}}\n  p2: {{command: {0}}}\n",
        t.agent_path("placed")
    );
    let t = t.config(&cfg);
    repo(&t);
    let server = TmuxServer::start(t.path(), &t.work());
    let out = t.in_tmux(&server).args(["-p", "p1", "-p", "p2", "x"]).run();
    out.status(0);
    let state = out.test.path().join("state/agent-offload");
    let places: Vec<(u32, u32, String)> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("place-").then(|| {
                let text = std::fs::read_to_string(e.path()).unwrap();
                let f: Vec<&str> = text.split_whitespace().collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(places.len(), 2);
    assert_eq!(places[0].2, places[1].2, "one window: {places:?}");
    assert!(places[0].0 > 0, "right of the caller: {places:?}");
    assert_eq!(places[0].0, places[1].0, "one column: {places:?}");
    assert_ne!(places[0].1, places[1].1, "stacked: {places:?}");
    assert_eq!(
        server.panes(),
        vec![server.caller.clone()],
        "both panes closed"
    );
}

#[test]
fn the_judge_judges_once_and_later_waits_read_its_verdict() {
    let t = setup("");
    repo(&t);
    open_gate(&t);
    let out = t
        .args(["-p", "good", "-p", "slow", "--judge", "judge", "the task"])
        .run();
    out.status(0).stdout_contains("== judge (judge): picks ");
    let verdict = |text: &str| {
        text.lines()
            .skip_while(|l| !l.starts_with("== judge"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let first = verdict(&out.stdout());
    let fanouts = out.test.path().join("state/agent-offload/fanouts");
    let id = std::fs::read_dir(&fanouts)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    for _ in 0..2 {
        let waited = out.test.exec(["wait", &id]);
        assert_eq!(waited.status.code(), Some(0), "{waited:?}");
        assert_eq!(verdict(&String::from_utf8_lossy(&waited.stdout)), first);
    }
    let judge_runs = out
        .test
        .run_dirs()
        .iter()
        .filter(|d| {
            std::fs::read_to_string(d.join("run.json"))
                .unwrap()
                .contains("\"profile\": \"judge\"")
        })
        .count();
    assert_eq!(judge_runs, 1, "one judge run for the fan-out and two waits");
}

#[test]
fn discard_fanout_removes_what_was_taken_or_empty_and_names_the_rest() {
    let t = setup("");
    let repo = repo(&t);
    open_gate(&t);
    let out = t
        .args([
            "-p", "good", "-p", "slow", "--judge", "judge", "--json", "the task",
        ])
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let all = v.as_array().unwrap();
    let fanout = all[0]["fanout"].as_str().unwrap().to_owned();
    let id = |i: usize| all[i]["id"].as_str().unwrap().to_owned();
    let path = |i: usize| PathBuf::from(all[i]["worktree"]["path"].as_str().unwrap());
    let t = out.test;
    let applied = t.exec(["apply", &id(0)]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");

    // good's was applied, the judge changed nothing: both go; slow's is kept and named.
    let refused = t.exec(["discard", &fanout]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        !path(0).exists(),
        "the applied candidate's worktree is removed: {stderr}"
    );
    assert!(
        stderr.contains(&format!("discarded run {}", id(0))),
        "{stderr}"
    );
    assert!(path(1).is_dir(), "work not taken stays: {stderr}");
    assert!(
        stderr.contains(&format!(
            "run {} has work that was neither applied nor merged",
            id(1)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("kept 1 of fan-out {fanout}")),
        "{stderr}"
    );

    let forced = t.exec(["discard", &fanout, "--force"]);
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert_eq!(forced.status.code(), Some(0), "{stderr}");
    assert!(!path(1).exists(), "{stderr}");
    let branches = git(&repo, &["branch", "--list", "agent-offload/*"]);
    assert!(branches.trim().is_empty(), "no branch left: {branches}");
    // Nothing left: a second discard has nothing to do and says so.
    let again = t.exec(["discard", &fanout]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
}

#[test]
fn discard_fanout_never_removes_a_live_candidate() {
    let (out, fanout) = detached_good_and_slow();
    let t = out.test;
    let forced = t.exec(["discard", &fanout, "--force"]);
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert_eq!(forced.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is still running"), "{stderr}");
    open_gate(&t);
    let waited = t.exec(["wait", &fanout]);
    assert_eq!(waited.status.code(), Some(0), "{waited:?}");
    let text = String::from_utf8_lossy(&waited.stdout);
    assert!(
        text.contains("slow did it"),
        "the live candidate finished its work: {text}"
    );
}

/// The fan-out's id: the one directory under `fanouts/`.
fn only_fanout(t: &Test) -> String {
    let fanouts = t.path().join("state/agent-offload/fanouts");
    let mut ids: Vec<String> = std::fs::read_dir(&fanouts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.remove(0)
}

/// slow, then good once slow has ended (one at a time), the fan-out detaching after
/// 300 ms: while slow waits for its gate, good waits in the queue.
const QUEUED: &[&str] = &[
    "-p",
    "slow",
    "-p",
    "good",
    "--max-parallel",
    "1",
    "--detach-after",
    "300ms",
    "the task",
];

/// Starts the [`QUEUED`] fan-out, which detaches (exit 75); its id.
fn detach_queued(t: &Test) -> String {
    let out = t.exec(QUEUED);
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    only_fanout(t)
}

fn agents_log(t: &Test) -> String {
    std::fs::read_to_string(t.path().join("state/agent-offload/fanout-test.log"))
        .unwrap_or_default()
}

#[test]
fn detach_after_detaches_the_fan_out_as_a_whole_and_the_queue_keeps_its_limit() {
    let t = setup("");
    repo(&t);
    let t = t.args(QUEUED);
    let started = std::time::Instant::now();
    let out = crate::harness::wait_bounded(t.spawn(), Duration::from_secs(30));
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = only_fanout(&t);
    assert_eq!(stdout, format!("still running: agent-offload wait {id}\n"));
    // Detached once, while slow holds the only place (on a loaded machine, maybe before
    // its agent began): good is still queued.
    let log = agents_log(&t);
    assert!(
        log.is_empty() || log == "start slow\n",
        "after {took:?}: {log}"
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            t.path()
                .join(format!("state/agent-offload/fanouts/{id}/fanout.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record["progress"][1], "queued", "{record}");
    eventually(Duration::from_secs(20), "slow to start", || {
        agents_log(&t) == "start slow\n"
    });
    open_gate(&t);
    let waited = t.exec(["wait", &id]);
    let text = String::from_utf8_lossy(&waited.stdout);
    assert_eq!(waited.status.code(), Some(0), "{text}");
    assert_eq!(
        agents_log(&t),
        "start slow\nend slow\nstart good\nend good\n",
        "one at a time after the detach too"
    );
    for p in ["slow", "good"] {
        let row = text.lines().find(|l| l.starts_with(&format!("{p} ")));
        assert!(row.is_some_and(|r| r.contains(" done ")), "{p}: {text}");
    }
    assert!(
        text.contains("slow did it") && text.contains("good did it"),
        "{text}"
    );
}

#[test]
fn a_sigkill_to_the_fan_out_command_does_not_lose_its_queue() {
    let t = setup("");
    repo(&t);
    let t = t.args([
        "-p",
        "slow",
        "-p",
        "good",
        "--max-parallel",
        "1",
        "--detach-after",
        "10m",
        "the task",
    ]);
    let child = t.spawn();
    eventually(Duration::from_secs(20), "slow to start", || {
        agents_log(&t) == "start slow\n"
    });
    send_signal(child.id(), "KILL");
    let killed = crate::harness::wait_bounded(child, Duration::from_secs(10));
    assert_eq!(killed.status.code(), None, "{killed:?}");
    open_gate(&t);
    let id = only_fanout(&t);
    let waited = t.exec(["wait", &id, "--json"]);
    assert_eq!(waited.status.code(), Some(0), "{waited:?}");
    let v: serde_json::Value = serde_json::from_slice(&waited.stdout).unwrap();
    let statuses: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "done"], "{v}");
    assert_eq!(
        agents_log(&t),
        "start slow\nend slow\nstart good\nend good\n",
        "the queued candidate started once slow ended"
    );
}

#[test]
fn a_profiles_detach_after_does_not_detach_a_fan_out_candidate() {
    // `lingers` outlasts its profile's detach_after: a run of its own would detach.
    let t = setup("").agent("lingers", "sleep 1\npublish 'lingered'");
    let cfg = std::fs::read_to_string(t.config_path()).unwrap().replace(
        "\nprofiles:\n",
        &format!(
            "\nprofiles:\n  lingers: {{command: {}, headless: true, detach_after: 300ms}}\n",
            t.agent_path("lingers")
        ),
    );
    let t = t.config(&cfg);
    repo(&t);
    let out = t.args(["-p", "lingers", "-p", "good", "the task"]).run();
    out.status(0);
    let stdout = out.stdout();
    let row = stdout.lines().find(|l| l.starts_with("lingers ")).unwrap();
    assert!(row.contains(" done "), "{stdout}");
    assert!(stdout.contains("lingered"), "{stdout}");
}

#[test]
fn term_to_a_detached_fan_outs_keeper_cancels_its_candidates_and_its_queue() {
    let t = setup("");
    repo(&t);
    let out = t.args(QUEUED).run();
    out.status(75);
    let t = out.test;
    let id = only_fanout(&t);
    let record_path = t
        .path()
        .join(format!("state/agent-offload/fanouts/{id}/fanout.json"));
    // Once slow's agent works (the keeper has started it): good waits in the queue.
    eventually(Duration::from_secs(20), "slow to start", || {
        agents_log(&t) == "start slow\n"
    });
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    let keeper = u32::try_from(record["keeper"]["pid"].as_i64().unwrap()).unwrap();
    send_signal(keeper, "TERM");
    let waited = t.exec(["wait", &id, "--json"]);
    assert_eq!(waited.status.code(), Some(143), "{waited:?}");
    let v: serde_json::Value = serde_json::from_slice(&waited.stdout).unwrap_or_default();
    assert!(!crate::harness::pid_alive(keeper), "the keeper ended");
    assert_eq!(agents_log(&t), "start slow\n", "good never started: {v}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(
        record["progress"],
        serde_json::json!(["ended", "not_started"]),
        "{record}"
    );
    let dirs = t.run_dirs();
    assert_eq!(dirs.len(), 1, "one candidate's run");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("run.json")).unwrap()).unwrap();
    assert_eq!(m["status"], "cancelled", "{m}");
}

#[test]
fn a_killed_keeper_is_replaced_by_the_next_wait_and_its_queue_goes_on() {
    let t = setup("");
    repo(&t);
    let id = detach_queued(&t);
    let fanout = t.path().join(format!("state/agent-offload/fanouts/{id}"));
    let keeper_pid = || {
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fanout.join("fanout.json")).unwrap())
                .unwrap();
        u32::try_from(record["keeper"]["pid"].as_i64().unwrap()).unwrap()
    };
    // Once slow works and has named its run: good waits in the queue.
    eventually(Duration::from_secs(20), "slow to start", || {
        agents_log(&t) == "start slow\n" && fanout.join("slot-0").exists()
    });
    let keeper = keeper_pid();
    send_signal(keeper, "KILL");
    eventually(Duration::from_secs(10), "the keeper to end", || {
        !crate::harness::pid_alive(keeper)
    });
    // The wait starts a new keeper; slow still holds its place in the new one's queue.
    let t = t.args(["wait", &id]);
    let child = t.spawn();
    eventually(Duration::from_secs(20), "a new keeper", || {
        keeper_pid() != keeper
    });
    open_gate(&t);
    let waited = crate::harness::wait_bounded(child, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&waited.stdout);
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(waited.status.code(), Some(0), "{text}\n{stderr}");
    assert!(stderr.contains("keeper is gone"), "{stderr}");
    assert_eq!(
        agents_log(&t),
        "start slow\nend slow\nstart good\nend good\n",
        "the new keeper kept the limit and started good once slow ended"
    );
    let log = std::fs::read_to_string(fanout.join("keeper.log")).unwrap();
    assert!(
        log.contains("slow done") && !log.contains("error"),
        "the new keeper waited for slow's run: {log}"
    );
    for p in ["slow", "good"] {
        let row = text.lines().find(|l| l.starts_with(&format!("{p} ")));
        assert!(row.is_some_and(|r| r.contains(" done ")), "{p}: {text}");
    }
}

#[test]
fn wait_fanout_detaches_again_or_stops_the_fan_out_at_its_timeout() {
    let t = setup("");
    repo(&t);
    let id = detach_queued(&t);
    eventually(Duration::from_secs(20), "slow to start", || {
        agents_log(&t) == "start slow\n"
    });
    let again = t.exec(["wait", &id, "--detach-after", "300ms"]);
    assert_eq!(again.status.code(), Some(75), "{again:?}");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("still running: agent-offload wait {id}\n")
    );
    let stopped = t.exec(["wait", &id, "--timeout", "300ms"]);
    let text = String::from_utf8_lossy(&stopped.stdout);
    assert_eq!(stopped.status.code(), Some(124), "{stopped:?}");
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("--timeout 300ms passed"),
        "{stopped:?}"
    );
    let row = |p: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("no row for {p}: {text}"))
            .to_owned()
    };
    assert!(row("slow").contains(" cancelled "), "{text}");
    assert!(row("good").contains(" not started "), "{text}");
    assert_eq!(agents_log(&t), "start slow\n", "good never started");
}
