//! Who is calling: password hashing, sessions, the login rate limiter, and the
//! [`Principal`] extractor every protected handler takes.

pub mod cache;
pub mod device;
pub mod limiter;
pub mod password;
pub mod principal;
pub mod session;

pub use limiter::{LoginLimiter, LoginThrottle};
pub use principal::{MaybePrincipal, Principal, StaffMembership};

/// Cookie holding the session token for the web app (HttpOnly).
pub const SESSION_COOKIE: &str = "fimy_session";
/// Cookie holding the CSRF token; the web app echoes it in [`CSRF_HEADER`] on writes.
pub const CSRF_COOKIE: &str = "fimy_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// SHA-256 of a token, in hex: what the database stores in place of the token.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A fresh random token: 256 bits from the OS generator, base64url without padding.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets in time that does not depend on where they differ (the signer's
/// comparison, for tokens checked against a stored or sent copy).
pub use crate::secrets::signing::constant_time_eq;
