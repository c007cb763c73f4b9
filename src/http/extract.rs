//! How malformed input becomes a problem: JSON bodies, query strings and path
//! parameters that fail to parse get a 4xx with a stable code, never a 500.

use crate::error::{ApiError, ErrorCode};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;

/// The largest JSON body any endpoint accepts. Uploads use their own limits.
pub const JSON_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _req| json_error(err).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::new(ErrorCode::InvalidQuery, detail).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::new(ErrorCode::InvalidPath, detail).into()
    })
}

/// A raw-bytes body limit matching the JSON one (used by the idempotency layer).
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(JSON_LIMIT)
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body has {length} bytes; at most {limit} are accepted"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than the {limit} bytes accepted"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            let msg = e.to_string();
            let field = field_of(&msg);
            let mut err = ApiError::new(ErrorCode::InvalidField, msg);
            if let Some(f) = field {
                err = err.field(f);
            }
            err
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        ),
        other => ApiError::new(ErrorCode::MalformedJson, other.to_string()),
    }
}

/// serde names the field in backticks: "unknown field `x`", "missing field `y`".
fn field_of(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_owned())
}
