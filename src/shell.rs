//! Quoting for POSIX sh: the generated launcher, the tmux pipe command, and command
//! lines shown to people.

/// Quotes `s` for POSIX sh: unchanged when it is plainly safe, else in single quotes
/// with each `'` written as `'\''`. The one quoting helper for everything generated.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
