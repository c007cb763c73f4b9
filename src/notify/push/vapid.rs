//! VAPID (RFC 8292): the P-256 key pair that identifies this server to push services, and
//! the `Authorization: vapid t=<JWT>, k=<public key>` header that proves it.
//!
//! The key is generated on first start into `<data_dir>/vapid.key` (the raw 32-byte
//! private scalar in base64url, mode 0600) and kept, because every browser subscription is
//! bound to the public key it was made with. Several nodes sharing a database must share
//! the key: `FIMY_VAPID_PRIVATE_KEY` gives it instead of the file.

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::rngs::OsRng;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;
use url::Url;

/// Name of the key file in the data dir.
pub const KEY_FILE: &str = "vapid.key";

/// How long a signed JWT is valid (RFC 8292 allows at most 24 hours).
pub const JWT_TTL_SECS: i64 = 12 * 3600;

/// The server's VAPID key pair. `Debug` prints only the public key.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
    /// base64url (no padding) of the 65-byte uncompressed public point.
    public_b64: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_b64)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// The key of this private scalar (32 bytes, big-endian, non-zero and below the
    /// curve order).
    pub fn from_scalar(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let signing = SigningKey::from_slice(bytes).ok()?;
        Some(Self::from_signing(signing))
    }

    /// The key given as base64url (or standard base64) of its 32-byte private scalar: the
    /// format of `FIMY_VAPID_PRIVATE_KEY` and of the key file.
    pub fn from_base64(value: &str) -> Option<Self> {
        let value = value.trim();
        let bytes = [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(value).ok())?;
        Self::from_scalar(&bytes)
    }

    /// A fresh key from the OS random generator.
    pub fn generate() -> Self {
        Self::from_signing(SigningKey::random(&mut OsRng))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let point = signing.verifying_key().to_encoded_point(false);
        let public_b64 = URL_SAFE_NO_PAD.encode(point.as_bytes());
        Self {
            signing,
            public_b64,
        }
    }

    /// The key from `from_env` when given; otherwise the one in `data_dir/vapid.key`,
    /// created (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path, from_env: Option<&str>) -> anyhow::Result<Self> {
        if let Some(value) = from_env {
            return Self::from_base64(value).ok_or_else(|| {
                anyhow!("FIMY_VAPID_PRIVATE_KEY must be a P-256 private key: 32 bytes in base64url")
            });
        }
        let path = data_dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => return read_key_file(&path, &text),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
        fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        let key = Self::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                let scalar = URL_SAFE_NO_PAD.encode(key.signing.to_bytes());
                file.write_all(format!("{scalar}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                tracing::info!(path = %path.display(), public_key = %key.public_b64,
                    "created a new VAPID key");
                Ok(key)
            }
            // Another process created it in the meantime: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                read_key_file(&path, &text)
            }
            Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }

    /// base64url (no padding) of the uncompressed public point: what browsers take as
    /// `applicationServerKey` and what the `k=` parameter carries.
    pub fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// An ES256 JWT for the push service at `endpoint`: `aud` its origin, `exp` `now` plus
    /// [`JWT_TTL_SECS`], `sub` the contact.
    pub fn jwt(&self, endpoint: &Url, subject: &str, now: DateTime<Utc>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": origin(endpoint),
            "exp": now.timestamp() + JWT_TTL_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The `Authorization` header value for a push to `endpoint`.
    pub fn authorization(&self, endpoint: &Url, subject: &str, now: DateTime<Utc>) -> String {
        format!(
            "vapid t={}, k={}",
            self.jwt(endpoint, subject, now),
            self.public_b64
        )
    }
}

/// `scheme://host[:port]`, the port only when it is not the scheme's default.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn read_key_file(path: &Path, text: &str) -> anyhow::Result<VapidKey> {
    VapidKey::from_base64(text).ok_or_else(|| {
        anyhow!(
            "{} does not hold a P-256 private key (32 bytes in base64url)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    #[test]
    fn the_key_file_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("fimy-vapid-{}", uuid::Uuid::new_v4()));
        let a = VapidKey::load_or_create(&dir, None).unwrap();
        let b = VapidKey::load_or_create(&dir, None).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(a.public_key()).unwrap().len(), 65);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_environment_key_wins_and_bad_ones_are_refused() {
        let key = VapidKey::generate();
        let scalar = URL_SAFE_NO_PAD.encode(key.signing.to_bytes());
        let dir = std::env::temp_dir().join(format!("fimy-vapid-{}", uuid::Uuid::new_v4()));
        let loaded = VapidKey::load_or_create(&dir, Some(&scalar)).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert!(!dir.join(KEY_FILE).exists());
        assert!(VapidKey::from_base64("AAAA").is_none());
        assert!(VapidKey::from_base64(&URL_SAFE_NO_PAD.encode([0u8; 32])).is_none());
        assert!(VapidKey::from_base64(&URL_SAFE_NO_PAD.encode([0xffu8; 32])).is_none());
    }

    #[test]
    fn the_jwt_verifies_and_names_the_origin() {
        let key = VapidKey::generate();
        let endpoint = Url::parse("https://push.example.com:8443/wpush/v2/abc").unwrap();
        let now = Utc::now();
        let header = key.authorization(&endpoint, "mailto:ops@example.com", now);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, key.public_key());
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        verifying.verify(input.as_bytes(), &sig).unwrap();
        let claims = input.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.com:8443");
        assert_eq!(claims["exp"], now.timestamp() + JWT_TTL_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let default_port = Url::parse("https://fcm.googleapis.com:443/fcm/send/x").unwrap();
        assert_eq!(origin(&default_port), "https://fcm.googleapis.com");
    }
}
