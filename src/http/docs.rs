//! The OpenAPI 3.1 document (generated from the handlers' annotations), the interactive
//! API docs page, and the web app's pages, all served by the binary itself: nothing is
//! loaded from another host.

use crate::http::attachments;
use crate::http::notifications;
use crate::http::partner_views;
use crate::http::portal;
use crate::http::push;
use crate::http::{
    accounts, admin, bookings, cards, catalogue, events, health, payments, validations,
};
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
        accounts::register, accounts::login, accounts::device_login, accounts::logout, accounts::me, accounts::update_me,
        accounts::list_sessions, accounts::revoke_session,
        catalogue::search_experiences, catalogue::get_experience, catalogue::list_partners,
        catalogue::get_partner, catalogue::list_staff,
        admin::list_users, admin::get_card, admin::lookup_card, admin::run_audit,
        notifications::get_preferences, notifications::put_preferences,
        notifications::list_outbox, notifications::retry_outbox,
        cards::purchase, cards::contribute, cards::refund_contribution, cards::open_by_code,
        cards::claim, cards::get_card, cards::card_events, cards::wallet, cards::transfer,
        cards::extend, cards::refund, cards::card_balance, cards::redeem, cards::authorize, cards::capture,
        cards::release, cards::block, cards::unblock,
        attachments::upload, attachments::list, attachments::remove, attachments::serve,
        portal::get_profile, portal::update_profile, portal::list_experiences,
        portal::create_experience, portal::update_experience, portal::publish_experience,
        portal::unpublish_experience, portal::invite_staff, portal::remove_staff,
        portal::create_device, portal::list_devices, portal::revoke_device,
        payments::webhook, payments::sandbox_authenticate,
        bookings::slots, bookings::put_rules, bookings::get_rules, bookings::preview_rules, bookings::create, bookings::mine,
        bookings::get_one, bookings::confirm, bookings::cancel, bookings::reschedule,
        bookings::calendar, bookings::calendar_events, bookings::partner_cancel,
        bookings::check_in, bookings::no_show,
        events::poll,
        validations::qr, validations::scan, validations::get_one, validations::confirm,
        validations::decline,
        partner_views::booking_ics, partner_views::list_messages, partner_views::post_message,
        partner_views::create_feed, partner_views::revoke_feed, partner_views::calendar_feed,
        partner_views::dashboard,
        push::vapid_public_key, push::subscribe, push::unsubscribe,
        health::live, health::ready, health::metrics,
    ),
    components(schemas(crate::error::Problem, crate::error::ErrorCode, crate::catalogue::SortOrder)),
    modifiers(&Security, &ProblemResponses),
    tags(
        (name = "accounts", description = "Registration, login, sessions"),
        (name = "catalogue", description = "Experiences and partners"),
        (name = "partners", description = "Partner portal"),
        (name = "cards", description = "Gift cards: purchase, wallet, lifecycle"),
        (name = "payments", description = "Payment webhooks"),
        (name = "bookings", description = "Slots and bookings with a gift card"),
        (name = "live", description = "Live events: the /ws websocket and this long-poll fallback"),
        (name = "push", description = "Web Push: VAPID key and browser subscriptions"),
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

/// Every operation documents the problems the shared layers can answer with, and every
/// error response is `application/problem+json`.
///
/// Handlers document the statuses of their own rules; these come from the layers every
/// request passes through, so they are added here once, by what the operation has:
/// - any operation: 400 (a malformed query, path or header) and 503 (the database or a
///   dependency is unavailable, with `Retry-After`);
/// - one that takes a credential: 401 (none, or a wrong one); and where it needs one, 403
///   (a wrong role, or a missing CSRF token);
/// - one with path parameters: 404 (nothing there, or nothing this caller may see);
/// - one with a request body: 413, 415 and 422 (a field that is not valid);
/// - a mutating one: 409 and 422 (an `Idempotency-Key` in use or reused).
struct ProblemResponses;

/// The media type of every error body.
const PROBLEM_JSON: &str = "application/problem+json";

impl ProblemResponses {
    fn problem(description: &str) -> utoipa::openapi::Response {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    }

    fn complete(op: &mut utoipa::openapi::path::Operation, mutating: bool) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        // Error responses a handler declared with the JSON media type carry problems.
        for (status, response) in op.responses.responses.iter_mut() {
            if let RefOr::T(r) = response
                && status.starts_with(['4', '5'])
                && let Some(content) = r.content.shift_remove("application/json")
            {
                r.content.insert(PROBLEM_JSON.to_owned(), content);
            }
        }
        let has_path = op
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Path);
        // `security` lists the alternatives; an empty one makes the credential optional,
        // and a wrong credential is still refused.
        let alternatives = op.security.as_deref().unwrap_or_default();
        let secured = !alternatives.is_empty();
        let required = secured && !alternatives.contains(&Default::default());
        let mut add = |status: &str, description: &str| {
            op.responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::T(Self::problem(description)));
        };
        add("400", "A malformed query, path parameter or header");
        add(
            "503",
            "A dependency is unavailable; retry after `Retry-After` seconds",
        );
        if secured {
            add("401", "No valid credential");
        }
        if required {
            add("403", "The credential does not allow this");
        }
        if has_path {
            add("404", "Not found, or not visible to this caller");
        }
        if op.request_body.is_some() {
            add("413", "The body is too large");
            add("415", "The body's media type is not accepted");
            add("422", "A field is not valid");
        }
        if mutating {
            add(
                "409",
                "A request with the same Idempotency-Key is still running",
            );
            add("422", "The Idempotency-Key was used for another request");
        }
    }
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for (op, mutating) in [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ] {
                if let Some(op) = op {
                    Self::complete(op, mutating);
                }
            }
        }
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

/// The landing page. Gift emails sent before they linked to `/gift` carried the code on
/// `/?code=…`: that goes to the gift's page.
async fn index_page(req: actix_web::HttpRequest) -> HttpResponse {
    if url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, _)| k == "code") {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/gift?{}", req.query_string())))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
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
