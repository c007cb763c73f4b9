//! Double-entry postings for card events. Amounts are integer minor units in the card's
//! currency; a positive amount is a debit, a negative one a credit, and the postings of
//! one event always sum to zero.
//!
//! A card's account is what the platform owes its holder (deferred revenue, per card):
//! its balance is the card's available value. Held value sits in the card's hold account
//! until it is captured (to the partner's payable and the platform's commission) or
//! released (back to the card).

use super::state::Event;
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// Deferred revenue owed to the card's holder: the available value.
    Card(Uuid),
    /// Value authorized for bookings, not yet captured.
    CardHold(Uuid),
    /// Money received by the platform (and paid back on refunds).
    Cash,
    /// What the platform owes a partner for value used there.
    PartnerPayable(Uuid),
    /// The platform's commission on value used.
    Commission,
    /// Value left on expired cards.
    Breakage,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Card(id) => write!(f, "card:{id}"),
            Self::CardHold(id) => write!(f, "card_hold:{id}"),
            Self::Cash => f.write_str("platform:cash"),
            Self::PartnerPayable(id) => write!(f, "partner_payable:{id}"),
            Self::Commission => f.write_str("platform:commission"),
            Self::Breakage => f.write_str("platform:breakage"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    /// Debit positive, credit negative.
    pub amount: i64,
}

fn p(account: Account, amount: i64) -> Posting {
    Posting { account, amount }
}

/// The postings `event` makes on card `card`.
pub fn postings(card: Uuid, event: &Event) -> Vec<Posting> {
    let list = match event {
        Event::PaymentReceived { amount, .. } => {
            vec![p(Account::Cash, *amount), p(Account::Card(card), -amount)]
        }
        Event::AmountRedeemed {
            amount,
            partner_id,
            commission,
            ..
        } => vec![
            p(Account::Card(card), *amount),
            p(Account::PartnerPayable(*partner_id), -(amount - commission)),
            p(Account::Commission, -commission),
        ],
        Event::ValueAuthorized { amount, .. } => vec![
            p(Account::Card(card), *amount),
            p(Account::CardHold(card), -amount),
        ],
        Event::AuthorizationCaptured {
            amount,
            partner_id,
            commission,
            ..
        } => vec![
            p(Account::CardHold(card), *amount),
            p(Account::PartnerPayable(*partner_id), -(amount - commission)),
            p(Account::Commission, -commission),
        ],
        Event::AuthorizationReleased { amount, .. } => vec![
            p(Account::CardHold(card), *amount),
            p(Account::Card(card), -amount),
        ],
        Event::ValueRefunded { lines } => lines
            .iter()
            .flat_map(|l| {
                [
                    p(Account::Card(card), l.amount),
                    p(Account::Cash, -l.amount),
                ]
            })
            .collect(),
        Event::ContributionRefunded { line } => vec![
            p(Account::Card(card), line.amount),
            p(Account::Cash, -line.amount),
        ],
        Event::CardExpired { breakage } => vec![
            p(Account::Card(card), *breakage),
            p(Account::Breakage, -breakage),
        ],
        _ => Vec::new(),
    };
    list.into_iter().filter(|p| p.amount != 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::giftcard::RefundLine;

    #[test]
    fn every_event_balances_and_cards_hold_credit_balances() {
        let card = Uuid::now_v7();
        let partner = Uuid::now_v7();
        let hold = Uuid::now_v7();
        let line = RefundLine {
            contribution_id: Uuid::now_v7(),
            payer_id: Uuid::now_v7(),
            payment_id: "p".into(),
            amount: 30,
        };
        let events = [
            Event::PaymentReceived {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "p".into(),
                amount: 1_000,
            },
            Event::AmountRedeemed {
                amount: 200,
                partner_id: partner,
                commission: 30,
                reference: Uuid::now_v7(),
            },
            Event::ValueAuthorized {
                hold_id: hold,
                amount: 300,
                partner_id: partner,
                commission_bps: 1000,
            },
            Event::AuthorizationCaptured {
                hold_id: hold,
                amount: 300,
                partner_id: partner,
                commission: 30,
            },
            Event::ValueRefunded {
                lines: vec![line.clone()],
            },
            Event::ContributionRefunded { line },
            Event::CardExpired { breakage: 440 },
        ];
        let mut card_balance = 0;
        for e in &events {
            let ps = postings(card, e);
            assert_eq!(ps.iter().map(|p| p.amount).sum::<i64>(), 0, "{e:?}");
            card_balance -= ps
                .iter()
                .filter(|p| p.account == Account::Card(card))
                .map(|p| p.amount)
                .sum::<i64>();
        }
        assert_eq!(card_balance, 0, "1000 - 200 - 300 - 30 - 30 - 440");
        assert_eq!(
            Account::PartnerPayable(partner).to_string(),
            format!("partner_payable:{partner}")
        );
    }
}
