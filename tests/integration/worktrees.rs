//! `--worktree` runs and getting their work back (`apply`, `merge`, `discard`, `prune`),
//! in real git repositories, with fake agents that edit files and commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{Test, git, init_repo};
use crate::tmux_server::TmuxServer;

/// What a person would look at to see that their checkout is untouched: HEAD, the
/// branch, the index, the working tree (content of changed and untracked files), and
/// the stash.
pub(crate) fn checkout_state(repo: &Path) -> String {
    let mut state = git(repo, &["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"]);
    state += &git(
        repo,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    );
    state += &git(repo, &["diff", "--cached", "--binary"]);
    state += &git(repo, &["diff", "--binary"]);
    state += &git(repo, &["stash", "list", "--format=%H %s"]);
    for f in git(repo, &["ls-files", "-o", "--exclude-standard"]).lines() {
        state += &std::fs::read_to_string(repo.join(f)).unwrap_or_default();
    }
    state
}

/// A repository at the test's work directory: `a.txt` (ten lines), `b.txt`, `gone.txt`,
/// a `.gitignore`, one commit, the identity set in its config (the fake agents commit).
/// The config of a headless fake agent named `agent` that resumes with `--resume ID`.
pub(crate) fn with_resume_config(t: Test) -> Test {
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n    resume_args: \
         [\"--resume\", \"{{session_id}}\"]\n",
        t.agent_path("agent")
    );
    t.config(&cfg)
}

pub(crate) fn repo(t: &Test) -> PathBuf {
    let repo = init_repo(&t.work());
    let lines: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    let lines = lines.join("\n") + "\n";
    std::fs::write(repo.join("a.txt"), lines).unwrap();
    std::fs::write(repo.join("b.txt"), "b\n").unwrap();
    std::fs::write(repo.join("gone.txt"), "to be removed\n").unwrap();
    std::fs::write(repo.join(".gitignore"), ".env\nbig/\n*.log\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "start"]);
    repo
}

/// A test whose profile `fake` runs `body` headless.
pub(crate) fn setup(body: &str) -> Test {
    let t = Test::new().agent("agent", body);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("agent")
    );
    t.config(&cfg)
}

/// The agent of most tests: changes line 2 of a.txt, adds new.txt, removes gone.txt,
/// commits the removal, and records where it ran and how git saw its worktree.
const EDITING_AGENT: &str = r#"
pwd >"$AGENT_OFFLOAD_RUN_DIR/agent-cwd"
git worktree list --porcelain >"$AGENT_OFFLOAD_RUN_DIR/worktrees-while-running"
sed 's/^line 2$/line 2 by the agent/' a.txt >a.tmp && mv a.tmp a.txt
echo "new file" >new.txt
git rm -q gone.txt && git commit -qm "agent: remove gone.txt"
publish "edited"
"#;

/// A repository, and a finished `--worktree` run of [`EDITING_AGENT`] in it.
fn edited_run() -> (Test, PathBuf) {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    let out = t.args(["--worktree", "do it"]).run();
    out.status(0);
    (out.test, repo)
}

