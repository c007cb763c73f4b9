//! What an admin does over HTTP: search the accounts, look a card up (by id or by code)
//! with its chain of events and ledger lines, and run the audit.

use crate::helpers::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use std::collections::HashMap;

#[tokio::test]
async fn admins_search_accounts_by_email_or_name() {
    let app = spawn_demo_app().await;
    let admin = app.demo_token("admin").await;
    let donor = app.demo_token("donor").await;
    app.register("zoe.martin@example.com").await;

    let page: Value = app
        .get_as(&admin, "/api/v1/admin/users?q=ZOE.MARTIN")
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["zoe.martin@example.com"], "{page}");

    // Every account without `q`; `%` and `_` are literal, not wildcards.
    let all: Value = app
        .get_as(&admin, "/api/v1/admin/users?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert!(all["items"].as_array().unwrap().len() >= 5, "{all}");
    let none: Value = app
        .get_as(&admin, "/api/v1/admin/users?q=%25")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]), "{none}");

    assert_problem(
        app.get_as(&admin, "/api/v1/admin/users?q=%20%20").await,
        400,
        "invalid_query",
    )
    .await;
    let long = "x".repeat(101);
    assert_problem(
        app.get_as(&admin, &format!("/api/v1/admin/users?q={long}"))
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get_as(&donor, "/api/v1/admin/users?q=zoe").await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_card_shows_its_chain_and_ledger_by_id_and_by_code() {
    let app = spawn_demo_app().await;
    let admin = app.demo_token("admin").await;
    let donor = app.demo_token("donor").await;
    let (id, code) = app.delivered_card(&donor, 4_000).await;

    let by_id: Value = app
        .get_as(&admin, &format!("/api/v1/admin/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["id"], id.as_str());
    assert_eq!(by_id["status"], "delivered");
    assert_eq!(by_id["card"]["available_minor"], 4_000);
    assert_eq!(by_id["recipient_email"], "remi@example.com");
    assert_eq!(by_id["findings"], json!([]), "{by_id}");

    // The chain: numbered from 1, each event pointing at the hash of the one before.
    let events = by_id["events"].as_array().unwrap();
    assert!(events.len() >= 3, "{by_id}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as i64 + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], events[i - 1]["hash"]);
        }
    }
    assert!(events.iter().any(|e| e["kind"] == "card_delivered"));

    // The ledger: each transaction sums to zero, and the card's account holds its value.
    let lines = by_id["ledger"].as_array().unwrap();
    assert!(!lines.is_empty());
    let mut sums: HashMap<&str, i64> = HashMap::new();
    for l in lines {
        *sums.entry(l["txn_id"].as_str().unwrap()).or_default() +=
            l["amount_minor"].as_i64().unwrap();
    }
    assert!(sums.values().all(|s| *s == 0), "{sums:?}");
    let card_account: i64 = lines
        .iter()
        .filter(|l| l["account"] == format!("card:{id}"))
        .map(|l| l["amount_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(card_account, -4_000);

    // By code: the same card, as stored.
    let res = app
        .post_as(&admin, "/api/v1/admin/cards/lookup", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let by_code: Value = res.json().await.unwrap();
    assert_eq!(by_code["id"], id.as_str());
    assert_eq!(by_code["events"], by_id["events"]);

    // A typo, a code of no card, an id of no card, and someone who is not an admin.
    assert_problem(
        app.post_as(
            &admin,
            "/api/v1/admin/cards/lookup",
            &json!({"code": "ABCD"}),
        )
        .await,
        422,
        "invalid_code",
    )
    .await;
    let other = actors::code::CardCode::generate(&mut rand::rngs::OsRng).to_string();
    assert_problem(
        app.post_as(
            &admin,
            "/api/v1/admin/cards/lookup",
            &json!({"code": other}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get_as(
            &admin,
            &format!("/api/v1/admin/cards/{}", uuid::Uuid::now_v7()),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get_as(&donor, &format!("/api/v1/admin/cards/{id}"))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_as(&donor, "/api/v1/admin/cards/lookup", &json!({"code": code}))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn an_audit_run_reports_what_it_checked_and_names_a_tampered_card() {
    let app = spawn_demo_app().await;
    let admin = app.demo_token("admin").await;
    let donor = app.demo_token("donor").await;
    let (id, _) = app.delivered_card(&donor, 2_500).await;

    let res = app.post_as(&admin, "/api/v1/admin/audit", &json!({})).await;
    assert_eq!(res.status(), 200);
    let clean: Value = res.json().await.unwrap();
    assert_eq!(clean["consistent"], true, "{clean}");
    assert_eq!(clean["findings"], json!([]));
    assert!(clean["cards"].as_u64().unwrap() >= 1, "{clean}");
    assert!(clean["calendars"].as_u64().unwrap() >= 1, "{clean}");
    assert!(clean["events"].as_u64().unwrap() >= 3, "{clean}");
    assert!(clean["ledger_entries"].as_u64().unwrap() >= 2, "{clean}");

    // A ledger line changed behind the application's back.
    let card = uuid::Uuid::parse_str(&id).unwrap();
    let line = entities::ledger_entry::Entity::find()
        .filter(entities::ledger_entry::Column::CardId.eq(card))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    entities::ledger_entry::ActiveModel {
        id: Set(line.id),
        amount: Set(line.amount + 1),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let report: Value = app
        .post_as(&admin, "/api/v1/admin/audit", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["consistent"], false);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["kind"] == "card" && f["id"] == id.as_str()),
        "{report}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["text"].as_str().unwrap().contains(&id)),
        "{report}"
    );
    // The card's own page says the same.
    let one: Value = app
        .get_as(&admin, &format!("/api/v1/admin/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["findings"], report["findings"]);

    assert_problem(
        app.post_as(&donor, "/api/v1/admin/audit", &json!({})).await,
        403,
        "forbidden",
    )
    .await;
}
