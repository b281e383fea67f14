//! What is generated from our own definitions: shell completions, the man page, and
//! the config's JSON Schema, which must accept the example configs and `init`'s output
//! and reject what the loader rejects.

use std::process::Command;

use crate::harness::Test;

fn stdout_of(args: &[&str]) -> String {
    let out = Test::new().args(args.iter().copied()).run();
    out.status(0);
    out.stdout()
}

/// Each shell's script asks the binary for candidates (dynamic completion), calling it
/// by name so that a script written once survives upgrades.
#[test]
fn completions_for_every_shell() {
    for (shell, first) in [
        ("bash", "\n_clap_complete_agent_offload() {"),
        ("zsh", "#compdef agent-offload\n"),
        (
            "fish",
            "complete --keep-order --exclusive --command agent-offload ",
        ),
        (
            "elvish",
            "\nset edit:completion:arg-completer[agent-offload]",
        ),
        (
            "powershell",
            "\nRegister-ArgumentCompleter -Native -CommandName agent-offload",
        ),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.starts_with(first), "{shell}:\n{script}");
        assert!(
            script.contains("AGENT_OFFLOAD_COMPLETE") && script.contains(&format!("\"{shell}\""))
                || script.contains(&format!("AGENT_OFFLOAD_COMPLETE={shell} ")),
            "{shell}:\n{script}"
        );
    }
    // The bash script is valid bash.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.bash");
    std::fs::write(&file, stdout_of(&["completions", "bash"])).unwrap();
    let status = Command::new("bash").arg("-n").arg(&file).status().unwrap();
    assert!(status.success());
}

