//! `install-skill` / `uninstall-skill` against a temporary HOME: detection, override
//! variables, the install → edit → force → uninstall cycle, dry runs, output lines.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{BIN, Test};

/// The skill exactly as the binary bundles it.
const BUNDLED: &str = include_str!("../../src/skill/SKILL.md");
const SKILL: &str = "skills/agent-offload/SKILL.md";
const SKIPPED: &str = "skipped: modified locally (use --force)";

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file, directory and symlink under `root` with its mode and content: two equal
/// snapshots mean nothing was created, changed, removed or re-permissioned.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let content = if meta.is_dir() {
                stack.push(p.clone());
                Vec::new()
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                std::fs::read(&p).unwrap()
            };
            out.insert(
                p.strip_prefix(root).unwrap().to_path_buf(),
                (meta.mode(), content),
            );
        }
    }
    out
}

/// One result line: `provider  path: what`, the provider padded to 8 columns.
fn line(provider: &str, path: &str, what: &str) -> String {
    format!("{provider:<8}  {path}: {what}\n")
}

/// The result line of a provider whose directory is under HOME, at its default.
fn at(provider: &str, what: &str) -> String {
    let dir = match provider {
        "claude" => "~/.claude",
        "codex" => "~/.codex",
        "pi" => "~/.pi/agent",
        "gemini" => "~/.gemini",
        "agents" => "~/.agents",
        other => panic!("{other} is not under HOME by default"),
    };
    line(provider, &format!("{dir}/{SKILL}"), what)
}

#[test]
fn installs_where_a_config_directory_exists() {
    let t = Test::new();
    let home = t.path().join("home");
    mkdir(&home.join(".claude"));
    mkdir(&home.join(".agents"));
    let out = t.arg("install-skill").run();
    out.status(0).stdout_is(&format!(
        "{}{}",
        line(
            "claude",
            "~/.claude/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "agents",
            "~/.agents/skills/agent-offload/SKILL.md",
            "installed"
        ),
    ));
    assert_eq!(out.stderr(), "");
    assert_eq!(read(&home.join(".claude").join(SKILL)), BUNDLED);
    assert_eq!(read(&home.join(".agents").join(SKILL)), BUNDLED);
    for absent in [".codex", ".gemini", ".pi"] {
        assert!(!home.join(absent).exists(), "{absent} was created");
    }
    assert!(!out.test.path().join("config/opencode").exists());
    // Nothing but the skill in its directory: no temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(home.join(".claude/skills/agent-offload"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["SKILL.md"]);
}

/// Each provider alone, found by its default directory.
#[test]
fn each_provider_is_detected_by_its_own_directory() {
    let cases = [
        ("claude", "home/.claude", "~/.claude"),
        ("codex", "home/.codex", "~/.codex"),
        ("opencode", "config/opencode", ""),
        ("pi", "home/.pi/agent", "~/.pi/agent"),
        ("gemini", "home/.gemini", "~/.gemini"),
        ("agents", "home/.agents", "~/.agents"),
    ];
    for (name, dir, shown) in cases {
        let t = Test::new();
        let dir = t.path().join(dir);
        mkdir(&dir);
        let shown = if shown.is_empty() {
            dir.display().to_string()
        } else {
            shown.to_owned()
        };
        let out = t.arg("install-skill").run();
        out.status(0)
            .stdout_is(&line(name, &format!("{shown}/{SKILL}"), "installed"));
        assert_eq!(read(&dir.join(SKILL)), BUNDLED, "{name}");
    }
}

/// Every override variable replaces the default directory, for detection and install.
#[test]
fn override_variables_replace_the_defaults() {
    let cases = [
        ("claude", "CLAUDE_CONFIG_DIR", "home/.claude"),
        ("codex", "CODEX_HOME", "home/.codex"),
        ("opencode", "OPENCODE_CONFIG_DIR", "config/opencode"),
        ("pi", "PI_CODING_AGENT_DIR", "home/.pi/agent"),
    ];
    for (name, var, default) in cases {
        // The default exists but the variable points elsewhere: only the variable counts.
        let t = Test::new();
        let alt = t.path().join(format!("alt {name}"));
        mkdir(&alt);
        mkdir(&t.path().join(default));
        let out = t.env(var, &alt).arg("install-skill").run();
        out.status(0).stdout_is(&line(
            name,
            &alt.join(SKILL).display().to_string(),
            "installed",
        ));
        assert_eq!(read(&alt.join(SKILL)), BUNDLED, "{var}");
        assert!(
            !out.test.path().join(default).join("skills").exists(),
            "{var}"
        );

        // The variable names a directory that does not exist: not detected.
        let t = Test::new();
        mkdir(&t.path().join(default));
        let missing = t.path().join("missing");
        let out = t.env(var, missing).arg("install-skill").run();
        out.status(1);
        assert!(
            out.stderr()
                .contains(&format!("{}/missing (${var})", out.test.path().display())),
            "{}",
            out.stderr()
        );

        // An empty variable counts as unset.
        let t = Test::new();
        mkdir(&t.path().join(default));
        let out = t.env(var, "").arg("install-skill").run();
        out.status(0);
        assert_eq!(read(&out.test.path().join(default).join(SKILL)), BUNDLED);
    }

    // opencode without its own variable follows $XDG_CONFIG_HOME.
    let t = Test::new();
    let xdg = t.path().join("xdg");
    mkdir(&xdg.join("opencode"));
    let out = t.env("XDG_CONFIG_HOME", &xdg).arg("install-skill").run();
    out.status(0).stdout_is(&line(
        "opencode",
        &xdg.join("opencode").join(SKILL).display().to_string(),
        "installed",
    ));
}

