//! Conversations with the real CLIs: the session behind a run (`session_id` in
//! run.json, the same the CLI names in its own events or store), `agent-offload
//! continue` resuming it as a new run (headless and in a new pane), a question
//! (`question.md`, exit 3) answered in the same session, and a hand-off of a run's work
//! to a fresh session of another CLI.
//!
//! That a resumed session really is the first one is proved on the model server's side:
//! the first conversation request of the second run (the first offering the shell tool:
//! gemini asks its router first) carries the first run's turns (its prompt's unique
//! marker and, headless, the tool call the first run made), which agent-offload's own
//! prompt for the second run does not have.

use std::path::PathBuf;

use serde_json::Value;

use crate::clis::Cli;
use crate::harness::unique;
use crate::model_server::Logged;
use crate::scenarios::{Agent, RUN_TIMEOUT, Ran, manifest_at};

/// A task whose SCRIPT line publishes `{head}{tail}` as the summary: the summary is
/// never written whole in the prompt, so finding it in a later prompt proves it came
/// from the run's report. `marker` is the prompt's unique text.
fn task(marker: &str, head: &str, tail: &str) -> String {
    format!(
        "This is an end-to-end test of agent-offload (conversation {marker}). Run the shell \
         command on the SCRIPT line below with your shell tool, exactly as written, once.\n\
         SCRIPT: printf '%s%s\\n' '{head}' '{tail}' >{{DONE_TMP}} && mv {{DONE_TMP}} {{DONE}}\n"
    )
}

/// A task whose SCRIPT line publishes `question` as the agent's question.
fn question_task(question: &str) -> String {
    format!(
        "This is an end-to-end test of agent-offload. Run the shell command on the SCRIPT \
         line below with your shell tool, exactly as written, once.\n\
         SCRIPT: printf '%s\\n' '{question}' >{{QUESTION_TMP}} && mv {{QUESTION_TMP}} {{QUESTION}}\n"
    )
}

/// The words choosing the mode of a first run (a continued run keeps its parent's).
fn mode_args(tmux: bool) -> &'static [&'static str] {
    if tmux { &[] } else { &["-H"] }
}

/// One step of a conversation: its run directory and run.json.
struct Step {
    dir: PathBuf,
    manifest: Value,
}

impl Step {
    fn id(&self) -> &str {
        self.manifest["id"].as_str().expect("run.json has an id")
    }

    fn session_id(&self) -> &str {
        self.manifest["session_id"].as_str().unwrap_or_default()
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// What of this run a resumed conversation carries: its prompt (`marker`, text
    /// only it has) and, headless, the shell call that published `file` (`done.md`,
    /// `question.md`) as the model server filled in this run's path,
    /// `>'<run dir>/<file>.tmp'` (the prompt only has the placeholder). In a pane the
    /// call need not be history: the pane is closed the moment the file appears, and
    /// claude, gemini and qwen had not recorded the call by then (measured).
    fn turns(&self, tmux: bool, marker: &str, file: &str) -> Vec<String> {
        let mut turns = vec![marker.to_owned()];
        if !tmux {
            turns.push(format!(">'{}/{file}.tmp'", self.dir.display()));
        }
        turns
    }
}

impl Agent {
    /// The run directory created since `before` (there is exactly one).
    fn step_since(&self, before: &[PathBuf], ran: &Ran) -> Step {
        let new: Vec<PathBuf> = self
            .run_dirs()
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        self.check(
            new.len() == 1,
            ran,
            &format!("one new run directory: {new:?}"),
        );
        let dir = new.into_iter().next().unwrap();
        Step {
            manifest: manifest_at(&dir),
            dir,
        }
    }

    /// The first turn of the agent's conversation the model server saw after its
    /// `skip` first model calls.
    fn first_turn_after(&self, skip: usize) -> Option<Logged> {
        self.server
            .model_calls()
            .into_iter()
            .skip(skip)
            .find(Logged::is_turn)
    }

