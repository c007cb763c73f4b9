//! `fimy audit verify`: recomputes every event chain — gift cards, slots and partner
//! calendars — and every card balance from the ledger, and names each entity and event
//! where the stored data disagrees: a modified, removed, inserted or reordered event, a
//! tampered ledger line, or a projection that no longer matches its history.
//!
//! It streams: entities are read in pages of [`PAGE`] by id, and each entity's events and
//! ledger lines with one query each, so memory stays bounded by the largest entity and the
//! number of queries grows linearly with the number of entities.

use crate::store::snapshots::{Spec, calendar_spec, slot_spec};
use actors::giftcard::{self, Event, chain, ledger::Account};
use actors::runtime::Aggregate;
use chrono::{DateTime, Utc};
use entities::{card_event, gift_card, ledger_entry};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// Entities read per query.
const PAGE: u64 = 500;

/// The kind of entity a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Card,
    Slot,
    Calendar,
    /// The ledger as a whole (a line naming no known entity).
    Ledger,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Slot => "slot",
            Self::Calendar => "calendar",
            Self::Ledger => "ledger",
        }
    }
}

/// One disagreement found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// The entity (a card, a slot, or the partner whose calendar it is).
    pub id: Option<Uuid>,
    /// The event (by sequence number) where the chain first breaks, if it is an event.
    pub seq: Option<i64>,
    pub problem: String,
}

impl Finding {
    /// The card the finding is about, if it is about a card (or a ledger line naming one).
    pub fn card_id(&self) -> Option<Uuid> {
        matches!(self.kind, Kind::Card | Kind::Ledger)
            .then_some(self.id)
            .flatten()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Card | Kind::Ledger => "card",
            Kind::Slot => "slot",
            Kind::Calendar => "calendar of partner",
        };
        match (self.id, self.seq) {
            (Some(id), Some(s)) => write!(f, "{what} {id}, event {s}: {}", self.problem),
            (Some(id), None) => write!(f, "{what} {id}: {}", self.problem),
            _ => write!(f, "{}", self.problem),
        }
    }
}

/// What was checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub cards: usize,
    pub slots: usize,
    pub calendars: usize,
    pub events: usize,
    pub ledger_entries: usize,
    pub findings: Vec<Finding>,
}

fn finding(card: Uuid, seq: Option<i64>, problem: impl Into<String>) -> Finding {
    Finding {
        kind: Kind::Card,
        id: Some(card),
        seq,
        problem: problem.into(),
    }
}

/// A read-only snapshot for one page of entities: on PostgreSQL a repeatable-read
/// transaction, so an entity's row, events and ledger lines are read as of one moment
/// even while the application writes (SQLite transactions are snapshots already).
async fn snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if crate::store::db::is_postgres(db) {
        db.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
    } else {
        db.begin().await
    }
}

/// Checks every chain and every card's ledger.
pub async fn verify(db: &DatabaseConnection) -> Result<Report, DbErr> {
    let mut report = Report::default();
    verify_cards(db, &mut report).await?;
    report.slots = verify_snapshots(db, &slot_spec(), Kind::Slot, &mut report).await?;
    report.calendars = verify_snapshots(db, &calendar_spec(), Kind::Calendar, &mut report).await?;
    Ok(report)
}

async fn verify_cards(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = gift_card::Entity::find().order_by_asc(gift_card::Column::Id);
        if let Some(id) = after {
            page = page.filter(gift_card::Column::Id.gt(id));
        }
        let tx = snapshot(db).await?;
        let cards = page.limit(PAGE).all(&tx).await?;
        let Some(last) = cards.last() else {
            break;
        };
        after = Some(last.id);
        for card in &cards {
            report.cards += 1;
            let (events, entries) = card_history(&tx, card.id).await?;
            report.events += events.len();
            report.ledger_entries += entries.len();
            report.findings.extend(check_card(card, &events, &entries));
        }
        tx.commit().await?;
    }
    // Ledger lines that claim a card that does not exist.
    let orphans = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::CardId.is_not_null())
        .filter(
            ledger_entry::Column::CardId.not_in_subquery(
                Query::select()
                    .column(gift_card::Column::Id)
                    .from(gift_card::Entity)
                    .to_owned(),
            ),
        )
        .all(db)
        .await?;
    for e in orphans {
        report.findings.push(Finding {
            kind: Kind::Ledger,
            id: e.card_id,
            seq: None,
            problem: format!("ledger line {} names a card that does not exist", e.id),
        });
    }
    Ok(())
}

