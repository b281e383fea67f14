//! Colour, only where it belongs: on a terminal, and never with `NO_COLOR` set
//! (<https://no-color.org>: present and not empty) or on a dumb terminal.

use std::ffi::OsString;

use anstyle::{AnsiColor, Style};

/// Whether to colour output going to a stream that `is_terminal` or not.
pub fn color_wanted(is_terminal: bool, env: &dyn Fn(&str) -> Option<OsString>) -> bool {
    is_terminal
        && env("NO_COLOR").is_none_or(|v| v.is_empty())
        && env("TERM").is_none_or(|t| t != "dumb")
}

/// Paints text, or leaves it alone when colour is off.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    pub color: bool,
}

impl Paint {
    fn paint(self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    pub fn good(self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default().bold(), text)
    }

    pub fn bad(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default().bold(), text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_pipes_turn_it_off() {
        let none = |_: &str| None;
        let no_color = |k: &str| (k == "NO_COLOR").then(|| OsString::from("1"));
        let empty_no_color = |k: &str| (k == "NO_COLOR").then(OsString::new);
        assert!(color_wanted(true, &none));
        assert!(!color_wanted(false, &none));
        assert!(!color_wanted(true, &no_color));
        assert!(color_wanted(true, &empty_no_color));
        let dumb = |k: &str| (k == "TERM").then(|| OsString::from("dumb"));
        let xterm = |k: &str| (k == "TERM").then(|| OsString::from("xterm-256color"));
        assert!(!color_wanted(true, &dumb));
        assert!(color_wanted(true, &xterm));
        assert_eq!(Paint { color: false }.good("ok"), "ok");
        assert_eq!(
            Paint { color: true }.bad("x"),
            "\u{1b}[1m\u{1b}[31mx\u{1b}[0m"
        );
    }
}
