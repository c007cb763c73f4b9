//! Live delivery over `/ws` and the long-poll fallback: order, no gaps, no one else's
//! events, replay on reconnect, bad frames answered, and fan-out across two instances
//! through Redis surviving a killed connection.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
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
    tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
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

/// Collects `event` messages until one with `seq >= upto` arrives.
async fn events_until(ws: &mut Ws, upto: i64, secs: u64) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let m = next(ws, secs).await;
        if m["type"] == "event" {
            let seq = m["seq"].as_i64().unwrap();
            got.push(m);
            if seq >= upto {
                return got;
            }
        }
    }
}

/// Subscribes; returns the acknowledgement (or error) and the replayed events that came
/// before it.
async fn subscribe_with(ws: &mut Ws, topic: &str, since: Option<i64>) -> (Value, Vec<Value>) {
    let mut msg = json!({"type": "subscribe", "topic": topic});
    if let Some(s) = since {
        msg["since"] = json!(s);
    }
    send(ws, msg).await;
    let mut replayed = Vec::new();
    loop {
        let m = next(ws, 5).await;
        if m["type"] == "subscribed" || m["type"] == "error" {
            return (m, replayed);
        }
        replayed.push(m);
    }
}

async fn subscribe(ws: &mut Ws, topic: &str, since: Option<i64>) -> Value {
    subscribe_with(ws, topic, since).await.0
}

#[tokio::test]
async fn a_donor_sees_delivered_opened_and_used_live_and_nothing_more() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;
    let mut ws = connect(&app, &donor).await;
    let (sub, history) = subscribe_with(&mut ws, &format!("card:{id}"), Some(0)).await;
    assert_eq!(
        (sub["type"].as_str(), sub["seq"].as_i64()),
        (Some("subscribed"), Some(4)),
        "{sub}"
    );
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
            "card_delivered"
        ]
    );

    app.post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    let opened = next(&mut ws, 5).await;
    assert_eq!(
        (opened["kind"].as_str(), opened["seq"].as_i64()),
        (Some("card_opened"), Some(5))
    );
    assert!(opened["at"].is_string());

    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    app.post_as(
        &tablet,
        &format!("/api/v1/partners/{partner}/redemptions"),
        &json!({"code": code, "amount_minor": 10_000}),
    )
    .await;
    // The redemption itself (the card's seq 6) is hidden from the donor; the card being
    // used is not, and comes next in the donor's own numbering, without data.
    let used = next(&mut ws, 5).await;
    assert_eq!(
        (used["kind"].as_str(), used["seq"].as_i64()),
        (Some("card_used"), Some(6)),
        "{used}"
    );
    assert_eq!(used["data"], json!({}));
    send(&mut ws, json!({"type": "ping"})).await;
    let m = next(&mut ws, 5).await;
    assert_eq!(m["type"], "pong", "the donor got no spending event: {m}");
    let page: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["status"], "used", "but does see the card is used");
}

