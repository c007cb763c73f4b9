//! Booking a slot with a gift card, and everything after: confirm, cancel (by the
//! recipient under the partner's deadline, or by the partner), reschedule, check-in and
//! no-show, and the sweep that lets unconfirmed holds lapse.
//!
//! A booking touches three actors — the slot (places), the card (value) and the partner's
//! calendar (the log the tablet follows) — and no transaction spans them. So every step
//! is ordered to be safe when interrupted, and compensated when it fails:
//! 1. the booking row is written first (`pending`, with its hold's expiry);
//! 2. the slot holds the places (refused when full);
//! 3. the card authorizes the value — if it refuses, the slot's places are released;
//! 4. the booking becomes `held`, and `confirmed` when the recipient confirms in time.
//!
//! If the process dies between steps, the booking is still `pending`/`held` with an
//! expiry, and the sweep releases whatever the slot and the card hold for it. Releasing
//! twice is harmless on both actors.
//!
//! Which status a booking may move to, and when, is the booking's own rule
//! (`actors::booking::lifecycle`): every step here asks its `decide` first, and only
//! orders the actors and the write. The stored status string becomes a [`BookingStatus`]
//! where a row is read ([`status_of`]) and goes back to a string where one is written.

use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::state::AppState;
use actors::booking::calendar::BookingChange;
use actors::booking::lifecycle::{self, within_check_in_window};
use actors::booking::{
    AvailabilityRules, Booking, BookingCommand, BookingError, BookingStatus, CHECK_IN_CLOSES_AFTER,
    CHECK_IN_OPENS_BEFORE, CalendarCommand, ExperienceTerms, HOLD_TTL_MINUTES, Slot, SlotCommand,
    SlotTime, Step, WindowPosition, slot_id,
};
use actors::giftcard::{CardKind, Command, GiftCard};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, calendar, experience, gift_card, partner};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

/// Most lapsed bookings handled per sweep.
const SWEEP_BATCH: u64 = 500;

/// The status of a booking row: the one place its stored string is read.
pub fn status_of(b: &booking::Model) -> ApiResult<BookingStatus> {
    BookingStatus::parse(&b.status)
        .ok_or_else(|| ApiError::internal(format!("booking {} has status {:?}", b.id, b.status)))
}

/// What the booking's rules need of a row.
pub fn booking_of(b: &booking::Model) -> ApiResult<Booking> {
    Ok(Booking {
        status: status_of(b)?,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
    })
}

/// What the booking's rules say `command` does to booking `b` at `now`.
fn decide(b: &booking::Model, command: BookingCommand, now: DateTime<Utc>) -> ApiResult<Step> {
    Ok(lifecycle::decide(&booking_of(b)?, &command, now)?)
}

/// A [`BookingStatus`] filter on the stored column.
fn status_in<const N: usize>(statuses: [BookingStatus; N]) -> sea_orm::sea_query::SimpleExpr {
    booking::Column::Status.is_in(statuses.map(BookingStatus::as_str))
}

/// A partner's calendar as stored (empty if it has none yet) and its log position.
pub async fn calendar_of(
    state: &AppState,
    partner_id: Uuid,
) -> ApiResult<(actors::booking::Calendar, i64)> {
    match calendar::Entity::find_by_id(partner_id)
        .one(&state.db)
        .await?
    {
        Some(row) => Ok((
            serde_json::from_str(&row.state).or_internal()?,
            row.last_seq,
        )),
        None => Ok((actors::booking::Calendar::default(), 0)),
    }
}

/// The availability rules of an experience, from its partner's calendar.
pub async fn rules_for(
    state: &AppState,
    exp: &experience::Model,
) -> ApiResult<Option<AvailabilityRules>> {
    Ok(calendar_of(state, exp.partner_id)
        .await?
        .0
        .rules
        .remove(&exp.id))
}

/// A slot as offered: its time and its places.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SlotAvailability {
    pub slot_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
    pub free: u32,
    pub held: u32,
    pub booked: u32,
}