/// Sets line `n` (from 1) of the file at `path`.
pub(crate) fn set_line(path: &Path, n: usize, text: &str) {
    let mut lines = lines_of(path);
    text.clone_into(&mut lines[n - 1]);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

pub(crate) fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_worktree_run_leaves_the_checkout_untouched_and_records_its_worktree() {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    // Staged, unstaged, untracked and stashed work of the user's own.
    std::fs::write(repo.join("b.txt"), "b\nstaged\n").unwrap();
    git(&repo, &["add", "b.txt"]);
    std::fs::write(repo.join("b.txt"), "b\nstaged\nunstaged\n").unwrap();
    std::fs::write(repo.join("a.txt"), "stashed\n").unwrap();
    git(&repo, &["stash", "push", "-q", "--", "a.txt"]);
    std::fs::write(repo.join("mine.txt"), "untracked\n").unwrap();
    let before = checkout_state(&repo);
    let head = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();

    let out = t.args(["--worktree", "--json", "do it"]).run();
    out.status(0);
    assert_eq!(
        checkout_state(&repo),
        before,
        "the user's checkout is untouched"
    );

    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let id = v["id"].as_str().unwrap();
    let wt = &v["worktree"];
    let path = PathBuf::from(wt["path"].as_str().unwrap());
    assert_eq!(wt["branch"], format!("agent-offload/{id}"));
    assert_eq!(wt["base"], head.as_str());
    assert_eq!(wt["start"], "head");
    assert!(
        path.starts_with(out.test.path().join("state/agent-offload/worktrees")),
        "under the state directory, not the repository: {}",
        path.display()
    );
    let run_dir = out.run_dir();
    assert_eq!(
        std::fs::read_to_string(run_dir.join("agent-cwd"))
            .unwrap()
            .trim(),
        path.to_str().unwrap(),
        "the agent ran in the worktree"
    );
    let listed = std::fs::read_to_string(run_dir.join("worktrees-while-running")).unwrap();
    let entry = listed
        .split("\n\n")
        .find(|e| e.contains(path.to_str().unwrap()))
        .expect("git lists the worktree");
    assert!(
        entry.contains("\nlocked"),
        "locked while the run lives: {entry}"
    );
    let after = git(&repo, &["worktree", "list", "--porcelain"]);
    let entry = after
        .split("\n\n")
        .find(|e| e.contains(path.to_str().unwrap()))
        .expect("the worktree stays after the run");
    assert!(!entry.contains("locked"), "unlocked when it ends: {entry}");

    // The change list and the patch hold the whole work, the commit included.
    let files: Vec<&str> = v["changes"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["a.txt", "gone.txt", "new.txt"]);
    assert_eq!(
        v["changes"]["commits"][0]["summary"],
        "agent: remove gone.txt"
    );
    let patch = std::fs::read_to_string(wt["patch"].as_str().unwrap()).unwrap();
    assert!(patch.contains("+line 2 by the agent"), "{patch}");
    assert!(patch.contains("deleted file mode"), "{patch}");
    assert!(patch.contains("+new file"), "{patch}");
}

#[test]
fn dirty_carries_staged_unstaged_and_untracked_changes_and_worktreeinclude() {
    let t = setup(
        r#"
git status --porcelain=v1 --untracked-files=all >"$AGENT_OFFLOAD_RUN_DIR/status"
cat a.txt b.txt staged-new.txt mine.txt .env big/lib/x.js >"$AGENT_OFFLOAD_RUN_DIR/content" 2>&1
test -L big/lib && echo "big/lib is a link" >>"$AGENT_OFFLOAD_RUN_DIR/content"
test -e debug.log && echo "debug.log came over" >>"$AGENT_OFFLOAD_RUN_DIR/content"
publish "looked"
"#,
    );
    let repo = repo(&t);
    std::fs::write(repo.join("staged-new.txt"), "staged new\n").unwrap();
    git(&repo, &["add", "staged-new.txt"]);
    std::fs::write(repo.join("b.txt"), "b\nstaged\n").unwrap();
    git(&repo, &["add", "b.txt"]);
    std::fs::write(repo.join("b.txt"), "b\nstaged\nunstaged\n").unwrap();
    std::fs::write(repo.join("a.txt"), "a unstaged\n").unwrap();
    std::fs::remove_file(repo.join("gone.txt")).unwrap();
    std::fs::write(repo.join("mine.txt"), "untracked\n").unwrap();
    std::fs::write(repo.join("debug.log"), "ignored, not listed\n").unwrap();
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(repo.join("big/lib")).unwrap();
    std::fs::write(repo.join("big/lib/x.js"), "module\n").unwrap();
    std::fs::write(repo.join(".worktreeinclude"), ".env\n").unwrap();
    std::fs::write(repo.join(".worktreelink"), "big/\n").unwrap();
    let user_status = git(
        &repo,
        &["status", "--porcelain=v1", "--untracked-files=all"],
    );
    let before = checkout_state(&repo);

    let out = t.args(["--worktree=dirty", "--json", "look"]).run();
    out.status(0);
    assert_eq!(
        checkout_state(&repo),
        before,
        "the user's checkout is untouched"
    );
    let run_dir = out.run_dir();
    assert_eq!(
        std::fs::read_to_string(run_dir.join("status")).unwrap(),
        user_status,
        "the worktree shows the same staged, unstaged and untracked changes"
    );
    let content = std::fs::read_to_string(run_dir.join("content")).unwrap();
    assert_eq!(
        content,
        "a unstaged\nb\nstaged\nunstaged\nstaged new\nuntracked\nSECRET=1\nmodule\nbig/lib is a link\n",
        "every change carried; .env copied; big/ linked; an ignored file not listed stays"
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["worktree"]["start"], "dirty");
    assert_eq!(v["worktree"]["included"], serde_json::json!([".env"]));
    assert_eq!(v["worktree"]["linked"], serde_json::json!(["big"]));
    // Nothing the agent did: an empty change list (the carried changes are the base).
    assert_eq!(v["changes"]["files"], serde_json::json!([]));
}

#[test]
fn apply_merges_into_a_checkout_with_uncommitted_edits_to_the_same_file() {
    let (t, repo) = edited_run();
    // The user edits another line of the same file meanwhile, and stages a file.
    set_line(&repo.join("a.txt"), 9, "line 9 by the user");
    std::fs::write(repo.join("b.txt"), "b staged by the user\n").unwrap();
    git(&repo, &["add", "b.txt"]);
    let index_before = git(&repo, &["diff", "--cached"]);

    let applied = t.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    let a = lines_of(&repo.join("a.txt"));
    assert_eq!(a[1], "line 2 by the agent");
    assert_eq!(a[8], "line 9 by the user", "the user's edit stays");
    assert_eq!(
        std::fs::read_to_string(repo.join("new.txt")).unwrap(),
        "new file\n"
    );
    assert!(
        !repo.join("gone.txt").exists(),
        "the committed removal is applied"
    );
    assert_eq!(
        git(&repo, &["diff", "--cached"]),
        index_before,
        "the index as it was"
    );
    assert_eq!(
        git(&repo, &["log", "--format=%s"]),
        "start\n",
        "no commit is made in the checkout"
    );
    let shown = t.exec(["show", "last", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(v["worktree"]["applied"]["at"].is_string(), "{v}");
    // Applied work may be discarded without --force.
    let discarded = t.exec(["discard"]);
    assert_eq!(discarded.status.code(), Some(0), "{discarded:?}");
}

#[test]
fn apply_with_a_conflict_changes_nothing_or_leaves_markers_when_asked() {
    let (t, repo) = edited_run();
    set_line(&repo.join("a.txt"), 2, "line 2 by the user");
    let before = checkout_state(&repo);

    let refused = t.exec(["apply", "last"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("a.txt: 1 conflicting hunk"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(checkout_state(&repo), before, "everything as it was");
    assert!(
        !repo.join("new.txt").exists(),
        "not even the files without conflict"
    );

    let marked = t.exec(["apply", "last", "--conflicts=markers"]);
    assert_eq!(marked.status.code(), Some(1));
    let text = std::fs::read_to_string(repo.join("a.txt")).unwrap();
    assert!(
        text.contains(
            "<<<<<<< yours\nline 2 by the user\n=======\nline 2 by the agent\n>>>>>>> run "
        ),
        "{text}"
    );
    assert!(repo.join("new.txt").exists(), "the rest is applied");
}

#[test]
fn discard_refuses_work_not_taken_unless_forced() {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    let out = t.args(["--worktree", "--json", "do it"]).run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let path = PathBuf::from(v["worktree"]["path"].as_str().unwrap());
    let branch = v["worktree"]["branch"].as_str().unwrap().to_owned();
    let t = out.test;

    let refused = t.exec(["discard", "last"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("neither applied nor merged"), "{stderr}");
    assert!(stderr.contains("1 commit"), "{stderr}");
    assert!(path.is_dir(), "the worktree stays");
    assert!(!git(&repo, &["branch", "--list", &branch]).is_empty());

    let forced = t.exec(["discard", "last", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{forced:?}");
    assert!(!path.exists(), "the worktree is removed");
    assert!(
        git(&repo, &["branch", "--list", &branch]).is_empty(),
        "and its branch"
    );
    assert!(
        !git(&repo, &["worktree", "list"]).contains(path.to_str().unwrap()),
        "git no longer lists it"
    );
    let again = t.exec(["apply", "last"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a discarded run has nothing to apply"
    );
}

#[test]
fn merge_commits_the_uncommitted_work_on_the_branch_and_merges_it() {
    let (t, repo) = edited_run();
    let merged = t.exec(["merge"]);
    assert_eq!(merged.status.code(), Some(0), "{merged:?}");
    let log = git(&repo, &["log", "--format=%s"]);
    assert!(log.starts_with("agent-offload run "), "{log}");
    assert!(log.contains("agent: remove gone.txt\nstart"), "{log}");
    assert_eq!(
        git(&repo, &["status", "--porcelain"]),
        "",
        "nothing left uncommitted"
    );
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 by the agent");
    // Merged work may be discarded without --force; the checkout keeps it.
    let discarded = t.exec(["discard"]);
    assert_eq!(discarded.status.code(), Some(0), "{discarded:?}");
    assert!(repo.join("new.txt").is_file());
}

#[test]
fn a_dirty_run_is_applied_not_merged() {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    std::fs::write(repo.join("b.txt"), "user's uncommitted\n").unwrap();
    let out = t.args(["--worktree=dirty", "do it"]).run();
    out.status(0);
    let refused = out.test.exec(["merge"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("agent-offload apply"));
    // Applied, the user's own uncommitted change is neither lost nor doubled.
    let applied = out.test.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(
        std::fs::read_to_string(repo.join("b.txt")).unwrap(),
        "user's uncommitted\n"
    );
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 by the agent");
}

#[test]
fn apply_reports_a_base_that_moved() {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    let out = t.args(["--worktree", "do it"]).run();
    out.status(0);
    std::fs::write(repo.join("b.txt"), "b\nmore\n").unwrap();
    git(&repo, &["commit", "-qam", "meanwhile"]);
    let shown = out.test.exec(["show", "last"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("base moved: HEAD is 1 commit past"), "{text}");
    let applied = out.test.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert!(String::from_utf8_lossy(&applied.stderr).contains("the base moved"));
    assert_eq!(
        std::fs::read_to_string(repo.join("b.txt")).unwrap(),
        "b\nmore\n"
    );
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 by the agent");
}

#[test]
fn prune_keeps_work_not_taken_and_reports_worktrees_removed_by_hand() {
    let t = setup(EDITING_AGENT);
    let repo = repo(&t);
    let first = t.args(["--worktree", "--json", "first"]).run();
    first.status(0);
    let v: serde_json::Value = serde_json::from_str(&first.stdout()).unwrap();
    let kept_path = PathBuf::from(v["worktree"]["path"].as_str().unwrap());
    let kept_id = v["id"].as_str().unwrap().to_owned();
    let t = first.test;

    // A second run whose work is applied, a third whose worktree is removed by hand
    // (after its work was applied: nothing of it is lost).
    let mut taken = Vec::new();
    for _ in 0..2 {
        let out = t.exec(["--worktree", "--json", "again"]);
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        git(&repo, &["checkout", "-q", "--", "."]);
        git(&repo, &["clean", "-qfd"]);
        let applied = t.exec(["apply", &id]);
        assert_eq!(applied.status.code(), Some(0), "{applied:?}");
        taken.push((id, PathBuf::from(v["worktree"]["path"].as_str().unwrap())));
    }
    std::fs::remove_dir_all(&taken[1].1).unwrap();

    let pruned = t.exec(["prune", "--older-than", "1ms"]);
    assert_eq!(pruned.status.code(), Some(0), "{pruned:?}");
    let stdout = String::from_utf8_lossy(&pruned.stdout);
    assert!(stdout.contains(&format!("kept {kept_id}")), "{stdout}");
    assert!(stdout.contains("removed by hand"), "{stdout}");
    assert!(kept_path.is_dir(), "work not taken keeps its worktree");
    assert!(t.runs_root().join(&kept_id).is_dir(), "and its run");
    assert!(!taken[0].1.exists(), "applied work's worktree is removed");
    assert!(!t.runs_root().join(&taken[0].0).exists());
    assert!(!t.runs_root().join(&taken[1].0).exists());
    let branches = git(&repo, &["branch", "--list", "agent-offload/*"]);
    assert_eq!(
        branches.lines().count(),
        1,
        "only the kept run's branch: {branches}"
    );
}

#[test]
fn worktree_outside_a_repository_is_a_usage_error_and_starts_nothing() {
    let t = setup("publish never");
    let out = t.args(["--worktree", "do it"]).run();
    out.status(2).stderr_contains("not in a git repository");
    assert!(out.test.run_dirs().is_empty(), "no run directory");
}

#[test]
fn the_config_asks_for_a_worktree_and_no_worktree_overrides_it() {
    let t = Test::new().agent(
        "agent",
        "pwd >\"$AGENT_OFFLOAD_RUN_DIR/agent-cwd\"; publish ok",
    );
    let cfg = format!(
        "worktree: true\ndefault_profile: fake\nprofiles:\n  fake:\n    command: {}\n    headless: true\n  \
         plain:\n    command: {0}\n    headless: true\n    worktree: false\n",
        t.agent_path("agent")
    );
    let t = t.config(&cfg);
    let repo = repo(&t);
    let out = t.args(["-p", "fake", "x"]).run();
    out.status(0);
    let cwd = std::fs::read_to_string(out.run_dir().join("agent-cwd")).unwrap();
    assert!(cwd.contains("/worktrees/"), "{cwd}");
    let plain = out.test.exec(["-p", "plain", "x"]);
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    let flag = out.test.exec(["--no-worktree", "-p", "fake", "x"]);
    assert_eq!(flag.status.code(), Some(0));
    let dirs = out.test.run_dirs();
    for dir in &dirs[1..] {
        let cwd = std::fs::read_to_string(dir.join("agent-cwd")).unwrap();
        assert_eq!(cwd.trim(), repo.to_str().unwrap());
    }
}

#[test]
fn a_worktree_run_in_a_pane_works_in_the_worktree() {
    let t = Test::new().agent("agent", EDITING_AGENT);
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n",
        t.agent_path("agent")
    );
    let t = t.config(&cfg);
    let repo = repo(&t);
    let server = TmuxServer::start(t.path(), &t.work());
    let before = checkout_state(&repo);
    let out = t
        .in_tmux(&server)
        .args(["--worktree", "--json", "do it"])
        .run();
    out.status(0);
    assert_eq!(checkout_state(&repo), before);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["mode"], "tmux");
    let cwd = std::fs::read_to_string(out.run_dir().join("agent-cwd")).unwrap();
    assert_eq!(cwd.trim(), v["worktree"]["path"].as_str().unwrap());
    assert_eq!(
        server.panes(),
        vec![server.caller.clone()],
        "the pane is closed"
    );
    let applied = out.test.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 by the agent");
}

#[test]
fn a_continued_run_works_on_in_the_same_worktree_and_apply_takes_both() {
    let t = Test::new().agent(
        "agent",
        r#"
echo session-1 >"$AGENT_OFFLOAD_RUN_DIR/session_id"
pwd >"$AGENT_OFFLOAD_RUN_DIR/agent-cwd"
case "$*" in
  *--resume*) echo "second step" >second.txt ;;
  *) echo "first step" >first.txt ;;
esac
publish "step done"
"#,
    );
    let t = with_resume_config(t);
    let repo = repo(&t);
    let first = t.args(["--worktree", "one"]).run();
    first.status(0);
    let t = first.test;
    let second = t.exec(["continue", "last", "two"]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let dirs = t.run_dirs();
    let cwd = |d: &Path| std::fs::read_to_string(d.join("agent-cwd")).unwrap();
    assert_eq!(cwd(&dirs[0]), cwd(&dirs[1]), "the same worktree");
    assert!(cwd(&dirs[1]).contains("/worktrees/"));
    let applied = t.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert!(repo.join("first.txt").is_file() && repo.join("second.txt").is_file());
    let first_id = dirs[0].file_name().unwrap().to_str().unwrap();
    let shown = t.exec(["show", first_id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(
        v["worktree"]["applied"]["at"].is_string(),
        "both runs say so: {v}"
    );
    // Either run names the worktree; once applied, it may go.
    let discarded = t.exec(["discard"]);
    assert_eq!(discarded.status.code(), Some(0), "{discarded:?}");
}

/// `runs` names where a `--worktree` run was started (its repository, not the
/// worktree the agent works in), and its table fits the width it is given: the
/// terminal's, else `$COLUMNS`, else 120 columns (issue 21: the worktree's path and
/// the summary made it 170 wide).
#[test]
fn runs_shows_the_repository_and_fits_the_width() {
    let t =
        setup("publish 'Implemented the whole parser, with a test for every rule of the grammar'");
    let repo = repo(&t);
    let out = t.args(["--worktree", "do it"]).run();
    out.status(0);
    let worktree = out.manifest()["worktree"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let repo = repo.display().to_string();
    let mut t = out.test;
    // 120 (no $COLUMNS, not a terminal), then as $COLUMNS says.
    for width in [120, 140, 115] {
        if width != 120 {
            t = t.env("COLUMNS", width.to_string());
        }
        let table = String::from_utf8(t.exec(["runs"]).stdout).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        if width == 140 {
            assert!(
                lines[1].contains(&format!("{repo}  Implemented")),
                "{table}"
            );
        } else {
            // Narrower: the summary is cut to its minimum, then the path from its start.
            assert!(lines[1].contains("/work  Implemented"), "{table}");
        }
        assert!(!lines[1].contains(&worktree), "{table}");
        assert!(lines[1].contains("Implemented"), "{table}");
        for l in &lines {
            let n = l.chars().count();
            assert!(n <= width, "{n} > {width}:\n{table}");
        }
    }
}

/// What a failed start must not leave: the run directories, git's worktrees beside the
/// checkout, and the branches and refs of ours.
fn assert_nothing_started(t: &Test, repo: &Path) {
    assert!(t.run_dirs().is_empty(), "no run directory");
    assert_eq!(
        git(repo, &["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1,
        "no worktree"
    );
    assert_eq!(
        git(
            repo,
            &[
                "for-each-ref",
                "refs/heads/agent-offload",
                "refs/agent-offload"
            ]
        ),
        "",
        "no branch or ref"
    );
}

#[test]
fn worktree_from_a_directory_head_lacks_is_a_usage_error_and_starts_nothing() {
    let t = setup("pwd >\"$AGENT_OFFLOAD_RUN_DIR/agent-cwd\"; publish ok");
    let repo = repo(&t);
    let fresh = repo.join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join("untracked.txt"), "not committed\n").unwrap();
    let t = t.cwd(&fresh);
    let out = t.args(["--worktree", "do it"]).run();
    out.status(2)
        .stderr_contains(&format!("--worktree: {} is not in HEAD", fresh.display()));
    assert_nothing_started(&out.test, &repo);

    // An empty directory is in no tree git makes, dirty or not.
    let empty = repo.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let refused = out.test.exec_in(&empty, ["--worktree=dirty", "do it"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "--worktree=dirty: {} has no file git would carry",
            empty.display()
        )),
        "{stderr}"
    );
    assert_nothing_started(&out.test, &repo);

    // An ignored directory no .worktreeinclude brings: found once the worktree is
    // made, and all of it removed again.
    let ignored = repo.join("big/lib");
    std::fs::create_dir_all(&ignored).unwrap();
    std::fs::write(ignored.join("x.js"), "module\n").unwrap();
    let refused = out.test.exec_in(&ignored, ["--worktree", "do it"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "--worktree: {} is ignored by git and neither .worktreeinclude nor",
            ignored.display()
        )),
        "{stderr}"
    );
    assert_nothing_started(&out.test, &repo);

    // dirty carries the untracked file, and so the directory.
    let dirty = out.test.exec_in(&fresh, ["--worktree=dirty", "do it"]);
    assert_eq!(dirty.status.code(), Some(0), "{dirty:?}");
    let dirs = out.test.run_dirs();
    let cwd = std::fs::read_to_string(dirs[0].join("agent-cwd")).unwrap();
    assert!(cwd.trim().ends_with("/fresh"), "{cwd}");
}

/// A profile `fake` whose agent reports a session and resumes it: the first run writes
/// `first.txt`; a resumed one says it started (`started` in its run directory), waits
/// for `release` in the test directory (bounded), then writes `second.txt`.
fn resumable() -> Test {
    let t = Test::new();
    let release = t.path().join("release");
    let t = t.agent(
        "agent",
        &format!(
            r#"
echo session-1 >"$AGENT_OFFLOAD_RUN_DIR/session_id"
case "$*" in
  *--resume*)
    : >"$AGENT_OFFLOAD_RUN_DIR/started"
    i=0
    while [ ! -e {release} ] && [ "$i" -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
    echo "second step" >second.txt ;;
  *) echo "first step" >first.txt ;;
esac
publish "step done"
"#,
            release = release.display()
        ),
    );
    with_resume_config(t)
}

#[test]
fn a_worktree_is_guarded_while_any_of_its_runs_is_live() {
    let t = resumable();
    let repo = repo(&t);
    let first = t.exec(["--worktree", "--json", "one"]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let parent = v["id"].as_str().unwrap().to_owned();
    let path = PathBuf::from(v["worktree"]["path"].as_str().unwrap());
    // The parent's work is taken: discard would need no --force.
    let applied = t.exec(["apply", &parent]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");

    let t = t.args(["continue", &parent, "two"]);
    let mut child = t.spawn();
    crate::harness::eventually(Duration::from_secs(30), "the continuation to start", || {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the continuation ended first ({status}): {stderr}");
        }
        t.run_dirs().iter().any(|d| d.join("started").exists())
    });
    let live = t.run_dirs()[1]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let refused = |args: &[&str], what: &str| {
        let out = t.exec(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        assert!(
            stderr.contains(&format!("run {live} is working in")),
            "{what}: {stderr}"
        );
    };
    refused(&["discard", &parent], "discard");
    refused(&["discard", &parent, "--force"], "discard --force");
    refused(&["continue", &parent, "three"], "a second continue");
    refused(&["apply", &parent], "apply");
    refused(&["merge", &parent], "merge");
    assert_eq!(t.run_dirs().len(), 2, "no third run was started");
    let pruned = t.exec(["prune", "--older-than", "1ms"]);
    assert_eq!(pruned.status.code(), Some(0), "{pruned:?}");
    assert!(
        path.is_dir(),
        "the worktree stays while its run works in it"
    );

    std::fs::write(t.path().join("release"), "").unwrap();
    let out = crate::harness::wait_bounded(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        path.join("second.txt").is_file(),
        "the continuation's work is there"
    );
    // Ended, the worktree may be taken again.
    let applied = t.exec(["apply", &live]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert!(repo.join("second.txt").is_file());
}

#[test]
fn of_two_continues_at_once_one_starts_in_the_worktree() {
    let t = resumable();
    let _repo = repo(&t);
    let first = t.exec(["--worktree", "--json", "one"]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let parent = v["id"].as_str().unwrap().to_owned();
    let t = t.args(["continue", &parent, "two"]);
    let mut children = [t.spawn(), t.spawn()];
    let mut ended = None;
    crate::harness::eventually(Duration::from_secs(30), "one of them to end", || {
        ended = children
            .iter_mut()
            .position(|c| c.try_wait().unwrap().is_some());
        ended.is_some()
    });
    let [a, b] = children;
    let (loser, winner) = if ended == Some(0) { (a, b) } else { (b, a) };
    let lost = crate::harness::wait_bounded(loser, Duration::from_secs(5));
    assert_eq!(lost.status.code(), Some(2), "{lost:?}");
    assert!(
        String::from_utf8_lossy(&lost.stderr).contains("is working in"),
        "{lost:?}"
    );
    std::fs::write(t.path().join("release"), "").unwrap();
    let won = crate::harness::wait_bounded(winner, Duration::from_secs(60));
    assert_eq!(won.status.code(), Some(0), "{won:?}");
    assert_eq!(t.run_dirs().len(), 2, "one continuation started, not two");
}

#[test]
fn prune_older_than_zero_prunes_every_finished_run() {
    let t = Test::new().agent("fake", "publish 'all done'");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let out = t.config(&cfg).args(["--json", "do it"]).run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let t = out.test;
    let pruned = t.exec(["prune", "--older-than", "0s"]);
    assert_eq!(pruned.status.code(), Some(0), "{pruned:?}");
    assert!(!t.runs_root().join(&id).exists(), "{pruned:?}");
    // Other durations still refuse zero.
    let refused = t.exec(["--timeout", "0s", "do it"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("must be longer than zero"),
        "{refused:?}"
    );
}
