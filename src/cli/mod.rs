//! Command-line definitions. `run` is the default subcommand: `agent-offload -p spark
//! "fix the bug"` is `agent-offload run -p spark "fix the bug"`.

mod complete;

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::profile::{OnStall, StallAfter};
use crate::skill::providers::Provider;

const EXAMPLES: &str = "\
Examples:
  agent-offload \"add a --verbose flag to the CLI\"      default profile, pane beside you
  agent-offload -p spark -H \"fix the failing test\"     profile spark, headless
  agent-offload -p spark < plan.md                     the plan on stdin
  agent-offload --timeout 30m -f plan.md               from a file, at most 30 minutes
  agent-offload -- run the tests and fix what fails    words after -- are all prompt
  agent-offload --detach-after 8m -p spark < plan.md   exit 75 after 8 minutes if still running
  agent-offload wait                                   wait again for the newest run from here
  agent-offload continue last \"use option B\"           answer its question, same session
  agent-offload continue last -p opus \"finish it\"      hand the work to another profile
  agent-offload --worktree -p spark < plan.md          in a git worktree of its own...
  agent-offload apply                                  ...then its changes into yours
  agent-offload -p a -p b --check \"cargo test\" < plan.md  fan-out: both at once, one table
  agent-offload runs                                   recent runs
  agent-offload profiles                               list the configured profiles
  agent-offload install-skill                          teach your agent CLIs to delegate
  agent-offload doctor                                 check the setup, with fixes

