//! The rules: `decide` turns a command and the current state into events (or refuses),
//! `apply` folds one event into the state. Both pure; `decide` never mutates.

use super::state::*;
use crate::money::Currency;
use chrono::Duration;
use std::collections::BTreeMap;

type Decision = Result<Vec<Event>, DomainError>;

/// What `command` does to `card` (`None`: the card does not exist yet).
pub fn decide(card: Option<&GiftCard>, command: &Command) -> Decision {
    let Some(card) = card else {
        return match command {
            Command::Create { card, now } => create(card, *now),
            _ => Err(DomainError::NotFound),
        };
    };
    if card.status == Status::Blocked && !matches!(command, Command::Unblock) {
        return Err(state_error(card));
    }
    match command {
        Command::Create { .. } => Err(DomainError::AlreadyExists),
        Command::RecordPayment {
            contribution_id,
            payer_id,
            payment_id,
            amount,
            now,
        } => record_payment(card, *contribution_id, *payer_id, payment_id, *amount, *now),
        Command::Deliver { now } => match card.status {
            Status::Issued => Ok(vec![Event::CardDelivered { at: *now }]),
            // Delivering twice is a no-op: the scheduler may retry.
            Status::Delivered | Status::Opened | Status::PartlyUsed | Status::Used => Ok(vec![]),
            _ => Err(state_error(card)),
        },
        Command::Open { now } => match card.status {
            Status::Issued | Status::Delivered => Ok(vec![Event::CardOpened { at: *now }]),
            Status::PendingPayment => Err(state_error(card)),
            _ => Ok(vec![]),
        },
        Command::Claim { user_id } => {
            if card.status == Status::PendingPayment {
                return Err(state_error(card));
            }
            if card.recipient.user_id == Some(*user_id) {
                return Ok(vec![]);
            }
            if card.recipient.user_id.is_some() {
                return Err(DomainError::Invalid(
                    "this card was claimed by another account".into(),
                ));
            }
            Ok(vec![Event::CardClaimed { user_id: *user_id }])
        }
        Command::Redeem {
            code_version,
            amount,
            currency,
            partner_id,
            commission_bps,
            reference,
            now,
        } => {
            check_code(card, *code_version)?;
            if matches!(card.kind, CardKind::Experience { .. }) {
                return Err(DomainError::WrongKind);
            }
            check_spend(card, *amount, *currency, *partner_id, *now)?;
            Ok(with_milestone(
                card,
                Event::AmountRedeemed {
                    amount: *amount,
                    partner_id: *partner_id,
                    commission: commission(*amount, *commission_bps),
                    reference: *reference,
                },
            ))
        }
        Command::Authorize {
            code_version,
            hold_id,
            amount,
            currency,
            partner_id,
            commission_bps,
            now,
        } => {
            check_code(card, *code_version)?;
            if card.holds.contains_key(hold_id) {
                return Err(DomainError::DuplicateHold);
            }
            check_spend(card, *amount, *currency, *partner_id, *now)?;
            Ok(vec![Event::ValueAuthorized {
                hold_id: *hold_id,
                amount: *amount,
                partner_id: *partner_id,
                commission_bps: *commission_bps,
            }])
        }
        Command::Capture {
            hold_id,
            partner_id,
        } => {
            let hold = held_by(card, hold_id, partner_id)?;
            Ok(with_milestone(
                card,
                Event::AuthorizationCaptured {
                    hold_id: *hold_id,
                    amount: hold.amount,
                    partner_id: hold.partner_id,
                    commission: commission(hold.amount, hold.commission_bps),
                },
            ))
        }
        Command::Release {
            hold_id,
            partner_id,
        } => {
            let hold = held_by(card, hold_id, partner_id)?;
            let mut events = vec![Event::AuthorizationReleased {
                hold_id: *hold_id,
                amount: hold.amount,
            }];
            // Releasing the one confirmed booking there was: the card is not booked any more.
            let still_booked = card.holds.iter().any(|(id, h)| id != hold_id && h.booked);
            if hold.booked && !still_booked {
                events.push(Event::BookingCancelled {
                    booking_id: *hold_id,
                });
            }
            Ok(events)
        }
        Command::ConfirmBooking { booking_id } => {
            let hold = card.holds.get(booking_id).ok_or(DomainError::UnknownHold)?;
            if hold.booked {
                return Ok(vec![]); // confirmed twice: announced once
            }
            Ok(vec![Event::CardBooked {
                booking_id: *booking_id,
            }])
        }
        Command::Transfer { name, email } => {
            if !matches!(
                card.status,
                Status::Issued | Status::Delivered | Status::Opened | Status::PartlyUsed
            ) {
                return Err(state_error(card));
            }
            if !card.holds.is_empty() {
                return Err(DomainError::HasHolds);
            }
            Ok(vec![Event::CardTransferred {
                name: name.clone(),
                email: email.clone(),
                code_version: card.code_version + 1,
            }])
        }
        Command::Extend { now } => {
            let window_opens = card.expires_at - Duration::days(EXTENSION_WINDOW_DAYS);
            let allowed = !card.extended
                && card.status.spendable()
                && *now >= window_opens
                && *now < card.expires_at;
            if !allowed {
                return Err(DomainError::ExtensionNotAllowed);
            }
            Ok(vec![Event::ExpiryExtended {
                from: card.expires_at,
                to: card.expires_at + Duration::days(EXTENSION_DAYS),
            }])
        }
        Command::Refund { by } => {
            // Once the recipient has seen the gift, it is theirs: only support may take
            // it back (a dispute, a fraud).
            if *by == Refunder::Donor && !matches!(card.status, Status::Issued | Status::Delivered)
            {
                return Err(DomainError::RefundWindowClosed);
            }
            if !card.status.spendable() {
                return Err(state_error(card));
            }
            if !card.holds.is_empty() {
                return Err(DomainError::HasHolds);
            }
            if card.available <= 0 {
                return Err(DomainError::InsufficientBalance { available: 0 });
            }
            Ok(vec![Event::ValueRefunded {
                lines: pro_rata(card, card.available),
            }])
        }
        Command::RefundContribution { contribution_id } => {
            if !card.group || card.status != Status::Issued {
                return Err(state_error(card));
            }
            let c = card
                .contributions
                .iter()
                .find(|c| c.id == *contribution_id && c.refunded < c.amount)
                .ok_or(DomainError::UnknownContribution)?;
            let amount = c.amount - c.refunded;
            if amount > card.available {
                return Err(DomainError::InsufficientBalance {
                    available: card.available,
                });
            }
            Ok(vec![Event::ContributionRefunded {
                line: RefundLine {
                    contribution_id: c.id,
                    payer_id: c.payer_id,
                    payment_id: c.payment_id.clone(),
                    amount,
                },
            }])
        }
        Command::Block { reason } => {
            if matches!(card.status, Status::Refunded | Status::Expired) {
                return Err(state_error(card));
            }
            Ok(vec![Event::CardBlocked {
                reason: reason.clone(),
            }])
        }
        Command::Unblock => match (card.status, card.blocked_from) {
            (Status::Blocked, Some(to)) => Ok(vec![Event::CardUnblocked { to }]),
            _ => Err(state_error(card)),
        },
        Command::Expire { now } => {
            if *now < card.expires_at
                || matches!(
                    card.status,
                    Status::Expired | Status::Refunded | Status::Used | Status::PendingPayment
                )
            {
                return Ok(vec![]);
            }
            Ok(vec![Event::CardExpired {
                breakage: card.available,
            }])
        }
    }
}

