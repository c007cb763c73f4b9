//! The OpenAPI 3.1 document (collected from the handlers where they are registered, see
//! [`crate::http::routing`]), the API explorer (Swagger UI, embedded in the binary at build
//! time) and the web app's pages, all served by the binary itself: nothing is loaded from
//! another host.

use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::sync::{Arc, LazyLock};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::Config;

/// What the document says besides its operations: those are added by
/// `utoipa_actix_web` as the handlers are registered, then [`ProblemResponses`] completes
/// them in [`Document::new`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fimy API",
        description = "Experience gift cards: catalogue, accounts, gift cards, bookings. \
            Errors are RFC 9457 problem+json with a stable `code`. Mutating requests accept \
            `Idempotency-Key`. Lists are cursor-paginated (`limit`, `cursor`, `next_cursor`).",
    ),
    components(schemas(crate::error::Problem, crate::error::ErrorCode, crate::app::catalogue::SortOrder)),
    modifiers(&Security),
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
        .route("/api/docs/{file}", web::get().to(docs_asset))
        .route("/app.css", web::get().to(stylesheet))
        .route("/", web::get().to(index_page))
        .route("/app.js", web::get().to(index_script));
}

/// The OpenAPI document, serialized once when the app is built.
pub struct Document(String);

impl Document {
    /// The document of the collected operations, each completed with the problems the
    /// shared layers answer.
    pub fn new(mut openapi: utoipa::openapi::OpenApi) -> web::Data<Self> {
        ProblemResponses.modify(&mut openapi);
        web::Data::new(Self(openapi.to_json().unwrap_or_default()))
    }
}

/// Mounted inside the `/api/v1` scope by [`crate::http::configure`].
pub async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
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

/// The explorer's page: Swagger UI's files (below `/api/docs/`) on the document at
/// `/api/v1/openapi.json`. Served at `/api/docs` too, so it links to its files by absolute
/// path.
async fn docs_page() -> HttpResponse {
    page(
        "text/html; charset=utf-8",
        include_str!("../../web/api-docs.html"),
    )
}

/// How Swagger UI is set up, written into its `swagger-initializer.js`: our document, no
/// top bar (which would load any URL typed into it), and no validator badge (which is an
/// image from validator.swagger.io).
static SWAGGER_UI: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/api/v1/openapi.json"])
            .use_base_layout()
            .validator_url("none")
            .display_request_duration(true),
    )
});

/// One of Swagger UI's files (its script, styles, initializer), from the binary.
async fn docs_asset(file: web::Path<String>) -> ApiResult<HttpResponse> {
    let asset = utoipa_swagger_ui::serve(&file, SWAGGER_UI.clone())
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file of the API explorer"))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.bytes.into_owned()))
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