Exit codes: 0 done (summary on stdout), 1 the agent failed or wrote no summary,
2 usage or config error, 3 needs input (its question on stdout: agent-offload
continue RUN \"ANSWER\"), 4 over budget, 5 stalled (--on-stall stop), 6 cancelled
(agent-offload cancel), 7 done but its --check failed, 75 still running (detached:
agent-offload wait RUN), 124 timed out, 128+n ended by signal n.";

#[derive(Debug, Parser)]
#[command(
    name = "agent-offload",
    version,
    about = "Hand a task to another coding agent CLI and wait for its summary.",
    long_about = "Hand a task to another coding agent CLI and wait for its summary.\n\n\
        The delegated agent runs in a new tmux pane beside yours, or headless. \
        agent-offload blocks until the agent publishes its summary (done.md), then \
        prints it on stdout. Everything about a run is kept in its run directory \
        under $XDG_STATE_HOME/agent-offload/runs.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Delegate a task (the default when no subcommand is given).
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Continue a run's session with a new prompt: an answer to its question, the next
    /// step, or a hand-off to another profile (-p OTHER).
    #[command(
        long_about = "Continue a finished run's session with a new prompt, as a new run whose \
            run.json names its parent. With the same profile (the default) or another \
            profile of the same agent CLI, the CLI resumes the exact session (claude \
            --resume, codex resume, ...): use it to answer a question (status needs_input, \
            exit 3) or to ask for the next step. With a profile of another CLI, or --fresh, \
            it hands off: a fresh session is given the original task, what the run reported, \
            its change list and the path of its diff, then the new prompt.\n\n\
            The mode (pane or headless) and the working directory are the run's unless \
            given. Without a prompt the agent is asked to go on where it left off.",
        after_help = CONTINUE_EXAMPLES,
        // `continue` goes on with one profile: the fan-out options, which it refuses,
        // are not offered (still parsed, for the refusal that names them).
        mut_arg("judge", |a| a.hide(true)),
        mut_arg("max_parallel", |a| a.hide(true)),
        mut_arg("detach_after", |a| a.help(
            "Stop waiting after this long and leave the agent running: exit 75 with the \
             command that resumes waiting (`agent-offload wait RUN`). At most 365d"
        )),
        mut_arg("profile", |a| a.help(
            "Profile to continue with (default: the run's). Another profile of the same \
             agent CLI resumes the session; one of another CLI is a hand-off"
        )),
        mut_arg("cwd", |a| a.help("Working directory for the agent (default: the run's)")),
        mut_arg("worktree", |a| a.help_heading(CONTINUE_WORKTREE)),
        mut_arg("no_worktree", |a| a.help_heading(CONTINUE_WORKTREE)),
        mut_arg("check", |a| a.help_heading(CONTINUE_WORKTREE).help(
            "After the agent ends, run this shell command in its directory (its worktree) \
             and record the result; done with a failed check is exit 7 (e.g. --check \
             \"cargo test\")"
        )),
        // Output stays last, as in run's help.
        mut_arg("json", |a| a.help_heading(OUTPUT)),
        mut_arg("stream", |a| a.help_heading(OUTPUT)),
        mut_arg("quiet", |a| a.help_heading(OUTPUT))
    )]
    Continue(ContinueArgs),
    /// Wait for a run again: the same summary and exit code as the first wait.
    #[command(
        after_help = "RUN is a run id, a unique prefix of one, or `last`. Without RUN: the newest run started from this directory. RUN may be a fan-out id: its queue, every candidate, then the judge and the table; --timeout then stops the whole fan-out (exit 124)."
    )]
    Wait(WaitArgs),
    /// List recent runs, newest first.
    Runs(RunsArgs),
    /// A live view of the runs: status, elapsed time, usage, last activity, health.
    #[command(
        long_about = "A live view of the runs, from the run directories: every run, \
            whichever pane or host agent started it. Running runs first, then the 50 \
            that finished last; each with its profile, mode, status, elapsed time, tokens, \
            cost, last sign of work and health (working or stalled).\n\n\
            Keys: up/down (j/k) select, enter (l) follows the run's log (esc back), p jumps \
            to its tmux pane, c cancels it (after y/n), q quits.\n\n\
            With --once, or when stdout is not a terminal, the table is printed once as \
            plain text."
    )]
    Top(TopArgs),
    /// Everything about one run, including its summary.
    Show(ShowArgs),
    /// Print a run's output log.
    Logs(LogsArgs),
    /// Stop a run (pane closed, or TERM, grace, KILL) and record it as cancelled.
    Cancel(CancelArgs),
    /// Apply a --worktree run's changes to this checkout, merged three ways.
    #[command(
        long_about = "Apply the changes of a run that worked in its own worktree (--worktree) to \
            the checkout in the current directory, as uncommitted changes (the index is not \
            touched). Each file is merged three ways (the run's base, this checkout's file \
            as it is now, the run's), so your own uncommitted changes stay, also in the same \
            files. On a conflict nothing is changed and the files are named, unless \
            --conflicts=markers leaves standard conflict markers (and, for a file that cannot \
            hold them, the run's version beside it as FILE.run-ID). What is not placed at its \
            own path (a file put beside, a submodule change) is named, and discard keeps it \
            unless --force. Applied again here (after continue), only what changed since.\n\n\
            Without RUN: the newest --worktree run from this repository.",
        after_help = "Exit codes: 0 applied, 1 conflicts or changes not placed (nothing changed, \
            or markers left), 2 usage."
    )]
    Apply(ApplyArgs),
    /// Merge a --worktree run's branch (its uncommitted work committed first).
    #[command(
        long_about = "Merge the branch of a run that worked in its own worktree (--worktree) into \
            the current branch of the checkout in the current directory (git merge). The \
            run's uncommitted work is committed on its branch first. A run started with \
            --worktree=dirty is applied instead (its branch would carry your uncommitted \
            changes). Without RUN: the newest --worktree run from this repository."
    )]
    Merge(MergeArgs),
    /// Remove a --worktree run's worktree and branch (refused while its work is neither
    /// applied nor merged, unless --force).
    #[command(
        long_about = "Remove a --worktree run's worktree and branch, refused while its work is \
            neither applied nor merged, unless --force. Given a fan-out id (as wait FANOUT \
            takes), do that for every candidate and the judge: those whose work was taken or \
            changed nothing are removed, and each other one is named and kept unless --force \
            (exit 1). A worktree a live run works in is never removed."
    )]
    Discard(DiscardArgs),
    /// Remove the directories of finished runs.
    Prune(PruneArgs),
    /// List the configured profiles.
    Profiles(ProfilesArgs),
    /// Install the agent-offload skill for host agent CLIs (claude, codex, ...).
    #[command(
        long_about = "Install the agent-offload skill, which teaches a host agent when and how \
            to delegate with agent-offload, as <dir>/skills/agent-offload/SKILL.md for each \
            agent CLI (directories below).\n\n\
            With neither --provider nor --all, it installs for every provider whose \
            directory exists (none: exit 1). One line per provider on stdout: installed, \
            updated, up-to-date, or skipped: modified locally (use --force). A copy someone \
            edited is never overwritten without --force.",
        after_help = PROVIDERS
    )]
    InstallSkill(InstallSkillArgs),
    /// Remove the agent-offload skill installed by install-skill.
    #[command(
        long_about = "Remove the agent-offload skill from each agent CLI's user skill \
            directory. Without --provider: wherever it is installed. Only an unmodified \
            copy is removed; an edited one needs --force (exit 1 when one is kept).",
        after_help = PROVIDERS
    )]
    UninstallSkill(UninstallSkillArgs),
    /// Write a commented starter config file with a profile per agent CLI on PATH.
    Init(InitArgs),
    /// Check the setup: tmux, the config, each profile's command and variables, the
    /// state directory, the skill. Exit 1 if anything is broken.
    Doctor(DoctorArgs),
    /// Print a shell completion script (e.g. `agent-offload completions bash >
    /// ~/.local/share/bash-completion/completions/agent-offload`).
    #[command(
        long_about = "Print a shell completion script (bash, zsh, fish, elvish, powershell). \
            The script asks agent-offload, found on PATH, for the candidates at each TAB: \
            subcommands and options, the profiles of the config it would load (-p <TAB>), \
            and `last` and the run ids for a RUN argument. A broken config gives no \
            candidates, never an error.",
        after_help = "Examples:\n  \
            agent-offload completions bash > ~/.local/share/bash-completion/completions/agent-offload\n  \
            agent-offload completions zsh > ~/.zfunc/_agent-offload\n  \
            agent-offload completions fish > ~/.config/fish/completions/agent-offload.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or write every page with --dir.
    #[command(
        long_about = "Print the man page agent-offload(1) (roff) on stdout. With --dir, write \
            it and a page for each subcommand (agent-offload-run.1, agent-offload-wait.1, \
            ..., the pages its SUBCOMMANDS section cites) into that directory, and print \
            the path of each file written.",
        after_help = "Examples:\n  \
            agent-offload man --dir ~/.local/share/man/man1     every page, where man finds them\n  \
            agent-offload man | man -l -                        read the main page now"
    )]
    Man(ManArgs),
    /// About the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// The headings `run`'s options are grouped under in `--help` (and `continue`'s).
