//! `agent-offload runs`: recent runs, newest first.

use anyhow::Result;

use super::{Env, report};
use crate::cli::RunsArgs;
use crate::run::{self, Manifest, RunDir};

/// How many runs are listed without `--all`.
const RECENT: usize = 20;
/// How much of each summary is read for its first line.
const SUMMARY_START: u64 = 4096;

pub fn runs(args: &RunsArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let mut all = run::list(&root);
    if !args.all {
        all.truncate(RECENT);
    }
    let runs: Vec<(RunDir, Manifest)> = all
        .into_iter()
        .filter_map(|r| run::refresh(&r).ok().map(|m| (r, m)))
        .collect();
    if args.json {
        let list: Vec<_> = runs
            .iter()
            .map(|(r, m)| report::envelope(r, m, m.exit_code()))
            .collect();
        super::outln!("{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(0);
    }
    if runs.is_empty() {
        eprintln!("agent-offload: no runs yet ({})", root.display());
        return Ok(0);
    }
    let home = env("HOME").map(std::path::PathBuf::from);
    let rows: Vec<[String; 9]> = runs
        .iter()
        .map(|(r, m)| {
            [
                r.id.clone(),
                m.profile.clone(),
                m.mode.as_str().to_owned(),
                m.status.as_str().to_owned(),
                age(m.started_at),
                m.duration().map(crate::duration::human).unwrap_or_default(),
                run::spent(r, m).map(|s| usage_cell(&s)).unwrap_or_default(),
                super::tilde(&m.cwd, home.as_deref()),
                if m.status == run::Status::NeedsInput {
                    let q = r.question().map(|q| q.text).unwrap_or_default();
                    format!("asks: {}", first_line(&q, 55))
                } else {
                    first_line(&r.summary_start(SUMMARY_START).unwrap_or_default(), 60)
                },
            ]
        })
        .collect();
    super::print_document(
        super::table(
            &[
                "ID", "PROFILE", "MODE", "STATUS", "AGE", "DURATION", "USAGE", "CWD", "SUMMARY",
            ],
            &rows,
        )
        .as_bytes(),
    )?;
    Ok(0)
}

/// `12.3k $0.04`: tokens and cost, short (`~` marks an estimated cost).
fn usage_cell(s: &run::Spent) -> String {
    let tokens = s.tokens.total().map(run::short_count).unwrap_or_default();
    match (s.cost_usd, s.cost_source) {
        (Some(c), run::CostSource::Estimated) => format!("{tokens} ~${c:.2}"),
        (Some(c), _) => format!("{tokens} ${c:.2}"),
        (None, _) => tokens,
    }
}

/// The time since `t`, in whole seconds (`3m12s`, `2h`, `5d1h`).
fn age(t: jiff::Timestamp) -> String {
    let secs = jiff::Timestamp::now().duration_since(t).as_secs().max(0);
    crate::duration::human(std::time::Duration::from_secs(secs.unsigned_abs()))
}

fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}
