//! The partner portal: a partner's owner and staff manage their venue's profile, its
//! experiences, its staff and its tablet devices.
//!
//! Who may do what (checked here, on the server, for every endpoint; admins may do
//! everything):
//!
//! | what | owner | staff | tablet |
//! |---|---|---|---|
//! | read the full profile, list experiences (published or not) and devices | yes | yes | no |
//! | create, edit, publish and unpublish experiences | yes | yes | no |
//! | edit the profile, invite and remove staff, create and revoke devices | yes | no | no |
//!
//! Staff are invited by the email of an account that exists already (people register
//! first); the account must be a plain customer that is on no partner's staff. Removing
//! someone from the staff ends all their sessions and makes them a customer again.
//!
//! A tablet device is an account of its own (`device-<id>@devices.fimy.invalid`, a
//! reserved domain, with a random password nobody knows) holding the `tablet` role and
//! one long session whose token is shown once, when the device is created. Revoking a
//! device deletes its sessions (its token stops working at once) and its staff
//! membership; the account row itself is kept, inert (no session, no membership, no
//! usable password), so that whatever the device did stays attributed to it.

mod devices;
mod experiences;
pub mod photos;
mod profile;
mod staff;

pub use devices::*;
pub use experiences::*;
pub use profile::*;
pub use staff::*;

use crate::error::{ApiError, ApiResult, ErrorCode};
use actors::StaffRole;
use entities::partner;
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(update_profile)
        .service(get_profile)
        .service(list_experiences)
        .service(create_experience)
        .service(update_experience)
        .service(publish_experience)
        .service(unpublish_experience)
        .service(invite_staff)
        .service(remove_staff)
        .service(create_device)
        .service(list_devices)
        .service(revoke_device);
    photos::routes(cfg);
}

/// Roles that manage the venue's content.
pub(crate) const MANAGERS: &[StaffRole] = &[StaffRole::Owner, StaffRole::Staff];
/// Roles that manage the venue itself (profile, people, devices).
pub(crate) const OWNERS: &[StaffRole] = &[StaffRole::Owner];

/// Most photos on a profile or an experience.
pub const MAX_PHOTOS: usize = 10;
/// Most opening-hours entries (four opening periods a day).
pub const MAX_OPENING_HOURS: usize = 28;
/// Longest cancellation notice a partner may ask for (30 days).
pub const MAX_CANCELLATION_HOURS: i64 = 720;
/// How long a tablet device's session lasts.
pub const DEVICE_SESSION_TTL: std::time::Duration =
    std::time::Duration::from_secs(365 * 24 * 60 * 60);
/// The reserved domain of device accounts' emails (`.invalid` never resolves).
pub const DEVICE_EMAIL_DOMAIN: &str = "devices.fimy.invalid";

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn bad(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, detail).field(field)
}

/// A trimmed text of `min..=max` characters without control characters (line breaks
/// and tabs allowed when `multiline`).
fn text(field: &str, raw: &str, min: usize, max: usize, multiline: bool) -> ApiResult<String> {
    let v = raw.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(bad(
            field,
            if min > 0 {
                format!("must be {min} to {max} characters")
            } else {
                format!("must be at most {max} characters")
            },
        ));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if v.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(bad(field, "must not contain control characters"));
    }
    if v.chars()
        .any(|c| !c.is_control() && !actors::text::is_allowed(c, multiline))
    {
        return Err(bad(
            field,
            "must not contain format or invisible characters",
        ));
    }
    Ok(v.to_owned())
}

/// At most [`MAX_PHOTOS`] `https` URLs, as the JSON array stored: the list of an
/// experience being created (photos are uploaded to it once it exists).
fn photo_list(field: &str, list: &[String]) -> ApiResult<serde_json::Value> {
    photos::checked_list(field, list, &[])
}

fn timezone(raw: &str) -> ApiResult<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| bad("timezone", "not an IANA time zone (e.g. Europe/Paris)"))
}

fn cancellation_hours(raw: i64) -> ApiResult<i32> {
    if !(0..=MAX_CANCELLATION_HOURS).contains(&raw) {
        return Err(bad(
            "cancellation_hours",
            format!("must be between 0 and {MAX_CANCELLATION_HOURS}"),
        ));
    }
    i32::try_from(raw).map_err(|_| bad("cancellation_hours", "out of range"))
}

async fn find_partner(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))
}

/// Reads the partner row inside `tx` with a row lock (PostgreSQL; SQLite has a single
/// writer connection), so that changes to one partner's staff serialize.
async fn lock_partner(tx: &impl ConnectionTrait, id: Uuid) -> ApiResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_must_be_https_urls() {
        assert!(photo_list("photos", &["https://img.example.com/a.jpg".into()]).is_ok());
        for bad_url in [
            "http://x.example/a.jpg",
            "/static/a.jpg",
            "https://u:p@x.example/",
        ] {
            assert_eq!(
                photo_list("photos", &[bad_url.into()])
                    .unwrap_err()
                    .field
                    .unwrap(),
                "photos[0]"
            );
        }
        let many: Vec<String> = (0..11).map(|i| format!("https://x.example/{i}")).collect();
        assert_eq!(
            photo_list("photos", &many).unwrap_err().field.unwrap(),
            "photos"
        );
    }
}
