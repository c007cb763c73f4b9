//! Who hears what of a card's life: the donor follows delivered → opened → booked → used
//! on the card's topic, in their own numbering and without data; a hold is not a
//! booking; a partial spend is not "used"; the tablet's calendar carries the slots' real
//! places; validation (scan or check-in) happens only in the booking's window.

use crate::bookings::{Venue, book, slots, venue};
use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, token: &str) -> Ws {
    let mut req = format!("ws://127.0.0.1:{}/ws", app.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next JSON message (skipping pings), or panics after `secs`.
async fn next(ws: &mut Ws, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Subscribes; returns the acknowledgement and the events replayed before it.
async fn subscribe(ws: &mut Ws, topic: &str, since: Option<i64>) -> (Value, Vec<Value>) {
    let mut msg = json!({"type": "subscribe", "topic": topic});
    if let Some(s) = since {
        msg["since"] = json!(s);
    }
    ws.send(Message::text(msg.to_string())).await.unwrap();
    let mut replayed = Vec::new();
    loop {
        let m = next(ws, 5).await;
        if m["type"] == "subscribed" || m["type"] == "error" {
            return (m, replayed);
        }
        replayed.push(m);
    }
}

/// Asserts that nothing but the pong arrives: no event is waiting on the socket.
async fn nothing_more(ws: &mut Ws, what: &str) {
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    let m = next(ws, 5).await;
    assert_eq!(m["type"], "pong", "{what}: {m}");
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.get_as(token, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The outbox rows of a card as `(audience, channel, kind)`, oldest first.
async fn outbox(app: &TestApp, card: &str) -> Vec<(String, String, String)> {
    let id = uuid::Uuid::parse_str(card).unwrap();
    entities::outbox::Entity::find()
        .filter(entities::outbox::Column::CardId.eq(id))
        .order_by_asc(entities::outbox::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.audience, r.channel, r.kind))
        .collect()
}

fn count(rows: &[(String, String, String)], audience: &str, kind: &str) -> usize {
    rows.iter()
        .filter(|(a, _, k)| a == audience && k == kind)
        .count()
}

/// The finished `.eml` files in the outbox sent to `to` for `audience` about `kind`. Only
/// finished messages: a `.name.tmp` being renamed can be listed under both names by one
/// directory scan.
fn emails_to(app: &TestApp, to: &str, audience: &str, kind: &str) -> Vec<String> {
    let (to, audience, kind) = (
        format!("<{to}>"),
        format!("X-Fimy-Audience: {audience}"),
        format!("X-Fimy-Kind: {kind}"),
    );
    std::fs::read_dir(app.data_dir.path().join("outbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|f| {
                    let name = f.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".eml") && !name.starts_with('.')
                })
                .filter_map(|f| std::fs::read_to_string(f.path()).ok())
                .filter(|t| t.contains(&to) && t.contains(&audience) && t.contains(&kind))
                .collect()
        })
        .unwrap_or_default()
}

/// The card's spending events, by number.
async fn spend_seqs(app: &TestApp, card: &str) -> Vec<i64> {
    let id = uuid::Uuid::parse_str(card).unwrap();
    entities::card_event::Entity::find()
        .filter(entities::card_event::Column::CardId.eq(id))
        .filter(
            entities::card_event::Column::Kind.is_in(["amount_redeemed", "authorization_captured"]),
        )
        .order_by_asc(entities::card_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect()
}

/// The spending events the holder's receipts on `channel` tell of, each as often as it is
/// told, in order.
async fn receipted(app: &TestApp, card: &str, channel: &str) -> Vec<i64> {
    let id = uuid::Uuid::parse_str(card).unwrap();
    let spends = spend_seqs(app, card).await;
    let rows = entities::outbox::Entity::find()
        .filter(entities::outbox::Column::CardId.eq(id))
        .filter(entities::outbox::Column::Audience.eq("recipient"))
        .filter(entities::outbox::Column::Kind.eq("card_used"))
        .filter(entities::outbox::Column::Channel.eq(channel))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut told: Vec<i64> = rows
        .iter()
        .flat_map(|r| {
            let (first, last) = fimy::store::cards::receipt_range(&r.payload).unwrap();
            spends
                .iter()
                .copied()
                .filter(move |s| (first..=last).contains(s))
        })
        .collect();
    told.sort_unstable();
    told
}

/// The kinds on a user's feed (long-poll, at once).
async fn feed(app: &TestApp, token: &str) -> Vec<String> {
    let me = user_id(app, token).await;
    let page: Value = app
        .get_as(
            token,
            &format!("/api/v1/events?topic=user:{me}&since=0&wait_ms=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A donor's CAD value card of `amount`, delivered, opened and claimed by its recipient:
/// (donor token, holder token, card id, code).
async fn gift(app: &TestApp, amount: i64) -> (String, String, String, String) {
    let donor = app.register("donor@example.com").await;
    let bought = app
        .buy_value_card(&donor, amount, json!({"currency": "CAD"}))
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let code = app.code_of(&card).await;
    let holder = app.register("remi@example.com").await;
    assert_eq!(
        app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
            .await
            .status(),
        200
    );
    (donor, holder, card, code)
}

async fn confirm(app: &TestApp, token: &str, booking: &str) -> Value {
    let res = app
        .post_as(
            token,
            &format!("/api/v1/bookings/{booking}/confirm"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Moves the test clock to `before` ahead of the booking's start.
async fn move_before_start(app: &TestApp, token: &str, booking: &str, before: chrono::Duration) {
    let b: Value = app
        .get_as(token, &format!("/api/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    let starts: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    let now = fimy::clock::Clock::now(&app.clock);
    app.clock.advance(starts - now - before);
}

fn check_in_path(v: &Venue, booking: &str) -> String {
    format!("/api/v1/partners/{}/bookings/{booking}/check-in", v.partner)
}

#[tokio::test]
async fn a_donor_follows_the_card_from_delivered_to_used_numbered_without_gaps_or_data() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    // Exactly one brunch: the visit spends the whole card.
    let (donor, holder, card, _) = gift(&app, v.price).await;
    let topic = format!("card:{card}");
    let mut ws = connect(&app, &donor).await;
    let (sub, history) = subscribe(&mut ws, &topic, Some(0)).await;
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "card_created",
            "payment_received",
            "card_issued",
            "card_delivered",
            "card_opened"
        ]
    );
    assert_eq!(sub["seq"], 5, "the claim is not part of the donor's view");

    let slot = &slots(&app, &v, 5).await[10];
    let b: Value = book(&app, &holder, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let booking = b["id"].as_str().unwrap();
    nothing_more(&mut ws, "a hold is not a booking").await;
    confirm(&app, &holder, booking).await;
    let booked = next(&mut ws, 5).await;
    assert_eq!(
        (booked["kind"].as_str(), booked["seq"].as_i64()),
        (Some("card_booked"), Some(6)),
        "{booked}"
    );

    move_before_start(&app, &holder, booking, chrono::Duration::hours(1)).await;
    let tablet = app.demo_token("partner tablet").await;
    let res = app
        .post_as(&tablet, &check_in_path(&v, booking), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let used = next(&mut ws, 5).await;
    assert_eq!(
        (used["kind"].as_str(), used["seq"].as_i64()),
        (Some("card_used"), Some(7)),
        "{used}"
    );
    for e in history.iter().chain([&booked, &used]) {
        assert_eq!(e["data"], json!({}), "no data for the donor: {e}");
    }
    nothing_more(&mut ws, "the capture itself is hidden").await;

    // The same view over REST, the long poll and a fresh subscription: 1..7, no gaps.
    let page: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{card}/events"))
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(page["last_seq"], 7);
    assert_eq!(page["items"][5]["kind"], "card_booked");
    assert_eq!(page["items"][6]["kind"], "card_used");
    let later: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{card}/events?since=5"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["items"].as_array().unwrap().len(), 2);
    let polled: Value = app
        .get_as(
            &donor,
            &format!("/api/v1/events?topic={topic}&since=0&wait_ms=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(polled["last_seq"], 7);
    assert_eq!(polled["events"].as_array().unwrap().len(), 7);
    let mut again = connect(&app, &donor).await;
    let (sub, replayed) = subscribe(&mut again, &topic, None).await;
    assert_eq!(sub["seq"], 7, "{sub}");
    assert!(replayed.is_empty());

    // The holder still sees the whole log in the card's own numbering.
    let full: Value = app
        .get_as(&holder, &format!("/api/v1/cards/{card}/events"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["last_seq"], 10, "{full}");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_hold_announces_nothing_a_lapsed_one_never_does_and_a_confirmation_does_once() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let (donor, holder, card, _) = gift(&app, 50_000).await;
    let list = slots(&app, &v, 5).await;
    let b: Value = book(&app, &holder, &card, &v, &list[10]["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "held");
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_booked"), 0, "{rows:?}");
    assert_eq!(
        count(&rows, "recipient", "booking_confirmed"),
        0,
        "{rows:?}"
    );

    // The hold lapses; the sweep releases it.
    app.clock.advance(chrono::Duration::minutes(6));
    let id = b["id"].as_str().unwrap();
    app.drive_scheduler().await;
    // (This node's own scheduler may have been releasing it at the same moment.)
    let status = eventually("the lapsed hold expires", PATIENCE, || async {
        let status = app
            .get_as(&holder, &format!("/api/v1/bookings/{id}"))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"]
            .clone();
        (status == "expired").then_some(status)
    })
    .await;
    assert_eq!(status, "expired");
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_booked"), 0, "{rows:?}");
    assert_eq!(count(&rows, "recipient", "booking_confirmed"), 0);
    assert!(!feed(&app, &donor).await.contains(&"card_booked".to_owned()));

    // A booking confirmed (twice: a retry) is announced once per channel.
    let b: Value = book(&app, &holder, &card, &v, &list[11]["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    confirm(&app, &holder, id).await;
    confirm(&app, &holder, id).await;
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_booked"), 2, "email and push");
    assert_eq!(count(&rows, "recipient", "booking_confirmed"), 2);
    let donor_feed = feed(&app, &donor).await;
    assert_eq!(
        donor_feed.iter().filter(|k| *k == "card_booked").count(),
        1,
        "{donor_feed:?}"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_venue_hold_on_a_value_card_is_no_booking_for_anyone() {
    let app = spawn_demo_app().await;
    let (donor, holder, card, code) = gift(&app, 5_000).await;
    let mut ws = connect(&app, &donor).await;
    let (sub, _) = subscribe(&mut ws, &format!("card:{card}"), None).await;
    assert_eq!(sub["type"], "subscribed");
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/authorizations"),
            &json!({"code": code, "amount_minor": 2_000}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let hold: Value = res.json().await.unwrap();
    nothing_more(&mut ws, "a hold at the till is not a booking").await;
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_booked"), 0, "{rows:?}");
    assert_eq!(
        count(&rows, "recipient", "booking_confirmed"),
        0,
        "{rows:?}"
    );

    // Captured, it is a receipt for the holder and nothing for the donor (value is left).
    let res = app
        .post_as(
            &tablet,
            &format!(
                "/api/v1/partners/{partner}/authorizations/{}/capture",
                hold["hold_id"].as_str().unwrap()
            ),
            &json!({"card_id": card}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    nothing_more(&mut ws, "a partial capture is not used").await;
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_used"), 0, "{rows:?}");
    assert_eq!(count(&rows, "recipient", "card_used"), 2, "email and push");
    assert!(feed(&app, &holder).await.contains(&"card_used".to_owned()));
}

#[tokio::test]
async fn partial_spends_tell_the_donor_nothing_until_the_one_that_empties_the_card() {
    let app = spawn_demo_app().await;
    let (donor, holder, card, code) = gift(&app, 5_000).await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let url = format!("/api/v1/partners/{partner}/redemptions");
    let body = json!({"code": code, "amount_minor": 1_000});
    let redeem = || app.post_as(&tablet, &url, &body);
    for _ in 0..4 {
        assert_eq!(redeem().await.status(), 201);
    }
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_used"), 0, "{rows:?}");
    // Each spend is in exactly one receipt per channel (spends made before the last
    // receipt went out are told together).
    let spends = spend_seqs(&app, &card).await;
    assert_eq!(spends.len(), 4);
    assert_eq!(receipted(&app, &card, "email").await, spends);
    assert_eq!(receipted(&app, &card, "push").await, spends);
    assert_eq!(redeem().await.status(), 201);
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_used"), 2, "one email, one push");
    let donor_feed = feed(&app, &donor).await;
    assert_eq!(
        donor_feed.iter().filter(|k| *k == "card_used").count(),
        1,
        "{donor_feed:?}"
    );
    assert!(
        !feed(&app, &holder).await.is_empty(),
        "the holder has their receipts"
    );

    // And exactly one "used" email reaches the donor's mailbox.
    // Once the row is recorded as sent, its file is in place: count then, not while it is
    // being written.
    let card_id = uuid::Uuid::parse_str(&card).unwrap();
    let sent = within_time(PATIENCE, || async {
        entities::outbox::Entity::find()
            .filter(entities::outbox::Column::CardId.eq(card_id))
            .filter(entities::outbox::Column::Audience.eq("donor"))
            .filter(entities::outbox::Column::Kind.eq("card_used"))
            .filter(entities::outbox::Column::Channel.eq("email"))
            .filter(entities::outbox::Column::Status.eq("sent"))
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
            .then_some(())
    })
    .await
    .is_some();
    assert!(sent, "the donor's used email goes out");
    // This test's donor (the demo data has gifts of its own).
    assert_eq!(
        emails_to(&app, "donor@example.com", "donor", "card_used").len(),
        1
    );
    app.assert_audit_clean().await;
}

/// The `booking_changed` calendar events of a partner, oldest first.
async fn calendar_changes(app: &TestApp, v: &Venue) -> Vec<Value> {
    let events: Vec<Value> = app
        .get_as(
            &v.owner,
            &format!("/api/v1/partners/{}/calendar/events?limit=500", v.partner),
        )
        .await
        .json()
        .await
        .unwrap();
    events
        .into_iter()
        .filter(|e| e["kind"] == "booking_changed")
        .map(|e| e["data"].clone())
        .collect()
}

fn places(e: &Value) -> (u64, u64, u64) {
    (
        e["free"].as_u64().unwrap(),
        e["held"].as_u64().unwrap(),
        e["booked"].as_u64().unwrap(),
    )
}

/// A venue of 6 places per slot with `bookings` confirmed bookings (one person each) in
/// the given slots of the offered list, and the partner's tablet following its calendar
/// live: (venue, offered slots, (holder token, booking id) per booking, tablet socket).
async fn busy_venue(
    app: &TestApp,
    bookings: &[usize],
) -> (Venue, Vec<Value>, Vec<(String, String)>, Ws) {
    let v = venue(app, 6, json!({})).await;
    let list = slots(app, &v, 5).await;
    let mut people = Vec::new();
    for (i, n) in bookings.iter().enumerate() {
        let (token, card) =
            crate::bookings::holder(app, &format!("p{i}@example.com"), 50_000).await;
        let booked: Value = book(app, &token, &card, &v, &list[*n]["starts_at"])
            .await
            .json()
            .await
            .unwrap();
        let id = booked["id"].as_str().unwrap().to_owned();
        confirm(app, &token, &id).await;
        people.push((token, id));
    }
    let mut tablet_ws = connect(app, &app.demo_token("partner tablet").await).await;
    let (sub, _) = subscribe(
        &mut tablet_ws,
        &format!("partner:{}:calendar", v.partner),
        None,
    )
    .await;
    assert_eq!(sub["type"], "subscribed");
    (v, list, people, tablet_ws)
}

#[tokio::test]
async fn the_tablets_calendar_shows_a_check_in_with_the_slots_real_places() {
    let app = spawn_demo_app().await;
    let (v, _, people, mut tablet_ws) = busy_venue(&app, &[10, 10]).await;
    // One visitor checks in: the slot still has its two booked places, four free.
    let (token, first) = &people[0];
    move_before_start(&app, token, first, chrono::Duration::minutes(30)).await;
    let tablet = app.demo_token("partner tablet").await;
    let res = app
        .post_as(&tablet, &check_in_path(&v, first), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done = next(&mut tablet_ws, 5).await;
    assert_eq!(done["data"]["status"], "completed");
    assert_eq!(places(&done["data"]), (4, 0, 2), "{done}");
    let log = calendar_changes(&app, &v).await;
    let completed = log.iter().find(|e| e["status"] == "completed").unwrap();
    assert_eq!(places(completed), (4, 0, 2));
}

#[tokio::test]
async fn the_tablets_calendar_shows_the_places_a_reschedule_frees() {
    let app = spawn_demo_app().await;
    let (_, list, people, mut tablet_ws) = busy_venue(&app, &[12]).await;
    let (from, to) = (&list[12], &list[14]);
    let (token, moving) = &people[0];
    let res = app
        .post_as(
            token,
            &format!("/api/v1/bookings/{moving}/reschedule"),
            &json!({"starts_at": to["starts_at"]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // First the slot it left, its place given back; then the slot it holds now.
    let left = next(&mut tablet_ws, 5).await;
    assert_eq!(
        (
            left["data"]["slot_id"].clone(),
            left["data"]["status"].as_str()
        ),
        (from["slot_id"].clone(), Some("moved")),
        "{left}"
    );
    assert_eq!(left["data"]["starts_at"], from["starts_at"]);
    assert_eq!(places(&left["data"]), (6, 0, 0), "{left}");
    let arrived = next(&mut tablet_ws, 5).await;
    assert_eq!(arrived["data"]["slot_id"], to["slot_id"]);
    assert_eq!(arrived["data"]["status"], "confirmed");
    assert_eq!(places(&arrived["data"]), (5, 0, 1));
}

#[tokio::test]
async fn scans_and_check_ins_outside_the_window_are_refused_saying_when_it_opens() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let (token, card) = crate::bookings::holder(&app, "remi@example.com", 50_000).await;
    let list = slots(&app, &v, 5).await;
    let slot = &list[20];
    let b: Value = book(&app, &token, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap().to_owned();
    confirm(&app, &token, &id).await;
    let starts: chrono::DateTime<chrono::Utc> =
        slot["starts_at"].as_str().unwrap().parse().unwrap();
    let opens =
        (starts - chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let tablet = app.demo_token("partner tablet").await;

    // Days before: neither the check-in nor the scan captures anything.
    let p = assert_problem(
        app.post_as(&tablet, &check_in_path(&v, &id), &json!({}))
            .await,
        409,
        "outside_check_in_window",
    )
    .await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(&opens), "{detail} names {opens}");
    assert!(detail.contains("America/Toronto"), "{detail}");
    let qr: Value = app
        .get_as(&token, &format!("/api/v1/bookings/{id}/qr"))
        .await
        .json()
        .await
        .unwrap();
    let p = assert_problem(
        app.post_as(
            &tablet,
            &format!("/api/v1/partners/{}/validations", v.partner),
            &json!({"token": qr["token"]}),
        )
        .await,
        409,
        "outside_check_in_window",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains(&opens));
    let view: Value = app
        .get_as(&token, &format!("/api/v1/cards/{card}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["held_minor"], v.price, "nothing was captured");

    // A minute before the window opens: still refused. When it opens: checked in.
    move_before_start(&app, &token, &id, chrono::Duration::minutes(121)).await;
    assert_problem(
        app.post_as(&tablet, &check_in_path(&v, &id), &json!({}))
            .await,
        409,
        "outside_check_in_window",
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let res = app
        .post_as(&tablet, &check_in_path(&v, &id), &json!({}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "completed");

    // Long after the visit, the window has closed, and the error says when.
    let late: Value = book(&app, &token, &card, &v, &list[30]["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let late = late["id"].as_str().unwrap().to_owned();
    confirm(&app, &token, &late).await;
    move_before_start(&app, &token, &late, chrono::Duration::hours(-5)).await;
    let p = assert_problem(
        app.post_as(&tablet, &check_in_path(&v, &late), &json!({}))
            .await,
        409,
        "outside_check_in_window",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("closed"), "{p}");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn the_migration_numbers_stored_events_as_the_live_path_does() {
    use sea_orm::sea_query::Expr;
    let app = spawn_demo_app().await;
    let (_, _, card, code) = gift(&app, 3_000).await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    for amount in [1_000, 2_000] {
        let res = app
            .post_as(
                &tablet,
                &format!("/api/v1/partners/{partner}/redemptions"),
                &json!({"code": code, "amount_minor": amount}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let id = uuid::Uuid::parse_str(&card).unwrap();
    let numbers = || async {
        entities::card_event::Entity::find()
            .filter(entities::card_event::Column::CardId.eq(id))
            .order_by_asc(entities::card_event::Column::Seq)
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.donor_seq))
            .collect::<Vec<_>>()
    };
    let live = numbers().await;
    let expected: Vec<(String, Option<i64>)> = [
        ("card_created", Some(1)),
        ("payment_received", Some(2)),
        ("card_issued", Some(3)),
        ("card_delivered", Some(4)),
        ("card_opened", Some(5)),
        ("card_claimed", None),
        ("amount_redeemed", None),
        ("amount_redeemed", None),
        ("card_used", Some(6)),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(live, expected);

    entities::card_event::Entity::update_many()
        .col_expr(
            entities::card_event::Column::DonorSeq,
            Expr::value(Option::<i64>::None),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    migration::number_donor_events(&app.state.db).await.unwrap();
    assert_eq!(numbers().await, expected);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_experience_card_is_used_when_its_visit_is_validated_by_scan() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let donor = app.register("donor@example.com").await;
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "experience", "experience_id": v.experience, "party_size": 1,
                "recipient_name": "Rémi", "recipient_email": "remi@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_OK},
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let card = res.json::<Value>().await.unwrap()["card"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let code = app.code_of(&card).await;
    let holder = app.register("remi@example.com").await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let slot = &slots(&app, &v, 5).await[10];
    let b: Value = book(&app, &holder, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let booking = b["id"].as_str().unwrap().to_owned();
    confirm(&app, &holder, &booking).await;
    move_before_start(&app, &holder, &booking, chrono::Duration::hours(1)).await;

    let qr: Value = app
        .get_as(&holder, &format!("/api/v1/bookings/{booking}/qr"))
        .await
        .json()
        .await
        .unwrap();
    let tablet = app.demo_token("partner tablet").await;
    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{}/validations", v.partner),
            &json!({"token": qr["token"]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let request: Value = res.json().await.unwrap();
    let res = app
        .post_as(
            &holder,
            &format!(
                "/api/v1/validations/{}/confirm",
                request["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let page: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{card}/events"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "card_created",
            "payment_received",
            "card_issued",
            "card_delivered",
            "card_opened",
            "card_booked",
            "card_used"
        ]
    );
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "card_used"), 2, "{rows:?}");
    app.assert_audit_clean().await;
}

/// The kinds a donor sees on the card, in order.
async fn donor_kinds(app: &TestApp, donor: &str, card: &str) -> Vec<String> {
    let page: Value = app
        .get_as(donor, &format!("/api/v1/cards/{card}/events"))
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The card's `booked` as the donor reads it, from the card and from their wallet.
async fn donor_sees_booked(app: &TestApp, donor: &str, card: &str) -> (bool, bool) {
    let one: Value = app
        .get_as(donor, &format!("/api/v1/cards/{card}"))
        .await
        .json()
        .await
        .unwrap();
    let wallet: Value = app
        .get_as(donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    let listed = wallet["given"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == card)
        .unwrap();
    (
        one["booked"].as_bool().unwrap(),
        listed["booked"].as_bool().unwrap(),
    )
}

#[tokio::test]
async fn a_donor_told_booked_learns_when_the_booking_is_cancelled_and_booked_again() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let (donor, holder, card, _) = gift(&app, 50_000).await;
    // Days ahead, well before the partner's cancellation deadline.
    let list = slots(&app, &v, 5).await;
    let far = list.len() - 1;
    let b: Value = book(&app, &holder, &card, &v, &list[far]["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    assert_eq!(
        donor_sees_booked(&app, &donor, &card).await,
        (false, false),
        "a hold is not a booking"
    );
    confirm(&app, &holder, id).await;
    assert_eq!(donor_sees_booked(&app, &donor, &card).await, (true, true));
    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/bookings/{id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(donor_sees_booked(&app, &donor, &card).await, (false, false));
    let seen = donor_kinds(&app, &donor, &card).await;
    assert_eq!(
        seen[seen.len() - 2..],
        ["card_booked", "booking_cancelled"],
        "{seen:?}"
    );
    // Booked again: the last word is booked.
    let b: Value = book(&app, &holder, &card, &v, &list[far - 1]["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    confirm(&app, &holder, b["id"].as_str().unwrap()).await;
    assert_eq!(donor_sees_booked(&app, &donor, &card).await, (true, true));
    let seen = donor_kinds(&app, &donor, &card).await;
    assert_eq!(seen.last().unwrap(), "card_booked", "{seen:?}");
    // No one is emailed or pushed about the cancellation as a donor.
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "donor", "booking_cancelled"), 0, "{rows:?}");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn spends_made_before_a_receipt_goes_out_are_told_in_that_one_receipt() {
    // The outbox runs only when the test says so.
    let app = spawn_with(Options {
        demo_data: true,
        env: vec![("FIMY_OUTBOX_INTERVAL_MS", "3600000".into())],
        ..Default::default()
    })
    .await;
    let (_donor, _holder, card, code) = gift(&app, 5_000).await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let url = format!("/api/v1/partners/{partner}/redemptions");
    for amount in [100, 200, 300] {
        let body = json!({"code": code, "amount_minor": amount});
        assert_eq!(app.post_as(&tablet, &url, &body).await.status(), 201);
    }
    let rows = outbox(&app, &card).await;
    assert_eq!(
        count(&rows, "recipient", "card_used"),
        2,
        "one email, one push: {rows:?}"
    );
    let spends = spend_seqs(&app, &card).await;
    assert_eq!(receipted(&app, &card, "email").await, spends);

    // Sent, it tells the three spends in all; the next spend gets a receipt of its own.
    fimy::workers::outbox::run_once(&app.state).await.unwrap();
    let receipts = || emails_to(&app, "remi@example.com", "recipient", "card_used");
    let sent = receipts();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("in 3 payments") || sent[0].contains("en 3 fois"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("6.00") || sent[0].contains("6,00"),
        "the total of the three spends: {}",
        sent[0]
    );
    let body = json!({"code": code, "amount_minor": 400});
    assert_eq!(app.post_as(&tablet, &url, &body).await.status(), 201);
    let rows = outbox(&app, &card).await;
    assert_eq!(count(&rows, "recipient", "card_used"), 4, "{rows:?}");
    let spends = spend_seqs(&app, &card).await;
    assert_eq!(spends.len(), 4);
    assert_eq!(
        receipted(&app, &card, "email").await,
        spends,
        "each told once"
    );
    fimy::workers::outbox::run_once(&app.state).await.unwrap();
    let sent = receipts();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .any(|t| (t.contains("4.00") || t.contains("4,00"))
                && !t.contains("payments")
                && !t.contains(" fois")),
        "{sent:?}"
    );
}
