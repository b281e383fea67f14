//! The agent CLI's session behind a run: a new id where the CLI lets us choose one, and
//! finding the id afterwards where it does not (its structured output, a file a generic
//! agent wrote, the CLI's own session store).

use std::hash::{BuildHasher, Hasher};

use crate::run::dir::{self, Manifest, RunDir};

/// A random version 4 UUID (`8-4-4-4-12` lowercase hex), for a CLI that takes its
/// session id from us (claude `--session-id`). Uniqueness is all it needs: the 122
/// random bits come from the standard library's randomly keyed hasher.
pub fn new_uuid() -> String {
    let state = std::hash::RandomState::new();
    let half = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    let bits = (u128::from(half(1)) << 64) | u128::from(half(2));
    // Version 4 in the 13th hex digit, variant 10xx in the 17th.
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The run's session id, best source first: what the CLI's structured output said
/// (`stream.json`, written by the relay as soon as it is seen), the id recorded when
/// the run started (assigned, or the one resumed), what a generic agent wrote to
/// `session_id`. The files can be written by the agent too: only a valid id is taken.
pub fn discover(run: &RunDir, manifest: &Manifest) -> Option<String> {
    if let Some(id) = run
        .small_file(dir::STREAM, 1024 * 1024)
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v["session_id"].as_str().map(str::to_owned))
        .filter(|id| dir::valid_session_id(id))
    {
        return Some(id);
    }
    if let Some(id) = &manifest.session_id {
        return Some(id.clone());
    }
    run.reported_session_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 36);
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{id}");
            assert!(dir::valid_session_id(id));
        }
    }

    #[test]
    fn only_plain_ids_are_valid() {
        for ok in ["ses_01J", "019a-ff", "a.b:c_d", "x"] {
            assert!(dir::valid_session_id(ok), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in ["", "-x", "a b", "a/b", "$(x)", "a\n", long.as_str()] {
            assert!(!dir::valid_session_id(bad), "{bad:?}");
        }
    }
}
