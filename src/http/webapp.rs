//! The web app's pages, served by the binary itself: one HTML shell per page (the donor's
//! wallet, the recipient's gift, the partner's tablet) and the ES module that drives them
//! (`web/fimy.js`). No build step, nothing from another host.

use crate::auth::{MaybePrincipal, Principal};
use crate::http::pagination::Page;
use crate::http::{accounts, bookings, cards, catalogue};
use crate::notify::email::templates::escape;
use crate::state::State;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Serialize;

/// Scripts, styles, data and websockets from this origin only; no inline code. Images and
/// media may also be `blob:` URLs, which only this page's own script can make: the donor's
/// photos and voice message, shown and played back before they are uploaded.
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; \
                   media-src 'self' blob:; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The language cookie: the app's language switch sets it with `fimy.lang` in local
/// storage, and the server-rendered pages read it (and set it on `?lang=`).
pub const LANG_COOKIE: &str = "fimy_lang";

/// The app's pages: (path, `data-page`, the navigation label's key, French title). A page
/// whose view is not in `fimy.js` names its module in [`MODULES`] under the same name.
const PAGES: &[(&str, &str, &str, &str)] = &[
    ("/wallet", "wallet", "nav_wallet", "Mes cadeaux offerts"),
    ("/gift", "gift", "nav_gift", "J’ai reçu un cadeau"),
    ("/tablet", "tablet", "nav_tablet", "Tablette partenaire"),
    ("/account", "account", "nav_account", "Mon compte"),
    ("/admin", "admin", "nav_admin", "Administration"),
    ("/portal", "portal", "nav_portal", "Espace partenaire"),
];

/// Page modules served under `/pages/{name}.js`: (name, source). Each imports its helpers
/// from `/fimy.js` and exports its view as `default`.
const MODULES: &[(&str, &str)] = &[
    ("account", include_str!("../../web/pages/account.js")),
    ("admin", include_str!("../../web/pages/admin.js")),
    // The card's design, preview and attachments: the donor's form and the reveal.
    ("gift-card", include_str!("../../web/pages/gift-card.js")),
    ("portal", include_str!("../../web/pages/portal.js")),
    // The portal's photo lists (upload, order, removal), loaded by the portal page.
    (
        "portal-photos",
        include_str!("../../web/pages/portal-photos.js"),
    ),
    // Creating an account, loaded when the log-in form is switched to it.
    ("signup", include_str!("../../web/pages/signup.js")),
    // The tablet's value-card keypad, loaded by the tablet page.
    (
        "tablet-redeem",
        include_str!("../../web/pages/tablet-redeem.js"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/fimy.js", web::get().to(script))
        .route("/sw.js", web::get().to(service_worker))
        .route("/manifest.webmanifest", web::get().to(manifest))
        .route("/icon.svg", web::get().to(icon))
        .route("/offline", web::get().to(offline))
        .route("/pages/{name}.js", web::get().to(page_module));
    for &(path, page, _, _) in PAGES {
        cfg.route(
            path,
            web::get().to(move |state: State, req: HttpRequest| async move {
                shell(page, first_view(&state, &req, page).await)
            }),
        );
    }
}

async fn script() -> HttpResponse {
    respond(
        "text/javascript; charset=utf-8",
        include_str!("../../web/fimy.js").to_owned(),
    )
}

async fn page_module(name: web::Path<String>) -> Result<HttpResponse, crate::error::ApiError> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name.as_str())
        .map(|(_, source)| respond("text/javascript; charset=utf-8", (*source).to_owned()))
        .ok_or_else(|| crate::error::ApiError::not_found("page module"))
}

async fn service_worker() -> HttpResponse {
    respond(
        "text/javascript; charset=utf-8",
        include_str!("../../web/sw.js").to_owned(),
    )
}

async fn manifest() -> HttpResponse {
    respond(
        "application/manifest+json",
        include_str!("../../web/manifest.webmanifest").to_owned(),
    )
}

async fn icon() -> HttpResponse {
    respond(
        "image/svg+xml",
        include_str!("../../web/icon.svg").to_owned(),
    )
}

