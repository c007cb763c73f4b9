//! Stripe's webhook signature scheme, used by both payment providers: the header
//! `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…][,v0=…]` signs
//! `"{t}.{raw body}"` with the endpoint's webhook secret (the whole `whsec_…` string).
//!
//! The MAC is the primitive of `secrets::signing`, but not its `Signer`: Stripe's scheme keys it
//! with the secret as given (not a subkey of ours) and fixes the header's format.

use crate::payments::PaymentError;
use crate::secrets::signing::{hmac_sha256, hmac_sha256_matches};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The HTTP header carrying the signature.
pub const HEADER: &str = "Stripe-Signature";

/// How far the signed timestamp may be from now, either way (Stripe's default: 5 minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The only scheme we check; Stripe's `v0` (test-mode, SHA-1-era) entries are ignored.
const SCHEME: &str = "v1";

/// Checks a `Stripe-Signature` header against the raw request body.
///
/// Accepts when any `v1` signature matches the body under any of `secrets` (several during
/// a secret rotation), compared in constant time, and the timestamp is within `tolerance`
/// of `now` in either direction. A missing, malformed or mismatching header is
/// [`PaymentError::BadSignature`].
pub fn verify(
    payload: &[u8],
    header: &str,
    secrets: &[String],
    tolerance: Duration,
    now: DateTime<Utc>,
) -> Result<(), PaymentError> {
    let parsed = parse_header(header)?;
    if secrets.is_empty() {
        return Err(bad("no webhook secret configured"));
    }
    let matched = secrets.iter().any(|secret| {
        // Compared in constant time.
        parsed.signatures.iter().any(|sig| {
            hmac_sha256_matches(
                secret.as_bytes(),
                &signed_parts(parsed.timestamp, payload),
                sig,
            )
        })
    });
    if !matched {
        return Err(bad("no signature matches the payload"));
    }
    // Checked after the signature, as Stripe's libraries do, so a timing message is only
    // ever given about an authentic event.
    let t: i64 = parsed
        .timestamp
        .parse()
        .map_err(|_| bad("timestamp is not an integer"))?;
    let skew = now.timestamp().abs_diff(t);
    if skew > tolerance.as_secs() {
        return Err(bad(&format!(
            "timestamp is {skew} s from now, outside the {} s tolerance",
            tolerance.as_secs()
        )));
    }
    Ok(())
}

/// The `Stripe-Signature` header value for `payload` signed with `secret` at unix time `t`.
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let t = t.to_string();
    let mac = hmac_sha256(secret.as_bytes(), &signed_parts(&t, payload));
    format!("t={t},{SCHEME}={}", hex::encode(mac))
}

/// What Stripe signs: `{timestamp}.{payload}`.
fn signed_parts<'a>(timestamp: &'a str, payload: &'a [u8]) -> [&'a [u8]; 3] {
    [timestamp.as_bytes(), b".", payload]
}

struct ParsedHeader<'a> {
    /// As written in the header: the signed payload uses it verbatim.
    timestamp: &'a str,
    signatures: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, PaymentError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        let Some((key, value)) = item.split_once('=') else {
            return Err(bad("malformed header: an entry is not key=value"));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(bad("malformed header: more than one timestamp"));
                }
                if value.is_empty()
                    || !value.bytes().all(|b| b.is_ascii_digit())
                    || value.parse::<i64>().is_err()
                {
                    return Err(bad("malformed header: timestamp is not a unix time"));
                }
                timestamp = Some(value);
            }
            SCHEME => {
                // A v1 that is not 32 bytes of hex can never match; refuse the header.
                match hex::decode(value) {
                    Ok(sig) if sig.len() == 32 => signatures.push(sig),
                    _ => return Err(bad("malformed header: v1 is not a hex SHA-256 HMAC")),
                }
            }
            // v0 and any future scheme: ignored, as Stripe's libraries do.
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(bad("malformed header: no timestamp"));
    };
    if signatures.is_empty() {
        return Err(bad("malformed header: no v1 signature"));
    }
    Ok(ParsedHeader {
        timestamp,
        signatures,
    })
}

