//! Who may see a card, and how much of it: the one rule behind every card read, the live
//! topics and the donor's view.

use super::GiftCard;
use serde::Serialize;
use uuid::Uuid;

/// How someone relates to a card, which decides what they see of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Gave (or chipped in): sees the lifecycle, never the spending.
    Donor,
    /// Holds the card (claimed it, or has its code): sees everything about it.
    Holder,
    Admin,
}

/// What `user` (an administrator when `admin`) may see of `card`; `None`: nothing, and the
/// card is answered as if it did not exist.
pub fn access(user: Uuid, admin: bool, card: &GiftCard) -> Option<Access> {
    if admin {
        Some(Access::Admin)
    } else if card.recipient.user_id == Some(user) {
        Some(Access::Holder)
    } else if card.purchaser_id == user || card.contributions.iter().any(|c| c.payer_id == user) {
        Some(Access::Donor)
    } else {
        None
    }
}
