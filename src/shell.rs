//! Quoting for POSIX sh: the generated launcher, the tmux pipe command, and command
//! lines shown to people.

/// Quotes `s` for POSIX sh: unchanged when it is plainly safe, else in single quotes
/// with each `'` written as `'\''`. The one quoting helper for everything generated.
pub fn quote(s: &str) -> String {
    if is_plain(s.as_bytes()) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// [`quote`] for bytes that need not be UTF-8 (environment values, PATH): the same
/// quoting, byte for byte, so that a value reaches the shell exactly. sh keeps every
/// byte but NUL inside single quotes, and no environment value holds a NUL.
pub fn quote_bytes(b: &[u8]) -> Vec<u8> {
    if is_plain(b) {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len() + 2);
    out.push(b'\'');
    for &byte in b {
        if byte == b'\'' {
            out.extend_from_slice(br"'\''");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
    out
}

/// Whether `b` is plainly safe unquoted: not empty, and only letters, digits and
/// `_./:=@%+,-`.
fn is_plain(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(b))
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

    #[test]
    fn byte_quoting_is_quote_for_text_and_keeps_other_bytes() {
        for s in [
            "plain-word_1.0/x",
            "",
            "it's",
            "$(rm -rf /)",
            "a b",
            "é ' ü",
        ] {
            assert_eq!(quote_bytes(s.as_bytes()), quote(s).as_bytes(), "{s:?}");
        }
        assert_eq!(quote_bytes(b"a\xff'\xfe"), b"'a\xff'\\''\xfe'");
    }
}
