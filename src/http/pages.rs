//! Server-rendered pages: what a link in an email opens, readable without JavaScript.
//!
//! - `GET /experiences`: the catalogue search (a plain GET form, results, next-page links);
//! - `GET /experiences/{id}`: one experience;
//! - `GET /gift?code=…`: who the gift is from and an "Open my gift" button. A GET never
//!   opens the card (mail scanners follow links); the button posts to
//! - `POST /gift/open`: opens the card through the same code as `POST /api/v1/cards/open`
//!   (same code-lookup limiter) and shows the reveal.
//!
//! The pages call the catalogue's and the cards' Rust functions, not the HTTP API. French or
//! English: `?lang=` (remembered in the `fimy_lang` cookie), else that cookie, else
//! `Accept-Language`. Every value put into the HTML goes through [`escape`]. When
//! JavaScript runs, `/gift` is taken over by `web/fimy.js` as before (it carries the same
//! `data-page` and `#app` as the app's other pages).

use crate::auth::principal::client_ip;
use crate::auth::{CSRF_COOKIE, MaybePrincipal, SESSION_COOKIE};
use crate::error::{ApiError, ErrorCode};
use crate::format;
use crate::http::attachments::OpenedCard;
use crate::http::catalogue::{ExperienceView, SearchParams};
use crate::http::webapp::{CSP, LANG_COOKIE};
use crate::notify::email::templates::escape;
use crate::state::{AppState, State};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actors::Locale;
use actors::catalogue::GeoPoint;
use actors::giftcard::{CardKind, GiftCard, Status};
use entities::{experience, partner, user};
use sea_orm::{EntityTrait, QuerySelect};
use std::collections::BTreeMap;
use std::fmt::Write;
use uuid::Uuid;

/// Longest form body accepted by `POST /gift/open`.
const MAX_FORM_BYTES: usize = 4096;
/// Most partners read to list the cities of the "near" filter.
const MAX_PARTNERS_FOR_CITIES: u64 = 5000;
/// Search radii offered, km.
const RADII: &[u32] = &[5, 10, 25, 50, 100, 500];
const DEFAULT_RADIUS_KM: u32 = 25;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/experiences", web::get().to(catalogue_page))
        .route("/experiences/{id}", web::get().to(experience_page))
        .route("/gift", web::get().to(gift_page))
        .route("/gift/open", web::post().to(open_gift));
}

// ---------------------------------------------------------------- language

/// The best of French and English in an `Accept-Language` header (by `q`, then by order).
fn from_accept_language(header: &str) -> Option<Locale> {
    let mut best: Option<(f32, Locale)> = None;
    for part in header.split(',').take(32) {
        let mut bits = part.split(';');
        let Some(lang) = bits.next().and_then(Locale::from_tag) else {
            continue;
        };
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// The page's language, and whether it was just chosen with `?lang=` (to remember).
fn negotiate(query: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> (Locale, bool) {
    if let Some(l) = query.and_then(Locale::from_tag) {
        return (l, true);
    }
    let l = cookie
        .and_then(Locale::from_tag)
        .or_else(|| accept.and_then(from_accept_language))
        .unwrap_or(Locale::Fr);
    (l, false)
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .take(64)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The language of this request, with `extra` standing for a `lang` form field.
fn request_lang(req: &HttpRequest, extra: Option<&str>) -> (Locale, bool) {
    let pairs = query_pairs(req);
    let cookie = req.cookie(LANG_COOKIE);
    negotiate(
        extra.or_else(|| first(&pairs, "lang")),
        cookie.as_ref().map(|c| c.value()),
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn other(lang: Locale) -> Locale {
    match lang {
        Locale::Fr => Locale::En,
        Locale::En => Locale::Fr,
    }
}

/// French or English text.
fn tr<'a>(lang: Locale, fr: &'a str, en: &'a str) -> &'a str {
    match lang {
        Locale::Fr => fr,
        Locale::En => en,
    }
}

/// `path?pairs` with each pair encoded.
fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

// ---------------------------------------------------------------- labels

/// Display names of the catalogue's vocabulary: (slug, French, English).
const CATEGORY_NAMES: &[(&str, &str, &str)] = &[
    ("restaurant", "Restaurant", "Restaurant"),
    ("spa", "Spa & bien-être", "Spa & wellness"),
    ("hotel", "Hôtel", "Hotel"),
    ("activity", "Activité", "Activity"),
    ("shop", "Boutique", "Shop"),
];
const OCCASION_NAMES: &[(&str, &str, &str)] = &[
    ("birthday", "Anniversaire", "Birthday"),
    ("anniversary", "Anniversaire de couple", "Anniversary"),
    ("wedding", "Mariage", "Wedding"),
    ("christmas", "Noël", "Christmas"),
    ("valentines", "Saint-Valentin", "Valentine’s Day"),
    ("mothers_day", "Fête des mères", "Mother’s Day"),
    ("fathers_day", "Fête des pères", "Father’s Day"),
    ("graduation", "Diplôme", "Graduation"),
    ("retirement", "Retraite", "Retirement"),
    ("thank_you", "Remerciement", "Thank you"),
    ("corporate", "Entreprise", "Corporate"),
];
const SEASON_NAMES: &[(&str, &str, &str)] = &[
    ("winter", "Hiver", "Winter"),
    ("spring", "Printemps", "Spring"),
    ("summer", "Été", "Summer"),
    ("autumn", "Automne", "Autumn"),
    ("all_year", "Toute l’année", "All year"),
];
const THEME_NAMES: &[(&str, &str, &str)] = &[
    ("classic", "Classique", "Classic"),
    ("birthday", "Anniversaire", "Birthday"),
    ("love", "Amour", "Love"),
    ("thank_you", "Merci", "Thank you"),
    ("christmas", "Noël", "Christmas"),
    ("celebration", "Fête", "Celebration"),
    ("zen", "Zen", "Zen"),
    ("adventure", "Aventure", "Adventure"),
];
const SORTS: &[(&str, &str, &str)] = &[
    ("", "Pertinence ou nouveautés", "Relevance or newest"),
    ("price_asc", "Prix croissant", "Price: low to high"),
    ("price_desc", "Prix décroissant", "Price: high to low"),
    ("distance", "Distance", "Distance"),
    ("newest", "Nouveautés", "Newest"),
];
const CURRENCIES: &[&str] = &["EUR", "CAD", "USD", "GBP", "CHF"];

fn name_of<'a>(table: &[(&str, &'a str, &'a str)], slug: &'a str, lang: Locale) -> &'a str {
    table
        .iter()
        .find(|(s, _, _)| *s == slug)
        .map_or(slug, |(_, fr, en)| match lang {
            Locale::Fr => fr,
            Locale::En => en,
        })
}

fn duration(lang: Locale, minutes: i32) -> String {
    if minutes <= 0 {
        return String::new();
    }
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} {}", tr(lang, "j", "d")));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 {
        parts.push(format!("{mins} min"));
    }
    parts.join(" ")
}

/// Photo URLs an experience may show: on this host (`/…`) or https, as strings or
/// `{url, alt}` objects.
fn photos(value: &serde_json::Value) -> Vec<(String, Option<String>)> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .take(12)
        .filter_map(|p| {
            let (url, alt) = match p {
                serde_json::Value::String(s) => (s.as_str(), None),
                serde_json::Value::Object(o) => (
                    o.get("url")?.as_str()?,
                    o.get("alt").and_then(|a| a.as_str()).map(str::to_owned),
                ),
                _ => return None,
            };
            let ok = url.starts_with("https://")
                || (url.starts_with('/') && !url.starts_with("//") && !url.contains('\\'));
            ok.then(|| (url.to_owned(), alt))
        })
        .collect()
}

// ---------------------------------------------------------------- layout

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Catalogue,
    Gift,
}

