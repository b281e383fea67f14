//! `agent-offload apply | merge | discard [RUN]`: getting the work of a `--worktree` run
//! back into a checkout, or throwing it away. Each refuses rather than lose anything.

use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Env;
use crate::cli::{ApplyArgs, Conflicts, DiscardArgs, MergeArgs};
use crate::exit::usage;
use crate::run::{self, ConflictMode, Manifest, RunDir, Worktree};

pub fn apply(args: &ApplyArgs, env: Env<'_>) -> Result<u8> {
    let (run_dir, m, wt) = find(args.run.as_deref(), env)?;
    let target = checkout_of(&m, &wt, "apply")?;
    if target == wt.path {
        return Err(usage(format!(
            "this is run {}'s own worktree: run apply from the checkout to apply it to",
            m.id
        )));
    }
    let Some(theirs) = run::current_tree(&wt) else {
        return Err(usage(format!(
            "run {}'s worktree {} is gone (removed by hand?); its patch is {}",
            m.id,
            wt.path.display(),
            run_dir.file(run::DIFF).display()
        )));
    };
    if let Some(moved) = run::base_moved(&wt, &target) {
        say!("agent-offload: {moved}; the changes are merged three ways");
    }
    let mode = match args.conflicts {
        Conflicts::Refuse => ConflictMode::Refuse,
        Conflicts::Markers => ConflictMode::Markers,
    };
    let label = format!("run {}", m.id);
    let applied = run::apply_worktree(&wt, &theirs, &target, &label, mode)?;
    if applied.since_earlier_apply
        && let Some(before) = &wt.applied
    {
        say!(
            "agent-offload: run {} was applied here at {}: applying what it changed since",
            m.id,
            before.at
        );
    }
    let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    if !applied.conflicts.is_empty() && !applied.written {
        say!(
            "agent-offload: run {}'s changes conflict with this checkout; nothing was changed:",
            m.id
        );
        for (path, why) in &applied.conflicts {
            say!("  {}: {why}", show(path));
        }
        say!(
            "agent-offload: commit or stash your changes to those files and apply again, or \
             apply with conflict markers: agent-offload apply {} --conflicts=markers",
            m.id
        );
        return Ok(1);
    }
    {
        // Names as they are: they need not be UTF-8. A closed stdout is a quiet end.
        use std::io::Write as _;
        let mut out = super::Stdout;
        for (path, what) in &applied.changed {
            out.write_all(format!("{what} ").as_bytes())?;
            out.write_all(path)?;
            out.write_all(
                b"
",
            )?;
        }
        out.flush()?;
    }
    record(env, &wt, |w| {
        w.applied = Some(run::Taken::now(applied.placed.clone(), target.clone()));
    })?;
    Ok(report(&m.id, &wt, &target, &applied))
}

pub fn merge(args: &MergeArgs, env: Env<'_>) -> Result<u8> {
    let (run_dir, m, wt) = find(args.run.as_deref(), env)?;
    if wt.start == run::WorktreeStart::Dirty {
        return Err(usage(format!(
            "run {} started from uncommitted changes (--worktree=dirty), which its branch \
             would carry too: take its changes with agent-offload apply {0}",
            m.id
        )));
    }
    let target = checkout_of(&m, &wt, "merge")?;
    if target == wt.path {
        return Err(usage(format!(
            "this is run {}'s own worktree: run merge from the checkout to merge it into",
            m.id
        )));
    }
    let tip = if wt.path.is_dir() {
        let task = std::fs::read_to_string(run_dir.file("task.md")).unwrap_or_default();
        let first = task.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let first: String = first.chars().take(60).collect();
        run::commit_all(
            &wt,
            &format!(
                "agent-offload run {} ({}): {}",
                m.id,
                m.profile,
                first.trim()
            ),
        )?
    } else {
        run::branch_tip(&wt).ok_or_else(|| {
            usage(format!(
                "run {}'s worktree and branch {} are gone: nothing to merge",
                m.id, wt.branch
            ))
        })?
    };
    if let Some(moved) = run::base_moved(&wt, &target) {
        say!("agent-offload: {moved}");
    }
    let out = crate::git::command(&target)
        .args(["merge", "--no-edit", &wt.branch])
        .output()?;
    say_raw!("{}", String::from_utf8_lossy(&out.stdout));
    say_raw!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        say!(
            "agent-offload: git merge of {} did not complete; the run's work is kept on that \
             branch (resolve and commit, or git merge --abort)",
            wt.branch
        );
        return Ok(1);
    }
    record(env, &wt, |w| {
        w.merged = Some(run::Taken::now(tip.clone(), target.clone()));
    })?;
    say!(
        "agent-offload: merged {} ({}) into {}",
        wt.branch,
        &tip[..tip.len().min(10)],
        target.display()
    );
    Ok(0)
}