const PROMPT: &str = "Prompt and profile";
const MODE: &str = "Mode";
const LIMITS: &str = "Limits";
const FANOUT: &str = "Worktree and fan-out";
/// `continue`'s: it starts no fan-out.
const CONTINUE_WORKTREE: &str = "Worktree and check";
const OUTPUT: &str = "Output";

#[derive(Debug, Args, Default)]
#[allow(clippy::struct_excessive_bools)] // command-line flags
pub struct RunArgs {
    /// Profile to use (default: the config's `default_profile`). Given more than once,
    /// a fan-out: the same task to each profile at once, each in its own worktree.
    #[arg(short, long, value_name = "NAME", add = profile_candidates(), help_heading = PROMPT)]
    pub profile: Vec<String>,

    /// Config file to use instead of discovering one.
    #[arg(long, value_name = "PATH", help_heading = PROMPT)]
    pub config: Option<PathBuf>,

    /// Run without a terminal instead of in a tmux pane.
    #[arg(short = 'H', long, conflicts_with = "tmux", help_heading = MODE)]
    pub headless: bool,

    /// Use a tmux pane even when the config says headless.
    #[arg(long, help_heading = MODE)]
    pub tmux: bool,

    /// Read the prompt from this file.
    #[arg(short = 'f', long, value_name = "PATH", conflicts_with = "prompt", help_heading = PROMPT)]
    pub prompt_file: Option<PathBuf>,

