//! Integration tests: the real binary, real processes and signals, fake agents.

mod config_errors;
mod harness;
mod headless;
mod lifecycle;
mod prompts;
mod secrets;
mod usage;
