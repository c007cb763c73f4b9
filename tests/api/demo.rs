//! The demo as a new user meets it: every demo experience can be booked in the coming
//! days, and the printed demo card goes from its code to a confirmed booking.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn every_demo_experience_has_bookable_slots_in_the_coming_days() {
    let app = spawn_demo_app().await;
    let list: Value = app
        .get("/api/v1/experiences?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 8, "{list}");
    for e in items {
        let slots: Value = app
            .get(&format!(
                "/api/v1/experiences/{}/slots",
                e["id"].as_str().unwrap()
            ))
            .await
            .json()
            .await
            .unwrap();
        let free = slots
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["free"].as_u64().unwrap() > 0)
            .count();
        // The listing covers the next 7 × 24 hours and a slot needs an hour's notice: a
        // venue with one slot a day (the hotel's arrival) shows 6 of them when the day's
        // slot is less than an hour away, 7 otherwise.
        assert!(free >= 6, "{}: {free} free slots this week", e["title"]);
    }
}

#[tokio::test]
async fn the_printed_demo_card_can_be_claimed_and_booked() {
    let app = spawn_demo_app().await;
    let card = app
        .demo
        .iter()
        .find(|a| a.role.contains("unopened"))
        .expect("the demo card is printed");
    let recipient = app.demo_token("recipient").await;
    let claimed = app
        .post_as(
            &recipient,
            "/api/v1/cards/claim",
            &json!({"code": card.password}),
        )
        .await;
    assert_eq!(claimed.status(), 200, "{}", claimed.text().await.unwrap());
    let got: Value = app
        .get_as(&recipient, &format!("/api/v1/cards/{}", card.email))
        .await
        .json()
        .await
        .unwrap();
    let experience = got["experience_id"]
        .as_str()
        .or_else(|| got["kind"]["experience_id"].as_str())
        .unwrap_or_else(|| panic!("experience card: {got}"))
        .to_owned();
    let slots: Value = app
        .get(&format!("/api/v1/experiences/{experience}/slots"))
        .await
        .json()
        .await
        .unwrap();
    let slot = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["free"].as_u64().unwrap() >= 2)
        .expect("a slot with room for two");
    let booked = app
        .post_as(
            &recipient,
            "/api/v1/bookings",
            &json!({"card_id": card.email, "experience_id": experience, "starts_at": slot["starts_at"]}),
        )
        .await;
    assert_eq!(booked.status(), 201, "{}", booked.text().await.unwrap());
    let booking: Value = booked.json().await.unwrap();
    let confirmed = app
        .post_as(
            &recipient,
            &format!(
                "/api/v1/bookings/{}/confirm",
                booking["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(
        confirmed.status(),
        200,
        "{}",
        confirmed.text().await.unwrap()
    );
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["status"], "confirmed");
}
