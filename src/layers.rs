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

    /// A file's module path under `src/` (`run/mod.rs` is `run`, `run/agent.rs` is
    /// `run::agent`).
    fn module_path(relative: &Path) -> Vec<String> {
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod" || l == "main") {
            parts.pop();
        }
        parts
    }

    /// The module paths `text` (the file of module `me`) names with `crate::` or
    /// `super::`, as written (the caller finds the module each one is in).
    fn paths(text: &str, me: &[String]) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest
                .find("crate::")
                .into_iter()
                .chain(rest.find("super::"))
                .min()
            {
                let before = rest[..i].chars().next_back();
                let mut tail = &rest[i..];
                let mut path: Vec<String> = Vec::new();
                if tail.starts_with("crate::") {
                    tail = &tail["crate::".len()..];
                } else {
                    let mut up = 0;
                    while let Some(t) = tail.strip_prefix("super::") {
                        up += 1;
                        tail = t;
                    }
                    path = me[..me.len().saturating_sub(up)].to_vec();
                }
                loop {
                    let word: String = tail
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if word.is_empty() {
                        break;
                    }
                    tail = &tail[word.len()..];
                    path.push(word);
                    match tail.strip_prefix("::") {
                        Some(t) => tail = t,
                        None => break,
                    }
                }
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    found.push(path);
                }
                rest = tail;
            }
        }
        found
    }

    /// No two files of one module use each other, directly or through others: within
    /// a layer too, the uses go one way. (A folder's `mod.rs` re-exporting its files is
    /// not counted as a use of them.)
    #[test]
    fn no_file_uses_another_that_uses_it_back() {
        use std::collections::{BTreeMap, BTreeSet};
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let modules: BTreeMap<Vec<String>, &std::path::PathBuf> = files
            .iter()
            .map(|f| (module_path(f.strip_prefix(&src).unwrap()), f))
            .collect();
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (me, file) in &modules {
            if me.is_empty() || me[0] == "layers" {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap();
            for path in paths(&text, me) {
                let target = (1..=path.len())
                    .rev()
                    .map(|n| path[..n].to_vec())
                    .find(|p| modules.contains_key(p));
                if let Some(t) = target.filter(|t| t != me && t[0] == me[0]) {
                    edges.entry(me.clone()).or_default().insert(t);
                }
            }
        }
        let reaches = |from: &Vec<String>, to: &Vec<String>| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.clone()];
            while let Some(m) = todo.pop() {
                if &m == to {
                    return true;
                }
                if seen.insert(m.clone()) {
                    todo.extend(edges.get(&m).into_iter().flatten().cloned());
                }
            }
            false
        };
        let circles: BTreeSet<(String, String)> = edges
            .iter()
            .flat_map(|(a, bs)| bs.iter().map(move |b| (a, b)))
            .filter(|(a, b)| reaches(b, a))
            .map(|(a, b)| (a.join("::"), b.join("::")))
            .collect();
        assert!(
            circles.is_empty(),
            "files that use each other (each pair: one use of a circle): {circles:?}"
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
        let me = ["run".to_owned(), "agent".to_owned()];
        assert_eq!(
            paths("use super::dir::{A};\nx = crate::os::stop::GRACE;", &me),
            [
                vec!["run", "dir"],
                vec!["os", "stop", "GRACE"].into_iter().take(2).collect()
            ]
        );
    }
}