/// Slot rows starting in `[from, to)` of one experience or of a whole partner, by id.
async fn slot_rows(
    state: &AppState,
    scope: sea_orm::sea_query::SimpleExpr,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<std::collections::HashMap<Uuid, entities::slot::Model>> {
    Ok(entities::slot::Entity::find()
        .filter(scope)
        .filter(entities::slot::Column::StartsAt.gte(from))
        .filter(entities::slot::Column::StartsAt.lt(to))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect())
}

/// The slots `rules` open for an experience, with the places the stored rows count.
fn offered(
    rules: &AvailabilityRules,
    experience: Uuid,
    rows: &std::collections::HashMap<Uuid, entities::slot::Model>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<SlotAvailability> {
    rules
        .slots_between(from, to, now)
        .into_iter()
        .map(|t| {
            let id = slot_id(experience, t.starts_at);
            let (held, booked, capacity) = match rows.get(&id) {
                // Lapsed holds still counted here are freed on the slot's next command.
                Some(r) => (
                    u32::try_from(r.held).unwrap_or(0),
                    u32::try_from(r.booked).unwrap_or(0),
                    u32::try_from(r.capacity).unwrap_or(0),
                ),
                None => (0, 0, rules.capacity),
            };
            SlotAvailability {
                slot_id: id,
                starts_at: t.starts_at,
                ends_at: t.ends_at,
                capacity,
                free: capacity.saturating_sub(held + booked),
                held,
                booked,
            }
        })
        .collect()
}

/// The slots an experience's rules open between two times, with their current places.
pub async fn availability(
    state: &AppState,
    exp: &experience::Model,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<SlotAvailability>> {
    let Some(rules) = rules_for(state, exp).await? else {
        return Ok(Vec::new());
    };
    let rows = slot_rows(
        state,
        entities::slot::Column::ExperienceId.eq(exp.id),
        from,
        to,
    )
    .await?;
    Ok(offered(&rules, exp.id, &rows, from, to, state.clock.now()))
}

/// Every experience's slots of a partner between two times (one read of the calendar and
/// one of the slots), and the calendar's log position the view includes.
pub async fn partner_availability(
    state: &AppState,
    partner_id: Uuid,
    experiences: &[experience::Model],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<(Vec<(Uuid, SlotAvailability)>, i64)> {
    let (calendar, last_seq) = calendar_of(state, partner_id).await?;
    let rows = slot_rows(
        state,
        entities::slot::Column::PartnerId.eq(partner_id),
        from,
        to,
    )
    .await?;
    let now = state.clock.now();
    let mut out = Vec::new();
    for e in experiences {
        if let Some(rules) = calendar.rules.get(&e.id) {
            out.extend(
                offered(rules, e.id, &rows, from, to, now)
                    .into_iter()
                    .map(|s| (e.id, s)),
            );
        }
    }
    // One order whatever order the experiences came in: by time, then by experience.
    out.sort_by_key(|(experience_id, s)| (s.starts_at, *experience_id));
    Ok((out, last_seq))
}

async fn load_card(state: &AppState, id: Uuid) -> ApiResult<GiftCard> {
    let row = gift_card::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    crate::store::cards::decode(&row).or_internal()
}

/// A slot's places as `(free, held, booked)`: from its state after a command when there
/// is one, otherwise as its row stands in the database.
async fn places(state: &AppState, slot_id: Uuid, slot: Option<&Slot>) -> (u32, u32, u32) {
    if let Some(s) = slot {
        return (s.free(), s.held(), s.booked());
    }
    match entities::slot::Entity::find_by_id(slot_id)
        .one(&state.db)
        .await
    {
        Ok(Some(r)) => {
            let count = |n: i32| u32::try_from(n).unwrap_or(0);
            let (held, booked) = (count(r.held), count(r.booked));
            (
                count(r.capacity).saturating_sub(held + booked),
                held,
                booked,
            )
        }
        Ok(None) => (0, 0, 0),
        Err(e) => {
            tracing::warn!(slot = %slot_id, error = %e, "slot places not read for the calendar");
            (0, 0, 0)
        }
    }
}

/// Tells the partner's calendar about a booking's new status, with the slot's real
/// places (`slot`: its state after the command just made, if any).
async fn record(state: &AppState, b: &booking::Model, slot: Option<&Slot>) {
    record_change(state, b, b.slot_id, b.starts_at, &b.status, slot).await;
}

/// Tells the partner's calendar that the booking's places at `slot_id` changed.
async fn record_change(
    state: &AppState,
    b: &booking::Model,
    slot_id: Uuid,
    starts_at: DateTime<Utc>,
    status: &str,
    slot: Option<&Slot>,
) {
    let (free, held, booked) = places(state, slot_id, slot).await;
    let change = BookingChange {
        booking_id: b.id,
        slot_id,
        experience_id: b.experience_id,
        starts_at,
        party: u32::try_from(b.party_size).unwrap_or(0),
        status: status.to_owned(),
        free,
        held,
        booked,
    };
    if let Err(e) = state
        .calendars
        .send(b.partner_id, CalendarCommand::Record(change))
        .await
    {
        // The booking itself is committed; the calendar log misses one line.
        tracing::error!(booking = %b.id, error = %e, "calendar not told of a booking change");
    }
}

/// Tells the card that the booking behind its hold is confirmed: the donor hears
/// "booked" and the recipient gets their confirmation, once (the card ignores a second
/// time). The booking is confirmed whatever the card answers; a failure here is logged,
/// and confirming again retries it.
async fn announce_booked(state: &AppState, b: &booking::Model) {
    match state
        .registry
        .send(b.card_id, Command::ConfirmBooking { booking_id: b.id })
        .await
    {
        Ok(_) => {}
        Err(e) => {
            tracing::error!(booking = %b.id, error = %e, "card not told of a confirmed booking");
        }
    }
}

/// Moves a booking to `status`, fenced on the version it was read at.
async fn transition(
    state: &AppState,
    b: &booking::Model,
    status: BookingStatus,
    change: impl FnOnce(&mut booking::ActiveModel),
) -> ApiResult<booking::Model> {
    let mut am = booking::ActiveModel {
        status: Set(status.as_str().to_owned()),
        version: Set(b.version + 1),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    };
    change(&mut am);
    let res = booking::Entity::update_many()
        .set(am)
        .filter(booking::Column::Id.eq(b.id))
        .filter(booking::Column::Version.eq(b.version))
        .exec(&state.db)
        .await?;
    if res.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::BookingStateConflict,
            "the booking changed meanwhile; reload it",
        ));
    }
    booking::Entity::find_by_id(b.id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))
}

