//! Loading the config file into checked profiles. Every mistake is reported with the
//! file, line and column, the profile and the field, and what would be valid.

pub mod builtin;
mod discover;
pub mod schema;
pub mod starter;

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_saphyr::{Location, Spanned};

pub use builtin::{Detected, detect};
pub use discover::{Found, Origin, PROJECT_FILE, find, user_config_path};
use schema::{RawConfig, RawDelivery, RawEnvValue, RawProfile};

use crate::agents::SESSION_ID_PLACEHOLDER;
use crate::duration;
use crate::exit::usage;
use crate::interface::Interface;
use crate::profile::{EnvValue, Headless, PROMPT_FILE_PLACEHOLDER, Profile, PromptDelivery};

#[derive(Debug)]
pub struct Config {
    /// The file the profiles come from; `None` for the built-in profiles.
    pub path: Option<PathBuf>,
    pub origin: Origin,
    pub default_profile: String,
    /// Config-wide `headless`; a profile's own setting wins.
    pub headless: Headless,
    /// Every run in a worktree of its own (`worktree: true|head|dirty`).
    pub worktree: Option<crate::profile::WorktreeStart>,
    /// Config-wide `focus`; a profile's own setting wins.
    pub focus: bool,
    /// Config-wide `min_pane_width` (default [`DEFAULT_MIN_PANE_WIDTH`]); a profile's
    /// own setting wins.
    pub min_pane_width: u16,
    /// Config-wide `detach_after`; a profile's own setting wins.
    pub detach_after: Option<std::time::Duration>,
    /// Config-wide stall settings; a profile's own setting wins.
    pub stall_after: Option<crate::profile::StallAfter>,
    pub on_stall: Option<crate::profile::OnStall>,
    /// Config-wide budgets; a profile's own setting wins.
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
    pub profiles: IndexMap<String, Profile>,
}

impl Config {
    /// The profile named on the command line, or the default one.
    pub fn profile(&self, name: Option<&str>) -> anyhow::Result<&Profile> {
        let name = name.unwrap_or(&self.default_profile);
        self.profiles.get(name).ok_or_else(|| {
            usage(format!(
                "no profile named \"{name}\" in {} (profiles: {})",
                self.path.as_deref().map_or_else(
                    || "the built-in profiles".to_owned(),
                    |p| p.display().to_string()
                ),
                self.profile_names()
            ))
        })
    }