    /// Stop the agent after this long (90s, 20m, 1h30m; at most 365d); exit 124. Also
    /// bounds the wait for a prompt on stdin (exit 2, nothing started).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = LIMITS)]
    pub timeout: Option<std::time::Duration>,

    /// Stop waiting after this long and leave the agent running: exit 75 with the
    /// command that resumes waiting (`agent-offload wait RUN`). At most 365d. A
    /// fan-out detaches as a whole: its queue goes on, --max-parallel kept.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = LIMITS)]
    pub detach_after: Option<std::time::Duration>,

    /// Stop the agent as soon as it has used more than this many tokens (input plus
    /// output, as its CLI reports them); exit 4.
    #[arg(long, value_name = "N", help_heading = LIMITS)]
    pub max_tokens: Option<u64>,

    /// Stop the agent as soon as it has cost more than this many US dollars (reported
    /// by its CLI, or estimated from the profile's `price`); exit 4.
    #[arg(long, value_name = "USD", value_parser = parse_usd, help_heading = LIMITS)]
    pub max_cost: Option<f64>,

    /// Call the run stalled after this long without a sign of work (new output or
    /// events, CPU time of the agent's processes); default 10m; `off` turns it off.
    #[arg(long, value_name = "DURATION|off", value_parser = parse_stall_after, help_heading = LIMITS)]
    pub stall_after: Option<StallAfter>,

    /// What a stall does: `warn` (stderr, show and --json say so; the default) or
    /// `stop` (the agent is stopped, status stalled, exit 5).
    #[arg(long, value_name = "warn|stop", value_enum, help_heading = LIMITS)]
    pub on_stall: Option<OnStall>,

    /// Run the agent in a git worktree of its own, on a new branch agent-offload/RUN,
    /// from HEAD (or `dirty`: from the working tree, uncommitted changes included);
    /// get the work back with `agent-offload apply`, `merge` or `discard`.
    #[arg(
        help_heading = FANOUT,
        long,
        value_name = "head|dirty",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "head",
        value_parser = parse_worktree,
        conflicts_with = "no_worktree"
    )]
    pub worktree: Option<crate::profile::WorktreeStart>,

    /// Work in the directory itself even when the config says `worktree`.
    #[arg(long, help_heading = FANOUT)]
    pub no_worktree: bool,

    /// After the agent ends, run this shell command in its directory (its worktree)
    /// and record the result; done with a failed check is exit 7; a fan-out's table
    /// shows it (e.g. --check "cargo test").
    #[arg(long, value_name = "CMD", help_heading = FANOUT)]
    pub check: Option<String>,

    /// Fan-out: then start one more run, of this profile, that compares every
    /// candidate's summary, diff and check and names the best.
    #[arg(long, value_name = "PROFILE", help_heading = FANOUT)]
    pub judge: Option<String>,

    /// Fan-out: at most this many runs at once (default: all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = FANOUT)]
    pub max_parallel: Option<u16>,

    /// The fan-out a run belongs to (set by the fan-out for its runs).
    #[arg(long, value_name = "ID", hide = true, help_heading = FANOUT)]
    pub fanout: Option<String>,

    /// The candidate's place in its fan-out (set by the fan-out for its runs).
    #[arg(long, value_name = "N", hide = true, requires = "fanout", help_heading = FANOUT)]
    pub fanout_slot: Option<usize>,

    /// Print the result as one JSON object on stdout.
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,

    /// Working directory for the agent (default: the current directory).
    #[arg(long, value_name = "DIR", help_heading = PROMPT)]
    pub cwd: Option<PathBuf>,

    /// Copy a headless agent's output to stderr while it runs (at a terminal, instead
    /// of the live status line).
    #[arg(long, help_heading = OUTPUT)]
    pub stream: bool,

    /// Print nothing on stderr but errors: no progress, no live status line (stdout
    /// still carries the result).
    #[arg(short, long, conflicts_with = "stream", help_heading = OUTPUT)]
    pub quiet: bool,

    /// The prompt. Every word after the first is prompt text too; options go first.
    #[arg(
        value_name = "PROMPT",
        trailing_var_arg = true,
        allow_hyphen_values = false
    )]
    pub prompt: Vec<String>,
}