#[test]
fn relative_override_is_a_usage_error() {
    let t = Test::new();
    mkdir(&t.path().join("home/.codex"));
    let before = snapshot(t.path());
    let out = t.env("CODEX_HOME", "codex-dir").arg("install-skill").run();
    out.status(2).stdout_is("");
    assert_eq!(
        out.stderr(),
        "agent-offload: $CODEX_HOME is \"codex-dir\", not an absolute path: set it to an \
         absolute path (or unset it to use the default)\n"
    );
    assert_eq!(snapshot(out.test.path()), before);
}

#[test]
fn nothing_detected_lists_every_path_and_how_to_force() {
    let t = Test::new();
    let before = snapshot(t.path());
    let out = t.arg("install-skill").run();
    let config = out.test.path().join("config");
    out.status(1).stdout_is("");
    assert_eq!(
        out.stderr(),
        format!(
            "agent-offload: no agent CLI configuration directory found; looked for:\n\
             \x20 claude    ~/.claude\n\
             \x20 codex     ~/.codex\n\
             \x20 opencode  {}/opencode\n\
             \x20 pi        ~/.pi/agent\n\
             \x20 gemini    ~/.gemini\n\
             \x20 agents    ~/.agents\n\
             install anyway with --provider NAME (claude, codex, opencode, pi, gemini, agents; \
             repeatable), or --all for every one\n",
            config.display()
        )
    );
    assert_eq!(snapshot(out.test.path()), before);
}

#[test]
fn all_and_explicit_providers_create_their_directories() {
    let t = Test::new();
    let config = t.path().join("config");
    let out = t.args(["install-skill", "--all"]).run();
    out.status(0).stdout_is(&format!(
        "{}{}{}{}{}{}",
        line(
            "claude",
            "~/.claude/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "codex",
            "~/.codex/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "opencode",
            &format!("{}/opencode/{SKILL}", config.display()),
            "installed"
        ),
        line(
            "pi",
            "~/.pi/agent/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "gemini",
            "~/.gemini/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "agents",
            "~/.agents/skills/agent-offload/SKILL.md",
            "installed"
        ),
    ));

    // Repeated and comma-separated, in the order given, each once.
    let t = Test::new();
    let out = t
        .args([
            "install-skill",
            "--provider",
            "pi",
            "--provider",
            "codex,pi",
        ])
        .run();
    out.status(0).stdout_is(&format!(
        "{}{}",
        line(
            "pi",
            "~/.pi/agent/skills/agent-offload/SKILL.md",
            "installed"
        ),
        line(
            "codex",
            "~/.codex/skills/agent-offload/SKILL.md",
            "installed"
        ),
    ));
    let home = out.test.path().join("home");
    assert_eq!(read(&home.join(".codex").join(SKILL)), BUNDLED);
    assert!(!home.join(".claude").exists());
}

#[test]
fn bad_provider_arguments_are_usage_errors() {
    let out = Test::new()
        .args(["install-skill", "--provider", "vim"])
        .run();
    out.status(2).stdout_is("");
    out.stderr_contains("invalid value 'vim' for '--provider <NAME>'")
        .stderr_contains("[possible values: claude, codex, opencode, pi, gemini, agents]");
    let out = Test::new()
        .args(["install-skill", "--all", "--provider", "pi"])
        .run();
    out.status(2)
        .stderr_contains("'--all' cannot be used with '--provider <NAME>'");
    assert!(!out.test.path().join("home/.pi").exists());
}

