//! Command-line definitions. `run` is the default subcommand: `agent-offload -p spark
//! "fix the bug"` is `agent-offload run -p spark "fix the bug"`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  agent-offload \"add a --verbose flag to the CLI\"      default profile, pane beside you
  agent-offload -p spark -H \"fix the failing test\"     profile spark, headless
  agent-offload -p spark < plan.md                     the plan on stdin
  agent-offload --timeout 30m -f plan.md               from a file, at most 30 minutes
  agent-offload -- run the tests and fix what fails    words after -- are all prompt
  agent-offload profiles                               list the configured profiles
  agent-offload doctor                                 check the setup, with fixes

Exit codes: 0 done (summary on stdout), 1 the agent failed or wrote no summary,
2 usage or config error, 124 timed out, 128+n ended by signal n.";

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
    /// List the configured profiles.
    Profiles(ProfilesArgs),
    /// Write a commented starter config file with a profile per agent CLI on PATH.
    Init(InitArgs),
    /// Check the setup: tmux, the config, each profile's command and variables, the
    /// state directory, the skill. Exit 1 if anything is broken.
    Doctor(DoctorArgs),
    /// Print a shell completion script (e.g. `agent-offload completions bash >
    /// ~/.local/share/bash-completion/completions/agent-offload`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout (e.g. `agent-offload man > agent-offload.1`).
    Man,
    /// About the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args, Default)]
// Each bool is an independent command-line flag.
#[allow(clippy::struct_excessive_bools)]
pub struct RunArgs {
    /// Profile to use (default: the config's `default_profile`).
    #[arg(short, long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Config file to use instead of discovering one.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Run without a terminal instead of in a tmux pane.
    #[arg(short = 'H', long, conflicts_with = "tmux")]
    pub headless: bool,

    /// Use a tmux pane even when the config says headless.
    #[arg(long)]
    pub tmux: bool,

    /// Read the prompt from this file.
    #[arg(short = 'f', long, value_name = "PATH", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,

    /// Stop the agent after this long (90s, 20m, 1h30m); exit 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// Working directory for the agent (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Copy a headless agent's output to stderr while it runs (at a terminal, instead
    /// of the live status line).
    #[arg(long)]
    pub stream: bool,

    /// Print nothing on stderr but errors: no progress, no live status line (stdout
    /// still carries the result).
    #[arg(short, long, conflicts_with = "stream")]
    pub quiet: bool,

    /// The prompt. Every word after the first is prompt text too; options go first.
    #[arg(
        value_name = "PROMPT",
        trailing_var_arg = true,
        allow_hyphen_values = false
    )]
    pub prompt: Vec<String>,
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

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the config file, for editors (see the README for the
    /// `# yaml-language-server: $schema=` line).
    Schema,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(s)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(cli.run.profile.as_deref(), Some("spark"));
        assert_eq!(cli.run.prompt, ["fix", "-p", "x"]);

        let cli = Cli::try_parse_from(["ao", "--", "run", "the", "tests"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.prompt, ["run", "the", "tests"]);

        let cli = Cli::try_parse_from(["ao", "profiles"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Profiles(_))));
    }
}
