//! Account values: who someone is (email, display name, language) and what they may do
//! (account kind, role at a partner).

use crate::InvalidValue;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalized (trimmed, lower-cased) email address with a plausible shape.
///
/// Deliverability is not checked here; that is what the delivery email is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        let bad = |m: &str| Err(InvalidValue::new("email", m));
        if email.is_empty() {
            return bad("is required");
        }
        if email.len() > Self::MAX_LEN {
            return bad("is longer than 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return bad("must contain an @");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("has an empty or too long part before the @");
        }
        if domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return bad("has an invalid domain");
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
            || domain.contains('@')
        {
            return bad("contains characters that are not allowed");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed at registration. Length is the rule (NIST SP 800-63B): at least
/// 10 characters, at most 128 so that hashing cost stays bounded.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(InvalidValue::new(
                "password",
                format!("must have at least {} characters", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                "password",
                format!("must have at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A name shown to others: 1 to 80 characters once trimmed, no control, format or
/// invisible character ([`crate::text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        let n = name.chars().count();
        if n == 0 || n > 80 {
            return Err(InvalidValue::new(
                "display_name",
                "must have between 1 and 80 characters",
            ));
        }
        crate::text::check("display_name", name, false)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages the product speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Fr,
    En,
}

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "fr" => Ok(Self::Fr),
            "en" => Ok(Self::En),
            _ => Err(InvalidValue::new("locale", "must be \"fr\" or \"en\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    /// A language tag (`fr`, `en-CA`, `EN_us`, a cookie's or a query's value) as the
    /// language we speak that it names, if any.
    pub fn from_tag(raw: &str) -> Option<Self> {
        let primary = raw.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// A stored locale, read leniently: what does not name English is French, the
    /// default.
    pub fn of(stored: &str) -> Self {
        Self::from_tag(stored).unwrap_or_default()
    }
}

/// What kind of account this is. Donor and recipient are the same kind (`Customer`):
/// one person gives some cards and receives others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Customer,
    /// Staff of one partner; the role at that partner is a [`StaffRole`].
    PartnerStaff,
    Admin,
}

impl AccountKind {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "customer" => Ok(Self::Customer),
            "partner_staff" => Ok(Self::PartnerStaff),
            "admin" => Ok(Self::Admin),
            _ => Err(InvalidValue::new(
                "kind",
                format!("unknown account kind {raw:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::PartnerStaff => "partner_staff",
            Self::Admin => "admin",
        }
    }
}

/// A staff member's role at their partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Manages the venue: profile, experiences, staff, tablets.
    Owner,
    /// Works the calendar and validates cards.
    Staff,
    /// A device at the venue: sees the calendar and validates cards, nothing else.
    Tablet,
}

impl StaffRole {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "owner" => Ok(Self::Owner),
            "staff" => Ok(Self::Staff),
            "tablet" => Ok(Self::Tablet),
            _ => Err(InvalidValue::new(
                "role",
                format!("unknown staff role {raw:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Staff => "staff",
            Self::Tablet => "tablet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_tag_names_one_of_our_two_languages_or_none() {
        assert_eq!(Locale::from_tag("en-CA"), Some(Locale::En));
        assert_eq!(Locale::from_tag(" FR_ca "), Some(Locale::Fr));
        assert_eq!(Locale::from_tag("de"), None);
        assert_eq!(Locale::from_tag(""), None);
        assert_eq!(Locale::of("en"), Locale::En);
        assert_eq!(Locale::of("EN"), Locale::En);
        assert_eq!(Locale::of("de"), Locale::Fr);
        assert_eq!(
            Locale::parse("en-CA").ok(),
            None,
            "what is stored is strict"
        );
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b",
            "a@.com",
            "a b@c.com",
            "a@c..com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn passwords_need_ten_to_128_characters() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("exactly10!").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("supersecret123").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn roles_and_kinds_round_trip() {
        for r in [StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet] {
            assert_eq!(StaffRole::parse(r.as_str()).unwrap(), r);
        }
        for k in [
            AccountKind::Customer,
            AccountKind::PartnerStaff,
            AccountKind::Admin,
        ] {
            assert_eq!(AccountKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(StaffRole::parse("manager").is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Zoé ").unwrap().as_str(), "Zoé");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(81)).is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert!(DisplayName::parse("Zo\u{202E}é").is_err());
        assert!(DisplayName::parse("Zo\u{200B}é").is_err());
    }
}
