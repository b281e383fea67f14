//! What a session id may be, for every agent CLI: the one rule, used wherever an id
//! comes from a file or a stream the agent can write.

/// Whether `id` can be a session id: 1 to 128 characters of `[A-Za-z0-9._:-]`, not
/// starting with `-`. Every CLI's ids fit (UUIDs, `ses_…`, file stems); anything else —
/// a path, an option, shell syntax — is refused: an id is written into file names and
/// command lines.
pub fn valid(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn only_plain_ids_are_valid() {
        for ok in ["ses_01J", "019a-ff", "a.b:c_d", "x"] {
            assert!(valid(ok), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in ["", "-x", "a b", "a/b", "$(x)", "a\n", long.as_str()] {
            assert!(!valid(bad), "{bad:?}");
        }
    }
}
