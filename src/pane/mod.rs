//! Panes a person can watch: every tmux command line (`tmux.rs`: opening the pane beside
//! the caller, capturing it, the environment hand-over through a FIFO, closing it) and
//! bringing a run's pane to the front from `top` (`jump.rs`). Nothing else in the crate
//! runs tmux or reads `$TMUX`.

pub mod jump;
pub mod tmux;
