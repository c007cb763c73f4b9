//! Email, the outbox's `email` channel: gathers what a notification row is about (the
//! card, its event, the booking, the addressee's language), renders it in French or
//! English ([`templates`]), and hands it to the [`Mailer`] — SMTP when `SMTP_URL` is set,
//! otherwise `.eml` files in `<data_dir>/outbox/`.
//!
//! - The addressee is `row.email`, or the account's address for rows naming a user; the
//!   language is the account's `locale` (found by id, or by address for a recipient who
//!   has an account but has not claimed the card yet), French otherwise.
//! - The gift email carries the card's code, decrypted from `gift_cards.code_ciphertext`
//!   at send time and kept nowhere else. A gift email whose card has since been passed on
//!   to someone else is skipped rather than sent with the new holder's code.
//! - A `booking_confirmed` email waits (without using up attempts) while the booking is
//!   only held, is skipped when the booking lapsed or was cancelled, and carries the
//!   booking as an iCalendar attachment once confirmed.
//! - Every message has `Message-ID: <event id>.<audience>@<domain>` and
//!   `X-Fimy-Event-Id`/`X-Fimy-Audience` headers: delivery is at least once and receivers
//!   deduplicate on them.
//! - SMTP replies map onto [`DeliveryError`]: 4xx, timeouts and network errors are
//!   retried; a permanent 5xx is `Gone`, except authentication failures (our
//!   configuration, not the mailbox), which are retried.

mod compose;
mod mailer;
pub mod templates;

pub use compose::addressee;
pub use mailer::Mailer;

use crate::clock::SharedClock;
use crate::notify::delivery::Attempt;
use entities::outbox;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use url::Url;

use compose::{Composed, compose};

/// The email channel: writes each row's email in its addressee's language and sends it
/// with the mailer.
pub struct EmailChannel {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    /// Where the emails' links point.
    pub public_url: Url,
    pub mailer: Arc<Mailer>,
    /// Decrypts the card's code for the gift email.
    pub secrets: crate::secrets::SecretKey,
}

#[async_trait::async_trait]
impl crate::notify::delivery::Channel for EmailChannel {
    fn kind(&self) -> actors::notice::Channel {
        actors::notice::Channel::Email
    }

    async fn deliver(&self, row: &outbox::Model) -> Attempt {
        deliver(self, row).await
    }
}

/// Delivers one outbox row of the `email` channel.
pub async fn deliver(state: &EmailChannel, row: &outbox::Model) -> Attempt {
    match compose(state, row).await {
        Ok(Composed::Ready(message)) => {
            let sent = state.mailer.send(*message, row.id, state.clock.now()).await;
            Attempt::Done(sent)
        }
        Ok(Composed::Defer(until)) => Attempt::Deferred(until),
        Ok(Composed::Skip(reason)) => Attempt::Skipped(reason),
        Err(e) => Attempt::Done(Err(e)),
    }
}