pub fn discard(args: &DiscardArgs, env: Env<'_>) -> Result<u8> {
    if let Some(spec) = args.run.as_deref() {
        let root = run::runs_root(env)?;
        // Not a run: a fan-out, whose runs are discarded together.
        if let Err(err) = run::resolve(&root, spec) {
            return match super::fanout::find(&root, spec) {
                Some(fanout) => discard_fanout(&fanout, args.force, env),
                None => Err(err),
            };
        }
    }
    let (_, m, wt) = find(args.run.as_deref(), env)?;
    discard_one(&m, &wt, args.force, env)
}

/// `discard FANOUT`: every candidate's worktree and the judge's, each exactly as
/// `discard RUN` would (refused while its work is not taken, unless `force`; never
/// while a run works in it). Exit 1 when any is kept.
fn discard_fanout(fanout: &RunDir, force: bool, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let (mut kept, mut discarded) = (0usize, 0usize);
    for id in super::fanout::members(fanout)? {
        // A run pruned since, or whose worktree is gone already, has nothing to discard.
        // Only the run of that exact id: never a prefix or `last` from an edited record.
        let Some(run_dir) = run::resolve(&root, &id).ok().filter(|r| r.id == id) else {
            continue;
        };
        let result = run::refresh(&run_dir).and_then(|m| {
            let Some(wt) = m.worktree.clone().filter(|wt| wt.removed_at.is_none()) else {
                return Ok(None);
            };
            guard(&root, &m, &wt)?;
            discard_one(&m, &wt, force, env).map(Some)
        });
        match result {
            Ok(None) => {}
            Ok(Some(0)) => discarded += 1,
            Ok(Some(_)) => kept += 1,
            Err(err) => {
                say!("agent-offload: kept run {id}: {err:#}");
                kept += 1;
            }
        }
    }
    let id = &fanout.id;
    // A candidate still queued, or started without a run yet, will make a worktree.
    for profile in super::fanout::starting(fanout)? {
        say!(
            "agent-offload: kept candidate {profile} of fan-out {id}: it is still running \
             (queued, or its run is starting)"
        );
        kept += 1;
    }
    if kept > 0 {
        say!(
            "agent-offload: kept {kept} of fan-out {id}'s worktrees (named above); \
             discarded {discarded}"
        );
        return Ok(1);
    }
    say!("agent-offload: discarded {discarded} of fan-out {id}'s worktrees");
    Ok(0)
}

/// Removes a run's worktree (one `find` or `discard_fanout` checked), refused while
/// its work is not taken unless `force`: 0 removed, 1 refused.
fn discard_one(m: &Manifest, wt: &Worktree, force: bool, env: Env<'_>) -> Result<u8> {
    if !force && let Some(work) = run::unsaved_work(wt) {
        say!(
            "agent-offload: run {} has work that was neither applied nor merged ({work}); \
             take it with agent-offload apply {0} (or merge {0}), or throw it away with \
             agent-offload discard {0} --force",
            m.id
        );
        return Ok(1);
    }
    let root = run::runs_root(env)?;
    run::remove_worktree(wt, || run::working_in(&root, &wt.path))?;
    record(env, wt, |w| {
        w.removed_at = Some(run::rfc3339(jiff::Timestamp::now()));
    })?;
    say!(
        "agent-offload: discarded run {}: removed {} and branch {}",
        m.id,
        wt.path.display(),
        wt.branch
    );
    Ok(0)
}

/// Says what an apply that wrote did; its exit code: 1 when anything is left to do
/// (conflicts, or changes not placed).
fn report(id: &str, wt: &Worktree, target: &Path, applied: &run::Applied) -> u8 {
    let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for (path, why) in &applied.not_placed {
        if why.starts_with("a submodule") {
            say!(
                "agent-offload: {}: {why} (its commits are in {})",
                show(path),
                wt.path.join(std::ffi::OsStr::from_bytes(path)).display()
            );
        }
    }
    if !applied.conflicts.is_empty() {
        say!("agent-offload: applied run {id}'s changes with conflicts left to resolve:");
        for (path, why) in &applied.conflicts {
            say!("  {}: {why}", show(path));
        }
    }
    if !applied.not_placed.is_empty() {
        let names: Vec<String> = applied.not_placed.iter().map(|(p, _)| show(p)).collect();
        say!(
            "agent-offload: not placed: {}; they stay in the worktree {} (discard keeps it \
             unless --force)",
            names.join(", "),
            wt.path.display()
        );
        return 1;
    }
    if !applied.conflicts.is_empty() {
        return 1;
    }
    if applied.changed.is_empty() {
        say!(
            "agent-offload: run {}'s changes are already in {}: nothing to change",
            id,
            target.display()
        );
    } else {
        say!(
            "agent-offload: applied run {}'s changes to {} (uncommitted; the index is as it \
             was)",
            id,
            target.display()
        );
    }
    0
}

