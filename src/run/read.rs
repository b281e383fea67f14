//! Reading what the agent left in the run directory: its summary, its exit status and
//! the tail of its output. These are the run's readable parts, as methods on
//! [`RunDir`], for the commands that show a run.

use crate::run::dir::{self, RunDir};

impl RunDir {
    /// The summary (`done.md`), if the agent published one.
    pub fn summary(&self) -> Option<String> {
        std::fs::read(self.file(dir::DONE))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The agent's exit status, as the launcher recorded it in `exit`.
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(self.file(dir::EXIT))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The agent's output log.
    pub fn log(&self) -> std::path::PathBuf {
        self.file(dir::OUTPUT)
    }

    /// The prompt as delivered.
    pub fn prompt_file(&self) -> std::path::PathBuf {
        self.file(dir::PROMPT)
    }

    /// The last `lines` non-blank lines of the output log (at most 8 KiB), as text.
    pub fn log_tail(&self, lines: usize) -> String {
        let Ok(bytes) = std::fs::read(self.log()) else {
            return String::new();
        };
        let start = bytes.len().saturating_sub(8 * 1024);
        let text = strip_terminal_codes(&String::from_utf8_lossy(&bytes[start..]));
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Removes terminal control sequences (a pane's transcript is full of them) and
/// carriage returns, so a log tail reads as text.
fn strip_terminal_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters, then one final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and friends: up to BEL or ST (ESC \\)
                Some(']' | 'P' | '_' | '^') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Two-byte sequences such as ESC ( B
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_codes_are_stripped() {
        assert_eq!(
            strip_terminal_codes("\u{1b}[1;32mok\u{1b}[0m\r\n\u{1b}]0;title\u{7}next\u{1b}(B"),
            "ok\nnext"
        );
    }
}
