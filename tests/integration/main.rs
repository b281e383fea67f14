//! Integration tests: the real binary, real processes and signals, a real tmux server
//! per tmux test, fake agents.

mod config_errors;
mod cursor;
mod files;
mod harness;
mod headless;
mod lifecycle;
mod profiles;
mod prompts;
mod runs;
mod secrets;
mod skill;
mod tmux;
mod tmux_server;
mod usage;
