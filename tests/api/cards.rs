use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_paid_card_is_issued_by_the_webhook_and_delivered_at_once() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let bought = app
        .buy_value_card(
            &donor,
            5_000,
            json!({"message": "Joyeux anniversaire", "theme": "birthday"}),
        )
        .await;
    assert_eq!(bought["card"]["status"], "pending_payment");
    assert_eq!(bought["payment"]["status"], "processing");
    let id = bought["card"]["id"].as_str().unwrap();
    let card = app.wait_for_status(&donor, id, "delivered").await;
    assert_eq!(card["access"], "donor");
    assert_eq!(card["face_value_minor"], 5_000);
    assert!(
        card.get("available_minor").is_none(),
        "donors do not see the balance"
    );
    let events: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events["items"]
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
            "card_delivered"
        ]
    );
    assert!(
        events["items"][1].get("data").is_none(),
        "donors see kinds, not data"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_experience_card_costs_the_price_times_the_party() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let page: Value = app
        .get("/api/v1/experiences?q=hammam")
        .await
        .json()
        .await
        .unwrap();
    let exp = &page["items"][0];
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "experience", "experience_id": exp["id"], "party_size": 2,
                "recipient_name": "Ana", "recipient_email": "ana@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_OK},
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["card"]["face_value_minor"],
        exp["price_minor"].as_i64().unwrap() * 2
    );
    assert_eq!(body["card"]["currency"], "EUR");
    assert_eq!(body["card"]["kind"], "experience");
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "experience", "experience_id": exp["id"], "party_size": 99,
                "recipient_name": "Ana", "recipient_email": "ana@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_OK},
            }),
        )
        .await;
    assert_problem(res, 422, "invalid_field").await;
}

#[tokio::test]
async fn a_declined_payment_issues_nothing() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "value", "amount_minor": 5_000, "currency": "EUR",
                "recipient_name": "R", "recipient_email": "r@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_DECLINED},
            }),
        )
        .await;
    assert_problem(res, 402, "payment_declined").await;
    // Whatever the decline announced has been handled, and the workers have run.
    app.settle().await;
    assert_eq!(
        entities::ledger_entry::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    let wallet: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    // A declined purchase is no card in the wallet (see money.rs).
    assert_eq!(wallet["given"].as_array().unwrap().len(), 0, "{wallet}");
}

#[tokio::test]
async fn a_payment_needing_authentication_completes_after_it() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "value", "amount_minor": 5_000, "currency": "EUR",
                "recipient_name": "R", "recipient_email": "r@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_3DS},
            }),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["payment"]["status"], "requires_action");
    let url = body["payment"]["next_action_url"].as_str().unwrap();
    let id = body["card"]["id"].as_str().unwrap();
    app.settle().await;
    let card: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["status"], "pending_payment");
    let res = app.post_as(&donor, url, &json!({"succeed": true})).await;
    assert_eq!(res.status(), 200);
    app.wait_for_status(&donor, id, "delivered").await;
}

