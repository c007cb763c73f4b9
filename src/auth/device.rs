//! Known devices: a browser (or app) that logged in to an account successfully gets a
//! signed `fimy_device` cookie, so that later logins from it are told apart from a
//! stranger's guesses ([`super::limiter::LoginThrottle`]): failures elsewhere on the
//! account never hold it back.
//!
//! The cookie holds up to [`MAX_ENTRIES`] entries `<device id>.<expiry>.<mac>` (one per
//! account logged in from the device), `~`-separated. The MAC is HMAC-SHA256, under a
//! subkey of the installation key, of the account (its normalized email), the device id
//! and the expiry: nothing is stored on the server, every node checks it, an entry
//! vouches for one account only, and no email is in the cookie. The cookie is HttpOnly and
//! only sent to `/api/v1/auth/`.

use crate::secrets::SecretKey;
use crate::secrets::signing::{Signer, TagFormat};
use chrono::{DateTime, Duration, Utc};

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "fimy_device";
/// Where browsers send it.
pub const DEVICE_COOKIE_PATH: &str = "/api/v1/auth/";
/// How long a device stays known after its last successful login.
pub const DEVICE_TTL: Duration = Duration::days(365);
/// Accounts remembered per device.
pub const MAX_ENTRIES: usize = 5;
/// The subkey's label.
const LABEL: &str = "fimy known login devices v1";
/// Longest cookie value looked at.
const MAX_COOKIE_LEN: usize = 1024;

/// Signs an entry: `account \0 device \0 expiry`, the whole MAC in base64url.
fn signer(secrets: &SecretKey) -> Signer {
    Signer::new(secrets, LABEL)
        .separator(b"\0")
        .tag_format(TagFormat::BASE64URL)
}

fn mac(secrets: &SecretKey, account: &str, device: &str, expires: i64) -> String {
    signer(secrets).sign_expiring(&[account, device], expires)
}

/// One well-formed, unexpired entry of the cookie: (device id, expiry, mac).
fn entries(cookie: Option<&str>, now: DateTime<Utc>) -> Vec<(&str, i64, &str)> {
    let Some(cookie) = cookie.filter(|c| c.len() <= MAX_COOKIE_LEN) else {
        return Vec::new();
    };
    cookie
        .split('~')
        .filter_map(|entry| {
            let mut parts = entry.split('.');
            let (device, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
            let expires: i64 = expires.parse().ok()?;
            let ok = parts.next().is_none()
                && uuid::Uuid::parse_str(device).is_ok()
                && expires > now.timestamp();
            ok.then_some((device, expires, mac))
        })
        .take(MAX_ENTRIES)
        .collect()
}

/// The device id, when the cookie holds a valid entry for `account`.
pub fn recognise(
    secrets: &SecretKey,
    cookie: Option<&str>,
    account: &str,
    now: DateTime<Utc>,
) -> Option<String> {
    let signer = signer(secrets);
    entries(cookie, now)
        .into_iter()
        .find(|(device, expires, given)| {
            signer
                .verify_expiring(&[account, device], *expires, given, now.timestamp())
                .is_ok()
        })
        .map(|(device, _, _)| device.to_owned())
}

/// The cookie's new value after a successful login to `account`: this account's entry
/// first (its device id kept if it had one, its expiry renewed), then the other valid
/// entries, at most [`MAX_ENTRIES`].
pub fn remember(
    secrets: &SecretKey,
    cookie: Option<&str>,
    account: &str,
    now: DateTime<Utc>,
) -> String {
    let device = recognise(secrets, cookie, account, now)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let expires = (now + DEVICE_TTL).timestamp();
    let mut value = format!(
        "{device}.{expires}.{}",
        mac(secrets, account, &device, expires)
    );
    for (other, other_expires, other_mac) in entries(cookie, now)
        .into_iter()
        .filter(|(d, ..)| *d != device)
        .take(MAX_ENTRIES - 1)
    {
        value.push_str(&format!("~{other}.{other_expires}.{other_mac}"));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_known_for_the_account_it_logged_in_to_only() {
        let secrets = SecretKey::from_bytes([7; 32]);
        let now = Utc::now();
        let cookie = remember(&secrets, None, "owner@x.io", now);
        let device = recognise(&secrets, Some(&cookie), "owner@x.io", now).unwrap();
        assert!(recognise(&secrets, Some(&cookie), "other@x.io", now).is_none());
        assert!(
            recognise(
                &SecretKey::from_bytes([8; 32]),
                Some(&cookie),
                "owner@x.io",
                now
            )
            .is_none(),
            "another installation's cookie"
        );
        assert!(!cookie.contains("owner"), "no email in the cookie");

        // A second account on the same device: both known, the device id kept.
        let both = remember(&secrets, Some(&cookie), "other@x.io", now);
        assert!(recognise(&secrets, Some(&both), "other@x.io", now).is_some());
        let again = remember(&secrets, Some(&both), "owner@x.io", now);
        assert_eq!(
            recognise(&secrets, Some(&again), "owner@x.io", now).as_deref(),
            Some(device.as_str())
        );
        assert!(recognise(&secrets, Some(&again), "other@x.io", now).is_some());
        assert_eq!(again.split('~').count(), 2);

        // Expired, altered or forged entries count for nothing.
        assert!(recognise(&secrets, Some(&cookie), "owner@x.io", now + DEVICE_TTL).is_none());
        let mut altered = cookie.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(recognise(&secrets, Some(&altered), "owner@x.io", now).is_none());
        let mac = cookie.rsplit_once('.').unwrap().1;
        let later = format!(
            "{device}.{}.{mac}",
            (now + DEVICE_TTL + Duration::days(1)).timestamp()
        );
        assert!(recognise(&secrets, Some(&later), "owner@x.io", now).is_none());
        for junk in ["", "~~", "x.y.z", "a.1.b.c", &"x".repeat(5000)] {
            assert!(recognise(&secrets, Some(junk), "owner@x.io", now).is_none());
        }
    }

    #[test]
    fn an_entry_signed_the_old_way_is_still_known() {
        use base64::Engine;
        use hmac::Mac;
        let secrets = SecretKey::from_bytes([7; 32]);
        let now = Utc::now();
        let device = "0193c0de-0000-7000-8000-000000000001";
        let expires = (now + Duration::days(10)).timestamp();
        let key = secrets.derive("fimy known login devices v1");
        let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(format!("owner@x.io\0{device}\0{expires}").as_bytes());
        let old =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        let cookie = format!("{device}.{expires}.{old}");
        assert_eq!(
            recognise(&secrets, Some(&cookie), "owner@x.io", now).as_deref(),
            Some(device)
        );
        // And a new entry is written exactly as before.
        assert_eq!(mac(&secrets, "owner@x.io", device, expires), old);
    }

    #[test]
    fn at_most_a_few_accounts_are_remembered() {
        let secrets = SecretKey::from_bytes([7; 32]);
        let now = Utc::now();
        let mut cookie = String::new();
        for i in 0..10 {
            cookie = remember(&secrets, Some(&cookie), &format!("u{i}@x.io"), now);
        }
        assert_eq!(cookie.split('~').count(), MAX_ENTRIES);
        assert!(recognise(&secrets, Some(&cookie), "u9@x.io", now).is_some());
        assert!(recognise(&secrets, Some(&cookie), "u0@x.io", now).is_none());
    }
}