struct Layout {
    lang: Locale,
    status: StatusCode,
    title: String,
    nav: Nav,
    /// The same page in the other language.
    switch_href: String,
    /// Leave the page to `web/fimy.js` when JavaScript runs (`/gift`).
    app: bool,
    /// Remember the language (it was chosen with `?lang=`).
    set_lang: bool,
    /// The page shows a card's code or message: never cached.
    private: bool,
    retry_after: Option<u64>,
    /// The app's first view (`webapp::first_view`), when `app`.
    first: crate::http::webapp::FirstView,
}

fn render(l: Layout, main: &str) -> HttpResponse {
    let lang = l.lang;
    let nav_link = |href: &str, key: &str, fr: &'static str, en: &'static str, here: bool| {
        format!(
            "<a href=\"{href}\" data-t=\"{key}\"{}>{}</a>",
            if here { " aria-current=\"page\"" } else { "" },
            tr(lang, fr, en)
        )
    };
    let nav = [
        nav_link(
            "/experiences",
            "nav_catalogue",
            "Catalogue",
            "Catalogue",
            l.nav == Nav::Catalogue,
        ),
        nav_link(
            "/wallet",
            "nav_wallet",
            "Mes cadeaux offerts",
            "Gifts I gave",
            false,
        ),
        nav_link(
            "/gift",
            "nav_gift",
            "J’ai reçu un cadeau",
            "I received a gift",
            l.nav == Nav::Gift,
        ),
    ]
    .concat();
    let to = other(lang);
    let (head_script, body_attrs, app_bits) = if l.app {
        (
            "\n  <script type=\"module\" src=\"/fimy.js\"></script>",
            " data-page=\"gift\"",
            "\n        <span id=\"live-status\" class=\"live-status\" role=\"status\"></span>",
        )
    } else {
        ("", "", "")
    };
    let html = format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} — Fimy</title>
  <meta name="theme-color" content="#0f5e54">
  <link rel="manifest" href="/manifest.webmanifest">
  <link rel="icon" href="/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app.css">{head_script}{boot}
</head>
<body{body_attrs}>
  <a class="skip-link" href="#main" data-t="skip">{skip}</a>
  <header class="site-header">
    <div class="container header-inner">
      <a class="brand" href="/">Fimy</a>
      <nav class="app-nav" aria-label="Fimy">
        {nav}
        <a id="lang-switch" class="link" href="{switch}" lang="{to}" hreflang="{to}">{switch_label}</a>{app_bits}
      </nav>
      <div id="account" class="account">{account}</div>
    </div>
  </header>
  <main id="main" class="container">
{main}
  </main>
  <footer class="site-footer">
    <div class="container">
      <ul class="footer-links">
        <li><a href="/api/docs">{api_docs}</a></li>
      </ul>
      <p class="muted">© Fimy</p>
    </div>
  </footer>
</body>
</html>
"##,
        lang = lang.as_str(),
        title = escape(&l.title),
        skip = tr(lang, "Aller au contenu", "Skip to content"),
        switch = escape(&l.switch_href),
        to = to.as_str(),
        switch_label = tr(lang, "English", "Français"),
        api_docs = tr(lang, "Documentation de l’API", "API documentation"),
        boot = if l.app { l.first.boot.as_str() } else { "" },
        account = if l.app { l.first.account.as_str() } else { "" },
    );
    let mut res = HttpResponse::build(l.status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .insert_header((header::VARY, "Accept-Language, Cookie"));
    if l.private {
        res.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    if let Some(secs) = l.retry_after {
        res.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    if l.set_lang {
        res.cookie(
            Cookie::build(LANG_COOKIE, lang.as_str())
                .path("/")
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(365))
                .finish(),
        );
    }
    res.body(html)
}

/// The current URL with `lang` set to the other language.
fn switch_href(req: &HttpRequest, lang: Locale) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(req)
        .into_iter()
        .filter(|(k, _)| k != "lang")
        .collect();
    pairs.push(("lang".into(), other(lang).as_str().into()));
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    link(req.path(), &borrowed)
}

/// A problem in plain words, as an alert box.
fn alert(title: &str, detail: &str) -> String {
    format!(
        "<div class=\"problem\" role=\"alert\"><p><strong>{}</strong></p><p>{}</p></div>",
        escape(title),
        escape(detail)
    )
}

// ---------------------------------------------------------------- catalogue

/// The cities partners are in, with the middle of their venues: what "near" offers.
async fn cities(state: &AppState) -> Result<Vec<(String, GeoPoint)>, ApiError> {
    let rows = partner::Entity::find()
        .limit(MAX_PARTNERS_FOR_CITIES)
        .all(&state.db)
        .await?;
    let mut sums: BTreeMap<String, (f64, f64, u32)> = BTreeMap::new();
    for p in rows {
        let e = sums
            .entry(p.city.trim().to_owned())
            .or_insert((0.0, 0.0, 0));
        e.0 += p.latitude;
        e.1 += p.longitude;
        e.2 += 1;
    }
    Ok(sums
        .into_iter()
        .filter(|(city, _)| !city.is_empty())
        .filter_map(|(city, (lat, lon, n))| {
            GeoPoint::parse(lat / f64::from(n), lon / f64::from(n))
                .ok()
                .map(|p| (city, p))
        })
        .collect())
}

/// A price typed in units ("80", "80,50") as minor units.
fn price_minor(raw: &str) -> Result<Option<i64>, ()> {
    let raw = raw.trim().replace(',', ".");
    if raw.is_empty() {
        return Ok(None);
    }
    let v: f64 = raw.parse().map_err(|_| ())?;
    if !v.is_finite() || !(0.0..=10_000_000.0).contains(&v) {
        return Err(());
    }
    Ok(Some((v * 100.0).round() as i64))
}

