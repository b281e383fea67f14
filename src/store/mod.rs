//! The run directory as data: ids, the private directory and its atomic writes,
//! `run.json` and its record types, reading a run's parts within bounds (and any
//! untrusted file: `untrusted.rs`, which the agent CLIs' transcripts are read with too),
//! the run lock, listing and resolving runs. It knows no process and no agent CLI.

pub mod dir;
pub mod lock;
pub mod read;
pub mod record;
pub mod untrusted;
