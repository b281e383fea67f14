//! The real agent CLIs: where the suite finds them, and how each one is pointed at the
//! scripted model server with no network (the facts are in docs/agent-clis.md of the design
//! notes). Everything particular to one CLI is in this file.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    Claude,
    Codex,
    Opencode,
    Pi,
    Gemini,
    Qwen,
}

/// The directories one test gives the agent: its own HOME, TMPDIR and XDG dirs.
pub struct AgentDirs {
    pub home: PathBuf,
    pub tmp: PathBuf,
    pub config: PathBuf,
    pub data: PathBuf,
    pub cache: PathBuf,
    pub state: PathBuf,
    /// The working directory of the run.
    pub work: PathBuf,
}

/// The environment variable carrying the model server's credential, passed to every
/// agent as a `from_env` secret; the server log shows it arrived.
pub const TOKEN_VAR: &str = "E2E_MODEL_TOKEN";

impl Cli {
    pub fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Opencode => "opencode",
            Cli::Pi => "pi",
            Cli::Gemini => "gemini",
            Cli::Qwen => "qwen",
        }
    }

    /// The npm package, whose pinned version is in `e2e/package.json`.
    pub fn package(self) -> &'static str {
        match self {
            Cli::Claude => "@anthropic-ai/claude-code",
            Cli::Codex => "@openai/codex",
            Cli::Opencode => "opencode-ai",
            Cli::Pi => "@mariozechner/pi-coding-agent",
            Cli::Gemini => "@google/gemini-cli",
            Cli::Qwen => "@qwen-code/qwen-code",
        }
    }

    /// The installed executable, after checking that the installed version is the pinned
    /// one (a stale cache must not pass for the pinned CLI).
    pub fn executable(self) -> PathBuf {
        let modules = node_modules();
        let installed = modules.join(self.package()).join("package.json");
        let text = std::fs::read_to_string(&installed).unwrap_or_else(|e| {
            panic!(
                "{} is not installed ({}: {e}): run e2e/run.sh, which installs the pinned \
                 agent CLIs and then runs this suite",
                self.package(),
                installed.display()
            )
        });
        let version: Value = serde_json::from_str(&text).unwrap();
        let pinned = pinned_version(self.package());
        assert_eq!(
            version["version"].as_str(),
            Some(pinned.as_str()),
            "{} in {} is not the version pinned in e2e/package.json: run e2e/run.sh",
            self.package(),
            modules.display()
        );
        let bin = modules.join(".bin").join(self.name());
        assert!(bin.exists(), "{} is missing", bin.display());
        bin
    }

    /// The session ids named in the CLI's structured output (a run's `events.jsonl`),
    /// in order, where each CLI names it (measured: claude and qwen `session_id` on every
    /// event, codex `thread.started.thread_id`, opencode `sessionID` on every event, pi
    /// the first line's `{"type":"session","id"}`, gemini `init.session_id`).
    pub fn session_ids_in_events(self, events: &str) -> Vec<String> {
        events
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|e| {
                let id = match self {
                    Cli::Claude | Cli::Qwen => &e["session_id"],
                    Cli::Codex if e["type"] == "thread.started" => &e["thread_id"],
                    Cli::Opencode => &e["sessionID"],
                    Cli::Pi if e["type"] == "session" => &e["id"],
                    Cli::Gemini if e["type"] == "init" => &e["session_id"],
                    _ => return None,
                };
                id.as_str().map(str::to_owned)
            })
            .collect()
    }

    /// The root of the CLI's own session store (see [`Cli::session_stored`]); `None`
    /// for opencode, whose store is a database.
    pub fn session_store(self, d: &AgentDirs) -> Option<PathBuf> {
        Some(match self {
            Cli::Claude => d.home.join(".claude/projects"),
            Cli::Codex => d.home.join(".codex/sessions"),
            Cli::Pi => d.home.join(".pi/agent/sessions"),
            Cli::Gemini => d.home.join(".gemini/tmp"),
            Cli::Qwen => d.home.join(".qwen/projects"),
            Cli::Opencode => return None,
        })
    }

    /// Whether the CLI's own session store holds session `id`: a `.jsonl` file under the
    /// store's root named by the id (gemini: by its first 8 characters) that holds it.
    /// Where each CLI keeps them (measured): claude `~/.claude/projects/<cwd>/<id>.jsonl`,
    /// codex `$CODEX_HOME/sessions/Y/M/D/rollout-<time>-<id>.jsonl`, pi
    /// `~/.pi/agent/sessions/--<cwd>--/<time>_<id>.jsonl`, gemini
    /// `~/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl`, qwen
    /// `~/.qwen/projects/<cwd>/chats/<id>.jsonl`; opencode keeps them in a database (`None`).
    pub fn session_stored(self, d: &AgentDirs, id: &str) -> Option<bool> {
        let root = self.session_store(d)?;
        let named = id.get(..8).unwrap_or(id);
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "jsonl")
                    && name.contains(named)
                    && std::fs::read_to_string(&path).is_ok_and(|t| t.contains(id))
                {
                    return Some(true);
                }
            }
        }
        Some(false)
    }

    /// Writes the CLI's own configuration for an offline run against `base_url` (the
    /// model server) and says how the profile starts it.
    pub fn configure(self, d: &AgentDirs, base_url: &str) -> Setup {
        match self {
            Cli::Claude => claude(d, base_url),
            Cli::Codex => codex(d, base_url),
            Cli::Opencode => opencode(d, base_url),
            Cli::Pi => pi(d, base_url),
            Cli::Gemini => gemini(d, base_url),
            Cli::Qwen => qwen(d, base_url),
        }
    }
}

