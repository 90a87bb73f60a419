//! The experiment harness: YAML experiments ([`experiment`]) expanded into runs ([`sweep`]).
//! The run store, queue and workers build on these.

pub mod experiment;
pub mod sweep;
