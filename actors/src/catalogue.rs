//! The catalogue's vocabulary (categories, occasions, seasons, with French and English
//! labels that make them searchable in both languages), distance on the globe, and the
//! text folding shared by indexing and querying.

use crate::InvalidValue;

/// A slug with its labels: `(slug, fr, en)`.
pub type Term = (&'static str, &'static str, &'static str);

pub const CATEGORIES: &[Term] = &[
    (
        "restaurant",
        "restaurant gastronomie repas",
        "restaurant dining meal",
    ),
    ("spa", "spa bien-être massage", "spa wellness massage"),
    ("hotel", "hôtel séjour nuit", "hotel stay night"),
    (
        "activity",
        "activité loisir atelier",
        "activity leisure workshop",
    ),
    ("shop", "boutique commerce", "shop store"),
];

pub const OCCASIONS: &[Term] = &[
    ("birthday", "anniversaire", "birthday"),
    ("anniversary", "anniversaire de couple", "anniversary"),
    ("wedding", "mariage", "wedding"),
    ("christmas", "noël fêtes", "christmas holidays"),
    (
        "valentines",
        "saint-valentin amoureux",
        "valentine's day romantic",
    ),
    ("mothers_day", "fête des mères", "mother's day"),
    ("fathers_day", "fête des pères", "father's day"),
    ("graduation", "diplôme remise", "graduation"),
    ("retirement", "retraite", "retirement"),
    ("thank_you", "merci remerciement", "thank you"),
    ("corporate", "entreprise équipe", "corporate team"),
];

pub const SEASONS: &[Term] = &[
    ("winter", "hiver", "winter"),
    ("spring", "printemps", "spring"),
    ("summer", "été", "summer"),
    ("autumn", "automne", "autumn fall"),
    ("all_year", "toute l'année", "all year"),
];

fn check(field: &'static str, vocab: &[Term], raw: &str) -> Result<&'static str, InvalidValue> {
    vocab
        .iter()
        .find(|(slug, _, _)| *slug == raw)
        .map(|(slug, _, _)| *slug)
        .ok_or_else(|| {
            let known: Vec<&str> = vocab.iter().map(|(s, _, _)| *s).collect();
            InvalidValue::new(field, format!("{raw:?} is not one of {}", known.join(", ")))
        })
}

pub fn category(raw: &str) -> Result<&'static str, InvalidValue> {
    check("category", CATEGORIES, raw)
}

pub fn occasion(raw: &str) -> Result<&'static str, InvalidValue> {
    check("occasion", OCCASIONS, raw)
}

pub fn season(raw: &str) -> Result<&'static str, InvalidValue> {
    check("season", SEASONS, raw)
}

/// The searchable labels of a slug (both languages), or the slug itself if unknown.
pub fn labels(slug: &str) -> String {
    CATEGORIES
        .iter()
        .chain(OCCASIONS)
        .chain(SEASONS)
        .find(|(s, _, _)| *s == slug)
        .map(|(_, fr, en)| format!("{fr} {en}"))
        .unwrap_or_else(|| slug.replace('_', " "))
}

/// A point on Earth in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

const EARTH_RADIUS_KM: f64 = 6371.0088;

impl GeoPoint {
    pub fn parse(lat: f64, lon: f64) -> Result<Self, InvalidValue> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(InvalidValue::new("lat", "must be between -90 and 90"));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(InvalidValue::new("lon", "must be between -180 and 180"));
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance (haversine).
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = (other.lat - self.lat).to_radians();
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    /// A latitude/longitude box containing every point within `radius_km` (a cheap
    /// pre-filter for an index; the exact test is [`GeoPoint::distance_km`]).
    /// Returns `(min_lat, max_lat, min_lon, max_lon)`; longitude spans the whole globe
    /// near the poles or across the antimeridian.
    pub fn bounding_box(self, radius_km: f64) -> (f64, f64, f64, f64) {
        let dlat = (radius_km / EARTH_RADIUS_KM).to_degrees();
        let min_lat = (self.lat - dlat).max(-90.0);
        let max_lat = (self.lat + dlat).min(90.0);
        let cos = self.lat.to_radians().cos();
        if cos < 1e-6 || max_lat >= 90.0 || min_lat <= -90.0 {
            return (min_lat, max_lat, -180.0, 180.0);
        }
        let dlon = (radius_km / (EARTH_RADIUS_KM * cos)).to_degrees();
        if self.lon - dlon < -180.0 || self.lon + dlon > 180.0 {
            return (min_lat, max_lat, -180.0, 180.0);
        }
        (min_lat, max_lat, self.lon - dlon, self.lon + dlon)
    }
}

/// Lower-cases and strips the accents of Latin letters, so "Crème Brûlée" and
/// "creme brulee" index and match alike on every database.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' | 'ć' | 'č' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' | 'ń' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            other => out.push(other),
        }
    }
    out
}

/// The words of a search query, folded, at most `max` of them. Anything that is not a
/// letter or digit separates words, so no query syntax reaches the database.
pub fn query_terms(query: &str, max: usize) -> Vec<String> {
    fold(query)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(max)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn montreal_to_paris_is_about_5500_km() {
        let mtl = GeoPoint::parse(45.5019, -73.5674).unwrap();
        let paris = GeoPoint::parse(48.8566, 2.3522).unwrap();
        let d = mtl.distance_km(paris);
        assert!((5500.0..5530.0).contains(&d), "{d}");
        assert_eq!(mtl.distance_km(mtl), 0.0);
    }

    #[test]
    fn the_bounding_box_contains_the_circle() {
        let p = GeoPoint::parse(45.5, -73.5).unwrap();
        let (a, b, c, d) = p.bounding_box(10.0);
        for (lat, lon) in [(a, p.lon()), (b, p.lon()), (p.lat(), c), (p.lat(), d)] {
            let edge = GeoPoint::parse(lat, lon).unwrap();
            assert!(p.distance_km(edge) >= 9.99);
        }
        assert_eq!(
            GeoPoint::parse(89.99, 0.0).unwrap().bounding_box(50.0).2,
            -180.0
        );
        assert_eq!(
            GeoPoint::parse(0.0, 179.99).unwrap().bounding_box(50.0).3,
            180.0
        );
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert!(GeoPoint::parse(91.0, 0.0).is_err());
        assert!(GeoPoint::parse(0.0, -181.0).is_err());
        assert!(GeoPoint::parse(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn folding_strips_accents_and_query_terms_drop_syntax() {
        assert_eq!(fold("Crème Brûlée à l'Érable"), "creme brulee a l'erable");
        assert_eq!(
            query_terms("spa \"OR\" NEAR(x) -- ;drop*", 8),
            vec!["spa", "or", "near", "x", "drop"]
        );
        assert_eq!(query_terms("a b c", 2).len(), 2);
    }

    #[test]
    fn vocabulary_is_checked_and_labelled_in_both_languages() {
        assert_eq!(category("spa").unwrap(), "spa");
        assert!(category("casino").is_err());
        assert!(labels("birthday").contains("anniversaire"));
        assert!(occasion("christmas").is_ok() && season("winter").is_ok());
    }
}