#[tokio::test]
async fn subscriptions_are_authorized_and_bad_frames_get_errors_without_closing() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let (id, _) = app.delivered_cad_card(&donor, 5_000).await;
    let donor_id = app
        .get_as(&donor, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = connect(&app, &stranger).await;
    assert_eq!(
        subscribe(&mut ws, &format!("card:{id}"), None).await["code"],
        "forbidden"
    );
    assert_eq!(
        subscribe(&mut ws, &format!("user:{donor_id}"), None).await["code"],
        "forbidden"
    );
    let owner = app.demo_token("partner owner").await;
    let partner = app.partner_of(&owner).await;
    assert_eq!(
        subscribe(&mut ws, &format!("partner:{partner}:calendar"), None).await["code"],
        "forbidden"
    );
    assert_eq!(
        subscribe(&mut ws, "card:not-a-uuid", None).await["code"],
        "invalid_topic"
    );
    send(&mut ws, json!({"type": "dance"})).await;
    assert_eq!(next(&mut ws, 5).await["code"], "malformed_message");
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(next(&mut ws, 5).await["code"], "malformed_message");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws, 5).await["type"], "pong", "still connected");

    // A frame over the size limit closes the connection with a reason.
    ws.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let mut closed = false;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed);

    let res = app.client.get(app.url("/ws")).send().await.unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_reconnecting_client_gets_what_it_missed_with_since() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let mut ws = connect(&app, &holder).await;
    let sub = subscribe(&mut ws, &format!("card:{id}"), None).await;
    let seen = sub["seq"].as_i64().unwrap();
    drop(ws);
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    for _ in 0..3 {
        app.post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 100}),
        )
        .await;
    }
    let mut ws = connect(&app, &holder).await;
    subscribe(&mut ws, &format!("card:{id}"), Some(seen)).await;
    // The replay may arrive before or after the subscription is acknowledged.
    let mut ws2 = connect(&app, &holder).await;
    send(
        &mut ws2,
        json!({"type": "subscribe", "topic": format!("card:{id}"), "since": seen}),
    )
    .await;
    let got = events_until(&mut ws2, seen + 3, 5).await;
    let seqs: Vec<i64> = got.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![seen + 1, seen + 2, seen + 3]);
    assert!(
        got.iter()
            .all(|e| e["kind"] == "amount_redeemed" && e["data"]["amount"] == 100)
    );
}

