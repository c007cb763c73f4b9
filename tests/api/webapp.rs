//! The app's pages (`/wallet`, `/gift`, `/tablet`, …) carry their first view's data for the
//! session that asks (`<script type="application/json" id="fimy-boot">`): the same JSON the
//! API answers that session, escaped so that nothing in it can end the element, and nothing
//! for a visitor but `"me": null`.

use crate::helpers::{TestApp, spawn_app, spawn_demo_app};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const OPEN: &str = r#"<script type="application/json" id="fimy-boot">"#;

/// The page at `path` as a browser holding `session` (the session cookie) gets it.
async fn page(app: &TestApp, path: &str, session: Option<&str>) -> (HeaderMap, String) {
    let mut req = app.request(Method::GET, path);
    if let Some(token) = session {
        req = req.header("cookie", format!("fimy_session={token}"));
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let headers = res.headers().clone();
    (headers, res.text().await.unwrap())
}

/// The raw text of the page's boot element, if it has one.
fn boot_text(html: &str) -> Option<&str> {
    let start = html.find(OPEN)? + OPEN.len();
    let len = html[start..].find("</script>")?;
    Some(&html[start..start + len])
}

fn boot(html: &str) -> Value {
    serde_json::from_str(boot_text(html).expect("a boot element")).expect("boot JSON")
}

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get_as(token, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_visitor_gets_the_pages_with_nobody_signed_in_and_nothing_else() {
    let app = spawn_demo_app().await;
    for path in [
        "/wallet", "/gift", "/tablet", "/account", "/admin", "/portal",
    ] {
        let (headers, html) = page(&app, path, None).await;
        assert_eq!(boot(&html), json!({ "me": null }), "{path}");
        // Never kept for anyone else (the gift page, which may show a code, not at all).
        let cache = headers["cache-control"].to_str().unwrap();
        assert!(
            cache.contains("private") || cache.contains("no-store"),
            "{path}: {cache}"
        );
    }
}

#[tokio::test]
async fn the_tablet_page_carries_the_same_user_venue_and_calendar_as_the_api() {
    let app = spawn_demo_app().await;
    let token = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&token).await;
    let (_, html) = page(&app, "/tablet", Some(&token)).await;
    let first = boot(&html);
    assert_eq!(first["me"], api(&app, &token, "/api/v1/me").await);
    assert_eq!(
        first["partner"],
        api(&app, &token, &format!("/api/v1/partners/{partner}")).await
    );
    let calendar = api(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}/calendar"),
    )
    .await;
    assert_eq!(first["calendar"]["partner_id"], json!(partner));
    // The window starts at "now": the same bookings, slots and change sequence.
    for key in ["bookings", "slots", "last_seq"] {
        assert_eq!(first["calendar"][key], calendar[key], "{key}");
    }
    assert!(
        first["calendar"]["slots"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "the demo venue offers slots"
    );
    // The keypad's module is fetched with the page's script, not after it.
    assert!(html.contains(r#"<link rel="modulepreload" href="/pages/tablet-redeem.js">"#));
}

#[tokio::test]
async fn other_pages_carry_the_user_only() {
    let app = spawn_demo_app().await;
    let token = app.demo_token("donor").await;
    let me = api(&app, &token, "/api/v1/me").await;
    for path in ["/wallet", "/gift", "/account", "/tablet"] {
        let (_, html) = page(&app, path, Some(&token)).await;
        let first = boot(&html);
        assert_eq!(first["me"], me, "{path}");
        // A donor is nobody's staff: no venue, no calendar, even on /tablet.
        assert!(
            first.get("partner").is_none() && first.get("calendar").is_none(),
            "{path}"
        );
    }
    let (_, wallet) = page(&app, "/wallet", Some(&token)).await;
    assert!(wallet.contains(r#"<link rel="modulepreload" href="/pages/gift-card.js">"#));
    let (_, portal) = page(&app, "/portal", Some(&token)).await;
    assert!(portal.contains(r#"<link rel="modulepreload" href="/pages/portal.js">"#));
    assert!(portal.contains(r#"<link rel="modulepreload" href="/pages/portal-photos.js">"#));
}

#[tokio::test]
async fn what_a_person_typed_cannot_end_the_element() {
    let app = spawn_app().await;
    let token = app.register("markup@example.com").await;
    let name = "</script><script>alert(1)</script> & <!-- Ève";
    let res = app
        .request(Method::PATCH, "/api/v1/me")
        .bearer_auth(&token)
        .json(&json!({ "display_name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, html) = page(&app, "/wallet", Some(&token)).await;
    let raw = boot_text(&html).unwrap();
    assert!(!raw.contains(['<', '>', '&']), "{raw}");
    assert_eq!(boot(&html)["me"]["display_name"], name);
    assert!(!html.contains("<script>alert(1)"));
}

#[tokio::test]
async fn a_session_that_ended_gets_the_page_without_data() {
    let app = spawn_app().await;
    let token = app.register("ended@example.com").await;
    let res = app
        .request(Method::POST, "/api/v1/auth/logout")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // The page still comes; the app asks the API, which says to log in again.
    let (_, html) = page(&app, "/wallet", Some(&token)).await;
    assert!(boot_text(&html).is_none(), "{html}");
    assert!(html.contains(r#"data-page="wallet""#));
    let (_, gift) = page(&app, "/gift", Some(&token)).await;
    assert!(boot_text(&gift).is_none());
    assert!(gift.contains(r#"data-page="gift""#));
}

#[tokio::test]
async fn the_wallet_page_carries_the_same_gifts_and_experiences_as_the_api() {
    let app = spawn_demo_app().await;
    let token = app.demo_token("donor").await;
    // A gift whose recipient's name and message are markup: it travels in the page too.
    let res = app
        .post_as(
            &token,
            "/api/v1/cards",
            &json!({
                "kind": "value", "amount_minor": 2500, "currency": "CAD",
                "recipient_name": "</script> Léa", "recipient_email": "lea@example.com",
                "message": "<!-- à bientôt & merci -->",
                "payment": { "method": "test_card", "number": "4242 4242 4242 4242" },
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Delivered at once, in the background: compared once it is, so both see it the same.
    let card: Value = res.json().await.unwrap();
    let path = format!("/api/v1/cards/{}", card["card"]["id"].as_str().unwrap());
    for _ in 0..100 {
        if api(&app, &token, &path).await["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, html) = page(&app, "/wallet", Some(&token)).await;
    assert!(!boot_text(&html).unwrap().contains(['<', '>', '&']));
    let first = boot(&html);
    let wallet = api(&app, &token, "/api/v1/wallet").await;
    assert_eq!(first["wallet"], wallet);
    assert!(
        wallet["given"]
            .as_array()
            .is_some_and(|g| g.iter().any(|c| c["recipient_name"] == "</script> Léa")),
        "the new gift is among those given"
    );
    // The experiences the gift form offers, as the form would ask for them.
    let experiences = api(&app, &token, "/api/v1/experiences?limit=50&sort=price_asc").await;
    assert_eq!(first["experiences"], experiences);
    assert!(
        experiences["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
    );
    // Only on the wallet: other pages carry neither.
    let (_, gift) = page(&app, "/gift", Some(&token)).await;
    let other = boot(&gift);
    assert!(other.get("wallet").is_none() && other.get("experiences").is_none());
}