/// The hold `hold_id` of `partner_id`: another partner's hold is answered as unknown.
fn held_by<'a>(
    card: &'a GiftCard,
    hold_id: &uuid::Uuid,
    partner_id: &uuid::Uuid,
) -> Result<&'a Hold, DomainError> {
    card.holds
        .get(hold_id)
        .filter(|h| h.partner_id == *partner_id)
        .ok_or(DomainError::UnknownHold)
}

fn in_range(amount: i64, allowed: &std::ops::RangeInclusive<i64>) -> Result<(), DomainError> {
    if allowed.contains(&amount) {
        Ok(())
    } else {
        Err(DomainError::AmountOutOfRange {
            min: *allowed.start(),
            max: *allowed.end(),
        })
    }
}

/// Whether `amount` may be paid into `card` as a contribution now: a group gift not yet
/// delivered takes contributions of 1.00 to 5,000.00. Asked before the payment starts
/// (recording a payment that went through never refuses it for its amount).
pub fn check_contribution(card: &GiftCard, amount: i64) -> Result<(), DomainError> {
    if !card.group || card.status != Status::Issued {
        return Err(DomainError::NotCollecting);
    }
    in_range(amount, &CONTRIBUTION_AMOUNT)
}

/// Whether a value card of `amount` may be bought (the amount a donor loads).
pub fn check_value_amount(amount: i64) -> Result<(), DomainError> {
    in_range(amount, &VALUE_CARD_AMOUNT)
}

fn state_error(card: &GiftCard) -> DomainError {
    DomainError::InvalidState {
        status: card.status.as_str(),
    }
}

fn create(new: &NewCard, now: chrono::DateTime<chrono::Utc>) -> Decision {
    let allowed = match new.kind {
        CardKind::Value { .. } => VALUE_CARD_AMOUNT,
        CardKind::Experience { .. } => FACE_VALUE,
    };
    in_range(new.face_value, &allowed)?;
    if let CardKind::Experience { party_size, .. } = new.kind
        && !(1..=50).contains(&party_size)
    {
        return Err(DomainError::Invalid(
            "party_size must be between 1 and 50".into(),
        ));
    }
    if new.group && matches!(new.kind, CardKind::Experience { .. }) {
        return Err(DomainError::Invalid(
            "group gifts are value cards: contributors choose their amounts".into(),
        ));
    }
    Ok(vec![Event::CardCreated {
        card: new.clone(),
        expires_at: now + Duration::days(VALIDITY_DAYS),
    }])
}

