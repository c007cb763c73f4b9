//! Domain types and rules of Fimy: plain values and pure functions, with no web
//! framework, database driver or network client in sight.
//!
//! Values that come from outside (emails, passwords, money, roles) are newtypes with a
//! private field, built only through `parse`, so the rest of the code never handles an
//! unchecked string.

pub mod account;
pub mod booking;
pub mod catalogue;
pub mod clock;
pub mod code;
pub mod giftcard;
pub mod money;
pub mod notice;
pub mod runtime;
pub mod text;

pub use account::{AccountKind, DisplayName, Email, Locale, Password, StaffRole};
pub use money::{Currency, Money};
pub use text::MessageText;

/// Why a value from outside was refused. The message is meant for the person who sent
/// it; `field` names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub message: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