/// The whole cycle on one provider, with the exact line at each step.
#[test]
fn install_update_edit_force_uninstall_cycle() {
    let t = Test::new();
    let home = t.path().join("home");
    mkdir(&home.join(".codex"));
    let file = home.join(".codex").join(SKILL);
    let shown = "~/.codex/skills/agent-offload/SKILL.md";
    let run = |args: &[&str]| {
        let mut cmd = t.command();
        cmd.args(args);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };

    assert_eq!(
        run(&["install-skill"]),
        (Some(0), line("codex", shown, "installed"), String::new())
    );
    assert_eq!(
        run(&["install-skill"]),
        (Some(0), line("codex", shown, "up-to-date"), String::new())
    );

    // The person edits it: never overwritten, never removed, without --force.
    let edited = format!("{BUNDLED}\nAlways use the `spark` profile.\n");
    std::fs::write(&file, &edited).unwrap();
    assert_eq!(
        run(&["install-skill"]),
        (Some(0), line("codex", shown, SKIPPED), String::new())
    );
    assert_eq!(read(&file), edited);
    assert_eq!(
        run(&["uninstall-skill"]),
        (Some(1), line("codex", shown, SKIPPED), String::new())
    );
    assert_eq!(read(&file), edited);

    assert_eq!(
        run(&["install-skill", "--force"]),
        (Some(0), line("codex", shown, "updated"), String::new())
    );
    assert_eq!(read(&file), BUNDLED);
    assert_eq!(
        run(&["install-skill", "--force"]),
        (Some(0), line("codex", shown, "up-to-date"), String::new())
    );

    assert_eq!(
        run(&["uninstall-skill"]),
        (Some(0), line("codex", shown, "removed"), String::new())
    );
    assert!(!file.exists());
    assert!(!home.join(".codex/skills/agent-offload").exists());
    assert!(
        home.join(".codex").is_dir(),
        "the CLI's own directory stays"
    );

    // Nothing left: a note, not an error.
    let (code, stdout, stderr) = run(&["uninstall-skill"]);
    assert_eq!((code, stdout.as_str()), (Some(0), ""));
    assert!(
        stderr.starts_with(
            "agent-offload: the skill is not installed; checked:\n  \
             ~/.claude/skills/agent-offload/SKILL.md\n  ~/.codex/skills/agent-offload/SKILL.md\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        run(&["uninstall-skill", "--provider", "codex"]),
        (
            Some(0),
            line("codex", shown, "not installed"),
            String::new()
        )
    );

    // An edited copy goes only with --force.
    run(&["install-skill", "--provider", "codex"]);
    std::fs::write(&file, "mine\n").unwrap();
    assert_eq!(
        run(&["uninstall-skill", "--force"]),
        (Some(0), line("codex", shown, "removed"), String::new())
    );
    assert!(!file.exists());
}

/// Uninstalling only touches the providers where the skill is, and keeps a directory
/// that holds the person's own files.
#[test]
fn uninstall_reports_only_where_installed_and_keeps_other_files() {
    let t = Test::new();
    let home = t.path().join("home");
    mkdir(&home.join(".claude"));
    mkdir(&home.join(".gemini"));
    let t = t.args(["install-skill"]);
    t.command().output().unwrap();
    std::fs::write(home.join(".gemini/skills/agent-offload/notes.md"), "x").unwrap();
    let out = Test::new()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", t.path().join("config"))
        .arg("uninstall-skill")
        .run();
    out.status(0).stdout_is(&format!(
        "{}{}",
        line(
            "claude",
            "~/.claude/skills/agent-offload/SKILL.md",
            "removed"
        ),
        line(
            "gemini",
            "~/.gemini/skills/agent-offload/SKILL.md",
            "removed"
        ),
    ));
    assert!(!home.join(".claude/skills/agent-offload").exists());
    assert_eq!(
        read(&home.join(".gemini/skills/agent-offload/notes.md")),
        "x"
    );
    assert!(!home.join(".gemini").join(SKILL).exists());
}

/// `--dry-run` says what would happen and changes nothing at all.
#[test]
fn dry_run_changes_nothing() {
    let t = Test::new();
    let home = t.path().join("home");
    mkdir(&home.join(".claude"));
    mkdir(&home.join(".codex/skills/agent-offload"));
    std::fs::write(home.join(".codex").join(SKILL), "edited\n").unwrap();
    mkdir(&home.join(".pi/agent/skills/agent-offload"));
    std::fs::write(home.join(".pi/agent").join(SKILL), BUNDLED).unwrap();
    let dry = "agent-offload: dry run: nothing was changed\n";

    let opencode = format!("{}/config/opencode/{SKILL}", t.path().display());
    let cases: [(&[&str], i32, String); 5] = [
        (
            &["install-skill", "--dry-run"],
            0,
            [
                at("claude", "would install"),
                at("codex", SKIPPED),
                at("pi", "up-to-date"),
            ]
            .concat(),
        ),
        (
            &[
                "install-skill",
                "--dry-run",
                "--force",
                "--provider",
                "codex",
            ],
            0,
            at("codex", "would update"),
        ),
        (
            &["install-skill", "--dry-run", "--all"],
            0,
            [
                at("claude", "would install"),
                at("codex", SKIPPED),
                line("opencode", &opencode, "would install"),
                at("pi", "up-to-date"),
                at("gemini", "would install"),
                at("agents", "would install"),
            ]
            .concat(),
        ),
        (
            &["uninstall-skill", "--dry-run"],
            1,
            [at("codex", SKIPPED), at("pi", "would remove")].concat(),
        ),
        (
            &["uninstall-skill", "--dry-run", "--force"],
            0,
            [at("codex", "would remove"), at("pi", "would remove")].concat(),
        ),
    ];
    let before = snapshot(t.path());
    for (args, code, stdout) in cases {
        let out = t.command().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), stdout, "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), dry, "{args:?}");
        assert_eq!(snapshot(t.path()), before, "{args:?} changed the tree");
    }
}

