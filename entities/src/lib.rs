//! sea-orm entities of Fimy: one module per table, nothing else.

pub mod experience;
pub mod experience_tag;
pub mod idempotency_key;
pub mod meta;
pub mod partner;
pub mod partner_staff;
pub mod session;
pub mod user;
