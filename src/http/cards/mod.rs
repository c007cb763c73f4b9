//! Gift cards over HTTP: purchase, group contributions, opening and claiming by code,
//! the wallet, transfer, extension, refund, history, and what partners and admins do
//! with cards (redeem, authorize/capture/release, block), one module for each.

mod actions;
mod admin;
mod at_venue;
mod buy;
mod open;
mod reading;
pub mod views;

pub use actions::*;
pub use admin::*;
pub use at_venue::*;
pub use buy::*;
pub use open::*;
pub use reading::*;
pub use views::*;

use crate::error::{ApiError, ErrorCode};
use crate::http::routing::route;
use utoipa_actix_web::service_config::ServiceConfig;

/// The card designs on offer.
pub const THEMES: &[&str] = &[
    "classic",
    "birthday",
    "love",
    "thank_you",
    "christmas",
    "celebration",
    "zen",
    "adventure",
];
const MAX_MESSAGE_CHARS: usize = 1000;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(purchase)
        .service(open_by_code)
        .service(claim)
        .service(get_card)
        .service(card_events)
        .service(contribute)
        .service(refund_contribution)
        .service(transfer)
        .service(extend)
        .service(refund)
        .service(wallet)
        .service(card_balance)
        .service(redeem)
        .service(authorize)
        // Not a route macro: `settle` takes a `capture` flag in this module (see `routing::route`).
        .service(route(__path_capture, capture))
        .service(release)
        .service(block)
        .service(unblock);
}

/// A problem with one field of the request.
fn bad(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, detail).field(field)
}