const CONTINUE_EXAMPLES: &str = "\
Examples:
  agent-offload continue last \"use the existing retry helper\"   answer the newest run's question
  agent-offload continue 20261130-1412 \"now add tests\"          the next step, same session
  agent-offload continue last -p opus \"finish this\"             hand off to another profile
  agent-offload continue last --fresh -f review.md              a fresh session, seeded

RUN is a run id, a unique prefix of one, or `last`.";

#[derive(Debug, Args)]
pub struct ContinueArgs {
    /// The run to continue (id, unique prefix, or `last`).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: String,

    /// Start a fresh session seeded with what the run produced, even with a profile of
    /// the same agent CLI (hand-off), instead of resuming its session.
    #[arg(long)]
    pub fresh: bool,

    #[command(flatten)]
    pub args: RunArgs,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Config file to use instead of discovering one.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The run (id, unique prefix, or `last`; default: the newest from this directory).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,

    /// Stop the agent if it has not finished this long from now (at most 365d); exit 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// Stop waiting after this long (at most 365d) and leave the agent running; exit 75.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub detach_after: Option<std::time::Duration>,

    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Every run, not only the 20 newest.
    #[arg(long)]
    pub all: bool,

    /// Print JSON (an array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Print the table once as plain text and exit (for scripts).
    #[arg(long)]
    pub once: bool,

    /// How often the view is read again (at least 100ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run (id, unique prefix, or `last`; default: the newest from this directory).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run (id, unique prefix, or `last`; default: the newest from this directory).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,

    /// Keep printing new output until the run ends.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run (id, unique prefix, or `last`).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: String,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The run (id, unique prefix, or `last`; default: the newest --worktree run from
    /// this repository).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,

    /// On a conflict: `refuse` (change nothing; the default) or `markers` (apply, with
    /// conflict markers left in the files).
    #[arg(
        long,
        value_name = "refuse|markers",
        value_enum,
        default_value = "refuse"
    )]
    pub conflicts: Conflicts,
}

/// What `apply` does on a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Conflicts {
    Refuse,
    Markers,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The run (id, unique prefix, or `last`; default: the newest --worktree run from
    /// this repository).
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The run (id, unique prefix, or `last`; default: the newest --worktree run from
    /// this repository), or a fan-out id: all its candidates and its judge.
    #[arg(value_name = "RUN", add = run_candidates())]
    pub run: Option<String>,

    /// Remove it even though its work was neither applied nor merged.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove finished runs older than this (default 7d, at most 365d; 0s: every
    /// finished run).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_or_zero, default_value = "7d")]
    pub older_than: std::time::Duration,

    /// Show what would be removed without removing anything.
    #[arg(long)]
    pub dry_run: bool,
}

const PROVIDERS: &str = crate::agents::SKILL_DIRS_HELP;

#[derive(Debug, Args)]
pub struct InstallSkillArgs {
    /// Install for this provider (repeatable, or comma-separated), even when its
    /// configuration directory does not exist yet.
    #[arg(
        long = "provider",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = provider_parser(),
        conflicts_with = "all"
    )]
    pub providers: Vec<Provider>,

    /// Install for every provider, creating the directories.
    #[arg(long)]
    pub all: bool,

    /// Say what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Overwrite a copy that was modified locally.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct UninstallSkillArgs {
    /// Remove it for this provider only (repeatable, or comma-separated).
    #[arg(
        long = "provider",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = provider_parser()
    )]
    pub providers: Vec<Provider>,

    /// Say what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Also remove a copy that was modified locally.
    #[arg(long)]
    pub force: bool,
}

