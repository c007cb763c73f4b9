//! The installation's secret key: 32 random bytes kept in `secret.key` in the data dir (or
//! given as `FIMY_SECRET_KEY`), from which per-purpose subkeys are derived to hash gift-card
//! codes for lookup and to encrypt them at rest. Signing with a subkey is [`signing`].

pub mod signing;

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use actors::code::CardCode;
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;

use crate::secrets::signing::Signer;

/// Name of the key file in the data dir.
pub const KEY_FILE: &str = "secret.key";

/// Environment variable that, when set, gives the key instead of the file.
pub const ENV_VAR: &str = "FIMY_SECRET_KEY";

/// Subkey label for the keyed hash under which card codes are looked up.
const LOOKUP_LABEL: &str = "card-code-lookup";

/// Subkey label for the encryption of card codes at rest.
const ENCRYPTION_LABEL: &str = "card-code-encryption";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The installation's master key and the subkeys derived from it. `Debug` prints nothing
/// secret.
#[derive(Clone)]
pub struct SecretKey {
    master: [u8; KEY_LEN],
    lookup: [u8; KEY_LEN],
    encryption: [u8; KEY_LEN],
}

impl SecretKey {
    /// The key from `from_env` (the value of `FIMY_SECRET_KEY`: 32 bytes in standard or
    /// URL-safe base64) when given; otherwise the one in `data_dir/secret.key`, created
    /// (with the data dir, and mode 0600) from the OS random generator on first use.
    pub fn load_or_create(data_dir: &Path, from_env: Option<&str>) -> anyhow::Result<SecretKey> {
        if let Some(value) = from_env {
            let master = decode_key(value).ok_or_else(|| {
                anyhow!(
                    "{ENV_VAR} must be 32 bytes in base64 (for instance the output of \
                     `openssl rand -base64 32`)"
                )
            })?;
            return Ok(Self::from_bytes(master));
        }

        let path = data_dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => return read_key_file(&path, &text),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        }

        fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        let mut master = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut master);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", STANDARD.encode(master)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                tracing::info!(path = %path.display(), "created a new secret key");
                Ok(Self::from_bytes(master))
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

    /// The key made of these bytes, with its subkeys.
    pub fn from_bytes(master: [u8; KEY_LEN]) -> SecretKey {
        let mut key = SecretKey {
            master,
            lookup: [0; KEY_LEN],
            encryption: [0; KEY_LEN],
        };
        key.lookup = key.derive(LOOKUP_LABEL);
        key.encryption = key.derive(ENCRYPTION_LABEL);
        key
    }

    /// A subkey for one purpose: HMAC-SHA256 of `label` under the master key. Different
    /// labels give independent keys.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        crate::secrets::signing::hmac_sha256(&self.master, &[label.as_bytes()])
    }

    /// The keyed hash (hex HMAC-SHA256 under the lookup subkey) of a card code: the only
    /// form of the code that goes into an index.
    pub fn code_lookup_hash(&self, code: &CardCode) -> String {
        Signer::with_key(self.lookup).sign(&[code.as_normalized()])
    }

    /// The code encrypted with XChaCha20-Poly1305 under the encryption subkey: a random
    /// 24-byte nonce followed by the ciphertext and its tag.
    pub fn encrypt_code(&self, code: &CardCode) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(&Key::from(self.encryption));
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        #[allow(
            clippy::expect_used,
            reason = "encryption fails only for messages over 256 GiB; a code is 17 bytes"
        )]
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), code.as_normalized().as_bytes())
            .expect("XChaCha20-Poly1305 encrypts 17 bytes");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    /// The code back from [`SecretKey::encrypt_code`]'s output. Fails if the blob was
    /// altered or encrypted under another key.
    /// Encrypts arbitrary bytes (XChaCha20-Poly1305, random nonce first) under the subkey
    /// for `label`. For data at rest that must not be readable from the database alone.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new(&Key::from(self.derive(label)));
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), plaintext)
            .map_err(|_| anyhow::anyhow!("Failed to encrypt"))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// Decrypts what [`SecretKey::seal`] produced with the same `label`.
    pub fn open(&self, label: &str, blob: &[u8]) -> anyhow::Result<Vec<u8>> {
        if blob.len() < NONCE_LEN {
            anyhow::bail!("sealed data too short");
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        XChaCha20Poly1305::new(&Key::from(self.derive(label)))
            .decrypt(&XNonce::from(n), ciphertext)
            .map_err(|_| anyhow::anyhow!("sealed data was altered or sealed with another key"))
    }

    pub fn decrypt_code(&self, blob: &[u8]) -> anyhow::Result<CardCode> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            bail!("encrypted card code is too short ({} bytes)", blob.len());
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(&Key::from(self.encryption));
        let plaintext = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                anyhow!("encrypted card code cannot be decrypted (altered, or another key)")
            })?;
        let text = std::str::from_utf8(&plaintext).context("decrypted card code is not text")?;
        CardCode::parse(text).context("decrypted card code is not a valid code")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The key in the text of the key file, or an error naming the file.
fn read_key_file(path: &Path, text: &str) -> anyhow::Result<SecretKey> {
    let master = decode_key(text).ok_or_else(|| {
        anyhow!(
            "{} must hold 32 bytes in base64; it is damaged (restore it from a backup: \
             without it, stored gift-card codes cannot be read)",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the secret key file is readable by other users; chmod 600 it"
            );
        }
    }
    Ok(SecretKey::from_bytes(master))
}