    /// Where the profiles come from, for messages: `PATH (origin)`, or the built-in
    /// profiles.
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("{} ({})", p.display(), self.origin.describe()),
            None => {
                "the built-in profiles (no config file; `agent-offload init` writes one)".to_owned()
            }
        }
    }

    fn profile_names(&self) -> String {
        self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// The narrowest pane an agent gets beside the caller's; narrower, it gets a new
/// window. 80 columns: what agent CLIs' interfaces are laid out for.
pub const DEFAULT_MIN_PANE_WIDTH: u16 = 80;

/// Finds and loads the config that applies to `cwd`.
pub fn discover_and_load(
    flag: Option<&Path>,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Config> {
    match find(flag, cwd, env)? {
        Found::File(path, origin) => load(&path, origin, env),
        Found::Nothing { looked } => {
            builtin::config(&detect(env("PATH").as_deref())).ok_or_else(|| {
                discover::nothing_found(&looked, &crate::agents::Builtin::all_executables())
            })
        }
    }
}

pub fn load(
    path: &Path,
    origin: Origin,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
    from_text(&text, path, origin, env)
}

/// At most this many mistakes are reported at once; a file with more is cut short.
const MAX_MISTAKES: usize = 20;

/// One mistake in the config file: where it is (line and column; `None` for one that is
/// about the file as a whole), and what it is, naming the profile and field.
#[derive(Debug)]
struct Mistake {
    at: Option<(u64, u64)>,
    message: String,
}

impl Mistake {
    fn at(loc: Location, message: &str) -> Mistake {
        Mistake {
            at: Some((loc.line(), loc.column())),
            message: message.to_owned(),
        }
    }

    fn in_file(message: impl Into<String>) -> Mistake {
        Mistake {
            at: None,
            message: message.into(),
        }
    }
}

/// Parses and validates config text as if it had been read from `path`. Every mistake
/// is reported, each on its own line with its file, line and column, in the order of
/// the file (a mistake in one profile does not hide another's), up to
/// [`MAX_MISTAKES`].
pub fn from_text(
    text: &str,
    path: &Path,
    origin: Origin,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Config> {
    let (raw, skipped, mut mistakes) = parse_all(text);
    if let Some(raw) = raw {
        let ctx = Ctx { path, env };
        match ctx.validate(raw, origin, &skipped) {
            Ok(config) if mistakes.is_empty() => return Ok(config),
            Ok(_) => {}
            Err(more) => mistakes.extend(more),
        }
    }
    // In the order of the file; those about the file as a whole last.
    mistakes.sort_by_key(|m| m.at.unwrap_or((u64::MAX, u64::MAX)));
    let more = mistakes.len() > MAX_MISTAKES;
    mistakes.truncate(MAX_MISTAKES);
    let mut lines: Vec<String> = mistakes
        .iter()
        .map(|m| match m.at {
            Some((line, column)) => format!("{}:{line}:{column}: {}", path.display(), m.message),
            None => format!("{}: {}", path.display(), m.message),
        })
        .collect();
    if more {
        lines.push(format!(
            "{}: more mistakes than these {MAX_MISTAKES}: fix these and load it again",
            path.display()
        ));
    }
    Err(crate::exit::usage_all(&lines))
}

/// Parses the YAML, and after a mistake in a profile parses it again without that
/// profile, for the next one's: the config as parsed without the profiles skipped (when
/// the rest parses), their names, and every mistake found. A mistake outside the
/// profiles ends the search: what follows it cannot be told apart from its effects.
fn parse_all(text: &str) -> (Option<RawConfig>, Vec<String>, Vec<Mistake>) {
    let mut skipped: Vec<String> = Vec::new();
    let mut mistakes = Vec::new();
    loop {
        match schema::skipping(&skipped, || parse(text)) {
            Ok(raw) => return (Some(raw), skipped, mistakes),
            // A skipped profile is still read as YAML: a mistake in it that is one in
            // any YAML (a duplicate key) comes again, and ends the search.
            Err((_, Some(name))) if skipped.contains(&name) => {
                return (None, skipped, mistakes);
            }
            Err((mistake, profile)) => {
                mistakes.push(mistake);
                match profile {
                    Some(name) if mistakes.len() <= MAX_MISTAKES => skipped.push(name),
                    _ => return (None, skipped, mistakes),
                }
            }
        }
    }
}

/// Parses the YAML, naming the profile and field of any error from the path that
/// `serde_path_to_error` tracked; with the mistake, the name of the profile it is in.
fn parse(text: &str) -> Result<RawConfig, (Mistake, Option<String>)> {
    let segments: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            *segments.borrow_mut() = e
                .path()
                .iter()
                .map(|s| match s {
                    serde_path_to_error::Segment::Map { key } => key.clone(),
                    serde_path_to_error::Segment::Seq { index } => index.to_string(),
                    _ => String::new(),
                })
                .collect();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let message = tidy_message(&e.without_snippet().to_string());
        let mut path = segments.borrow().clone();
        // "unknown field" names the field itself; the path's last segment is that field.
        if message.starts_with("unknown field") {
            path.pop();
        }
        let context = context_from_path(&path);
        let profile = match path.as_slice() {
            [profiles, name, ..] if profiles == "profiles" => Some(name.clone()),
            _ => None,
        };
        let mistake = Mistake {
            at: Some((line, column)),
            message: format!("{context}{message}"),
        };
        (mistake, profile)
    })
}

/// Turns a serde path such as `profiles.spark.env.TOKEN` into `profile "spark": env
/// "TOKEN": `. The `value` segments that `Spanned` wrappers add are dropped.
fn context_from_path(path: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        let after_env = i > 0 && path[i - 1] == "env";
        if seg.is_empty() || (seg == "value" && !after_env) {
            continue;
        }
        parts.push(seg);
    }
    let mut out = String::new();
    match parts.as_slice() {
        [] => {}
        ["profiles", name, rest @ ..] => {
            let _ = write!(out, "profile \"{name}\": ");
            match rest {
                [] => {}
                ["env", var, ..] => {
                    let _ = write!(out, "env \"{var}\": ");
                }
                [field, ..] => {
                    let _ = write!(out, "field \"{field}\": ");
                }
            }
        }
        [field, ..] => {
            let _ = write!(out, "field \"{field}\": ");
        }
    }
    out
}