/// What the service worker shows for a page it has not kept, when the network is gone.
async fn offline() -> HttpResponse {
    respond(
        "text/html; charset=utf-8",
        r#"<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hors ligne — Fimy</title><link rel="stylesheet" href="/app.css"></head>
<body><main id="main" class="container">
<h1>Hors ligne</h1>
<p>Pas de connexion pour l’instant : cette page s’affichera quand le réseau reviendra.</p>
<p lang="en">You are offline: this page will show when the network is back.</p>
</main></body></html>
"#
        .to_owned(),
    )
}

fn respond(content_type: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body)
}

/// What the first view of an app page needs from the API, put in its HTML so that the page
/// draws it without waiting for requests made one after the other: the signed-in user
/// (`GET /me`, or `null` when nobody is), and on the tablet its venue
/// (`GET /partners/{id}`) and calendar (`GET /partners/{id}/calendar`). Each is what that
/// endpoint answers this very request's session; anything that fails is left out, and the
/// page asks the API itself. On the donor's wallet: the gifts given (`GET /wallet`) and the
/// experiences its form offers (`GET /experiences?` [`WALLET_EXPERIENCES`]).
#[derive(Serialize, Default)]
struct Boot {
    me: Option<accounts::UserView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner: Option<catalogue::PartnerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calendar: Option<bookings::CalendarView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet: Option<cards::Wallet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiences: Option<Page<catalogue::ExperienceView>>,
}

/// The catalogue query of the wallet's gift form (`walletPage` in `web/fimy.js` asks the
/// same when the page carries no first view).
const WALLET_EXPERIENCES: &str = "limit=50&sort=price_asc";

/// What the server draws of an app page's first view for this request's session.
#[derive(Default)]
pub(crate) struct FirstView {
    /// The `<script type="application/json" id="fimy-boot">` element ("" when the session
    /// cannot be read: the page then asks the API).
    pub boot: String,
    /// The header's "signed in as … / log out", as `web/fimy.js` draws it, so that the
    /// page does not move when the script runs.
    pub account: String,
}

/// The first view of `page` for this request's session.
pub(crate) async fn first_view(state: &State, req: &HttpRequest, page: &str) -> FirstView {
    let Ok(MaybePrincipal(who)) = MaybePrincipal::extract(req).await else {
        return FirstView::default();
    };
    let mut boot = Boot::default();
    if let Some(who) = who {
        match accounts::load_me(state, &who).await {
            Ok(me) => boot.me = Some(me),
            Err(_) => return FirstView::default(),
        }
        if page == "tablet" {
            tablet_boot(state, &who, &mut boot).await;
        }
        if page == "wallet" {
            wallet_boot(state, &who, &mut boot).await;
        }
    }
    FirstView {
        account: boot
            .me
            .as_ref()
            .map_or_else(String::new, |me| account(req, me)),
        boot: boot_element(&boot),
    }
}

/// The account box in the language the script will show: this browser's choice (the
/// `fimy_lang` cookie it keeps with it), else the account's.
fn account(req: &HttpRequest, me: &accounts::UserView) -> String {
    let chosen = req.cookie(LANG_COOKIE);
    let lang = match chosen.as_ref().map(|c| c.value()) {
        Some("fr") => "fr",
        Some("en") => "en",
        _ => me.locale.as_str(),
    };
    let (signed_in, logout) = if lang == "en" {
        ("Signed in: ", "Log out")
    } else {
        ("Connecté·e : ", "Se déconnecter")
    };
    format!(
        "<span>{signed_in}{}</span><button type=\"button\" class=\"link\">{logout}</button>",
        escape(&me.display_name)
    )
}

async fn tablet_boot(state: &State, who: &Principal, boot: &mut Boot) {
    let Some(partner_id) = who.staff.map(|s| s.partner_id) else {
        return;
    };
    let partner =
        catalogue::partner_of(state, &MaybePrincipal(Some(who.clone())), partner_id).await;
    let window = bookings::WindowParams {
        from: None,
        to: None,
    };
    let calendar = bookings::calendar_view(state, who, partner_id, &window).await;
    boot.partner = partner.ok();
    boot.calendar = calendar.ok();
}

