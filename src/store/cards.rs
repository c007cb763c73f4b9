//! `CardStore` on sea-orm: a group commit writes the card's projection (fenced on its
//! version), its events, their ledger entries and their notifications in one
//! transaction. On PostgreSQL two nodes may race on one card: the `version` fence and
//! the unique `(card_id, seq)` index let exactly one win.

use super::{append_events_numbered, store_error};
use crate::live::bus::{EventBus, LiveEvent};
use actors::giftcard::{CardKind, GiftCard, GiftCards, ledger, notify};
use actors::notice::{Audience, NoticeKind};
use actors::runtime::{Commit, Loaded, Store, StoreError};
use entities::user_event;
use entities::{card_event, gift_card, ledger_entry, outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub struct SqlCardStore {
    db: DatabaseConnection,
    /// Committed events are published here for live subscribers.
    bus: Arc<dyn EventBus>,
}

impl SqlCardStore {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn EventBus>) -> Self {
        Self { db, bus }
    }
}

/// Reads a stored card's state.
pub fn decode(row: &gift_card::Model) -> Result<GiftCard, StoreError> {
    serde_json::from_str(&row.state)
        .map_err(|e| StoreError::Other(format!("card {} has unreadable state: {e}", row.id)))
}

/// The numbers of `events` in the donor's view of the card (`None` for those the donor
/// does not see), continuing from the last one stored. Read inside the commit, after
/// the card's fenced update, so two commits on one card cannot number alike (and the
/// unique `(card_id, donor_seq)` index would refuse it).
async fn donor_numbers(
    db: &impl ConnectionTrait,
    card: Uuid,
    new_card: bool,
    events: &[actors::runtime::RecordedEvent<actors::giftcard::Event>],
) -> Result<Vec<Option<i64>>, StoreError> {
    if !events.iter().any(|e| e.event.visible_to_donor()) {
        return Ok(vec![None; events.len()]);
    }
    let mut last = if new_card {
        0
    } else {
        card_event::Entity::find()
            .select_only()
            .column_as(card_event::Column::DonorSeq.max(), "last")
            .filter(card_event::Column::CardId.eq(card))
            .into_tuple::<Option<i64>>()
            .one(db)
            .await
            .map_err(store_error)?
            .flatten()
            .unwrap_or(0)
    };
    Ok(events
        .iter()
        .map(|e| {
            e.event.visible_to_donor().then(|| {
                last += 1;
                last
            })
        })
        .collect())
}

/// The recipient's receipts for spends are one message per run of spends, not one per
/// spend: a till that charges a card ten times in a minute sends one email and one push
/// saying what was spent in all. The batch's receipts are merged into one row per channel
/// covering their events (`seq` to `last_seq` in the payload), and that row into the
/// channel's receipt that is still waiting to be sent, if any. The merge is fenced on the
/// row being `pending` and the outbox's claim returns the row as claimed, so a merge
/// either lands before the claim (and is sent) or finds the row taken and writes a new
/// one: no spend is told twice or left out.
async fn coalesce_receipts(
    tx: &impl ConnectionTrait,
    card: Uuid,
    notices: Vec<outbox::ActiveModel>,
) -> Result<Vec<outbox::ActiveModel>, StoreError> {
    let is_receipt = |n: &outbox::ActiveModel| {
        n.kind.as_ref() == RECEIPT_KIND && n.audience.as_ref() == Audience::Recipient.as_str()
    };
    if !notices.iter().any(is_receipt) {
        return Ok(notices);
    }
    let (receipts, mut out): (Vec<_>, Vec<_>) = notices.into_iter().partition(is_receipt);
    // One row per channel and person (a transfer in the batch changes the person).
    type Key = (String, Option<Uuid>, Option<String>);
    let mut by_channel: Vec<(Key, outbox::ActiveModel, i64, i64)> = Vec::new();
    for n in receipts {
        let seq = receipt_range(n.payload.as_ref()).map_or(0, |(first, _)| first);
        let key = (
            n.channel.as_ref().clone(),
            *n.user_id.as_ref(),
            n.email.as_ref().clone(),
        );
        match by_channel.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, _, first, last)) => {
                *first = (*first).min(seq);
                *last = (*last).max(seq);
            }
            None => by_channel.push((key, n, seq, seq)),
        }
    }
    for ((channel, ..), mut row, first, last) in by_channel {
        // Only into a receipt for the same person: a transfer changes who hears of spends.
        let to_user = match row.user_id.as_ref() {
            Some(u) => outbox::Column::UserId.eq(*u),
            None => outbox::Column::UserId.is_null(),
        };
        let to_email = match row.email.as_ref() {
            Some(e) => outbox::Column::Email.eq(e.as_str()),
            None => outbox::Column::Email.is_null(),
        };
        let waiting = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .column(outbox::Column::Payload)
            .filter(outbox::Column::CardId.eq(card))
            .filter(to_user)
            .filter(to_email)
            .filter(outbox::Column::Audience.eq("recipient"))
            .filter(outbox::Column::Channel.eq(channel.as_str()))
            .filter(outbox::Column::Kind.eq(RECEIPT_KIND))
            .filter(outbox::Column::Status.eq("pending"))
            .into_tuple::<(Uuid, String)>()
            .one(tx)
            .await
            .map_err(store_error)?;
        if let Some((id, payload)) = waiting
            && let Some(merged) = with_last_seq(&payload, last)
        {
            let res = outbox::Entity::update_many()
                .col_expr(outbox::Column::Payload, Expr::value(merged))
                .filter(outbox::Column::Id.eq(id))
                .filter(outbox::Column::Status.eq("pending"))
                .filter(outbox::Column::Payload.eq(payload))
                .exec(tx)
                .await
                .map_err(store_error)?;
            if res.rows_affected == 1 {
                continue;
            }
        }
        let payload = row.payload.as_ref().clone();
        let payload = serde_json::from_str::<serde_json::Value>(&payload)
            .ok()
            .and_then(|mut v| {
                v["seq"] = first.into();
                with_last_seq(&v.to_string(), last)
            })
            .unwrap_or(payload);
        row.payload = Set(payload);
        out.push(row);
    }
    Ok(out)
}

