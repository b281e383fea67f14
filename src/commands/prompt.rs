//! The prompt of a run or a fan-out: from the words, `--prompt-file` or stdin, bounded by
//! the run's own limits (shared by `run`, `continue` and the fan-out, which is why it is
//! a file of its own: `run` decides on a fan-out, and a fan-out reads its prompt).

use std::io::IsTerminal as _;

use anyhow::Result;

use crate::cli::RunArgs;
use crate::config;
use crate::profile::Profile;
use crate::run;

/// The prompt from the words, `--prompt-file` or stdin, bounded by the run's limits;
/// `default` when none is given at all (else that is a usage error).
pub fn read_prompt(
    args: &RunArgs,
    profile: &Profile,
    config: &config::Config,
    default: Option<&str>,
) -> Result<String> {
    let stdin_source: Option<Box<dyn std::io::Read + Send>> =
        (!std::io::stdin().is_terminal()).then(|| Box::new(std::io::stdin()) as _);
    run::read_prompt_or(
        &args.prompt,
        args.prompt_file.as_deref(),
        stdin_source,
        prompt_limit(args, profile, config),
        &|m: &str| {
            if !args.quiet {
                say!("{m}");
            }
        },
        default,
    )
}

/// How long to wait for a prompt on stdin (or from a prompt file that is a FIFO): the
/// run's own bounds, its timeout or its detach-after, whichever is shorter, named by
/// where each was set. A caller that said "no longer than this" gets its answer within
/// it even when its stdin never ends; no agent has started, so it is a usage error
/// (exit 2), not a timeout (124).
fn prompt_limit(
    args: &RunArgs,
    profile: &Profile,
    config: &config::Config,
) -> Option<(std::time::Duration, &'static str)> {
    let timeout = args
        .timeout
        .map(|t| (t, "--timeout"))
        .or_else(|| profile.timeout.map(|t| (t, "the profile's timeout")));
    let detach = args
        .detach_after
        .map(|d| (d, "--detach-after"))
        .or_else(|| {
            profile
                .detach_after
                .map(|d| (d, "the profile's detach_after"))
        })
        .or_else(|| {
            config
                .detach_after
                .map(|d| (d, "the config's detach_after"))
        });
    match (timeout, detach) {
        (Some(t), Some(d)) => Some(if d.0 < t.0 { d } else { t }),
        (t, d) => t.or(d),
    }
}