#[tokio::test]
async fn the_long_poll_answers_at_once_or_waits_for_the_next_event() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 5_000).await;
    let topic = format!("card:{id}");
    let now: Value = app
        .get_as(&donor, &format!("/api/v1/events?topic={topic}&since=0"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["last_seq"], 4);
    assert_eq!(now["events"].as_array().unwrap().len(), 4);

    let waiting = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!(
                "/api/v1/events?topic={topic}&since=4&wait_ms=10000"
            )),
            donor.clone(),
        );
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // Once the long-poll follows the topic, the event comes.
    eventually("the long-poll follows the card", PATIENCE, || async {
        (app.state.hub.followers(&topic) == 1).then_some(())
    })
    .await;
    app.post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    let got = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("answered when the event came")
        .unwrap();
    assert_eq!(got["events"][0]["kind"], "card_opened");
    assert_eq!(got["last_seq"], 5);

    let started = std::time::Instant::now();
    let empty: Value = app
        .get_as(
            &donor,
            &format!("/api/v1/events?topic={topic}&since=5&wait_ms=300"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(empty["events"].as_array().unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_problem(
        app.get_as(&donor, "/api/v1/events?topic=nope").await,
        400,
        "invalid_query",
    )
    .await;
    let stranger = app.register("x@example.com").await;
    assert_problem(
        app.get_as(&stranger, &format!("/api/v1/events?topic={topic}"))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn each_audience_gets_its_own_feed_and_only_its_own() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let donor_id = app
        .get_as(&donor, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let holder_id = app
        .get_as(&holder, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut donor_ws = connect(&app, &donor).await;
    assert_eq!(
        subscribe(&mut donor_ws, &format!("user:{donor_id}"), Some(0)).await["type"],
        "subscribed"
    );
    let (_, code) = app.delivered_cad_card(&donor, 5_000).await;
    // (the feed replays nothing older: it was empty when subscribed)
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let got = events_until(&mut donor_ws, 2, 5).await;
    let kinds: Vec<&str> = got.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["card_delivered", "card_opened"],
        "the donor's feed: delivered, opened"
    );

    let mut holder_ws = connect(&app, &holder).await;
    assert_eq!(
        subscribe(&mut holder_ws, &format!("user:{donor_id}"), None).await["code"],
        "forbidden"
    );
    assert_eq!(
        subscribe(&mut holder_ws, &format!("user:{holder_id}"), Some(0)).await["type"],
        "subscribed"
    );

    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let mut tablet_ws = connect(&app, &tablet).await;
    assert_eq!(
        subscribe(
            &mut tablet_ws,
            &format!("partner:{partner}:calendar"),
            Some(0)
        )
        .await["type"],
        "subscribed"
    );
    app.post_as(
        &tablet,
        &format!("/api/v1/partners/{partner}/redemptions"),
        &json!({"code": code, "amount_minor": 5_000}),
    )
    .await;
    let holder_feed = events_until(&mut holder_ws, 1, 5).await;
    assert_eq!(
        holder_feed[0]["kind"], "card_used",
        "the recipient hears of their card being used"
    );
    // The donor hears "used" because the card is all spent (a partial spend says nothing).
    let donor_feed = events_until(&mut donor_ws, 3, 5).await;
    assert_eq!(donor_feed[0]["kind"], "card_used");
    assert!(
        donor_feed[0]["data"].get("amount").is_none(),
        "without the amount"
    );

    // The partner's tablet follows its calendar: a change of availability reaches it.
    let owner = app.demo_token("partner owner").await;
    let list: Value = app
        .get(&format!("/api/v1/experiences?partner_id={partner}"))
        .await
        .json()
        .await
        .unwrap();
    let exp = list["items"][0]["id"].as_str().unwrap();
    let res = app
        .request(reqwest::Method::PUT, &format!("/api/v1/partners/{partner}/experiences/{exp}/availability"))
        .bearer_auth(&owner)
        .json(&json!({"weekly": [{"weekday": "mon", "start": "10:00", "end": "12:00"}], "capacity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let calendar = events_until(&mut tablet_ws, 1, 5).await;
    assert_eq!(calendar[0]["kind"], "rules_set");
    assert_eq!(calendar[0]["topic"], format!("partner:{partner}:calendar"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_in_order_with_no_gap_even_when_redis_drops_the_connection() {
    let (Ok(pg), Ok(redis_url)) = (
        std::env::var("FIMY_TEST_DATABASE_URL"),
        std::env::var("FIMY_TEST_REDIS_URL"),
    ) else {
        return; // needs a shared PostgreSQL and Redis
    };
    if pg.is_empty() || redis_url.is_empty() {
        return;
    }
    let a = spawn_demo_app().await;
    let b = spawn_with(Options {
        database_url: a.database_url.clone(),
        secret_key: Some(a.secret_key.clone()),
        ..Default::default()
    })
    .await;
    let donor = a.register("donor@example.com").await;
    let holder = a.register("remi@example.com").await;
    let (id, code) = a.delivered_cad_card(&donor, 100_000).await;
    a.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let mut ws = connect(&a, &holder).await;
    let start = subscribe(&mut ws, &format!("card:{id}"), None).await["seq"]
        .as_i64()
        .unwrap();

    let tablet = a.demo_token("partner tablet").await;
    let partner = b.partner_of(&tablet).await;
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let mut admin = redis.get_multiplexed_async_connection().await.unwrap();
    let n = 40;
    for i in 0..n {
        let res = b
            .post_as(
                &tablet,
                &format!("/api/v1/partners/{partner}/redemptions"),
                &json!({"code": code, "amount_minor": 10}),
            )
            .await;
        assert_eq!(res.status(), 201);
        if i == n / 2 {
            // Drop every pub/sub connection of both instances mid-run.
            let _: redis::Value = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("pubsub")
                .query_async(&mut admin)
                .await
                .unwrap();
        }
    }
    let got = events_until(&mut ws, start + n, 20).await;
    let seqs: Vec<i64> = got.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        ((start + 1)..=(start + n)).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}

async fn reminder_rows(app: &TestApp, kind: &str) -> Vec<entities::outbox::Model> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::outbox::Entity::find()
        .filter(entities::outbox::Column::Kind.eq(kind))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn expiry_reminders_fire_once_per_threshold() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let (_, code) = app.delivered_cad_card(&donor, 5_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    assert!(reminder_rows(&app, "expiry_reminder").await.is_empty());
    app.clock.advance(chrono::Duration::days(340)); // 25 days left
    app.drive_scheduler().await;
    let rows = reminder_rows(&app, "expiry_reminder").await;
    for _ in 0..3 {
        app.drive_scheduler().await; // several more scheduler passes
    }
    let rows_after = reminder_rows(&app, "expiry_reminder").await;
    assert_eq!(rows.len(), 2, "one email and one push");
    assert_eq!(rows_after.len(), 2, "and not again");
    app.clock.advance(chrono::Duration::days(20)); // 5 days left
    app.drive_scheduler().await;
    assert_eq!(reminder_rows(&app, "expiry_reminder").await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_never_fire_the_same_reminder_twice() {
    let Ok(pg) = std::env::var("FIMY_TEST_DATABASE_URL") else {
        return;
    };
    if pg.is_empty() {
        return;
    }
    let a = spawn_app().await;
    let b = spawn_with(Options {
        database_url: a.database_url.clone(),
        secret_key: Some(a.secret_key.clone()),
        ..Default::default()
    })
    .await;
    let donor = a.register("donor@example.com").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(a.delivered_cad_card(&donor, 5_000).await);
    }
    // Both instances' clocks move; both schedulers find the same due reminders.
    a.clock.advance(chrono::Duration::days(364));
    b.clock.advance(chrono::Duration::days(364));
    // Passes of both schedulers at once, besides their own timers.
    tokio::join!(a.drive_scheduler(), b.drive_scheduler());
    let rows = reminder_rows(&a, "expiry_reminder").await;
    for _ in 0..3 {
        tokio::join!(a.drive_scheduler(), b.drive_scheduler());
    }
    let rows_after = reminder_rows(&a, "expiry_reminder").await;
    assert_eq!(
        rows.len(),
        5,
        "one email per card (unclaimed cards get no push)"
    );
    assert_eq!(rows_after.len(), 5);
}

/// Whether the server ends the connection within `secs` (messages before that are skipped).
async fn closed_within(ws: &mut Ws, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn delete_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.request(reqwest::Method::DELETE, path)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_since_past_the_end_is_answered_with_the_topics_real_position() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let topic = format!("card:{id}");
    let head: Value = app
        .get_as(
            &holder,
            &format!("/api/v1/events?topic={topic}&since=0&wait_ms=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    let head = head["last_seq"].as_i64().unwrap();
    assert!(head > 0);

    // The long-poll answers at once with where the topic really is.
    let started = std::time::Instant::now();
    let page: Value = app
        .get_as(
            &holder,
            &format!(
                "/api/v1/events?topic={topic}&since={}&wait_ms=5000",
                head + 50
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["last_seq"], head, "{page}");
    assert_eq!(page["events"], json!([]));
    assert!(started.elapsed() < Duration::from_secs(4), "did not wait");
    // So does the donor's own numbering.
    let donor_head: Value = app
        .get_as(
            &donor,
            &format!("/api/v1/events?topic={topic}&since=0&wait_ms=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    let donor_head = donor_head["last_seq"].as_i64().unwrap();
    let page: Value = app
        .get_as(
            &donor,
            &format!("/api/v1/events?topic={topic}&since=999&wait_ms=5000"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["last_seq"], donor_head, "{page}");

    // A websocket subscribing past the end starts at the end, and gets the next event.
    let mut ws = connect(&app, &holder).await;
    let sub = subscribe(&mut ws, &topic, Some(head + 50)).await;
    assert_eq!(sub["seq"], head, "{sub}");
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 100}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let got = events_until(&mut ws, head + 1, 5).await;
    assert_eq!(got.last().unwrap()["seq"], head + 1);
}

#[tokio::test]
async fn a_subscription_ends_as_soon_as_the_right_behind_it_does() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;

    // The holder gives the card away: their open socket stops following it at once and
    // sees nothing of the new holder's spending.
    let mut ws = connect(&app, &holder).await;
    let topic = format!("card:{id}");
    assert_eq!(subscribe(&mut ws, &topic, None).await["type"], "subscribed");
    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/cards/{id}/transfer"),
            &json!({"recipient_name": "Ana", "recipient_email": "ana@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let msg = next(&mut ws, 5).await;
    assert_eq!(
        (
            msg["type"].as_str(),
            msg["code"].as_str(),
            msg["topic"].as_str()
        ),
        (
            Some("error"),
            Some("subscription_revoked"),
            Some(topic.as_str())
        ),
        "{msg}"
    );
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let new_code = app.code_of(&id).await;
    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": new_code, "amount_minor": 700}),
        )
        .await;
    assert_eq!(res.status(), 201);
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next(&mut ws, 5).await["type"],
        "pong",
        "nothing of the spending"
    );
    // The donor still follows the lifecycle.
    let mut donor_ws = connect(&app, &donor).await;
    assert_eq!(
        subscribe(&mut donor_ws, &topic, None).await["type"],
        "subscribed"
    );

    // A removed staff member's socket ends at once, not a minute later.
    let owner = app.demo_token("partner owner").await;
    let staff = app.register("sam@example.com").await;
    let res = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/staff"),
            &json!({"email": "sam@example.com", "role": "staff"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let staff_id = app
        .get_as(&staff, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let calendar = format!("partner:{partner}:calendar");
    let mut staff_ws = connect(&app, &staff).await;
    assert_eq!(
        subscribe(&mut staff_ws, &calendar, None).await["type"],
        "subscribed"
    );
    let res = delete_as(
        &app,
        &owner,
        &format!("/api/v1/partners/{partner}/staff/{staff_id}"),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(closed_within(&mut staff_ws, 3).await, "staff socket ended");

    // So does a deleted device's.
    let res = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/devices"),
            &json!({"name": "Caisse"}),
        )
        .await;
    let device: Value = res.json().await.unwrap();
    let mut device_ws = connect(&app, device["token"].as_str().unwrap()).await;
    assert_eq!(
        subscribe(&mut device_ws, &calendar, None).await["type"],
        "subscribed"
    );
    let res = delete_as(
        &app,
        &owner,
        &format!(
            "/api/v1/partners/{partner}/devices/{}",
            device["device_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(
        closed_within(&mut device_ws, 3).await,
        "device socket ended"
    );

    // And a session revoked from another one.
    let other = app.relogin("remi@example.com").await;
    let sessions: Value = app
        .get_as(&other, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    let mine = app
        .get_as(&holder, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut holder_ws = connect(&app, &holder).await;
    assert_eq!(
        subscribe(&mut holder_ws, &format!("user:{mine}"), None).await["type"],
        "subscribed"
    );
    for s in sessions.as_array().unwrap() {
        if s["current"] == false {
            let res = delete_as(
                &app,
                &other,
                &format!("/api/v1/me/sessions/{}", s["id"].as_str().unwrap()),
            )
            .await;
            assert_eq!(res.status(), 204);
        }
    }
    assert!(
        closed_within(&mut holder_ws, 3).await,
        "revoked session's socket ended"
    );
    // The donor, whose right did not change, is still there.
    send(&mut donor_ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut donor_ws, 5).await["type"], "pong");
}

/// A Redis server of the test's own, on a port of its own, that it can stop and start.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// `None` when this machine has no `redis-server`.
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.up().await.then_some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn up(&mut self) -> bool {
        let Ok(child) = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let port = self.port;
        eventually(
            "redis-server accepts connections",
            PATIENCE,
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| true)
            },
        )
        .await
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn subscribers(&self) -> i64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("fimy:events")
            .query_async(&mut conn)
            .await
            .unwrap();
        n
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.down();
    }
}

/// `/health/ready`'s status, polled until it is `want` or `secs` pass.
async fn readiness_becomes(app: &TestApp, want: u16, secs: u64) -> (u16, Value) {
    let last = std::sync::Mutex::new((0, Value::Null));
    let found = within_time(Duration::from_secs(secs), || async {
        let res = app.get("/health/ready").await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or_default();
        if status == want {
            return Some((status, body));
        }
        *last.lock().unwrap() = (status, body);
        None
    })
    .await;
    found.unwrap_or_else(|| last.into_inner().unwrap())
}

/// Redis restarted under two nodes (one on SQLite, which cannot share its database):
/// readiness says so while it is away, each node subscribes again within seconds, what
/// was committed meanwhile reaches the other node's subscribers with no gap, and live
/// delivery goes on; a node's own subscribers hear its actions even while Redis is away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_delivery_survives_a_redis_restart() {
    let Some(mut redis) = OwnRedis::start().await else {
        eprintln!("no redis-server on this machine: skipped");
        return;
    };
    let env = vec![("REDIS_URL", redis.url())];
    let a = spawn_with(Options {
        demo_data: true,
        env: env.clone(),
        ..Default::default()
    })
    .await;
    let two_nodes = a.database_url.is_some();
    let b = if two_nodes {
        Some(
            spawn_with(Options {
                database_url: a.database_url.clone(),
                secret_key: Some(a.secret_key.clone()),
                env,
                ..Default::default()
            })
            .await,
        )
    } else {
        None
    };
    // The node the tablet uses: the other one when there are two.
    let acting = b.as_ref().unwrap_or(&a);
    let nodes: Vec<&TestApp> = [Some(&a), b.as_ref()].into_iter().flatten().collect();
    for n in &nodes {
        let (status, body) = readiness_becomes(n, 200, 5).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["event_bus"], "ok", "{body}");
    }
    assert_eq!(redis.subscribers().await, nodes.len() as i64);

    let donor = a.register("donor@example.com").await;
    let holder = a.register("remi@example.com").await;
    let (id, code) = a.delivered_cad_card(&donor, 100_000).await;
    a.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let mut ws = connect(&a, &holder).await;
    let topic = format!("card:{id}");
    let start = subscribe(&mut ws, &topic, None).await["seq"]
        .as_i64()
        .unwrap();
    let tablet = a.demo_token("partner tablet").await;
    let partner = acting.partner_of(&tablet).await;
    let redeem = || async {
        let res = acting
            .post_as(
                &tablet,
                &format!("/api/v1/partners/{partner}/redemptions"),
                &json!({"code": code, "amount_minor": 10}),
            )
            .await;
        assert_eq!(res.status(), 201);
    };
    redeem().await;
    assert_eq!(events_until(&mut ws, start + 1, 5).await.len(), 1);

    // Redis goes away: readiness says so on every node; writes still succeed.
    redis.down();
    for n in &nodes {
        let (status, body) = readiness_becomes(n, 503, 15).await;
        assert_eq!(status, 503, "{body}");
    }
    // A long-poll waiting on the first node through the outage.
    let poll = {
        let url = a.url(&format!(
            "/api/v1/events?topic={topic}&since={}&wait_ms=30000",
            start + 1
        ));
        let holder = holder.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(holder)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // The websocket and now the long-poll follow the card on the first node.
    eventually("the long-poll follows the card", PATIENCE, || async {
        (a.state.hub.followers(&topic) == 2).then_some(())
    })
    .await;
    for _ in 0..5 {
        redeem().await;
    }
    if !two_nodes {
        // One node hears its own actions without Redis.
        let got = events_until(&mut ws, start + 6, 5).await;
        assert_eq!(got.last().unwrap()["seq"], start + 6);
    }

    // Redis comes back (empty, as after a restart): every node subscribes again within
    // seconds and the other node's subscribers get what they missed, in order.
    assert!(redis.up().await);
    for n in &nodes {
        let (status, body) = readiness_becomes(n, 200, 10).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(redis.subscribers().await, nodes.len() as i64);
    let mut seqs: Vec<i64> = if two_nodes {
        events_until(&mut ws, start + 6, 10)
            .await
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    } else {
        Vec::new()
    };
    let polled = tokio::time::timeout(Duration::from_secs(15), poll)
        .await
        .expect("the long-poll answers")
        .unwrap();
    assert_eq!(polled["events"][0]["seq"], start + 2, "{polled}");

    // And delivery goes on, live, through Redis.
    for _ in 0..5 {
        redeem().await;
    }
    seqs.extend(
        events_until(&mut ws, start + 11, 10)
            .await
            .iter()
            .map(|e| e["seq"].as_i64().unwrap()),
    );
    let first = if two_nodes { start + 2 } else { start + 7 };
    assert_eq!(
        seqs,
        (first..=start + 11).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}