    /// The run recorded a session id, the one the CLI itself names: in its events
    /// (headless: `events.jsonl`, every id named there) and in its session store (every
    /// CLI but opencode, whose store is a database). A headless run's output.log is the
    /// readable transcript: no raw JSON event in it.
    #[track_caller]
    fn check_session(&self, step: &Step, ran: &Ran, tmux: bool) -> String {
        let id = step.session_id().to_owned();
        self.check(
            !id.is_empty(),
            ran,
            &format!("run.json records a session id: {}", step.manifest),
        );
        if !tmux {
            let named = self.cli.session_ids_in_events(&step.file("events.jsonl"));
            self.check(
                !named.is_empty() && named.iter().all(|n| *n == id),
                ran,
                &format!("events.jsonl names the session {id}, and only it: {named:?}"),
            );
            let log = step.file("output.log");
            let raw: Vec<&str> = log
                .lines()
                .filter(|l| l.trim_start().starts_with("{\"type\""))
                .collect();
            self.check(
                !log.trim().is_empty() && raw.is_empty(),
                ran,
                &format!("output.log is a readable transcript, no raw event lines: {raw:#?}"),
            );
        }
        if let Some(stored) = self.cli.session_stored(&self.dirs, &id) {
            self.check(
                stored,
                ran,
                &format!("the CLI's session store holds session {id}"),
            );
        }
        id
    }

    /// A continued run: done, named after its parent, with the continuation and the
    /// session (`None`: a fresh one, not the parent's) expected.
    #[track_caller]
    fn check_continued(
        &self,
        step: &Step,
        ran: &Ran,
        parent: &Step,
        how: &str,
        session: Option<&str>,
    ) {
        let m = &step.manifest;
        self.check(
            m["status"] == "done"
                && m["parent"] == parent.id()
                && m["continuation"] == how
                && m["mode"] == parent.manifest["mode"],
            ran,
            &format!(
                "the new run is done, its parent {}, continuation {how}: {m}",
                parent.id()
            ),
        );
        match session {
            Some(id) => self.check(
                step.session_id() == id,
                ran,
                &format!("the continued run is in the same session {id}: {m}"),
            ),
            None => self.check(
                !step.session_id().is_empty() && step.session_id() != parent.session_id(),
                ran,
                &format!("the hand-off is a session of its own: {m}"),
            ),
        }
    }

    /// The first conversation request of the continued run `next` (after the first
    /// `skip` model calls) carries the earlier run: each of `needles`. Resumed, they
    /// came from the CLI's session: agent-offload's prompt for `next` has none of them.
    /// Handed off, they came from that prompt, the seed of a fresh session.
    #[track_caller]
    fn check_carried(
        &self,
        skip: usize,
        ran: &Ran,
        next: &Step,
        needles: &[String],
        resumed: bool,
    ) {
        let turn = self.first_turn_after(skip);
        let body = turn.as_ref().map_or("", |t| t.body.as_str());
        let prompt = next.file("prompt.md");
        let missing: Vec<String> = needles
            .iter()
            .filter_map(|n| {
                let (sent, ours) = (body.contains(n.as_str()), prompt.contains(n.as_str()));
                (!sent || ours == resumed)
                    .then(|| format!("{n} (sent: {sent}, in agent-offload's prompt: {ours})"))
            })
            .collect();
        let how = if resumed {
            "from the resumed session, not from agent-offload's prompt"
        } else {
            "in the hand-off prompt"
        };
        self.check(
            turn.is_some() && !prompt.is_empty() && missing.is_empty(),
            ran,
            &format!(
                "the continued run's first request to the model carries the earlier run \
                 {how}; missing: {missing:?}"
            ),
        );
    }

    /// agent-offload exited with `code` and printed `stdout`.
    #[track_caller]
    fn check_exit(&self, ran: &Ran, code: i32, stdout: &str) {
        self.check(
            ran.output.status.code() == Some(code),
            ran,
            &format!("agent-offload exits {code}"),
        );
        self.check(
            ran.stdout() == format!("{stdout}\n"),
            ran,
            &format!("stdout is {stdout:?}"),
        );
    }

