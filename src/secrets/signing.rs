//! The one way the server signs what it hands out and later takes back unchanged, and the
//! HMAC-SHA256 primitive under it: attachment URLs (`http/attachments.rs`), the booking QR
//! token (`app/validations.rs`), the known-device cookie (`auth/device.rs`) and the keyed hash
//! card codes are looked up by (`secrets/mod.rs`).
//!
//! A [`Signer`] is bound to one purpose: its key is the installation key's subkey for a
//! label ([`SecretKey::derive`]), so a tag made for one purpose never checks for another.
//! The message is a list of fields joined by the signer's separator, the tag is
//! HMAC-SHA256 of it, written in the signer's one [`TagFormat`] (hex or base64url, the whole
//! MAC or its first bytes), and a presented tag is checked in constant time. Those choices
//! are each token's published format, so a signer is built with the ones its token always
//! had: labels, separators and encodings here are stored formats and never change.
//!
//! Stripe-format webhook signatures (`payments/webhook_signature.rs`) follow Stripe's spec
//! (the key is the endpoint's secret as given, not a subkey): they use the primitive,
//! [`hmac_sha256`] and [`hmac_sha256_matches`], and keep their own header format.

use crate::secrets::SecretKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in an HMAC-SHA256 output.
pub const MAC_LEN: usize = 32;
/// The shortest tag a signer writes: 128 bits.
const MIN_TAG_LEN: usize = 16;

/// HMAC-SHA256 under `key` (any length) of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    keyed(key, parts).finalize().into_bytes().into()
}

/// Whether `tag` is exactly HMAC-SHA256 under `key` of the concatenation of `parts`,
/// compared in constant time.
pub fn hmac_sha256_matches(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    tag.len() == MAC_LEN && keyed(key, parts).verify_slice(tag).is_ok()
}

fn keyed(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    #[allow(
        clippy::expect_used,
        reason = "HMAC takes keys of any length (a longer one is hashed first)"
    )]
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// How a tag is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hex (either case is read).
    Hex,
    /// URL-safe base64 without padding.
    Base64Url,
}

/// A tag's encoding and how many bytes of the MAC it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagFormat {
    encoding: Encoding,
    bytes: usize,
}

impl TagFormat {
    /// The whole MAC in hex (64 characters).
    pub const HEX: TagFormat = TagFormat {
        encoding: Encoding::Hex,
        bytes: MAC_LEN,
    };
    /// The whole MAC in base64url (43 characters).
    pub const BASE64URL: TagFormat = TagFormat {
        encoding: Encoding::Base64Url,
        bytes: MAC_LEN,
    };

    /// Only the first `bytes` bytes of the MAC, for a tag that must be short (a QR code).
    /// At least 16 bytes (128 bits), at most the whole MAC; a constant outside that does
    /// not compile.
    pub const fn truncated(self, bytes: usize) -> TagFormat {
        assert!(bytes >= MIN_TAG_LEN && bytes <= MAC_LEN);
        TagFormat {
            encoding: self.encoding,
            bytes,
        }
    }

    fn encode(self, mac: &[u8; MAC_LEN]) -> String {
        let kept = &mac[..self.bytes];
        match self.encoding {
            Encoding::Hex => hex::encode(kept),
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode(kept),
        }
    }

    /// The tag's bytes, when it is well formed and of this format's length.
    fn decode(self, tag: &str) -> Option<Vec<u8>> {
        // The longest encoding of a whole MAC is 64 hex digits: nothing longer is decoded.
        if tag.len() > 2 * MAC_LEN {
            return None;
        }
        let bytes = match self.encoding {
            Encoding::Hex => hex::decode(tag).ok()?,
            Encoding::Base64Url => URL_SAFE_NO_PAD.decode(tag).ok()?,
        };
        (bytes.len() == self.bytes).then_some(bytes)
    }
}

/// Why a signed, expiring value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The tag is malformed, or not this signer's for these fields.
    Invalid,
    /// The tag is genuine but its expiry has passed.
    Expired,
}

/// Signs and checks the values of one purpose. `Debug` prints nothing secret.
#[derive(Clone)]
pub struct Signer {
    key: [u8; MAC_LEN],
    format: TagFormat,
    separator: &'static [u8],
}

