//! The commented starter config that `agent-offload init` writes: a profile for each
//! agent CLI found on PATH (from `agents::BUILTINS`), and commented examples of what
//! people change next.

use std::fmt::Write as _;

use super::Detected;
use crate::agents::{BUILTINS, Builtin};

/// The commented examples, each a profile under `profiles:` (indented two spaces)
/// built for `b`. Kept as data so a test can uncomment them and load the result.
pub fn examples(b: &Builtin) -> Vec<(&'static str, String)> {
    let name = b.profile;
    let head = |suffix: &str, extra: &[&str]| {
        let mut args: Vec<&str> = b.args.to_vec();
        args.extend_from_slice(extra);
        let mut s = format!(
            "{name}-{suffix}:\n  command: {}\n  interface: {}\n",
            b.executables[0],
            b.interface.name()
        );
        if !args.is_empty() {
            let _ = writeln!(s, "  args: {}", flow_list(&args));
        }
        s
    };
    vec![
        (
            "Another model of the same CLI, as a profile of its own (replace MODEL):",
            head("other-model", &["--model", "MODEL"]),
        ),
        (
            "A variable from your environment, handed to the agent without being written \
             anywhere\n(an unset variable stops the run before it starts):",
            head("work", &[])
                + "  env:\n    API_KEY: {from_env: WORK_API_KEY}\n    LOG_LEVEL: info\n",
        ),
        (
            "Headless (no tmux pane: works outside tmux, output goes to the run's \
             output.log),\nstopped after 30 minutes:",
            head("headless", &[]) + "  headless: true\n  timeout: 30m\n",
        ),
    ]
}

/// The config text for the detected CLIs (or, when none is, for claude, to edit).
pub fn render(detected: &[Detected]) -> String {
    render_with(detected, false)
}

/// `render`, with the examples commented out or (for tests) active.
fn render_with(detected: &[Detected], examples_active: bool) -> String {
    let mut out = String::from(
        "# agent-offload config, written by `agent-offload init`.\n\
         # Profiles say how to start an agent CLI; `agent-offload -p NAME \"task\"` uses one,\n\
         # `agent-offload profiles` lists them, `agent-offload doctor` checks them.\n\
         # Every field is described in docs/configuration.md of the agent-offload repository.\n\
         #\n\
         # To have your editor complete and check this file (yaml-language-server):\n\
         #   agent-offload config schema > ~/.config/agent-offload/config.schema.json\n\
         # and add this line at the top, with that path:\n\
         #   # yaml-language-server: $schema=/home/you/.config/agent-offload/config.schema.json\n\n",
    );
    let chosen: Vec<(&Builtin, &str, bool)> = if detected.is_empty() {
        vec![(&BUILTINS[0], BUILTINS[0].executables[0], false)]
    } else {
        detected
            .iter()
            .map(|d| (d.builtin, d.executable, true))
            .collect()
    };
    let _ = writeln!(
        out,
        "# Used when no -p/--profile is given.\ndefault_profile: {}\n",
        chosen[0].0.profile
    );
    out.push_str(
        "# Where agents run by default: false = in a tmux pane beside yours (you can watch\n\
         # and type), true = headless. -H / --tmux on the command line override it.\n\
         headless: false\n\
         # A pane beside yours narrower than this many columns opens in a new window instead.\n\
         # min_pane_width: 80\n\n\
         profiles:\n",
    );
    for (b, executable, found) in &chosen {
        if *found {
            let _ = writeln!(out, "  # {executable} (found on PATH)");
        } else {
            let text = format!(
                "No agent CLI was found on PATH ({}): install one, or change this profile's \
                 command.",
                crate::agents::Builtin::all_executables().join(", ")
            );
            push_comment(&mut out, "  ", &text);
        }
        let _ = writeln!(
            out,
            "  {}:\n    command: {executable}\n    interface: {}",
            b.profile,
            b.interface.name()
        );
        if !b.args.is_empty() {
            let _ = writeln!(
                out,
                "    # Unattended: the agent does not stop to ask for permissions.\n    args: {}",
                flow_list(b.args)
            );
        }
        if !b.env.is_empty() {
            out.push_str("    env:\n");
            for (k, v) in b.env {
                let _ = writeln!(out, "      {k}: {}", yaml_string(v));
            }
        }
    }
    for (comment, yaml) in examples(chosen[0].0) {
        out.push('\n');
        for line in comment.lines() {
            let _ = writeln!(out, "  # {line}");
        }
        let mark = if examples_active { "" } else { "# " };
        for line in yaml.lines() {
            let _ = writeln!(out, "  {mark}{line}");
        }
    }
    out
}

