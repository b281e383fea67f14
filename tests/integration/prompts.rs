//! How the prompt reaches the agent: every delivery for every interface, headless, with
//! the exact argv shape; hostile prompts arriving byte-exact from every prompt source;
//! prompts too long for one argument.

use std::path::{Path, PathBuf};

use crate::harness::{Test, read_nul_list, recorder, unique};

const INTERFACES: [&str; 8] = [
    "generic", "claude", "codex", "cursor", "opencode", "pi", "gemini", "qwen",
];

/// What headless mode puts before the profile's own args: the CLI's non-interactive
/// form and the flags for its structured output (read by the relay).
fn mode_args(interface: &str) -> &'static [&'static str] {
    match interface {
        "claude" => &["-p", "--output-format", "stream-json", "--verbose"],
        "cursor" => &["-p", "--output-format", "stream-json"],
        "pi" => &["-p", "--mode", "json"],
        "codex" => &["exec", "--json"],
        "opencode" => &["run", "--format", "json"],
        "gemini" | "qwen" => &["--output-format", "stream-json"],
        _ => &[],
    }
}

/// What headless argument delivery puts right before the prompt.
fn prompt_prefix(interface: &str) -> &'static [&'static str] {
    match interface {
        "generic" | "claude" | "codex" => &["--"],
        "gemini" => &["-p"],
        _ => &[],
    }
}

/// Whether the interface has no `--` and gets a leading newline before a prompt that
/// starts with '-'.
fn guards_leading_dash(interface: &str) -> bool {
    !matches!(interface, "generic" | "claude" | "codex")
}

