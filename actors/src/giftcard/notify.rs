//! Who is told of what: the notifications an event calls for. The donor hears of the
//! lifecycle (delivered, opened, booked, used) and never of amounts or places; the
//! recipient hears of what concerns their card; a payer hears of their refund.

use super::state::{Event, GiftCard};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Push => "push",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `donor`, `recipient` or `payer`.
    pub audience: &'static str,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub channel: Channel,
    /// The message to send, e.g. `gift_received`, `card_opened`.
    pub kind: &'static str,
}

fn donor(card: &GiftCard, kind: &'static str) -> [Notice; 2] {
    [Channel::Email, Channel::Push].map(|channel| Notice {
        audience: "donor",
        user_id: Some(card.purchaser_id),
        email: None,
        channel,
        kind,
    })
}

fn recipient(card: &GiftCard, kind: &'static str, channels: &[Channel]) -> Vec<Notice> {
    channels
        .iter()
        .filter(|c| **c == Channel::Email || card.recipient.user_id.is_some())
        .map(|channel| Notice {
            audience: "recipient",
            user_id: card.recipient.user_id,
            email: Some(card.recipient.email.clone()),
            channel: *channel,
            kind,
        })
        .collect()
}

/// The notifications `event` calls for, given the card as it is after the event.
pub fn notices(card: &GiftCard, event: &Event) -> Vec<Notice> {
    let both = [Channel::Email, Channel::Push];
    match event {
        Event::CardDelivered { .. } => {
            let mut n = recipient(card, "gift_received", &[Channel::Email]);
            n.extend(donor(card, "card_delivered"));
            n
        }
        Event::CardTransferred { .. } => recipient(card, "gift_received", &[Channel::Email]),
        Event::CardOpened { .. } => donor(card, "card_opened").to_vec(),
        Event::ValueAuthorized { .. } => {
            let mut n = donor(card, "card_booked").to_vec();
            n.extend(recipient(card, "booking_confirmed", &both));
            n
        }
        Event::AmountRedeemed { .. } | Event::AuthorizationCaptured { .. } => {
            let mut n = donor(card, "card_used").to_vec();
            n.extend(recipient(card, "card_used", &both));
            n
        }
        Event::ExpiryExtended { .. } => recipient(card, "expiry_extended", &[Channel::Email]),
        Event::ValueRefunded { lines } => lines
            .iter()
            .map(|l| Notice {
                audience: "payer",
                user_id: Some(l.payer_id),
                email: None,
                channel: Channel::Email,
                kind: "refund_issued",
            })
            .collect(),
        Event::ContributionRefunded { line } => vec![Notice {
            audience: "payer",
            user_id: Some(line.payer_id),
            email: None,
            channel: Channel::Email,
            kind: "refund_issued",
        }],
        _ => Vec::new(),
    }
}