/// serde-saphyr's text starts with its own position and uses serde's backtick style;
/// rewrite it to ours: `unknown field "comand" (expected one of command, ...)`.
fn tidy_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // The position is already at the front of our message: drop serde-saphyr's
    // trailing " at line L, column C", which would otherwise land inside the
    // parentheses and quotes written below.
    let first = match first.rfind(" at line ") {
        Some(i) if is_location_suffix(&first[i + " at line ".len()..]) => &first[..i],
        _ => first,
    };
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    for kind in ["unknown field", "unknown variant"] {
        if let Some(rest) = msg.strip_prefix(kind)
            && let Some((name, expected)) = rest.trim_start().split_once(", expected ")
        {
            let name = name.trim_matches('`');
            let expected = expected.replace('`', "");
            return format!("{kind} \"{name}\" (expected {expected})");
        }
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        return format!("missing required field \"{}\"", field.trim_matches('`'));
    }
    if msg.starts_with("duplicate mapping key") {
        let key = msg
            .trim_start_matches("duplicate mapping key")
            .trim_start_matches(':')
            .split(',')
            .next()
            .unwrap_or("")
            .trim();
        return format!("duplicate key \"{key}\" (each key may appear once)");
    }
    match msg {
        "invalid boolean" => "invalid boolean (expected true or false)".to_owned(),
        // min_pane_width, the one u16.
        "invalid u16" => "invalid number (expected a whole number from 0 to 65535)".to_owned(),
        "expected sequence start" => "expected a list (e.g. [\"--flag\", \"value\"])".to_owned(),
        "expected mapping start" => "expected a mapping (name: value lines)".to_owned(),
        _ => msg.replace('`', "\""),
    }
}

/// Whether `s` is `L, column C` (the rest of serde-saphyr's location suffix).
fn is_location_suffix(s: &str) -> bool {
    s.split_once(", column ").is_some_and(|(l, c)| {
        !l.is_empty()
            && !c.is_empty()
            && l.bytes().all(|b| b.is_ascii_digit())
            && c.bytes().all(|b| b.is_ascii_digit())
    })
}

struct Ctx<'a> {
    path: &'a Path,
    env: &'a dyn Fn(&str) -> Option<OsString>,
}

