//! Gift-card codes: 80 random bits written as 16 Crockford base32 symbols plus a Crockford
//! check symbol, shown to people as `XXXX-XXXX-XXXX-XXXX-C`, and parsed back forgivingly
//! (any case, hyphens and spaces ignored, O read as 0, I and L read as 1) so that typos are
//! caught before any lookup.

use std::fmt;
use std::str::FromStr;

use rand::{CryptoRng, RngCore};

/// The 32 data symbols of Crockford base32 (no I, L, O, U).
const DATA_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The 37 check symbols: the data symbols followed by `*~$=U`.
const CHECK_ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// Number of data symbols in a code (16 × 5 bits = 80 bits).
const DATA_LEN: usize = 16;

/// Symbols per group in the human form.
const GROUP: usize = 4;

/// A gift-card code: 16 data symbols and 1 check symbol, upper case, without separators.
///
/// It is a secret (whoever holds it can spend the card), so `Debug` does not print it;
/// `Display` prints the grouped form meant for the holder.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardCode(String);

/// Why a typed code was refused, before any lookup. The messages are meant for the person
/// who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "this code has a typo: a gift-card code has 17 letters and digits, \
         like XXXX-XXXX-XXXX-XXXX-X"
    )]
    Length,
    #[error("this code has a typo: “{0}” does not appear in gift-card codes")]
    Character(char),
    #[error(
        "this code has a typo: a character is wrong or two are swapped; \
         please check it against the card"
    )]
    Checksum,
}

impl CardCode {
    /// A new random code: 80 bits from `rng`, which must be a cryptographic generator.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> CardCode {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes[6..]);
        let value = u128::from_be_bytes(bytes);
        Self::from_value(value)
    }

    /// Reads a code typed by a person: any case, hyphens and spaces ignored, O read as 0,
    /// I and L read as 1. Refuses unknown characters, a wrong length and a wrong check
    /// symbol.
    pub fn parse(input: &str) -> Result<CardCode, CodeError> {
        let mut symbols = Vec::with_capacity(DATA_LEN + 1);
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            // Any symbol of the check alphabet is accepted here; which position it may
            // stand in is checked once the length is known.
            let index = check_index(c).ok_or(CodeError::Character(c))?;
            symbols.push((c, index));
        }
        if symbols.len() != DATA_LEN + 1 {
            return Err(CodeError::Length);
        }
        let mut value: u128 = 0;
        for &(c, index) in &symbols[..DATA_LEN] {
            if index >= DATA_ALPHABET.len() {
                return Err(CodeError::Character(c));
            }
            value = (value << 5) | index as u128;
        }
        let (_, check) = symbols[DATA_LEN];
        if check != check_value(value) {
            return Err(CodeError::Checksum);
        }
        Ok(Self::from_value(value))
    }

    /// The 17 symbols without separators: the form to hash, encrypt or compare.
    pub fn as_normalized(&self) -> &str {
        &self.0
    }

    /// The code for an 80-bit value (higher bits are ignored).
    fn from_value(value: u128) -> CardCode {
        let mut code = String::with_capacity(DATA_LEN + 1);
        for i in (0..DATA_LEN).rev() {
            let index = ((value >> (5 * i)) & 31) as usize;
            code.push(char::from(DATA_ALPHABET[index]));
        }
        code.push(char::from(CHECK_ALPHABET[check_value(value)]));
        CardCode(code)
    }
}

/// The Crockford check value of `value`: its remainder modulo 37.
fn check_value(value: u128) -> usize {
    (value % 37) as usize
}

/// Where `c` (already upper case) stands in the check alphabet.
fn check_index(c: char) -> Option<usize> {
    if !c.is_ascii() {
        return None;
    }
    CHECK_ALPHABET.iter().position(|&s| char::from(s) == c)
}

impl fmt::Display for CardCode {
    /// The grouped form `XXXX-XXXX-XXXX-XXXX-C`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % GROUP == 0 {
                f.write_str("-")?;
            }
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for CardCode {
    /// Never the code itself: it is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardCode(****-****-****-****-*)")
    }
}

