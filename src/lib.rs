//! Fimy: an experience gift-card platform. This crate holds the configuration, the
//! start-up, the HTTP API, the storage adapters and the command line; the domain rules
//! live in the `actors` crate and the tables in `entities`.

pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod giftcards;
pub mod http;
pub mod metrics;
pub mod payments;
pub mod secrets;
pub mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
