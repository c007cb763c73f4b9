//! The gift-card application service: what the HTTP handlers, the payment webhooks and
//! the scheduler ask of cards. Every change goes through the card's actor (the
//! [`Registry`](actors::runtime::Registry)); this module adds what the pure domain does
//! not know: codes and their secrecy, payments, lookups, and time-driven work.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::payments::{IntentStatus, PaymentError, PaymentMethod, PaymentRequest, WebhookKind};
use crate::state::AppState;
use actors::code::CardCode;
use actors::giftcard::GiftCards;
use actors::giftcard::{Command, GiftCard, NewCard};
use actors::runtime::CodeMaterial;

/// What a card command did.
pub type Outcome = actors::runtime::Outcome<GiftCards>;
use entities::{gift_card, payment, webhook_event};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most due cards handled per scheduler pass.
const SCHEDULER_BATCH: u64 = 500;

/// A fresh code, and the two forms of it the database keeps.
pub fn new_code(state: &AppState) -> (CardCode, CodeMaterial) {
    let code = CardCode::generate(&mut rand::rngs::OsRng);
    let material = CodeMaterial {
        lookup_hash: state.secrets.code_lookup_hash(&code),
        ciphertext: state.secrets.encrypt_code(&code),
    };
    (code, material)
}

/// Creates a card (pending payment) with a new code.
pub async fn create(state: &AppState, card: NewCard) -> ApiResult<Outcome> {
    let (_, material) = new_code(state);
    let id = Uuid::now_v7();
    let now = state.clock.now();
    Ok(state
        .registry
        .send_with(id, Command::Create { card, now }, Some(material))
        .await?)
}

/// Where a payment stands, as the payer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// Our reference for this payment.
    pub id: Uuid,
    pub contribution_id: Uuid,
    /// `processing` (the outcome arrives by webhook), `requires_action`, `failed`.
    pub status: String,
    /// Where to send the payer to authenticate (3-D Secure), when needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Starts a payment of `amount` into `card` by `payer`. The card is credited only when
/// the provider's webhook says the payment succeeded.
/// Logged by id and amount only: the card carries the recipient's name, email and the
/// gift message, the method a card number.
#[tracing::instrument(skip(state, card, method), fields(card = %card.id, %payer, amount))]
pub async fn start_payment(
    state: &AppState,
    card: &GiftCard,
    payer: Uuid,
    amount: i64,
    method: PaymentMethod,
) -> ApiResult<PaymentView> {
    let reference = Uuid::now_v7();
    let contribution_id = Uuid::now_v7();
    let now = state.clock.now();
    payment::ActiveModel {
        id: Set(reference),
        card_id: Set(card.id),
        contribution_id: Set(contribution_id),
        payer_id: Set(payer),
        provider: Set(state.payments.name().to_owned()),
        provider_payment_id: Set(None),
        amount: Set(amount),
        currency: Set(card.currency.code().to_owned()),
        status: Set("pending".to_owned()),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    let request = PaymentRequest {
        amount_minor: amount,
        currency: card.currency.code().to_owned(),
        reference,
        idempotency_key: format!("fimy-payment-{reference}"),
        method,
        description: format!("Fimy gift card {}", card.id),
    };
    let result = state.payments.create_payment(request).await;
    let (status, error, view) = match result {
        Ok(intent) => {
            let (status, url) = match &intent.status {
                IntentStatus::Succeeded | IntentStatus::Processing => ("processing", None),
                IntentStatus::RequiresAction { next_action_url } => {
                    ("requires_action", next_action_url.clone())
                }
                IntentStatus::Failed { .. } => ("failed", None),
            };
            let error = match &intent.status {
                IntentStatus::Failed { code, message } => Some(format!("{code}: {message}")),
                _ => None,
            };
            payment::ActiveModel {
                id: Set(reference),
                provider_payment_id: Set(Some(intent.id.clone())),
                status: Set(status.to_owned()),
                last_error: Set(error.clone()),
                updated_at: Set(state.clock.now()),
                ..Default::default()
            }
            .update(&state.db)
            .await?;
            (
                status,
                error,
                PaymentView {
                    id: reference,
                    contribution_id,
                    status: status.to_owned(),
                    next_action_url: url,
                    client_secret: intent.client_secret,
                },
            )
        }
        Err(e) => {
            record_payment_failure(state, reference, &e.to_string()).await?;
            return Err(payment_error(e));
        }
    };
    if status == "failed" {
        return Err(ApiError::new(
            ErrorCode::PaymentDeclined,
            error.unwrap_or_else(|| "the payment failed".into()),
        ));
    }
    Ok(view)
}

async fn record_payment_failure(state: &AppState, reference: Uuid, error: &str) -> ApiResult<()> {
    payment::ActiveModel {
        id: Set(reference),
        status: Set("failed".to_owned()),
        last_error: Set(Some(error.to_owned())),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    }
    .update(&state.db)
    .await?;
    Ok(())
}

fn payment_error(e: PaymentError) -> ApiError {
    match e {
        PaymentError::Declined { code, message } => {
            ApiError::new(ErrorCode::PaymentDeclined, format!("{message} ({code})"))
        }
        PaymentError::InvalidRequest(m) => {
            ApiError::new(ErrorCode::InvalidField, m).field("payment")
        }
        PaymentError::Unavailable(m) => {
            tracing::warn!(error = %m, "payment provider unavailable");
            ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the payment provider is unavailable; retry in a moment",
            )
            .retry_after(5)
        }
        other => ApiError::internal(other),
    }
}