fn provider_parser() -> impl clap::builder::TypedValueParser<Value = Provider> {
    clap::builder::PossibleValuesParser::new(Provider::NAMES)
        .map(|name| Provider::from_name(&name).expect("a possible value"))
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Write `.agent-offload.yaml` in the current directory instead of the user config.
    #[arg(long)]
    pub project: bool,

    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config file to check instead of discovering one.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (agent-offload.1, agent-offload-SUBCOMMAND.1, ...) into this
    /// directory, created if missing, instead of the main page on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the config file, for editors (see docs/commands.md for
    /// the `# yaml-language-server: $schema=` line).
    Schema,
}

/// A word of a prompt given as several words that is one of `run`'s own options
/// (`--json`, `--timeout=5m`, `-H`): host agents append options after the prompt, where
/// they would silently become prompt text. `None` when there is none, or when `--` on
/// the command line says that everything after it is prompt.
pub fn misplaced_option(words: &[String], raw_args: &[std::ffi::OsString]) -> Option<String> {
    use clap::CommandFactory;
    if words.len() < 2 || raw_args.iter().any(|a| a == "--") {
        return None;
    }
    let cmd = Cli::command();
    let run = cmd.find_subcommand("run")?;
    let is_option = |word: &str| {
        if let Some(long) = word.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(n, _)| n);
            run.get_arguments().any(|a| a.get_long() == Some(name))
        } else if let Some(short) = word.strip_prefix('-') {
            // `-H`, `-q`, and the clustered `-Hq`; `-p`/`-f` with a value attached.
            let mut chars = short.chars();
            chars.next().is_some_and(|first| {
                run.get_arguments().any(|a| a.get_short() == Some(first))
                    && (short.len() == 1
                        || chars.all(|c| run.get_arguments().any(|a| a.get_short() == Some(c))))
            })
        } else {
            false
        }
    };
    words[1..]
        .iter()
        .find(|w| is_option(w))
        .map(|w| w.split_once('=').map_or(w.as_str(), |(o, _)| o).to_owned())
}

