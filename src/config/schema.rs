//! The config file exactly as written: strict serde types with source locations.
//! `config::load` turns these into checked [`crate::profile::Profile`]s.
//!
//! The JSON Schema that `agent-offload config schema` prints is derived from these same
//! types (schemars reads the serde attributes: `deny_unknown_fields` becomes
//! `additionalProperties: false`, enums become their spellings), so it cannot drift
//! from what the loader accepts. `Spanned<T>` is schema'd as `T`.

#[cfg(test)]
use std::borrow::Cow;
#[cfg(test)]
use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;
#[cfg(test)]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::interface::Interface;

/// A duration as `duration::parse` accepts it: `90s`, `20m`, `1h30m`, `500ms`, `2d`.
#[cfg(test)]
const DURATION_PATTERN: &str = r"^\s*([0-9]+(ms|s|m|h|d))+\s*$";
/// `stall_after`: a duration or `off`.
#[cfg(test)]
const STALL_PATTERN: &str = r"^\s*(off|([0-9]+(ms|s|m|h|d))+)\s*$";
/// A variable name as `config::is_shell_identifier` accepts it.
#[cfg(test)]
const IDENTIFIER_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// agent-offload configuration: profiles that describe how to start agent CLIs.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, schemars(title = "agent-offload config"))]
pub struct RawConfig {
    /// The profile used without -p/--profile; required when there is more than one.
    #[cfg_attr(test, schemars(with = "Option<String>"))]
    pub default_profile: Option<Spanned<String>>,
    /// Run every profile headless by default (default false: in a tmux pane); `auto`:
    /// in a pane when started inside tmux, headless otherwise.
    pub headless: Option<RawHeadless>,
    /// tmux mode: move the focus to the new pane (default false).
    pub focus: Option<bool>,
    /// tmux mode: when the pane beside yours would be narrower than this many columns,
    /// the agent gets a new window instead (default 80; 0 never does for width).
    pub min_pane_width: Option<u16>,
    /// Stop waiting after this long and leave the agent running (exit 75): 8m, 1h, ...
    #[cfg_attr(test, schemars(with = "Option<String>", extend("pattern" = DURATION_PATTERN)))]
    pub detach_after: Option<Spanned<String>>,
    /// Call a run stalled after this long without a sign of work (default 10m), or
    /// `off`.
    #[cfg_attr(test, schemars(with = "Option<String>", extend("pattern" = STALL_PATTERN)))]
    pub stall_after: Option<Spanned<String>>,
    /// What a stall does: warn (default) or stop (exit 5).
    pub on_stall: Option<crate::profile::OnStall>,
    /// Run every agent in a git worktree of its own: true or head (from HEAD), dirty
    /// (from the working tree), false (default).
    pub worktree: Option<RawWorktree>,
    /// Stop every run that uses more tokens than this (input plus output): exit 4.
    pub max_tokens: Option<u64>,
    /// Stop every run that costs more than this many US dollars: exit 4.
    #[cfg_attr(test, schemars(with = "Option<f64>", extend("exclusiveMinimum" = 0)))]
    pub max_cost: Option<Spanned<f64>>,
    /// The profiles, by name (letters, digits, '.', '_' and '-').
    #[cfg_attr(test, schemars(with = "BTreeMap<String, RawProfile>", extend("minProperties" = 1)))]
    #[serde(deserialize_with = "profiles_but_skipped")]
    pub profiles: IndexMap<String, Spanned<RawProfile>>,
}

