//! Integration tests: the real binary, real processes and signals, a real tmux server
//! per tmux test, fake agents.

mod bad_input;
mod budgets;
mod checks;
mod cli;
mod config_errors;
mod cursor;
mod doctor;
mod fanout;
mod files;
mod generated;
mod harness;
mod headless;
mod hostile_files;
mod init;
mod install;
mod lifecycle;
mod process_table;
mod profiles;
mod prompts;
mod runs;
mod secrets;
mod sessions;
mod skill;
mod stalls;
mod status_line;
mod structured;
mod tmux;
mod tmux_server;
mod top;
mod usage;
mod worktree_apply;
mod worktrees;
mod zero_config;
