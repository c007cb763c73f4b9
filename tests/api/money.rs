//! Money and personal data: declined purchases, refunds the provider does not take at
//! first, currencies that do not match, contributions that must not reveal a card,
//! invisible characters in names and messages, and logs free of personal data.

use crate::bookings::{book, slots, venue};
use crate::helpers::*;
use serde_json::{Value, json};

/// Sandbox test card whose refunds fail `REFUND_FAILURES` times before one succeeds.
const TEST_CARD_REFUNDS_FAIL_FIRST: &str = "4000 0000 0000 5126";

async fn refund_rows(app: &TestApp, admin: &str, card: &str) -> Vec<Value> {
    let page: Value = app
        .get_as(admin, "/api/v1/admin/outbox?limit=100")
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["card_id"] == card && r["channel"] == "refund")
        .cloned()
        .collect()
}

/// Polls until the card's one refund row satisfies `done`; returns it.
async fn refund_row_until(
    app: &TestApp,
    admin: &str,
    card: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let last = std::sync::Mutex::new(Vec::new());
    let found = within_time(PATIENCE, || async {
        let rows = refund_rows(app, admin, card).await;
        let found = (rows.len() == 1 && done(&rows[0])).then(|| rows[0].clone());
        *last.lock().unwrap() = rows;
        found
    })
    .await;
    found.unwrap_or_else(|| panic!("refund row never {what}: {:?}", last.lock().unwrap()))
}

#[tokio::test]
async fn a_refund_the_provider_refuses_at_first_is_retried_until_it_takes_it_once() {
    let app = spawn_demo_app().await;
    let admin = app.demo_token("admin").await;
    let donor = app.register("donor@example.com").await;
    let bought = app
        .buy_value_card(
            &donor,
            5_000,
            json!({"payment": {"method": "test_card", "number": TEST_CARD_REFUNDS_FAIL_FIRST}}),
        )
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let res = app
        .post_as(&donor, &format!("/api/v1/cards/{card}/refund"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);

    // The provider fails: the row waits for its back-off, visible to admins with why.
    let row = refund_row_until(&app, &admin, &card, "failed once", |r| {
        r["attempts"] == 1 && r["status"] == "pending"
    })
    .await;
    assert!(
        row["last_error"].as_str().unwrap().contains("unavailable"),
        "{row}"
    );
    assert_eq!(row["audience"], "provider");
    app.clock.advance(chrono::Duration::hours(2));
    refund_row_until(&app, &admin, &card, "failed twice", |r| {
        r["attempts"] == 2 && r["status"] == "pending"
    })
    .await;
    app.clock.advance(chrono::Duration::hours(2));
    let row = refund_row_until(&app, &admin, &card, "sent", |r| r["status"] == "sent").await;
    assert_eq!(row["attempts"], 2);

    // Taken once: a put-back of a sent row is refused, and the ledger still balances.
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/outbox/{}/retry", row["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_refund_the_provider_refuses_is_dead_lettered_for_an_admin_to_see_and_retry() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_demo_app().await;
    let admin = app.demo_token("admin").await;
    // A demo card, paid outside the sandbox: the provider knows no such payment.
    let card = entities::gift_card::Entity::find()
        .filter(entities::gift_card::Column::Status.eq("partly_used"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let res = app
        .post_as(&admin, &format!("/api/v1/cards/{card}/refund"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let row = refund_row_until(&app, &admin, &card, "dead", |r| r["status"] == "dead").await;
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("No such payment"),
        "{row}"
    );
    let dead: Value = app
        .get_as(&admin, "/api/v1/admin/outbox?status=dead")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        dead["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == row["id"])
    );
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/outbox/{}/retry", row["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Tried again, refused again (every try counts): still there for an operator.
    refund_row_until(&app, &admin, &card, "dead again", |r| {
        r["status"] == "dead" && r["attempts"] == 2
    })
    .await;
}

#[tokio::test]
async fn a_declined_purchase_leaves_no_unpaid_card_in_the_wallet_nor_does_a_lapsed_one() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "value", "amount_minor": 5_000, "currency": "EUR",
                "recipient_name": "Rémi", "recipient_email": "remi@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_DECLINED},
            }),
        )
        .await;
    assert_problem(res, 402, "payment_declined").await;
    let wallet: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wallet["given"].as_array().unwrap().len(), 0, "{wallet}");

    // A 3-D Secure purchase shows while it can still be authenticated, not after.
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "value", "amount_minor": 5_000, "currency": "EUR",
                "recipient_name": "Rémi", "recipient_email": "remi@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_3DS},
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let wallet: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wallet["given"][0]["status"], "pending_payment", "{wallet}");
    app.clock.advance(chrono::Duration::hours(2));
    let wallet: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wallet["given"].as_array().unwrap().len(), 0, "{wallet}");

    // A paid card stays, of course.
    let bought = app.buy_value_card(&donor, 5_000, json!({})).await;
    let id = bought["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, id, "delivered").await;
    let wallet: Value = app
        .get_as(&donor, "/api/v1/wallet")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wallet["given"].as_array().unwrap().len(), 1, "{wallet}");
    assert_eq!(wallet["given"][0]["id"], id);
}