fn non_empty(pairs: &[(String, String)], name: &str) -> Option<String> {
    first(pairs, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The form's fields as the search API's parameters, or the field in error and why.
fn search_params(
    pairs: &[(String, String)],
    cities: &[(String, GeoPoint)],
    lang: Locale,
) -> Result<SearchParams, (&'static str, &'static str)> {
    let bad_price = (
        "price",
        tr(
            lang,
            "Entrez un prix en nombre, par exemple 80.",
            "Enter the price as a number, e.g. 80.",
        ),
    );
    let min_price = price_minor(first(pairs, "min_price").unwrap_or("")).map_err(|_| bad_price)?;
    let max_price = price_minor(first(pairs, "max_price").unwrap_or("")).map_err(|_| bad_price)?;
    let near = match non_empty(pairs, "near") {
        None => None,
        Some(city) => Some(
            cities
                .iter()
                .find(|(c, _)| *c == city)
                .map(|(_, p)| *p)
                .ok_or((
                    "near",
                    tr(
                        lang,
                        "Choisissez une ville de la liste.",
                        "Choose a city from the list.",
                    ),
                ))?,
        ),
    };
    let radius = match non_empty(pairs, "radius_km") {
        None => DEFAULT_RADIUS_KM,
        Some(r) => r.parse::<u32>().ok().filter(|r| RADII.contains(r)).ok_or((
            "radius_km",
            tr(
                lang,
                "Choisissez une distance de la liste.",
                "Choose a distance from the list.",
            ),
        ))?,
    };
    let q = non_empty(pairs, "q");
    let sort = match non_empty(pairs, "sort").as_deref() {
        None => None,
        // The form's default: the API picks relevance, distance or newest.
        Some("distance") if near.is_none() => None,
        Some("relevance") if q.is_none() => None,
        Some(s) => Some(
            serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
                (
                    "sort",
                    tr(
                        lang,
                        "Choisissez un tri de la liste.",
                        "Choose an order from the list.",
                    ),
                )
            })?,
        ),
    };
    let limit = match non_empty(pairs, "limit") {
        None => None,
        Some(l) => Some(l.parse::<u64>().map_err(|_| {
            (
                "limit",
                tr(
                    lang,
                    "Le nombre de résultats par page va de 1 à 100.",
                    "Results per page go from 1 to 100.",
                ),
            )
        })?),
    };
    Ok(SearchParams {
        q,
        limit,
        category: non_empty(pairs, "category"),
        min_price,
        max_price,
        currency: non_empty(pairs, "currency"),
        lat: near.map(GeoPoint::lat),
        lon: near.map(GeoPoint::lon),
        radius_km: near.map(|_| f64::from(radius)),
        occasion: non_empty(pairs, "occasion"),
        season: non_empty(pairs, "season"),
        sort,
        cursor: non_empty(pairs, "cursor"),
        ..SearchParams::default()
    })
}

fn select(
    id: &str,
    label: &str,
    all: &str,
    options: &[(String, String)],
    chosen: Option<&str>,
) -> String {
    let mut out = format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{id}\">",
        escape(label)
    );
    if !all.is_empty() {
        let _ = write!(out, "<option value=\"\">{}</option>", escape(all));
    }
    for (value, text) in options {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}</option>",
            escape(value),
            if chosen == Some(value.as_str()) {
                " selected"
            } else {
                ""
            },
            escape(text)
        );
    }
    out.push_str("</select></div>");
    out
}

fn vocab_options(table: &[(&str, &str, &str)], lang: Locale) -> Vec<(String, String)> {
    table
        .iter()
        .map(|(slug, fr, en)| ((*slug).to_owned(), tr(lang, fr, en).to_owned()))
        .collect()
}

fn search_form(pairs: &[(String, String)], cities: &[(String, GeoPoint)], lang: Locale) -> String {
    let v = |name: &str| first(pairs, name).unwrap_or("");
    let all = tr(lang, "Toutes", "All");
    let mut out = format!(
        "<section class=\"panel\" aria-labelledby=\"search-title\">\
         <h2 id=\"search-title\">{}</h2>\
         <form class=\"search-form\" role=\"search\" method=\"get\" action=\"/experiences\">\
         <div class=\"field field-wide\"><label for=\"q\">{}</label>\
         <input id=\"q\" name=\"q\" type=\"search\" maxlength=\"200\" value=\"{}\"></div>",
        tr(lang, "Rechercher une expérience", "Find an experience"),
        tr(lang, "Mots-clés", "Keywords"),
        escape(v("q")),
    );
    out.push_str(&select(
        "category",
        tr(lang, "Catégorie", "Category"),
        all,
        &vocab_options(CATEGORY_NAMES, lang),
        first(pairs, "category"),
    ));
    out.push_str(&select(
        "occasion",
        "Occasion",
        all,
        &vocab_options(OCCASION_NAMES, lang),
        first(pairs, "occasion"),
    ));
    out.push_str(&select(
        "season",
        tr(lang, "Saison", "Season"),
        all,
        &vocab_options(SEASON_NAMES, lang),
        first(pairs, "season"),
    ));
    for (name, fr, en) in [
        ("min_price", "Prix min.", "Min. price"),
        ("max_price", "Prix max.", "Max. price"),
    ] {
        let _ = write!(
            out,
            "<div class=\"field\"><label for=\"{name}\">{}</label>\
             <input id=\"{name}\" name=\"{name}\" type=\"text\" inputmode=\"decimal\" \
             maxlength=\"12\" value=\"{}\"></div>",
            tr(lang, fr, en),
            escape(v(name))
        );
    }
    out.push_str(&select(
        "currency",
        tr(lang, "Devise", "Currency"),
        tr(lang, "Toutes", "Any"),
        &CURRENCIES
            .iter()
            .map(|c| ((*c).to_owned(), (*c).to_owned()))
            .collect::<Vec<_>>(),
        first(pairs, "currency"),
    ));
    out.push_str(&select(
        "near",
        tr(lang, "Près de", "Near"),
        tr(lang, "Partout", "Anywhere"),
        &cities
            .iter()
            .map(|(c, _)| (c.clone(), c.clone()))
            .collect::<Vec<_>>(),
        first(pairs, "near"),
    ));
    let radius = non_empty(pairs, "radius_km").unwrap_or_else(|| DEFAULT_RADIUS_KM.to_string());
    out.push_str(&select(
        "radius_km",
        tr(lang, "Dans un rayon de", "Within"),
        "",
        &RADII
            .iter()
            .map(|r| (r.to_string(), format!("{r} km")))
            .collect::<Vec<_>>(),
        Some(&radius),
    ));
    out.push_str(&select(
        "sort",
        tr(lang, "Trier par", "Sort by"),
        "",
        &vocab_options(SORTS, lang),
        first(pairs, "sort"),
    ));
    let _ = write!(
        out,
        "<div class=\"form-actions\"><button type=\"submit\" class=\"btn\">{}</button>\
         <a class=\"btn btn-secondary\" href=\"/experiences\">{}</a></div></form></section>",
        tr(lang, "Rechercher", "Search"),
        tr(lang, "Effacer", "Clear"),
    );
    out
}