/// Handles a provider webhook: checks its signature, then acts on it. Providers deliver
/// at least once; acting twice is harmless (a payment is recorded once per provider
/// payment id), and processed event ids are remembered.
#[tracing::instrument(skip_all)]
pub async fn receive_webhook(state: &AppState, payload: &[u8], signature: &str) -> ApiResult<()> {
    let event = state
        .payments
        .verify_webhook(payload, signature, state.clock.now())
        .map_err(|e| ApiError::new(ErrorCode::InvalidSignature, e.to_string()))?;
    let provider = state.payments.name();
    let seen = webhook_event::Entity::find_by_id((provider.to_owned(), event.id.clone()))
        .one(&state.db)
        .await?
        .is_some();
    if seen {
        tracing::debug!(event = %event.id, "webhook already processed");
        return Ok(());
    }
    let kind = match &event.kind {
        WebhookKind::PaymentSucceeded { .. } => "payment_succeeded",
        WebhookKind::PaymentFailed { .. } => "payment_failed",
        WebhookKind::RefundSucceeded { .. } => "refund_succeeded",
        WebhookKind::Other { .. } => "other",
    };
    match event.kind {
        WebhookKind::PaymentSucceeded {
            payment_id,
            reference,
            amount_minor,
            currency,
        } => {
            payment_succeeded(state, &payment_id, reference, amount_minor, &currency).await?;
        }
        WebhookKind::PaymentFailed {
            payment_id,
            reference,
            code,
            message,
        } => {
            if let Some(row) = find_payment(state, &payment_id, reference).await? {
                record_payment_failure(state, row.id, &format!("{code}: {message}")).await?;
            }
        }
        WebhookKind::RefundSucceeded { .. } | WebhookKind::Other { .. } => {}
    }
    webhook_event::Entity::insert(webhook_event::ActiveModel {
        provider: Set(provider.to_owned()),
        event_id: Set(event.id),
        kind: Set(kind.to_owned()),
        received_at: Set(state.clock.now()),
    })
    .on_conflict(
        OnConflict::columns([
            webhook_event::Column::Provider,
            webhook_event::Column::EventId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    Ok(())
}

async fn find_payment(
    state: &AppState,
    provider_payment_id: &str,
    reference: Option<Uuid>,
) -> ApiResult<Option<payment::Model>> {
    if let Some(r) = reference
        && let Some(row) = payment::Entity::find_by_id(r).one(&state.db).await?
    {
        return Ok(Some(row));
    }
    Ok(payment::Entity::find()
        .filter(payment::Column::Provider.eq(state.payments.name()))
        .filter(payment::Column::ProviderPaymentId.eq(provider_payment_id))
        .one(&state.db)
        .await?)
}

async fn payment_succeeded(
    state: &AppState,
    provider_payment_id: &str,
    reference: Option<Uuid>,
    amount: i64,
    currency: &str,
) -> ApiResult<()> {
    let Some(row) = find_payment(state, provider_payment_id, reference).await? else {
        tracing::warn!(
            payment = provider_payment_id,
            "a payment we do not know succeeded"
        );
        return Ok(());
    };
    if row.amount != amount || row.currency != currency {
        tracing::error!(payment = %row.id, "provider amount or currency differs from ours");
        return Err(ApiError::new(
            ErrorCode::PaymentMismatch,
            "the payment does not match what was asked",
        ));
    }
    let now = state.clock.now();
    let outcome = state
        .registry
        .send(
            row.card_id,
            Command::RecordPayment {
                contribution_id: row.contribution_id,
                payer_id: row.payer_id,
                payment_id: provider_payment_id.to_owned(),
                amount,
                now,
            },
        )
        .await?;
    payment::ActiveModel {
        id: Set(row.id),
        status: Set("succeeded".to_owned()),
        last_error: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&state.db)
    .await?;
    let card = outcome.state;
    let due = card.deliver_at.is_none_or(|at| at <= now);
    if !card.group && due {
        state
            .registry
            .send(card.id, Command::Deliver { now })
            .await?;
    }
    Ok(())
}

/// Who looks a code up, which decides whose budget it counts against.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// Anyone (a recipient opening a card), by client address.
    Anonymous { client_ip: &'a str },
    /// A partner's staff at the venue, by staff account.
    Staff { user_id: Uuid },
    /// An administrator looking a card up, by account (on the staff budget).
    Admin { user_id: Uuid },
}

/// Finds a card by its code. A typo (bad check character) is refused before any lookup;
/// a well-formed code that matches nothing counts against the caller's lookup budget,
/// and gets the same answer whether or not such a card ever existed.
pub async fn find_by_code(
    state: &AppState,
    raw: &str,
    lookup: Lookup<'_>,
) -> ApiResult<gift_card::Model> {
    let code = CardCode::parse(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidCode, e.to_string()).field("code"))?;
    let (limiter, client, signed_in) = match lookup {
        Lookup::Anonymous { client_ip } => (&state.code_limiter, client_ip.to_owned(), false),
        Lookup::Staff { user_id } => (&state.staff_code_limiter, staff_client(user_id), true),
        Lookup::Admin { user_id } => (&state.staff_code_limiter, format!("admin:{user_id}"), true),
    };
    let client = client.as_str();
    // Anonymous callers are capped on every lookup; signed-in staff only on their guesses.
    let checked = if signed_in {
        limiter.check_guesses(client)
    } else {
        limiter.check(client, client)
    };
    if let Err(limited) = checked {
        return Err(too_many_lookups(limited.retry_after_secs));
    }
    let found = gift_card::Entity::find()
        .filter(gift_card::Column::CodeHash.eq(state.secrets.code_lookup_hash(&code)))
        .one(&state.db)
        .await?;
    match found {
        Some(card) => Ok(card),
        None => {
            limiter.record_failure(client);
            Err(ApiError::new(
                ErrorCode::NotFound,
                "no card matches this code",
            ))
        }
    }
}

/// The card a till's code stands for, from the node's cache when the code was looked up
/// recently (no read, and no look-up counted against the staff's budget), else by
/// [`find_by_code`]. Spends made with it carry its `code_version`, which the card's
/// actor checks: an entry that outlived a transfer spends nothing ([`forget_code`]).
pub async fn handle_for_code(
    state: &AppState,
    raw: &str,
    user_id: Uuid,
) -> ApiResult<crate::store::cache::CardHandle> {
    let code = CardCode::parse(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidCode, e.to_string()).field("code"))?;
    let hash = state.secrets.code_lookup_hash(&code);
    if let Some(handle) = state.caches.card_handles.get(&hash) {
        // A till over its budget of guesses waits, even with a code it knows.
        state
            .staff_code_limiter
            .check_guesses(&staff_client(user_id))
            .map_err(|l| too_many_lookups(l.retry_after_secs))?;
        return Ok(handle);
    }
    let row = find_by_code(state, raw, Lookup::Staff { user_id }).await?;
    let card = crate::store::cards::decode(&row).map_err(ApiError::internal)?;
    let handle = crate::store::cache::CardHandle {
        card_id: row.id,
        code_version: card.code_version,
    };
    state.caches.card_handles.put(hash, handle);
    Ok(handle)
}

/// The staff code limiter's key for a staff account.
fn staff_client(user_id: Uuid) -> String {
    format!("staff:{user_id}")
}

fn too_many_lookups(retry_after_secs: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "too many code lookups; wait before trying again",
    )
    .retry_after(retry_after_secs)
}

