//! `agent-offload config schema`: the JSON Schema of the config file.

use anyhow::Result;

use crate::cli::ConfigCommand;

pub fn run(command: &ConfigCommand) -> Result<u8> {
    match command {
        ConfigCommand::Schema => {
            super::print_document(crate::config::schema::JSON_SCHEMA.as_bytes())?;
        }
    }
    Ok(0)
}
