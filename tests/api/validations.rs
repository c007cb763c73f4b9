//! Two-step validation at the venue: the recipient's rotating QR code, the tablet's scan
//! (a request pushed to the recipient), the recipient's confirmation; no replay.

use crate::bookings::{Venue, available, book, holder, slots, venue};
use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A confirmed booking and the clock moved to an hour before it: (holder token, card,
/// booking id).
async fn confirmed_booking(
    app: &TestApp,
    v: &Venue,
    who: &str,
    nth: usize,
) -> (String, String, String) {
    let (token, card) = holder(app, who, 50_000).await;
    let slot = slots(app, v, 5).await.into_iter().nth(nth).unwrap();
    let b: Value = book(app, &token, &card, v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap().to_owned();
    app.post_as(
        &token,
        &format!("/api/v1/bookings/{id}/confirm"),
        &json!({}),
    )
    .await;
    (token, card, id)
}

async fn move_to_an_hour_before(app: &TestApp, token: &str, booking: &str) {
    let b: Value = app
        .get_as(token, &format!("/api/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    let starts: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    let now = fimy::clock::Clock::now(&app.clock);
    app.clock.advance(starts - now - chrono::Duration::hours(1));
}

#[tokio::test]
async fn the_tablet_scans_the_recipient_confirms_and_the_code_cannot_be_replayed() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let (token, card, booking) = confirmed_booking(&app, &v, "remi@example.com", 5).await;
    move_to_an_hour_before(&app, &token, &booking).await;
    let tablet = app.demo_token("partner tablet").await;
    let me: Value = app.get_as(&token, "/api/v1/me").await.json().await.unwrap();

    // The recipient follows their own feed.
    let mut req = format!("ws://127.0.0.1:{}/ws", app.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({"type": "subscribe", "topic": format!("user:{}", me["id"].as_str().unwrap())})
            .to_string(),
    ))
    .await
    .unwrap();
    // Following from the moment the server says so (a subscribe without `since` starts at
    // the topic's head when it is handled, not when it was sent).
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("subscribed in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let m: Value = serde_json::from_str(&t).unwrap();
            assert_ne!(m["type"], "error", "{m}");
            if m["type"] == "subscribed" {
                break;
            }
        }
    }

    let qr: Value = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}/qr"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(qr["rotates_every_secs"], 30);
    // The phone shows it as a QR image.
    let svg = qr["svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    let code = qr["token"].as_str().unwrap().to_owned();
    let scan = |t: String| {
        let (client, url, tablet) = (
            app.client.clone(),
            app.url(&format!("/api/v1/partners/{}/validations", v.partner)),
            tablet.clone(),
        );
        async move {
            client
                .post(url)
                .bearer_auth(tablet)
                .json(&json!({"token": t}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = scan(code.clone()).await;
    assert_eq!(res.status(), 201);
    let request: Value = res.json().await.unwrap();
    assert_eq!(request["status"], "pending");
    let again: Value = scan(code.clone()).await.json().await.unwrap();
    assert_eq!(
        again["id"], request["id"],
        "scanning twice opens one request"
    );

    // The request reaches the recipient live.
    let pushed = loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let m: Value = serde_json::from_str(&t).unwrap();
            if m["type"] == "event" {
                break m;
            }
        }
    };
    assert_eq!(pushed["kind"], "validation_requested");
    assert_eq!(pushed["data"]["validation_id"], request["id"]);

    let vid = request["id"].as_str().unwrap();
    assert_problem(
        app.post_as(
            &tablet,
            &format!("/api/v1/validations/{vid}/confirm"),
            &json!({}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let done: Value = app
        .post_as(
            &token,
            &format!("/api/v1/validations/{vid}/confirm"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "confirmed");
    let b: Value = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "completed");
    assert_eq!(available(&app, &token, &card).await, 50_000 - v.price);
    let view: Value = app
        .get_as(&token, &format!("/api/v1/cards/{card}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["held_minor"], 0, "the value was captured");

    assert_problem(scan(code).await, 409, "booking_state_conflict").await;
    assert_problem(
        app.post_as(
            &token,
            &format!("/api/v1/validations/{vid}/confirm"),
            &json!({}),
        )
        .await,
        409,
        "booking_state_conflict",
    )
    .await;
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn old_forged_or_foreign_codes_are_refused_and_unanswered_requests_lapse() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let (token, _, booking) = confirmed_booking(&app, &v, "remi@example.com", 6).await;
    move_to_an_hour_before(&app, &token, &booking).await;
    let tablet = app.demo_token("partner tablet").await;
    let url = format!("/api/v1/partners/{}/validations", v.partner);
    let code = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}/qr"))
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut forged = code.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_problem(
        app.post_as(&tablet, &url, &json!({"token": forged})).await,
        422,
        "invalid_code",
    )
    .await;
    assert_problem(
        app.post_as(&tablet, &url, &json!({"token": "hello"})).await,
        422,
        "invalid_code",
    )
    .await;
    let customer = app.register("someone@example.com").await;
    assert_problem(
        app.post_as(&customer, &url, &json!({"token": code})).await,
        403,
        "forbidden",
    )
    .await;

    // A screenshot taken a minute ago no longer works; the current code does.
    app.clock.advance(chrono::Duration::seconds(61));
    let p = assert_problem(
        app.post_as(&tablet, &url, &json!({"token": code})).await,
        422,
        "invalid_code",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("expired"));
    let fresh = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}/qr"))
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, code);
    let request: Value = app
        .post_as(&tablet, &url, &json!({"token": fresh}))
        .await
        .json()
        .await
        .unwrap();

    // Nobody answers in time.
    app.clock.advance(chrono::Duration::minutes(3));
    let vid = request["id"].as_str().unwrap();
    assert_problem(
        app.post_as(
            &token,
            &format!("/api/v1/validations/{vid}/confirm"),
            &json!({}),
        )
        .await,
        409,
        "hold_expired",
    )
    .await;
    let b: Value = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "confirmed", "nothing was captured");

    // A declined request captures nothing either.
    let fresh = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}/qr"))
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let request: Value = app
        .post_as(&tablet, &url, &json!({"token": fresh}))
        .await
        .json()
        .await
        .unwrap();
    let vid = request["id"].as_str().unwrap();
    let declined: Value = app
        .post_as(
            &token,
            &format!("/api/v1/validations/{vid}/decline"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(declined["status"], "declined");
    let b: Value = app
        .get_as(&token, &format!("/api/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "confirmed");
}
