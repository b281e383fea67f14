//! `apply` of a `--worktree` run in the cases where it used to place only part of the
//! work, or the wrong thing: what it could not place is recorded (and `discard` keeps
//! it), ignored files brought by `.worktreeinclude`, names that are not UTF-8, git's
//! content filters, a second apply, a directory that becomes a file, links of
//! `.worktreelink`, and apply from the wrong place.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::harness::{Test, git, init_repo};
use crate::worktrees::{lines_of, repo, set_line, setup};

/// A finished `--worktree` run of `body` in [`repo`]: the test, the repository, the
/// run's id and its worktree.
fn run_in_worktree(body: &str, prepare: impl FnOnce(&Path)) -> (Test, PathBuf, String, PathBuf) {
    let t = setup(body);
    let repo = repo(&t);
    prepare(&repo);
    let out = t.args(["--worktree", "--json", "do it"]).run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let path = PathBuf::from(v["worktree"]["path"].as_str().unwrap());
    (out.test, repo, id, path)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn markers_put_a_file_renamed_onto_an_existing_name_beside_it_and_discard_keeps_it() {
    let (t, repo, id, wt) = run_in_worktree(
        "git mv a.txt c.txt && echo 'by the run' >>c.txt\npublish renamed",
        |_| {},
    );
    std::fs::write(repo.join("c.txt"), "the user's own c\n").unwrap();

    let marked = t.exec(["apply", &id, "--conflicts=markers"]);
    assert_eq!(marked.status.code(), Some(1), "{marked:?}");
    let said = stderr(&marked);
    assert!(
        said.contains("c.txt: the run renamed a.txt to it, and it exists here"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("c.txt")).unwrap(),
        "the user's own c\n",
        "the user's file stays"
    );
    let mut run_version = lines_of(&repo.join("a.txt"));
    run_version.push("by the run".to_owned());
    assert_eq!(
        lines_of(&repo.join(format!("c.txt.run-{id}"))),
        run_version,
        "the run's version is beside it, as documented"
    );

    // The rename itself was not placed: discard keeps the worktree.
    let refused = t.exec(["discard", &id]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("not placed"),
        "{}",
        stderr(&refused)
    );
    assert!(wt.is_dir(), "the worktree stays");
}

#[test]
fn a_submodule_change_is_not_applied_and_discard_keeps_the_commit_made_in_it() {
    let (t, repo, id, wt) = run_in_worktree(
        r#"
sed 's/^line 2$/line 2 by the agent/' a.txt >a.tmp && mv a.tmp a.txt
mkdir sub && cd sub && git init -q && echo inside >f
git add f && git -c user.name=a -c user.email=a@example.com commit -qm "made inside"
publish done
"#,
        |_| {},
    );
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(1), "{applied:?}");
    let said = stderr(&applied);
    assert!(
        said.contains("sub: a submodule change, not applied"),
        "{said}"
    );
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 by the agent");

    let refused = t.exec(["discard", &id]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("not placed"),
        "{}",
        stderr(&refused)
    );
    assert!(wt.join("sub/.git").is_dir(), "the commit inside it is kept");
}

