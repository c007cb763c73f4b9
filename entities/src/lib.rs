//! sea-orm entities of Fimy: one module per table, nothing else.

pub mod booking;
pub mod booking_message;
pub mod calendar;
pub mod calendar_event;
pub mod card_attachment;
pub mod card_event;
pub mod experience;
pub mod experience_tag;
pub mod gift_card;
pub mod idempotency_key;
pub mod ledger_entry;
pub mod meta;
pub mod notification_preference;
pub mod outbox;
pub mod partner;
pub mod partner_staff;
pub mod payment;
pub mod photo;
pub mod push_subscription;
pub mod session;
pub mod slot;
pub mod slot_event;
pub mod user;
pub mod user_event;
pub mod validation;
pub mod webhook_event;
