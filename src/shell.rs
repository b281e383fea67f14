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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("plain-word_1.0/x"), "plain-word_1.0/x");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("a b"), "'a b'");
    }
}
