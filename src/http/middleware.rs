//! Cross-cutting HTTP behaviour: a request id on every response and log line, request
//! metrics by route, and problem+json bodies for every error the framework produces
//! on its own (unknown route, wrong method).

use crate::error::{ApiError, ErrorCode, PROBLEM_JSON};
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, web};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| v.to_owned())
}

/// Gives each request an id (the client's `X-Request-Id` if well-formed), runs it in a
/// span carrying that id, logs its outcome, counts it and echoes the id back.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("http", request_id = %request_id, %method, %route);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request served"
        )
    });
    if let Some(state) = state {
        state
            .metrics
            .http_requests
            .with_label_values(&[&method, &route, status.as_str()])
            .inc();
        state
            .metrics
            .http_duration
            .with_label_values(&[&method, &route])
            .observe(elapsed.as_secs_f64());
    }
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

/// Turns an error response that is not already JSON (the framework's own 404 and
/// 405, for instance) into one, so clients see one error format everywhere.
pub fn problemize<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Problems, JSON bodies a handler chose on purpose (readiness) and the error pages of
    // the server-rendered pages (the framework's own errors are never HTML) pass unchanged.
    let is_json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes())
            || v.starts_with(b"application/json")
            || v.starts_with(b"text/html")
    });
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::ServiceUnavailable,
        s if (400..500).contains(&s) => ErrorCode::InvalidField,
        _ => ErrorCode::Internal,
    };
    let detail = match code {
        ErrorCode::NotFound => "no such resource".to_owned(),
        ErrorCode::MethodNotAllowed => "this method is not allowed on this resource".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
    };
    let problem = ApiError::new(code, detail).problem();
    let (req, mut res) = res.into_parts();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let body: BoxBody = BoxBody::new(serde_json::to_vec(&problem).unwrap_or_default());
    let res = res.set_body(body);
    let res = ServiceResponse::new(req, res).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}
