//! Black-box tests: each starts the application on port 0 and talks HTTP to it.

// A failed unwrap in a test (or its helpers) is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod architecture;
mod attachments;
mod audit;
mod authorization;
mod bookings;
mod cards;
mod catalogue;
mod cli;
mod concurrency;
mod database_outage;
mod demo;
mod email;
mod errors;
mod health;
mod helpers;
mod idempotency;
mod lifecycle;
mod live;
mod money;
mod pages;
mod partner_views;
mod photos;
mod portal;
mod push;
mod validations;
mod webapp;