fn result_card(x: &ExperienceView, lang: Locale) -> String {
    let mut out = format!(
        "<li class=\"card\"><article aria-labelledby=\"exp-{id}\">",
        id = x.id
    );
    if let Some((url, alt)) = photos(&x.photos).into_iter().next() {
        let _ = write!(
            out,
            "<img class=\"card-photo\" src=\"{}\" alt=\"{}\" loading=\"lazy\" decoding=\"async\">",
            escape(&url),
            escape(alt.as_deref().unwrap_or(""))
        );
    }
    let _ = write!(
        out,
        "<div class=\"card-body\"><p class=\"card-category\">{}</p>\
         <h3 id=\"exp-{}\"><a href=\"/experiences/{}\">{}</a></h3>\
         <p class=\"card-partner\">{} · {}</p>",
        escape(name_of(CATEGORY_NAMES, &x.category, lang)),
        x.id,
        x.id,
        escape(&x.title),
        escape(&x.partner.name),
        escape(&x.partner.city),
    );
    if let Some(km) = x.distance_km {
        let _ = write!(
            out,
            "<p class=\"muted\">{}</p>",
            match lang {
                Locale::Fr => format!("à {} km", format!("{km:.1}").replace('.', ",")),
                Locale::En => format!("{km:.1} km away"),
            }
        );
    }
    let _ = write!(
        out,
        "<p class=\"card-description\">{}</p><dl class=\"card-facts\">\
         <dt>{}</dt><dd class=\"card-price\">{}</dd>",
        escape(&x.description),
        tr(lang, "Prix", "Price"),
        escape(&format::money(lang, x.price_minor, &x.currency)),
    );
    let d = duration(lang, x.duration_minutes);
    if !d.is_empty() {
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            tr(lang, "Durée", "Duration"),
            d
        );
    }
    out.push_str("</dl>");
    if !x.occasions.is_empty() {
        out.push_str("<ul class=\"tags\" aria-label=\"Occasions\">");
        for o in &x.occasions {
            let _ = write!(out, "<li>{}</li>", escape(name_of(OCCASION_NAMES, o, lang)));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div></article></li>");
    out
}

async fn catalogue_page(state: State, req: HttpRequest) -> HttpResponse {
    let (lang, set_lang) = request_lang(&req, None);
    let pairs = query_pairs(&req);
    let layout = |status| Layout {
        lang,
        status,
        title: tr(lang, "Catalogue des expériences", "Experience catalogue").to_owned(),
        nav: Nav::Catalogue,
        switch_href: switch_href(&req, lang),
        app: false,
        set_lang,
        private: false,
        retry_after: None,
        first: Default::default(),
    };
    let cities = match cities(&state).await {
        Ok(c) => c,
        Err(e) => return failure(layout, lang, &e),
    };
    let mut main = format!(
        "<h1>{}</h1><p class=\"lead\">{}</p>",
        tr(lang, "Catalogue des expériences", "Experience catalogue"),
        tr(
            lang,
            "Offrez un repas, un massage, une nuit à l’hôtel ou un atelier.",
            "Give a meal, a massage, a night away or a workshop.",
        ),
    );
    main.push_str(&search_form(&pairs, &cities, lang));
    let result = match search_params(&pairs, &cities, lang) {
        Err((_, why)) => Err((
            tr(lang, "Recherche impossible", "Cannot search"),
            why.to_owned(),
        )),
        Ok(params) => crate::http::catalogue::search_page(&state, params)
            .await
            .map_err(|e| {
                (
                    tr(lang, "Recherche impossible", "Cannot search"),
                    search_problem(lang, &e),
                )
            }),
    };
    let _ = write!(
        main,
        "<section aria-labelledby=\"results-title\"><h2 id=\"results-title\">{}</h2>",
        tr(lang, "Résultats", "Results")
    );
    let status = match result {
        Err((title, why)) => {
            main.push_str(&alert(title, &why));
            StatusCode::BAD_REQUEST
        }
        Ok(page) => {
            let n = page.items.len();
            let _ = write!(
                main,
                "<p class=\"status\" id=\"results-count\">{}</p>",
                match (n, lang) {
                    (0, _) => tr(
                        lang,
                        "Aucune expérience ne correspond.",
                        "No experience matches."
                    )
                    .to_owned(),
                    (1, Locale::Fr) => "1 expérience sur cette page.".to_owned(),
                    (1, Locale::En) => "1 experience on this page.".to_owned(),
                    (n, Locale::Fr) => format!("{n} expériences sur cette page."),
                    (n, Locale::En) => format!("{n} experiences on this page."),
                }
            );
            if n > 0 {
                main.push_str("<ul class=\"results\">");
                for x in &page.items {
                    main.push_str(&result_card(x, lang));
                }
                main.push_str("</ul>");
            }
            let kept: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|(k, v)| k != "cursor" && k != "lang" && !v.is_empty())
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut links = Vec::new();
            if first(&pairs, "cursor").is_some_and(|c| !c.is_empty()) {
                links.push(format!(
                    "<a href=\"{}\">{}</a>",
                    escape(&link("/experiences", &kept)),
                    tr(lang, "← Première page", "← First page")
                ));
            }
            if let Some(next) = &page.next_cursor {
                let mut with = kept.clone();
                with.push(("cursor", next));
                links.push(format!(
                    "<a href=\"{}\" rel=\"next\">{}</a>",
                    escape(&link("/experiences", &with)),
                    tr(lang, "Page suivante →", "Next page →")
                ));
            }
            if !links.is_empty() {
                let _ = write!(
                    main,
                    "<nav class=\"pager\" aria-label=\"{}\">{}</nav>",
                    tr(lang, "Pages de résultats", "Result pages"),
                    links.join(" ")
                );
            }
            StatusCode::OK
        }
    };
    main.push_str("</section>");
    render(layout(status), &main)
}

/// A search the API refused, in plain words.
fn search_problem(lang: Locale, e: &ApiError) -> String {
    match (e.code, e.field.as_deref()) {
        (ErrorCode::InvalidCursor, _) => tr(
            lang,
            "Ce lien de page n’est plus valable : recommencez depuis la première page.",
            "This page link no longer works: start again from the first page.",
        )
        .to_owned(),
        (ErrorCode::InvalidQuery, Some("q")) => tr(
            lang,
            "Les mots-clés sont trop longs (200 caractères au plus).",
            "The keywords are too long (200 characters at most).",
        )
        .to_owned(),
        (ErrorCode::InvalidQuery, Some("min_price")) => tr(
            lang,
            "Le prix minimum dépasse le prix maximum.",
            "The minimum price is above the maximum price.",
        )
        .to_owned(),
        (ErrorCode::InvalidQuery, Some("limit")) => tr(
            lang,
            "Le nombre de résultats par page va de 1 à 100.",
            "Results per page go from 1 to 100.",
        )
        .to_owned(),
        (ErrorCode::InvalidQuery, Some("sort")) => tr(
            lang,
            "Le tri par pertinence demande des mots-clés.",
            "Sorting by relevance needs keywords.",
        )
        .to_owned(),
        (ErrorCode::InvalidQuery, _) => tr(
            lang,
            "Un des filtres n’est pas dans la liste proposée.",
            "One of the filters is not in the list offered.",
        )
        .to_owned(),
        _ => tr(
            lang,
            "Le catalogue ne répond pas pour l’instant ; réessayez dans un moment.",
            "The catalogue is not answering right now; try again in a moment.",
        )
        .to_owned(),
    }
}