/// What a booking request asks for.
pub struct BookRequest {
    pub card_id: Uuid,
    pub experience_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub party_size: Option<u32>,
}

/// The slot of an experience starting at `starts_at`, if the rules open it now.
async fn bookable(
    state: &AppState,
    exp: &experience::Model,
    starts_at: DateTime<Utc>,
) -> ApiResult<(AvailabilityRules, SlotTime)> {
    let rules = rules_for(state, exp).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::SlotUnavailable,
            "this experience takes no bookings yet",
        )
        .field("experience_id")
    })?;
    let time = rules.slot_at(starts_at, state.clock.now()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::SlotUnavailable,
            "no bookable slot starts at this time (closed, too soon, or too far ahead)",
        )
        .field("starts_at")
    })?;
    Ok((rules, time))
}

async fn open_slot(
    state: &AppState,
    exp: &experience::Model,
    rules: &AvailabilityRules,
    time: SlotTime,
) -> ApiResult<Uuid> {
    let id = slot_id(exp.id, time.starts_at);
    state
        .slots
        .send(
            id,
            SlotCommand::Open {
                experience_id: exp.id,
                partner_id: exp.partner_id,
                starts_at: time.starts_at,
                ends_at: time.ends_at,
                capacity: rules.capacity,
            },
        )
        .await?;
    Ok(id)
}

