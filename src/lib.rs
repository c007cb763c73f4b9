//! Fimy: an experience gift-card platform. This crate holds the configuration, the
//! start-up, the HTTP API, the storage adapters and the command line; the domain rules
//! live in the `actors` crate and the tables in `entities`.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod cache;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod datadir;
pub mod db;
pub mod delivery;
pub mod email;
pub mod error;
pub mod format;
pub mod giftcards;
pub mod http;
pub mod ical;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod payments;
pub mod push;
pub mod refunds;
pub mod reminders;
pub mod secrets;
pub mod seed;
pub mod signing;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod validations;
pub mod workers;