/// A page for a failure that is not the visitor's (the database is down…).
fn failure(layout: impl FnOnce(StatusCode) -> Layout, lang: Locale, e: &ApiError) -> HttpResponse {
    let status = e.code.status();
    if status.is_server_error() {
        tracing::warn!(error = %e.detail, cause = ?e.cause, "page failed");
    }
    let l = Layout {
        retry_after: e.retry_after,
        ..layout(if status.is_server_error() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            status
        })
    };
    let main = format!(
        "<h1>{}</h1>{}",
        tr(lang, "Page indisponible", "Page unavailable"),
        alert(
            tr(lang, "Un problème de notre côté", "A problem on our side"),
            tr(
                lang,
                "Réessayez dans un moment.",
                "Please try again in a moment."
            ),
        )
    );
    render(l, &main)
}

// ---------------------------------------------------------------- experience

async fn experience_page(state: State, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let (lang, set_lang) = request_lang(&req, None);
    let layout = |status, title: String| Layout {
        lang,
        status,
        title,
        nav: Nav::Catalogue,
        switch_href: switch_href(&req, lang),
        app: false,
        set_lang,
        private: false,
        retry_after: None,
        first: Default::default(),
    };
    // Staff see their own unpublished experiences, as with the API; a session that ended is
    // simply a visitor here.
    let who = MaybePrincipal::extract(&req).await.ok().and_then(|m| m.0);
    let found = match Uuid::parse_str(id.trim()) {
        Err(_) => Err(ApiError::not_found("experience")),
        Ok(id) => crate::http::catalogue::experience_view(&state, who.as_ref(), id).await,
    };
    let x = match found {
        Ok(x) => x,
        Err(e) if e.code == ErrorCode::NotFound => {
            let main = format!(
                "<h1>{}</h1>{}<p><a href=\"/experiences\">{}</a></p>",
                tr(lang, "Expérience introuvable", "Experience not found"),
                alert(
                    tr(lang, "Introuvable", "Not found"),
                    tr(
                        lang,
                        "Cette expérience n’existe pas ou n’est plus proposée.",
                        "This experience does not exist or is no longer offered.",
                    ),
                ),
                tr(lang, "Voir tout le catalogue", "See the whole catalogue"),
            );
            let title = tr(lang, "Expérience introuvable", "Experience not found").to_owned();
            return render(layout(StatusCode::NOT_FOUND, title), &main);
        }
        Err(e) => return failure(|s| layout(s, "Fimy".to_owned()), lang, &e),
    };
    let venue = match partner::Entity::find_by_id(x.partner.id)
        .one(&state.db)
        .await
    {
        Ok(v) => v,
        Err(e) => return failure(|s| layout(s, x.title.clone()), lang, &e.into()),
    };
    let mut main = format!(
        "<article class=\"experience\" aria-labelledby=\"exp-title\">\
         <p class=\"card-category\">{}</p><h1 id=\"exp-title\">{}</h1>\
         <p class=\"card-partner\">{} · {}</p>",
        escape(name_of(CATEGORY_NAMES, &x.category, lang)),
        escape(&x.title),
        escape(&x.partner.name),
        escape(&x.partner.city),
    );
    let pics = photos(&x.photos);
    if !pics.is_empty() {
        let _ = write!(
            main,
            "<ul class=\"photos\" aria-label=\"{}\">",
            tr(lang, "Photos", "Photos")
        );
        for (i, (url, alt)) in pics.iter().enumerate() {
            let alt = alt.clone().unwrap_or_else(|| {
                format!("{} — {} {}", x.title, tr(lang, "photo", "photo"), i + 1)
            });
            let _ = write!(
                main,
                "<li><img src=\"{}\" alt=\"{}\" loading=\"lazy\" decoding=\"async\"></li>",
                escape(url),
                escape(&alt)
            );
        }
        main.push_str("</ul>");
    }
    let _ = write!(
        main,
        "<p class=\"lead\">{}</p><dl class=\"card-facts\">\
         <dt>{}</dt><dd class=\"card-price\">{} <span class=\"muted\">{}</span></dd>",
        escape(&x.description),
        tr(lang, "Prix", "Price"),
        escape(&format::money(lang, x.price_minor, &x.currency)),
        tr(lang, "par personne", "per person"),
    );
    let d = duration(lang, x.duration_minutes);
    if !d.is_empty() {
        let _ = write!(
            main,
            "<dt>{}</dt><dd>{}</dd>",
            tr(lang, "Durée", "Duration"),
            d
        );
    }
    if x.capacity > 0 {
        let _ = write!(
            main,
            "<dt>{}</dt><dd>{}</dd>",
            tr(lang, "Jusqu’à", "Up to"),
            match lang {
                Locale::Fr => format!("{} personne(s)", x.capacity),
                Locale::En => format!("{} people", x.capacity),
            }
        );
    }
    let place = match &venue {
        Some(p) => format!("{}, {}, {} {}", p.name, p.address, p.city, p.country),
        None => format!("{}, {}", x.partner.name, x.partner.city),
    };
    let _ = write!(
        main,
        "<dt>{}</dt><dd>{}</dd>",
        tr(lang, "Lieu", "Location"),
        escape(place.trim_end())
    );
    for (label, tags, table) in [
        (
            tr(lang, "Occasions", "Occasions"),
            &x.occasions,
            OCCASION_NAMES,
        ),
        (tr(lang, "Saisons", "Seasons"), &x.seasons, SEASON_NAMES),
    ] {
        if !tags.is_empty() {
            let names: Vec<String> = tags
                .iter()
                .map(|t| escape(name_of(table, t, lang)))
                .collect();
            let _ = write!(main, "<dt>{label}</dt><dd>{}</dd>", names.join(", "));
        }
    }
    main.push_str("</dl>");
    let _ = write!(
        main,
        "<h2>{}</h2><p>{}</p>",
        tr(lang, "Conditions", "Conditions"),
        if x.conditions.trim().is_empty() {
            escape(tr(
                lang,
                "Aucune condition particulière.",
                "No special conditions.",
            ))
        } else {
            escape(&x.conditions)
        }
    );
    if let Some(p) = &venue
        && !p.description.trim().is_empty()
    {
        let _ = write!(
            main,
            "<h2>{}</h2><p>{}</p>",
            escape(&p.name),
            escape(&p.description)
        );
    }
    let _ = write!(
        main,
        "<p class=\"form-actions\"><a class=\"btn\" href=\"/wallet?experience={}\">{}</a>\
         <a href=\"/experiences\">{}</a></p></article>",
        x.id,
        tr(lang, "Offrir cette expérience", "Give this experience"),
        tr(lang, "Retour au catalogue", "Back to the catalogue"),
    );
    let title = x.title.clone();
    render(layout(StatusCode::OK, title), &main)
}

// ---------------------------------------------------------------- gift

