//! The HTTP surface: one module per feature, each exposing `routes`, mounted here.
//!
//! A module's `routes` registers its handlers with `cfg.service(handler)`; each handler's
//! `#[utoipa::path]` and route macro say what it answers and where, so registering it is
//! also what puts it in the OpenAPI document (see [`routing`]).

pub mod accounts;
pub mod admin;
pub mod attachments;
pub mod bookings;
pub mod cards;
pub mod catalogue;
pub mod docs;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod middleware;
pub mod notifications;
pub mod pages;
pub mod pagination;
pub mod partner_views;
pub mod payments;
pub mod portal;
pub mod push;
pub mod routing;
pub mod uploads;
pub mod validations;
pub mod webapp;

use actix_web::middleware::from_fn;
use actix_web::web;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/api/v1`, plus operations endpoints and the web pages. The
/// operations registered here through `service` make the OpenAPI document; the pages,
/// the websocket and the explorer are not in it.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.app_data(extract::json_config())
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .app_data(extract::payload_config())
        .service(
            scope("/api/v1")
                .wrap(from_fn(idempotency::idempotency))
                .route("/openapi.json", web::get().to(docs::openapi_json))
                .configure(accounts::routes)
                .configure(catalogue::routes)
                .configure(admin::routes)
                .configure(notifications::routes)
                .configure(cards::routes)
                .configure(bookings::routes)
                .configure(events::routes)
                .configure(validations::routes)
                .configure(attachments::routes)
                .configure(portal::routes)
                .configure(partner_views::routes)
                .configure(push::routes)
                .configure(payments::routes),
        )
        .route("/ws", web::get().to(crate::live::ws::ws))
        .configure(health::routes)
        .map(|cfg| {
            cfg.configure(docs::routes)
                // Before the app's shells: `GET /gift` is the server-rendered page, which the
                // app's script takes over when it runs.
                .configure(pages::routes)
                .configure(webapp::routes)
        });
}
