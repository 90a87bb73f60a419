//! The experiment harness: YAML experiments ([`experiment`]) expanded into runs ([`sweep`]),
//! queued in the run store ([`store`], SQLite or PostgreSQL) and executed by resumable
//! workers ([`worker`]); the models runs share are keyed and fetched in [`keys`].

pub mod experiment;
pub mod keys;
pub mod store;
pub mod sweep;
pub mod worker;