/// What a code lookup or an opening that failed means, in plain words, with its status.
fn code_problem(lang: Locale, e: &ApiError) -> (StatusCode, &'static str, String) {
    match e.code {
        ErrorCode::InvalidCode => (
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(lang, "Ce code n’est pas valide", "This code is not valid"),
            tr(
                lang,
                "Vérifiez les lettres : le code a la forme XXXX-XXXX-XXXX-XXXX-X, il est dans l’e-mail du cadeau.",
                "Check the letters: the code looks like XXXX-XXXX-XXXX-XXXX-X and is in the gift’s email.",
            )
            .to_owned(),
        ),
        ErrorCode::NotFound => (
            StatusCode::NOT_FOUND,
            tr(lang, "Aucun cadeau avec ce code", "No gift with this code"),
            tr(
                lang,
                "Ce code n’est pas reconnu. S’il vient d’un e-mail, il a peut-être été remplacé quand le cadeau a été transmis.",
                "This code is not recognised. If it comes from an email, it may have been replaced when the gift was passed on.",
            )
            .to_owned(),
        ),
        ErrorCode::RateLimited => {
            let mins = e.retry_after.unwrap_or(60).div_ceil(60);
            (
                StatusCode::TOO_MANY_REQUESTS,
                tr(lang, "Trop d’essais", "Too many tries"),
                match lang {
                    Locale::Fr => format!(
                        "Trop de codes essayés depuis votre connexion. Réessayez dans {mins} min."
                    ),
                    Locale::En => format!(
                        "Too many codes tried from your connection. Try again in {mins} min."
                    ),
                },
            )
        }
        ErrorCode::CardStateConflict => (
            StatusCode::CONFLICT,
            tr(lang, "Ce cadeau n’est pas encore prêt", "This gift is not ready yet"),
            tr(
                lang,
                "Le paiement de ce cadeau n’est pas terminé. Réessayez plus tard.",
                "The payment for this gift is not complete. Try again later.",
            )
            .to_owned(),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            tr(lang, "Un problème de notre côté", "A problem on our side"),
            tr(
                lang,
                "Votre cadeau n’est pas perdu : réessayez dans un moment.",
                "Your gift is not lost: try again in a moment.",
            )
            .to_owned(),
        ),
    }
}

fn code_form(lang: Locale, code: &str) -> String {
    format!(
        "<form class=\"panel\" method=\"get\" action=\"/gift\" aria-labelledby=\"code-title\">\
         <h2 id=\"code-title\">{}</h2>\
         <div class=\"field\"><label for=\"code\">{}</label>\
         <input id=\"code\" name=\"code\" required autocomplete=\"off\" spellcheck=\"false\" \
         maxlength=\"64\" aria-describedby=\"code-help\" value=\"{}\"></div>\
         <p id=\"code-help\" class=\"muted small\">{}</p>\
         <button type=\"submit\" class=\"btn\">{}</button></form>",
        tr(
            lang,
            "Entrez le code de votre cadeau",
            "Enter your gift’s code"
        ),
        tr(lang, "Code du cadeau", "Gift code"),
        escape(code),
        tr(
            lang,
            "Il est dans l’e-mail du cadeau, sous la forme XXXX-XXXX-XXXX-XXXX-X.",
            "It is in the gift’s email, in the form XXXX-XXXX-XXXX-XXXX-X.",
        ),
        tr(lang, "Voir mon cadeau", "See my gift"),
    )
}

/// The giver's first name, as the recipient knows them; none once the card was passed on
/// (the person who passed it is not the one who gave it).
async fn donor_first_name(state: &AppState, card: &GiftCard) -> Result<Option<String>, ApiError> {
    if card.code_version > 1 {
        return Ok(None);
    }
    Ok(user::Entity::find_by_id(card.purchaser_id)
        .one(&state.db)
        .await?
        .and_then(|u| u.display_name.split_whitespace().next().map(str::to_owned)))
}

fn gift_layout(lang: Locale, status: StatusCode, switch_href: String, set_lang: bool) -> Layout {
    Layout {
        lang,
        status,
        title: tr(lang, "J’ai reçu un cadeau", "I received a gift").to_owned(),
        nav: Nav::Gift,
        switch_href,
        app: true,
        set_lang,
        private: true,
        retry_after: None,
        first: Default::default(),
    }
}

/// The page around the gift's content: the heading and the `#app` the app's script takes
/// over when it runs.
fn gift_main(lang: Locale, inner: &str) -> String {
    format!(
        "<h1 data-t=\"nav_gift\">{}</h1>\
         <p id=\"notice\" role=\"status\" aria-live=\"polite\"></p>\
         <div id=\"app\">{inner}</div>",
        tr(lang, "J’ai reçu un cadeau", "I received a gift")
    )
}

async fn gift_page(state: State, req: HttpRequest) -> HttpResponse {
    let (lang, set_lang) = request_lang(&req, None);
    let pairs = query_pairs(&req);
    let switch = switch_href(&req, lang);
    let first = crate::http::webapp::first_view(&state, &req, "gift").await;
    let Some(code) = non_empty(&pairs, "code") else {
        let l = Layout {
            first,
            ..gift_layout(lang, StatusCode::OK, switch, set_lang)
        };
        return render(l, &gift_main(lang, &code_form(lang, "")));
    };
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let found = crate::app::giftcards::find_by_code(
        &state,
        &code,
        crate::app::giftcards::Lookup::Anonymous { client_ip: &ip },
    )
    .await
    .and_then(|row| crate::store::cards::decode(&row).map_err(ApiError::internal));
    let card = match found {
        Ok(c) => c,
        Err(e) => return code_error(lang, switch, set_lang, &code, &e),
    };
    let from = match donor_first_name(&state, &card).await {
        Ok(f) => f,
        Err(e) => return code_error(lang, switch, set_lang, &code, &e),
    };
    let heading = match (&from, lang) {
        (Some(f), Locale::Fr) => format!("{f} vous offre un cadeau"),
        (Some(f), Locale::En) => format!("{f} has sent you a gift"),
        (None, _) => tr(lang, "Un cadeau vous attend", "A gift is waiting for you").to_owned(),
    };
    let mut inner = format!(
        "<section class=\"panel gift-preview\" aria-labelledby=\"preview-title\">\
         <h2 id=\"preview-title\">{}</h2><p>{}</p>",
        escape(&heading),
        escape(&match lang {
            Locale::Fr => format!("Pour {}.", card.recipient.name),
            Locale::En => format!("For {}.", card.recipient.name),
        }),
    );
    if card.status == Status::PendingPayment {
        let (_, title, why) = code_problem(
            lang,
            &ApiError::new(ErrorCode::CardStateConflict, "pending payment"),
        );
        inner.push_str(&alert(title, &why));
        inner.push_str("</section>");
        let l = Layout {
            first,
            ..gift_layout(lang, StatusCode::CONFLICT, switch, set_lang)
        };
        return render(l, &gift_main(lang, &inner));
    }
    let csrf = req
        .cookie(SESSION_COOKIE)
        .and(req.cookie(CSRF_COOKIE))
        .map(|c| {
            format!(
                "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
                escape(c.value())
            )
        })
        .unwrap_or_default();
    let _ = write!(
        inner,
        "<p>{}</p><form method=\"post\" action=\"/gift/open\">\
         <input type=\"hidden\" name=\"code\" value=\"{}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">{csrf}\
         <button type=\"submit\" class=\"btn\" id=\"open-gift\">{}</button></form></section>",
        tr(
            lang,
            "Ouvrez-le quand vous voulez : il s’ouvre quand vous appuyez sur le bouton.",
            "Open it whenever you like: it opens when you press the button.",
        ),
        escape(&code),
        lang.as_str(),
        tr(lang, "Ouvrir mon cadeau", "Open my gift"),
    );
    let l = Layout {
        first,
        ..gift_layout(lang, StatusCode::OK, switch, set_lang)
    };
    render(l, &gift_main(lang, &inner))
}

