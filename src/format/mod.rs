//! How the product writes things for people, in their language: amounts, dates, times,
//! party sizes and places. Emails, pages, calendar files and pushes all write through
//! here, so a figure reads the same wherever it appears.

pub mod ical;

use actors::Locale;
use chrono::{DateTime, Datelike, TimeZone, Timelike, Weekday};

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn weekday(lang: Locale, d: Weekday) -> &'static str {
    let (fr, en) = match d {
        Weekday::Mon => ("lundi", "Monday"),
        Weekday::Tue => ("mardi", "Tuesday"),
        Weekday::Wed => ("mercredi", "Wednesday"),
        Weekday::Thu => ("jeudi", "Thursday"),
        Weekday::Fri => ("vendredi", "Friday"),
        Weekday::Sat => ("samedi", "Saturday"),
        Weekday::Sun => ("dimanche", "Sunday"),
    };
    match lang {
        Locale::Fr => fr,
        Locale::En => en,
    }
}

/// A date: `1er décembre 2026` / `December 1, 2026`.
pub fn date<Tz: TimeZone>(lang: Locale, at: &DateTime<Tz>) -> String {
    let month = at.month0() as usize % 12;
    match lang {
        Locale::Fr => {
            let day = if at.day() == 1 {
                "1er".to_owned()
            } else {
                at.day().to_string()
            };
            format!("{day} {} {}", MONTHS_FR[month], at.year())
        }
        Locale::En => format!("{} {}, {}", MONTHS_EN[month], at.day(), at.year()),
    }
}

/// A date and time with the weekday: `samedi 28 novembre 2026 à 19 h 30` /
/// `Saturday, November 28, 2026 at 19:30`.
pub fn date_time<Tz: TimeZone>(lang: Locale, at: &DateTime<Tz>) -> String {
    let day = weekday(lang, at.weekday());
    match lang {
        Locale::Fr => format!(
            "{day} {} à {} h {:02}",
            date(lang, at),
            at.hour(),
            at.minute()
        ),
        Locale::En => format!(
            "{day}, {} at {}:{:02}",
            date(lang, at),
            at.hour(),
            at.minute()
        ),
    }
}

/// An amount: `1 234,50 €` / `€1,234.50` (other currencies by their code, or `$ CA`).
pub fn money(lang: Locale, amount_minor: i64, currency: &str) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let (units, cents) = (abs / 100, abs % 100);
    let digits = units.to_string();
    let sep = match lang {
        Locale::Fr => '\u{202f}',
        Locale::En => ',',
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(sep);
        }
        grouped.push(c);
    }
    match lang {
        Locale::Fr => {
            let symbol = match currency {
                "EUR" => "€",
                "CAD" => "$\u{a0}CA",
                "USD" => "$\u{a0}US",
                "GBP" => "£",
                other => other,
            };
            format!("{sign}{grouped},{cents:02}\u{a0}{symbol}")
        }
        Locale::En => match currency {
            "EUR" => format!("{sign}€{grouped}.{cents:02}"),
            "CAD" => format!("{sign}CA${grouped}.{cents:02}"),
            "USD" => format!("{sign}US${grouped}.{cents:02}"),
            "GBP" => format!("{sign}£{grouped}.{cents:02}"),
            other => format!("{sign}{other}\u{a0}{grouped}.{cents:02}"),
        },
    }
}

/// A party: `1 personne`, `3 personnes` / `1 person`, `3 people`.
pub fn people(lang: Locale, n: i32) -> String {
    match (lang, n) {
        (Locale::Fr, 1) => "1 personne".to_owned(),
        (Locale::Fr, n) => format!("{n} personnes"),
        (Locale::En, 1) => "1 person".to_owned(),
        (Locale::En, n) => format!("{n} people"),
    }
}

/// A venue's place for an address line: its name, street and city, those it has.
pub fn place(name: &str, address: &str, city: &str) -> String {
    [name, address, city]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn dates_and_money_read_naturally() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(19, 5, 0)
            .unwrap()
            .and_utc();
        assert_eq!(date(Locale::Fr, &at), "1er décembre 2026");
        assert_eq!(date(Locale::En, &at), "December 1, 2026");
        assert_eq!(
            date_time(Locale::Fr, &at),
            "mardi 1er décembre 2026 à 19 h 05"
        );
        assert_eq!(
            date_time(Locale::En, &at.with_timezone(&Utc)),
            "Tuesday, December 1, 2026 at 19:05"
        );
        assert_eq!(money(Locale::Fr, 123_450, "EUR"), "1\u{202f}234,50\u{a0}€");
        assert_eq!(money(Locale::En, 123_450, "EUR"), "€1,234.50");
        assert_eq!(money(Locale::En, 5, "CAD"), "CA$0.05");
        assert_eq!(
            money(Locale::Fr, 100_000_000, "CHF"),
            "1\u{202f}000\u{202f}000,00\u{a0}CHF"
        );
        assert_eq!(Locale::of("en"), Locale::En);
        assert_eq!(Locale::of("de"), Locale::Fr);
    }

    #[test]
    fn parties_and_places_read_naturally() {
        assert_eq!(people(Locale::Fr, 1), "1 personne");
        assert_eq!(people(Locale::Fr, 4), "4 personnes");
        assert_eq!(people(Locale::En, 1), "1 person");
        assert_eq!(people(Locale::En, 2), "2 people");
        assert_eq!(place("Chez Rémi", "", "Montréal"), "Chez Rémi, Montréal");
        assert_eq!(place("", "", ""), "");
    }
}