/// The installed file starts with YAML frontmatter holding the two keys every CLI
/// reads, and is byte for byte the bundled skill.
#[test]
fn installed_frontmatter_parses_as_yaml() {
    let t = Test::new();
    let out = t.args(["install-skill", "--provider", "claude"]).run();
    out.status(0);
    let text = read(&out.test.path().join("home/.claude").join(SKILL));
    let rest = text
        .strip_prefix("---\n")
        .expect("SKILL.md starts with ---");
    let (yaml, body) = rest
        .split_once("\n---\n")
        .expect("frontmatter ends with ---");
    let map: BTreeMap<String, String> = serde_saphyr::from_str(yaml).expect("valid YAML");
    assert_eq!(map.get("name").map(String::as_str), Some("agent-offload"));
    let description = map.get("description").expect("a description");
    assert!(!description.trim().is_empty());
    assert!(description.contains("Use when"), "{description}");
    assert_eq!(map.len(), 2, "only name and description: {map:?}");
    for needle in [
        "agent-offload profiles",
        "--prompt-file",
        "agent-offload wait",
        "| 75 |",
        "| 124 |",
        "128+n",
        "git diff",
    ] {
        assert!(body.contains(needle), "the skill body lacks {needle:?}");
    }
}

/// Colour only on a terminal, and never with `NO_COLOR`.
#[test]
fn colour_only_on_a_terminal_without_no_color() {
    // Piped (the harness): no escape codes.
    let t = Test::new();
    mkdir(&t.path().join("home/.claude"));
    let out = t.arg("install-skill").run();
    out.status(0);
    assert!(!out.stdout().contains('\x1b'), "{:?}", out.stdout());

    // On a terminal (script(1) gives the command a pty): coloured, unless NO_COLOR.
    let on_tty = |no_color: Option<&str>| -> String {
        let t = Test::new();
        mkdir(&t.path().join("home/.claude"));
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &format!("'{BIN}' install-skill"), "/dev/null"])
            .env_clear()
            .env("HOME", t.path().join("home"))
            .env("XDG_CONFIG_HOME", t.path().join("config"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "xterm");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd
            .output()
            .expect("script(1) from util-linux runs the command on a pty");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty(None);
    assert!(
        coloured.contains("\x1b[32minstalled\x1b[0m"),
        "{coloured:?}"
    );
    let plain = on_tty(Some("1"));
    assert!(plain.contains("SKILL.md: installed"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

/// A symlinked SKILL.md (a dotfiles repository) keeps its link and is never
/// overwritten when edited.
#[test]
fn symlinked_copy_is_respected() {
    let t = Test::new();
    let home = t.path().join("home");
    let real = t.path().join("dotfiles/SKILL.md");
    mkdir(real.parent().unwrap());
    std::fs::write(&real, "my own skill\n").unwrap();
    let link = home.join(".claude").join(SKILL);
    mkdir(link.parent().unwrap());
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let shown = "~/.claude/skills/agent-offload/SKILL.md";
    let out = t.arg("install-skill").run();
    out.status(0).stdout_is(&line("claude", shown, SKIPPED));
    assert_eq!(read(&real), "my own skill\n");
    let out = Test::new()
        .env("HOME", &home)
        .args(["install-skill", "--force"])
        .run();
    out.status(0).stdout_is(&line("claude", shown, "updated"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(read(&real), BUNDLED);
}

/// One provider failing does not stop the others; the error names the path; exit 1.
#[test]
fn a_failing_provider_does_not_stop_the_others() {
    let t = Test::new();
    let home = t.path().join("home");
    // A file where the skills directory should be.
    mkdir(&home.join(".claude"));
    std::fs::write(home.join(".claude/skills"), "not a directory").unwrap();
    mkdir(&home.join(".agents"));
    let out = t.arg("install-skill").run();
    out.status(1)
        .stdout_is(&at("agents", "installed"))
        .stderr_contains(&format!(
            "agent-offload: claude: cannot read {}/.claude/skills/agent-offload/SKILL.md: ",
            home.display()
        ));
    assert_eq!(read(&home.join(".agents").join(SKILL)), BUNDLED);
}
