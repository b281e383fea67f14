//! The process-table helpers really look: a process they are asked about is found while
//! it runs and not after, so that "no process survives" can only pass by looking.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{
    eventually, parse_ps_output, pid_alive, process, process_running, processes, processes_with,
    processes_with_env, still_alive, unique,
};

#[test]
fn a_running_child_is_seen_and_a_reaped_one_is_not() {
    let marker = format!("1000.{}", unique());
    let env_marker = format!("AO_PROCESS_TABLE_TEST={}", unique());
    let (name, value) = env_marker.split_once('=').unwrap();
    let mut child = Command::new("sleep")
        .arg(&marker)
        .env(name, value)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let needle = format!("sleep {marker}");

    // exec has replaced the forked test process once the command line is sleep's.
    eventually(Duration::from_secs(10), "the sleep to be seen", || {
        process_running(&needle)
    });
    assert!(pid_alive(pid), "pid {pid} is alive");
    let row = process(pid).expect("the child's row");
    assert_eq!(row.ppid, std::process::id(), "{row:?}");
    assert_eq!(row.args, needle, "{row:?}");
    assert!(!row.zombie(), "{row:?}");
    assert!(still_alive(pid, &row.start), "{row:?}");
    assert!(!still_alive(pid, "Thu Jan  1 00:00:00 1970"), "{row:?}");
    assert_eq!(
        processes_with(marker.as_bytes()),
        vec![(pid.to_string(), needle.clone())]
    );
    let with_env = processes_with_env();
    let (p, env) = with_env
        .iter()
        .find(|(p, _)| p.pid == pid)
        .expect("the child in the table with environments");
    assert_eq!(p.args, needle, "the command line without the environment");
    // macOS shows no environment for its hardened-runtime binaries, /bin/sleep among
    // them.
    if cfg!(target_os = "linux") {
        assert!(
            format!(" {env} ").contains(&format!(" {env_marker} ")),
            "{env_marker} in {env:?}"
        );
    }

    child.kill().expect("kill sleep");
    // Killed, not yet reaped: a zombie, in the table but not alive.
    eventually(Duration::from_secs(10), "the sleep to be a zombie", || {
        process(pid).is_some_and(|p| p.zombie())
    });
    assert!(!pid_alive(pid));
    assert!(!process_running(&needle));
    assert!(processes_with(marker.as_bytes()).is_empty());
    assert!(!still_alive(pid, &row.start));

    child.wait().expect("reap sleep");
    assert!(!pid_alive(pid));
    assert!(!process_running(&needle));
    assert!(!still_alive(pid, &row.start));
    assert!(
        !processes()
            .iter()
            .any(|p| p.pid == pid && p.start == row.start),
        "the reaped child is gone from the table"
    );
}

#[test]
fn the_table_holds_this_test() {
    let table = processes();
    let me = table
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("this test in the table");
    assert!(!me.zombie());
    assert!(!me.start.is_empty());
}

#[test]
fn rows_from_procps_and_bsd_ps_parse() {
    let text = "    1     0 Ss   Mon Nov 30 18:11:04 2026 /sbin/init splash\n\
                \x20 812   1 S<l  Tue Dec  1 09:05:59 2026 /usr/bin/tmux -S /tmp/a b/tmux.sock\n\
                \x20 999 812 Z    Tue Dec  1 09:06:00 2026 [sleep] <defunct>\n\
                \x201000 812 S+   Tue Dec  1 09:06:00 2026 sh -c echo one\n\
                two\n\
                \x201001 812 R    Tue Dec  1 09:06:01 2026 \n";
    let rows = parse_ps_output(text);
    let got: Vec<_> = rows
        .iter()
        .map(|p| {
            (
                p.pid,
                p.ppid,
                p.stat.as_str(),
                p.start.as_str(),
                p.args.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 0, "Ss", "Mon Nov 30 18:11:04 2026", "/sbin/init splash"),
            (
                812,
                1,
                "S<l",
                "Tue Dec 1 09:05:59 2026",
                "/usr/bin/tmux -S /tmp/a b/tmux.sock"
            ),
            (
                999,
                812,
                "Z",
                "Tue Dec 1 09:06:00 2026",
                "[sleep] <defunct>"
            ),
            (
                1000,
                812,
                "S+",
                "Tue Dec 1 09:06:00 2026",
                "sh -c echo one two"
            ),
            (1001, 812, "R", "Tue Dec 1 09:06:01 2026", ""),
        ]
    );
    assert!(rows[2].zombie() && !rows[0].zombie());
}

#[test]
#[should_panic(expected = "cannot read the process table")]
fn output_that_is_not_a_table_panics() {
    parse_ps_output("ps: illegal option -- w\n");
}