/// The widest line the starter file has: it is read in terminals and editors.
pub const MAX_WIDTH: usize = 100;

/// `text` as `# ` comment lines indented by `indent`, wrapped at spaces to
/// [`MAX_WIDTH`] columns (a single word longer than that stays whole).
fn push_comment(out: &mut String, indent: &str, text: &str) {
    let prefix = format!("{indent}# ");
    let mut line = prefix.clone();
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > MAX_WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clone_from(&prefix);
        }
        if line.len() > prefix.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

fn flow_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| yaml_string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
fn yaml_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;
    use crate::config::{Origin, from_text};

    fn detected(names: &[&str]) -> Vec<Detected> {
        names
            .iter()
            .map(|n| {
                let builtin = BUILTINS.iter().find(|b| b.profile == *n).unwrap();
                Detected {
                    builtin,
                    executable: builtin.executables[0],
                    path: Path::new("/usr/bin").join(builtin.executables[0]),
                }
            })
            .collect()
    }

    fn load(text: &str) -> crate::config::Config {
        let env = |_: &str| None::<OsString>;
        from_text(text, Path::new("/x/config.yaml"), Origin::User, &env)
            .unwrap_or_else(|e| panic!("{e:#}\n{text}"))
    }

    /// Every line of the starter fits in [`MAX_WIDTH`] columns, whichever CLIs are found.
    #[test]
    fn no_line_is_wider_than_the_limit() {
        let mut cases: Vec<Vec<&str>> = BUILTINS.iter().map(|b| vec![b.profile]).collect();
        cases.push(vec![]);
        cases.push(BUILTINS.iter().map(|b| b.profile).collect());
        for names in cases {
            for active in [false, true] {
                let text = render_with(&detected(&names), active);
                for line in text.lines() {
                    assert!(
                        line.chars().count() <= MAX_WIDTH,
                        "{} columns: {line}",
                        line.chars().count()
                    );
                }
            }
        }
    }

    #[test]
    fn comments_wrap_at_spaces() {
        let mut out = String::new();
        let long = "word ".repeat(30);
        push_comment(&mut out, "  ", &long);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("  # word") && l.len() <= MAX_WIDTH)
        );
        assert_eq!(out.matches("word").count(), 30);
    }

    /// The starter, and the starter with its examples uncommented, load with our own
    /// loader, for every CLI and for none.
    #[test]
    fn starter_and_its_examples_load() {
        let mut cases: Vec<Vec<&str>> = BUILTINS.iter().map(|b| vec![b.profile]).collect();
        cases.push(vec![]);
        cases.push(BUILTINS.iter().map(|b| b.profile).collect());
        for names in cases {
            let found = detected(&names);
            let text = render(&found);
            let config = load(&text);
            let want: Vec<&str> = if names.is_empty() {
                vec!["claude"]
            } else {
                names
            };
            assert_eq!(config.profiles.keys().collect::<Vec<_>>(), want);
            assert_eq!(config.default_profile, want[0]);
            for name in &want {
                let b = BUILTINS.iter().find(|b| b.profile == *name).unwrap();
                assert_eq!(config.profiles[*name].args, b.args, "{name}");
                assert_eq!(config.profiles[*name].interface, b.interface, "{name}");
            }

            let uncommented = render_with(&found, true);
            let config = load(&uncommented);
            let base = want[0];
            for suffix in ["other-model", "work", "headless"] {
                assert!(
                    config.profiles.contains_key(&format!("{base}-{suffix}")),
                    "{suffix} missing from\n{uncommented}"
                );
            }
            let headless = &config.profiles[&format!("{base}-headless")];
            assert_eq!(headless.headless, Some(crate::profile::Headless::Yes));
            assert!(headless.timeout.is_some());
        }
    }
}
