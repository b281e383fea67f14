//! Which agent CLI a profile starts: the identity of a CLI (its variant and its config
//! name) and the two modes it runs in. Nothing here knows how a CLI behaves: that is
//! `agents`, one file per CLI, reached through `agents::cli`.

use serde::{Deserialize, Serialize};

/// Which agent CLI a profile starts, for its argument conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    #[default]
    Generic,
    Claude,
    Codex,
    Cursor,
    Opencode,
    Pi,
    Gemini,
    Qwen,
}

/// How the agent is started: in a pane with its interactive TUI, or without a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Tmux,
    Headless,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tmux => "tmux",
            Mode::Headless => "headless",
        }
    }
}

impl Interface {
    pub const ALL: [Interface; 8] = [
        Interface::Generic,
        Interface::Claude,
        Interface::Codex,
        Interface::Cursor,
        Interface::Opencode,
        Interface::Pi,
        Interface::Gemini,
        Interface::Qwen,
    ];

    pub fn from_name(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }

    /// The `interface:` value in a config file (serde's lowercase name).
    pub fn name(self) -> &'static str {
        match self {
            Interface::Generic => "generic",
            Interface::Claude => "claude",
            Interface::Codex => "codex",
            Interface::Cursor => "cursor",
            Interface::Opencode => "opencode",
            Interface::Pi => "pi",
            Interface::Gemini => "gemini",
            Interface::Qwen => "qwen",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for i in Interface::ALL {
            let json = serde_json::to_string(&i).unwrap();
            assert_eq!(json, format!("\"{}\"", i.name()));
            assert_eq!(Interface::from_name(i.name()), Some(i));
        }
    }
}