#[test]
fn an_edit_to_a_worktreeinclude_file_is_listed_guarded_and_applied() {
    let t = setup("echo NEW=2 >>.env\npublish 'set NEW'");
    let repo = repo(&t);
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::write(repo.join(".worktreeinclude"), ".env\n").unwrap();
    let out = t.args(["--worktree", "--json", "do it"]).run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let files: Vec<&str> = v["changes"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, [".env"], "the change list names it");
    let t = out.test;

    let refused = t.exec(["discard", &id]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");

    // The user changed another line meanwhile: merged three ways.
    std::fs::write(repo.join(".env"), "FIRST=0\nSECRET=1\n").unwrap();
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(
        std::fs::read_to_string(repo.join(".env")).unwrap(),
        "FIRST=0\nSECRET=1\nNEW=2\n"
    );
    assert_eq!(String::from_utf8_lossy(&applied.stdout), "written .env\n");
    let discarded = t.exec(["discard", &id]);
    assert_eq!(discarded.status.code(), Some(0), "{discarded:?}");
}

#[test]
fn names_that_are_not_utf8_are_applied_byte_for_byte() {
    let (t, repo, id, _) = run_in_worktree(
        "printf new >\"$(printf 'caf\\351.txt')\"\nrm \"$(printf 'old\\377.txt')\"\npublish done",
        |repo| {
            std::fs::write(repo.join(OsStr::from_bytes(b"old\xff.txt")), "old\n").unwrap();
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", "a name that is not UTF-8"]);
        },
    );
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(
        std::fs::read(repo.join(OsStr::from_bytes(b"caf\xe9.txt"))).unwrap(),
        b"new"
    );
    assert!(
        !repo.join(OsStr::from_bytes(b"old\xff.txt")).exists(),
        "the removal is applied"
    );
    let names: Vec<Vec<u8>> = std::fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.windows(3).any(|w| w == "\u{fffd}".as_bytes())),
        "no file under a replacement name: {names:?}"
    );
    let mut expected = b"written caf\xe9.txt\nremoved old\xff.txt\n".to_vec();
    let mut got = applied.stdout.clone();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected, "stdout names them as they are");
}

#[test]
fn apply_goes_through_the_content_filters_of_a_crlf_repository() {
    let (t, repo, id, _) = run_in_worktree(
        "printf 'b\\r\\nmore\\r\\n' >b.txt\nprintf 'one\\r\\n' >new.txt\npublish done",
        |repo| {
            std::fs::write(repo.join(".gitattributes"), "*.txt text eol=crlf\n").unwrap();
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", "crlf"]);
            // A clean checkout: the files as git writes them, with CRLF.
            git(repo, &["rm", "-rq", "--cached", "."]);
            for f in ["a.txt", "b.txt", "gone.txt"] {
                std::fs::remove_file(repo.join(f)).unwrap();
            }
            git(repo, &["reset", "-q", "--hard"]);
            assert_eq!(std::fs::read(repo.join("b.txt")).unwrap(), b"b\r\n");
        },
    );
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(std::fs::read(repo.join("b.txt")).unwrap(), b"b\r\nmore\r\n");
    assert_eq!(std::fs::read(repo.join("new.txt")).unwrap(), b"one\r\n");
    assert_eq!(
        git(&repo, &["diff", "--numstat"]),
        "1\t0\tb.txt\n",
        "one line added, no line ending changed"
    );
}

#[test]
fn apply_after_continue_applies_only_what_is_new() {
    let t = Test::new().agent(
        "agent",
        r#"
echo session-1 >"$AGENT_OFFLOAD_RUN_DIR/session_id"
case "$*" in
  *--resume*) sed 's/^line 2 v1$/line 2 v2/' a.txt >a.tmp && mv a.tmp a.txt ;;
  *) sed 's/^line 2$/line 2 v1/' a.txt >a.tmp && mv a.tmp a.txt ;;