/// What a new session gets right after the mode's words: the id assigned to claude,
/// gemini and qwen sessions, which `run.json` records.
fn session_args(interface: &str, run_dir: &Path) -> Vec<String> {
    if !matches!(interface, "claude" | "gemini" | "qwen") {
        return Vec::new();
    }
    let m: serde_json::Value = serde_json::from_slice(&read(&run_dir.join("run.json"))).unwrap();
    let id = m["session_id"]
        .as_str()
        .expect("claude's session id")
        .to_owned();
    vec!["--session-id".to_owned(), id]
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A test with a recording agent `rec` and one headless profile `p`.
fn recording(interface: &str, delivery: &str, args: &[&str]) -> Test {
    let t = Test::new();
    let body = recorder(t.path());
    let t = t.agent("rec", &body);
    let args_yaml = args
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect::<Vec<_>>()
        .join(", ");
    let cfg = format!(
        "profiles:\n  p:\n    command: {}\n    interface: {interface}\n    prompt: {delivery}\n    \
         args: [{args_yaml}]\n    headless: true\n",
        t.agent_path("rec")
    );
    t.config(&cfg)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks that `prompt.md` is the user's prompt followed by the completion
/// instructions naming this run's done.md, with `lead` (a guard newline) before it.
#[track_caller]
fn assert_augmented(run_dir: &Path, user_prompt: &str, lead: &str) -> String {
    let text = String::from_utf8(read(&run_dir.join("prompt.md"))).unwrap();
    let rest = text
        .strip_prefix(lead)
        .and_then(|t| t.strip_prefix(user_prompt))
        .unwrap_or_else(|| {
            panic!("prompt.md does not start with {lead:?} + the user's prompt: {text:?}")
        });
    let sep = if user_prompt.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let instructions = rest
        .strip_prefix(sep)
        .and_then(|r| r.strip_prefix("\n---\nWhen you have completely finished the task above"))
        .unwrap_or_else(|| panic!("no completion instructions after the prompt: {rest:?}"));
    let done = run_dir.join("done.md");
    let tmp = run_dir.join("done.md.tmp");
    assert!(
        instructions.contains(&format!("mv {} {}", tmp.display(), done.display())),
        "{instructions}"
    );
    text
}

#[test]
fn argument_delivery_for_every_interface() {
    for interface in INTERFACES {
        let prompt = "fix the bug in src/main.rs";
        let out = recording(interface, "argument", &["--model", "big one"])
            .arg(prompt)
            .run();
        out.status(0).stdout_is("recorded\n");
        let dir = out.run_dir();
        let delivered = assert_augmented(&dir, prompt, "");
        let mut expected = strs(mode_args(interface));
        expected.extend(session_args(interface, &dir));
        expected.extend(strs(&["--model", "big one"]));
        expected.extend(strs(prompt_prefix(interface)));
        expected.push(delivered);
        let argv = read_nul_list(&out.test.path().join("argv"));
        assert_eq!(argv, expected, "interface {interface}");
        assert_eq!(read(&out.test.path().join("stdin")), b"", "{interface}");
    }
}

#[test]
fn stdin_delivery_for_every_interface() {
    for interface in INTERFACES {
        let prompt = "summarise the README";
        let out = recording(interface, "stdin", &["--json"]).arg(prompt).run();
        out.status(0).stdout_is("recorded\n");
        let dir = out.run_dir();
        let delivered = assert_augmented(&dir, prompt, "");
        // codex's own `--json` is its structured-output flag: a profile that sets it
        // gets no second one (and no relay: its events go to the log as they are).
        let mut expected = if interface == "codex" {
            strs(&["exec"])
        } else {
            strs(mode_args(interface))
        };
        expected.extend(session_args(interface, &dir));
        expected.push("--json".into());
        let argv = read_nul_list(&out.test.path().join("argv"));
        assert_eq!(argv, expected, "interface {interface}: no prompt argument");
        assert_eq!(
            read(&out.test.path().join("stdin")),
            delivered.as_bytes(),
            "interface {interface}: stdin is prompt.md"
        );
    }
}

#[test]
fn prompt_file_arg_delivery_for_every_interface() {
    for interface in INTERFACES {
        let prompt = "-leading dash is harmless here";
        let out = recording(
            interface,
            "prompt-file-arg",
            &["--file", "{prompt_file}", "--in={prompt_file}", "plain"],
        )
        .arg("--")
        .arg(prompt)
        .run();
        out.status(0).stdout_is("recorded\n");
        let dir = out.run_dir();
        // No guard: the prompt is not an argument.
        assert_augmented(&dir, prompt, "");
        let file = dir.join("prompt.md").display().to_string();
        let mut expected = strs(mode_args(interface));
        expected.extend(session_args(interface, &dir));
        expected.extend([
            "--file".to_owned(),
            file.clone(),
            format!("--in={file}"),
            "plain".to_owned(),
        ]);
        let argv = read_nul_list(&out.test.path().join("argv"));
        assert_eq!(argv, expected, "interface {interface}");
        assert_eq!(read(&out.test.path().join("stdin")), b"", "{interface}");
    }
}

/// Where the prompt comes from on agent-offload's command line.
#[derive(Clone, Copy, Debug)]
enum Source {
    Words,
    File,
    Stdin,
}

const SOURCES: [Source; 3] = [Source::Words, Source::File, Source::Stdin];

fn give(t: Test, source: Source, prompt: &str) -> Test {
    match source {
        Source::Words => t.arg("--").arg(prompt),
        Source::File => {
            let path: PathBuf = t.path().join("task.md");
            std::fs::write(&path, prompt).unwrap();
            t.arg("-f").arg(path)
        }
        Source::Stdin => t.stdin(prompt.as_bytes().to_vec()),
    }
}

/// What the agent received as its prompt, for each delivery.
fn received(t: &Test, delivery: &str) -> Vec<u8> {
    match delivery {
        "argument" => read_nul_list(&t.path().join("argv"))
            .pop()
            .unwrap()
            .into_bytes(),
        "stdin" => read(&t.path().join("stdin")),
        "prompt-file-arg" => read(&t.path().join("file-copy")),
        other => panic!("{other}"),
    }
}

/// Runs `prompt` from every source through every delivery (for `interface`) and checks
/// that the agent receives `lead` + the prompt byte-exact at the start of its prompt,
/// which equals prompt.md.
#[track_caller]
fn assert_arrives(interface: &str, prompt: &str, lead: &str) {
    for source in SOURCES {
        for delivery in ["argument", "stdin", "prompt-file-arg"] {
            let args: &[&str] = if delivery == "prompt-file-arg" {
                &["{prompt_file}"]
            } else {
                &[]
            };
            let t = recording(interface, delivery, args);
            // The prompt-file-arg agent copies the file it was pointed at.
            let t = if delivery == "prompt-file-arg" {
                let body = format!(
                    "cp \"$last\" '{}/file-copy'\n{}",
                    t.path().display(),
                    recorder(t.path())
                );
                t.agent("rec", &body)
            } else {
                t
            };
            let out = give(t, source, prompt).run();
            out.status(0).stdout_is("recorded\n");
            let what = format!("{interface} {source:?} {delivery}");
            let lead = if delivery == "argument" { lead } else { "" };
            let prompt_md = read(&out.run_dir().join("prompt.md"));
            let got = received(&out.test, delivery);
            assert!(
                got == prompt_md,
                "{what}: the agent did not receive prompt.md exactly"
            );
            let want = format!("{lead}{prompt}");
            assert!(
                got.starts_with(want.as_bytes()),
                "{what}: expected the prompt to start with {want:?}, got {:?}",
                String::from_utf8_lossy(&got[..got.len().min(want.len() + 40)])
            );
        }
    }
}

#[test]
fn quotes_and_backslashes_arrive_exactly() {
    assert_arrives(
        "claude",
        r#"it's "quoted" and 'single' \n \\ \' \" end\"#,
        "",
    );
}

#[test]
fn command_substitutions_are_not_run() {
    let t = Test::new();
    let marker = t.path().join("pwned");
    let marker2 = t.path().join("pwned2");
    let prompt = format!(
        "run $(touch {}) and `touch {}` and ${{HOME}} $HOME ; | & > < * ?",
        marker.display(),
        marker2.display()
    );
    assert_arrives("generic", &prompt, "");
    assert_arrives("pi", &prompt, "");
    // The markers are in `t`'s directory, which no run wrote to.
    assert!(!marker.exists(), "$(...) was executed");
    assert!(!marker2.exists(), "backticks were executed");
}

#[test]
fn newlines_including_trailing_ones_arrive_exactly() {
    assert_arrives("codex", "line one\n\nline three\n\n\n", "");
    assert_arrives("generic", "\n\nstarts with newlines\r\nand a CR", "");
}

#[test]
fn leading_triple_dash_arrives_exactly() {
    assert_arrives("claude", "---\ntitle: front matter\n---\nthe task", "");
    // `---` starts with '-': the interfaces without `--` get the guard newline.
    assert_arrives("pi", "---\nthe task", "\n");
}

#[test]
fn leading_dash_is_guarded_where_there_is_no_double_dash() {
    for interface in INTERFACES {
        let lead = if guards_leading_dash(interface) {
            "\n"
        } else {
            ""
        };
        let t = recording(interface, "argument", &[]);
        let out = t.arg("--").arg("-x do the task").run();
        out.status(0);
        let argv = read_nul_list(&out.test.path().join("argv"));
        let prompt = argv.last().unwrap();
        assert!(
            prompt.starts_with(&format!("{lead}-x do the task\n")),
            "{interface}: {prompt:?}"
        );
        // prompt.md is the prompt as delivered, guard included.
        assert_augmented(&out.run_dir(), "-x do the task", lead);
        // The word before the prompt is the interface's prefix (or a profile/mode word),
        // never an accidental `--` for pi.
        if interface == "pi" {
            let mut expected = strs(mode_args("pi"));
            expected.push(prompt.clone());
            assert_eq!(argv, expected);
        }
    }
    // Every source and delivery, for the two CLIs the guard exists for.
    assert_arrives("pi", "-x flag-like prompt", "\n");
    assert_arrives("opencode", "--help me", "\n");
}

#[test]
fn utf8_arrives_exactly() {
    assert_arrives(
        "gemini",
        "héllo wörld — ünïcødé 日本語 🦀 \u{200b}zero-width \u{202e}rtl",
        "",
    );
}

/// The completion instructions and a pointer argument: a prompt too long for one argv
/// string still reaches the agent.
#[test]
fn a_200_kib_prompt_reaches_the_agent() {
    let mut prompt = String::from("BEGIN it's $(x) `y`\n");
    while prompt.len() < 200 * 1024 {
        prompt.push_str("0123456789abcdef ünï 'q' \"d\" \\ $HOME\n");
    }
    prompt.push_str("END\n");
    // Not as words: agent-offload's own argv could not hold it either.
    for source in [Source::File, Source::Stdin] {
        // Argument delivery: a short pointer to prompt.md, and a note on stderr.
        let out = give(recording("claude", "argument", &[]), source, &prompt).run();
        out.status(0).stdout_is("recorded\n");
        let dir = out.run_dir();
        let file = dir.join("prompt.md");
        assert_augmented(&dir, &prompt, "");
        out.stderr_contains(&format!(
            "more than one command-line argument may hold; the agent is asked to read it \
             from {}",
            file.display()
        ));
        let argv = read_nul_list(&out.test.path().join("argv"));
        let mut expected = strs(mode_args("claude"));
        expected.extend(session_args("claude", &dir));
        expected.push("--".to_owned());
        let n = expected.len();
        assert_eq!(argv[..n], expected, "{source:?}");
        assert_eq!(argv.len(), n + 1, "{source:?}");
        assert!(
            argv[n].starts_with(&format!("Your task is in the file {}:", file.display())),
            "{source:?}: {}",
            argv[n]
        );
        assert!(argv[n].len() < 1024);

        // Stdin delivery: the whole of prompt.md on stdin.
        let out = give(recording("codex", "stdin", &[]), source, &prompt).run();
        out.status(0).stdout_is("recorded\n");
        let dir = out.run_dir();
        assert_augmented(&dir, &prompt, "");
        assert_eq!(
            read(&out.test.path().join("stdin")),
            read(&dir.join("prompt.md")),
            "{source:?}"
        );
        assert_eq!(
            read_nul_list(&out.test.path().join("argv")),
            ["exec", "--json"]
        );
    }
}

/// The largest prompt one argument can hold goes as the argument itself; one byte more
/// and it goes through prompt.md. Both runs share one test directory, so the
/// completion instructions (which name the run directory) have the same length.
#[test]
fn the_argument_limit_is_exact() {
    const MAX: usize = 128 * 1024 - 1;
    let t = recording("generic", "argument", &[]);
    let run = |prompt: &str| {
        let out = t.command().arg(prompt).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = t.run_dirs().pop().unwrap();
        let md = read(&dir.join("prompt.md"));
        let arg = read_nul_list(&t.path().join("argv")).pop().unwrap();
        (md, arg, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Measure the instructions' length with a small prompt.
    let (md, _, _) = run("x");
    let overhead = md.len() - 1;
    let fits = "y".repeat(MAX - overhead);
    let (md, arg, stderr) = run(&fits);
    assert_eq!(md.len(), MAX);
    assert_eq!(arg.as_bytes(), md.as_slice(), "{stderr}");
    assert!(!stderr.contains("read it from"), "{stderr}");

    let too_long = "z".repeat(MAX - overhead + 1);
    let (md, arg, stderr) = run(&too_long);
    assert_eq!(md.len(), MAX + 1);
    assert!(arg.starts_with("Your task is in the file "), "{arg}");
    assert!(stderr.contains("read it from"), "{stderr}");
}

#[test]
fn words_are_joined_with_single_spaces() {
    let t = recording("generic", "argument", &[]);
    let out = t.args(["fix", "the  bug", "-x", "y"]).run();
    out.status(0);
    assert_augmented(&out.run_dir(), "fix the  bug -x y", "");
    // A unique word so that a stale run could not satisfy this.
    let word = unique();
    let t = recording("generic", "stdin", &[]);
    let out = t.arg("--").arg("run").arg(&word).run();
    out.status(0);
    assert_augmented(&out.run_dir(), &format!("run {word}"), "");
}