impl FromStr for CardCode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(0x000f_1a7e)
    }

    #[test]
    fn generated_codes_have_the_expected_shape() {
        let mut rng = rng();
        for _ in 0..100 {
            let code = CardCode::generate(&mut rng);
            let normalized = code.as_normalized();
            assert_eq!(normalized.len(), 17);
            assert!(normalized[..16].bytes().all(|b| DATA_ALPHABET.contains(&b)));
            assert!(CHECK_ALPHABET.contains(&normalized.as_bytes()[16]));
            let shown = code.to_string();
            assert_eq!(shown.len(), 21);
            let groups: Vec<&str> = shown.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [4, 4, 4, 4, 1]
            );
        }
    }

    #[test]
    fn round_trip_through_display() {
        let mut rng = rng();
        for _ in 0..1_000 {
            let code = CardCode::generate(&mut rng);
            assert_eq!(CardCode::parse(&code.to_string()), Ok(code.clone()));
            assert_eq!(CardCode::parse(code.as_normalized()), Ok(code));
        }
    }

    #[test]
    fn known_values() {
        let zero = CardCode::from_value(0);
        assert_eq!(zero.to_string(), "0000-0000-0000-0000-0");
        let one = CardCode::parse("0000-0000-0000-0001-1").unwrap();
        assert_eq!(one.as_normalized(), "00000000000000011");
        // 32 mod 37 = 32: the first of the extra check symbols.
        let thirty_two = CardCode::parse("0000-0000-0000-0010-*").unwrap();
        assert_eq!(thirty_two, CardCode::from_value(32));
        // 36 mod 37 = 36: the check symbol U, also accepted in lower case.
        assert_eq!(
            CardCode::parse("0000 0000 0000 0014 u")
                .unwrap()
                .to_string(),
            "0000-0000-0000-0014-U"
        );
        let max = CardCode::from_value((1u128 << 80) - 1);
        assert_eq!(&max.as_normalized()[..16], "ZZZZZZZZZZZZZZZZ");
        assert_eq!(CardCode::parse(&max.to_string()), Ok(max));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let mut rng = rng();
        for _ in 0..20 {
            let code = CardCode::generate(&mut rng);
            let original: Vec<u8> = code.as_normalized().bytes().collect();
            for position in 0..original.len() {
                for &symbol in CHECK_ALPHABET.iter() {
                    if symbol == original[position] {
                        continue;
                    }
                    let mut typo = original.clone();
                    typo[position] = symbol;
                    let typo = String::from_utf8(typo).unwrap();
                    let result = CardCode::parse(&typo);
                    assert!(result.is_err(), "{typo} was accepted");
                    if position < DATA_LEN && !DATA_ALPHABET.contains(&symbol) {
                        assert_eq!(result, Err(CodeError::Character(char::from(symbol))));
                    } else {
                        assert_eq!(result, Err(CodeError::Checksum), "{typo}");
                    }
                }
            }
        }
    }

    #[test]
    fn adjacent_transpositions_are_caught() {
        let mut rng = rng();
        for _ in 0..200 {
            let code = CardCode::generate(&mut rng);
            let original: Vec<u8> = code.as_normalized().bytes().collect();
            for position in 0..original.len() - 1 {
                if original[position] == original[position + 1] {
                    continue;
                }
                let mut typo = original.clone();
                typo.swap(position, position + 1);
                let typo = String::from_utf8(typo).unwrap();
                assert!(CardCode::parse(&typo).is_err(), "{typo} was accepted");
            }
        }
    }

    #[test]
    fn ambiguous_letters_and_lower_case_are_read_as_meant() {
        let value = u128::from_str_radix("0000000100001001", 32).unwrap();
        let code = CardCode::from_value(value);
        let normalized = code.as_normalized().to_owned();
        assert_eq!(&normalized[..16], "0000000100001001");
        let check = normalized[16..].to_lowercase();
        let typed = format!("oOoO-ooo1-Oo0o-iooL-{check}");
        assert_eq!(CardCode::parse(&typed), Ok(code.clone()));
        let typed = format!("0000000I0000L00l{check}");
        assert_eq!(CardCode::parse(&typed), Ok(code));

        let mut rng = rng();
        for _ in 0..100 {
            let code = CardCode::generate(&mut rng);
            let lower = code.to_string().to_lowercase();
            assert_eq!(CardCode::parse(&lower), Ok(code.clone()));
            let spaced = code.to_string().replace('-', " ");
            assert_eq!(CardCode::parse(&format!("  {spaced} ")), Ok(code));
        }
    }

    #[test]
    fn wrong_length_and_characters_are_refused() {
        let mut rng = rng();
        let code = CardCode::generate(&mut rng).to_string();
        assert_eq!(CardCode::parse(""), Err(CodeError::Length));
        assert_eq!(
            CardCode::parse(&code[..code.len() - 1]),
            Err(CodeError::Length)
        );
        assert_eq!(CardCode::parse(&format!("{code}0")), Err(CodeError::Length));
        assert_eq!(
            CardCode::parse("0000-0000-0000-0000"),
            Err(CodeError::Length)
        );
        assert_eq!(
            CardCode::parse("0000-0000-0000-000U-0"),
            Err(CodeError::Character('U'))
        );
        assert_eq!(
            CardCode::parse("0000-0000-0000-000*-0"),
            Err(CodeError::Character('*'))
        );
        assert_eq!(
            CardCode::parse("0000_0000_0000_0000_0"),
            Err(CodeError::Character('_'))
        );
        assert_eq!(
            CardCode::parse("0000-0000-0000-000é-0"),
            Err(CodeError::Character('é'))
        );
        assert_eq!(
            CardCode::parse("0000-0000-0000-0000-1"),
            Err(CodeError::Checksum)
        );
        assert!(
            CodeError::Checksum
                .to_string()
                .starts_with("this code has a typo: ")
        );
        assert!(
            CodeError::Length
                .to_string()
                .starts_with("this code has a typo: ")
        );
        assert!(
            CodeError::Character('#')
                .to_string()
                .starts_with("this code has a typo: ")
        );
    }

    #[test]
    fn debug_does_not_reveal_the_code() {
        let code = CardCode::generate(&mut rng());
        let debug = format!("{code:?}");
        assert!(!debug.contains(&code.as_normalized()[..4]));
        assert!(debug.starts_with("CardCode("));
        let shown = format!("{:?}", Some(&code));
        assert!(!shown.contains(code.as_normalized()));
    }

    #[test]
    fn ten_thousand_generated_codes_are_distinct() {
        let mut rng = rand::thread_rng();
        let codes: HashSet<String> = (0..10_000)
            .map(|_| CardCode::generate(&mut rng).as_normalized().to_owned())
            .collect();
        assert_eq!(codes.len(), 10_000);
    }
}