fn record_payment(
    card: &GiftCard,
    contribution_id: uuid::Uuid,
    payer_id: uuid::Uuid,
    payment_id: &str,
    amount: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Decision {
    if card
        .contributions
        .iter()
        .any(|c| c.payment_id == payment_id)
    {
        return Ok(vec![]); // the same payment announced twice
    }
    if amount <= 0 {
        return Err(DomainError::InvalidAmount);
    }
    let accepting = match card.status {
        Status::PendingPayment => true,
        Status::Issued => card.group,
        _ => false,
    };
    if !accepting {
        return Err(state_error(card));
    }
    if !card.group && amount != card.face_value {
        return Err(DomainError::PaymentMismatch);
    }
    let mut events = vec![Event::PaymentReceived {
        contribution_id,
        payer_id,
        payment_id: payment_id.to_owned(),
        amount,
    }];
    if card.status == Status::PendingPayment {
        events.push(Event::CardIssued {
            expires_at: now + Duration::days(VALIDITY_DAYS),
        });
    }
    Ok(events)
}

/// Whether `amount` of `currency` may be spent from the card at `partner_id` now. A card
/// pays only in its own currency: no conversion is made, so a EUR card is refused at a
/// venue charging in CAD whatever the amount.
/// A spend presented with a card's code (at a till) names the version of the code it
/// was read from: once the card is transferred its old code spends nothing, even if the
/// till looked the code up just before the transfer or keeps it in a cache.
fn check_code(card: &GiftCard, code_version: Option<u32>) -> Result<(), DomainError> {
    match code_version {
        Some(v) if v != card.code_version => Err(DomainError::CodeReplaced),
        _ => Ok(()),
    }
}

fn check_spend(
    card: &GiftCard,
    amount: i64,
    currency: Currency,
    partner_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    if amount <= 0 {
        return Err(DomainError::InvalidAmount);
    }
    if !card.status.spendable() {
        return Err(state_error(card));
    }
    if now >= card.expires_at {
        return Err(DomainError::Expired);
    }
    if card.kind.partner().is_some_and(|p| p != partner_id) {
        return Err(DomainError::WrongPartner);
    }
    if currency != card.currency {
        return Err(DomainError::CurrencyMismatch {
            card: card.currency,
            asked: currency,
        });
    }
    if amount > card.available {
        return Err(DomainError::InsufficientBalance {
            available: card.available,
        });
    }
    Ok(())
}

/// The platform's commission on `amount`, rounded half up.
pub fn commission(amount: i64, bps: u32) -> i64 {
    let c = (i128::from(amount) * i128::from(bps) + 5_000) / 10_000;
    i64::try_from(c).unwrap_or(i64::MAX)
}

/// Splits `total` over the unrefunded contributions in proportion to what each has left,
/// by largest remainder so the lines add up exactly.
fn pro_rata(card: &GiftCard, total: i64) -> Vec<RefundLine> {
    let open: Vec<&Contribution> = card
        .contributions
        .iter()
        .filter(|c| c.amount > c.refunded)
        .collect();
    let base: i128 = open.iter().map(|c| i128::from(c.amount - c.refunded)).sum();
    if base == 0 {
        return Vec::new();
    }
    let mut lines: Vec<(RefundLine, i128)> = open
        .iter()
        .map(|c| {
            let share = i128::from(total) * i128::from(c.amount - c.refunded);
            (
                RefundLine {
                    contribution_id: c.id,
                    payer_id: c.payer_id,
                    payment_id: c.payment_id.clone(),
                    amount: i64::try_from(share / base).unwrap_or(0),
                },
                share % base,
            )
        })
        .collect();
    let mut left = total - lines.iter().map(|(l, _)| l.amount).sum::<i64>();
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|a, b| lines[*b].1.cmp(&lines[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        lines[i].0.amount += 1;
        left -= 1;
    }
    lines
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| l.amount > 0)
        .collect()
}

/// A spending event, followed by `CardUsed` when it is the one that makes the card used:
/// a value card with nothing left to spend or held, or an experience card whose booked
/// experience was taken (captured), even after the card's expiry. Never twice.
fn with_milestone(card: &GiftCard, spend: Event) -> Vec<Event> {
    let Some(after) = apply(Some(card.clone()), card.id, &spend) else {
        return vec![spend];
    };
    let taken = matches!(card.kind, CardKind::Experience { .. })
        && matches!(spend, Event::AuthorizationCaptured { .. });
    let used = !card.used && (after.status == Status::Used || taken);
    if used {
        vec![spend, Event::CardUsed {}]
    } else {
        vec![spend]
    }
}

/// The status a card in use settles into.
fn usage_status(card: &GiftCard) -> Status {
    if card.available == 0 && card.held == 0 {
        Status::Used
    } else {
        Status::PartlyUsed
    }
}

/// Folds one event into the state. `card` is `None` only before `CardCreated`.
pub fn apply(card: Option<GiftCard>, id: uuid::Uuid, event: &Event) -> Option<GiftCard> {
    if let Event::CardCreated {
        card: new,
        expires_at,
    } = event
    {
        return Some(GiftCard {
            id,
            kind: new.kind.clone(),
            currency: new.currency,
            status: Status::PendingPayment,
            blocked_from: None,
            face_value: new.face_value,
            available: 0,
            held: 0,
            holds: BTreeMap::new(),
            contributions: Vec::new(),
            group: new.group,
            purchaser_id: new.purchaser_id,
            recipient: Recipient {
                name: new.recipient_name.clone(),
                email: new.recipient_email.clone(),
                user_id: None,
            },
            message: new.message.clone(),
            theme: new.theme.clone(),
            deliver_at: new.deliver_at,
            delivered_at: None,
            opened_at: None,
            expires_at: *expires_at,
            extended: false,
            code_version: 1,
            used: false,
        });
    }
    let mut c = card?;
    match event {
        Event::CardCreated { .. } => {}
        Event::PaymentReceived {
            contribution_id,
            payer_id,
            payment_id,
            amount,
        } => {
            c.contributions.push(Contribution {
                id: *contribution_id,
                payer_id: *payer_id,
                payment_id: payment_id.clone(),
                amount: *amount,
                refunded: 0,
            });
            c.available += amount;
            if c.group {
                c.face_value = c.paid();
            }
        }
        Event::CardIssued { expires_at } => {
            c.status = Status::Issued;
            c.expires_at = *expires_at;
        }
        Event::CardDelivered { at } => {
            c.status = Status::Delivered;
            c.delivered_at = Some(*at);
        }
        Event::CardOpened { at } => {
            c.status = Status::Opened;
            c.opened_at = Some(*at);
            c.delivered_at.get_or_insert(*at);
        }
        Event::CardClaimed { user_id } => c.recipient.user_id = Some(*user_id),
        Event::AmountRedeemed { amount, .. } => {
            c.available -= amount;
            c.status = usage_status(&c);
        }
        Event::ValueAuthorized {
            hold_id,
            amount,
            partner_id,
            commission_bps,
        } => {
            c.available -= amount;
            c.held += amount;
            c.holds.insert(
                *hold_id,
                Hold {
                    amount: *amount,
                    partner_id: *partner_id,
                    commission_bps: *commission_bps,
                    booked: false,
                },
            );
        }
        Event::AuthorizationCaptured {
            hold_id, amount, ..
        } => {
            c.holds.remove(hold_id);
            c.held -= amount;
            if c.status != Status::Expired {
                c.status = usage_status(&c);
            }
        }
        Event::AuthorizationReleased { hold_id, amount } => {
            c.holds.remove(hold_id);
            c.held -= amount;
            c.available += amount;
        }
        Event::CardBooked { booking_id } => {
            if let Some(h) = c.holds.get_mut(booking_id) {
                h.booked = true;
            }
        }
        Event::BookingCancelled { .. } => {}
        Event::CardUsed {} => c.used = true,
        Event::CardTransferred {
            name,
            email,
            code_version,
        } => {
            c.recipient = Recipient {
                name: name.clone(),
                email: email.clone(),
                user_id: None,
            };
            c.code_version = *code_version;
            if c.status == Status::Opened {
                c.status = Status::Delivered;
            }
        }
        Event::ExpiryExtended { to, .. } => {
            c.expires_at = *to;
            c.extended = true;
        }
        Event::ValueRefunded { lines } => {
            for l in lines {
                refund_line(&mut c, l);
            }
            c.status = Status::Refunded;
        }
        Event::ContributionRefunded { line } => {
            refund_line(&mut c, line);
            c.face_value = c.paid();
            if c.available == 0 {
                c.status = Status::Refunded;
            }
        }
        Event::CardBlocked { .. } => {
            c.blocked_from = Some(c.status);
            c.status = Status::Blocked;
        }
        Event::CardUnblocked { to } => {
            c.status = *to;
            c.blocked_from = None;
        }
        Event::CardExpired { breakage } => {
            c.available -= breakage;
            c.status = Status::Expired;
        }
    }
    Some(c)
}

fn refund_line(c: &mut GiftCard, line: &RefundLine) {
    c.available -= line.amount;
    if let Some(k) = c
        .contributions
        .iter_mut()
        .find(|k| k.id == line.contribution_id)
    {
        k.refunded += line.amount;
    }
}

/// The state after a whole history of events.
pub fn replay<'a>(id: uuid::Uuid, events: impl IntoIterator<Item = &'a Event>) -> Option<GiftCard> {
    events.into_iter().fold(None, |card, e| apply(card, id, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    fn value_card(amount: i64, partner: Option<Uuid>) -> NewCard {
        NewCard {
            kind: CardKind::Value {
                partner_id: partner,
            },
            currency: Currency::Eur,
            face_value: amount,
            group: false,
            purchaser_id: Uuid::now_v7(),
            recipient_name: "Rémi".into(),
            recipient_email: "remi@example.com".into(),
            message: None,
            theme: "classic".into(),
            deliver_at: None,
        }
    }

    /// Runs commands in order, applying accepted events; returns the card.
    fn run(id: Uuid, commands: &[Command]) -> GiftCard {
        let mut card = None;
        for cmd in commands {
            let events = decide(card.as_ref(), cmd).unwrap();
            for e in &events {
                card = apply(card, id, e);
            }
        }
        card.unwrap()
    }

    fn paid(amount: i64) -> (Uuid, GiftCard) {
        let id = Uuid::now_v7();
        let card = run(
            id,
            &[
                Command::Create {
                    card: value_card(amount, None),
                    now: t0(),
                },
                Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: Uuid::now_v7(),
                    payment_id: "pi_1".into(),
                    amount,
                    now: t0(),
                },
                Command::Deliver { now: t0() },
            ],
        );
        (id, card)
    }

    fn step(card: &GiftCard, cmd: Command) -> Result<GiftCard, DomainError> {
        let events = decide(Some(card), &cmd)?;
        Ok(events
            .iter()
            .try_fold(card.clone(), |c, e| apply(Some(c), card.id, e))
            .unwrap())
    }

    #[test]
    fn a_paid_card_is_issued_with_its_value_and_delivered() {
        let (_, card) = paid(10_000);
        assert_eq!(card.status, Status::Delivered);
        assert_eq!(card.available, 10_000);
        assert_eq!(card.expires_at, t0() + Duration::days(VALIDITY_DAYS));
    }

    #[test]
    fn the_same_payment_announced_twice_counts_once() {
        let (_, card) = paid(10_000);
        let again = Command::RecordPayment {
            contribution_id: Uuid::now_v7(),
            payer_id: Uuid::now_v7(),
            payment_id: "pi_1".into(),
            amount: 10_000,
            now: t0(),
        };
        assert_eq!(decide(Some(&card), &again).unwrap(), vec![]);
    }

    #[test]
    fn a_payment_must_match_a_solo_cards_price() {
        let id = Uuid::now_v7();
        let card = run(
            id,
            &[Command::Create {
                card: value_card(5_000, None),
                now: t0(),
            }],
        );
        let short = Command::RecordPayment {
            contribution_id: Uuid::now_v7(),
            payer_id: Uuid::now_v7(),
            payment_id: "pi_x".into(),
            amount: 4_000,
            now: t0(),
        };
        assert_eq!(
            decide(Some(&card), &short),
            Err(DomainError::PaymentMismatch)
        );
    }

    #[test]
    fn redemptions_never_take_the_balance_below_zero() {
        let (_, mut card) = paid(10_000);
        let partner = Uuid::now_v7();
        let redeem = |amount| Command::Redeem {
            code_version: None,
            amount,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 1500,
            reference: Uuid::now_v7(),
            now: t0(),
        };
        card = step(&card, redeem(6_000)).unwrap();
        assert_eq!(card.status, Status::PartlyUsed);
        assert_eq!(
            step(&card, redeem(4_001)),
            Err(DomainError::InsufficientBalance { available: 4_000 })
        );
        assert_eq!(step(&card, redeem(0)), Err(DomainError::InvalidAmount));
        assert_eq!(step(&card, redeem(-5)), Err(DomainError::InvalidAmount));
        card = step(&card, redeem(4_000)).unwrap();
        assert_eq!((card.available, card.status), (0, Status::Used));
    }

    #[test]
    fn a_card_pays_only_in_its_own_currency_by_redemption_or_hold() {
        let (_, card) = paid(10_000);
        let partner = Uuid::now_v7();
        let redeem = |currency| Command::Redeem {
            code_version: None,
            amount: 100,
            currency,
            partner_id: partner,
            commission_bps: 0,
            reference: Uuid::now_v7(),
            now: t0(),
        };
        let hold = |currency| Command::Authorize {
            code_version: None,
            hold_id: Uuid::now_v7(),
            amount: 100,
            currency,
            partner_id: partner,
            commission_bps: 0,
            now: t0(),
        };
        let mismatch = DomainError::CurrencyMismatch {
            card: Currency::Eur,
            asked: Currency::Cad,
        };
        assert_eq!(
            decide(Some(&card), &redeem(Currency::Cad)),
            Err(mismatch.clone())
        );
        assert_eq!(
            decide(Some(&card), &hold(Currency::Cad)),
            Err(mismatch.clone())
        );
        assert_eq!(mismatch.code(), "currency_mismatch", "a stable code");
        assert!(decide(Some(&card), &redeem(Currency::Eur)).is_ok());
        assert!(decide(Some(&card), &hold(Currency::Eur)).is_ok());
    }

    #[test]
    fn restricted_cards_work_only_at_their_partner_and_experience_cards_only_by_booking() {
        let partner = Uuid::now_v7();
        let id = Uuid::now_v7();
        let card = run(
            id,
            &[
                Command::Create {
                    card: value_card(5_000, Some(partner)),
                    now: t0(),
                },
                Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: Uuid::now_v7(),
                    payment_id: "p".into(),
                    amount: 5_000,
                    now: t0(),
                },
            ],
        );
        let elsewhere = Command::Redeem {
            code_version: None,
            amount: 100,
            currency: Currency::Eur,
            partner_id: Uuid::now_v7(),
            commission_bps: 0,
            reference: Uuid::now_v7(),
            now: t0(),
        };
        assert_eq!(
            decide(Some(&card), &elsewhere),
            Err(DomainError::WrongPartner)
        );

        let mut exp = value_card(9_000, None);
        exp.kind = CardKind::Experience {
            experience_id: Uuid::now_v7(),
            partner_id: partner,
            party_size: 2,
        };
        let card = run(
            Uuid::now_v7(),
            &[
                Command::Create {
                    card: exp,
                    now: t0(),
                },
                Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: Uuid::now_v7(),
                    payment_id: "p".into(),
                    amount: 9_000,
                    now: t0(),
                },
            ],
        );
        let redeem = Command::Redeem {
            code_version: None,
            amount: 100,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 0,
            reference: Uuid::now_v7(),
            now: t0(),
        };
        assert_eq!(decide(Some(&card), &redeem), Err(DomainError::WrongKind));
        let hold = Command::Authorize {
            code_version: None,
            hold_id: Uuid::now_v7(),
            amount: 9_000,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 1000,
            now: t0(),
        };
        assert!(decide(Some(&card), &hold).is_ok());
    }

    #[test]
    fn holds_move_value_aside_then_capture_or_release_it() {
        let (_, card) = paid(10_000);
        let partner = Uuid::now_v7();
        let (h1, h2) = (Uuid::now_v7(), Uuid::now_v7());
        let auth = |hold_id, amount| Command::Authorize {
            code_version: None,
            hold_id,
            amount,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 1000,
            now: t0(),
        };
        let card = step(&card, auth(h1, 3_000)).unwrap();
        let card = step(&card, auth(h2, 7_000)).unwrap();
        assert_eq!((card.available, card.held), (0, 10_000));
        assert_eq!(
            step(&card, auth(Uuid::now_v7(), 1)),
            Err(DomainError::InsufficientBalance { available: 0 })
        );
        assert_eq!(step(&card, auth(h1, 1)), Err(DomainError::DuplicateHold));
        let card = step(
            &card,
            Command::Release {
                hold_id: h1,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!((card.available, card.held), (3_000, 7_000));
        let events = decide(
            Some(&card),
            &Command::Capture {
                hold_id: h2,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::AuthorizationCaptured {
                hold_id: h2,
                amount: 7_000,
                partner_id: partner,
                commission: 700
            }]
        );
        let card = step(
            &card,
            Command::Capture {
                hold_id: h2,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(
            (card.available, card.held, card.status),
            (3_000, 0, Status::PartlyUsed)
        );
        assert_eq!(
            step(
                &card,
                Command::Capture {
                    hold_id: h2,
                    partner_id: partner
                }
            ),
            Err(DomainError::UnknownHold)
        );
    }

    #[test]
    fn an_expired_card_cannot_be_spent_and_its_rest_is_breakage() {
        let (_, card) = paid(10_000);
        let later = card.expires_at;
        let redeem = Command::Redeem {
            code_version: None,
            amount: 1,
            currency: Currency::Eur,
            partner_id: Uuid::now_v7(),
            commission_bps: 0,
            reference: Uuid::now_v7(),
            now: later,
        };
        assert_eq!(decide(Some(&card), &redeem), Err(DomainError::Expired));
        assert_eq!(
            decide(
                Some(&card),
                &Command::Expire {
                    now: later - Duration::seconds(1)
                }
            )
            .unwrap(),
            vec![]
        );
        let card = step(&card, Command::Expire { now: later }).unwrap();
        assert_eq!((card.status, card.available), (Status::Expired, 0));
    }

    #[test]
    fn the_free_extension_is_once_and_only_near_expiry() {
        let (_, card) = paid(10_000);
        let early = card.expires_at - Duration::days(EXTENSION_WINDOW_DAYS + 1);
        assert_eq!(
            step(&card, Command::Extend { now: early }),
            Err(DomainError::ExtensionNotAllowed)
        );
        let near = card.expires_at - Duration::days(10);
        let extended = step(&card, Command::Extend { now: near }).unwrap();
        assert_eq!(
            extended.expires_at,
            card.expires_at + Duration::days(EXTENSION_DAYS)
        );
        let near_again = extended.expires_at - Duration::days(10);
        assert_eq!(
            step(&extended, Command::Extend { now: near_again }),
            Err(DomainError::ExtensionNotAllowed)
        );
    }

    #[test]
    fn a_spend_with_the_code_from_before_a_transfer_spends_nothing() {
        let (_, card) = paid(10_000);
        let partner = Uuid::now_v7();
        let spend = |code_version| Command::Redeem {
            code_version,
            amount: 1_000,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 0,
            reference: Uuid::now_v7(),
            now: t0(),
        };
        let hold = |code_version| Command::Authorize {
            code_version,
            hold_id: Uuid::now_v7(),
            amount: 1_000,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 0,
            now: t0(),
        };
        assert!(step(&card, spend(Some(1))).is_ok());
        let moved = step(
            &card,
            Command::Transfer {
                name: "Ana".into(),
                email: "ana@example.com".into(),
            },
        )
        .unwrap();
        assert_eq!(step(&moved, spend(Some(1))), Err(DomainError::CodeReplaced));
        assert_eq!(step(&moved, hold(Some(1))), Err(DomainError::CodeReplaced));
        assert!(step(&moved, spend(Some(2))).is_ok());
        assert!(step(&moved, hold(Some(2))).is_ok());
        // Named by id (by its holder), no code is involved.
        assert!(step(&moved, spend(None)).is_ok());
    }

    #[test]
    fn a_transfer_bumps_the_code_version_and_forgets_the_claim() {
        let (_, card) = paid(10_000);
        let card = step(&card, Command::Open { now: t0() }).unwrap();
        let card = step(
            &card,
            Command::Claim {
                user_id: Uuid::now_v7(),
            },
        )
        .unwrap();
        let moved = step(
            &card,
            Command::Transfer {
                name: "Ana".into(),
                email: "ana@example.com".into(),
            },
        )
        .unwrap();
        assert_eq!(moved.code_version, 2);
        assert_eq!(moved.recipient.user_id, None);
        assert_eq!(moved.status, Status::Delivered);
    }

    #[test]
    fn refunds_split_pro_rata_and_add_up_exactly() {
        let id = Uuid::now_v7();
        let mut new = value_card(1_000, None);
        new.group = true;
        let mut card = run(
            id,
            &[Command::Create {
                card: new,
                now: t0(),
            }],
        );
        for (i, amount) in [1_000, 2_000, 3_333].into_iter().enumerate() {
            card = step(
                &card,
                Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: Uuid::now_v7(),
                    payment_id: format!("p{i}"),
                    amount,
                    now: t0(),
                },
            )
            .unwrap();
        }
        assert_eq!(card.face_value, 6_333);
        card = step(&card, Command::Deliver { now: t0() }).unwrap();
        card = step(
            &card,
            Command::Redeem {
                code_version: None,
                amount: 1_000,
                currency: Currency::Eur,
                partner_id: Uuid::now_v7(),
                commission_bps: 0,
                reference: Uuid::now_v7(),
                now: t0(),
            },
        )
        .unwrap();
        let events = decide(
            Some(&card),
            &Command::Refund {
                by: Refunder::Support,
            },
        )
        .unwrap();
        let Event::ValueRefunded { lines } = &events[0] else {
            panic!()
        };
        assert_eq!(lines.iter().map(|l| l.amount).sum::<i64>(), 5_333);
        let amounts: Vec<i64> = lines.iter().map(|l| l.amount).collect();
        assert_eq!(amounts, vec![842, 1_684, 2_807]);
        let card = step(
            &card,
            Command::Refund {
                by: Refunder::Support,
            },
        )
        .unwrap();
        assert_eq!((card.available, card.status), (0, Status::Refunded));
    }

    #[test]
    fn group_contributions_are_refundable_until_delivery() {
        let id = Uuid::now_v7();
        let mut new = value_card(1_000, None);
        new.group = true;
        let mut card = run(
            id,
            &[Command::Create {
                card: new,
                now: t0(),
            }],
        );
        let first = Uuid::now_v7();
        card = step(
            &card,
            Command::RecordPayment {
                contribution_id: first,
                payer_id: Uuid::now_v7(),
                payment_id: "a".into(),
                amount: 2_000,
                now: t0(),
            },
        )
        .unwrap();
        card = step(
            &card,
            Command::RecordPayment {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "b".into(),
                amount: 3_000,
                now: t0(),
            },
        )
        .unwrap();
        let after = step(
            &card,
            Command::RefundContribution {
                contribution_id: first,
            },
        )
        .unwrap();
        assert_eq!(
            (after.available, after.face_value, after.status),
            (3_000, 3_000, Status::Issued)
        );
        assert_eq!(
            step(
                &after,
                Command::RefundContribution {
                    contribution_id: first
                }
            ),
            Err(DomainError::UnknownContribution)
        );
        let delivered = step(&card, Command::Deliver { now: t0() }).unwrap();
        assert!(matches!(
            step(
                &delivered,
                Command::RefundContribution {
                    contribution_id: first
                }
            ),
            Err(DomainError::InvalidState { .. })
        ));
    }

    #[test]
    fn a_blocked_card_refuses_everything_but_unblock_and_returns_to_its_status() {
        let (_, card) = paid(10_000);
        let blocked = step(
            &card,
            Command::Block {
                reason: "fraud check".into(),
            },
        )
        .unwrap();
        assert!(matches!(
            step(&blocked, Command::Open { now: t0() }),
            Err(DomainError::InvalidState { .. })
        ));
        let back = step(&blocked, Command::Unblock).unwrap();
        assert_eq!(back.status, Status::Delivered);
    }

    #[test]
    fn replaying_the_events_gives_the_same_state() {
        let id = Uuid::now_v7();
        let mut card = None;
        let mut history = Vec::new();
        let cmds = [
            Command::Create {
                card: value_card(8_000, None),
                now: t0(),
            },
            Command::RecordPayment {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "p".into(),
                amount: 8_000,
                now: t0(),
            },
            Command::Open { now: t0() },
            Command::Redeem {
                code_version: None,
                amount: 500,
                currency: Currency::Eur,
                partner_id: Uuid::now_v7(),
                commission_bps: 1200,
                reference: Uuid::now_v7(),
                now: t0(),
            },
        ];
        for cmd in &cmds {
            for e in decide(card.as_ref(), cmd).unwrap() {
                card = apply(card, id, &e);
                history.push(e);
            }
        }
        assert_eq!(replay(id, &history), card);
    }

    #[test]
    fn events_round_trip_through_kind_and_data() {
        let e = Event::AmountRedeemed {
            amount: 5,
            partner_id: Uuid::now_v7(),
            commission: 1,
            reference: Uuid::now_v7(),
        };
        assert_eq!(Event::from_parts(e.kind(), e.data()).unwrap(), e);
    }

    #[test]
    fn commission_rounds_half_up() {
        assert_eq!(commission(10_000, 1500), 1_500);
        assert_eq!(commission(3, 1500), 0);
        assert_eq!(commission(4, 1250), 1);
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(Event::kind).collect()
    }

    fn redeem_at(partner: Uuid, amount: i64) -> Command {
        Command::Redeem {
            code_version: None,
            amount,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 1000,
            reference: Uuid::now_v7(),
            now: t0(),
        }
    }

    #[test]
    fn partial_spends_are_not_used_and_the_spend_that_empties_the_card_is_used_once() {
        let (_, mut card) = paid(5_000);
        let partner = Uuid::now_v7();
        for _ in 0..4 {
            let events = decide(Some(&card), &redeem_at(partner, 1_000)).unwrap();
            assert_eq!(kinds(&events), ["amount_redeemed"]);
            card = step(&card, redeem_at(partner, 1_000)).unwrap();
        }
        let events = decide(Some(&card), &redeem_at(partner, 1_000)).unwrap();
        assert_eq!(kinds(&events), ["amount_redeemed", "card_used"]);
        let card = step(&card, redeem_at(partner, 1_000)).unwrap();
        assert!(card.used);
        assert_eq!(card.status, Status::Used);
    }

    #[test]
    fn a_capture_that_leaves_value_held_elsewhere_is_not_used_until_the_last_one() {
        let (_, card) = paid(10_000);
        let partner = Uuid::now_v7();
        let (h1, h2) = (Uuid::now_v7(), Uuid::now_v7());
        let auth = |hold_id, amount| Command::Authorize {
            code_version: None,
            hold_id,
            amount,
            currency: Currency::Eur,
            partner_id: partner,
            commission_bps: 0,
            now: t0(),
        };
        let card = step(&card, auth(h1, 4_000)).unwrap();
        let card = step(&card, auth(h2, 6_000)).unwrap();
        let first = decide(
            Some(&card),
            &Command::Capture {
                hold_id: h1,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(kinds(&first), ["authorization_captured"]);
        let card = step(
            &card,
            Command::Capture {
                hold_id: h1,
                partner_id: partner,
            },
        )
        .unwrap();
        let last = decide(
            Some(&card),
            &Command::Capture {
                hold_id: h2,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(kinds(&last), ["authorization_captured", "card_used"]);
    }

    fn experience_card() -> GiftCard {
        let mut exp = value_card(9_000, None);
        exp.kind = CardKind::Experience {
            experience_id: Uuid::now_v7(),
            partner_id: Uuid::now_v7(),
            party_size: 2,
        };
        run(
            Uuid::now_v7(),
            &[
                Command::Create {
                    card: exp,
                    now: t0(),
                },
                Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: Uuid::now_v7(),
                    payment_id: "p".into(),
                    amount: 9_000,
                    now: t0(),
                },
            ],
        )
    }

    #[test]
    fn a_booking_is_booked_when_confirmed_once_and_its_experience_taken_is_used() {
        let card = experience_card();
        let partner = card.kind.partner().unwrap();
        let booking = Uuid::now_v7();
        let held = step(
            &card,
            Command::Authorize {
                code_version: None,
                hold_id: booking,
                amount: 9_000,
                currency: Currency::Eur,
                partner_id: partner,
                commission_bps: 1000,
                now: t0(),
            },
        )
        .unwrap();
        assert!(!held.holds[&booking].booked, "a hold is not a booking");
        let confirm = Command::ConfirmBooking {
            booking_id: booking,
        };
        assert_eq!(
            decide(Some(&held), &confirm).unwrap(),
            vec![Event::CardBooked {
                booking_id: booking
            }]
        );
        let booked = step(&held, confirm.clone()).unwrap();
        assert_eq!(decide(Some(&booked), &confirm).unwrap(), vec![]);
        assert_eq!(
            (booked.available, booked.held),
            (held.available, held.held),
            "booking moves no money"
        );
        assert_eq!(
            decide(
                Some(&booked),
                &Command::ConfirmBooking {
                    booking_id: Uuid::now_v7()
                }
            ),
            Err(DomainError::UnknownHold)
        );
        let events = decide(
            Some(&booked),
            &Command::Capture {
                hold_id: booking,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(kinds(&events), ["authorization_captured", "card_used"]);
    }

    #[test]
    fn cancelling_the_only_confirmed_booking_says_the_card_is_not_booked_any_more() {
        let card = experience_card();
        let partner = card.kind.partner().unwrap();
        let hold = |card: &GiftCard, id: Uuid, amount: i64| {
            step(
                card,
                Command::Authorize {
                    code_version: None,
                    hold_id: id,
                    amount,
                    currency: Currency::Eur,
                    partner_id: partner,
                    commission_bps: 1000,
                    now: t0(),
                },
            )
            .unwrap()
        };
        let release = |id: Uuid| Command::Release {
            hold_id: id,
            partner_id: partner,
        };
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        // A hold that was never confirmed lapses quietly.
        let held = hold(&card, a, 4_000);
        assert_eq!(
            kinds(&decide(Some(&held), &release(a)).unwrap()),
            ["authorization_released"]
        );
        // A confirmed one, released, is announced as cancelled…
        let booked = step(&held, Command::ConfirmBooking { booking_id: a }).unwrap();
        assert_eq!(
            kinds(&decide(Some(&booked), &release(a)).unwrap()),
            ["authorization_released", "booking_cancelled"]
        );
        // …unless another confirmed booking remains.
        let two = step(
            &hold(&booked, b, 4_000),
            Command::ConfirmBooking { booking_id: b },
        )
        .unwrap();
        assert_eq!(
            kinds(&decide(Some(&two), &release(a)).unwrap()),
            ["authorization_released"]
        );
        assert!(Event::BookingCancelled { booking_id: a }.visible_to_donor());
    }

    #[test]
    fn an_experience_taken_after_the_cards_expiry_is_still_used() {
        let card = experience_card();
        let partner = card.kind.partner().unwrap();
        let booking = Uuid::now_v7();
        let held = step(
            &card,
            Command::Authorize {
                code_version: None,
                hold_id: booking,
                amount: 9_000,
                currency: Currency::Eur,
                partner_id: partner,
                commission_bps: 0,
                now: t0(),
            },
        )
        .unwrap();
        let expired = step(
            &held,
            Command::Expire {
                now: held.expires_at,
            },
        )
        .unwrap();
        assert_eq!(expired.status, Status::Expired);
        let events = decide(
            Some(&expired),
            &Command::Capture {
                hold_id: booking,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(kinds(&events), ["authorization_captured", "card_used"]);
    }

    #[test]
    fn the_donor_sees_the_lifecycle_and_none_of_the_spending() {
        let id = Uuid::now_v7();
        let hidden = [
            Event::CardClaimed { user_id: id },
            Event::AmountRedeemed {
                amount: 1,
                partner_id: id,
                commission: 0,
                reference: id,
            },
            Event::ValueAuthorized {
                hold_id: id,
                amount: 1,
                partner_id: id,
                commission_bps: 0,
            },
            Event::AuthorizationCaptured {
                hold_id: id,
                amount: 1,
                partner_id: id,
                commission: 0,
            },
            Event::AuthorizationReleased {
                hold_id: id,
                amount: 1,
            },
            Event::CardBlocked { reason: "x".into() },
            Event::CardUnblocked { to: Status::Opened },
        ];
        assert!(hidden.iter().all(|e| !e.visible_to_donor()));
        let shown = [
            Event::CardDelivered { at: t0() },
            Event::CardOpened { at: t0() },
            Event::CardBooked { booking_id: id },
            Event::CardUsed {},
        ];
        assert!(shown.iter().all(Event::visible_to_donor));
        for e in shown {
            assert_eq!(Event::from_parts(e.kind(), e.data()).unwrap(), e);
        }
    }

    #[test]
    fn the_donor_refunds_until_the_card_is_opened_and_support_after() {
        let (_, card) = paid(5_000);
        let donor = Command::Refund {
            by: Refunder::Donor,
        };
        assert!(decide(Some(&card), &donor).is_ok(), "delivered, not opened");
        let opened = step(&card, Command::Open { now: t0() }).unwrap();
        assert_eq!(
            decide(Some(&opened), &donor),
            Err(DomainError::RefundWindowClosed)
        );
        let support = Command::Refund {
            by: Refunder::Support,
        };
        let refunded = step(&opened, support).unwrap();
        assert_eq!(refunded.status, Status::Refunded);
    }

    #[test]
    fn only_the_partner_holding_a_hold_captures_or_releases_it() {
        let (partner, other, hold) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (_, card) = paid(5_000);
        let card = step(
            &card,
            Command::Authorize {
                code_version: None,
                hold_id: hold,
                amount: 1_000,
                currency: Currency::Eur,
                partner_id: partner,
                commission_bps: 0,
                now: t0(),
            },
        )
        .unwrap();
        for wrong in [
            Command::Capture {
                hold_id: hold,
                partner_id: other,
            },
            Command::Release {
                hold_id: hold,
                partner_id: other,
            },
        ] {
            assert_eq!(decide(Some(&card), &wrong), Err(DomainError::UnknownHold));
        }
        let spent = step(
            &card,
            Command::Capture {
                hold_id: hold,
                partner_id: partner,
            },
        )
        .unwrap();
        assert_eq!(spent.available, 4_000);
    }

    #[test]
    fn a_value_card_holds_five_to_five_thousand_and_contributions_start_at_one() {
        assert_eq!(
            check_value_amount(499),
            Err(DomainError::AmountOutOfRange {
                min: 500,
                max: 500_000
            })
        );
        assert!(check_value_amount(500).is_ok() && check_value_amount(500_000).is_ok());
        assert!(check_value_amount(500_001).is_err());
        assert_eq!(
            decide(
                None,
                &Command::Create {
                    card: value_card(500_001, None),
                    now: t0()
                }
            ),
            Err(DomainError::AmountOutOfRange {
                min: 500,
                max: 500_000
            })
        );
        let id = Uuid::now_v7();
        let mut new = value_card(1_000, None);
        new.group = true;
        let pending = run(
            id,
            &[Command::Create {
                card: new,
                now: t0(),
            }],
        );
        assert_eq!(
            check_contribution(&pending, 1_000),
            Err(DomainError::NotCollecting),
            "not paid yet"
        );
        let issued = step(
            &pending,
            Command::RecordPayment {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "p".into(),
                amount: 1_000,
                now: t0(),
            },
        )
        .unwrap();
        assert!(check_contribution(&issued, 100).is_ok());
        assert!(check_contribution(&issued, 99).is_err());
        assert!(check_contribution(&issued, 500_001).is_err());
        let delivered = step(&issued, Command::Deliver { now: t0() }).unwrap();
        assert_eq!(
            check_contribution(&delivered, 1_000),
            Err(DomainError::NotCollecting)
        );
    }
}