/// Holds places and the card's value for a booking (steps 1–4 above).
#[tracing::instrument(skip(state, req), fields(card = %req.card_id))]
pub async fn book(state: &AppState, holder: Uuid, req: BookRequest) -> ApiResult<booking::Model> {
    let card = load_card(state, req.card_id).await?;
    if card.recipient.user_id != Some(holder) {
        return Err(ApiError::not_found("card"));
    }
    let exp = experience::Entity::find_by_id(req.experience_id)
        .one(&state.db)
        .await?
        .filter(|e| e.published)
        .ok_or_else(|| ApiError::not_found("experience"))?;
    let partner = partner::Entity::find_by_id(exp.partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("experience without partner"))?;
    let (party, amount) = lifecycle::terms(
        &card.kind,
        card.currency,
        card.face_value,
        &ExperienceTerms {
            id: exp.id,
            partner_id: exp.partner_id,
            currency: &exp.currency,
            capacity: exp.capacity,
            price_minor: exp.price_minor,
        },
        req.party_size,
    )?;
    let (rules, time) = bookable(state, &exp, req.starts_at).await?;
    let now = state.clock.now();
    let expires_at = now + Duration::minutes(HOLD_TTL_MINUTES);
    let sid = open_slot(state, &exp, &rules, time).await?;
    let id = Uuid::now_v7();
    let pending = booking::ActiveModel {
        id: Set(id),
        card_id: Set(card.id),
        experience_id: Set(exp.id),
        partner_id: Set(exp.partner_id),
        slot_id: Set(sid),
        starts_at: Set(time.starts_at),
        ends_at: Set(time.ends_at),
        party_size: Set(i32::try_from(party).unwrap_or(i32::MAX)),
        amount: Set(amount),
        currency: Set(card.currency.code().to_owned()),
        holder_user_id: Set(holder),
        status: Set(BookingStatus::Pending.as_str().to_owned()),
        hold_expires_at: Set(Some(expires_at)),
        cancelled_by: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;

    let held = state
        .slots
        .send(
            sid,
            SlotCommand::Hold {
                booking_id: id,
                party,
                expires_at,
                now,
            },
        )
        .await;
    let slot = match held {
        Ok(o) => o.state,
        Err(e) => {
            fail(state, &pending, now).await?;
            return Err(e.into());
        }
    };
    let bps = u32::try_from(partner.commission_bps).unwrap_or(0);
    // What the hold is counted in: an experience card's own price, or the experience's.
    let currency = match card.kind {
        CardKind::Experience { .. } => card.currency,
        CardKind::Value { .. } => actors::Currency::parse(&exp.currency).or_internal()?,
    };
    let authorized = state
        .registry
        .send(
            card.id,
            Command::Authorize {
                code_version: None,
                hold_id: id,
                amount,
                currency,
                partner_id: exp.partner_id,
                commission_bps: bps,
                now,
            },
        )
        .await;
    if let Err(e) = authorized {
        // Compensate: give the places back.
        let _ = state
            .slots
            .send(sid, SlotCommand::Release { booking_id: id })
            .await;
        fail(state, &pending, now).await?;
        return Err(e.into());
    }
    let Step::To(held) = decide(&pending, BookingCommand::Hold, now)? else {
        return Ok(pending);
    };
    let b = transition(state, &pending, held, |_| {}).await?;
    record(state, &b, Some(&slot)).await;
    Ok(b)
}

/// Marks a booking the slot or the card refused as failed.
async fn fail(state: &AppState, pending: &booking::Model, now: DateTime<Utc>) -> ApiResult<()> {
    if let Step::To(failed) = decide(pending, BookingCommand::Fail, now)? {
        transition(state, pending, failed, |_| {}).await?;
    }
    Ok(())
}

/// Confirms a held booking before its hold lapses.
pub async fn confirm(state: &AppState, b: &booking::Model) -> ApiResult<booking::Model> {
    let now = state.clock.now();
    let Step::To(confirmed) = decide(b, BookingCommand::Confirm, now)? else {
        announce_booked(state, b).await;
        return Ok(b.clone());
    };
    match state
        .slots
        .send(
            b.slot_id,
            SlotCommand::Confirm {
                booking_id: b.id,
                now,
            },
        )
        .await
    {
        Ok(o) => {
            let b = transition(state, b, confirmed, |am| am.hold_expires_at = Set(None)).await?;
            record(state, &b, Some(&o.state)).await;
            announce_booked(state, &b).await;
            Ok(b)
        }
        Err(e) => {
            let err: ApiError = e.into();
            if err.code == ErrorCode::HoldExpired || err.code == ErrorCode::NotFound {
                match expire(state, b, now).await {
                    // The sweep let it go at the same moment: it lapsed all the same.
                    Ok(_) => {}
                    Err(e) if e.code == ErrorCode::BookingStateConflict => {}
                    Err(e) => return Err(e),
                }
                return Err(BookingError::HoldExpired.into());
            }
            Err(err)
        }
    }
}

/// Frees the slot's places and the card's value for a booking and sets its status.
async fn release_everything(
    state: &AppState,
    b: &booking::Model,
    status: BookingStatus,
    cancelled_by: Option<&str>,
) -> ApiResult<booking::Model> {
    let slot = state
        .slots
        .send(b.slot_id, SlotCommand::Release { booking_id: b.id })
        .await;
    let card = state
        .registry
        .send(
            b.card_id,
            Command::Release {
                hold_id: b.id,
                partner_id: b.partner_id,
            },
        )
        .await;
    match card {
        Ok(_)
        | Err(actors::runtime::ActorError::Domain(actors::giftcard::DomainError::UnknownHold)) => {}
        Err(e) => return Err(e.into()),
    }
    let by = cancelled_by.map(str::to_owned);
    let b = transition(state, b, status, |am| {
        am.hold_expires_at = Set(None);
        am.cancelled_by = Set(by);
    })
    .await?;
    record(state, &b, slot.ok().as_ref().map(|o| &o.state)).await;
    Ok(b)
}

/// The recipient cancels, until the partner's deadline before the start.
pub async fn cancel_by_holder(state: &AppState, b: &booking::Model) -> ApiResult<booking::Model> {
    let partner = partner::Entity::find_by_id(b.partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("booking without partner"))?;
    let command = BookingCommand::CancelByHolder {
        cancellation_hours: partner.cancellation_hours,
    };
    let Step::To(cancelled) = decide(b, command, state.clock.now())? else {
        return Ok(b.clone());
    };
    release_everything(state, b, cancelled, Some("recipient")).await
}

/// The partner cancels (any time before the start); the value goes back to the card.
pub async fn cancel_by_partner(state: &AppState, b: &booking::Model) -> ApiResult<booking::Model> {
    let Step::To(cancelled) = decide(b, BookingCommand::CancelByPartner, state.clock.now())? else {
        return Ok(b.clone());
    };
    release_everything(state, b, cancelled, Some("partner")).await
}

/// Lets a booking whose hold lapsed go: its places and value are released.
async fn expire(
    state: &AppState,
    b: &booking::Model,
    now: DateTime<Utc>,
) -> ApiResult<booking::Model> {
    let Step::To(expired) = decide(b, BookingCommand::Expire, now)? else {
        return Ok(b.clone());
    };
    release_everything(state, b, expired, None).await
}

/// Moves a confirmed booking to another slot: the new places are taken before the old
/// ones are given back, so the booking never stands without a place.
pub async fn reschedule(
    state: &AppState,
    b: &booking::Model,
    starts_at: DateTime<Utc>,
) -> ApiResult<booking::Model> {
    let Step::To(moved_status) = decide(b, BookingCommand::Reschedule, state.clock.now())? else {
        return Ok(b.clone());
    };
    let exp = experience::Entity::find_by_id(b.experience_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("experience"))?;
    let (rules, time) = bookable(state, &exp, starts_at).await?;
    let new_slot = open_slot(state, &exp, &rules, time).await?;
    if new_slot == b.slot_id {
        return Ok(b.clone());
    }
    let now = state.clock.now();
    let party = u32::try_from(b.party_size).unwrap_or(0);
    let taken = state
        .slots
        .send(
            new_slot,
            SlotCommand::Book {
                booking_id: b.id,
                party,
                now,
            },
        )
        .await?;
    let old_slot = b.slot_id;
    let moved = transition(state, b, moved_status, |am| {
        am.slot_id = Set(new_slot);
        am.starts_at = Set(time.starts_at);
        am.ends_at = Set(time.ends_at);
    })
    .await;
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            // Someone changed the booking meanwhile: give the new places back.
            let _ = state
                .slots
                .send(new_slot, SlotCommand::Release { booking_id: b.id })
                .await;
            return Err(e);
        }
    };
    let old = state
        .slots
        .send(old_slot, SlotCommand::Release { booking_id: b.id })
        .await;
    if let Err(e) = &old {
        tracing::error!(booking = %b.id, slot = %old_slot, error = %e, "old slot not released after a reschedule");
    }
    // The slot it left (its places freed, `moved`), then the one it holds now.
    record_change(
        state,
        &moved,
        old_slot,
        b.starts_at,
        "moved",
        old.as_ref().ok().map(|o| &o.state),
    )
    .await;
    record(state, &moved, Some(&taken.state)).await;
    Ok(moved)
}