/// What the profile needs beyond the common HOME/TMPDIR/XDG environment.
pub struct Setup {
    pub args: Vec<String>,
    /// Literal environment values.
    pub env: Vec<(&'static str, String)>,
    /// The variable through which the CLI takes its credential; the profile sets it
    /// `from_env` [`TOKEN_VAR`].
    pub token_var: &'static str,
}

fn words(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

fn claude(d: &AgentDirs, base_url: &str) -> Setup {
    let work = d.work.to_string_lossy().into_owned();
    // Skip the TUI's onboarding, folder-trust and bypass-mode dialogs.
    write_json(
        &d.home.join(".claude.json"),
        &json!({
            "hasCompletedOnboarding": true,
            "projects": {work: {"hasTrustDialogAccepted": true}}
        }),
    );
    write_json(
        &d.home.join(".claude/settings.json"),
        &json!({"skipDangerousModePermissionPrompt": true}),
    );
    Setup {
        args: words(&["--dangerously-skip-permissions"]),
        env: vec![
            ("ANTHROPIC_BASE_URL", base_url.to_owned()),
            // As root, --dangerously-skip-permissions refuses to run without it.
            ("IS_SANDBOX", "1".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
        ],
        // ANTHROPIC_API_KEY would open a "use this key?" dialog in the TUI.
        token_var: "ANTHROPIC_AUTH_TOKEN",
    }
}

fn codex(d: &AgentDirs, base_url: &str) -> Setup {
    let codex_home = d.home.join(".codex");
    let work = Value::String(d.work.to_string_lossy().into_owned());
    // wire_api "chat" is rejected by this codex: Responses only. The project is trusted
    // so that the TUI starts without asking.
    write(
        &codex_home.join("config.toml"),
        &format!(
            "model = \"gpt-5.1-codex\"\n\
             model_provider = \"e2e\"\n\
             check_for_update_on_startup = false\n\
             \n\
             [model_providers.e2e]\n\
             name = \"e2e\"\n\
             base_url = \"{base_url}/v1\"\n\
             wire_api = \"responses\"\n\
             env_key = \"{TOKEN_VAR}\"\n\
             request_max_retries = 0\n\
             stream_max_retries = 0\n\
             \n\
             [projects.{work}]\n\
             trust_level = \"trusted\"\n"
        ),
    );
    Setup {
        args: words(&["--dangerously-bypass-approvals-and-sandbox"]),
        env: vec![("CODEX_HOME", codex_home.to_string_lossy().into_owned())],
        token_var: TOKEN_VAR,
    }
}

fn opencode(d: &AgentDirs, base_url: &str) -> Setup {
    write_json(
        &d.config.join("opencode/opencode.json"),
        &json!({
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": false,
            "share": "disabled",
            "model": "e2e/e2e-model",
            "provider": {"e2e": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "e2e",
                "options": {
                    "baseURL": format!("{base_url}/v1"),
                    "apiKey": format!("{{env:{TOKEN_VAR}}}")
                },
                "models": {"e2e-model": {"name": "e2e model", "tool_call": true}}
            }},
            "permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"}
        }),
    );
    Setup {
        args: Vec::new(),
        env: vec![
            ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
            ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
            ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
            // Nothing may be fetched: a registry that does not answer.
            ("npm_config_registry", dead_url()),
            // No OPENCODE_PERMISSION here: agent-offload allows the run directory itself
            // (interface::protocol_env), and this suite proves that it suffices.
        ],
        token_var: TOKEN_VAR,
    }
}

fn pi(d: &AgentDirs, base_url: &str) -> Setup {
    write_json(
        &d.home.join(".pi/agent/models.json"),
        &json!({"providers": {"e2e": {
            "baseUrl": format!("{base_url}/v1"),
            "api": "openai-completions",
            // The name of the variable holding the key.
            "apiKey": TOKEN_VAR,
            "models": [{"id": "e2e-model"}]
        }}}),
    );
    Setup {
        args: words(&["--model", "e2e/e2e-model"]),
        env: vec![("PI_OFFLINE", "1".into())],
        token_var: TOKEN_VAR,
    }
}

fn gemini(d: &AgentDirs, base_url: &str) -> Setup {
    // Without a selected auth type it exits 41.
    write_json(
        &d.home.join(".gemini/settings.json"),
        &json!({"security": {"auth": {"selectedType": "gemini-api-key"}}}),
    );
    Setup {
        args: words(&["--yolo"]),
        env: vec![
            ("GOOGLE_GEMINI_BASE_URL", base_url.to_owned()),
            // An untrusted folder silently downgrades --yolo.
            ("GEMINI_CLI_TRUST_WORKSPACE", "true".into()),
        ],
        token_var: "GEMINI_API_KEY",
    }
}

fn qwen(d: &AgentDirs, base_url: &str) -> Setup {
    // Otherwise its TUI runs a global npm self-update.
    write_json(
        &d.home.join(".qwen/settings.json"),
        &json!({"general": {"enableAutoUpdate": false}}),
    );
    Setup {
        args: words(&["--auth-type", "openai", "--yolo"]),
        env: vec![
            ("OPENAI_BASE_URL", format!("{base_url}/v1")),
            ("OPENAI_MODEL", "e2e-model".into()),
        ],
        token_var: "OPENAI_API_KEY",
    }
}

/// The directory holding the installed CLIs: `$AGENT_OFFLOAD_E2E_CACHE/agents/node_modules`
/// (default `~/.cache/agent-offload-e2e`), as e2e/run.sh installs them.
pub fn node_modules() -> PathBuf {
    let cache = std::env::var_os("AGENT_OFFLOAD_E2E_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agent-offload-e2e"))
        })
        .expect("set AGENT_OFFLOAD_E2E_CACHE or HOME");
    cache.join("agents/node_modules")
}

/// The version of `package` pinned in `e2e/package.json`, the one place the pins live.
pub fn pinned_version(package: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/package.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["dependencies"][package]
        .as_str()
        .unwrap_or_else(|| panic!("{package} is not pinned in {}", path.display()))
        .to_owned()
}

/// A URL on 127.0.0.1 where nothing listens (a port bound, then released).
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/")
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn write_json(path: &Path, v: &Value) {
    write(path, &serde_json::to_string_pretty(v).unwrap());
}