    /// The run is in a pane of the test's tmux server, closed after it; only the
    /// caller's pane is left.
    #[track_caller]
    fn check_panes_closed(&self, ran: &Ran) {
        if let Some(server) = &self.tmux {
            self.check(
                server.panes() == vec![server.caller.clone()],
                ran,
                "the run's pane is closed; only the caller's is left",
            );
        }
    }
}

/// A run, then `continue RUN "<second task>"`: the same session, resumed.
fn resume(cli: Cli, tmux: bool) {
    let a = Agent::new(cli, tmux);
    let mode = if tmux { "tmux" } else { "headless" };
    let marker = format!("turn-one-{}", unique());
    let ran = a.run(
        mode_args(tmux),
        &task(&marker, "e2e first summary ", mode),
        RUN_TIMEOUT,
    );
    a.check_exit(&ran, 0, &format!("e2e first summary {mode}"));
    let first = a.step_since(&[], &ran);
    let id = a.check_session(&first, &ran, tmux);
    a.check_panes_closed(&ran);

    let before = a.run_dirs();
    let skip = a.server.model_calls().len();
    let ran = a.continue_run(
        first.id(),
        &[],
        &task(
            &format!("turn-two-{}", unique()),
            "e2e second summary ",
            mode,
        ),
        RUN_TIMEOUT,
    );
    a.check_exit(&ran, 0, &format!("e2e second summary {mode}"));
    let second = a.step_since(&before, &ran);
    a.check_continued(&second, &ran, &first, "resume", Some(&id));
    a.check_session(&second, &ran, tmux);
    a.check_panes_closed(&ran);
    a.check_carried(
        skip,
        &ran,
        &second,
        &first.turns(tmux, &marker, "done.md"),
        true,
    );
    a.check_no_survivors(&ran);
}

/// `agent-offload -H` run, then `continue RUN "..."`: headless again, in the same
/// session (run.json's `session_id` = the id in the CLI's events), the resumed request
/// carries turn 1, and each output.log is a transcript, not raw JSON.
pub fn resume_headless(cli: Cli) {
    resume(cli, false);
}

/// The same in tmux mode: the run in a pane, the continuation in a new pane, resuming
/// the session agent-offload assigned (claude, gemini, qwen) or found in the CLI's
/// store after the run (codex, pi).
pub fn resume_tmux(cli: Cli) {
    resume(cli, true);
}

/// A CLI whose tmux session agent-offload cannot know (opencode keeps sessions in
/// a database, not read): `continue` is refused with exit 2 and the way out (`--fresh`),
/// and that way out works: a fresh session of the same CLI takes the work over.
pub fn no_session_in_tmux(cli: Cli) {
    let a = Agent::new(cli, true);
    let marker = format!("turn-one-{}", unique());
    let ran = a.run(
        &[],
        &task(&marker, "e2e first summary ", "tmux"),
        RUN_TIMEOUT,
    );
    a.check_exit(&ran, 0, "e2e first summary tmux");
    let first = a.step_since(&[], &ran);
    a.check(
        first.manifest["session_id"].is_null(),
        &ran,
        &format!("no session id is recorded: {}", first.manifest),
    );

    let ran = a.continue_run(first.id(), &[], "the next step", RUN_TIMEOUT);
    let stderr = ran.stderr();
    a.check(
        ran.output.status.code() == Some(2)
            && ran.stdout().is_empty()
            && stderr.contains(&format!("run {} has no session id to resume", first.id()))
            && stderr.contains(&format!("agent-offload continue {} --fresh", first.id())),
        &ran,
        "continue exits 2, saying there is no session and how to hand off (--fresh)",
    );
    a.check(
        a.run_dirs().len() == 1,
        &ran,
        "no run is started for a refused continue",
    );

    let before = a.run_dirs();
    let ran = a.continue_run(
        first.id(),
        &["--fresh"],
        &task(
            &format!("turn-two-{}", unique()),
            "e2e fresh summary ",
            "tmux",
        ),
        RUN_TIMEOUT,
    );
    a.check_exit(&ran, 0, "e2e fresh summary tmux");
    let second = a.step_since(&before, &ran);
    let m = &second.manifest;
    a.check(
        m["status"] == "done"
            && m["parent"] == first.id()
            && m["continuation"] == "handoff"
            && m["mode"] == "tmux",
        &ran,
        &format!("the fresh run is a hand-off of its parent: {m}"),
    );
    a.check_panes_closed(&ran);
    a.check_no_survivors(&ran);
}

/// The agent asks (question.md): exit 3 with the question on stdout; `continue RUN
/// "<answer>"` resumes the session, whose first request carries the question turn, and
/// the agent then publishes done.md (exit 0).
fn question(cli: Cli, tmux: bool) {
    let a = Agent::new(cli, tmux);
    let mode = if tmux { "tmux" } else { "headless" };
    let asked = format!("Which colour should the button be? (question {})", unique());
    let ran = a.run(mode_args(tmux), &question_task(&asked), RUN_TIMEOUT);
    a.check_exit(&ran, 3, &asked);
    let first = a.step_since(&[], &ran);
    a.check(
        first.manifest["status"] == "needs_input",
        &ran,
        &format!("the run needs input: {}", first.manifest),
    );
    a.check(
        ran.stderr()
            .contains(&format!("agent-offload continue {} \"ANSWER\"", first.id())),
        &ran,
        "stderr says how to answer",
    );
    let id = a.check_session(&first, &ran, tmux);
    a.check_panes_closed(&ran);

    let before = a.run_dirs();
    let skip = a.server.model_calls().len();
    let answer = format!(
        "The answer to your question: blue.\n{}",
        task(
            &format!("answer-{}", unique()),
            "e2e answered summary ",
            mode
        )
    );
    let ran = a.continue_run(first.id(), &[], &answer, RUN_TIMEOUT);
    a.check_exit(&ran, 0, &format!("e2e answered summary {mode}"));
    let second = a.step_since(&before, &ran);
    a.check_continued(&second, &ran, &first, "resume", Some(&id));
    a.check_session(&second, &ran, tmux);
    a.check_panes_closed(&ran);
    a.check_carried(
        skip,
        &ran,
        &second,
        &first.turns(tmux, &asked, "question.md"),
        true,
    );
    a.check_no_survivors(&ran);
}

/// [`question`] headless.
pub fn question_headless(cli: Cli) {
    question(cli, false);
}

/// [`question`] in tmux mode: the answer goes to the session in a new pane.
pub fn question_tmux(cli: Cli) {
    question(cli, true);
}

/// A headless run of `from`, then `continue RUN -p <to> "..."`: a fresh session of the
/// other CLI, whose prompt carries the first task and the first run's summary.
pub fn handoff(from: Cli, to: Cli) {
    let a = Agent::with_profiles(&[from, to], false);
    let marker = format!("turn-one-{}", unique());
    let head = format!("e2e summary from {} ", from.name());
    let tail = format!("for the hand-off {}", unique());
    let ran = a.run(&["-H"], &task(&marker, &head, &tail), RUN_TIMEOUT);
    a.check_exit(&ran, 0, &format!("{head}{tail}"));
    let first = a.step_since(&[], &ran);
    a.check_session(&first, &ran, false);

    let before = a.run_dirs();
    let skip = a.server.model_calls().len();
    let ran = a.continue_run(
        first.id(),
        &["-p", to.name()],
        &task(
            &format!("turn-two-{}", unique()),
            "e2e summary from ",
            to.name(),
        ),
        RUN_TIMEOUT,
    );
    a.check_exit(&ran, 0, &format!("e2e summary from {}", to.name()));
    let second = a.step_since(&before, &ran);
    a.check_continued(&second, &ran, &first, "handoff", None);
    a.check(
        second.manifest["profile"] == to.name() && second.manifest["interface"] == to.name(),
        &ran,
        &format!("the hand-off runs {}: {}", to.name(), second.manifest),
    );
    // The new session's own id, as its CLI named it.
    let named = to.session_ids_in_events(&second.file("events.jsonl"));
    a.check(
        named.first().map(String::as_str) == Some(second.session_id()),
        &ran,
        &format!("events.jsonl of the hand-off names its session: {named:?}"),
    );
    a.check_carried(
        skip,
        &ran,
        &second,
        &[marker, format!("{head}{tail}")],
        false,
    );
    a.check_no_survivors(&ran);
}

/// The session scenarios, one module per CLI: `sessions::claude::resume_headless`, ...
/// Each listed test calls the scenario function of its name with the CLI.
macro_rules! session_tests {
    ($($module:ident => $cli:expr, [$($(#[$attr:meta])* $test:ident),* $(,)?];)*) => {$(
        mod $module {
            use crate::clis::Cli;

            $(
                #[test]
                $(#[$attr])*
                fn $test() {
                    super::$test($cli);
                }
            )*
        }
    )*};
}

session_tests! {
    claude => Cli::Claude, [resume_headless, resume_tmux, question_headless, question_tmux];
    codex => Cli::Codex, [resume_headless, resume_tmux, question_headless, question_tmux];
    opencode => Cli::Opencode, [resume_headless, no_session_in_tmux, question_headless];
    pi => Cli::Pi, [resume_headless, resume_tmux, question_headless, question_tmux];
    gemini => Cli::Gemini, [resume_headless, resume_tmux, question_headless, question_tmux];
    qwen => Cli::Qwen, [resume_headless, resume_tmux, question_headless, question_tmux];
}

/// Hand-offs between CLIs: `sessions::handoff::claude_to_codex`, ...
mod handoff {
    use crate::clis::Cli;

    #[test]
    fn claude_to_codex() {
        super::handoff(Cli::Claude, Cli::Codex);
    }

    #[test]
    fn codex_to_claude() {
        super::handoff(Cli::Codex, Cli::Claude);
    }
}
