//! Database adapters for the ports the actors need.

pub mod cards;
pub mod snapshots;

pub use cards::SqlCardStore;
