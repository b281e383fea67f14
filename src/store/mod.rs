//! The run directory as data. So far only the untrusted reads (`untrusted.rs`), which
//! the agent CLIs' transcripts are read with too.

pub mod untrusted;