/// What bash offers for the command line `words` (the last word being completed),
/// through the script `completions bash` prints and the real binary, found on PATH
/// as the script expects; and what reached stderr.
fn bash_complete(t: &Test, words: &[&str]) -> (Vec<String>, String) {
    let script = t.path().join("completion.bash");
    if !script.exists() {
        let out = t.exec(["completions", "bash"]);
        assert_eq!(out.status.code(), Some(0));
        std::fs::write(&script, &out.stdout).unwrap();
    }
    let bin_dir = std::path::Path::new(crate::harness::BIN).parent().unwrap();
    let mut cmd = t.command_from(std::path::Path::new("bash"));
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .arg("-c")
        .arg(
            "source \"$1\"; shift\n\
             COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_TYPE=9\n\
             _clap_complete_agent_offload \"$1\" \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n\
             printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .arg("bash")
        .arg(&script)
        .args(words)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::harness::wait_bounded(
        cmd.spawn().expect("spawn bash"),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let candidates = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    (
        candidates,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TWO_PROFILES: &str = "default_profile: spark\nprofiles:\n  spark:\n    command: codex\n  opus:\n    command: claude\n";

#[test]
fn completion_offers_subcommands_and_the_configs_profiles() {
    let t = Test::new()
        .config(TWO_PROFILES)
        .file("other.yaml", "profiles:\n  elsewhere:\n    command: pi\n");
    let complete = |words: &[&str]| {
        let (candidates, stderr) = bash_complete(&t, words);
        assert_eq!(stderr, "", "{words:?}");
        candidates
    };
    assert_eq!(complete(&["agent-offload", "wai"]), ["wait"]);
    assert_eq!(complete(&["agent-offload", "-p", ""]), ["spark", "opus"]);
    assert_eq!(complete(&["agent-offload", "--profile", "o"]), ["opus"]);
    assert_eq!(
        complete(&["agent-offload", "continue", "x", "-p", "sp"]),
        ["spark"]
    );
    // The config the command line names.
    let other = t.path().join("other.yaml");
    let flag = format!("--config={}", other.display());
    assert_eq!(complete(&["agent-offload", &flag, "-p", ""]), ["elsewhere"]);
    assert_eq!(
        complete(&[
            "agent-offload",
            "run",
            "--config",
            other.to_str().unwrap(),
            "-p",
            ""
        ]),
        ["elsewhere"]
    );
    // A project config is found from the current directory, as a run would.
    let project = t.path().join("work/.agent-offload.yaml");
    std::fs::write(&project, "profiles:\n  local:\n    command: pi\n").unwrap();
    assert_eq!(complete(&["agent-offload", "-p", ""]), ["local"]);
}

/// A broken config, an unreadable one, or no HOME: no candidates, nothing on the
/// terminal, and no hang.
#[test]
fn completion_with_a_broken_config_offers_nothing_quietly() {
    for config in [
        "profiles: [\n",
        "profiles:\n  a:\n    comand: x\n",
        "\0\u{1}",
    ] {
        let t = Test::new().config(config);
        let (candidates, stderr) = bash_complete(&t, &["agent-offload", "-p", ""]);
        assert_eq!(candidates, Vec::<String>::new(), "{config:?}");
        assert_eq!(stderr, "", "{config:?}");
    }
    // The config path is a directory; the state directory is a file.
    let t = Test::new();
    std::fs::create_dir_all(t.config_path()).unwrap();
    std::fs::write(t.path().join("state/agent-offload"), "not a directory").unwrap();
    for words in [
        &["agent-offload", "-p", ""][..],
        &["agent-offload", "wait", ""],
    ] {
        let (candidates, stderr) = bash_complete(&t, words);
        // Only wait's options (clap_complete offers them where no value is known).
        assert!(
            candidates.iter().all(|c| c.starts_with('-')),
            "{words:?}: {candidates:?}"
        );
        assert_eq!(stderr, "", "{words:?}");
    }
}

/// RUN arguments complete to `last` and the run ids, newest first; none before the
/// first run.
#[test]
fn completion_offers_run_ids_for_run_arguments() {
    let t = Test::new().agent("fake", "publish ok");
    let cfg = format!(
        "profiles:\n  fake:\n    command: {}\n    headless: true\n",
        t.agent_path("fake")
    );
    let t = t.config(&cfg);
    let (none, stderr) = bash_complete(&t, &["agent-offload", "wait", ""]);
    assert!(none.iter().all(|c| c.starts_with('-')), "{none:?}");
    assert_eq!(stderr, "");
    for task in ["one", "two"] {
        let out = t.exec([task]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let mut ids: Vec<String> = t
        .run_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.reverse();
    for command in ["wait", "show", "logs", "cancel", "continue"] {
        let (candidates, stderr) = bash_complete(&t, &["agent-offload", command, ""]);
        assert_eq!(stderr, "", "{command}");
        let mut want = vec!["last".to_owned()];
        want.extend(ids.iter().cloned());
        // bash sorts what it is given; the set is what matters here. The command's
        // options are offered beside them.
        let mut got: Vec<String> = candidates
            .into_iter()
            .filter(|c| !c.starts_with('-'))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{command}");
    }
    let (candidates, _) = bash_complete(&t, &["agent-offload", "show", &ids[0]]);
    assert_eq!(candidates, [ids[0].clone()]);
    let (candidates, _) = bash_complete(&t, &["agent-offload", "logs", "la"]);
    assert_eq!(candidates, ["last"]);
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = Test::new().args(["completions", "tcsh"]).run();
    out.status(2).stderr_contains("invalid value 'tcsh'");
}

#[test]
fn man_page_is_roff_from_the_clap_definitions() {
    let man = stdout_of(&["man"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &man[..80.min(man.len())]
    );
    assert!(man.contains(".TH agent-offload 1"), "{man}");
    assert!(man.contains("\\-\\-quiet"), "{man}");
    assert!(man.contains("doctor"), "{man}");
}

/// `man --dir` writes the main page and one per subcommand: every page a SUBCOMMANDS
/// section cites exists, and nothing else is written.
#[test]
fn man_dir_writes_every_page_the_pages_cite() {
    let t = Test::new();
    let dir = t.path().join("share/man/man1");
    let out = t.args(["man", "--dir"]).arg(&dir).run();
    out.status(0);
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut listed: Vec<String> = out
        .stdout()
        .lines()
        .map(|l| {
            let path = std::path::Path::new(l);
            assert_eq!(path.parent(), Some(dir.as_path()), "{l}");
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, written, "stdout lists each file written");
    for name in [
        "agent-offload.1",
        "agent-offload-run.1",
        "agent-offload-wait.1",
        "agent-offload-show.1",
        "agent-offload-man.1",
        "agent-offload-config.1",
        "agent-offload-config-schema.1",
    ] {
        assert!(written.iter().any(|w| w == name), "{name} in {written:?}");
    }
    let mut cited = Vec::new();
    for name in &written {
        let page = std::fs::read_to_string(dir.join(name)).unwrap();
        let title = name.strip_suffix(".1").unwrap();
        assert!(page.contains(&format!(".TH {title} 1 ")), "{name}");
        for rest in page.split("\n.TP\n").skip(1) {
            let first = rest.lines().next().unwrap();
            if let Some(page) = first.strip_suffix("(1)") {
                cited.push(format!("{}.1", page.replace("\\-", "-")));
            }
        }
    }
    cited.sort();
    cited.dedup();
    let mut subpages: Vec<String> = written
        .iter()
        .filter(|w| *w != "agent-offload.1")
        .cloned()
        .collect();
    subpages.sort();
    assert_eq!(cited, subpages, "every cited page, and only those");

    // The main page is the same on stdout.
    let page = std::fs::read_to_string(dir.join("agent-offload.1")).unwrap();
    assert_eq!(stdout_of(&["man"]), page);
}

/// Examples are kept line by line (a no-fill block), not reflowed into a paragraph
/// that breaks them mid-line; the exit codes get their section.
#[test]
fn man_page_examples_are_not_reflowed() {
    let man = stdout_of(&["man"]);
    let examples = man
        .split_once(".SH \"EXAMPLES\"\n.PP\n.nf\n")
        .unwrap_or_else(|| panic!("no EXAMPLES no-fill block:\n{man}"))
        .1;
    let block = &examples[..examples.find("\n.fi\n").expect("the block ends")];
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(
        lines[1],
        "  agent\\-offload \\-p spark \\-H \"fix the failing test\"     profile spark, headless"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("  agent\\-offload ")),
        "{block}"
    );
    assert!(man.contains(".SH \"EXIT STATUS\"\n.PP\n0 done"), "{man}");
    assert!(!man.contains(".SH EXTRA"), "{man}");
}

fn schema() -> jsonschema::Validator {
    let text = stdout_of(&["config", "schema"]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::validator_for(&value).expect("a valid JSON Schema")
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[track_caller]
fn assert_valid(v: &jsonschema::Validator, text: &str) {
    let errors: Vec<String> = v.iter_errors(&yaml(text)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
}

#[track_caller]
fn assert_invalid(v: &jsonschema::Validator, text: &str) {
    assert!(!v.is_valid(&yaml(text)), "accepted:\n{text}");
}

#[test]
fn schema_accepts_the_examples_and_init_output() {
    let v = schema();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    assert_valid(&v, &std::fs::read_to_string(demo).unwrap());

    // Every built-in CLI, as init writes it.
    let mut t = Test::new();
    for n in [
        "claude",
        "codex",
        "opencode",
        "pi",
        "cursor-agent",
        "gemini",
        "qwen",
    ] {
        t = t.agent(&format!("bin/{n}"), "");
    }
    let path = format!("{}:/usr/bin:/bin", t.path().join("bin").display());
    let cfg = t.config_path();
    let out = t.env("PATH", path).arg("init").run();
    out.status(0);
    let text = std::fs::read_to_string(cfg).unwrap();
    assert_valid(&v, &text);
    // ... and with its commented examples switched on.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("  # ") {
            Some(rest) if rest.starts_with(' ') || (rest.ends_with(':') && !rest.contains(' ')) => {
                format!("  {rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert!(uncommented.contains("\n  claude-work:\n"), "{uncommented}");
    assert_valid(&v, &uncommented);

    // The full example in docs/configuration.md.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = doc
        .find("```yaml\ndefault_profile: spark")
        .expect("the full example in docs/configuration.md");
    let body = &doc[start + "```yaml\n".len()..];
    assert_valid(&v, &body[..body.find("```").unwrap()]);
}

#[test]
fn schema_is_strict() {
    let v = schema();
    assert_valid(
        &v,
        "min_pane_width: 100\nprofiles:\n  a:\n    command: x\n    min_pane_width: 0\n",
    );
    assert_valid(
        &v,
        "profiles:\n  a:\n    command: x\n    env:\n      N: 1\n      B: true\n      S: s\n      \
         K: {from_env: HOST_KEY}\n",
    );
    assert_valid(
        &v,
        "headless: auto\nprofiles:\n  a:\n    command: x\n    headless: false\n",
    );
    for bad in [
        "profiles: {}\n",
        "profile:\n  a:\n    command: x\n",
        "profiles:\n  a:\n    comand: x\n",
        "profiles:\n  a:\n    command: x\n    interface: clod\n",
        "profiles:\n  a:\n    command: x\n    prompt: file\n",
        "profiles:\n  a:\n    command: x\n    timeout: 90\n",
        "profiles:\n  a:\n    command: x\n    timeout: 5 minutes\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: {from_env: HOST_KEY, x: 1}\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: {from: HOST_KEY}\n",
        "profiles:\n  a:\n    command: x\n    env:\n      K: [a]\n",
        "profiles:\n  a:\n    command: x\n    env:\n      1K: v\n",
        "profiles:\n  a:\n    command: x\n    args: \"--flag\"\n",
        "headless: yes please\nprofiles:\n  a:\n    command: x\n",
        "min_pane_width: wide\nprofiles:\n  a:\n    command: x\n",
        "profiles:\n  a:\n    command: x\n    min_pane_width: -1\n",
        "profiles:\n  a:\n    command: x\n    headless: automatic\n",
    ] {
        assert_invalid(&v, bad);
    }
}

/// A reader that closes the pipe at once (`| head`) is not an error: exit 0, nothing on
/// stderr, never a panic (exit 101).
#[test]
fn a_closed_stdout_ends_documents_quietly() {
    for args in [
        &["config", "schema"][..],
        &["man"],
        &["completions", "bash"],
    ] {
        let t = crate::harness::Test::new();
        let mut child = t
            .command()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before agent-offload has even started writing.
        drop(child.stdout.take());
        let out = crate::harness::wait_bounded(child, std::time::Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}
