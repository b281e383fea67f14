//! Integration tests: the real binary, real processes and signals, fake agents.

mod config_errors;
mod files;
mod harness;
mod headless;
mod lifecycle;
mod profiles;
mod prompts;
mod secrets;
mod usage;
