//! Integration tests: the real binary, real processes and signals, a real tmux server
//! per tmux test, fake agents.

// Not every test file uses every helper.
#[allow(dead_code)]
mod harness;
mod headless;
mod tmux;
mod tmux_server;
