//! The architecture as a test: every top-level module has a layer, and a module may use
//! only modules of lower layers (so no import circle can form between modules). The
//! table is the map CONTRIBUTING.md draws; a new module must be placed in it.
//!
//! `KNOWN` lists the upward uses that the move to this map has not removed yet. It may
//! only shrink: an entry that no longer occurs fails the test too, so that the list
//! stays exactly what is left to do.

/// Module → layer; higher layers use lower ones, never the reverse or a sibling.
const LAYERS: &[(&str, u8)] = &[
    ("main", 100),
    ("commands", 90),
    ("status_line", 75),
    ("run", 70),
    ("cli", 65),
    ("pane", 62),
    ("git", 60),
    ("config", 55),
    ("skill", 52),
    ("agents", 50),
    ("store", 40),
    ("os", 30),
    ("profile", 25),
    ("usage", 22),
    ("exit", 15),
    ("outcome", 12),
    ("interface", 10),
    ("duration", 5),
    ("atomic", 5),
    ("shell", 5),
    ("session_id", 5),
    ("style", 5),
    ("search_path", 5),
    ("names", 2),
    ("layers", 1),
];

/// Upward or sideways uses still to remove, as (from, to).
const KNOWN: &[(&str, &str)] = &[];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::{KNOWN, LAYERS};

    fn layer(module: &str) -> Option<u8> {
        LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
    }

    /// The top-level module a file under `src/` belongs to.
    fn module_of(relative: &Path) -> String {
        let first = relative.components().next().unwrap();
        let name = first.as_os_str().to_string_lossy();
        name.strip_suffix(".rs").unwrap_or(&name).to_owned()
    }

    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The modules `text` names as `crate::NAME`, comments left out.
    fn uses(text: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let before = code[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    continue;
                }
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
        found
    }

    #[test]
    fn modules_use_only_lower_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut wrong = BTreeSet::new();
        let mut unplaced = BTreeSet::new();
        for file in &files {
            let from = module_of(file.strip_prefix(&src).unwrap());
            if from == "layers" {
                continue; // this file names modules in its table and its own test
            }
            let Some(from_layer) = layer(&from) else {
                unplaced.insert(from);
                continue;
            };
            let text = std::fs::read_to_string(file).unwrap();
            for to in uses(&text) {
                if to == from {
                    continue;
                }
                match layer(&to) {
                    None => {
                        unplaced.insert(to);
                    }
                    Some(to_layer) if to_layer >= from_layer => {
                        wrong.insert((from.clone(), to));
                    }
                    Some(_) => {}
                }
            }
        }
        assert!(
            unplaced.is_empty(),
            "modules without a layer (add them to LAYERS in src/layers.rs): {unplaced:?}"
        );
        let known: BTreeSet<(String, String)> = KNOWN
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        let new: Vec<_> = wrong.difference(&known).collect();
        let gone: Vec<_> = known.difference(&wrong).collect();
        assert!(
            new.is_empty(),
            "uses that point up or sideways (a lower layer must not know a higher one): {new:?}"
        );
        assert!(
            gone.is_empty(),
            "KNOWN lists uses that no longer occur: remove them: {gone:?}"
        );
    }

    #[test]
    fn the_scan_sees_a_use_that_points_up() {
        // The check itself: a use in a comment is not a use, a path is.
        assert!(uses("// crate::run::x").is_empty());
        assert_eq!(
            uses("use crate::run::dir;\nlet x = crate::os::pid();")
                .into_iter()
                .collect::<Vec<_>>(),
            ["os", "run"]
        );
        assert!(uses("let s = \"$crate::x\";").is_empty());
    }
}
