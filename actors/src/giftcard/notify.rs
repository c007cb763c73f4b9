//! Who is told of what: the notifications an event calls for.
//! - The donor hears of the lifecycle and nothing else: delivered, opened, booked (a
//!   booking was confirmed: `CardBooked`, never a mere hold) and used (`CardUsed`, once,
//!   when it is true) — never an amount, a venue or a partial spend.
//! - The recipient hears what they must act on or know of their card: the gift itself,
//!   a confirmed booking, each spend (a receipt with the amount and what is left), an
//!   extension. A hold placed at the till announces nothing: no booking exists.
//! - A payer hears of their refund.

use super::state::{Event, GiftCard};
pub use crate::notice::{Audience, Channel, NoticeKind};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub audience: Audience,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub channel: Channel,
    pub kind: NoticeKind,
}

fn donor(card: &GiftCard, kind: NoticeKind) -> [Notice; 2] {
    [Channel::Email, Channel::Push].map(|channel| Notice {
        audience: Audience::Donor,
        user_id: Some(card.purchaser_id),
        email: None,
        channel,
        kind,
    })
}

fn recipient(card: &GiftCard, kind: NoticeKind, channels: &[Channel]) -> Vec<Notice> {
    channels
        .iter()
        .filter(|c| **c == Channel::Email || card.recipient.user_id.is_some())
        .map(|channel| Notice {
            audience: Audience::Recipient,
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
            let mut n = recipient(card, NoticeKind::GiftReceived, &[Channel::Email]);
            n.extend(donor(card, NoticeKind::CardDelivered));
            n
        }
        Event::CardTransferred { .. } => {
            recipient(card, NoticeKind::GiftReceived, &[Channel::Email])
        }
        Event::CardOpened { .. } => donor(card, NoticeKind::CardOpened).to_vec(),
        Event::CardBooked { .. } => {
            let mut n = donor(card, NoticeKind::CardBooked).to_vec();
            n.extend(recipient(card, NoticeKind::BookingConfirmed, &both));
            n
        }
        Event::AmountRedeemed { .. } | Event::AuthorizationCaptured { .. } => {
            recipient(card, NoticeKind::CardUsed, &both)
        }
        Event::CardUsed {} => donor(card, NoticeKind::CardUsed).to_vec(),
        Event::ExpiryExtended { .. } => {
            recipient(card, NoticeKind::ExpiryExtended, &[Channel::Email])
        }
        Event::ValueRefunded { lines } => lines
            .iter()
            .map(|l| Notice {
                audience: Audience::Payer,
                user_id: Some(l.payer_id),
                email: None,
                channel: Channel::Email,
                kind: NoticeKind::RefundIssued,
            })
            .collect(),
        Event::ContributionRefunded { line } => vec![Notice {
            audience: Audience::Payer,
            user_id: Some(line.payer_id),
            email: None,
            channel: Channel::Email,
            kind: NoticeKind::RefundIssued,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::giftcard::{Command, NewCard, apply, decide};
    use crate::money::Currency;
    use chrono::{DateTime, Utc};

    fn t0() -> DateTime<Utc> {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    /// A delivered, claimed EUR value card of `amount`.
    fn card(amount: i64) -> GiftCard {
        let id = Uuid::now_v7();
        let new = NewCard {
            kind: crate::giftcard::CardKind::Value { partner_id: None },
            currency: Currency::Eur,
            face_value: amount,
            group: false,
            purchaser_id: Uuid::now_v7(),
            recipient_name: "Rémi".into(),
            recipient_email: "remi@example.com".into(),
            message: None,
            theme: "classic".into(),
            deliver_at: None,
        };
        let mut c = None;
        for cmd in [
            Command::Create {
                card: new,
                now: t0(),
            },
            Command::RecordPayment {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "p".into(),
                amount,
                now: t0(),
            },
            Command::Deliver { now: t0() },
            Command::Claim {
                user_id: Uuid::now_v7(),
            },
        ] {
            for e in decide(c.as_ref(), &cmd).unwrap() {
                c = apply(c, id, &e);
            }
        }
        c.unwrap()
    }

    fn told(card: &GiftCard, event: &Event) -> Vec<(&'static str, &'static str)> {
        notices(card, event)
            .into_iter()
            .map(|n| (n.audience.as_str(), n.kind.as_str()))
            .collect()
    }

    #[test]
    fn a_hold_tells_no_one_and_a_confirmed_booking_tells_both() {
        let c = card(5_000);
        let hold = Event::ValueAuthorized {
            hold_id: Uuid::now_v7(),
            amount: 1_000,
            partner_id: Uuid::now_v7(),
            commission_bps: 0,
        };
        assert_eq!(told(&c, &hold), vec![]);
        let booked = told(
            &c,
            &Event::CardBooked {
                booking_id: Uuid::now_v7(),
            },
        );
        assert_eq!(
            booked,
            [
                ("donor", "card_booked"),
                ("donor", "card_booked"),
                ("recipient", "booking_confirmed"),
                ("recipient", "booking_confirmed"),
            ]
        );
    }

    #[test]
    fn a_spend_is_a_receipt_for_the_recipient_and_only_used_reaches_the_donor() {
        let c = card(5_000);
        let spend = Event::AmountRedeemed {
            amount: 1_000,
            partner_id: Uuid::now_v7(),
            commission: 0,
            reference: Uuid::now_v7(),
        };
        assert!(
            told(&c, &spend).iter().all(|(a, _)| *a == "recipient"),
            "{:?}",
            told(&c, &spend)
        );
        assert_eq!(
            told(&c, &Event::CardUsed {}),
            [("donor", "card_used"), ("donor", "card_used")]
        );
    }
}
