//! The bundled skill that teaches a host agent to use agent-offload, and its safe
//! installation into each agent CLI's skill directory.
//!
//! How an edited copy is recognised: an installed file is "ours" when its bytes are
//! exactly the skill this binary bundles, or exactly one that an earlier release
//! bundled. Earlier releases are remembered by a 64-bit FNV-1a hash of their text in
//! [`PREVIOUS`] (a hash rather than the whole text keeps the binary small; the odds of
//! an edit colliding with one are 2^-64). Anything else was changed by a person and is
//! never overwritten or removed without `--force`. This needs no marker inside the
//! file (the frontmatter stays the two keys every CLI accepts) and no state file beside
//! it that could drift from the file it describes. The unit test `current_hash_is_recorded`
//! fails when SKILL.md changes, as a reminder to record the released text's hash.

pub mod install;
pub mod providers;

/// The skill's name: its directory name and the `name` in its frontmatter.
pub const NAME: &str = "agent-offload";
pub const FILE_NAME: &str = "SKILL.md";

/// The skill as shipped, compiled into the binary.
pub const BUNDLED: &str = include_str!("SKILL.md");

/// FNV-1a hash of [`BUNDLED`], kept here so that a unit test notices every change.
#[cfg(test)]
const CURRENT: u64 = 0x1dc2_05bb_c74c_0cb7;

/// FNV-1a hashes of the SKILL.md texts earlier releases installed: a copy equal to one
/// of them is outdated, not edited, and is updated in place. When a release ships a
/// changed SKILL.md, the previous release's hash moves here.
const PREVIOUS: &[u64] = &[];

/// What an existing file at the skill's path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    /// Exactly the bundled skill.
    Current,
    /// Exactly the skill of an earlier release.
    Outdated,
    /// Anything else: a person changed it.
    Modified,
}

pub fn classify(content: &[u8]) -> Copy {
    classify_against(content, BUNDLED.as_bytes(), PREVIOUS)
}

fn classify_against(content: &[u8], current: &[u8], previous: &[u64]) -> Copy {
    if content == current {
        Copy::Current
    } else if previous.contains(&fnv1a(content)) {
        Copy::Outdated
    } else {
        Copy::Modified
    }
}

/// 64-bit FNV-1a: tiny, stable across Rust versions and platforms (unlike `std`'s
/// hasher), and enough to tell our own texts from edited ones.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn current_hash_is_recorded() {
        assert_eq!(
            fnv1a(BUNDLED.as_bytes()),
            CURRENT,
            "src/skill/SKILL.md changed: set CURRENT to {:#018x}, and if the old text was \
             in a release, add its hash ({CURRENT:#018x}) to PREVIOUS so installed copies \
             of it are updated instead of reported as modified",
            fnv1a(BUNDLED.as_bytes())
        );
        assert!(!PREVIOUS.contains(&CURRENT));
    }

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn classification() {
        let old = b"old skill text\n";
        let previous = [fnv1a(old)];
        assert_eq!(classify_against(b"new", b"new", &previous), Copy::Current);
        assert_eq!(classify_against(old, b"new", &previous), Copy::Outdated);
        assert_eq!(
            classify_against(b"old skill text\n\n", b"new", &previous),
            Copy::Modified
        );
        assert_eq!(classify(BUNDLED.as_bytes()), Copy::Current);
        let mut edited = BUNDLED.to_owned();
        edited.push_str("my note\n");
        assert_eq!(classify(edited.as_bytes()), Copy::Modified);
    }

    /// The frontmatter is the two keys every CLI accepts, as valid YAML.
    #[test]
    fn frontmatter() {
        let rest = BUNDLED.strip_prefix("---\n").expect("starts with ---");
        let (yaml, body) = rest.split_once("\n---\n").expect("closing ---");
        let map: BTreeMap<String, String> = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["description", "name"]);
        assert_eq!(map["name"], NAME);
        let description = &map["description"];
        assert!(
            (50..=1024).contains(&description.len()),
            "description length {}",
            description.len()
        );
        assert!(body.contains("agent-offload profiles"));
    }
}