fn code_error(
    lang: Locale,
    switch: String,
    set_lang: bool,
    code: &str,
    e: &ApiError,
) -> HttpResponse {
    let (status, title, why) = code_problem(lang, e);
    if status.is_server_error() {
        tracing::warn!(error = %e.detail, cause = ?e.cause, "gift page failed");
    }
    let l = Layout {
        retry_after: e.retry_after,
        ..gift_layout(lang, status, switch, set_lang)
    };
    let inner = format!("{}{}", alert(title, &why), code_form(lang, code));
    render(l, &gift_main(lang, &inner))
}

/// `POST /gift/open`: opens the card (as `POST /api/v1/cards/open` does) and shows it.
async fn open_gift(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let fields: Vec<(String, String)> = if body.len() > MAX_FORM_BYTES {
        Vec::new()
    } else {
        url::form_urlencoded::parse(&body)
            .take(16)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let (lang, set_lang) = request_lang(&req, first(&fields, "lang"));
    let code = non_empty(&fields, "code").unwrap_or_default();
    let switch = link("/gift", &[("code", &code), ("lang", other(lang).as_str())]);
    if code.is_empty() {
        let e = ApiError::new(ErrorCode::InvalidCode, "no code");
        return code_error(
            lang,
            link("/gift", &[("lang", other(lang).as_str())]),
            set_lang,
            "",
            &e,
        );
    }
    let viewer = viewer(&state, &req, first(&fields, "csrf")).await;
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let opened = crate::http::cards::open_with_code(&state, &ip, viewer, &code).await;
    let opened = match opened {
        Ok(o) => o,
        Err(e) => return code_error(lang, switch, set_lang, &code, &e),
    };
    match reveal(&state, lang, &code, &opened).await {
        Ok(inner) => {
            let mut l = gift_layout(lang, StatusCode::OK, switch, set_lang);
            // The reveal is the page itself: the app's script would replace it.
            l.app = false;
            render(l, &gift_main(lang, &inner))
        }
        Err(e) => code_error(lang, switch, set_lang, &code, &e),
    }
}

/// Who is signed in, for a form post: only with the session cookie and the CSRF token the
/// page put in the form (a form cannot send the API's CSRF header). Anyone else opens the
/// card as a visitor with its code.
async fn viewer(state: &AppState, req: &HttpRequest, csrf: Option<&str>) -> Option<Uuid> {
    let session = req.cookie(SESSION_COOKIE)?;
    let expected = req.cookie(CSRF_COOKIE)?;
    let sent = csrf?;
    if sent.is_empty()
        || !crate::auth::constant_time_eq(sent.as_bytes(), expected.value().as_bytes())
    {
        return None;
    }
    crate::auth::session::resolve(&state.db, session.value(), state.clock.now())
        .await
        .ok()
        .flatten()
        .map(|found| found.user.id)
}

/// The opened card: the giver's message, what it is worth, until when, its conditions,
/// its theme and attachments, and where to go next.
async fn reveal(
    state: &AppState,
    lang: Locale,
    code: &str,
    opened: &OpenedCard,
) -> Result<String, ApiError> {
    let card = &opened.card;
    let full = crate::store::cards::decode(
        &entities::gift_card::Entity::find_by_id(card.id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("card"))?,
    )
    .map_err(ApiError::internal)?;
    let from = donor_first_name(state, &full).await?;
    let theme = card.theme.as_str();
    let mut out = format!(
        "<section class=\"panel reveal gift-card\" data-theme=\"{}\" aria-labelledby=\"reveal-title\">\
         <p class=\"gift-theme\">{} {}</p><h2 id=\"reveal-title\">{}</h2>",
        escape(theme),
        tr(lang, "Thème", "Theme"),
        escape(name_of(THEME_NAMES, theme, lang)),
        escape(&match lang {
            Locale::Fr => format!("Pour {}", card.recipient_name),
            Locale::En => format!("For {}", card.recipient_name),
        }),
    );
    if let Some(f) = &from {
        let _ = write!(
            out,
            "<p>{}</p>",
            escape(&match lang {
                Locale::Fr => format!("De la part de {f}"),
                Locale::En => format!("From {f}"),
            })
        );
    }
    if let Some(m) = card.message.as_deref().filter(|m| !m.trim().is_empty()) {
        let _ = write!(
            out,
            "<blockquote class=\"gift-message\"><p>{}</p></blockquote>",
            escape(m).replace('\n', "<br>")
        );
    }
    out.push_str("<dl class=\"card-facts\">");
    let mut conditions = tr(
        lang,
        "À utiliser en une ou plusieurs fois chez les partenaires Fimy qui acceptent cette devise, avant la fin de validité.",
        "Use it in one go or several at Fimy partners that take this currency, before it runs out.",
    )
    .to_owned();
    let mut experience_id = None;
    match &full.kind {
        CardKind::Experience {
            experience_id: eid,
            party_size,
            ..
        } => {
            experience_id = Some(*eid);
            let exp = experience::Entity::find_by_id(*eid).one(&state.db).await?;
            let venue = match &exp {
                Some(e) => partner::Entity::find_by_id(e.partner_id)
                    .one(&state.db)
                    .await?
                    .map(|p| p.name),
                None => None,
            };
            if let Some(e) = &exp {
                conditions = e.conditions.clone();
            }
            let what = match (&exp, &venue, lang) {
                (Some(e), Some(v), Locale::Fr) => format!("{} chez {v}", e.title),
                (Some(e), Some(v), Locale::En) => format!("{} at {v}", e.title),
                (Some(e), None, _) => e.title.clone(),
                (None, _, _) => tr(lang, "Une expérience", "An experience").to_owned(),
            };
            let _ = write!(
                out,
                "<dt>{}</dt><dd><a href=\"/experiences/{eid}\">{}</a></dd><dt>{}</dt><dd>{}</dd>",
                tr(lang, "Votre cadeau", "Your gift"),
                escape(&what),
                tr(lang, "Pour", "For"),
                match lang {
                    Locale::Fr => format!("{party_size} personne(s)"),
                    Locale::En => format!("{party_size} people"),
                }
            );
        }
        CardKind::Value { .. } => {
            let _ = write!(
                out,
                "<dt>{}</dt><dd class=\"card-price\">{}</dd>",
                tr(lang, "Valeur", "Value"),
                escape(&format::money(lang, card.face_value_minor, &card.currency)),
            );
            if let Some(a) = card.available_minor
                && a != card.face_value_minor
            {
                let _ = write!(
                    out,
                    "<dt>{}</dt><dd>{}</dd>",
                    tr(lang, "Solde", "Balance"),
                    escape(&format::money(lang, a, &card.currency)),
                );
            }
        }
    }
    let _ = write!(
        out,
        "<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd></dl>",
        tr(lang, "Valable jusqu’au", "Valid until"),
        escape(&format::date(lang, &card.expires_at)),
        tr(lang, "Code", "Code"),
        escape(code),
    );
    let note = match full.status {
        Status::Used => Some(tr(
            lang,
            "Ce cadeau a été utilisé.",
            "This gift has been used.",
        )),
        Status::Expired => Some(tr(lang, "Ce cadeau a expiré.", "This gift has expired.")),
        Status::Refunded => Some(tr(
            lang,
            "Ce cadeau a été remboursé à la personne qui l’a offert.",
            "This gift was refunded to the person who gave it.",
        )),
        Status::Blocked => Some(tr(
            lang,
            "Ce cadeau est suspendu pour le moment ; contactez-nous.",
            "This gift is on hold for now; please contact us.",
        )),
        _ => None,
    };
    if let Some(n) = note {
        let _ = write!(out, "<p class=\"problem\" role=\"status\">{n}</p>");
    }
    let _ = write!(
        out,
        "<h3>{}</h3><p>{}</p>",
        tr(lang, "Conditions", "Conditions"),
        escape(&conditions)
    );
    if !opened.attachments.is_empty() {
        let _ = write!(
            out,
            "<h3>{}</h3><ul class=\"attachments\">",
            tr(lang, "Joint au cadeau", "Attached to the gift")
        );
        for (i, a) in opened.attachments.iter().enumerate() {
            let n = i + 1;
            let url = escape(&a.url);
            let label = match (a.kind.as_str(), lang) {
                ("photo", Locale::Fr) => format!("Photo {n}"),
                ("photo", Locale::En) => format!("Photo {n}"),
                ("video", Locale::Fr) => format!("Vidéo {n}"),
                ("video", Locale::En) => format!("Video {n}"),
                (_, Locale::Fr) => format!("Message vocal {n}"),
                (_, Locale::En) => format!("Voice message {n}"),
            };
            let media = match a.kind.as_str() {
                "photo" => format!("<img src=\"{url}\" alt=\"{label}\">"),
                "video" => format!(
                    "<video controls preload=\"metadata\" src=\"{url}\" aria-label=\"{label}\"></video>"
                ),
                _ => format!(
                    "<audio controls preload=\"none\" src=\"{url}\" aria-label=\"{label}\"></audio>"
                ),
            };
            let _ = write!(
                out,
                "<li><figure>{media}<figcaption><a href=\"{url}\">{label}</a></figcaption></figure></li>"
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    let claim = link("/gift", &[("code", code)]);
    let _ = write!(
        out,
        "<section class=\"panel\" aria-labelledby=\"next-title\"><h2 id=\"next-title\">{}</h2><ul>\
         <li><a href=\"{}\">{}</a> <span class=\"muted small\">{}</span></li>",
        tr(lang, "Et maintenant ?", "What next?"),
        escape(&claim),
        tr(
            lang,
            "Garder ce cadeau dans mon compte et réserver",
            "Keep this gift in my account and book"
        ),
        tr(
            lang,
            "(dans l’application, qui a besoin de JavaScript)",
            "(in the app, which needs JavaScript)"
        ),
    );
    match experience_id {
        Some(eid) => {
            let _ = write!(
                out,
                "<li><a href=\"/experiences/{eid}\">{}</a></li>",
                tr(lang, "Voir l’expérience", "See the experience")
            );
        }
        None => {
            let _ = write!(
                out,
                "<li><a href=\"/experiences\">{}</a></li>",
                tr(
                    lang,
                    "Choisir où l’utiliser dans le catalogue",
                    "Choose where to use it in the catalogue"
                )
            );
        }
    }
    out.push_str("</ul></section>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_query_then_the_cookie_then_the_browser() {
        assert_eq!(
            negotiate(Some("en"), Some("fr"), Some("fr")),
            (Locale::En, true)
        );
        assert_eq!(negotiate(Some("de"), Some("en"), None), (Locale::En, false));
        assert_eq!(
            negotiate(None, None, Some("de-DE,en;q=0.5,fr;q=0.4")).0,
            Locale::En
        );
        assert_eq!(
            negotiate(None, None, Some("en-GB;q=0.3, fr-CA")).0,
            Locale::Fr
        );
        assert_eq!(negotiate(None, None, Some("en;q=0")).0, Locale::Fr);
        assert_eq!(negotiate(None, None, None).0, Locale::Fr);
        assert_eq!(negotiate(None, None, Some("garbage;;q=x,,")).0, Locale::Fr);
    }

    #[test]
    fn every_catalogue_term_has_a_name_in_both_languages() {
        use actors::catalogue::{CATEGORIES, OCCASIONS, SEASONS};
        for (vocab, names) in [
            (CATEGORIES, CATEGORY_NAMES),
            (OCCASIONS, OCCASION_NAMES),
            (SEASONS, SEASON_NAMES),
        ] {
            for (slug, _, _) in vocab {
                assert!(names.iter().any(|(s, _, _)| s == slug), "{slug}");
            }
        }
        for theme in crate::http::cards::THEMES {
            assert!(THEME_NAMES.iter().any(|(s, _, _)| s == theme), "{theme}");
        }
    }

    #[test]
    fn prices_are_typed_in_units() {
        assert_eq!(price_minor(""), Ok(None));
        assert_eq!(price_minor("80"), Ok(Some(8000)));
        assert_eq!(price_minor(" 12,5 "), Ok(Some(1250)));
        assert!(price_minor("-1").is_err());
        assert!(price_minor("abc").is_err());
        assert!(price_minor("NaN").is_err());
    }

    #[test]
    fn photos_only_from_this_host_or_https() {
        let v = serde_json::json!([
            "/static/a.jpg",
            "//evil.example/b.jpg",
            "http://plain.example/c.jpg",
            {"url": "https://cdn.example/d.jpg", "alt": "D"},
            "javascript:alert(1)",
            42
        ]);
        let got = photos(&v);
        assert_eq!(
            got,
            vec![
                ("/static/a.jpg".to_owned(), None),
                ("https://cdn.example/d.jpg".to_owned(), Some("D".to_owned()))
            ]
        );
    }

    #[test]
    fn links_encode_their_values() {
        assert_eq!(
            link("/gift", &[("code", "AB&CD <x>"), ("lang", "en")]),
            "/gift?code=AB%26CD+%3Cx%3E&lang=en"
        );
        assert_eq!(escape("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Locale::Fr, 90), "1 h 30 min");
        assert_eq!(duration(Locale::En, 1440 + 60), "1 d 1 h");
        assert_eq!(duration(Locale::En, 0), "");
    }
}
