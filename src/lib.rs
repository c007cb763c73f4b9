//! Fimy: an experience gift-card platform. This crate holds the configuration, the
//! start-up, the HTTP API, the storage adapters and the command line; the domain rules
//! live in the `actors` crate and the tables in `entities`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod datadir;
pub mod error;
pub mod format;
pub mod http;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod payments;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod workers;
