//! The experiment harness: YAML experiments ([`experiment`]) expanded into runs ([`sweep`]),
//! queued in the run store ([`store`], SQLite or PostgreSQL) and executed by resumable
//! workers ([`worker`]).

pub mod experiment;
pub mod store;
pub mod sweep;
pub mod worker;
