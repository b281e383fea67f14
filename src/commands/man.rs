//! `agent-offload man [--dir DIR]`: the man pages, generated from the clap definitions
//! with `clap_mangen`, so they cannot disagree with the parser.
//!
//! `clap_mangen` renders the title, name, synopsis, description, options and the list of
//! subcommands well; the list names a page per subcommand (`agent-offload-run(1)`), so
//! `--dir` writes those pages too, recursively (`agent-offload-config-schema.1`). What
//! `clap_mangen` does with `after_help` does not suit ours: every line becomes filled
//! text, and the aligned example lines are reflowed mid-line. So the text after the
//! options is rendered here: examples and indented lists in no-fill blocks (`.nf`),
//! prose as paragraphs, under EXAMPLES, EXIT STATUS or NOTES.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

pub fn man(dir: Option<&Path>) -> Result<u8> {
    let cmd = root();
    let Some(dir) = dir else {
        super::print_document(&render(&cmd)?)?;
        return Ok(0);
    };
    crate::atomic::create_dir_all(dir)?;
    for (name, page) in pages(&cmd)? {
        let path = dir.join(name);
        crate::atomic::write(&path, &page, 0o644)?;
        super::outln!("{}", path.display())?;
    }
    Ok(0)
}

/// The command tree as the pages show it: built (so each subcommand knows its full
/// name, `agent-offload-run`), without clap's `help` subcommand, which has no page.
fn root() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every page, `(file name, roff)`: the command's, then each visible subcommand's,
/// depth first.
fn pages(cmd: &clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = vec![(format!("{}.1", page_name(cmd)), render(cmd)?)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(pages(sub)?);
    }
    Ok(out)
}

/// `agent-offload`, `agent-offload-run`: the name `clap_mangen` gives the page (and
/// cites in SUBCOMMANDS).
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>> {
    // Every page's footer names the program and its version, not the subcommand.
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("agent-offload {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    let context = || format!("cannot render the man page {}", page_name(cmd));
    man.render_title(&mut out).with_context(context)?;
    man.render_name_section(&mut out).with_context(context)?;
    man.render_synopsis_section(&mut out)
        .with_context(context)?;
    man.render_description_section(&mut out)
        .with_context(context)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).with_context(context)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)
            .with_context(context)?;
    }
    if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        out.extend_from_slice(after_help(&text.to_string()).as_bytes());
    }
    if cmd.get_version().is_some() || cmd.get_long_version().is_some() {
        man.render_version_section(&mut out).with_context(context)?;
    }
    Ok(out)
}

/// The `--help` text after the options as roff. Paragraphs are separated by blank
/// lines; one that starts `Examples:` is the EXAMPLES section, one that starts
/// `Exit codes:` the EXIT STATUS section, the rest NOTES. Indented lines (examples,
/// lists) are kept as written, in a no-fill block; other lines are filled prose.
fn after_help(text: &str) -> String {
    let mut out = String::new();
    let mut section = "";
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let (title, body) = if let Some(rest) = paragraph.strip_prefix("Examples:\n") {
            ("EXAMPLES", rest)
        } else if let Some(rest) = paragraph.strip_prefix("Exit codes:") {
            ("EXIT STATUS", rest.trim_start())
        } else {
            ("NOTES", paragraph)
        };
        if title != section {
            let _ = writeln!(out, ".SH \"{title}\"");
            section = title;
        }
        let mut verbatim = false;
        for (i, line) in body.lines().enumerate() {
            let indented = line.starts_with(' ');
            if i == 0 || indented != verbatim {
                if verbatim {
                    out.push_str(".fi\n");
                }
                if i == 0 {
                    out.push_str(".PP\n");
                }
                if indented {
                    out.push_str(".nf\n");
                }
                verbatim = indented;
            }
            out.push_str(&escape(line));
            out.push('\n');
        }
        if verbatim {
            out.push_str(".fi\n");
        }
    }
    out
}

/// A line of text for roff: a backslash written as `\e`, a hyphen as `\-` (so it
/// copies as the ASCII hyphen an option needs), and `\&` before a leading `.` or `'`
/// (which would make it a request).
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    if line.starts_with(['.', '\'']) {
        out.push_str("\\&");
    }
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_kept_as_written_and_prose_is_filled() {
        let text = "Examples:\n  ao -p x \"a\"     one\n  ao wait         two\n\n\
                    Exit codes: 0 done,\n1 failed.\n\nRUN is an id.\nOr `last`.";
        assert_eq!(
            after_help(text),
            ".SH \"EXAMPLES\"\n.PP\n.nf\n  ao \\-p x \"a\"     one\n  ao wait         two\n.fi\n\
             .SH \"EXIT STATUS\"\n.PP\n0 done,\n1 failed.\n\
             .SH \"NOTES\"\n.PP\nRUN is an id.\nOr `last`.\n"
        );
    }

    #[test]
    fn a_heading_line_then_an_indented_list() {
        assert_eq!(
            after_help("Providers:\n  a   ~/.a\n  b   ~/.b\nThe end."),
            ".SH \"NOTES\"\n.PP\nProviders:\n.nf\n  a   ~/.a\n  b   ~/.b\n.fi\nThe end.\n"
        );
    }

    #[test]
    fn roff_requests_and_escapes_are_neutralised() {
        assert_eq!(escape(".SH x"), "\\&.SH x");
        assert_eq!(escape("'x"), "\\&'x");
        assert_eq!(escape("a\\fB-b"), "a\\efB\\-b");
    }

    #[test]
    fn a_page_per_visible_subcommand_at_every_level() {
        let cmd = root();
        let pages = pages(&cmd).unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "agent-offload.1");
        assert!(names.contains(&"agent-offload-run.1"), "{names:?}");
        assert!(
            names.contains(&"agent-offload-config-schema.1"),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }
}
