//! End-to-end tests against the real agent CLIs (claude, codex, opencode, pi, gemini,
//! qwen), each pointed at a scripted model server on 127.0.0.1 (`model_server`).
//!
//! Not part of `cargo test`: the target has `test = false` and needs the CLIs that
//! `e2e/run.sh` installs (pinned in `e2e/package.json`) into a cache outside the repo.
//! Run everything with `e2e/run.sh`, or after an install, one CLI with
//! `cargo test --test real_agents claude::`.

#[allow(dead_code)]
#[path = "../integration/harness.rs"]
mod harness;
// Shared with the fast suite, which uses more of it than this suite does.
#[allow(dead_code)]
#[path = "../integration/tmux_server.rs"]
mod tmux_server;

mod clis;
mod model_server;
mod scenarios;
mod sessions;
mod usage;

/// The scenarios, one module per CLI: `claude::headless`, `codex::tmux`, ...
macro_rules! agent_tests {
    ($($module:ident => $cli:expr),* $(,)?) => {$(
        mod $module {
            use crate::clis::Cli;
            use crate::scenarios;

            /// `agent-offload -H`: the CLI's non-interactive form publishes done.md.
            #[test]
            fn headless() {
                scenarios::headless($cli);
            }

            /// tmux mode: the TUI in a pane beside the caller; the pane is closed after.
            #[test]
            fn tmux() {
                scenarios::tmux($cli);
            }

            /// The model server answers 401: the run fails promptly, with the error.
            #[test]
            fn unauthorized() {
                scenarios::unauthorized($cli);
            }

            /// A skill in the CLI's user skill directory is listed to the model.
            #[test]
            fn skill() {
                scenarios::skill($cli);
            }
        }
    )*};
}

agent_tests! {
    claude => Cli::Claude,
    codex => Cli::Codex,
    opencode => Cli::Opencode,
    pi => Cli::Pi,
    gemini => Cli::Gemini,
    qwen => Cli::Qwen,
}