// The checks of the fields are the loading context's methods, whether or not a check
// needs the context itself (its file, its environment).
#[allow(clippy::unused_self)]
impl Ctx<'_> {
    /// The checked config, or every mistake found; `skipped` names the profiles the
    /// parse left out for mistakes of their own (they exist, for `default_profile`).
    fn validate(
        &self,
        raw: RawConfig,
        origin: Origin,
        skipped: &[String],
    ) -> Result<Config, Vec<Mistake>> {
        if raw.profiles.is_empty() && skipped.is_empty() {
            return Err(vec![Mistake::in_file(
                "field \"profiles\": no profiles defined (add at least one, with a command)",
            )]);
        }
        let mut mistakes = Vec::new();
        let mut all: Vec<String> = raw.profiles.keys().cloned().collect();
        all.extend(skipped.iter().cloned());
        let mut profiles = IndexMap::new();
        for (name, spanned) in raw.profiles {
            match self.profile(&name, spanned) {
                Ok(profile) => {
                    profiles.insert(name, profile);
                }
                Err(m) => mistakes.push(m),
            }
        }
        let names = all.join(", ");
        let default_profile = match raw.default_profile {
            Some(d) if all.contains(&d.value) => Some(d.value),
            Some(d) => {
                mistakes.push(Mistake::at(
                    d.referenced,
                    &format!(
                        "field \"default_profile\": no profile named \"{}\" (profiles: {names})",
                        d.value,
                    ),
                ));
                None
            }
            None if all.len() == 1 => all.first().cloned(),
            None => {
                mistakes.push(Mistake::in_file(format!(
                    "field \"default_profile\" is required when there is more than one profile \
                     (profiles: {names})"
                )));
                None
            }
        };
        let detach_after = raw.detach_after.and_then(|t| {
            duration::parse(&t.value)
                .map_err(|e| {
                    mistakes.push(Mistake::at(
                        t.referenced,
                        &format!("field \"detach_after\": {e}"),
                    ));
                })
                .ok()
        });
        let max_cost = self
            .usd("max_cost", raw.max_cost)
            .map_err(|m| mistakes.push(m))
            .unwrap_or_default();
        let stall_after = self
            .stall_after("field \"stall_after\"", raw.stall_after)
            .map_err(|m| mistakes.push(m))
            .unwrap_or_default();
        let Some(default_profile) = default_profile.filter(|_| mistakes.is_empty()) else {
            return Err(mistakes);
        };
        Ok(Config {
            stall_after,
            on_stall: raw.on_stall,
            path: Some(self.path.to_path_buf()),
            origin,
            default_profile,
            detach_after,
            max_tokens: raw.max_tokens,
            max_cost,
            headless: raw.headless.map(Headless::from).unwrap_or_default(),
            worktree: raw.worktree.and_then(|w| w.0),
            focus: raw.focus.unwrap_or(false),
            min_pane_width: raw.min_pane_width.unwrap_or(DEFAULT_MIN_PANE_WIDTH),
            profiles,
        })
    }

    fn profile(&self, name: &str, spanned: Spanned<RawProfile>) -> Result<Profile, Mistake> {
        let at = spanned.referenced;
        let raw = spanned.value;
        let here = |field: &str, loc: Location, msg: &str| {
            Mistake::at(
                loc,
                &format!("profile \"{name}\": field \"{field}\": {msg}"),
            )
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            return Err(Mistake::at(
                at,
                &format!(
                    "profile \"{name}\": invalid profile name (use letters, digits, '.', '_' and '-')"
                ),
            ));
        }
        let command = raw.command.value.trim().to_owned();
        if command.is_empty() {
            return Err(here("command", raw.command.referenced, "must not be empty"));
        }
        let command = self.resolve_command(&command);

        let (args, args_at) = match raw.args {
            Some(a) => (a.value, Some(a.referenced)),
            None => (Vec::new(), None),
        };
        let prompt = match raw.prompt {
            None | Some(RawDelivery::Argument) => PromptDelivery::Argument,
            Some(RawDelivery::Stdin) => PromptDelivery::Stdin,
            Some(RawDelivery::PromptFileArg) => PromptDelivery::PromptFileArg,
        };
        if prompt == PromptDelivery::PromptFileArg
            && !args.iter().any(|a| a.contains(PROMPT_FILE_PLACEHOLDER))
        {
            return Err(here(
                "prompt",
                args_at.unwrap_or(at),
                &format!(
                    "prompt-file-arg needs {PROMPT_FILE_PLACEHOLDER} in one of the args \
                     (e.g. args: [\"--file\", \"{PROMPT_FILE_PLACEHOLDER}\"])"
                ),
            ));
        }

        let env = self.env(name, raw.env)?;

        let duration_field = |field: &str, value: Option<Spanned<String>>| match value {
            Some(t) => duration::parse(&t.value)
                .map(Some)
                .map_err(|e| here(field, t.referenced, &e)),
            None => Ok(None),
        };
        let timeout = duration_field("timeout", raw.timeout)?;
        let detach_after = duration_field("detach_after", raw.detach_after)?;

        let interface = raw.interface.unwrap_or_default();
        let trust_workspace = self.trust_workspace(name, interface, raw.trust_workspace)?;
        let resume_args = self.resume_args(name, raw.resume_args)?;
        let pass_env = self.pass_env(name, raw.pass_env)?;
        let stall_after = self.stall_after(
            &format!("profile \"{name}\": field \"stall_after\""),
            raw.stall_after,
        )?;
        let max_cost = self.usd(
            &format!("profile \"{name}\": field \"max_cost\""),
            raw.max_cost,
        )?;
        let price = self.price(name, raw.price)?;
        Ok(Profile {
            name: name.to_owned(),
            command,
            interface,
            args,
            env,
            prompt,
            headless: raw.headless.map(Headless::from),
            timeout,
            detach_after,
            focus: raw.focus,
            worktree: raw.worktree.map(|w| match w.0 {
                Some(start) => crate::profile::WorktreeChoice::From(start),
                None => crate::profile::WorktreeChoice::No,
            }),
            min_pane_width: raw.min_pane_width,
            resume_args,
            pass_env,
            stall_after,
            on_stall: raw.on_stall,
            max_tokens: raw.max_tokens,
            max_cost,
            price,
            trust_workspace,
            defined_in: Some(self.path.to_path_buf()),
        })
    }

    /// A profile's `env`: literal values and `from_env` references, checked.
    fn env(
        &self,
        name: &str,
        raw: Option<IndexMap<String, Spanned<RawEnvValue>>>,
    ) -> Result<Vec<(String, EnvValue)>, Mistake> {
        let mut env = Vec::new();
        // Keys are plain strings so that a value's error names its variable (serde's
        // path records string keys only); positions come from the value.
        for (key, spanned) in raw.unwrap_or_default() {
            let at = spanned.referenced;
            if !is_shell_identifier(&key) {
                return Err(Mistake::at(
                    at,
                    &format!(
                        "profile \"{name}\": env \"{key}\": not a valid variable name \
                         (letters, digits and '_', not starting with a digit)"
                    ),
                ));
            }
            let value = match spanned.value {
                RawEnvValue::Literal(s) => EnvValue::Literal(s),
                RawEnvValue::FromEnv(var) => {
                    if !is_shell_identifier(&var) {
                        return Err(Mistake::at(
                            at,
                            &format!(
                                "profile \"{name}\": env \"{key}\": from_env \"{var}\" is not a \
                                 valid variable name (letters, digits and '_', not starting with a \
                                 digit)"
                            ),
                        ));
                    }
                    EnvValue::FromEnv(var)
                }
            };
            env.push((key, value));
        }

        Ok(env)
    }

    /// `pass_env`: variable names, or a name prefix ending in `*`.
    fn pass_env(
        &self,
        name: &str,
        raw: Option<Spanned<Vec<String>>>,
    ) -> Result<Vec<String>, Mistake> {
        let Some(list) = raw else {
            return Ok(Vec::new());
        };
        for entry in &list.value {
            let stem = entry.strip_suffix('*').unwrap_or(entry);
            let valid = if entry.ends_with('*') {
                stem.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                    && !stem.starts_with(|c: char| c.is_ascii_digit())
            } else {
                is_shell_identifier(stem)
            };
            if !valid {
                return Err(Mistake::at(
                    list.referenced,
                    &format!(
                        "profile \"{name}\": field \"pass_env\": \"{entry}\" is not a variable \
                         name or a prefix ending in * (e.g. [GITHUB_TOKEN, AWS_*])"
                    ),
                ));
            }
        }
        Ok(list.value)
    }

    /// `price`: numbers of zero or more.
    fn price(
        &self,
        name: &str,
        raw: Option<Spanned<schema::RawPrice>>,
    ) -> Result<Option<crate::usage::Price>, Mistake> {
        let Some(p) = raw else { return Ok(None) };
        let v = p.value;
        let fine = |x: f64| x.is_finite() && x >= 0.0;
        if !(fine(v.input) && fine(v.output) && v.cached_input.is_none_or(fine)) {
            return Err(Mistake::at(
                p.referenced,
                &format!(
                    "profile \"{name}\": field \"price\": prices must be numbers of zero or more"
                ),
            ));
        }
        Ok(Some(crate::usage::Price {
            input: v.input,
            cached_input: v.cached_input,
            output: v.output,
        }))
    }

    /// `stall_after`: a duration or `off`; `field` names it in the error.
    fn stall_after(
        &self,
        field: &str,
        raw: Option<Spanned<String>>,
    ) -> Result<Option<crate::profile::StallAfter>, Mistake> {
        match raw {
            Some(v) if v.value.trim() == "off" => Ok(Some(crate::profile::StallAfter::Off)),
            Some(v) => duration::parse(&v.value)
                .map(|d| Some(crate::profile::StallAfter::After(d)))
                .map_err(|e| Mistake::at(v.referenced, &format!("{field}: {e} (or off)"))),
            None => Ok(None),
        }
    }

    /// A budget in US dollars: more than zero. `field` names it in the error (a
    /// top-level field is named as it is, a profile's with its profile).
    fn usd(&self, field: &str, raw: Option<Spanned<f64>>) -> Result<Option<f64>, Mistake> {
        match raw {
            Some(v) if !(v.value.is_finite() && v.value > 0.0) => {
                let field = if field.contains('"') {
                    field.to_owned()
                } else {
                    format!("field \"{field}\"")
                };
                Err(Mistake::at(
                    v.referenced,
                    &format!("{field}: must be an amount of US dollars more than zero"),
                ))
            }
            v => Ok(v.map(|v| v.value)),
        }
    }

    /// `resume_args`, which must say where the session id goes.
    fn resume_args(
        &self,
        name: &str,
        raw: Option<Spanned<Vec<String>>>,
    ) -> Result<Option<Vec<String>>, Mistake> {
        match raw {
            Some(r) if !r.value.iter().any(|a| a.contains(SESSION_ID_PLACEHOLDER)) => {
                Err(Mistake::at(
                    r.referenced,
                    &format!(
                        "profile \"{name}\": field \"resume_args\": needs \
                         {SESSION_ID_PLACEHOLDER} in one of its arguments (e.g. [\"--resume\", \
                         \"{SESSION_ID_PLACEHOLDER}\"])"
                    ),
                ))
            }
            r => Ok(r.map(|r| r.value)),
        }
    }

    /// `trust_workspace` (default true). Only Cursor has a trust marker: on any other
    /// interface the setting would do nothing, which is more likely a mistake than an
    /// intention, so it is refused.
    fn trust_workspace(
        &self,
        name: &str,
        interface: Interface,
        raw: Option<Spanned<bool>>,
    ) -> Result<bool, Mistake> {
        match raw {
            None => Ok(true),
            Some(t) if interface == Interface::Cursor => Ok(t.value),
            Some(t) => Err(Mistake::at(
                t.referenced,
                &format!(
                    "profile \"{name}\": field \"trust_workspace\": only applies to interface: \
                     cursor (this profile's interface is {})",
                    interface.name()
                ),
            )),
        }
    }

    /// `./agent.sh` and `bin/agent` are relative to the config file's directory, `~/x`
    /// to the home directory; a bare name is looked up on PATH when the agent starts.
    fn resolve_command(&self, command: &str) -> String {
        if let Some(rest) = command.strip_prefix("~/")
            && let Some(home) = (self.env)("HOME")
        {
            return PathBuf::from(home)
                .join(rest)
                .to_string_lossy()
                .into_owned();
        }
        if command.contains('/') && !command.starts_with('/') {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            return dir.join(command).to_string_lossy().into_owned();
        }
        command.to_owned()
    }
}