#[tokio::test]
async fn a_eur_card_is_refused_at_a_cad_venue_on_every_spending_path() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await; // Montréal: CAD
    let tablet = app.demo_token("partner tablet").await;
    let donor = app.register("donor@example.com").await;
    let (eur, code) = app.delivered_card(&donor, 20_000).await;
    for path in ["redemptions", "authorizations"] {
        let res = app
            .post_as(
                &tablet,
                &format!("/api/v1/partners/{}/{path}", v.partner),
                &json!({"code": code, "amount_minor": 1_000}),
            )
            .await;
        let p = assert_problem(res, 409, "currency_mismatch").await;
        assert!(p["detail"].as_str().unwrap().contains("EUR"), "{p}");
    }
    let holder = app.register("remi@example.com").await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let slot = &slots(&app, &v, 5).await[10];
    let res = book(&app, &holder, &eur, &v, &slot["starts_at"]).await;
    assert_problem(res, 409, "currency_mismatch").await;
    let card: Value = app
        .get_as(&holder, &format!("/api/v1/cards/{eur}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["available_minor"], 20_000, "nothing debited: {card}");

    // The same amount in the venue's currency passes.
    let cad = app
        .buy_value_card(&donor, 20_000, json!({"currency": "CAD"}))
        .await;
    let cad = cad["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, cad, "delivered").await;
    let res = app
        .post_as(
            &tablet,
            &format!("/api/v1/partners/{}/redemptions", v.partner),
            &json!({"code": app.code_of(cad).await, "amount_minor": 1_000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn contributing_to_someone_elses_card_answers_as_for_no_card() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let (card, _) = app.delivered_card(&donor, 5_000).await;
    let stranger = app.register("stranger@example.com").await;
    let body = json!({"amount_minor": 1_000,
        "payment": {"method": "test_card", "number": TEST_CARD_OK}});
    let theirs = app
        .post_as(
            &stranger,
            &format!("/api/v1/cards/{card}/contributions"),
            &body,
        )
        .await;
    let none = app
        .post_as(
            &stranger,
            &format!("/api/v1/cards/{}/contributions", uuid::Uuid::now_v7()),
            &body,
        )
        .await;
    let (theirs, none) = (
        assert_problem(theirs, 404, "not_found").await,
        assert_problem(none, 404, "not_found").await,
    );
    assert_eq!(theirs["detail"], none["detail"]);
    assert_eq!(theirs["title"], none["title"]);
    // The donor, who knows the card, is still told why.
    let res = app
        .post_as(
            &donor,
            &format!("/api/v1/cards/{card}/contributions"),
            &body,
        )
        .await;
    assert_problem(res, 409, "card_state_conflict").await;
}

#[tokio::test]
async fn names_and_messages_with_bidi_overrides_or_zero_width_characters_are_refused() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    let buy = |name: &str, message: &str| {
        json!({
            "kind": "value", "amount_minor": 5_000, "currency": "EUR",
            "recipient_name": name, "recipient_email": "remi@example.com", "message": message,
            "payment": {"method": "test_card", "number": TEST_CARD_OK},
        })
    };
    for bad in [
        '\u{202E}', '\u{2067}', '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}',
    ] {
        let res = app
            .post_as(
                &donor,
                "/api/v1/cards",
                &buy(&format!("Ré{bad}mi"), "Bon anniversaire"),
            )
            .await;
        let p = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(p["field"], "recipient_name", "{p}");
        let res = app
            .post_as(
                &donor,
                "/api/v1/cards",
                &buy("Rémi", &format!("Bon {bad}anniversaire")),
            )
            .await;
        let p = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(p["field"], "message", "{p}");
        let res = app
            .request(reqwest::Method::PATCH, "/api/v1/me")
            .bearer_auth(&donor)
            .json(&json!({"display_name": format!("Zo{bad}é")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "display name with U+{:04X}", bad as u32);
    }
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &buy("Rémi", "Bon anniversaire\n— Zoé 🎁"),
        )
        .await;
    assert_eq!(res.status(), 201, "a line break and an emoji are fine");
}

#[tokio::test]
async fn booking_messages_with_bidi_overrides_or_zero_width_characters_are_refused() {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let (holder, card) = crate::bookings::holder(&app, "remi@example.com", 20_000).await;
    let slot = &slots(&app, &v, 5).await[10];
    let b: Value = book(&app, &holder, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/bookings/{}/messages", b["id"].as_str().unwrap());
    for bad in ['\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}'] {
        let res = app
            .post_as(&holder, &path, &json!({"body": format!("à 19 h{bad} ?")}))
            .await;
        let p = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(p["field"], "body", "{p}");
    }
    let res = app
        .post_as(&holder, &path, &json!({"body": "Bonjour,\nà 19 h ?"}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

// ---------------------------------------------------------------- logs

/// A log sink the test reads.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_of_a_whole_story_carry_no_personal_data() {
    let log = Captured::default();
    let set_filter = fimy::telemetry::init_with(
        fimy::config::LogFormat::Text,
        tracing_subscriber::EnvFilter::new(fimy::telemetry::DEFAULT_FILTER),
        log.clone(),
    )
    .expect("the only subscriber of this test process");
    let debug = format!(
        "{},fimy=debug,actors=debug,entities=debug,migration=debug",
        fimy::telemetry::DEFAULT_FILTER
    );
    for (filter, story_no) in [(fimy::telemetry::DEFAULT_FILTER.to_owned(), 1), (debug, 2)] {
        set_filter(tracing_subscriber::EnvFilter::new(&filter)).unwrap();
        log.0.lock().unwrap().clear();
        let (card, secrets) = story(story_no).await;
        let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
        assert!(
            text.contains(&card) && text.contains("request served"),
            "the log was captured at {filter}"
        );
        // The filter is the one asked for: a debug line of a Fimy target shows at debug only.
        tracing::debug!(target: "fimy::probe", "probe line");
        let probed = String::from_utf8_lossy(&log.0.lock().unwrap()).contains("probe line");
        assert_eq!(probed, filter.contains("fimy=debug"), "at {filter}");
        for s in secrets {
            assert!(!text.contains(&s), "at {filter}, the log holds {s:?}");
        }
    }
}

/// Purchase, delivery, opening, claim, booking, confirmation, validation by scan: the
/// card's id and every personal value or secret of the story.
async fn story(n: u32) -> (String, Vec<String>) {
    let app = spawn_demo_app().await;
    let v = venue(&app, 4, json!({})).await;
    let donor_email = format!("denise.story{n}@example.com");
    let recipient_email = format!("remi.story{n}@example.com");
    let (name, message) = (
        "Rémi Storyteller",
        "Joyeux anniversaire, mon vieux complice",
    );
    let donor = app.register(&donor_email).await;
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "experience", "experience_id": v.experience, "party_size": 1,
                "recipient_name": name, "recipient_email": recipient_email,
                "message": message,
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
    assert_eq!(
        app.post_json("/api/v1/cards/open", &json!({"code": code}))
            .await
            .status(),
        200
    );
    let holder = app.register(&recipient_email).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    let slot = &slots(&app, &v, 5).await[10];
    let b: Value = book(&app, &holder, &card, &v, &slot["starts_at"])
        .await
        .json()
        .await
        .unwrap();
    let booking = b["id"].as_str().unwrap().to_owned();
    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/bookings/{booking}/confirm"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let starts: chrono::DateTime<chrono::Utc> =
        slot["starts_at"].as_str().unwrap().parse().unwrap();
    let now = fimy::clock::Clock::now(&app.clock);
    app.clock.advance(starts - now - chrono::Duration::hours(1));
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
    assert_eq!(res.status(), 201);
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
    assert_eq!(res.status(), 200);
    app.wait_for_status(&holder, &card, "used").await;
    // The outbox sends the story's emails and pushes.
    app.settle().await;

    let secrets = vec![
        donor_email,
        recipient_email,
        name.to_owned(),
        "Storyteller".to_owned(),
        message.to_owned(),
        "mon vieux complice".to_owned(),
        code.clone(),
        code.replace('-', ""),
        donor,
        holder,
        tablet,
        qr["token"].as_str().unwrap().to_owned(),
    ];
    (card, secrets)
}