async fn wallet_boot(state: &State, who: &Principal, boot: &mut Boot) {
    let (wallet, experiences) = futures_util::join!(cards::wallet_of(state, who), async {
        let params = web::Query::<catalogue::SearchParams>::from_query(WALLET_EXPERIENCES)
            .map_err(|_| ())?;
        catalogue::search_page(state, params.into_inner())
            .await
            .map_err(|_| ())
    });
    boot.wallet = wallet.ok();
    boot.experiences = experiences.ok();
}

/// JSON in a data block: `<` (and `>`, `&`) as `\u` escapes, so no value can end the
/// element or be read as markup; the JSON means the same.
fn boot_element(boot: &Boot) -> String {
    let Ok(json) = serde_json::to_string(boot) else {
        return String::new();
    };
    let safe = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("\n  <script type=\"application/json\" id=\"fimy-boot\">{safe}</script>")
}

/// The page modules the first view of `page` runs, fetched alongside `/fimy.js` rather than
/// after it has run: the page's own module, the tablet's keypad, the donor's card preview.
fn preload(page: &str) -> String {
    let wanted: &[&str] = match page {
        "tablet" => &["tablet-redeem"],
        "wallet" => &["gift-card"],
        "portal" => &["portal", "portal-photos"],
        other => &[other],
    };
    wanted
        .iter()
        .filter(|w| MODULES.iter().any(|(n, _)| n == *w))
        .map(|w| format!("\n  <link rel=\"modulepreload\" href=\"/pages/{w}.js\">"))
        .collect()
}

/// The page's HTML: header with the navigation, the language switch and the live status;
/// the module fills `#app`. The strings are French until the module translates them.
fn shell(page: &str, first: FirstView) -> HttpResponse {
    let title = PAGES
        .iter()
        .find(|(_, p, _, _)| *p == page)
        .map_or("Fimy", |(_, _, _, t)| t);
    let nav: String = PAGES
        .iter()
        .map(|(path, p, key, label)| {
            let current = if *p == page {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"{path}\" data-t=\"{key}\"{current}>{label}</a>")
        })
        .collect();
    let mut res = respond(
        "text/html; charset=utf-8",
        format!(
            r##"<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} — Fimy</title>
  <meta name="theme-color" content="#0f5e54">
  <link rel="manifest" href="/manifest.webmanifest">
  <link rel="icon" href="/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app.css">
  <script type="module" src="/fimy.js"></script>{preload}{boot}
</head>
<body data-page="{page}"{module}>
  <a class="skip-link" href="#main" data-t="skip">Aller au contenu</a>
  <header class="site-header">
    <div class="container header-inner">
      <a class="brand" href="/">Fimy</a>
      <nav class="app-nav" aria-label="Fimy">
        <a href="/" data-t="nav_catalogue">Catalogue</a>{nav}
        <button type="button" id="lang-switch" class="link" lang="en">English</button>
        <span id="live-status" class="live-status" role="status"></span>
      </nav>
      <div id="account" class="account">{account}</div>
    </div>
  </header>
  <main id="main" class="container">
    <h1 data-t="{key}">{title}</h1>
    <p id="notice" role="status" aria-live="polite"></p>
    <div id="app"><noscript>Cette page a besoin de JavaScript. / This page needs JavaScript.</noscript></div>
  </main>
</body>
</html>
"##,
            preload = preload(page),
            boot = first.boot,
            account = first.account,
            module = if MODULES.iter().any(|(n, _)| *n == page) {
                format!(" data-module=\"/pages/{page}.js\"")
            } else {
                String::new()
            },
            key = PAGES
                .iter()
                .find(|(_, p, _, _)| *p == page)
                .map_or("", |(_, _, k, _)| k),
        ),
    );
    // The page may carry the session's data: for this browser only, asked again each time.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Cookie"));
    res
}