/// Records what happened to a worktree in every run that works in it (a run and the
/// runs that continued it).
fn record(env: Env<'_>, wt: &Worktree, change: impl Fn(&mut Worktree)) -> Result<()> {
    let root = run::runs_root(env)?;
    for r in run::list(&root) {
        let shares = Manifest::load(&r)
            .ok()
            .and_then(|m| m.worktree)
            .is_some_and(|w| w.path == wt.path);
        if shares {
            run::record_worktree(&r, &change)?;
        }
    }
    Ok(())
}

/// The run (given, or the newest `--worktree` run from this repository), which must
/// have ended and still have its worktree.
fn find(spec: Option<&str>, env: Env<'_>) -> Result<(RunDir, Manifest, Worktree)> {
    let root = run::runs_root(env)?;
    let run_dir = match spec {
        Some(spec) => run::resolve(&root, spec)?,
        None => newest_here(&root)?,
    };
    let m = run::refresh(&run_dir)?;
    let Some(wt) = m.worktree.clone() else {
        return Err(usage(format!(
            "run {} did not work in a worktree of its own (--worktree): its changes are \
             already in {}",
            m.id,
            m.cwd.display()
        )));
    };
    if let Some(at) = &wt.removed_at {
        return Err(usage(format!(
            "run {}'s worktree was discarded at {at}",
            m.id
        )));
    }
    guard(&root, &m, &wt)?;
    Ok((run_dir, m, wt))
}

/// A run's worktree is left alone while the run, or a run that continues it, is live.
fn guard(root: &Path, m: &Manifest, wt: &Worktree) -> Result<()> {
    if !m.status.is_final() {
        return Err(usage(format!(
            "run {} is still running: wait for it (agent-offload wait {0}) or stop it \
             (agent-offload cancel {0}) first",
            m.id
        )));
    }
    // A run that continues it may work there still.
    if let Some(other) = run::working_in(root, &wt.path) {
        return Err(usage(run::worktree_in_use(wt, &other)));
    }
    Ok(())
}

/// The newest run with a worktree made from the repository we are in.
fn newest_here(root: &Path) -> Result<RunDir> {
    let here = checkout().ok_or_else(|| {
        usage(
            "not in a git repository: run this from a checkout of the repository whose run's \
             work to take, or give the run (agent-offload runs lists them)",
        )
    })?;
    run::list(root)
        .into_iter()
        .find(|r| {
            Manifest::load(r)
                .ok()
                .and_then(|m| m.worktree)
                .is_some_and(|wt| wt.repo == here && wt.removed_at.is_none())
        })
        .ok_or_else(|| {
            usage(format!(
                "no --worktree run from {} to take: give the run (agent-offload runs)",
                here.display()
            ))
        })
}

/// The top level of the checkout in the current directory, if it is in one.
fn checkout() -> Option<PathBuf> {
    let out = crate::git::bare()
        .args(["rev-parse", "--show-toplevel"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let top = std::ffi::OsStr::from_bytes(out.stdout.trim_ascii_end());
    (out.status.success() && !top.is_empty()).then(|| PathBuf::from(top))
}

/// The checkout in the current directory, which must be one of the repository the run
/// came from (its trees are there, and only there).
fn checkout_of(m: &Manifest, wt: &Worktree, what: &str) -> Result<PathBuf> {
    let came_from = format!(
        "run {} came from the repository at {}: {what} from a checkout of it (cd {1})",
        m.id,
        wt.repo.display()
    );
    let Some(top) = checkout() else {
        return Err(usage(format!("not in a git repository; {came_from}")));
    };
    if !run::same_repository(&top, &wt.repo) {
        return Err(usage(format!(
            "{} is not a checkout of that repository; {came_from}",
            top.display()
        )));
    }
    Ok(top)
}
