//! Reading the prompt (words, `--prompt-file`, or stdin) and adding the completion
//! instructions that tell the agent how to publish its summary.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

use crate::exit::usage;
use crate::shell::quote;

/// Linux refuses one argv string longer than this (`MAX_ARG_STRLEN`, 32 pages, counting
/// the terminating NUL). A longer prompt cannot be an argument.
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

const NO_PROMPT: &str = "no prompt: give it as words (agent-offload \"fix the bug\"), with \
                         --prompt-file PATH, or on stdin (agent-offload < plan.md)";

/// The prompt from the first source that has one: the words, `--prompt-file`, or stdin
/// when stdin is not a terminal.
pub fn read(words: &[String], file: Option<&Path>, stdin: Option<&mut dyn Read>) -> Result<String> {
    let (text, from) = if !words.is_empty() {
        (words.join(" "), "the command line")
    } else if let Some(path) = file {
        let bytes = std::fs::read(path)
            .map_err(|e| usage(format!("cannot read prompt file {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| usage(format!("prompt file {} is not UTF-8 text", path.display())))?;
        (text, "the prompt file")
    } else if let Some(stdin) = stdin {
        let mut bytes = Vec::new();
        stdin
            .read_to_end(&mut bytes)
            .context("cannot read the prompt from stdin")?;
        if bytes.is_empty() {
            // Host agents run commands with stdin at /dev/null: an empty stdin usually
            // means no prompt was given at all, so say how to give one.
            return Err(usage(format!("{NO_PROMPT} (stdin was empty)")));
        }
        let text =
            String::from_utf8(bytes).map_err(|_| usage("the prompt on stdin is not UTF-8 text"))?;
        (text, "stdin")
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

/// The prompt as the agent receives it: the task, then how to publish the summary.
pub fn augment(prompt: &str, run_dir: &Path) -> String {
    let tmp = run_dir.join(crate::run::dir::DONE_TMP);
    let done = run_dir.join(crate::run::dir::DONE);
    let (tmp_s, done_s) = (tmp.to_string_lossy(), done.to_string_lossy());
    let mut out = String::with_capacity(prompt.len() + 900);
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
         the task asks you to.\n",
        quote(&tmp_s),
        quote(&done_s),
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

    #[test]
    fn words_win_and_are_joined_with_single_spaces() {
        let words = vec!["fix".to_owned(), "the  bug".to_owned()];
        assert_eq!(read(&words, None, None).unwrap(), "fix the  bug");
    }

    #[test]
    fn empty_prompts_are_refused() {
        let mut stdin: &[u8] = b"  \n\t";
        let err = read(&[], None, Some(&mut stdin)).unwrap_err();
        assert_eq!(err.to_string(), "the prompt from stdin is empty");
        let mut empty: &[u8] = b"";
        assert!(
            read(&[], None, Some(&mut empty))
                .unwrap_err()
                .to_string()
                .ends_with("(stdin was empty)")
        );
        assert!(
            read(&[], None, None)
                .unwrap_err()
                .to_string()
                .starts_with("no prompt")
        );
    }

    #[test]
    fn nul_bytes_are_refused() {
        let mut stdin: &[u8] = b"a\0b";
        let err = read(&[], None, Some(&mut stdin)).unwrap_err();
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
    }
}
