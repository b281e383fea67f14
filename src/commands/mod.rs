//! One file per subcommand: each turns arguments into calls on the modules below and
//! returns the exit code.

mod cancel;
pub mod completions;
mod config;
mod continue_run;
mod doctor;
mod fanout;
mod init;
mod install_skill;
mod logs;
mod man;
mod profiles;
mod prompt;
mod prune;
mod report;
mod run;
mod runs;
mod show;
mod top;
mod wait;
mod worktree;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{Cli, Command};
pub use fanout::{KEEPER_COMMAND as FANOUT_KEEPER_COMMAND, keeper_main as fanout_keeper_main};

/// How commands read the environment: passed in, so tests never mutate the process env.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let env = |k: &str| std::env::var_os(k);
    match cli.command {
        None => run::run(&cli.run, &env),
        Some(Command::Run(args)) => run::run(&args, &env),
        Some(Command::Continue(args)) => continue_run::run(&args, &env),
        Some(Command::Wait(args)) => wait::run(&args, &env),
        Some(Command::Runs(args)) => runs::runs(&args, &env),
        Some(Command::Show(args)) => show::show(&args, &env),
        Some(Command::Top(args)) => top::top(&args, &env),
        Some(Command::Logs(args)) => logs::logs(&args, &env),
        Some(Command::Cancel(args)) => cancel::cancel(&args, &env),
        Some(Command::Apply(args)) => worktree::apply(&args, &env),
        Some(Command::Merge(args)) => worktree::merge(&args, &env),
        Some(Command::Discard(args)) => worktree::discard(&args, &env),
        Some(Command::Prune(args)) => prune::prune(&args, &env),
        Some(Command::Profiles(args)) => profiles::run(&args, &env),
        Some(Command::InstallSkill(args)) => install_skill::install(&args, &env),
        Some(Command::UninstallSkill(args)) => install_skill::uninstall(&args, &env),
        Some(Command::Init(args)) => init::run(&args, &env),
        Some(Command::Doctor(args)) => doctor::run(&args, &env),
        Some(Command::Completions { shell }) => completions::completions(shell),
        Some(Command::Man(args)) => man::man(args.dir.as_deref()),
        Some(Command::Config(command)) => config::run(&command),
    }
}

/// Writes a whole document to stdout (see [`Stdout`]).
pub fn print_document(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = Stdout;
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Whether a write to stdout found the reader gone (see [`Stdout`]).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether stdout's reader is gone: a command that would go on printing (`logs -f`)
/// stops.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// stdout, for every command's result. A reader that closes the pipe early (`| head
/// -1`) got what it wanted: from then on what is written is dropped, never an error
/// and never a panic (`println!` panics on EPIPE), and the command ends with the exit
/// code it has anyway. Any other write error is an error.
pub struct Stdout;

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        match std::io::stdout().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        match std::io::stdout().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
}

/// `println!` for a command's result, through [`Stdout`]: an `io::Result` to `?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::commands::Stdout, $($arg)*)
    }};
}
pub(crate) use outln;

/// The run a command names (id, unique prefix, or `last`), or without one the newest
/// run started from the current directory: what `wait`, `show` and `logs` act on.
pub fn run_or_newest_here(root: &Path, spec: Option<&str>) -> anyhow::Result<crate::run::RunDir> {
    use crate::run::{self, Manifest};
    if let Some(spec) = spec {
        return run::resolve(root, spec);
    }
    let cwd = std::env::current_dir()?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    run::list(root)
        .into_iter()
        .find(|r| Manifest::load(r).is_ok_and(|m| m.origin() == cwd))
        .ok_or_else(|| {
            crate::exit::usage(format!(
                "no run was started from {}; name one (agent-offload runs lists them)",
                cwd.display()
            ))
        })
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `path` with the home directory shown as `~`, for messages.
pub fn tilde(path: &Path, home: Option<&Path>) -> String {
    if let Some(home) = home.filter(|h| h.is_absolute() && *h != Path::new("/"))
        && let Ok(rest) = path.strip_prefix(home)
    {
        return if rest.as_os_str().is_empty() {
            "~".to_owned()
        } else {
            format!("~/{}", rest.display())
        };
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_only_for_paths_under_home() {
        let home = Some(Path::new("/home/u"));
        assert_eq!(tilde(Path::new("/home/u/.claude"), home), "~/.claude");
        assert_eq!(tilde(Path::new("/home/u"), home), "~");
        assert_eq!(tilde(Path::new("/home/user2/x"), home), "/home/user2/x");
        assert_eq!(tilde(Path::new("/etc/x"), home), "/etc/x");
        assert_eq!(tilde(Path::new("/etc/x"), Some(Path::new("/"))), "/etc/x");
        assert_eq!(tilde(Path::new("/etc/x"), None), "/etc/x");
    }
}
