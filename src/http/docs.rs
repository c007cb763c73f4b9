//! The OpenAPI 3.1 document (generated from the handlers' annotations), the interactive
//! API docs page, and the web app's pages, all served by the binary itself: nothing is
//! loaded from another host.

use crate::http::{accounts, admin, cards, catalogue, health, payments};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fimy API",
        description = "Experience gift cards: catalogue, accounts, gift cards, bookings. \
            Errors are RFC 9457 problem+json with a stable `code`. Mutating requests accept \
            `Idempotency-Key`. Lists are cursor-paginated (`limit`, `cursor`, `next_cursor`).",
    ),
    paths(
        accounts::register, accounts::login, accounts::logout, accounts::me, accounts::update_me,
        accounts::list_sessions, accounts::revoke_session,
        catalogue::search_experiences, catalogue::get_experience, catalogue::list_partners,
        catalogue::get_partner, catalogue::list_staff,
        admin::list_users,
        cards::purchase, cards::contribute, cards::refund_contribution, cards::open_by_code,
        cards::claim, cards::get_card, cards::card_events, cards::wallet, cards::transfer,
        cards::extend, cards::refund, cards::redeem, cards::authorize, cards::capture,
        cards::release, cards::block, cards::unblock,
        payments::webhook, payments::sandbox_authenticate,
        health::live, health::ready, health::metrics,
    ),
    components(schemas(crate::error::Problem, crate::error::ErrorCode)),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "Registration, login, sessions"),
        (name = "catalogue", description = "Experiences and partners"),
        (name = "partners", description = "Partner portal"),
        (name = "cards", description = "Gift cards: purchase, wallet, lifecycle"),
        (name = "payments", description = "Payment webhooks"),
        (name = "admin", description = "Administration"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Session cookie; writes must also send X-CSRF-Token",
            ))),
        );
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/docs", web::get().to(docs_page))
        .route("/api/docs/", web::get().to(docs_page))
        .route("/api/docs/app.js", web::get().to(docs_script))
        .route("/app.css", web::get().to(stylesheet))
        .route("/", web::get().to(index_page))
        .route("/app.js", web::get().to(index_script));
}

/// Mounted inside the `/api/v1` scope by [`crate::http::configure`].
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}

/// Pages may load scripts, styles and data from this origin only.
const CSP: &str = "default-src 'self'; img-src 'self' data: https:; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

async fn docs_page() -> HttpResponse {
    page(
        "text/html; charset=utf-8",
        include_str!("../../web/api-docs.html"),
    )
}

async fn docs_script() -> HttpResponse {
    page(
        "text/javascript; charset=utf-8",
        include_str!("../../web/api-docs.js"),
    )
}

async fn stylesheet() -> HttpResponse {
    page("text/css; charset=utf-8", include_str!("../../web/app.css"))
}

async fn index_page() -> HttpResponse {
    page(
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    )
}

async fn index_script() -> HttpResponse {
    page(
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    )
}