/// One way of starting an agent CLI.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, schemars(rename = "Profile"))]
pub struct RawProfile {
    /// The program: a name on PATH, an absolute path, ~/path, or a path relative to the
    /// config file (./agent.sh).
    #[cfg_attr(test, schemars(with = "String", extend("minLength" = 1)))]
    pub command: Spanned<String>,
    /// Which agent CLI this is, for its argument conventions (default generic).
    pub interface: Option<Interface>,
    /// Arguments placed before the prompt.
    #[cfg_attr(test, schemars(with = "Option<Vec<String>>"))]
    pub args: Option<Spanned<Vec<String>>>,
    /// Environment for the agent: literals, or `{from_env: NAME}` to take a value from
    /// agent-offload's own environment without writing it anywhere.
    #[cfg_attr(test, schemars(
        with = "Option<BTreeMap<String, RawEnvValue>>",
        extend("propertyNames" = {"pattern": IDENTIFIER_PATTERN})
    ))]
    pub env: Option<IndexMap<String, Spanned<RawEnvValue>>>,
    /// Variables handed from agent-offload's environment to the agent, by name or
    /// prefix (`AWS_*`), in both modes: a pane's environment comes from the tmux server,
    /// not from the caller, so a variable exported since the server started reaches a
    /// pane only this way. Never written to a file.
    #[cfg_attr(test, schemars(with = "Option<Vec<String>>"))]
    pub pass_env: Option<Spanned<Vec<String>>>,
    /// How the prompt reaches the agent (default argument).
    pub prompt: Option<RawDelivery>,
    /// Run this profile headless (overrides the top-level setting); `auto`: in a pane
    /// when started inside tmux, headless otherwise.
    pub headless: Option<RawHeadless>,
    /// Default --timeout for this profile: 90s, 20m, 1h30m, ...
    #[cfg_attr(test, schemars(with = "Option<String>", extend("pattern" = DURATION_PATTERN)))]
    pub timeout: Option<Spanned<String>>,
    /// Stop waiting after this long and leave the agent running (overrides the
    /// top-level setting).
    #[cfg_attr(test, schemars(with = "Option<String>", extend("pattern" = DURATION_PATTERN)))]
    pub detach_after: Option<Spanned<String>>,
    /// tmux mode: move the focus to the new pane.
    pub focus: Option<bool>,
    /// tmux mode: a pane narrower than this many columns goes to a new window
    /// (overrides the top-level setting).
    pub min_pane_width: Option<u16>,
    /// Run this profile's agents in a git worktree of their own: true or head, dirty,
    /// or false (overrides the top-level setting).
    pub worktree: Option<RawWorktree>,
    /// Call a run stalled after this long without a sign of work, or `off` (overrides
    /// the top-level setting).
    #[cfg_attr(test, schemars(with = "Option<String>", extend("pattern" = STALL_PATTERN)))]
    pub stall_after: Option<Spanned<String>>,
    /// What a stall does: warn or stop (overrides the top-level setting).
    pub on_stall: Option<crate::profile::OnStall>,
    /// Stop a run that uses more tokens than this (overrides the top-level setting).
    pub max_tokens: Option<u64>,
    /// Stop a run that costs more than this many US dollars (overrides the top-level
    /// setting).
    #[cfg_attr(test, schemars(with = "Option<f64>", extend("exclusiveMinimum" = 0)))]
    pub max_cost: Option<Spanned<f64>>,
    /// USD per million tokens, to estimate the cost of a CLI that reports tokens but no
    /// cost (codex, gemini, qwen). No price list is built in.
    #[cfg_attr(test, schemars(with = "Option<RawPrice>"))]
    pub price: Option<Spanned<RawPrice>>,
    /// Arguments that resume the agent's session for `agent-offload continue`, with
    /// `{session_id}` for the id (e.g. `["--resume", "{session_id}"]`). Needed by a
    /// generic profile (its agent reports the id in the run directory's `session_id`
    /// file); overrides the built-in ones of a known CLI.
    #[cfg_attr(test, schemars(with = "Option<Vec<String>>"))]
    pub resume_args: Option<Spanned<Vec<String>>>,
    /// `interface: cursor`: write Cursor's workspace trust marker before each launch
    /// (default true).
    #[cfg_attr(test, schemars(with = "Option<bool>"))]
    pub trust_workspace: Option<Spanned<bool>>,
}

/// Prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, schemars(rename = "Price"))]
pub struct RawPrice {
    /// Input tokens.
    pub input: f64,
    /// Cached input tokens (default: the input price).
    pub cached_input: Option<f64>,
    /// Output tokens (reasoning included).
    pub output: f64,
}

/// How the prompt reaches the agent: as an argument, on stdin, or as the path of
/// `prompt.md` in place of `{prompt_file}` in `args`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(test, schemars(rename = "PromptDelivery"))]
pub enum RawDelivery {
    Argument,
    Stdin,
    PromptFileArg,
}

/// `headless`: `true`, `false` or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawHeadless {
    Bool(bool),
    Auto,
}

impl From<RawHeadless> for crate::profile::Headless {
    fn from(raw: RawHeadless) -> Self {
        match raw {
            RawHeadless::Bool(false) => Self::No,
            RawHeadless::Bool(true) => Self::Yes,
            RawHeadless::Auto => Self::Auto,
        }
    }
}

#[cfg(test)]
impl JsonSchema for RawHeadless {
    fn schema_name() -> Cow<'static, str> {
        "Headless".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "true: headless; false: in a tmux pane; auto: in a pane when started inside tmux, headless otherwise.",
            "enum": [true, false, "auto"]
        })
    }
}

impl<'de> Deserialize<'de> for RawHeadless {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeadlessVisitor)
    }
}

struct HeadlessVisitor;

impl HeadlessVisitor {
    fn invalid<E: de::Error>(shown: &dyn fmt::Display) -> E {
        E::custom(format!(
            "invalid value {shown} (expected true, false or auto)"
        ))
    }
}

