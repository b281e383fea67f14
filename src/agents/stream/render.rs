//! Writing the transcript: short, readable lines, never raw JSON, never a control
//! character (the CLIs' text could carry escape sequences).

use std::fmt::Write as _;

use serde_json::Value;

use super::{ARGS_CHARS, FINAL_MESSAGE_MAX, LINE_MAX, RESULT_LINE_CHARS, RESULT_LINES};

/// The transcript being written for one line of input.
#[derive(Default)]
pub struct Out(pub String);

impl Out {
    /// One line (its leading spaces kept), made printable, cut at `LINE_MAX`.
    pub fn line(&mut self, text: &str) {
        let body = text.trim_start_matches(' ');
        self.0.push_str(&text[..text.len() - body.len()]);
        self.0.push_str(&cap(&printable(&one_line(body)), LINE_MAX));
        self.0.push('\n');
    }

    /// A line as the CLI wrote it (not JSON, or an unknown event), cut at `LINE_MAX`.
    pub fn raw(&mut self, line: &str) {
        if line.len() > LINE_MAX {
            let kept = cap(line, LINE_MAX);
            let _ = writeln!(self.0, "{kept} (… {} more bytes)", line.len() - kept.len());
        } else {
            self.0.push_str(line);
            self.0.push('\n');
        }
    }

    /// Text as is (the agent's message), printable, each line ending in '\n'.
    pub fn text(&mut self, text: &str) {
        let text = text.trim_matches('\n');
        if text.trim().is_empty() {
            return;
        }
        let shown = cap(text, FINAL_MESSAGE_MAX);
        for line in printable(&shown).lines() {
            self.0.push_str(line);
            self.0.push('\n');
        }
        if shown.len() < text.len() {
            let _ = writeln!(self.0, "(… {} more bytes)", text.len() - shown.len());
        }
    }

    /// `$ command`, on one line.
    pub fn command(&mut self, command: &str) {
        self.line(&format!("$ {}", shorten(command, ARGS_CHARS)));
    }

    /// `→ tool args`, on one line.
    pub fn tool(&mut self, tool: &str, args: Option<&Value>) {
        let tool = shorten(tool, 60);
        match args.map(short_args).filter(|a| !a.is_empty()) {
            Some(args) => self.line(&format!("→ {tool} {args}")),
            None => self.line(&format!("→ {tool}")),
        }
    }

    /// A tool's output: at most `RESULT_LINES` lines, indented, then how many more.
    pub fn result(&mut self, text: &str) {
        let text = text.trim_end();
        let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
        for line in lines.by_ref().take(RESULT_LINES) {
            self.0.push_str("    ");
            self.0
                .push_str(&printable(&shorten_keep_indent(line, RESULT_LINE_CHARS)));
            self.0.push('\n');
        }
        let more = lines.count();
        if more > 0 {
            let _ = writeln!(self.0, "    (… {more} more lines)");
        }
    }

    /// `error: …`, the first line of it, indented as a tool's output when `indent`.
    pub fn error(&mut self, text: &str, indent: bool) {
        let prefix = if indent { "    error: " } else { "error: " };
        self.line(&format!("{prefix}{}", shorten(text, 400)));
    }

    /// The model's reasoning, one short line.
    pub fn thinking(&mut self, text: &str) {
        if !text.trim().is_empty() {
            self.line(&format!("(thinking) {}", shorten(text, ARGS_CHARS)));
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `s` on one line: whitespace runs (newlines included) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` on one line and at most `max` characters, with `…` where it was cut.
pub fn shorten(s: &str, max: usize) -> String {
    let s = one_line(&cap(s, max.saturating_mul(8)));
    shorten_chars(&s, max)
}

fn shorten_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// One line of output cut at `max` characters, leading indentation kept.
fn shorten_keep_indent(line: &str, max: usize) -> String {
    shorten_chars(line.trim_end(), max)
}

/// Control characters (escape sequences included) cannot colour or move the cursor in
/// the transcript: each becomes U+FFFD. Newlines and tabs stay; carriage returns go.
pub fn printable(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\r')
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A tool's arguments in a few words: the value of the one argument that says what the
/// call is about (a path, a command, a pattern), else `key=value` pairs; never JSON.
pub fn short_args(args: &Value) -> String {
    const SALIENT: [&str; 12] = [
        "command",
        "cmd",
        "file_path",
        "filePath",
        "path",
        "absolute_path",
        "pattern",
        "query",
        "url",
        "description",
        "prompt",
        "todos",
    ];
    match args {
        Value::Object(map) => {
            for key in SALIENT {
                if let Some(value) = map.get(key)
                    && let Some(text) = scalar(value)
                {
                    return shorten(&text, ARGS_CHARS);
                }
            }
            let pairs: Vec<String> = map
                .iter()
                .take(8)
                .map(|(k, v)| format!("{}={}", shorten(k, 40), scalar(v).unwrap_or("…".into())))
                .collect();
            shorten(&pairs.join(" "), ARGS_CHARS)
        }
        // Some CLIs pass the arguments as a JSON string.
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ Value::Object(_)) => short_args(&parsed),
            _ => shorten(s, ARGS_CHARS),
        },
        other => scalar(other)
            .map(|s| shorten(&s, ARGS_CHARS))
            .unwrap_or_default(),
    }
}

/// A scalar as text; a list or object is None (shown as `…`).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(shorten(s, ARGS_CHARS)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Dollars with up to six decimals and at least two: `0.00035`, `0.01234`, `1.50`.
pub fn dollars(cost: f64) -> String {
    let text = format!("{cost:.6}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() < 2 => format!("{cost:.2}"),
        _ => trimmed.to_owned(),
    }
}

/// An error message as a person reads it. gemini 0.61.0 wraps the API's JSON body in its
/// message (`[API Error: {"error":{"code":401,"message":"…","status":"…"}}]`): the
/// message inside is taken, with the code, so that no raw JSON reaches the transcript.
pub fn readable_error(message: &str) -> String {
    let message = message.trim();
    let (Some(start), Some(end)) = (message.find('{'), message.rfind('}')) else {
        return message.to_owned();
    };
    let Some(Ok(body)) = message.get(start..=end).map(serde_json::from_str::<Value>) else {
        return message.to_owned();
    };
    let inner = body.get("error").filter(|e| e.is_object()).unwrap_or(&body);
    let Some(text) = inner.get("message").and_then(Value::as_str) else {
        return message.to_owned();
    };
    let prefix = message[..start]
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(':');
    let code = inner.get("code").and_then(|c| match c {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    });
    let mut readable = String::new();
    if !prefix.is_empty() {
        readable.push_str(prefix);
        readable.push_str(": ");
    }
    if let Some(code) = code {
        readable.push_str(&code);
        readable.push(' ');
    }
    readable.push_str(text);
    readable
}
