//! Database adapters for the ports the actors need.

pub mod cards;

pub use cards::SqlCardStore;