impl Signer {
    /// The signer for `label`: keyed with the installation key's subkey for it, writing
    /// whole hex MACs of fields joined by `.` until told otherwise.
    pub fn new(secrets: &SecretKey, label: &str) -> Signer {
        Signer::with_key(secrets.derive(label))
    }

    /// A signer under an already derived subkey.
    pub(crate) fn with_key(key: [u8; MAC_LEN]) -> Signer {
        Signer {
            key,
            format: TagFormat::HEX,
            separator: b".",
        }
    }

    /// Writes (and reads) tags in `format`.
    pub fn tag_format(self, format: TagFormat) -> Signer {
        Signer { format, ..self }
    }

    /// Joins the fields of a message with `separator`.
    pub fn separator(self, separator: &'static [u8]) -> Signer {
        Signer { separator, ..self }
    }

    fn mac<F: AsRef<[u8]>>(&self, fields: &[F]) -> [u8; MAC_LEN] {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(fields.len() * 2);
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                parts.push(self.separator);
            }
            parts.push(field.as_ref());
        }
        hmac_sha256(&self.key, &parts)
    }

    /// The tag of the message made of `fields`.
    pub fn sign<F: AsRef<[u8]>>(&self, fields: &[F]) -> String {
        self.format.encode(&self.mac(fields))
    }

    /// Whether `tag` is this signer's tag of `fields`: well formed, of the format's
    /// length, and equal, compared in constant time.
    pub fn verify<F: AsRef<[u8]>>(&self, fields: &[F], tag: &str) -> bool {
        let Some(given) = self.format.decode(tag) else {
            return false;
        };
        let expected = self.mac(fields);
        constant_time_eq(&expected[..self.format.bytes], &given)
    }

    /// The tag of `fields` followed by the expiry `expires` (unix seconds, in decimal) as
    /// the last field.
    pub fn sign_expiring<F: AsRef<[u8]>>(&self, fields: &[F], expires: i64) -> String {
        self.sign(&with_expiry(fields, expires))
    }

    /// Checks a tag made by [`Signer::sign_expiring`]: the signature first, so that only a
    /// genuine value is ever told it expired. On success, the seconds it still works (a
    /// value works while `now` is before its expiry).
    pub fn verify_expiring<F: AsRef<[u8]>>(
        &self,
        fields: &[F],
        expires: i64,
        tag: &str,
        now: i64,
    ) -> Result<i64, Refused> {
        if !self.verify(&with_expiry(fields, expires), tag) {
            return Err(Refused::Invalid);
        }
        match expires.checked_sub(now) {
            Some(left) if left > 0 => Ok(left),
            _ => Err(Refused::Expired),
        }
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

fn with_expiry<F: AsRef<[u8]>>(fields: &[F], expires: i64) -> Vec<Vec<u8>> {
    fields
        .iter()
        .map(|f| f.as_ref().to_vec())
        .chain(std::iter::once(expires.to_string().into_bytes()))
        .collect()
}

/// Equality of two byte strings in time that does not depend on where they differ (only
/// on their lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn secrets(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; 32])
    }

    /// HMAC-SHA256 computed with the hmac crate directly, as each token was signed before
    /// this module existed.
    fn reference(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap();
        m.update(message);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn rfc_4231_known_answers() {
        // Test case 1: a 20-byte key.
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], &[b"Hi There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a short key; the message given in two parts is the same message.
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block (hashed first).
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // A 32-byte key, as every subkey is: zero-padding it changes nothing.
        let mut padded = [0u8; 32];
        padded[..20].fill(0x0b);
        assert_eq!(
            hmac_sha256(&padded, &[b"Hi There"]),
            hmac_sha256(&[0x0b; 20], &[b"Hi There"])
        );
        assert!(hmac_sha256_matches(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap()
        ));
        assert!(!hmac_sha256_matches(b"Jefe", &[b"what"], &[0u8; 32]));
        assert!(!hmac_sha256_matches(
            b"Jefe",
            &[b"x"],
            &hmac_sha256(b"Jefe", &[b"x"])[..31]
        ));
    }

    #[test]
    fn a_tag_round_trips_in_every_format() {
        for format in [
            TagFormat::HEX,
            TagFormat::BASE64URL,
            TagFormat::HEX.truncated(16),
            TagFormat::BASE64URL.truncated(20),
        ] {
            let signer = Signer::new(&secrets(1), "purpose").tag_format(format);
            let tag = signer.sign(&["a", "b"]);
            assert!(signer.verify(&["a", "b"], &tag), "{format:?}");
            assert!(!signer.verify(&["a", "c"], &tag), "{format:?}");
            assert!(!signer.verify(&["a"], &tag), "{format:?}");
            assert!(!signer.verify(&["a", "b"], ""), "{format:?}");
            assert!(
                !signer.verify(&["a", "b"], &tag[..tag.len() - 2]),
                "{format:?}"
            );
            assert!(
                !signer.verify(&["a", "b"], &format!("{tag}00")),
                "{format:?}"
            );
        }
        assert_eq!(Signer::new(&secrets(1), "p").sign(&["x"]).len(), 64);
        assert_eq!(
            Signer::new(&secrets(1), "p")
                .tag_format(TagFormat::BASE64URL)
                .sign(&["x"])
                .len(),
            43
        );
        assert_eq!(
            Signer::new(&secrets(1), "p")
                .tag_format(TagFormat::HEX.truncated(16))
                .sign(&["x"])
                .len(),
            32
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_tag_fails() {
        let signer = Signer::new(&secrets(2), "purpose");
        let tag = hex::decode(signer.sign(&["message"])).unwrap();
        for bit in 0..tag.len() * 8 {
            let mut flipped = tag.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !signer.verify(&["message"], &hex::encode(&flipped)),
                "bit {bit}"
            );
        }
        assert!(signer.verify(&["message"], &hex::encode(&tag)));
        // Either case of hex is read.
        assert!(signer.verify(&["message"], &hex::encode_upper(&tag)));
    }

    #[test]
    fn another_label_or_key_fails() {
        let tag = Signer::new(&secrets(3), "attachment-urls").sign(&["x"]);
        assert!(!Signer::new(&secrets(3), "booking-qr").verify(&["x"], &tag));
        assert!(!Signer::new(&secrets(4), "attachment-urls").verify(&["x"], &tag));
        assert!(Signer::new(&secrets(3), "attachment-urls").verify(&["x"], &tag));
    }

    #[test]
    fn the_separator_is_part_of_the_message() {
        let dot = Signer::new(&secrets(5), "p");
        let nul = Signer::new(&secrets(5), "p").separator(b"\0");
        assert_ne!(dot.sign(&["a", "b"]), nul.sign(&["a", "b"]));
        // Fields joined are the message: one field holding the joined text signs alike.
        assert_eq!(dot.sign(&["a", "b"]), dot.sign(&["a.b"]));
        let key = secrets(5).derive("p");
        assert_eq!(nul.sign(&["a", "b"]), hex::encode(reference(&key, b"a\0b")));
    }

    #[test]
    fn an_expiring_tag_works_until_its_expiry_and_is_bound_to_it() {
        let signer = Signer::new(&secrets(6), "p");
        let tag = signer.sign_expiring(&["id"], 1_000);
        assert_eq!(signer.verify_expiring(&["id"], 1_000, &tag, 400), Ok(600));
        assert_eq!(signer.verify_expiring(&["id"], 1_000, &tag, 999), Ok(1));
        assert_eq!(
            signer.verify_expiring(&["id"], 1_000, &tag, 1_000),
            Err(Refused::Expired)
        );
        assert_eq!(
            signer.verify_expiring(&["id"], 2_000, &tag, 400),
            Err(Refused::Invalid),
            "a later expiry is another message"
        );
        assert_eq!(
            signer.verify_expiring(&["other"], 1_000, &tag, 400),
            Err(Refused::Invalid)
        );
        // Forged tags are invalid, expired or not: no hint about expiry without the key.
        assert_eq!(
            signer.verify_expiring(&["id"], 1_000, &"0".repeat(64), 5_000),
            Err(Refused::Invalid)
        );
        assert_eq!(
            signer.verify_expiring(
                &["id"],
                i64::MIN,
                &signer.sign_expiring(&["id"], i64::MIN),
                i64::MAX
            ),
            Err(Refused::Expired),
            "no overflow"
        );
        assert_eq!(tag, signer.sign(&["id", "1000"]));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"\x80", b"\x00"));
    }

    #[test]
    fn debug_prints_no_key() {
        let signer = Signer::new(&secrets(7), "p");
        assert_eq!(
            format!("{signer:?}"),
            "Signer { format: TagFormat { encoding: Hex, bytes: 32 }, .. }"
        );
    }
}
