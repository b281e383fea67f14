//! A generic profile: any command. agent-offload knows nothing of it but what the
//! profile says (`resume_args`, a `session_id` file the agent may write); no
//! structured output, no transcript, no directory.

use super::{Cli, PromptArgument, prompt};
use crate::interface::{Interface, Mode};

pub struct Generic;

impl Cli for Generic {
    fn interface(&self) -> Interface {
        Interface::Generic
    }

    fn mode_args(&self, _mode: Mode) -> &'static [&'static str] {
        &[]
    }

    fn stream_args(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// `--`, so that a prompt starting with `-` is safe after it.
    fn prompt_argument(&self, _mode: Mode) -> PromptArgument {
        prompt(&["--"], false)
    }

    fn resume_args(&self, _mode: Mode, _id: &str) -> Option<Vec<String>> {
        None
    }

    fn reports_cost(&self) -> bool {
        false
    }
}
