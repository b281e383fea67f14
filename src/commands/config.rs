//! `agent-offload config schema`: the JSON Schema of the config file.

use anyhow::Result;

use crate::cli::ConfigCommand;

pub fn run(command: &ConfigCommand) -> Result<u8> {
    match command {
        ConfigCommand::Schema => {
            let schema = crate::config::schema::json_schema();
            let mut text = serde_json::to_string_pretty(&schema)?;
            text.push('\n');
            super::print_document(text.as_bytes())?;
        }
    }
    Ok(0)
}