/// A card's events in order and its ledger lines (by time).
async fn card_history(
    tx: &DatabaseTransaction,
    card: Uuid,
) -> Result<(Vec<card_event::Model>, Vec<ledger_entry::Model>), DbErr> {
    let events = card_event::Entity::find()
        .filter(card_event::Column::CardId.eq(card))
        .order_by_asc(card_event::Column::Seq)
        .all(tx)
        .await?;
    let entries = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::CardId.eq(card))
        .order_by_asc(ledger_entry::Column::At)
        .order_by_asc(ledger_entry::Column::Id)
        .all(tx)
        .await?;
    Ok((events, entries))
}

/// One card as stored — its row, its chain of events and its ledger lines, read as of one
/// moment — with what the audit finds on it.
#[derive(Debug, Clone)]
pub struct CardRecord {
    pub card: gift_card::Model,
    pub events: Vec<card_event::Model>,
    pub entries: Vec<ledger_entry::Model>,
    pub findings: Vec<Finding>,
}

/// Reads and checks one card, as [`verify`] does for each (`None` if there is no such card).
pub async fn verify_card(db: &DatabaseConnection, id: Uuid) -> Result<Option<CardRecord>, DbErr> {
    let tx = snapshot(db).await?;
    let Some(card) = gift_card::Entity::find_by_id(id).one(&tx).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let (events, entries) = card_history(&tx, id).await?;
    tx.commit().await?;
    let findings = check_card(&card, &events, &entries);
    Ok(Some(CardRecord {
        card,
        events,
        entries,
        findings,
    }))
}

/// One stored link of a chain.
struct Link<'a> {
    seq: i64,
    kind: &'a str,
    data: &'a str,
    at: DateTime<Utc>,
    prev_hash: &'a str,
    hash: &'a str,
}

/// Walks an entity's chain: contiguous sequence numbers from 1, each hash recomputed from
/// the one before. Gives the first break, or the head (event count, last hash) and, when
/// the entity row records another head, the finding that events were removed or added.
fn check_chain<'a>(
    kind: Kind,
    id: Uuid,
    links: impl IntoIterator<Item = Link<'a>>,
    last_seq: i64,
    last_hash: &str,
) -> Result<Option<Finding>, Finding> {
    let at = |seq: i64, problem: String| Finding {
        kind,
        id: Some(id),
        seq: Some(seq),
        problem,
    };
    let mut prev = chain::GENESIS.to_owned();
    let mut count = 0i64;
    for l in links {
        let expected_seq = count + 1;
        if l.seq != expected_seq {
            return Err(at(
                l.seq,
                format!("sequence gap: expected event {expected_seq}"),
            ));
        }
        if l.prev_hash != prev {
            return Err(at(
                l.seq,
                "prev_hash does not match the event before it".into(),
            ));
        }
        if chain::link(&prev, id, l.seq, l.kind, l.data, l.at) != l.hash {
            return Err(at(l.seq, "hash mismatch: the event was modified".into()));
        }
        prev = l.hash.to_owned();
        count += 1;
    }
    if last_seq == count && last_hash == prev {
        return Ok(None);
    }
    let noun = match kind {
        Kind::Slot => "slot",
        Kind::Calendar => "calendar",
        Kind::Card | Kind::Ledger => "card",
    };
    Ok(Some(at(
        last_seq,
        format!(
            "the {noun} records {last_seq} events but the log holds {count}: events were removed or added"
        ),
    )))
}

