//! The one error type of the HTTP layer and the one place it becomes a response:
//! RFC 9457 `application/problem+json` with a stable machine `code`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every error code the API can answer with. The snake_case name is the stable `code`
/// clients match on; the `type` URI is `urn:fimy:problem:{code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON.
    MalformedJson,
    /// A field is missing, unknown, of the wrong type or has a value that is not allowed.
    InvalidField,
    /// A query-string parameter is missing, unknown or malformed.
    InvalidQuery,
    /// A path segment (such as an id) is malformed.
    InvalidPath,
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// The `Range` asked for starts past the end of the file (`Content-Range` says its size).
    RangeNotSatisfiable,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    NotFound,
    MethodNotAllowed,
    /// No valid session: log in first.
    Unauthenticated,
    /// Logged in, but this is not yours to see or change.
    Forbidden,
    /// A cookie-authenticated write without the matching `X-CSRF-Token` header.
    CsrfTokenMissing,
    /// Wrong email or password.
    InvalidCredentials,
    /// Too many attempts; see `Retry-After`.
    RateLimited,
    /// An account with this email exists already.
    EmailTaken,
    /// The `Idempotency-Key` header is malformed.
    InvalidIdempotencyKey,
    /// The `Idempotency-Key` was used before with a different request.
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still running.
    IdempotencyRequestInProgress,
    /// The pagination cursor is malformed or belongs to another query.
    InvalidCursor,
    /// A dependency (database, Redis) is unavailable; retry later.
    ServiceUnavailable,
    /// The code has a typo (its check character does not match): nothing was looked up.
    InvalidCode,
    /// The amount is more than the card's available balance.
    InsufficientBalance,
    /// The card's status does not allow this (e.g. spending a card not yet paid).
    CardStateConflict,
    CardExpired,
    /// The card is restricted to another partner.
    WrongPartner,
    /// An experience card is used by booking its experience, not by amount.
    WrongCardKind,
    UnknownHold,
    DuplicateHold,
    UnknownContribution,
    /// Value is held for bookings; cancel them first.
    CardHasHolds,
    /// The one free extension is used, or expiry is not near enough yet.
    ExtensionNotAllowed,
    /// A payment that does not match its card.
    PaymentMismatch,
    /// The payment was declined; try another method.
    PaymentDeclined,
    /// An amount in another currency than the card's (no conversion is made).
    CurrencyMismatch,
    /// A webhook whose signature does not verify.
    InvalidSignature,
    /// The card is too contended right now; retry.
    Busy,
    /// Not enough places left in this slot.
    SlotFull,
    /// The rules open no bookable slot at this time (or it is too soon or too far).
    SlotUnavailable,
    /// The hold lapsed before it was confirmed; book again.
    HoldExpired,
    /// The booking's status does not allow this.
    BookingStateConflict,
    /// Too late to cancel under the partner's policy.
    CancellationDeadlinePassed,
    /// The booking cannot be validated (scanned or checked in) now: its window opens
    /// later, or closed; the detail says when.
    OutsideCheckInWindow,
    /// An attachment's `Content-Type` is not one of the photo, video or voice types taken.
    AttachmentTypeNotAllowed,
    /// An attachment's bytes are not of the type its `Content-Type` declares.
    AttachmentContentMismatch,
    /// The card has as many attachments as it may (5).
    TooManyAttachments,
    /// A catalogue photo's `Content-Type` is not `image/jpeg`, `image/png` or `image/webp`.
    PhotoTypeNotAllowed,
    /// A catalogue photo's bytes are not of the image type its `Content-Type` declares.
    PhotoContentMismatch,
    /// The profile or experience has as many photos as it may (10).
    TooManyPhotos,
    /// The account is on a partner's staff already, or is not a customer account.
    AlreadyStaff,
    /// A partner must keep at least one owner.
    LastOwner,
    /// Only a dead (or gone) notification can be retried.
    NotificationNotRetryable,
    /// Something failed on our side; the request id identifies it in the logs.
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            MalformedJson | InvalidQuery | InvalidPath | InvalidIdempotencyKey | InvalidCursor => {
                StatusCode::BAD_REQUEST
            }
            InvalidField | IdempotencyKeyReused | InvalidCode => StatusCode::UNPROCESSABLE_ENTITY,
            InsufficientBalance | CardStateConflict | CardExpired | WrongCardKind
            | DuplicateHold | CardHasHolds | ExtensionNotAllowed | PaymentMismatch
            | CurrencyMismatch => StatusCode::CONFLICT,
            WrongPartner => StatusCode::FORBIDDEN,
            UnknownHold | UnknownContribution => StatusCode::NOT_FOUND,
            PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            InvalidSignature => StatusCode::BAD_REQUEST,
            Busy => StatusCode::SERVICE_UNAVAILABLE,
            SlotFull | HoldExpired | BookingStateConflict | CancellationDeadlinePassed => {
                StatusCode::CONFLICT
            }
            SlotUnavailable => StatusCode::UNPROCESSABLE_ENTITY,
            OutsideCheckInWindow => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unauthenticated | InvalidCredentials => StatusCode::UNAUTHORIZED,
            Forbidden | CsrfTokenMissing => StatusCode::FORBIDDEN,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            EmailTaken | IdempotencyRequestInProgress => StatusCode::CONFLICT,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AttachmentTypeNotAllowed => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AttachmentContentMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            TooManyAttachments => StatusCode::CONFLICT,
            PhotoTypeNotAllowed => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PhotoContentMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            TooManyPhotos => StatusCode::CONFLICT,
            AlreadyStaff | LastOwner => StatusCode::CONFLICT,
            NotificationNotRetryable => StatusCode::CONFLICT,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn title(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "Malformed JSON",
            InvalidField => "Invalid field",
            InvalidQuery => "Invalid query parameter",
            InvalidPath => "Invalid path parameter",
            PayloadTooLarge => "Payload too large",
            RangeNotSatisfiable => "Range not satisfiable",
            UnsupportedMediaType => "Unsupported media type",
            NotFound => "Not found",
            MethodNotAllowed => "Method not allowed",
            Unauthenticated => "Authentication required",
            Forbidden => "Forbidden",
            CsrfTokenMissing => "CSRF token missing or wrong",
            InvalidCredentials => "Invalid credentials",
            RateLimited => "Too many requests",
            EmailTaken => "Email already registered",
            InvalidIdempotencyKey => "Invalid Idempotency-Key",
            IdempotencyKeyReused => "Idempotency-Key reused",
            IdempotencyRequestInProgress => "Request in progress",
            InvalidCursor => "Invalid cursor",
            ServiceUnavailable => "Service unavailable",
            InvalidCode => "Invalid code",
            InsufficientBalance => "Insufficient balance",
            CardStateConflict => "Card state conflict",
            CardExpired => "Card expired",
            WrongPartner => "Not valid at this partner",
            WrongCardKind => "Wrong card kind",
            UnknownHold => "Unknown hold",
            DuplicateHold => "Duplicate hold",
            UnknownContribution => "Unknown contribution",
            CardHasHolds => "Card has holds",
            ExtensionNotAllowed => "Extension not allowed",
            PaymentMismatch => "Payment mismatch",
            PaymentDeclined => "Payment declined",
            CurrencyMismatch => "Currency mismatch",
            InvalidSignature => "Invalid signature",
            Busy => "Busy",
            SlotFull => "Slot full",
            SlotUnavailable => "Slot unavailable",
            HoldExpired => "Hold expired",
            BookingStateConflict => "Booking state conflict",
            CancellationDeadlinePassed => "Cancellation deadline passed",
            OutsideCheckInWindow => "Outside the check-in window",
            AttachmentTypeNotAllowed => "Attachment type not allowed",
            AttachmentContentMismatch => "Attachment content does not match its type",
            TooManyAttachments => "Too many attachments",
            PhotoTypeNotAllowed => "Photo type not allowed",
            PhotoContentMismatch => "Photo content does not match its type",
            TooManyPhotos => "Too many photos",
            AlreadyStaff => "Already staff",
            LastOwner => "Last owner",
            NotificationNotRetryable => "Notification not retryable",
            Internal => "Internal error",
        }
    }

    pub fn as_str(self) -> String {
        // serde gives the canonical snake_case name; a unit variant always serializes.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => "internal".to_owned(),
        }
    }
}

