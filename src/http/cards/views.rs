//! What of a card each caller sees (its access), the card's JSON view, and loading a card
//! for a caller.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::State;
use actors::giftcard::{CardKind, GiftCard};
use chrono::{DateTime, Utc};
use entities::gift_card;
use sea_orm::EntityTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use actors::giftcard::Access;

/// What the caller may see of `card` (the domain's rule: `actors::giftcard::access`).
pub fn access(who: Option<&Principal>, card: &GiftCard) -> Option<Access> {
    who.and_then(|w| actors::giftcard::access(w.user_id, w.is_admin(), card))
}

/// A gift card as one of its people sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    pub id: Uuid,
    /// `experience` or `value`.
    pub kind: String,
    /// `pending_payment`, `issued`, `delivered`, `opened`, `partly_used`, `used`,
    /// `expired`, `refunded` or `blocked`.
    pub status: String,
    pub currency: String,
    /// What the card is worth when paid.
    pub face_value_minor: i64,
    pub recipient_name: String,
    pub theme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub group: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// Whether a confirmed booking holds the card (what the donor is told of as
    /// `card_booked`; a cancelled booking makes it `false` again).
    pub booked: bool,
    /// What the caller is to this card: `donor`, `holder` or `admin`.
    #[schema(value_type = String, example = "holder")]
    pub access: Access,
    /// Holder and admin only: spendable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_minor: Option<i64>,
    /// Holder and admin only: value held for bookings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experience_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<bool>,
}

pub fn card_view(card: &GiftCard, access: Access) -> CardView {
    let insider = access != Access::Donor;
    let (kind, experience_id, party_size) = match &card.kind {
        CardKind::Experience {
            experience_id,
            party_size,
            ..
        } => ("experience", Some(*experience_id), Some(*party_size)),
        CardKind::Value { .. } => ("value", None, None),
    };
    CardView {
        id: card.id,
        kind: kind.to_owned(),
        status: card.status.as_str().to_owned(),
        currency: card.currency.code().to_owned(),
        face_value_minor: card.face_value,
        recipient_name: card.recipient.name.clone(),
        theme: card.theme.clone(),
        message: card.message.clone(),
        group: card.group,
        deliver_at: card.deliver_at,
        delivered_at: card.delivered_at,
        opened_at: card.opened_at,
        expires_at: card.expires_at,
        booked: card.holds.values().any(|h| h.booked),
        access,
        available_minor: insider.then_some(card.available),
        held_minor: insider.then_some(card.held),
        partner_id: card.kind.partner(),
        experience_id,
        party_size,
        extended: insider.then_some(card.extended),
        claimed: insider.then_some(card.recipient.user_id.is_some()),
    }
}

pub(super) async fn load(state: &State, id: Uuid) -> ApiResult<GiftCard> {
    let row = gift_card::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    crate::store::cards::decode(&row).map_err(ApiError::internal)
}

/// Loads a card the caller may see, with how they relate to it. Cards they may not see
/// are "not found", so ids reveal nothing.
pub async fn load_for(state: &State, who: &Principal, id: Uuid) -> ApiResult<(GiftCard, Access)> {
    let card = load(state, id).await?;
    let access = access(Some(who), &card).ok_or_else(|| ApiError::not_found("card"))?;
    Ok((card, access))
}