/// Refuses to validate booking `b` at `at` outside its check-in window
/// ([`CheckInWindow`]: the same for the QR scan and the tablet's check-in), saying when
/// it opens or when it closed, in the venue's time and in UTC.
pub async fn check_window(
    state: &AppState,
    b: &booking::Model,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    match within_check_in_window(&booking_of(b)?, at) {
        Ok(()) => Ok(()),
        Err(e) => Err(refusal(state, b, e).await?),
    }
}

/// The answer to a booking's rules refusing `e`: an [`ApiError`] as it converts, except
/// outside the check-in window, which is worded with the venue's time.
async fn refusal(state: &AppState, b: &booking::Model, e: BookingError) -> ApiResult<ApiError> {
    let BookingError::OutsideCheckInWindow {
        window: w,
        position,
    } = e
    else {
        return Ok(e.into());
    };
    let tz: Option<chrono_tz::Tz> = partner::Entity::find_by_id(b.partner_id)
        .one(&state.db)
        .await?
        .and_then(|p| p.timezone.parse().ok());
    let show = |t: DateTime<Utc>| match tz {
        Some(tz) => format!(
            "{} {} ({})",
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            tz.name(),
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let detail = match position {
        WindowPosition::TooEarly => format!(
            "too early: this booking can be validated from {}, {} hours before its start",
            show(w.opens_at),
            CHECK_IN_OPENS_BEFORE.num_hours()
        ),
        _ => format!(
            "too late: validation for this booking closed at {}, {} hours after its end",
            show(w.closes_at),
            CHECK_IN_CLOSES_AFTER.num_hours()
        ),
    };
    Ok(ApiError::new(ErrorCode::OutsideCheckInWindow, detail))
}

/// The partner validates the visit: the card's value is captured. Only within the
/// booking's check-in window.
pub async fn check_in(state: &AppState, b: &booking::Model) -> ApiResult<booking::Model> {
    check_in_at(state, b, state.clock.now()).await
}

/// Checks a visit in that was validated at `at` (for a QR scan: when it was scanned, so
/// a scan accepted at the end of the window is not refused when its holder confirms).
pub async fn check_in_at(
    state: &AppState,
    b: &booking::Model,
    at: DateTime<Utc>,
) -> ApiResult<booking::Model> {
    settle(state, b, BookingCommand::CheckIn, at).await
}

/// The recipient did not come: under the no-show policy the value is captured too.
pub async fn no_show(state: &AppState, b: &booking::Model) -> ApiResult<booking::Model> {
    settle(state, b, BookingCommand::NoShow, state.clock.now()).await
}

/// Captures the card's value for a visit that was checked in or missed.
async fn settle(
    state: &AppState,
    b: &booking::Model,
    command: BookingCommand,
    now: DateTime<Utc>,
) -> ApiResult<booking::Model> {
    let status = match lifecycle::decide(&booking_of(b)?, &command, now) {
        Ok(Step::To(status)) => status,
        Ok(Step::Done) => return Ok(b.clone()),
        Err(e) => return Err(refusal(state, b, e).await?),
    };
    match state
        .registry
        .send(
            b.card_id,
            Command::Capture {
                hold_id: b.id,
                partner_id: b.partner_id,
            },
        )
        .await
    {
        Ok(_)
        | Err(actors::runtime::ActorError::Domain(actors::giftcard::DomainError::UnknownHold)) => {}
        Err(e) => return Err(e.into()),
    }
    let b = transition(state, b, status, |_| {}).await?;
    record(state, &b, None).await;
    Ok(b)
}

/// Lets bookings whose hold lapsed go: their places and value are released.
pub async fn sweep(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now();
    let lapsed = booking::Entity::find()
        .filter(status_in(BookingStatus::UNCONFIRMED))
        .filter(booking::Column::HoldExpiresAt.lte(now))
        .order_by_asc(booking::Column::HoldExpiresAt)
        .limit(SWEEP_BATCH)
        .all(&state.db)
        .await?;
    let mut n = 0;
    for b in lapsed {
        match expire(state, &b, now).await {
            Ok(_) => n += 1,
            Err(e) if e.code == ErrorCode::BookingStateConflict => {}
            Err(e) => {
                tracing::warn!(booking = %b.id, error = %e, "a lapsed booking could not be released")
            }
        }
    }
    // Slots whose lapsed holds no booking row points to (never expected) are freed too.
    let stale = entities::slot::Entity::find()
        .filter(entities::slot::Column::NextHoldExpiry.lte(now))
        .limit(SWEEP_BATCH)
        .all(&state.db)
        .await?;
    for s in stale {
        let _ = state
            .slots
            .send(s.id, SlotCommand::ExpireHolds { now })
            .await;
    }
    Ok(n)
}

/// Sets an experience's availability rules (in its partner's time zone).
pub async fn set_rules(
    state: &AppState,
    exp: &experience::Model,
    mut rules: AvailabilityRules,
) -> ApiResult<AvailabilityRules> {
    let partner = partner::Entity::find_by_id(exp.partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("experience without partner"))?;
    rules.timezone = partner.timezone;
    rules.validate()?;
    state
        .calendars
        .send(
            exp.partner_id,
            CalendarCommand::SetRules {
                experience_id: exp.id,
                rules: rules.clone(),
            },
        )
        .await?;
    Ok(rules)
}

/// The slots `rules` would open for `exp` in `[from, to)`, as seen now, without storing
/// them: the same validation and slot generation as [`set_rules`] and the slot lists, in
/// the partner's time zone. At most `max`, the earliest.
pub async fn preview_rules(
    state: &AppState,
    exp: &experience::Model,
    mut rules: AvailabilityRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
) -> ApiResult<(
    AvailabilityRules,
    Vec<actors::booking::availability::SlotTime>,
)> {
    let partner = partner::Entity::find_by_id(exp.partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("experience without partner"))?;
    rules.timezone = partner.timezone;
    rules.validate()?;
    let mut slots = rules.slots_between(from, to, state.clock.now());
    slots.truncate(max);
    Ok((rules, slots))
}

/// The bookings of a partner starting in `[from, to)`.
pub async fn partner_bookings(
    state: &AppState,
    partner_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<booking::Model>> {
    Ok(booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(partner_id))
        .filter(booking::Column::StartsAt.gte(from))
        .filter(booking::Column::StartsAt.lt(to))
        .filter(status_in([
            BookingStatus::Held,
            BookingStatus::Confirmed,
            BookingStatus::Completed,
            BookingStatus::NoShow,
        ]))
        .order_by_asc(booking::Column::StartsAt)
        .limit(2000)
        .all(&state.db)
        .await?)
}