/// A word after the first of a prompt given as words that is shaped like a long option
/// (`--jsn`, `--dry-run=1`) but is none of `run`'s: a mistyped option would otherwise
/// reach the agent as text. With clap's suggestion, where it has one. `None` after `--`.
pub fn unknown_option(words: &[String], raw_args: &[std::ffi::OsString]) -> Option<String> {
    use clap::CommandFactory;
    if words.len() < 2 || raw_args.iter().any(|a| a == "--") {
        return None;
    }
    let looks_like_option = |w: &str| {
        w.strip_prefix("--").is_some_and(|name| {
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            name.len() > 1
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    let word = words[1..].iter().find(|w| looks_like_option(w))?;
    let name = word.split_once('=').map_or(word.as_str(), |(n, _)| n);
    let suggestion = match Cli::command().try_get_matches_from(["agent-offload", "run", name]) {
        Err(e) => match e.get(clap::error::ContextKind::SuggestedArg) {
            Some(clap::error::ContextValue::String(s)) => format!(" (did you mean {s}?)"),
            _ => String::new(),
        },
        Ok(_) => String::new(),
    };
    Some(format!(
        "{name} after the prompt looks like an option, but there is no such option{suggestion}: \
         put options before the prompt (see agent-offload --help), or write -- before a \
         prompt that really contains it (agent-offload -- the task {name})"
    ))
}

/// The name of a subcommand written after `run`'s options as the first word of a prompt
/// given as words (`agent-offload -p spark continue last "answer"`): host agents write
/// options first, and this would start a fresh agent with the task "continue last
/// answer". `None` after `--`, and for a prompt given as one quoted word.
pub fn subcommand_as_prompt(words: &[String], raw_args: &[std::ffi::OsString]) -> Option<String> {
    use clap::CommandFactory;
    let first = words.first()?;
    if raw_args.iter().any(|a| a == "--") {
        return None;
    }
    let cmd = Cli::command();
    cmd.get_subcommands()
        .any(|s| s.get_name() == first || s.get_all_aliases().any(|a| a == first))
        .then(|| first.clone())
}

/// The usage error for [`subcommand_as_prompt`].
pub fn subcommand_as_prompt_error(sub: &str, words: &[String]) -> String {
    format!(
        "`{sub}` is a subcommand, but after run's options it would be read as the prompt \
         \"{}\": write it first (agent-offload {sub} OPTIONS ...), or write -- before a \
         prompt that starts with it (agent-offload OPTIONS -- {sub} ...)",
        words.join(" ")
    )
}

/// The usage error for [`misplaced_option`].
pub fn misplaced_option_error(option: &str) -> String {
    format!(
        "{option} comes after the prompt, where it would be taken as prompt text: put \
         options before the prompt (agent-offload {option} ... \"the task\"), or write -- \
         before a prompt that really contains it (agent-offload -- the task {option})"
    )
}

/// `-p <TAB>`: the profiles of the config this command would load.
fn profile_candidates() -> ArgValueCandidates {
    ArgValueCandidates::new(complete::profiles)
}

/// `RUN <TAB>`: `last` and the run ids.
fn run_candidates() -> ArgValueCandidates {
    ArgValueCandidates::new(complete::runs)
}

fn parse_stall_after(s: &str) -> Result<StallAfter, String> {
    if s.trim() == "off" {
        Ok(StallAfter::Off)
    } else {
        crate::duration::parse(s).map(StallAfter::After)
    }
}

/// `--worktree=head|dirty`.
fn parse_worktree(s: &str) -> Result<crate::profile::WorktreeStart, String> {
    crate::profile::WorktreeStart::parse(s.trim()).ok_or_else(|| {
        format!("invalid value {s:?}: head (from HEAD) or dirty (from the working tree)")
    })
}

/// A positive amount of US dollars (`2`, `0.50`; a leading `$` is allowed).
fn parse_usd(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("invalid amount {s:?}: a number of US dollars, like 2 or 0.50"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("invalid amount {s:?}: must be more than zero"))
    }
}

/// Every duration option goes through `duration::parse`, which refuses more than
/// `duration::MAX`: no deadline computed from one can overflow.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(s)
}

#[cfg(test)]
mod tests {
    /// Every long option the skill tells a host to use exists (in some command), except those the
    /// skill presents as "if your version has it" (from the detach/wait issue).
    #[test]
    fn options_in_the_skill_exist() {
        use clap::CommandFactory;
        let cmd = super::Cli::command();
        let known: Vec<String> = cmd
            .get_arguments()
            .chain(cmd.get_subcommands().flat_map(clap::Command::get_arguments))
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .chain(["--help".to_owned(), "--version".to_owned()])
            .collect();
        let future = ["--detach-after"];
        let mut rest = crate::skill::BUNDLED;
        while let Some(i) = rest.find("--") {
            rest = &rest[i + 2..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if word.is_empty() || word.starts_with('-') {
                continue;
            }
            let option = format!("--{word}");
            assert!(
                known.contains(&option) || future.contains(&option.as_str()),
                "SKILL.md mentions {option}, which no agent-offload command has"
            );
        }
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_is_the_default_and_words_after_the_first_are_prompt() {
        let cli = Cli::try_parse_from(["ao", "-p", "spark", "fix", "-p", "x"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.profile, ["spark"]);
        assert_eq!(cli.run.prompt, ["fix", "-p", "x"]);

        let cli = Cli::try_parse_from(["ao", "--", "run", "the", "tests"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.prompt, ["run", "the", "tests"]);

        let cli = Cli::try_parse_from(["ao", "profiles"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Profiles(_))));

        let cli = Cli::try_parse_from(["ao", "install-skill", "--provider", "codex,pi"]).unwrap();
        match cli.command {
            Some(Command::InstallSkill(a)) => {
                assert_eq!(a.providers, [Provider::Codex, Provider::Pi]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["ao", "install-skill", "--provider", "vim"]).is_err());
        assert!(Cli::try_parse_from(["ao", "install-skill", "--all", "--provider", "pi"]).is_err());
    }
}
