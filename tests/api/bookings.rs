//! Booking slots with gift cards: the whole flow, holds that lapse, cancellation
//! deadlines, rescheduling under contention, daylight-saving changes, and 1,000
//! concurrent attempts that never overbook nor leave anything half-done.

use crate::helpers::*;
use serde_json::{Value, json};

pub struct Venue {
    pub partner: String,
    pub experience: String,
    pub owner: String,
    pub price: i64,
}

/// The demo owner's venue (Bistro du Plateau, Montréal) with its brunch open every day
/// 10:00–18:00 in hourly slots of `capacity` places.
pub async fn venue(app: &TestApp, capacity: u32, extra: Value) -> Venue {
    let owner = app.demo_token("partner owner").await;
    let partner = app.partner_of(&owner).await;
    let list: Value = app
        .get(&format!(
            "/api/v1/experiences?partner_id={partner}&q=brunch"
        ))
        .await
        .json()
        .await
        .unwrap();
    let exp = &list["items"][0];
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "10:00", "end": "18:00"}))
        .collect();
    let mut rules = json!({
        "weekly": weekly,
        "capacity": capacity, "slot_minutes": 60, "min_notice_minutes": 0, "horizon_days": 400,
    });
    for (k, v) in extra.as_object().unwrap() {
        rules[k] = v.clone();
    }
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/partners/{partner}/experiences/{}/availability",
                exp["id"].as_str().unwrap()
            ),
        )
        .bearer_auth(&owner)
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    Venue {
        partner,
        experience: exp["id"].as_str().unwrap().to_owned(),
        owner,
        price: exp["price_minor"].as_i64().unwrap(),
    }
}

/// A registered holder of a claimed CAD value card: (token, card id).
pub async fn holder(app: &TestApp, email: &str, amount: i64) -> (String, String) {
    let donor = app.register(&format!("donor-{email}")).await;
    let bought = app
        .buy_value_card(&donor, amount, json!({"currency": "CAD"}))
        .await;
    let id = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &id, "delivered").await;
    let code = app.code_of(&id).await;
    let token = app.register(email).await;
    assert_eq!(
        app.post_as(&token, "/api/v1/cards/claim", &json!({"code": code}))
            .await
            .status(),
        200
    );
    (token, id)
}