/// The `application/problem+json` body (RFC 9457) with Fimy's extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:fimy:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: ErrorCode,
    /// The offending field or parameter, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error on its way to becoming a problem response. It keeps what caused it and where
/// it was raised (the `?` or constructor call site), for the one log line written when it
/// becomes a 5xx response; clients see only `code` and `detail`.
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub field: Option<String>,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// The underlying failure with its chain of causes, for operators only.
    pub cause: Option<String>,
    /// Where the error was raised.
    pub at: &'static std::panic::Location<'static>,
}

/// `{error}: {cause}: {its cause}…` — the whole chain, as the one log line shows it.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl ApiError {
    #[track_caller]
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            field: None,
            retry_after: None,
            cause: None,
            at: std::panic::Location::caller(),
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Keeps what caused the error (never shown to the client).
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    #[track_caller]
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    #[track_caller]
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    /// An unexpected failure: answered with nothing of its details, logged in full (with
    /// its cause, call site and the request id of the current span) once, when it becomes
    /// the response.
    #[track_caller]
    pub fn internal(err: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::Internal,
            "an unexpected error occurred; the request id identifies it in our logs",
        )
        .cause(format!("{err:#}"))
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:fimy:problem:{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            field: self.field.clone(),
        }
    }

    /// The one log line of a failed request: errors for our own failures, warnings for
    /// an unavailable dependency; a client's mistake is not logged here (the access log
    /// has its status).
    fn log(&self) {
        let at = format_args!("{}:{}", self.at.file(), self.at.line());
        let cause = self.cause.as_deref().unwrap_or("");
        match self.code.status().as_u16() {
            500.. if self.code == ErrorCode::Internal => {
                tracing::error!(code = self.code.as_str(), %at, cause, detail = %self.detail, "request failed")
            }
            500.. => {
                tracing::warn!(code = self.code.as_str(), %at, cause, detail = %self.detail, "request failed")
            }
            _ => {}
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} at {}:{}", self.at.file(), self.at.line())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

impl From<actors::InvalidValue> for ApiError {
    #[track_caller]
    fn from(e: actors::InvalidValue) -> Self {
        ApiError::new(ErrorCode::InvalidField, e.message).field(e.field)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    #[track_caller]
    fn from(e: sea_orm::DbErr) -> Self {
        // Transient (connection lost, pool timeout, shutdown, serialization failure,
        // busy SQLite): a 503 to retry, never a 500.
        if crate::store::db::is_transient(&e) {
            ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the database is unavailable; retry in a moment",
            )
            .retry_after(2)
            .cause(chain(&e))
        } else {
            ApiError::internal(chain(&e))
        }
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    #[track_caller]
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}

impl From<actors::giftcard::DomainError> for ApiError {
    #[track_caller]
    fn from(e: actors::giftcard::DomainError) -> Self {
        use actors::giftcard::DomainError as D;
        let code = match &e {
            D::NotFound | D::CodeReplaced => ErrorCode::NotFound,
            D::AlreadyExists => ErrorCode::CardStateConflict,
            D::InvalidAmount | D::AmountOutOfRange { .. } | D::Invalid(_) => {
                ErrorCode::InvalidField
            }
            D::NotCollecting => ErrorCode::CardStateConflict,
            D::RefundWindowClosed => ErrorCode::Forbidden,
            D::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            D::InvalidState { .. } => ErrorCode::CardStateConflict,
            D::Expired => ErrorCode::CardExpired,
            D::WrongPartner => ErrorCode::WrongPartner,
            D::WrongKind => ErrorCode::WrongCardKind,
            D::UnknownHold => ErrorCode::UnknownHold,
            D::DuplicateHold => ErrorCode::DuplicateHold,
            D::UnknownContribution => ErrorCode::UnknownContribution,
            D::HasHolds => ErrorCode::CardHasHolds,
            D::ExtensionNotAllowed => ErrorCode::ExtensionNotAllowed,
            D::PaymentMismatch => ErrorCode::PaymentMismatch,
            D::CurrencyMismatch { .. } => ErrorCode::CurrencyMismatch,
        };
        let err = ApiError::new(code, e.to_string());
        match e {
            D::InvalidAmount | D::AmountOutOfRange { .. } => err.field("amount_minor"),
            _ => err,
        }
    }
}

impl<E: Into<ApiError> + std::fmt::Display> From<actors::runtime::ActorError<E>> for ApiError {
    #[track_caller]
    fn from(e: actors::runtime::ActorError<E>) -> Self {
        use actors::runtime::ActorError as A;
        match e {
            A::Domain(d) => d.into(),
            A::Contended | A::Stopped => {
                ApiError::new(ErrorCode::Busy, e.to_string()).retry_after(1)
            }
            A::Store(msg) => ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the change to the card could not be confirmed (it may or may not have been saved); look at the card before retrying",
            )
            .retry_after(2)
            .cause(format!("store: {msg}")),
        }
    }
}

impl From<actors::booking::SlotError> for ApiError {
    #[track_caller]
    fn from(e: actors::booking::SlotError) -> Self {
        use actors::booking::SlotError as S;
        let code = match &e {
            S::NotFound | S::UnknownBooking => ErrorCode::NotFound,
            S::Full { .. } => ErrorCode::SlotFull,
            S::Started => ErrorCode::SlotUnavailable,
            S::HoldLapsed => ErrorCode::HoldExpired,
            S::EmptyParty => ErrorCode::InvalidField,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<actors::booking::BookingError> for ApiError {
    #[track_caller]
    fn from(e: actors::booking::BookingError) -> Self {
        use actors::booking::BookingError as B;
        let code = match &e {
            B::AlreadyBooked { .. }
            | B::CannotExpire { .. }
            | B::CannotConfirm { .. }
            | B::CannotCancel { .. }
            | B::CannotMove { .. }
            | B::CannotSettle { .. }
            | B::NoShowBeforeStart => ErrorCode::BookingStateConflict,
            B::HoldExpired => ErrorCode::HoldExpired,
            B::CancellationDeadlinePassed { .. } => ErrorCode::CancellationDeadlinePassed,
            B::OutsideCheckInWindow { .. } => ErrorCode::OutsideCheckInWindow,
            B::WrongExperience => ErrorCode::WrongCardKind,
            B::PartySizeFixed { .. } | B::PartySizeOutOfRange { .. } => ErrorCode::InvalidField,
            B::WrongPartner => ErrorCode::WrongPartner,
            B::CurrencyMismatch { .. } => ErrorCode::CurrencyMismatch,
        };
        let err = ApiError::new(code, e.to_string());
        match e.field() {
            Some(field) => err.field(field),
            None => err,
        }
    }
}

impl From<actors::booking::CalendarError> for ApiError {
    #[track_caller]
    fn from(e: actors::booking::CalendarError) -> Self {
        ApiError::new(ErrorCode::InvalidField, e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `result.or_internal()?`: an unexpected failure becomes [`ApiError::internal`] raised
/// here, at the caller's line (`map_err(ApiError::internal)` would name this file instead:
/// a function pointer does not carry its caller's location).
pub trait OrInternal<T> {
    fn or_internal(self) -> ApiResult<T>;
}

impl<T, E: fmt::Display> OrInternal<T> for Result<T, E> {
    #[track_caller]
    fn or_internal(self) -> ApiResult<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_types_are_stable() {
        let p = ApiError::new(ErrorCode::IdempotencyKeyReused, "x").problem();
        assert_eq!(p.type_uri, "urn:fimy:problem:idempotency_key_reused");
        assert_eq!(p.status, 422);
        assert_eq!(ErrorCode::CsrfTokenMissing.as_str(), "csrf_token_missing");
    }

    #[test]
    fn an_error_keeps_its_cause_and_where_it_was_raised() {
        // The source line an error says it was raised at.
        let line_of = |e: &ApiError| {
            assert_eq!(e.at.file(), file!());
            include_str!("error.rs")
                .lines()
                .nth(e.at.line() as usize - 1)
                .unwrap_or_default()
                .to_owned()
        };
        fn query() -> Result<(), sea_orm::DbErr> {
            Err(sea_orm::DbErr::Custom("disk full".into()))
        }
        fn handler() -> ApiResult<()> {
            query()?;
            Ok(())
        }
        let e = handler().unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(line_of(&e).contains("query()?"), "{e:?}");
        assert!(e.cause.as_deref().unwrap().contains("disk full"), "{e:?}");
        // The client sees none of it.
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(
            !body.contains("disk full") && !body.contains("error.rs"),
            "{body}"
        );

        let parsed: Result<i32, _> = "x".parse::<i32>();
        let e = parsed.or_internal().unwrap_err();
        assert!(
            e.cause.as_deref().unwrap().contains("invalid digit"),
            "{e:?}"
        );
        assert!(line_of(&e).contains("parsed.or_internal()"), "{e:?}");
    }

    /// Every Rust source file under `dir`, recursively.
    fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }

    /// The list of codes stays true: each variant is answered somewhere (named as
    /// `ErrorCode::Variant` outside its own definition and tables), or it goes.
    #[test]
    fn every_error_code_is_used() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let codes: Vec<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert!(codes.len() > 40, "{codes:?}");
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let unused: Vec<&String> = codes
            .iter()
            .filter(|code| {
                let variant: String = code
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                let name = format!("ErrorCode::{variant}");
                !files.iter().any(|f| {
                    f.match_indices(&name).any(|(i, _)| {
                        !f[i + name.len()..].starts_with(|c: char| c.is_alphanumeric())
                    })
                })
            })
            .collect();
        assert!(
            unused.is_empty(),
            "error codes nothing answers with: {unused:?}"
        );
    }
}