/// The kind of the recipient's receipt for a spend.
const RECEIPT_KIND: &str = NoticeKind::CardUsed.as_str();

/// `payload` with its `last_seq` set to `last` (`None` if it is not a JSON object).
fn with_last_seq(payload: &str, last: i64) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(payload).ok()?;
    v.as_object_mut()?.insert("last_seq".into(), last.into());
    Some(v.to_string())
}

/// The card events a receipt row covers: `seq` to `last_seq` (just `seq` for a row
/// written before receipts were merged).
pub fn receipt_range(payload: &str) -> Option<(i64, i64)> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let first = v.get("seq")?.as_i64()?;
    let last = v.get("last_seq").and_then(|l| l.as_i64()).unwrap_or(first);
    Some((first, last))
}

fn kind_name(card: &GiftCard) -> &'static str {
    match card.kind {
        CardKind::Experience { .. } => "experience",
        CardKind::Value { .. } => "value",
    }
}

#[async_trait::async_trait]
impl Store<GiftCards> for SqlCardStore {
    #[tracing::instrument(skip(self))]
    async fn load(&self, id: Uuid) -> Result<Option<Loaded<GiftCard>>, StoreError> {
        let Some(row) = gift_card::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            state: decode(&row)?,
            version: row.version,
            last_seq: row.last_seq,
            last_hash: row.last_hash,
        }))
    }

    #[tracing::instrument(skip(self, c), fields(card = %c.id, events = c.events.len()))]
    async fn commit(&self, c: Commit<'_, GiftCards>) -> Result<(), StoreError> {
        let Some(last) = c.events.last() else {
            return Ok(());
        };
        let card = c.state;
        let state = serde_json::to_string(card).map_err(|e| StoreError::Other(e.to_string()))?;
        let tx = self.db.begin().await.map_err(store_error)?;
        if !write_projection(&tx, &c, last, state).await? {
            tx.rollback().await.map_err(store_error)?;
            return Err(StoreError::Conflict);
        }
        let donor_seqs = donor_numbers(&tx, card.id, c.expected_version == 0, c.events).await?;
        let entries = ledger_lines(card, c.events);
        let (notices, feed) = notices_and_feed(card, c.events, &donor_seqs);
        let notices = coalesce_receipts(&tx, card.id, notices).await?;
        append_events_numbered(
            &tx,
            "card_events",
            "card_id",
            c.events,
            |e| e.kind(),
            Some(("donor_seq", &donor_seqs)),
        )
        .await?;
        if !entries.is_empty() {
            ledger_entry::Entity::insert_many(entries)
                .exec_without_returning(&tx)
                .await
                .map_err(store_error)?;
        }
        crate::notify::enqueue(&tx, notices)
            .await
            .map_err(store_error)?;
        let lines = append_feed(&tx, card.id, &feed).await?;
        tx.commit().await.map_err(store_error)?;
        let mut live = card_topic_events(card.id, c.events, &donor_seqs);
        live.extend(lines);
        self.bus.publish(live).await;
        Ok(())
    }
}