/// Checks every entity of a snapshot-stored kind (slots, calendars): its chain, and that
/// replaying its history gives the stored snapshot and the integer projection columns.
/// Returns how many entities there were.
async fn verify_snapshots<A>(
    db: &DatabaseConnection,
    spec: &Spec<A>,
    kind: Kind,
    report: &mut Report,
) -> Result<usize, DbErr>
where
    A: Aggregate,
    A::State: Serialize,
    A::Event: DeserializeOwned,
{
    let col = Alias::new;
    let mut entities = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = Query::select();
        page.expr_as(Expr::col(col(spec.id_column)), col("id"))
            .expr(Expr::cust("*"))
            .from(col(spec.state_table))
            .order_by(col(spec.id_column), Order::Asc)
            .limit(PAGE);
        if let Some(id) = after {
            page.and_where(Expr::col(col(spec.id_column)).gt(id));
        }
        let tx = snapshot(db).await?;
        let rows = tx.query_all(&page).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.try_get("", "id")?);
        for row in &rows {
            entities += 1;
            let id: Uuid = row.try_get("", "id")?;
            let events = tx
                .query_all(
                    &Query::select()
                        .columns(["seq", "kind", "data", "at", "prev_hash", "hash"].map(col))
                        .from(col(spec.events_table))
                        .and_where(Expr::col(col(spec.owner_column)).eq(id))
                        .order_by(col("seq"), Order::Asc)
                        .to_owned(),
                )
                .await?;
            report.events += events.len();
            let mut stored = Vec::with_capacity(events.len());
            for e in &events {
                stored.push((
                    e.try_get::<i64>("", "seq")?,
                    e.try_get::<String>("", "kind")?,
                    e.try_get::<String>("", "data")?,
                    e.try_get::<DateTime<Utc>>("", "at")?,
                    e.try_get::<String>("", "prev_hash")?,
                    e.try_get::<String>("", "hash")?,
                ));
            }
            let last_seq: i64 = row.try_get("", "last_seq")?;
            let last_hash: String = row.try_get("", "last_hash")?;
            let links = stored.iter().map(|(seq, k, data, at, prev, hash)| Link {
                seq: *seq,
                kind: k,
                data,
                at: *at,
                prev_hash: prev,
                hash,
            });
            match check_chain(kind, id, links, last_seq, &last_hash) {
                Ok(None) => {}
                Ok(Some(f)) | Err(f) => {
                    report.findings.push(f);
                    continue;
                }
            }
            let problem = |p: String| Finding {
                kind,
                id: Some(id),
                seq: None,
                problem: p,
            };
            // Replay: the history must give the stored snapshot.
            let mut state: Option<A::State> = None;
            let mut unreadable = None;
            for (seq, k, data, ..) in &stored {
                let event = serde_json::from_str::<serde_json::Value>(data).and_then(|d| {
                    serde_json::from_value(serde_json::json!({"kind": k, "data": d}))
                });
                match event {
                    Ok(e) => state = A::apply(state, id, &e),
                    Err(_) => {
                        unreadable = Some(*seq);
                        break;
                    }
                }
            }
            if let Some(seq) = unreadable {
                report.findings.push(Finding {
                    seq: Some(seq),
                    ..problem("unreadable event data".into())
                });
                continue;
            }
            let snapshot: String = row.try_get("", "state")?;
            let stored_state = serde_json::from_str::<serde_json::Value>(&snapshot).ok();
            let replayed = state.as_ref().and_then(|s| serde_json::to_value(s).ok());
            if stored_state.is_none() || stored_state != replayed {
                report.findings.push(problem(
                    "the stored state differs from the replayed history".into(),
                ));
                continue;
            }
            // The projection columns kept for queries say what the history says.
            if let Some(s) = &state {
                for (column, value) in (spec.columns)(s) {
                    let differs = match value {
                        sea_orm::Value::Int(Some(v)) => row.try_get::<i32>("", column)? != v,
                        sea_orm::Value::BigInt(Some(v)) => row.try_get::<i64>("", column)? != v,
                        sea_orm::Value::Uuid(Some(v)) => row.try_get::<Uuid>("", column)? != v,
                        _ => false,
                    };
                    if differs {
                        report.findings.push(problem(format!(
                            "column {column} differs from the replayed history"
                        )));
                    }
                }
            }
        }
        tx.commit().await?;
    }
    Ok(entities)
}

fn check_card(
    card: &gift_card::Model,
    events: &[card_event::Model],
    entries: &[ledger_entry::Model],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let id = card.id;

    // 1. The chain.
    let links = events.iter().map(|e| Link {
        seq: e.seq,
        kind: &e.kind,
        data: &e.data,
        at: e.at,
        prev_hash: &e.prev_hash,
        hash: &e.hash,
    });
    match check_chain(Kind::Card, id, links, card.last_seq, &card.last_hash) {
        Ok(head) => out.extend(head),
        Err(broken) => return vec![broken],
    }
    let mut decoded: Vec<(i64, Uuid, Event)> = Vec::with_capacity(events.len());
    for e in events {
        let parsed = serde_json::from_str(&e.data)
            .ok()
            .and_then(|v| Event::from_parts(&e.kind, v).ok());
        let Some(event) = parsed else {
            out.push(finding(id, Some(e.seq), "unreadable event data"));
            return out;
        };
        decoded.push((e.seq, e.id, event));
    }

    // The donor's numbering: the events a donor sees are numbered 1, 2, … in order, and
    // no other event has a number (a gap would tell a donor that something was hidden).
    let mut donor_next = 1i64;
    for (e, (_, _, event)) in events.iter().zip(&decoded) {
        let expected = event.visible_to_donor().then_some(donor_next);
        if e.donor_seq != expected {
            out.push(finding(
                id,
                Some(e.seq),
                format!(
                    "donor numbering: expected {expected:?}, the event has {:?}",
                    e.donor_seq
                ),
            ));
            break;
        }
        if expected.is_some() {
            donor_next += 1;
        }
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
