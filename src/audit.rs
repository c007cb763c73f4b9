//! `fimy audit verify`: recomputes every card's event chain and every balance from the
//! ledger, and names each card and event where the stored data disagrees — a modified,
//! removed, inserted or reordered event, a tampered ledger line, or a projection that no
//! longer matches its history.

use actors::giftcard::{self, Event, chain, ledger::Account};
use entities::{card_event, gift_card, ledger_entry};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// One disagreement found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub card_id: Option<Uuid>,
    /// The event (by sequence number) where the chain first breaks, if it is an event.
    pub seq: Option<i64>,
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.card_id, self.seq) {
            (Some(c), Some(s)) => write!(f, "card {c}, event {s}: {}", self.problem),
            (Some(c), None) => write!(f, "card {c}: {}", self.problem),
            _ => write!(f, "{}", self.problem),
        }
    }
}

/// What was checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub cards: usize,
    pub events: usize,
    pub ledger_entries: usize,
    pub findings: Vec<Finding>,
}

fn finding(card: Uuid, seq: Option<i64>, problem: impl Into<String>) -> Finding {
    Finding {
        card_id: Some(card),
        seq,
        problem: problem.into(),
    }
}

/// Checks every card. Reads card by card, so memory stays bounded by the largest card.
pub async fn verify(db: &DatabaseConnection) -> Result<Report, DbErr> {
    let mut report = Report::default();
    let cards = gift_card::Entity::find()
        .order_by_asc(gift_card::Column::Id)
        .all(db)
        .await?;
    for card in &cards {
        report.cards += 1;
        let events = card_event::Entity::find()
            .filter(card_event::Column::CardId.eq(card.id))
            .order_by_asc(card_event::Column::Seq)
            .all(db)
            .await?;
        report.events += events.len();
        let entries = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::CardId.eq(card.id))
            .all(db)
            .await?;
        report.ledger_entries += entries.len();
        report.findings.extend(check_card(card, &events, &entries));
    }
    // Ledger lines that claim a card that does not exist.
    let known: std::collections::HashSet<Uuid> = cards.iter().map(|c| c.id).collect();
    let orphans = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::CardId.is_not_null())
        .all(db)
        .await?;
    for e in orphans {
        if let Some(c) = e.card_id.filter(|c| !known.contains(c)) {
            report.findings.push(finding(
                c,
                None,
                format!("ledger line {} names a card that does not exist", e.id),
            ));
        }
    }
    Ok(report)
}

fn check_card(
    card: &gift_card::Model,
    events: &[card_event::Model],
    entries: &[ledger_entry::Model],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let id = card.id;

    // 1. The chain: contiguous sequence numbers, each hash recomputed from the one before.
    let mut prev = chain::GENESIS.to_owned();
    let mut decoded: Vec<(i64, Uuid, Event)> = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if e.seq != expected_seq {
            out.push(finding(
                id,
                Some(e.seq),
                format!("sequence gap: expected event {expected_seq}"),
            ));
            return out;
        }
        if e.prev_hash != prev {
            out.push(finding(
                id,
                Some(e.seq),
                "prev_hash does not match the event before it",
            ));
            return out;
        }
        let recomputed = chain::link(&prev, id, e.seq, &e.kind, &e.data, e.at);
        if recomputed != e.hash {
            out.push(finding(
                id,
                Some(e.seq),
                "hash mismatch: the event was modified",
            ));
            return out;
        }
        let parsed = serde_json::from_str(&e.data)
            .ok()
            .and_then(|v| Event::from_parts(&e.kind, v).ok());
        let Some(event) = parsed else {
            out.push(finding(id, Some(e.seq), "unreadable event data"));
            return out;
        };
        decoded.push((e.seq, e.id, event));
        prev = e.hash.clone();
    }
    if card.last_seq != i64::try_from(events.len()).unwrap_or(i64::MAX) || card.last_hash != prev {
        out.push(finding(
            id,
            Some(card.last_seq),
            format!(
                "the card records {} events but the log holds {}: events were removed or added",
                card.last_seq,
                events.len()
            ),
        ));
    }

    // 2. The projection: replaying the history gives the stored state.
    let replayed = giftcard::replay(id, decoded.iter().map(|(_, _, e)| e));
    let stored: Option<giftcard::GiftCard> = serde_json::from_str(&card.state).ok();
    match (&replayed, &stored) {
        (Some(r), Some(s)) if r == s => {}
        _ => out.push(finding(
            id,
            None,
            "the stored state differs from the replayed history",
        )),
    }
    if let Some(r) = &replayed
        && (r.available != card.available
            || r.held != card.held
            || r.status.as_str() != card.status)
    {
        out.push(finding(
            id,
            None,
            "balance or status columns differ from the history",
        ));
    }

    // 3. The ledger: each event's lines are exactly its postings, each transaction sums
    //    to zero, and the card's balance derived from its lines is its available value.
    let mut by_txn: HashMap<Uuid, Vec<&ledger_entry::Model>> = HashMap::new();
    for l in entries {
        by_txn.entry(l.txn_id).or_default().push(l);
    }
    for (seq, event_id, event) in &decoded {
        let mut expected: Vec<(String, i64)> = giftcard::ledger::postings(id, event)
            .into_iter()
            .map(|p| (p.account.to_string(), p.amount))
            .collect();
        let mut found: Vec<(String, i64)> = by_txn
            .remove(event_id)
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.account.clone(), l.amount))
            .collect();
        expected.sort();
        found.sort();
        if expected != found {
            out.push(finding(
                id,
                Some(*seq),
                "ledger lines differ from the event's postings",
            ));
        }
    }
    for (txn, lines) in by_txn {
        out.push(finding(
            id,
            None,
            format!(
                "ledger transaction {txn} ({} lines) belongs to no event",
                lines.len()
            ),
        ));
    }
    let mut sums: HashMap<Uuid, i64> = HashMap::new();
    for l in entries {
        *sums.entry(l.txn_id).or_default() += l.amount;
        if l.currency != card.currency {
            out.push(finding(
                id,
                None,
                format!("ledger line {} is in another currency", l.id),
            ));
        }
    }
    for (txn, sum) in sums {
        if sum != 0 {
            out.push(finding(
                id,
                None,
                format!("ledger transaction {txn} does not balance ({sum})"),
            ));
        }
    }
    let balance_of = |account: Account| -> i64 {
        let key = account.to_string();
        -entries
            .iter()
            .filter(|l| l.account == key)
            .map(|l| l.amount)
            .sum::<i64>()
    };
    let available = balance_of(Account::Card(id));
    let held = balance_of(Account::CardHold(id));
    if available != card.available || held != card.held {
        out.push(finding(
            id,
            None,
            format!(
                "ledger gives available {available} and held {held}, the card says {} and {}",
                card.available, card.held
            ),
        ));
    }
    if available < 0 || held < 0 {
        out.push(finding(id, None, "the ledger takes the card below zero"));
    }
    out
}
