//! Headless mode end to end.

use crate::harness::Test;

fn headless_profile(t: &Test, agent: &str) -> String {
    format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path(agent)
    )
}

#[test]
fn publishes_summary_and_exits_zero() {
    let t = Test::new().agent("fake", "echo working; publish 'all done'");
    let cfg = headless_profile(&t, "fake");
    let out = t.config(&cfg).arg("do the thing").run();
    out.status(0).stdout_is("all done\n");
    let m = out.manifest();
    assert_eq!(m["status"], "done");
    assert_eq!(m["exit_code"], 0);
    assert_eq!(m["mode"], "headless");
    let log = std::fs::read_to_string(out.run_dir().join("output.log")).unwrap();
    assert_eq!(log, "working\n");
}
