//! sea-orm entities of Fimy: one module per table, nothing else.

pub mod card_event;
pub mod experience;
pub mod experience_tag;
pub mod gift_card;
pub mod idempotency_key;
pub mod ledger_entry;
pub mod meta;
pub mod outbox;
pub mod partner;
pub mod partner_staff;
pub mod payment;
pub mod session;
pub mod user;
pub mod webhook_event;
