//! Reading the prompt (words, `--prompt-file`, or stdin) and adding the completion
//! instructions that tell the agent how to publish its summary.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::exit::usage;
use crate::shell::quote;

/// Linux refuses one argv string longer than this (`MAX_ARG_STRLEN`, 32 pages, counting
/// the terminating NUL). A longer prompt cannot be an argument.
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

/// The largest prompt read from stdin or `--prompt-file`: far beyond any model's
/// context, and small enough that `agent-offload < /dev/zero` ends with an error
/// instead of reading until memory runs out.
const MAX_PROMPT_BYTES: u64 = 16 * 1024 * 1024;
/// [`MAX_PROMPT_BYTES`] as written in messages and the docs.
const MAX_PROMPT_TEXT: &str = "16 MiB";

/// How long a prompt may take to arrive before agent-offload says, once, on stderr
/// what it is waiting for: a host that runs us with a stdin it never closes would
/// otherwise see nothing at all.
const NOTICE_AFTER: Duration = Duration::from_secs(2);

const NO_PROMPT: &str = "no prompt: give it as words (agent-offload \"fix the bug\"), with \
                         --prompt-file PATH, or on stdin (agent-offload < plan.md)";

/// The longest wait for a prompt, and the option that set it (`--timeout`, ...), named
/// in the error when it passes.
pub type Limit = Option<(Duration, &'static str)>;

/// The prompt from the first source that has one: the words, `--prompt-file`, or stdin
/// when stdin is not a terminal (`stdin` is `None` at a terminal).
///
/// A file or stdin is read on a thread of its own, so that neither a stdin that never
/// reaches end of file nor a prompt file that is a FIFO without a writer can hold us
/// forever: `limit` bounds the wait (a usage error, exit 2: nothing was started), and
/// `notice` is told once, after [`NOTICE_AFTER`], what is being waited for.
#[cfg(test)]
pub fn read(
    words: &[String],
    file: Option<&Path>,
    stdin: Option<Box<dyn Read + Send>>,
    limit: Limit,
    notice: &dyn Fn(&str),
) -> Result<String> {
    read_or(words, file, stdin, limit, notice, None)
}

/// [`read`], except that no prompt at all (no words, no file, a terminal or an empty
/// stdin) gives `default`.
pub fn read_or(
    words: &[String],
    file: Option<&Path>,
    stdin: Option<Box<dyn Read + Send>>,
    limit: Limit,
    notice: &dyn Fn(&str),
    default: Option<&str>,
) -> Result<String> {
    let (text, from) = if !words.is_empty() {
        (words.join(" "), "the command line")
    } else if let Some(path) = file {
        let owned = path.to_path_buf();
        let bytes = read_bounded(
            move || std::fs::File::open(&owned).map(|f| Box::new(f) as Box<dyn Read + Send>),
            &format!("the prompt file {}", path.display()),
            limit,
            notice,
        )?
        .map_err(|e| usage(format!("cannot read prompt file {}: {e}", path.display())))?;
        let bytes = within_limit(bytes, "the prompt file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| usage(format!("prompt file {} is not UTF-8 text", path.display())))?;
        (text, "the prompt file")
    } else if let Some(stdin) = stdin {
        let bytes = read_bounded(move || Ok(stdin), "stdin", limit, notice)?
            .context("cannot read the prompt from stdin")?;
        let bytes = within_limit(bytes, "stdin")?;
        if let (true, Some(d)) = (bytes.is_empty(), default) {
            return Ok(d.to_owned());
        }
        if bytes.is_empty() {
            // Host agents run commands with stdin at /dev/null: an empty stdin usually
            // means no prompt was given at all, so say how to give one.
            return Err(usage(format!("{NO_PROMPT} (stdin was empty)")));
        }
        let text =
            String::from_utf8(bytes).map_err(|_| usage("the prompt on stdin is not UTF-8 text"))?;
        (text, "stdin")
    } else if let Some(d) = default {
        return Ok(d.to_owned());
    } else {
        return Err(usage(NO_PROMPT));
    };
    if text.trim().is_empty() {
        return Err(usage(format!("the prompt from {from} is empty")));
    }
    if text.contains('\0') {
        // No command-line argument can carry a NUL, and the shell would drop it
        // silently from an argument read from prompt.md: refuse rather than alter.
        return Err(usage(format!(
            "the prompt from {from} contains a NUL byte, which cannot be passed to an agent"
        )));
    }
    Ok(text)
}

/// Refuses a prompt over [`MAX_PROMPT_BYTES`] (the reader stops one byte past it).
fn within_limit(bytes: Vec<u8>, from: &str) -> Result<Vec<u8>> {
    if !u64::try_from(bytes.len()).is_ok_and(|n| n <= MAX_PROMPT_BYTES) {
        return Err(usage(format!(
            "the prompt from {from} is longer than the maximum, {MAX_PROMPT_TEXT}"
        )));
    }
    Ok(bytes)
}

/// Opens and reads a source to its end (at most one byte past [`MAX_PROMPT_BYTES`]) on
/// a thread, waiting for it as `limit` says. The outer error is the wait's (its limit
/// passed: a usage error); the inner one is the source's own I/O error.
///
/// When the limit passes, the thread is left blocked in `open` or `read`: the process
/// is about to exit with the error, which ends it.
fn read_bounded(
    open: impl FnOnce() -> std::io::Result<Box<dyn Read + Send>> + Send + 'static,
    what: &str,
    limit: Limit,
    notice: &dyn Fn(&str),
) -> Result<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("prompt reader".to_owned())
        .spawn(move || {
            let read = open().and_then(|source| {
                let mut bytes = Vec::new();
                source
                    .take(MAX_PROMPT_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map(|_| bytes)
            });
            // The receiver is gone only when the wait already gave up.
            let _ = tx.send(read);
        })
        .context("cannot start a thread to read the prompt")?;
    let start = Instant::now();
    let deadline = limit.and_then(|(d, _)| start.checked_add(d));
    let mut notice_at = start.checked_add(NOTICE_AFTER);
    loop {
        let until = match (notice_at, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let received = match until {
            Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(read) => return Ok(read),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("cannot read the prompt from {what}: the reading thread failed")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if let (Some(d), Some((limit, option))) = (deadline, limit)
            && now >= d
        {
            return Err(usage(format!(
                "no prompt arrived from {what} within {} ({option}); nothing was started",
                crate::duration::human(limit)
            )));
        }
        if notice_at.is_some_and(|t| now >= t) {
            notice_at = None;
            notice(&waiting_notice(what, limit));
        }
    }
}

/// What is said on stderr while the prompt has not arrived.
fn waiting_notice(what: &str, limit: Limit) -> String {
    let bound = match limit {
        Some((d, option)) => format!("; giving up after {} ({option})", crate::duration::human(d)),
        None => String::new(),
    };
    format!(
        "agent-offload: still reading the prompt from {what}: the run starts at its end of \
         file (close it, or give the prompt as words){bound}"
    )
}

/// The prompt as the agent receives it: the task, then how to publish the summary, or
/// a question when the agent cannot go on without an answer.
pub fn augment(prompt: &str, run_dir: &Path) -> String {
    let path = |name: &str| run_dir.join(name).to_string_lossy().into_owned();
    let (tmp_s, done_s) = (
        path(crate::store::dir::DONE_TMP),
        path(crate::store::dir::DONE),
    );
    let (qtmp_s, question_s) = (
        path(crate::store::dir::QUESTION_TMP),
        path(crate::store::dir::QUESTION),
    );
    let mut out = String::with_capacity(prompt.len() + 1400);
    out.push_str(prompt);
    if !prompt.ends_with('\n') {
        out.push('\n');
    }
    let _ = write!(
        out,
        "\n---\n\
         When you have completely finished the task above, write a concise summary for the \
         agent that delegated it to you: what you changed (files), which checks you ran and \
         their results, and any open problems. Write the summary to this file:\n\
         \n    {tmp_s}\n\n\
         and then rename it to:\n\
         \n    {done_s}\n\n\
         for example with the shell command: mv {} {}\n\
         Publish the summary once, as your very last step: the delegating agent is waiting \
         for {done_s} to appear, and stops this session when it does. Do not commit unless \
         the task asks you to.\n\
         \n\
         If you cannot go on without an answer from the agent that delegated the task (a \
         decision only it can make, information you cannot find), do not guess: write your \
         question to {qtmp_s}, rename it to {question_s} (mv {} {}), and stop. The answer \
         will come in this same session.\n",
        quote(&tmp_s),
        quote(&done_s),
        quote(&qtmp_s),
        quote(&question_s),
    );
    out
}

/// The short argument given instead of a prompt too long for the command line.
pub fn pointer_to(prompt_file: &Path) -> String {
    format!(
        "Your task is in the file {}: it is too long to pass on the command line. Read the \
         whole file and carry out the task it describes, including its last section on how \
         to report completion.",
        prompt_file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdin(bytes: &'static [u8]) -> Box<dyn Read + Send> {
        Box::new(bytes)
    }

    #[test]
    fn a_prompt_over_the_limit_is_refused() {
        let limit = usize::try_from(MAX_PROMPT_BYTES).unwrap();
        let big = Box::new(std::io::repeat(b'a'));
        let err = read(&[], None, Some(big), None, &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the prompt from stdin is longer than the maximum, 16 MiB"
        );
        let exact = Box::new(std::io::repeat(b'a').take(MAX_PROMPT_BYTES));
        assert_eq!(
            read(&[], None, Some(exact), None, &|_| {}).unwrap().len(),
            limit
        );
    }

    /// A reader that never ends: a stdin nobody closes.
    struct Forever;

    impl Read for Forever {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            loop {
                std::thread::park();
            }
        }
    }

    #[test]
    fn a_stdin_that_never_ends_is_bounded_by_the_limit() {
        let said = std::sync::Mutex::new(Vec::new());
        let notice = |m: &str| said.lock().unwrap().push(m.to_owned());
        let limit = Some((Duration::from_millis(50), "--timeout"));
        let err = read(&[], None, Some(Box::new(Forever)), limit, &notice).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no prompt arrived from stdin within 50ms (--timeout); nothing was started"
        );
        assert_eq!(crate::exit::code_for_error(&err), crate::exit::USAGE);
        // The limit came before the notice was due.
        assert!(said.lock().unwrap().is_empty());
        assert_eq!(
            waiting_notice("stdin", Some((Duration::from_secs(1800), "--timeout"))),
            "agent-offload: still reading the prompt from stdin: the run starts at its end of \
             file (close it, or give the prompt as words); giving up after 30m (--timeout)"
        );
    }

    #[test]
    fn words_win_and_are_joined_with_single_spaces() {
        let words = vec!["fix".to_owned(), "the  bug".to_owned()];
        assert_eq!(
            read(&words, None, None, None, &|_| {}).unwrap(),
            "fix the  bug"
        );
    }

    #[test]
    fn empty_prompts_are_refused() {
        let err = read(&[], None, Some(stdin(b"  \n\t")), None, &|_| {}).unwrap_err();
        assert_eq!(err.to_string(), "the prompt from stdin is empty");
        assert!(
            read(&[], None, Some(stdin(b"")), None, &|_| {})
                .unwrap_err()
                .to_string()
                .ends_with("(stdin was empty)")
        );
        assert!(
            read(&[], None, None, None, &|_| {})
                .unwrap_err()
                .to_string()
                .starts_with("no prompt")
        );
    }

    #[test]
    fn nul_bytes_are_refused() {
        let err = read(&[], None, Some(stdin(b"a\0b")), None, &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the prompt from stdin contains a NUL byte, which cannot be passed to an agent"
        );
    }

    #[test]
    fn augmented_prompt_keeps_the_task_and_names_absolute_paths() {
        let p = augment("do it", Path::new("/s/runs/x"));
        assert!(p.starts_with("do it\n"));
        assert!(p.contains("/s/runs/x/done.md.tmp"));
        assert!(p.contains("mv /s/runs/x/done.md.tmp /s/runs/x/done.md"));
        assert!(p.contains("mv /s/runs/x/question.md.tmp /s/runs/x/question.md"));
    }
}
