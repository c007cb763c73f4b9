//! `fimy audit verify` passes on honest data and names the card and event of any
//! tampering done directly in the database.

use crate::helpers::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// A card with some history: bought, opened, partly spent.
async fn card_with_history(app: &TestApp) -> uuid::Uuid {
    let donor = app.register("donor@example.com").await;
    let (id, code) = app.delivered_card(&donor, 9_000).await;
    app.post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    let card = uuid::Uuid::parse_str(&id).unwrap();
    let now = fimy::clock::Clock::now(&app.clock);
    app.state
        .registry
        .send(
            card,
            actors::giftcard::Command::Redeem {
                code_version: None,
                amount: 1_000,
                currency: actors::Currency::Eur,
                partner_id: uuid::Uuid::now_v7(),
                commission_bps: 1500,
                reference: uuid::Uuid::now_v7(),
                now,
            },
        )
        .await
        .unwrap();
    card
}

async fn events(app: &TestApp, card: uuid::Uuid) -> Vec<entities::card_event::Model> {
    entities::card_event::Entity::find()
        .filter(entities::card_event::Column::CardId.eq(card))
        .order_by_asc(entities::card_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn findings(app: &TestApp) -> Vec<fimy::app::audit::Finding> {
    fimy::app::audit::verify(&app.state.db)
        .await
        .unwrap()
        .findings
}

#[tokio::test]
async fn a_modified_event_is_named() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    app.assert_audit_clean().await;
    let e = &events(&app, card).await[5];
    let data = e.data.replace("1000", "10");
    entities::card_event::ActiveModel {
        id: Set(e.id),
        data: Set(data),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(
        (f[0].card_id(), f[0].seq),
        (Some(card), Some(e.seq)),
        "{f:?}"
    );
    assert!(f[0].problem.contains("modified"));
}

#[tokio::test]
async fn a_removed_event_is_named() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    let evs = events(&app, card).await;
    entities::ledger_entry::Entity::delete_many()
        .filter(entities::ledger_entry::Column::EventId.eq(evs[2].id))
        .exec(&app.state.db)
        .await
        .unwrap();
    entities::card_event::Entity::delete_by_id(evs[2].id)
        .exec(&app.state.db)
        .await
        .unwrap();
    let f = findings(&app).await;
    assert_eq!(
        (f[0].card_id(), f[0].seq),
        (Some(card), Some(4)),
        "the break shows at the next event: {f:?}"
    );

    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    let last = events(&app, card).await.pop().unwrap();
    entities::ledger_entry::Entity::delete_many()
        .filter(entities::ledger_entry::Column::EventId.eq(last.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    entities::card_event::Entity::delete_by_id(last.id)
        .exec(&app.state.db)
        .await
        .unwrap();
    let f = findings(&app).await;
    assert!(
        f.iter()
            .any(|x| x.card_id() == Some(card) && x.problem.contains("removed")),
        "{f:?}"
    );
}

#[tokio::test]
async fn reordered_and_inserted_events_are_named() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    let evs = events(&app, card).await;
    // Swap two events' places in the sequence.
    let (a, b) = (&evs[3], &evs[4]);
    entities::card_event::ActiveModel {
        id: Set(a.id),
        seq: Set(1000),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    entities::card_event::ActiveModel {
        id: Set(b.id),
        seq: Set(a.seq),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    entities::card_event::ActiveModel {
        id: Set(a.id),
        seq: Set(b.seq),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(
        (f[0].card_id(), f[0].seq),
        (Some(card), Some(a.seq)),
        "{f:?}"
    );

    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    let last = events(&app, card).await.pop().unwrap();
    entities::card_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        card_id: Set(card),
        seq: Set(last.seq + 1),
        kind: Set("card_opened".into()),
        data: Set("{}".into()),
        at: Set(last.at),
        prev_hash: Set(last.hash.clone()),
        hash: Set("f".repeat(64)),
        donor_seq: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(
        (f[0].card_id(), f[0].seq),
        (Some(card), Some(last.seq + 1)),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_tampered_ledger_line_or_balance_is_named() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    let line = entities::ledger_entry::Entity::find()
        .filter(entities::ledger_entry::Column::CardId.eq(card))
        .filter(entities::ledger_entry::Column::Account.starts_with("card:"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    entities::ledger_entry::ActiveModel {
        id: Set(line.id),
        amount: Set(line.amount - 500),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert!(f.iter().all(|x| x.card_id() == Some(card)));
    assert!(
        f.iter().any(|x| x.problem.contains("does not balance")),
        "{f:?}"
    );

    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    entities::gift_card::ActiveModel {
        id: Set(card),
        available: Set(99_999),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert!(
        f.iter()
            .any(|x| x.card_id() == Some(card) && x.problem.contains("differ")),
        "{f:?}"
    );
}

#[test]
fn the_command_passes_on_a_fresh_database_and_fails_on_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fimy"));
        for var in ["DATABASE_URL", "REDIS_URL", "FIMY_SECRET_KEY"] {
            cmd.env_remove(var);
        }
        cmd.env("FIMY_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["seed"]).status.success());
    let ok = run(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("all consistent"));

    // Tamper with the SQLite file directly.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tampered_card = rt.block_on(async {
        use sea_orm::{ConnectionTrait, Database};
        let db = Database::connect(format!("sqlite://{}/fimy.db", dir.path().display()))
            .await
            .unwrap();
        let e = entities::card_event::Entity::find()
            .filter(entities::card_event::Column::Seq.eq(2))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        db.execute_unprepared(&format!(
            "UPDATE card_events SET kind = 'card_opened' WHERE seq = 2 AND hash = '{}'",
            e.hash
        ))
        .await
        .unwrap();
        e.card_id
    });
    let bad = run(&["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(
        out.contains(&format!("card {tampered_card}, event 2")),
        "{out}"
    );
}

/// A booked slot at the demo venue: (slot id, partner id). Its slot and the partner's
/// calendar both have a history.
async fn booked_slot(app: &TestApp) -> (uuid::Uuid, uuid::Uuid) {
    let venue = crate::bookings::venue(app, 4, json!({})).await;
    let (holder, card) = crate::bookings::holder(app, "holder@example.com", 20_000).await;
    let slots: serde_json::Value = app
        .get(&format!("/api/v1/experiences/{}/slots", venue.experience))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(
            &holder,
            "/api/v1/bookings",
            &json!({"card_id": card, "experience_id": venue.experience,
                    "starts_at": slots[0]["starts_at"]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let b: serde_json::Value = res.json().await.unwrap();
    let confirmed = app
        .post_as(
            &holder,
            &format!("/api/v1/bookings/{}/confirm", b["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let id = |v: &serde_json::Value| uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
    (id(&slots[0]["slot_id"]), id(&b["partner_id"]))
}

async fn slot_events(app: &TestApp, slot: uuid::Uuid) -> Vec<entities::slot_event::Model> {
    entities::slot_event::Entity::find()
        .filter(entities::slot_event::Column::SlotId.eq(slot))
        .order_by_asc(entities::slot_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_modified_slot_event_is_named() {
    let app = spawn_demo_app().await;
    let (slot, _) = booked_slot(&app).await;
    app.assert_audit_clean().await;
    let evs = slot_events(&app, slot).await;
    let e = evs
        .iter()
        .find(|e| e.data.contains("\"party\":1"))
        .expect("a hold for one");
    entities::slot_event::ActiveModel {
        id: Set(e.id),
        data: Set(e.data.replace("\"party\":1", "\"party\":2")),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].id, f[0].seq),
        (fimy::app::audit::Kind::Slot, Some(slot), Some(e.seq))
    );
    assert!(f[0].problem.contains("modified"), "{f:?}");
}

#[tokio::test]
async fn a_removed_slot_event_and_a_changed_counter_are_named() {
    let app = spawn_demo_app().await;
    let (slot, _) = booked_slot(&app).await;
    let evs = slot_events(&app, slot).await;
    let last = evs.last().unwrap();
    entities::slot_event::Entity::delete_by_id(last.id)
        .exec(&app.state.db)
        .await
        .unwrap();
    let f = findings(&app).await;
    assert!(
        f.iter()
            .any(|x| x.kind == fimy::app::audit::Kind::Slot && x.problem.contains("removed")),
        "{f:?}"
    );

    // A fresh installation: the counter the booking queries read is changed by hand.
    let app = spawn_demo_app().await;
    let (slot, _) = booked_slot(&app).await;
    entities::slot::ActiveModel {
        id: Set(slot),
        booked: Set(0),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].id),
        (fimy::app::audit::Kind::Slot, Some(slot))
    );
    assert!(f[0].problem.contains("booked"), "{f:?}");
}

#[tokio::test]
async fn a_tampered_calendar_is_named() {
    let app = spawn_demo_app().await;
    let (_, partner) = booked_slot(&app).await;
    app.assert_audit_clean().await;
    let events = entities::calendar_event::Entity::find()
        .filter(entities::calendar_event::Column::PartnerId.eq(partner))
        .order_by_asc(entities::calendar_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(events.len() >= 2, "rules and a booking");
    let e = &events[events.len() - 1];
    entities::calendar_event::ActiveModel {
        id: Set(e.id),
        kind: Set("rules_removed".to_owned()),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].id, f[0].seq),
        (fimy::app::audit::Kind::Calendar, Some(partner), Some(e.seq))
    );

    // The snapshot alone rewritten (say, capacity raised in the stored rules).
    let app = spawn_demo_app().await;
    let (_, partner) = booked_slot(&app).await;
    let cal = entities::calendar::Entity::find_by_id(partner)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(cal.state.contains("\"capacity\":4"), "{}", cal.state);
    entities::calendar::ActiveModel {
        partner_id: Set(partner),
        state: Set(cal.state.replace("\"capacity\":4", "\"capacity\":40")),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].id),
        (fimy::app::audit::Kind::Calendar, Some(partner))
    );
    assert!(f[0].problem.contains("stored state"), "{f:?}");
}

#[tokio::test]
async fn a_hidden_event_numbered_for_the_donor_is_named() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    app.assert_audit_clean().await;
    // The redemption is not the donor's to see: giving it a donor number would show them
    // that something happened.
    let evs = events(&app, card).await;
    let spend = evs
        .iter()
        .find(|e| e.kind == "amount_redeemed")
        .expect("a redemption");
    assert_eq!(spend.donor_seq, None);
    entities::card_event::ActiveModel {
        id: Set(spend.id),
        donor_seq: Set(Some(99)),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let f = findings(&app).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].card_id(), f[0].seq), (Some(card), Some(spend.seq)));
    assert!(f[0].problem.contains("donor numbering"), "{f:?}");
}

#[tokio::test]
async fn the_audit_reads_a_consistent_picture_while_cards_are_spent() {
    let app = spawn_app().await;
    let card = card_with_history(&app).await;
    app.assert_audit_clean().await;
    let state = app.state.clone();
    let spender = tokio::spawn(async move {
        for _ in 0..60 {
            let now = state.clock.now();
            state
                .registry
                .send(
                    card,
                    actors::giftcard::Command::Redeem {
                        code_version: None,
                        amount: 10,
                        currency: actors::Currency::Eur,
                        partner_id: uuid::Uuid::now_v7(),
                        commission_bps: 1500,
                        reference: uuid::Uuid::now_v7(),
                        now,
                    },
                )
                .await
                .unwrap();
        }
    });
    let mut audits = 0;
    while !spender.is_finished() {
        let f = findings(&app).await;
        assert!(f.is_empty(), "audit {audits} under writes: {f:?}");
        audits += 1;
    }
    spender.await.unwrap();
    assert!(audits > 0);
    app.assert_audit_clean().await;
}
