//! Money: integer minor units with an ISO 4217 currency. Never floats.

use crate::InvalidValue;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency that the platform accepts, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "EUR")]
    Eur,
    #[serde(rename = "CAD")]
    Cad,
    #[serde(rename = "USD")]
    Usd,
    #[serde(rename = "GBP")]
    Gbp,
    #[serde(rename = "CHF")]
    Chf,
}

impl Currency {
    pub const ALL: [Currency; 5] = [Self::Eur, Self::Cad, Self::Usd, Self::Gbp, Self::Chf];

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == raw)
            .ok_or_else(|| {
                InvalidValue::new(
                    "currency",
                    format!("{raw:?} is not one of EUR, CAD, USD, GBP, CHF"),
                )
            })
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Eur => "EUR",
            Self::Cad => "CAD",
            Self::Usd => "USD",
            Self::Gbp => "GBP",
            Self::Chf => "CHF",
        }
    }

    /// The currency a venue in `country` (ISO 3166-1 alpha-2, any case) charges in, when
    /// the platform accepts it: what its till asks of a card.
    pub fn of_country(country: &str) -> Option<Self> {
        const EURO_AREA: [&str; 24] = [
            "AT", "BE", "HR", "CY", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU",
            "MT", "NL", "PT", "SK", "SI", "ES", "MC", "AD", "SM", "VA",
        ];
        let country = country.trim().to_ascii_uppercase();
        match country.as_str() {
            "CA" => Some(Self::Cad),
            "US" => Some(Self::Usd),
            "GB" => Some(Self::Gbp),
            "CH" | "LI" => Some(Self::Chf),
            c if EURO_AREA.contains(&c) => Some(Self::Eur),
            _ => None,
        }
    }

    /// Digits after the decimal point (all accepted currencies use 2).
    pub fn minor_digits(self) -> u32 {
        2
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// A price: strictly positive, at most 1,000,000.00.
    pub fn price(amount_minor: i64, currency: Currency) -> Result<Self, InvalidValue> {
        if !(1..=100_000_000).contains(&amount_minor) {
            return Err(InvalidValue::new(
                "price_minor",
                "must be between 1 and 100000000 minor units",
            ));
        }
        Ok(Self::new(amount_minor, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10i64.pow(self.currency.minor_digits());
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        let scale = scale.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:02} {}",
            abs / scale,
            abs % scale,
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venue_charges_in_its_countrys_currency() {
        assert_eq!(Currency::of_country("CA"), Some(Currency::Cad));
        assert_eq!(Currency::of_country("fr"), Some(Currency::Eur));
        assert_eq!(Currency::of_country("CH"), Some(Currency::Chf));
        assert_eq!(Currency::of_country("JP"), None);
    }

    #[test]
    fn currencies_parse_by_iso_code_only() {
        assert_eq!(Currency::parse("EUR").unwrap(), Currency::Eur);
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn money_displays_minor_units_exactly() {
        assert_eq!(Money::new(12_345, Currency::Cad).to_string(), "123.45 CAD");
        assert_eq!(Money::new(-5, Currency::Eur).to_string(), "-0.05 EUR");
    }

    #[test]
    fn prices_must_be_positive_and_bounded() {
        assert!(Money::price(0, Currency::Eur).is_err());
        assert!(Money::price(100_000_001, Currency::Eur).is_err());
        assert!(Money::price(4_500, Currency::Eur).is_ok());
    }
}