esac
publish "step done"
"#,
    );
    let t = crate::worktrees::with_resume_config(t);
    let repo = repo(&t);
    let first = t.args(["--worktree", "one"]).run();
    first.status(0);
    let t = first.test;
    let applied = t.exec(["apply"]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(lines_of(&repo.join("a.txt"))[1], "line 2 v1");
    // The user edits another line of what was applied meanwhile.
    set_line(&repo.join("a.txt"), 9, "line 9 by the user");
    let second = t.exec(["continue", "last", "two"]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let again = t.exec(["apply"]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    let a = lines_of(&repo.join("a.txt"));
    assert_eq!(a[1], "line 2 v2");
    assert_eq!(a[8], "line 9 by the user");
}

#[test]
fn apply_turns_a_directory_into_a_file_and_a_file_into_a_directory() {
    let (t, repo, id, _) = run_in_worktree(
        "git rm -rq d && echo 'now a file' >d\nrm b.txt && mkdir b.txt && echo inner >b.txt/inner\npublish done",
        |repo| {
            std::fs::create_dir_all(repo.join("d/e")).unwrap();
            std::fs::write(repo.join("d/x.txt"), "x\n").unwrap();
            std::fs::write(repo.join("d/e/y.txt"), "y\n").unwrap();
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", "a directory"]);
        },
    );
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(
        std::fs::read_to_string(repo.join("d")).unwrap(),
        "now a file\n"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("b.txt/inner")).unwrap(),
        "inner\n"
    );
}

#[test]
fn a_directory_with_a_file_of_the_users_is_not_replaced_by_a_file() {
    let (t, repo, id, _) = run_in_worktree(
        "git rm -rq d && echo 'now a file' >d\npublish done",
        |repo| {
            std::fs::create_dir_all(repo.join("d")).unwrap();
            std::fs::write(repo.join("d/x.txt"), "x\n").unwrap();
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", "a directory"]);
        },
    );
    std::fs::write(repo.join("d/mine.txt"), "the user's\n").unwrap();
    let refused = t.exec(["apply", &id]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("d: here it is a directory"),
        "{}",
        stderr(&refused)
    );
    assert!(repo.join("d/x.txt").is_file() && repo.join("d/mine.txt").is_file());
}

#[test]
fn worktreelink_and_worktreeinclude_bring_only_ignored_files() {
    let (t, repo, id, wt) = run_in_worktree(
        "sed 's/^line 2$/line 2 by the agent/' a.txt >a.tmp && mv a.tmp a.txt\npublish done",
        |repo| {
            std::fs::create_dir_all(repo.join("vendor")).unwrap();
            std::fs::write(repo.join("vendor/lib.js"), "lib\n").unwrap();
            std::fs::write(repo.join("notes.txt"), "mine\n").unwrap();
            std::fs::write(repo.join(".worktreelink"), "vendor/\n").unwrap();
            std::fs::write(repo.join(".worktreeinclude"), "notes.txt\n").unwrap();
        },
    );
    assert!(
        !wt.join("vendor").exists(),
        "not linked: git does not ignore it"
    );
    assert!(!wt.join("notes.txt").exists(), "not copied either");
    let shown = t.exec(["show", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let files: Vec<&str> = v["changes"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["a.txt"], "no link is the run's change");
    let applied = t.exec(["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    assert_eq!(String::from_utf8_lossy(&applied.stdout), "written a.txt\n");
    assert!(repo.join("vendor/lib.js").is_file() && !repo.join("vendor").is_symlink());
}

#[test]
fn the_not_ignored_files_a_list_names_are_said_when_the_worktree_is_made() {
    let t = setup("publish done");
    let repo = repo(&t);
    std::fs::create_dir_all(repo.join("vendor")).unwrap();
    std::fs::write(repo.join("vendor/lib.js"), "lib\n").unwrap();
    std::fs::write(repo.join(".worktreelink"), "vendor/\n").unwrap();
    let out = t.args(["--worktree", "do it"]).run();
    out.status(0)
        .stderr_contains(".worktreelink: vendor is not ignored by git: not linked");
}

#[test]
fn apply_from_another_repository_or_outside_git_names_the_runs_repository() {
    let (t, repo, id, _) = run_in_worktree("echo x >new.txt\npublish done", |_| {});
    let other = t.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    init_repo(&other);
    std::fs::write(other.join("f"), "f\n").unwrap();
    git(&other, &["add", "-A"]);
    git(&other, &["commit", "-qm", "other"]);
    let from_other = t.exec_in(&other, ["apply", &id]);
    assert_eq!(from_other.status.code(), Some(2), "{from_other:?}");
    let said = stderr(&from_other);
    assert!(said.contains(&repo.display().to_string()), "{said}");
    assert!(
        !said.contains("commits past") && !said.contains("removed?"),
        "{said}"
    );
    assert!(!other.join("new.txt").exists());

    let nowhere = t.path().join("nowhere");
    std::fs::create_dir_all(&nowhere).unwrap();
    for args in [
        vec!["apply", id.as_str()],
        vec!["apply"],
        vec!["merge", id.as_str()],
    ] {
        let out = t.exec_in(&nowhere, &args);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let said = stderr(&out);
        assert!(said.contains("not in a git repository"), "{said}");
        if args.len() == 2 {
            assert!(said.contains(&repo.display().to_string()), "{said}");
        }
    }
}