impl Visitor<'_> for HeadlessVisitor {
    type Value = RawHeadless;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false or auto")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(RawHeadless::Bool(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == "auto" {
            Ok(RawHeadless::Auto)
        } else {
            Err(Self::invalid(&format_args!("\"{v}\"")))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(Self::invalid(&v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(Self::invalid(&v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(Self::invalid(&v))
    }
}

/// `worktree`: `true` or `head` (from HEAD), `dirty` (from the working tree), or
/// `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawWorktree(pub Option<crate::profile::WorktreeStart>);

impl<'de> Deserialize<'de> for RawWorktree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawWorktree;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, head or dirty")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawWorktree, E> {
                Ok(RawWorktree(
                    v.then_some(crate::profile::WorktreeStart::Head),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawWorktree, E> {
                match v {
                    "true" => Ok(RawWorktree(Some(crate::profile::WorktreeStart::Head))),
                    "false" => Ok(RawWorktree(None)),
                    other => crate::profile::WorktreeStart::parse(other)
                        .map(|s| RawWorktree(Some(s)))
                        .ok_or_else(|| E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
impl JsonSchema for RawWorktree {
    fn schema_name() -> Cow<'static, str> {
        "Worktree".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "true or head (from HEAD), dirty (from the working tree), false",
            "oneOf": [{"type": "boolean"}, {"enum": ["head", "dirty"]}]
        })
    }
}

/// The JSON Schema of the config file (draft 2020-12), for editors: written out once
/// (`src/config/config.schema.json`), so the shipped binary carries no schema generator. A
/// unit test derives it again from these types and fails when the file differs.
pub const JSON_SCHEMA: &str = include_str!("config.schema.json");

/// The schema derived from the types above (tests only: see [`JSON_SCHEMA`]).
#[cfg(test)]
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawConfig).to_value()
}

#[cfg(test)]
mod schema_tests {
    #[test]
    fn the_written_schema_is_the_types_schema() {
        let mut derived = serde_json::to_string_pretty(&super::json_schema()).unwrap();
        derived.push('\n');
        assert!(
            derived == super::JSON_SCHEMA,
            "src/config/config.schema.json differs from the schema of the config types: write it \
             again with `cargo test --bin agent-offload write_the_schema -- --ignored`"
        );
    }

    /// Writes `src/config/config.schema.json` from the types (run by hand after changing them).
    #[test]
    #[ignore = "writes src/config/config.schema.json"]
    fn write_the_schema() {
        let mut derived = serde_json::to_string_pretty(&super::json_schema()).unwrap();
        derived.push('\n');
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/config.schema.json");
        std::fs::write(path, derived).unwrap();
    }
}

/// An `env` value: a string, number or bool literal, or `{from_env: NAME}`.
#[derive(Debug)]
pub enum RawEnvValue {
    Literal(String),
    FromEnv(String),
}

#[cfg(test)]
impl JsonSchema for RawEnvValue {
    fn schema_name() -> Cow<'static, str> {
        "EnvValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A literal (string, number or bool), or {from_env: NAME}: the value of NAME in agent-offload's environment.",
            "oneOf": [
                {"type": ["string", "number", "boolean"]},
                {
                    "type": "object",
                    "properties": {
                        "from_env": {"type": "string", "pattern": IDENTIFIER_PATTERN}
                    },
                    "required": ["from_env"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for RawEnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvValueVisitor)
    }
}

struct EnvValueVisitor;

impl<'de> Visitor<'de> for EnvValueVisitor {
    type Value = RawEnvValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or bool, or {from_env: NAME}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(
            "empty value (expected a string, number or bool, or {from_env: NAME})",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "from_env" {
                return Err(de::Error::custom(format!(
                    "unknown key \"{key}\" (expected {{from_env: NAME}})"
                )));
            }
            name = Some(map.next_value()?);
        }
        name.map(RawEnvValue::FromEnv)
            .ok_or_else(|| de::Error::custom("expected {from_env: NAME}"))
    }
}

std::thread_local! {
    /// The profiles [`skipping`] leaves out of the parse on this thread.
    static SKIPPED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `parse` with the profiles named in `skipped` read as any YAML at all and left
/// out of `profiles`: after a mistake in one profile, the parse goes on to find the
/// next profile's, with every position, anchor and message exactly as in a full parse.
pub fn skipping<T>(skipped: &[String], parse: impl FnOnce() -> T) -> T {
    SKIPPED.with(|s| s.borrow_mut().clone_from(&skipped.to_vec()));
    let out = parse();
    SKIPPED.with(|s| s.borrow_mut().clear());
    out
}

/// `profiles`: the map, without the profiles [`skipping`] names.
fn profiles_but_skipped<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, Spanned<RawProfile>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = IndexMap<String, Spanned<RawProfile>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of profile names to profiles")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(name) = map.next_key::<String>()? {
                if SKIPPED.with(|s| s.borrow().contains(&name)) {
                    map.next_value::<de::IgnoredAny>()?;
                } else {
                    out.insert(name, map.next_value::<Spanned<RawProfile>>()?);
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}