pub fn is_shell_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Resolves `from_env` values from agent-offload's own environment. An unset variable
/// is an error naming the variable and the profile, before anything is launched.
pub fn resolve_secrets(
    profile: &Profile,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Vec<(String, OsString)>> {
    let mut out = Vec::new();
    for (name, value) in &profile.env {
        if let EnvValue::FromEnv(var) = value {
            let v = env(var).ok_or_else(|| {
                usage(format!(
                    "profile \"{}\": env \"{name}\" takes its value from ${var}, which is not set \
                     (export {var} before running agent-offload, or change {})",
                    profile.name,
                    profile
                        .defined_in
                        .as_deref()
                        .map_or_else(|| "the profile".to_owned(), |p| p.display().to_string())
                ))
            })?;
            out.push((name.clone(), v));
        }
    }
    // `pass_env`: every variable of ours a pattern names, unless the profile sets it.
    if !profile.pass_env.is_empty() {
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| is_shell_identifier(k) && passes(&profile.pass_env, k))
            .filter(|k| !profile.env.iter().any(|(n, _)| n == k))
            .collect();
        names.sort();
        for k in names {
            if let Some(v) = env(&k) {
                out.push((k, v));
            }
        }
    }
    Ok(out)
}

/// Whether `pass_env`'s `patterns` name variable `name`.
pub fn passes(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => p == name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_profile_and_field() {
        let p = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            context_from_path(&p("profiles.spark.args")),
            "profile \"spark\": field \"args\": "
        );
        assert_eq!(
            context_from_path(&p("profiles.spark.env.value.value")),
            "profile \"spark\": env \"value\": "
        );
        assert_eq!(
            context_from_path(&p("profiles.spark.value")),
            "profile \"spark\": "
        );
        assert_eq!(context_from_path(&p("headless")), "field \"headless\": ");
    }

    #[test]
    fn messages_lose_the_trailing_location() {
        assert_eq!(
            tidy_message("missing field `command` at line 3, column 5"),
            "missing required field \"command\""
        );
        assert_eq!(
            tidy_message(
                "unknown field `comand`, expected `command` or `args` at line 4, column 5"
            ),
            "unknown field \"comand\" (expected command or args)"
        );
        assert_eq!(tidy_message("a value at line one"), "a value at line one");
    }

    #[test]
    fn identifiers() {
        assert!(is_shell_identifier("_A1"));
        assert!(!is_shell_identifier("1A"));
        assert!(!is_shell_identifier("A-B"));
        assert!(!is_shell_identifier(""));
    }
}