/// 32 bytes from standard or URL-safe base64, padded or not, surrounding blanks ignored.
fn decode_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let text = text.trim();
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; KEY_LEN])
    }

    fn code() -> CardCode {
        CardCode::generate(&mut OsRng)
    }

    /// HMAC-SHA256 with the hmac crate directly, as subkeys and lookup hashes were made
    /// before signing moved to `secrets::signing`.
    fn reference_hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(message);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn hmac_matches_the_reference_construction() {
        let master = [7u8; KEY_LEN];
        let expected = reference_hmac(&master, b"card-code-lookup");
        assert_eq!(
            SecretKey::from_bytes(master).derive("card-code-lookup"),
            expected
        );
        // (The RFC 4231 known answers are in `secrets::signing`, with the primitive.)
    }

    #[test]
    fn a_lookup_hash_made_the_old_way_still_finds_the_card() {
        let master = [9u8; KEY_LEN];
        let c = code();
        let subkey = reference_hmac(&master, b"card-code-lookup");
        let old = hex::encode(reference_hmac(&subkey, c.as_normalized().as_bytes()));
        assert_eq!(SecretKey::from_bytes(master).code_lookup_hash(&c), old);
    }

    #[test]
    fn subkeys_differ_by_label_and_from_the_master() {
        let k = key(1);
        assert_ne!(k.derive(LOOKUP_LABEL), k.derive(ENCRYPTION_LABEL));
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_eq!(k.derive("a"), k.derive("a"));
        assert_ne!(k.derive(LOOKUP_LABEL), [1u8; KEY_LEN]);
        assert_eq!(k.lookup, k.derive(LOOKUP_LABEL));
        assert_eq!(k.encryption, k.derive(ENCRYPTION_LABEL));
    }

    #[test]
    fn lookup_hash_depends_on_code_and_key() {
        let (a, b) = (code(), code());
        let k = key(1);
        let hash = k.code_lookup_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(hash, k.code_lookup_hash(&a));
        assert_eq!(
            hash,
            k.code_lookup_hash(&CardCode::parse(&a.to_string().to_lowercase()).unwrap())
        );
        assert_ne!(hash, k.code_lookup_hash(&b));
        assert_ne!(hash, key(2).code_lookup_hash(&a));
        assert!(!hash.contains(&a.as_normalized().to_lowercase()));
    }

    #[test]
    fn encryption_round_trips_and_uses_fresh_nonces() {
        let k = key(3);
        let c = code();
        let blob = k.encrypt_code(&c);
        assert_eq!(blob.len(), NONCE_LEN + 17 + TAG_LEN);
        assert_eq!(k.decrypt_code(&blob).unwrap(), c);
        let again = k.encrypt_code(&c);
        assert_ne!(blob, again);
        assert_eq!(k.decrypt_code(&again).unwrap(), c);
        assert!(!blob.windows(17).any(|w| w == c.as_normalized().as_bytes()));
    }

    #[test]
    fn tampering_or_another_key_fails() {
        let k = key(3);
        let blob = k.encrypt_code(&code());
        for i in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 0x01;
            assert!(k.decrypt_code(&tampered).is_err(), "byte {i}");
        }
        assert!(k.decrypt_code(&blob[..blob.len() - 1]).is_err());
        assert!(k.decrypt_code(&blob[..10]).is_err());
        assert!(k.decrypt_code(&[]).is_err());
        assert!(key(4).decrypt_code(&blob).is_err());
    }

    #[test]
    fn key_file_is_created_once_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested").join("data");
        let first = SecretKey::load_or_create(&data_dir, None).unwrap();
        let path = data_dir.join(KEY_FILE);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(STANDARD.decode(text.trim()).unwrap(), first.master);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = SecretKey::load_or_create(&data_dir, None).unwrap();
        assert_eq!(first.master, second.master);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        let c = code();
        assert_eq!(first.code_lookup_hash(&c), second.code_lookup_hash(&c));
        assert_eq!(second.decrypt_code(&first.encrypt_code(&c)).unwrap(), c);

        let other = tempfile::tempdir().unwrap();
        let third = SecretKey::load_or_create(other.path(), None).unwrap();
        assert_ne!(first.master, third.master);
    }

    #[test]
    fn damaged_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not a key\n").unwrap();
        let error = SecretKey::load_or_create(dir.path(), None).unwrap_err();
        assert!(error.to_string().contains(KEY_FILE), "{error}");
    }

    #[test]
    fn env_value_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let from_file = SecretKey::load_or_create(dir.path(), None).unwrap();
        let bytes: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xfb);
        for encoded in [
            STANDARD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            format!("  {}\n", STANDARD.encode(bytes)),
        ] {
            let from_env = SecretKey::load_or_create(dir.path(), Some(&encoded)).unwrap();
            assert_eq!(from_env.master, bytes);
            assert_ne!(from_env.master, from_file.master);
        }
        // The environment does not need (or create) a data dir.
        let missing = dir.path().join("missing");
        SecretKey::load_or_create(&missing, Some(&STANDARD.encode(bytes))).unwrap();
        assert!(!missing.exists());
    }

    #[test]
    fn bad_env_value_is_an_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            String::new(),
            "not base64!".to_owned(),
            STANDARD.encode([0u8; 16]),
            STANDARD.encode([0u8; 33]),
        ] {
            let error = SecretKey::load_or_create(dir.path(), Some(&bad)).unwrap_err();
            assert!(error.to_string().contains("FIMY_SECRET_KEY"), "{error}");
        }
    }

    #[test]
    fn debug_reveals_nothing() {
        let k = key(0xab);
        let debug = format!("{k:?}");
        assert_eq!(debug, "SecretKey(..)");
    }
}