pub async fn slots(app: &TestApp, v: &Venue, days: i64) -> Vec<Value> {
    let now = fimy::clock::Clock::now(&app.clock);
    let (from, to) = (now, now + chrono::Duration::days(days));
    let url = format!(
        "/api/v1/experiences/{}/slots?from={}&to={}",
        v.experience,
        enc(&from.to_rfc3339()),
        enc(&to.to_rfc3339())
    );
    app.get(&url).await.json::<Vec<Value>>().await.unwrap()
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

pub async fn book(
    app: &TestApp,
    token: &str,
    card: &str,
    v: &Venue,
    starts_at: &Value,
) -> reqwest::Response {
    app.post_as(token, "/api/v1/bookings", &json!({"card_id": card, "experience_id": v.experience, "starts_at": starts_at, "party_size": 1})).await
}

pub async fn available(app: &TestApp, token: &str, card: &str) -> i64 {
    app.get_as(token, &format!("/api/v1/cards/{card}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["available_minor"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_recipient_books_confirms_and_cancels_and_the_partner_sees_it_live() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 3, json!({})).await;
    let (token, card) = holder(&app, "remi@example.com", 50_000).await;
    let offered = slots(&app, &v, 5).await;
    let slot = offered
        .iter()
        .find(|s| {
            let at: chrono::DateTime<chrono::Utc> =
                s["starts_at"].as_str().unwrap().parse().unwrap();
            at > fimy::clock::Clock::now(&app.clock) + chrono::Duration::hours(48)
        })
        .unwrap();
    assert_eq!(slot["free"], 3);
    let res = book(&app, &token, &card, &v, &slot["starts_at"]).await;
    assert_eq!(res.status(), 201);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["status"], "held");
    assert!(b["hold_expires_at"].is_string());
    assert_eq!(available(&app, &token, &card).await, 50_000 - v.price);

    let res = app
        .post_as(
            &token,
            &format!("/api/v1/bookings/{}/confirm", b["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "confirmed");

    let cal: Value = app
        .get_as(
            &v.owner,
            &format!(
                "/api/v1/partners/{}/calendar?from={}&to={}",
                v.partner,
                enc(slot["starts_at"].as_str().unwrap()),
                enc(slot["ends_at"].as_str().unwrap())
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let mine = cal["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["starts_at"] == slot["starts_at"] && s["experience_id"] == v.experience.as_str()
        })
        .unwrap();
    assert_eq!(
        (mine["booked"].as_u64(), mine["free"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(cal["bookings"][0]["id"], b["id"]);
    let events: Vec<Value> = app
        .get_as(
            &v.owner,
            &format!("/api/v1/partners/{}/calendar/events", v.partner),
        )
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "booking_changed")
        .map(|e| e["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["held", "confirmed"]);

    let other = app.register("nosy@example.com").await;
    assert_problem(
        app.get_as(
            &other,
            &format!("/api/v1/bookings/{}", b["id"].as_str().unwrap()),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get_as(&other, &format!("/api/v1/partners/{}/calendar", v.partner))
            .await,
        403,
        "forbidden",
    )
    .await;

    let res = app
        .post_as(
            &token,
            &format!("/api/v1/bookings/{}/cancel", b["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(available(&app, &token, &card).await, 50_000);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_unconfirmed_hold_lapses_by_itself_and_gives_everything_back() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 1, json!({})).await;
    let (token, card) = holder(&app, "remi@example.com", 50_000).await;
    let (other, other_card) = holder(&app, "ana@example.com", 50_000).await;
    let slot = slots(&app, &v, 5).await.into_iter().nth(20).unwrap();
    let b: Value = book(&app, &token, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    assert_problem(
        book(&app, &other, &other_card, &v, &slot["starts_at"]).await,
        409,
        "slot_full",
    )
    .await;

    app.clock.advance(chrono::Duration::minutes(6));
    let res = app
        .post_as(
            &token,
            &format!("/api/v1/bookings/{}/confirm", b["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "hold_expired").await;
    assert_eq!(available(&app, &token, &card).await, 50_000);
    let res = book(&app, &other, &other_card, &v, &slot["starts_at"]).await;
    assert_eq!(res.status(), 201, "the lapsed place is free again");

    // Nobody confirms this one: the sweep lets it go (a restart would not change that:
    // the hold's expiry is stored).
    let b2: Value = res.json().await.unwrap();
    app.clock.advance(chrono::Duration::minutes(6));
    let id = b2["id"].as_str().unwrap();
    let mut status = Value::Null;
    for _ in 0..400 {
        status = app
            .get_as(&other, &format!("/api/v1/bookings/{id}"))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"]
            .clone();
        if status == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status, "expired");
    assert_eq!(available(&app, &other, &other_card).await, 50_000);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn cancellation_follows_the_partners_deadline_but_the_partner_may_cancel() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let (token, card) = holder(&app, "remi@example.com", 50_000).await;
    let now = fimy::clock::Clock::now(&app.clock);
    let soon = slots(&app, &v, 3).await.into_iter().find(|s| {
        let at: chrono::DateTime<chrono::Utc> = s["starts_at"].as_str().unwrap().parse().unwrap();
        at < now + chrono::Duration::hours(23)
    });
    let Some(soon) = soon else { return }; // no slot within 23 h (cannot happen with 10:00–18:00 daily)
    let b: Value = book(&app, &token, &card, &v, &soon["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    app.post_as(
        &token,
        &format!("/api/v1/bookings/{id}/confirm"),
        &json!({}),
    )
    .await;
    assert_problem(
        app.post_as(&token, &format!("/api/v1/bookings/{id}/cancel"), &json!({}))
            .await,
        409,
        "cancellation_deadline_passed",
    )
    .await;
    let res = app
        .post_as(
            &v.owner,
            &format!("/api/v1/partners/{}/bookings/{id}/cancel", v.partner),
            &json!({}),
        )
        .await;
    let b: Value = res.json().await.unwrap();
    assert_eq!(
        (b["status"].as_str(), b["cancelled_by"].as_str()),
        (Some("cancelled"), Some("partner"))
    );
    assert_eq!(available(&app, &token, &card).await, 50_000);
}

#[tokio::test]
async fn check_in_captures_and_no_show_waits_for_the_start() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let tablet = app.demo_token("partner tablet").await;
    let (token, card) = holder(&app, "remi@example.com", 50_000).await;
    let list = slots(&app, &v, 5).await;
    let (a, b) = (&list[20], &list[21]);
    let first: Value = book(&app, &token, &card, &v, &a["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let second: Value = book(&app, &token, &card, &v, &b["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    for x in [&first, &second] {
        app.post_as(
            &token,
            &format!("/api/v1/bookings/{}/confirm", x["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    }
    // Check-in opens two hours before the start: move to an hour before.
    let starts: chrono::DateTime<chrono::Utc> = a["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(starts - fimy::clock::Clock::now(&app.clock) - chrono::Duration::hours(1));
    let res = app
        .post_as(
            &tablet,
            &format!(
                "/api/v1/partners/{}/bookings/{}/check-in",
                v.partner,
                first["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "completed");
    let path = format!(
        "/api/v1/partners/{}/bookings/{}/no-show",
        v.partner,
        second["id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&v.owner, &path, &json!({})).await,
        409,
        "booking_state_conflict",
    )
    .await;
    app.clock.advance(chrono::Duration::days(6));
    let owner = app.demo_token("partner owner").await;
    assert_eq!(
        app.post_as(&owner, &path, &json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "no_show"
    );
    let token = app.relogin("remi@example.com").await;
    assert_eq!(available(&app, &token, &card).await, 50_000 - 2 * v.price);
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rescheduling_takes_the_new_place_before_freeing_the_old_even_under_contention() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 1, json!({})).await;
    let list = slots(&app, &v, 5).await;
    let target = list[20]["starts_at"].clone();
    let mut people = Vec::new();
    for (i, s) in [&list[10], &list[11], &list[12], &list[13]]
        .iter()
        .enumerate()
    {
        let (token, card) = holder(&app, &format!("p{i}@example.com"), 50_000).await;
        let b: Value = book(&app, &token, &card, &v, &s["starts_at"])
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
        people.push((token, id, s["starts_at"].clone()));
    }
    let mut tasks = Vec::new();
    for (token, id, _) in &people {
        let (client, url, token, target) = (
            app.client.clone(),
            app.url(&format!("/api/v1/bookings/{id}/reschedule")),
            token.clone(),
            target.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"starts_at": target}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409));
    let now = slots(&app, &v, 5).await;
    for (token, id, original) in &people {
        let b: Value = app
            .get_as(token, &format!("/api/v1/bookings/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(b["status"], "confirmed");
        let place = now
            .iter()
            .find(|s| s["starts_at"] == b["starts_at"])
            .unwrap();
        assert_eq!(
            place["booked"], 1,
            "every booking still has exactly its one place"
        );
        if b["starts_at"] != *original {
            assert_eq!(b["starts_at"], target);
            let old = now.iter().find(|s| s["starts_at"] == *original).unwrap();
            assert_eq!(old["free"], 1, "the old place was given back");
        }
    }
}

#[tokio::test]
async fn slots_stay_at_local_time_across_daylight_saving_in_montreal_and_paris() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({"weekly": [{"weekday": "sun", "start": "09:00", "end": "10:00"}, {"weekday": "mon", "start": "09:00", "end": "10:00"}]})).await;
    // Montréal springs forward on 2027-03-14: Sunday 09:00 is already EDT (13:00Z).
    let url = format!(
        "/api/v1/experiences/{}/slots?from=2027-03-06T00%3A00%3A00Z&to=2027-03-16T00%3A00%3A00Z",
        v.experience
    );
    let got: Vec<Value> = app.get(&url).await.json().await.unwrap();
    let starts: Vec<&str> = got
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2027-03-07T14:00:00Z",
            "2027-03-08T14:00:00Z",
            "2027-03-14T13:00:00Z",
            "2027-03-15T13:00:00Z"
        ]
    );

    // A Paris venue: the demo hammam, with its partner's time zone.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let bains = entities::partner::Entity::find()
        .filter(entities::partner::Column::Slug.eq("bains-du-marais"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let hammam = entities::experience::Entity::find()
        .filter(entities::experience::Column::PartnerId.eq(bains.id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let admin = app.demo_token("admin").await;
    let res = app
        .request(reqwest::Method::PUT, &format!("/api/v1/partners/{}/experiences/{}/availability", bains.id, hammam.id))
        .bearer_auth(&admin)
        .json(&json!({"weekly": [{"weekday": "sun", "start": "01:00", "end": "04:00"}], "capacity": 2, "slot_minutes": 60, "min_notice_minutes": 0, "horizon_days": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Paris springs forward on 2027-03-28 (02:00 → 03:00) and falls back on 2027-10-31.
    let url = format!(
        "/api/v1/experiences/{}/slots?from=2027-03-27T00%3A00%3A00Z&to=2027-03-29T00%3A00%3A00Z",
        hammam.id
    );
    let got: Vec<Value> = app.get(&url).await.json().await.unwrap();
    let starts: Vec<&str> = got
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        ["2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z"],
        "01:00 CET, then 03:00 CEST; 02:00 does not exist"
    );
    let url = format!(
        "/api/v1/experiences/{}/slots?from=2027-10-30T00%3A00%3A00Z&to=2027-11-01T00%3A00%3A00Z",
        hammam.id
    );
    let got: Vec<Value> = app.get(&url).await.json().await.unwrap();
    let starts: Vec<&str> = got
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2027-10-30T23:00:00Z",
            "2027-10-31T00:00:00Z",
            "2027-10-31T02:00:00Z"
        ]
    );
}

#[tokio::test]
async fn bad_rules_and_bookings_are_refused_clearly() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let res = app
        .request(reqwest::Method::PUT, &format!("/api/v1/partners/{}/experiences/{}/availability", v.partner, v.experience))
        .bearer_auth(&v.owner)
        .json(&json!({"weekly": [{"weekday": "funday", "start": "10:00", "end": "12:00"}], "capacity": 2}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "invalid_field").await;
    let tablet = app.demo_token("partner tablet").await;
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/partners/{}/experiences/{}/availability",
                v.partner, v.experience
            ),
        )
        .bearer_auth(&tablet)
        .json(&json!({"weekly": [], "capacity": 2}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "forbidden").await;
    let (token, card) = holder(&app, "remi@example.com", 50_000).await;
    let p = assert_problem(
        book(&app, &token, &card, &v, &json!("2026-01-01T03:17:00Z")).await,
        422,
        "slot_unavailable",
    )
    .await;
    assert_eq!(p["field"], "starts_at");
    let someone = app.register("someone@example.com").await;
    let slot = &slots(&app, &v, 3).await[5];
    assert_problem(
        book(&app, &someone, &card, &v, &slot["starts_at"]).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_booking_attempts_never_overbook_and_leave_nothing_behind() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_demo_app().await;
    let v = venue(&app, 3, json!({})).await;
    let offered: Vec<Value> = slots(&app, &v, 5)
        .await
        .into_iter()
        .skip(8)
        .take(10)
        .collect();
    let mut holders = Vec::new();
    for i in 0..10 {
        holders.push(holder(&app, &format!("h{i}@example.com"), 500_000).await);
    }
    let mut tasks = Vec::new();
    for i in 0..1000usize {
        let (token, card) = holders[i % 10].clone();
        let starts_at = offered[(i * 7) % 10]["starts_at"].clone();
        let (client, url, exp) = (
            app.client.clone(),
            app.url("/api/v1/bookings"),
            v.experience.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"card_id": card, "experience_id": exp, "starts_at": starts_at, "party_size": 1}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{:?}",
        statuses
            .iter()
            .filter(|s| **s != 201 && **s != 409)
            .collect::<Vec<_>>()
    );
    assert_eq!(ok, 30, "10 slots of 3 places, all taken, none twice");

    for s in slots(&app, &v, 5).await.iter().skip(8).take(10) {
        assert_eq!(
            (s["held"].as_u64(), s["free"].as_u64()),
            (Some(3), Some(0)),
            "{s}"
        );
    }
    let rows = entities::booking::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|b| b.status == "held").count(), ok);
    assert_eq!(
        rows.iter().filter(|b| b.status == "failed").count(),
        1000 - ok,
        "every refusal is recorded as failed"
    );
    for (token, card) in &holders {
        let id = uuid::Uuid::parse_str(card).unwrap();
        let held_amount: i64 = rows
            .iter()
            .filter(|b| b.card_id == id && b.status == "held")
            .map(|b| b.amount)
            .sum();
        let view: Value = app
            .get_as(token, &format!("/api/v1/cards/{card}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            view["held_minor"].as_i64().unwrap(),
            held_amount,
            "no authorization outlives its failed booking"
        );
        assert_eq!(
            view["available_minor"].as_i64().unwrap(),
            500_000 - held_amount
        );
    }
    let slot_rows = entities::slot::Entity::find()
        .filter(
            entities::slot::Column::ExperienceId.eq(uuid::Uuid::parse_str(&v.experience).unwrap()),
        )
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(slot_rows.iter().all(|s| s.held + s.booked <= s.capacity));
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_preview_shows_the_slots_the_rules_would_open_without_saving_them() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 2, json!({})).await;
    let rules_url = format!(
        "/api/v1/partners/{}/experiences/{}/availability",
        v.partner, v.experience
    );
    let now = fimy::clock::Clock::now(&app.clock);
    let (from, to) = (now, now + chrono::Duration::days(3));
    let window = format!(
        "from={}&to={}",
        enc(&from.to_rfc3339()),
        enc(&to.to_rfc3339())
    );
    let tomorrow = (now + chrono::Duration::days(1))
        .with_timezone(&chrono_tz::America::Toronto)
        .format("%Y-%m-%d")
        .to_string();
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "12:00"}))
        .collect();
    let rules = json!({
        "weekly": weekly,
        "exceptions": [{"date": tomorrow, "closed": true}],
        "capacity": 4, "slot_minutes": 90, "min_notice_minutes": 0, "horizon_days": 30,
    });
    let res = app
        .post_as(&v.owner, &format!("{rules_url}/preview?{window}"), &rules)
        .await;
    assert_eq!(res.status(), 200);
    let preview: Value = res.json().await.unwrap();
    assert_eq!(preview["rules"]["timezone"], "America/Toronto");
    assert_eq!(preview["rules"]["buffer_minutes"], 0, "defaults filled in");
    let previewed: Vec<String> = preview["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().to_owned())
        .collect();
    // 09:00 and 10:30 each open day; the closed date opens none.
    assert!((2..=6).contains(&previewed.len()), "{previewed:?}");
    assert!(previewed.iter().all(|s| {
        let local = chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono_tz::America::Toronto);
        local.format("%Y-%m-%d").to_string() != tomorrow
            && ["09:00", "10:30"].contains(&local.format("%H:%M").to_string().as_str())
    }));

    // Nothing was saved: the experience keeps its 10:00–18:00 hourly slots…
    let stored: Value = app.get_as(&v.owner, &rules_url).await.json().await.unwrap();
    assert_eq!(stored["weekly"][0]["start"], "10:00");
    assert_eq!(stored["capacity"], 2);
    // …and once saved, the slots offered are the ones previewed.
    let res = app
        .request(reqwest::Method::PUT, &rules_url)
        .bearer_auth(&v.owner)
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let offered: Vec<String> = app
        .get(&format!(
            "/api/v1/experiences/{}/slots?{window}",
            v.experience
        ))
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(offered, previewed);

    // The same checks as saving; tablets manage nothing.
    let p = assert_problem(
        app.post_as(
            &v.owner,
            &format!("{rules_url}/preview"),
            &json!({"weekly": [{"weekday": "mon", "start": "12:00", "end": "10:00"}], "capacity": 2}),
        )
        .await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(p["field"], "end");
    assert_problem(
        app.post_as(
            &v.owner,
            &format!("{rules_url}/preview?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"),
            &rules,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let tablet = app.demo_token("partner tablet").await;
    assert_problem(
        app.post_as(&tablet, &format!("{rules_url}/preview"), &rules)
            .await,
        403,
        "forbidden",
    )
    .await;
}
