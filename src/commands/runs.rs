//! `agent-offload runs`: recent runs, newest first.

use anyhow::Result;

use super::{Env, report};
use crate::cli::RunsArgs;
use crate::run::{self, Manifest, RunDir};

const HEADERS: [&str; 9] = [
    "ID", "PROFILE", "MODE", "STATUS", "AGE", "DURATION", "USAGE", "CWD", "SUMMARY",
];

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
        say!("agent-offload: no runs yet ({})", root.display());
        return Ok(0);
    }
    let home = env("HOME").map(std::path::PathBuf::from);
    let mut rows: Vec<[String; 9]> = runs
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
                // Where it was started from: a `--worktree` run's repository, not the
                // worktree it works in.
                super::tilde(&m.origin(), home.as_deref()),
                if m.status == run::Status::NeedsInput {
                    let q = r.question().map(|q| q.text).unwrap_or_default();
                    format!("asks: {}", first_line(&q, 55))
                } else {
                    first_line(&r.summary_start(SUMMARY_START).unwrap_or_default(), 60)
                },
            ]
        })
        .collect();
    fit(&HEADERS, &mut rows, width(env));
    super::print_document(super::table(&HEADERS, &rows).as_bytes())?;
    Ok(0)
}

/// The width the table is fitted to: the terminal's when stdout is one, else
/// `$COLUMNS`, else [`DEFAULT_WIDTH`].
fn width(env: Env<'_>) -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w > 0)
        .or_else(|| {
            env("COLUMNS")
                .and_then(|c| c.into_string().ok())
                .and_then(|c| c.trim().parse().ok())
                .filter(|&w: &usize| w > 0)
        })
        .unwrap_or(DEFAULT_WIDTH)
}

/// The width of the table when neither a terminal nor `$COLUMNS` says (a pipe, a host
/// agent reading it): what most terminals show (`--json` has every field whole).
const DEFAULT_WIDTH: usize = 120;
/// The narrowest the summary and the working directory are cut to.
const SUMMARY_MIN: usize = 20;
const CWD_MIN: usize = 16;

/// Cuts the summary (the last column), then the working directory (from the left: its
/// end says most), so that the table fits `width` columns; never below their minimums,
/// and never the other columns (an id is copied whole).
fn fit(headers: &[&str; 9], rows: &mut [[String; 9]], width: usize) {
    let widest = |col: usize, rows: &[[String; 9]]| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .chain([headers[col].chars().count()])
            .max()
            .unwrap_or(0)
    };
    // Every column but the last is followed by two spaces.
    let fixed: usize = (0..7).map(|c| widest(c, rows) + 2).sum();
    let cwd = widest(7, rows);
    let summary_room = width.saturating_sub(fixed + cwd + 2).max(SUMMARY_MIN);
    let cwd_room = width
        .saturating_sub(fixed + 2 + summary_room.min(widest(8, rows)))
        .max(CWD_MIN);
    for row in rows.iter_mut() {
        row[7] = cut_left(&row[7], cwd_room);
        row[8] = cut_right(&row[8], summary_room);
    }
}

/// `text` in at most `max` characters, its end replaced by `…` when cut.
fn cut_right(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` in at most `max` characters, its start replaced by `…` when cut.
fn cut_left(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_owned();
    }
    let rest: String = text.chars().skip(n - max.saturating_sub(1)).collect();
    format!("…{rest}")
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
    cut_right(line, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cwd: &str, summary: &str) -> [String; 9] {
        [
            "20261125-224800-188-c274",
            "spark",
            "headless",
            "done",
            "3m12s",
            "1m5s",
            "12.3k $0.04",
            cwd,
            summary,
        ]
        .map(str::to_owned)
    }

    fn table_width(rows: &[[String; 9]]) -> usize {
        let h = [
            "ID", "PROFILE", "MODE", "STATUS", "AGE", "DURATION", "USAGE", "CWD", "SUMMARY",
        ];
        let text = super::super::table(&h, rows);
        text.lines().map(|l| l.chars().count()).max().unwrap()
    }

    #[test]
    fn the_table_fits_the_width_cutting_summary_then_cwd() {
        let h = [
            "ID", "PROFILE", "MODE", "STATUS", "AGE", "DURATION", "USAGE", "CWD", "SUMMARY",
        ];
        let long_cwd = "~/src/a-rather-long-project-name/with/sub/dirs";
        let summary = "Implemented the parser and its tests; all pass on Linux";
        let mut rows = vec![row(long_cwd, summary)];
        let natural = table_width(&rows);
        assert!(natural > 150, "{natural}");
        // Wide enough: untouched.
        fit(&h, &mut rows, 200);
        assert_eq!(rows[0], row(long_cwd, summary));
        // The summary goes first, from its end.
        fit(&h, &mut rows, 160);
        assert_eq!(table_width(&rows), 160);
        assert_eq!(rows[0][7], long_cwd);
        assert!(rows[0][8].ends_with('…') && rows[0][8].starts_with("Implemented"));
        // Then the directory, from its start; the id is never cut.
        let mut rows = vec![row(long_cwd, summary)];
        fit(&h, &mut rows, 125);
        assert_eq!(table_width(&rows), 125);
        assert_eq!(rows[0][8].chars().count(), SUMMARY_MIN);
        assert!(
            rows[0][7].starts_with('…') && rows[0][7].ends_with("sub/dirs"),
            "{}",
            rows[0][7]
        );
        assert_eq!(rows[0][0], "20261125-224800-188-c274");
        // Too narrow for the minimums: as narrow as they allow, no narrower.
        let mut rows = vec![row(long_cwd, summary)];
        fit(&h, &mut rows, 10);
        assert_eq!(rows[0][7].chars().count(), CWD_MIN);
        assert_eq!(rows[0][8].chars().count(), SUMMARY_MIN);
    }
}