/// Drops the cached card of a code that the card's actor refused as replaced.
pub fn forget_code(state: &AppState, raw: &str) {
    if let Ok(code) = CardCode::parse(raw) {
        state
            .caches
            .card_handles
            .forget(&state.secrets.code_lookup_hash(&code));
    }
}

/// Delivers the cards whose delivery time has come and expires those past their date.
/// Safe to run on several nodes at once: each change goes through the card's actor and
/// is fenced in the database, and delivering or expiring twice is a no-op.
#[tracing::instrument(skip(state))]
pub async fn run_due(state: &AppState) -> ApiResult<(usize, usize)> {
    let now = state.clock.now();
    let due = gift_card::Entity::find()
        .filter(gift_card::Column::Status.eq("issued"))
        .filter(gift_card::Column::DeliverAt.lte(now))
        .order_by_asc(gift_card::Column::DeliverAt)
        .limit(SCHEDULER_BATCH)
        .all(&state.db)
        .await?;
    let mut delivered = 0;
    for card in due {
        let state_card = crate::store::cards::decode(&card).map_err(ApiError::internal)?;
        if state_card.group && state_card.deliver_at.is_none() {
            continue;
        }
        match state.registry.send(card.id, Command::Deliver { now }).await {
            Ok(o) if !o.events.is_empty() => delivered += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(card = %card.id, error = %e, "delivery failed"),
        }
    }
    let expiring = gift_card::Entity::find()
        .filter(gift_card::Column::ExpiresAt.lte(now))
        .filter(gift_card::Column::Status.is_in(["issued", "delivered", "opened", "partly_used"]))
        .limit(SCHEDULER_BATCH)
        .all(&state.db)
        .await?;
    let mut expired = 0;
    for card in expiring {
        match state.registry.send(card.id, Command::Expire { now }).await {
            Ok(o) if !o.events.is_empty() => expired += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(card = %card.id, error = %e, "expiry failed"),
        }
    }
    Ok((delivered, expired))
}
