//! `agent-offload profiles`: what is configured, and from which file.

use anyhow::Result;
use serde::Serialize;

use super::Env;
use crate::cli::ProfilesArgs;
use crate::config;

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    default: bool,
    command: &'a str,
    args: &'a [String],
    interface: &'static str,
    prompt: &'static str,
    mode: &'static str,
    timeout: Option<String>,
    /// tmux mode: whether the new pane takes the focus.
    focus: bool,
    /// A built-in profile (no config file), not one from a file.
    builtin: bool,
}

pub fn run(args: &ProfilesArgs, env: Env<'_>) -> Result<u8> {
    let cwd = std::env::current_dir()?;
    let config = config::discover_and_load(args.config.as_deref(), &cwd, env)?;
    let rows: Vec<Row<'_>> = config
        .profiles
        .values()
        .map(|p| Row {
            name: &p.name,
            default: p.name == config.default_profile,
            command: &p.command,
            args: &p.args,
            interface: p.interface.name(),
            prompt: p.prompt.name(),
            mode: p.headless.unwrap_or(config.headless).name(),
            timeout: p.timeout.map(crate::duration::human),
            focus: p.focus.unwrap_or(config.focus),
            builtin: p.defined_in.is_none(),
        })
        .collect();
    if args.json {
        let out = serde_json::json!({
            "config": config.path,
            "origin": config.origin.describe(),
            "default_profile": config.default_profile,
            "profiles": rows,
        });
        super::outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(0);
    }
    let mut text = match &config.path {
        Some(path) => format!(
            "config: {} ({})\n",
            path.display(),
            config.origin.describe()
        ),
        None => "config: none; built-in profiles for the agent CLIs found on PATH \
                 (`agent-offload init` writes a config file to change them)\n"
            .to_owned(),
    };
    let headers = ["", "PROFILE", "INTERFACE", "PROMPT", "MODE", "COMMAND"];
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let mut command = r.command.to_owned();
            for a in r.args {
                command.push(' ');
                command.push_str(&crate::shell::quote(a));
            }
            [
                if r.default { "*" } else { "" }.to_owned(),
                r.name.to_owned(),
                r.interface.to_owned(),
                r.prompt.to_owned(),
                r.mode.to_owned(),
                command,
            ]
        })
        .collect();
    text += &super::table(&headers, &table);
    text += "(* = default profile)\n";
    super::print_document(text.as_bytes())?;
    Ok(0)
}
