//! Integration tests: the real binary, real processes and signals, fake agents.

mod harness;
mod headless;