fn bad(message: &str) -> PaymentError {
    PaymentError::BadSignature(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hmac::Mac;

    type HmacSha256 = hmac::Hmac<sha2::Sha256>;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const T: i64 = 1_700_000_000;

    fn at(t: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(t, 0).single().unwrap()
    }

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn check(header: &str, secrets_: &[&str], now: i64) -> Result<(), PaymentError> {
        verify(BODY, header, &secrets(secrets_), DEFAULT_TOLERANCE, at(now))
    }

    #[test]
    fn sign_matches_stripe_reference_computation() {
        // HMAC-SHA256("whsec_test_secret", "1700000000.{body}") computed independently.
        let header = sign(BODY, SECRET, T);
        let (t, v1) = header.split_once(',').unwrap();
        assert_eq!(t, "t=1700000000");
        let mut mac = <HmacSha256 as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{T}.").as_bytes());
        mac.update(BODY);
        assert_eq!(
            v1,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn valid_signature_is_accepted() {
        assert_eq!(check(&sign(BODY, SECRET, T), &[SECRET], T + 10), Ok(()));
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let header = sign(BODY, "whsec_other", T);
        assert!(matches!(
            check(&header, &[SECRET], T),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[test]
    fn second_secret_in_rotation_is_accepted() {
        let header = sign(BODY, "whsec_new", T);
        assert_eq!(check(&header, &[SECRET, "whsec_new"], T), Ok(()));
    }

    #[test]
    fn no_secret_rejects_everything() {
        let header = sign(BODY, SECRET, T);
        assert!(matches!(
            check(&header, &[], T),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[test]
    fn tampered_body_is_rejected() {
        let header = sign(BODY, SECRET, T);
        let tampered = br#"{"id":"evt_2","object":"event"}"#;
        assert!(matches!(
            verify(
                tampered,
                &header,
                &secrets(&[SECRET]),
                DEFAULT_TOLERANCE,
                at(T)
            ),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[test]
    fn tampered_timestamp_is_rejected() {
        let header = sign(BODY, SECRET, T).replace("t=1700000000", "t=1700000001");
        assert!(matches!(
            check(&header, &[SECRET], T),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[test]
    fn too_old_is_rejected() {
        let header = sign(BODY, SECRET, T);
        assert_eq!(check(&header, &[SECRET], T + 300), Ok(()));
        assert!(matches!(
            check(&header, &[SECRET], T + 301),
            Err(PaymentError::BadSignature(m)) if m.contains("tolerance")
        ));
    }

    #[test]
    fn future_beyond_tolerance_is_rejected() {
        let header = sign(BODY, SECRET, T);
        assert_eq!(check(&header, &[SECRET], T - 300), Ok(()));
        assert!(matches!(
            check(&header, &[SECRET], T - 301),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[test]
    fn custom_tolerance_applies() {
        let header = sign(BODY, SECRET, T);
        let result = verify(
            BODY,
            &header,
            &secrets(&[SECRET]),
            Duration::from_secs(10),
            at(T + 11),
        );
        assert!(matches!(result, Err(PaymentError::BadSignature(_))));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let good = sign(BODY, SECRET, T);
        let v1 = good.split_once(",v1=").unwrap().1;
        for header in [
            String::new(),
            "garbage".to_string(),
            format!("v1={v1}"),                 // no timestamp
            format!("t={T}"),                   // no signature
            format!("t={T},v0={v1}"),           // only a legacy signature
            format!("t=abc,v1={v1}"),           // timestamp not a number
            format!("t=-5,v1={v1}"),            // negative timestamp
            format!("t={T},t={T},v1={v1}"),     // two timestamps
            format!("t={T},v1=zz{}", &v1[2..]), // not hex
            format!("t={T},v1={}", &v1[..20]),  // too short
            format!("t={T},v1={v1},"),          // trailing empty entry
            format!("t={T};v1={v1}"),           // wrong separator
        ] {
            assert!(
                matches!(
                    check(&header, &[SECRET], T),
                    Err(PaymentError::BadSignature(_))
                ),
                "accepted {header:?}"
            );
        }
    }

    #[test]
    fn any_of_multiple_v1_entries_may_match() {
        let good = sign(BODY, SECRET, T);
        let v1 = good.split_once(",v1=").unwrap().1;
        let other = sign(BODY, "whsec_other", T);
        let other_v1 = other.split_once(",v1=").unwrap().1;
        // Stripe sends one v1 per active secret while an endpoint's secret is rolled.
        let header = format!("t={T},v1={other_v1},v1={v1},v0={}", "ab".repeat(32));
        assert_eq!(check(&header, &[SECRET], T), Ok(()));
        let header = format!("t={T}, v1={v1} ,v1={other_v1}");
        assert_eq!(check(&header, &[SECRET], T), Ok(()));
        let header = format!("t={T},v1={other_v1},v1={other_v1}");
        assert!(check(&header, &[SECRET], T).is_err());
    }
}