type Recorded = actors::runtime::RecordedEvent<actors::giftcard::Event>;

/// One line of a user's feed: an event that concerns them, with its number as they see
/// the card (the donor's own numbering for the donor).
struct FeedLine<'a> {
    user: Uuid,
    kind: NoticeKind,
    event: &'a Recorded,
    card_seq: i64,
}

/// Writes the card's row: inserted for a new card, else updated if it is still at the
/// version the batch was decided on. `false` when another writer got there first.
async fn write_projection(
    tx: &impl ConnectionTrait,
    c: &Commit<'_, GiftCards>,
    last: &Recorded,
    state: String,
) -> Result<bool, StoreError> {
    let card = c.state;
    let now = last.at;
    if c.expected_version == 0 {
        let code = c
            .side
            .as_ref()
            .ok_or_else(|| StoreError::Other("a new card needs a code".into()))?;
        gift_card::ActiveModel {
            id: Set(card.id),
            kind: Set(kind_name(card).to_owned()),
            status: Set(card.status.as_str().to_owned()),
            currency: Set(card.currency.code().to_owned()),
            face_value: Set(card.face_value),
            available: Set(card.available),
            held: Set(card.held),
            purchaser_id: Set(card.purchaser_id),
            recipient_user_id: Set(card.recipient.user_id),
            recipient_email: Set(card.recipient.email.clone()),
            partner_id: Set(card.kind.partner()),
            experience_id: Set(match card.kind {
                CardKind::Experience { experience_id, .. } => Some(experience_id),
                CardKind::Value { .. } => None,
            }),
            deliver_at: Set(card.deliver_at),
            expires_at: Set(card.expires_at),
            code_hash: Set(code.lookup_hash.clone()),
            code_ciphertext: Set(code.ciphertext.clone()),
            state: Set(state),
            version: Set(1),
            last_seq: Set(last.seq),
            last_hash: Set(last.hash.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(tx)
        .await
        .map_err(store_error)?;
        return Ok(true);
    }
    let mut update = gift_card::Entity::update_many()
        .col_expr(gift_card::Column::Status, Expr::value(card.status.as_str()))
        .col_expr(gift_card::Column::FaceValue, Expr::value(card.face_value))
        .col_expr(gift_card::Column::Available, Expr::value(card.available))
        .col_expr(gift_card::Column::Held, Expr::value(card.held))
        .col_expr(
            gift_card::Column::RecipientUserId,
            Expr::value(card.recipient.user_id),
        )
        .col_expr(
            gift_card::Column::RecipientEmail,
            Expr::value(card.recipient.email.clone()),
        )
        .col_expr(gift_card::Column::DeliverAt, Expr::value(card.deliver_at))
        .col_expr(gift_card::Column::ExpiresAt, Expr::value(card.expires_at))
        .col_expr(gift_card::Column::State, Expr::value(state))
        .col_expr(
            gift_card::Column::Version,
            Expr::value(c.expected_version + 1),
        )
        .col_expr(gift_card::Column::LastSeq, Expr::value(last.seq))
        .col_expr(gift_card::Column::LastHash, Expr::value(last.hash.clone()))
        .col_expr(gift_card::Column::UpdatedAt, Expr::value(now));
    if let Some(code) = &c.side {
        update = update
            .col_expr(
                gift_card::Column::CodeHash,
                Expr::value(code.lookup_hash.clone()),
            )
            .col_expr(
                gift_card::Column::CodeCiphertext,
                Expr::value(code.ciphertext.clone()),
            );
    }
    let res = update
        .filter(gift_card::Column::Id.eq(card.id))
        .filter(gift_card::Column::Version.eq(c.expected_version))
        .exec(tx)
        .await
        .map_err(store_error)?;
    Ok(res.rows_affected == 1)
}

/// The ledger lines of a batch's events.
fn ledger_lines(card: &GiftCard, events: &[Recorded]) -> Vec<ledger_entry::ActiveModel> {
    let mut entries = Vec::new();
    for e in events {
        for p in ledger::postings(card.id, &e.event) {
            entries.push(ledger_entry::ActiveModel {
                id: Set(Uuid::now_v7()),
                txn_id: Set(e.id),
                card_id: Set(Some(card.id)),
                event_id: Set(Some(e.id)),
                account: Set(p.account.to_string()),
                currency: Set(card.currency.code().to_owned()),
                amount: Set(p.amount),
                at: Set(e.at),
            });
        }
    }
    entries
}

/// Who is told of a batch's events: the outbox rows (notifications, then the refunds to
/// send to the payment provider) and the lines of the users' feeds.
fn notices_and_feed<'a>(
    card: &GiftCard,
    events: &'a [Recorded],
    donor_seqs: &[Option<i64>],
) -> (Vec<outbox::ActiveModel>, Vec<FeedLine<'a>>) {
    let mut notices = Vec::new();
    let mut seen_notices: Vec<(Uuid, &'static str, Audience)> = Vec::new();
    let mut feed: Vec<FeedLine<'a>> = Vec::new();
    for (e, donor_seq) in events.iter().zip(donor_seqs) {
        for n in notify::notices(card, &e.event) {
            if let Some(user) = n.user_id
                && !feed
                    .iter()
                    .any(|l| l.user == user && l.kind == n.kind && l.event.id == e.id)
            {
                let card_seq = match (n.audience, donor_seq) {
                    (Audience::Donor, Some(s)) => *s,
                    _ => e.seq,
                };
                feed.push(FeedLine {
                    user,
                    kind: n.kind,
                    event: e,
                    card_seq,
                });
            }
            // One event may notify several people of one audience (each payer of a
            // refund): each gets their own id, derived from the event's, which is what
            // receivers deduplicate on and what the outbox's unique index covers.
            let event_id = match (n.audience, n.user_id) {
                (Audience::Payer, Some(user)) => Uuid::new_v5(&e.id, user.as_bytes()),
                _ => e.id,
            };
            let key = (event_id, n.channel.as_str(), n.audience);
            if seen_notices.contains(&key) {
                continue;
            }
            seen_notices.push(key);
            let payload = serde_json::json!({
                "card_id": card.id,
                "event": e.event.kind(),
                "seq": e.seq,
            });
            notices.push(
                crate::notify::Outgoing {
                    event_id,
                    card_id: Some(card.id),
                    audience: n.audience,
                    user_id: n.user_id,
                    email: n.email,
                    channel: n.channel,
                    kind: n.kind,
                    payload: payload.to_string(),
                    at: e.at,
                }
                .row(),
            );
        }
    }
    // Refunds to send to the payment provider, in the transaction that records them.
    for e in events {
        notices.extend(crate::notify::refunds::refund_rows(card.id, e));
    }
    (notices, feed)
}

/// Appends the feed lines to their users' feeds, numbered per user, and returns them as
/// the live events to publish once committed. Two nodes racing on one user's feed collide
/// on the unique `(user_id, seq)` index, and the loser's batch is decided again.
async fn append_feed(
    tx: &impl ConnectionTrait,
    card_id: Uuid,
    feed: &[FeedLine<'_>],
) -> Result<Vec<LiveEvent>, StoreError> {
    let mut next: HashMap<Uuid, i64> = HashMap::new();
    let mut lines = Vec::with_capacity(feed.len());
    let mut rows = Vec::with_capacity(feed.len());
    for line in feed {
        let seq = match next.get(&line.user) {
            Some(s) => *s,
            None => crate::live::feed::next_seq(tx, line.user)
                .await
                .map_err(store_error)?,
        };
        next.insert(line.user, seq + 1);
        let data = serde_json::json!({"card_id": card_id, "event": line.event.event.kind(), "card_seq": line.card_seq});
        lines.push(LiveEvent {
            topic: format!("user:{}", line.user),
            seq,
            kind: line.kind.as_str().to_owned(),
            data: data.clone(),
            at: line.event.at,
            donor_seq: None,
        });
        rows.push(user_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(line.user),
            seq: Set(seq),
            kind: Set(line.kind.as_str().to_owned()),
            data: Set(data.to_string()),
            at: Set(line.event.at),
            event_id: Set(line.event.id),
        });
    }
    // One statement for the batch's feed lines.
    if !rows.is_empty() {
        user_event::Entity::insert_many(rows)
            .exec_without_returning(tx)
            .await
            .map_err(store_error)?;
    }
    Ok(lines)
}

/// The batch's events as the card's live topic carries them.
fn card_topic_events(
    card_id: Uuid,
    events: &[Recorded],
    donor_seqs: &[Option<i64>],
) -> Vec<LiveEvent> {
    events
        .iter()
        .zip(donor_seqs)
        .map(|(e, donor_seq)| LiveEvent {
            topic: format!("card:{card_id}"),
            seq: e.seq,
            kind: e.event.kind().to_owned(),
            data: serde_json::from_str(&e.data).unwrap_or_default(),
            at: e.at,
            donor_seq: *donor_seq,
        })
        .collect()
}