#[tokio::test]
async fn webhooks_must_be_signed_and_a_replayed_one_credits_once() {
    let app = spawn_app().await;
    let res = app
        .request(reqwest::Method::POST, "/api/v1/payments/webhook")
        .header("stripe-signature", "t=1,v1=deadbeef")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_signature").await;

    let donor = app.register("donor@example.com").await;
    let (id, _) = app.delivered_card(&donor, 5_000).await;
    // Replay the provider's success event for that payment, signed correctly.
    use sea_orm::EntityTrait;
    let pay = entities::payment::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let payload = json!({
        "id": "evt_replayed_1", "object": "event", "created": chrono::Utc::now().timestamp(),
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": pay.provider_payment_id, "object": "payment_intent", "amount": 5000,
            "amount_received": 5000, "currency": "eur", "status": "succeeded",
            "metadata": {"fimy_reference": pay.id.to_string()}}}
    })
    .to_string();
    let t = fimy::clock::Clock::now(&app.clock).timestamp();
    let sig =
        fimy::payments::webhook_signature::sign(payload.as_bytes(), sandbox.webhook_secret(), t);
    for _ in 0..2 {
        let res = app
            .request(reqwest::Method::POST, "/api/v1/payments/webhook")
            .header("stripe-signature", &sig)
            .body(payload.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let events: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let payments = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment_received")
        .count();
    assert_eq!(payments, 1);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn opening_by_code_tells_the_donor_and_typos_are_caught_before_lookup() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, code) = app.delivered_card(&donor, 5_000).await;

    let mut typo = code.clone().into_bytes();
    typo[0] = if typo[0] == b'7' { b'8' } else { b'7' };
    let res = app
        .post_json(
            "/api/v1/cards/open",
            &json!({"code": String::from_utf8(typo).unwrap()}),
        )
        .await;
    assert_problem(res, 422, "invalid_code").await;

    let opened: Value = app
        .post_json(
            "/api/v1/cards/open",
            &json!({"code": code.to_lowercase().replace('-', " ")}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(opened["status"], "opened");
    assert_eq!(opened["available_minor"], 5_000);
    let card = app.wait_for_status(&donor, &id, "opened").await;
    assert!(card["opened_at"].is_string());

    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let told = entities::outbox::Entity::find()
        .filter(entities::outbox::Column::Kind.eq("card_opened"))
        .filter(entities::outbox::Column::Audience.eq("donor"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        told.len(),
        2,
        "email and push to the donor, written with the event"
    );
}

#[tokio::test]
async fn wrong_codes_look_like_missing_ones_and_are_rate_limited() {
    let app = spawn_app().await;
    // Well-formed codes (valid check character) that match no card.
    let mut answers = Vec::new();
    for _ in 0..5 {
        let code = actors::code::CardCode::generate(&mut rand::rngs::OsRng).to_string();
        let res = app
            .post_json("/api/v1/cards/open", &json!({"code": code}))
            .await;
        answers.push(assert_problem(res, 404, "not_found").await["detail"].clone());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let code = actors::code::CardCode::generate(&mut rand::rngs::OsRng).to_string();
    let res = app
        .post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_claimed_card_shows_in_both_wallets_with_what_each_may_see() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let recipient = app.register("remi@example.com").await;
    let (id, code) = app.delivered_card(&donor, 7_000).await;
    let res = app
        .post_as(&recipient, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let theirs: Value = app
        .get_as(&recipient, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["received"][0]["id"], id.as_str());
    assert_eq!(theirs["received"][0]["available_minor"], 7_000);
    let mine: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["given"][0]["status"], "opened");
    assert!(mine["given"][0].get("available_minor").is_none());
    let stranger = app.register("other@example.com").await;
    assert_problem(
        app.get_as(&stranger, &format!("/api/v1/cards/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post_as(&stranger, "/api/v1/cards/claim", &json!({"code": code}))
            .await,
        422,
        "invalid_field",
    )
    .await;
}

#[tokio::test]
async fn partners_redeem_and_hold_value_and_donors_see_only_used() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let owner = app.demo_token("partner owner").await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&owner).await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;

    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 2_500}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let spent: Value = res.json().await.unwrap();
    assert_eq!(spent["available_minor"], 7_500);

    let res = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 9_000}),
        )
        .await;
    assert_problem(res, 409, "insufficient_balance").await;
    let res = app
        .post_as(
            &donor,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 100}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;

    let held: Value = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/authorizations"),
            &json!({"code": code, "amount_minor": 3_000}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["available_minor"], 4_500);
    let hold = held["hold_id"].as_str().unwrap();
    let released: Value = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/authorizations/{hold}/release"),
            &json!({"card_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(released["available_minor"], 7_500);
    let again = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/authorizations/{hold}/capture"),
            &json!({"card_id": id}),
        )
        .await;
    assert_problem(again, 404, "unknown_hold").await;

    let held: Value = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/authorizations"),
            &json!({"code": code, "amount_minor": 7_500}),
        )
        .await
        .json()
        .await
        .unwrap();
    let hold = held["hold_id"].as_str().unwrap();
    let captured = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/authorizations/{hold}/capture"),
            &json!({"card_id": id}),
        )
        .await;
    assert_eq!(captured.status(), 200);
    let card = app.wait_for_status(&donor, &id, "used").await;
    assert!(card.get("available_minor").is_none());
    let events: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["kind"].as_str().unwrap().contains("redeemed")
                && !e["kind"].as_str().unwrap().contains("authoriz")),
        "the donor does not see where or how much: {events}"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_card_restricted_to_one_partner_is_refused_elsewhere() {
    use sea_orm::{EntityTrait, QueryOrder};
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let owner = app.demo_token("partner owner").await;
    let partners = entities::partner::Entity::find()
        .order_by_asc(entities::partner::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap();
    let (own, other) = (partners[0].id, partners[1].id);
    let bought = app
        .buy_value_card(&donor, 5_000, json!({"partner_id": other}))
        .await;
    let id = bought["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, id, "delivered").await;
    let code = app.code_of(id).await;
    let res = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{own}/redemptions"),
            &json!({"code": code, "amount_minor": 100}),
        )
        .await;
    assert_problem(res, 403, "wrong_partner").await;
}

#[tokio::test]
async fn a_transfer_gives_a_new_code_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let (id, old) = app.delivered_card(&donor, 5_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": old}))
        .await;
    let res = app
        .post_as(
            &donor,
            &format!("/api/v1/cards/{id}/transfer"),
            &json!({"recipient_name": "Ana", "recipient_email": "ana@example.com"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/cards/{id}/transfer"),
            &json!({"recipient_name": "Ana", "recipient_email": "ana@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new = app.code_of(&id).await;
    assert_ne!(new, old);
    assert_problem(
        app.post_json("/api/v1/cards/open", &json!({"code": old}))
            .await,
        404,
        "not_found",
    )
    .await;
    let opened: Value = app
        .post_json("/api/v1/cards/open", &json!({"code": new}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(opened["recipient_name"], "Ana");
    assert_eq!(opened["available_minor"], 5_000);
    assert_problem(
        app.get_as(&holder, &format!("/api/v1/cards/{id}")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_till_that_just_used_a_code_cannot_spend_with_it_after_a_transfer() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let holder = app.register("remi@example.com").await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let (id, old) = app.delivered_cad_card(&donor, 5_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": old}))
        .await;
    let spend = |code: &str, path: &str| {
        let (url, body) = (
            format!("/api/v1/partners/{partner}/{path}"),
            json!({"code": code, "amount_minor": 100}),
        );
        let (app, tablet) = (&app, &tablet);
        async move { app.post_as(tablet, &url, &body).await }
    };
    // The till has used the code (the node now knows which card it is).
    assert_eq!(spend(&old, "redemptions").await.status(), 201);
    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/cards/{id}/transfer"),
            &json!({"recipient_name": "Ana", "recipient_email": "ana@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_problem(spend(&old, "redemptions").await, 404, "not_found").await;
    assert_problem(spend(&old, "authorizations").await, 404, "not_found").await;
    let new = app.code_of(&id).await;
    let res = spend(&new, "redemptions").await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let card: Value = res.json().await.unwrap();
    assert_eq!(card["available_minor"], 4_800, "the old code spent nothing");
}

#[tokio::test]
async fn the_free_extension_works_once_near_expiry() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, _) = app.delivered_card(&donor, 5_000).await;
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{id}/extend"), &json!({}))
        .await;
    assert_problem(res, 409, "extension_not_allowed").await;
    app.clock.advance(chrono::Duration::days(350));
    let donor = app.relogin("donor@example.com").await;
    let before: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{id}/extend"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    let (b, a): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = (
        before["expires_at"].as_str().unwrap().parse().unwrap(),
        after["expires_at"].as_str().unwrap().parse().unwrap(),
    );
    assert_eq!(a - b, chrono::Duration::days(90));
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{id}/extend"), &json!({}))
        .await;
    assert_problem(res, 409, "extension_not_allowed").await;
}

#[tokio::test]
async fn cards_expire_by_themselves_and_their_rest_is_breakage() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, code) = app.delivered_card(&donor, 5_000).await;
    app.clock.advance(chrono::Duration::days(366));
    let donor = app.relogin("donor@example.com").await;
    app.wait_for_status(&donor, &id, "expired").await;
    let opened: Value = app
        .post_json("/api/v1/cards/open", &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(opened["available_minor"], 0);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let breakage: i64 = entities::ledger_entry::Entity::find()
        .filter(entities::ledger_entry::Column::Account.eq("platform:breakage"))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|l| l.amount)
        .sum();
    assert_eq!(breakage, -5_000);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_scheduled_gift_waits_for_its_time_in_the_recipients_zone() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let now = fimy::clock::Clock::now(&app.clock);
    let local = (now + chrono::Duration::days(2)).with_timezone(&chrono_tz::Europe::Paris);
    let bought = app
        .buy_value_card(
            &donor,
            5_000,
            json!({
                "deliver_at": local.format("%Y-%m-%dT%H:%M").to_string(),
                "recipient_timezone": "Europe/Paris",
            }),
        )
        .await;
    let id = bought["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, id, "issued").await;
    app.settle().await;
    let card: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["status"], "issued", "not before its time");
    let at: chrono::DateTime<chrono::Utc> = card["deliver_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (at - (now + chrono::Duration::days(2))).num_seconds().abs() < 60,
        "read in Paris time"
    );
    app.clock.advance(chrono::Duration::days(2));
    app.wait_for_status(&donor, id, "delivered").await;
}

#[tokio::test]
async fn the_donor_refunds_an_unopened_card_but_not_an_opened_one() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (id, _) = app.delivered_card(&donor, 5_000).await;
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{id}/refund"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "refunded");
    let (id2, code2) = app.delivered_card(&donor, 5_000).await;
    app.post_json("/api/v1/cards/open", &json!({"code": code2}))
        .await;
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{id2}/refund"), &json!({}))
        .await;
    assert_problem(res, 403, "forbidden").await;
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_group_gift_collects_contributions_refundable_until_delivery() {
    let app = spawn_app().await;
    let organizer = app.register("org@example.com").await;
    let friend = app.register("friend@example.com").await;
    let later = fimy::clock::Clock::now(&app.clock) + chrono::Duration::days(30);
    let bought = app
        .buy_value_card(
            &organizer,
            3_000,
            json!({"group": true, "deliver_at": later.to_rfc3339()}),
        )
        .await;
    let id = bought["card"]["id"].as_str().unwrap();
    app.wait_for_status(&organizer, id, "issued").await;
    let res = app
        .post_as(&friend, &format!("/api/v1/cards/{id}/contributions"), &json!({"amount_minor": 2_000, "payment": {"method": "test_card", "number": TEST_CARD_OK}}))
        .await;
    assert_eq!(res.status(), 201);
    let contribution = res.json::<Value>().await.unwrap()["contribution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let card: Value = eventually("the contribution is counted", PATIENCE, || async {
        let card: Value = app
            .get_as(&organizer, &format!("/api/v1/cards/{id}"))
            .await
            .json()
            .await
            .unwrap();
        (card["face_value_minor"] == 5_000).then_some(card)
    })
    .await;
    assert_eq!(card["face_value_minor"], 5_000);
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/cards/{id}/contributions/{contribution}"),
        )
        .bearer_auth(&organizer)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "unknown_contribution").await;
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/cards/{id}/contributions/{contribution}"),
        )
        .bearer_auth(&friend)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["face_value_minor"],
        3_000
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn admins_block_and_unblock_cards() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let admin = app.demo_token("admin").await;
    let owner = app.demo_token("partner owner").await;
    let partner = app.partner_of(&owner).await;
    let (id, code) = app.delivered_card(&donor, 5_000).await;
    assert_problem(
        app.post_as(
            &donor,
            &format!("/api/v1/admin/cards/{id}/block"),
            &json!({"reason": "x"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/cards/{id}/block"),
            &json!({"reason": "chargeback"}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "blocked");
    let res = app
        .post_as(
            &owner,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 100}),
        )
        .await;
    assert_problem(res, 409, "card_state_conflict").await;
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/cards/{id}/unblock"),
            &json!({}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "delivered");
}

#[tokio::test]
async fn bad_purchases_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let base = json!({"kind": "value", "amount_minor": 5_000, "currency": "EUR", "recipient_name": "R",
        "recipient_email": "r@example.com", "payment": {"method": "test_card", "number": TEST_CARD_OK}});
    for (patch, field) in [
        (json!({"amount_minor": 10}), "amount_minor"),
        (json!({"currency": "XXX"}), "currency"),
        (json!({"recipient_email": "nope"}), "recipient_email"),
        (json!({"theme": "neon"}), "theme"),
        (json!({"kind": "voucher"}), "kind"),
        (
            json!({"deliver_at": "2026-12-24T08:00"}),
            "recipient_timezone",
        ),
        (json!({"deliver_at": "tomorrow"}), "deliver_at"),
        (
            json!({"payment": {"method": "stripe", "payment_method_id": "pm_1"}}),
            "payment",
        ),
    ] {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let p = assert_problem(
            app.post_as(&donor, "/api/v1/cards", &body).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(p["field"], field, "{patch}");
    }
    assert_problem(
        app.post_json("/api/v1/cards", &base).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_refund_to_several_payers_notifies_each_once() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_demo_app().await;
    let organizer = app.register("org@example.com").await;
    let friend = app.register("friend@example.com").await;
    let later = fimy::clock::Clock::now(&app.clock) + chrono::Duration::days(30);
    let bought = app
        .buy_value_card(
            &organizer,
            3_000,
            json!({"group": true, "deliver_at": later.to_rfc3339()}),
        )
        .await;
    let id = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&organizer, &id, "issued").await;
    let res = app
        .post_as(&friend, &format!("/api/v1/cards/{id}/contributions"), &json!({"amount_minor": 2_000, "payment": {"method": "test_card", "number": TEST_CARD_OK}}))
        .await;
    assert_eq!(res.status(), 201);
    eventually("the contribution is counted", PATIENCE, || async {
        let c: Value = app
            .get_as(&organizer, &format!("/api/v1/cards/{id}"))
            .await
            .json()
            .await
            .unwrap();
        (c["face_value_minor"] == 5_000).then_some(())
    })
    .await;
    let res = app
        .post_as(
            &organizer,
            &format!("/api/v1/cards/{id}/refund"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let rows = entities::outbox::Entity::find()
        .filter(entities::outbox::Column::Kind.eq("refund_issued"))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut payers: Vec<_> = rows.iter().filter_map(|r| r.user_id).collect();
    payers.sort();
    payers.dedup();
    assert_eq!(
        (rows.len(), payers.len()),
        (2, 2),
        "one refund email to each payer"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_busy_till_is_never_capped_but_its_guesses_are() {
    let app = spawn_demo_app().await;
    let donor = app.register("donor@example.com").await;
    let (_, code) = app.delivered_cad_card(&donor, 100_000).await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let url = format!("/api/v1/partners/{partner}/redemptions");
    // Far more honest lookups than any per-minute cap: all go through.
    for _ in 0..60 {
        let res = app
            .post_as(&tablet, &url, &json!({"code": code, "amount_minor": 1}))
            .await;
        assert_eq!(res.status(), 201);
    }
    // Guesses (well-formed codes that match nothing) are still capped.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let guess = fimy_test_code();
        let res = app
            .post_as(&tablet, &url, &json!({"code": guess, "amount_minor": 1}))
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[404; 10], "{statuses:?}");
    assert_eq!(statuses[10], 429, "{statuses:?}");
    // And once over, even the right code waits: the till is told when to try again.
    let res = app
        .post_as(&tablet, &url, &json!({"code": code, "amount_minor": 1}))
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

/// A well-formed code (valid check character) that no card has.
fn fimy_test_code() -> String {
    actors::code::CardCode::generate(&mut rand::thread_rng()).to_string()
}

#[tokio::test]
async fn the_venue_reads_a_value_cards_balance_by_its_code_before_spending() {
    use sea_orm::{EntityTrait, QueryOrder};
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let (id, code) = app.delivered_cad_card(&donor, 10_000).await;
    let balance_url = format!("/api/v1/partners/{partner}/card-balance");

    let seen: Value = app
        .post_as(&tablet, &balance_url, &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["card_id"], id.as_str());
    assert_eq!(seen["kind"], "value");
    assert_eq!(seen["status"], "delivered");
    assert_eq!(seen["currency"], "CAD");
    assert_eq!(seen["available_minor"], 10_000);
    assert!(seen.get("recipient_name").is_none() && seen.get("message").is_none());

    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{partner}/redemptions"),
            &json!({"code": code, "amount_minor": 2_500}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let seen: Value = app
        .post_as(&tablet, &balance_url, &json!({"code": code.to_lowercase()}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["available_minor"], 7_500);
    assert_eq!(seen["status"], "partly_used");

    // Only the venue's staff; a malformed code names the field; an unknown one is 404.
    assert_problem(
        app.post_as(&donor, &balance_url, &json!({"code": code}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let p = assert_problem(
        app.post_as(&tablet, &balance_url, &json!({"code": "nope"}))
            .await,
        422,
        "invalid_code",
    )
    .await;
    assert_eq!(p["field"], "code");
    let unknown = actors::code::CardCode::generate(&mut rand::rngs::OsRng).to_string();
    assert_problem(
        app.post_as(&tablet, &balance_url, &json!({"code": unknown}))
            .await,
        404,
        "not_found",
    )
    .await;

    // A card for another venue only is not this venue's to read.
    let partners = entities::partner::Entity::find()
        .order_by_asc(entities::partner::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap();
    let other = partners
        .iter()
        .find(|p| p.id.to_string() != partner)
        .unwrap()
        .id;
    let bought = app
        .buy_value_card(
            &donor,
            5_000,
            json!({"currency": "CAD", "partner_id": other}),
        )
        .await;
    let theirs = bought["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, theirs, "delivered").await;
    let code = app.code_of(theirs).await;
    assert_problem(
        app.post_as(&tablet, &balance_url, &json!({"code": code}))
            .await,
        403,
        "wrong_partner",
    )
    .await;
}
