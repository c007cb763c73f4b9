//! Concurrency claims, checked with many clients at once and invariants afterwards.

use crate::helpers::*;
use serde_json::{Value, json};

/// Sum of what the ledger moved off the card into payables and commission.
async fn spent_on(app: &TestApp, card: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let id = uuid::Uuid::parse_str(card).unwrap();
    entities::ledger_entry::Entity::find()
        .filter(entities::ledger_entry::Column::CardId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|l| l.account.starts_with("partner_payable:") || l.account == "platform:commission")
        .map(|l| -l.amount)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_redemptions_never_overspend() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let tablet = app.demo_token("partner tablet").await;
    let partner = app.partner_of(&tablet).await;
    let initial = 100_000;
    let (id, code) = app.delivered_cad_card(&donor, initial).await;
    let url = app.url(&format!("/api/v1/partners/{partner}/redemptions"));
    let mut tasks = Vec::new();
    for i in 0..500u64 {
        let (client, url, code, tablet) = (
            app.client.clone(),
            url.clone(),
            code.clone(),
            tablet.clone(),
        );
        // Random-looking amounts from 1 to 599: together far more than the balance.
        let amount = 1 + (i * 7919 % 599) as i64;
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(tablet)
                .json(&json!({"code": code, "amount_minor": amount}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), amount)
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, amount) = t.await.unwrap();
        match status {
            201 => accepted += amount,
            409 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(accepted <= initial);
    assert!(
        accepted > initial - 600,
        "the card was drained as far as amounts allow"
    );
    let admin = app.demo_token("admin").await;
    let card: Value = app
        .get_as(&admin, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["available_minor"], initial - accepted);
    assert_eq!(spent_on(&app, &id).await, accepted);
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_operations_lose_no_update() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let owner = app.demo_token("partner owner").await;
    let partner = app.partner_of(&owner).await;
    let holder = app.register("holder@example.com").await;
    let (id, code) = app.delivered_cad_card(&donor, 50_000).await;
    app.post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    app.clock.advance(chrono::Duration::days(340));
    let owner = app.demo_token("partner owner").await;
    let donor = app.demo_token("donor").await;
    let holder = app.relogin("holder@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let app_client = app.client.clone();
        let base = app.address.clone();
        let (owner, holder, donor, id, code, partner) = (
            owner.clone(),
            holder.clone(),
            donor.clone(),
            id.clone(),
            code.clone(),
            partner.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let post = |path: String, token: String, body: Value| {
                let c = app_client.clone();
                let url = format!("{base}{path}");
                async move {
                    c.post(url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            match i % 4 {
                0 | 1 => {
                    post(
                        format!("/api/v1/partners/{partner}/redemptions"),
                        owner,
                        json!({"code": code, "amount_minor": 100}),
                    )
                    .await
                }
                2 => post(format!("/api/v1/cards/{id}/extend"), holder, json!({})).await,
                _ => post(format!("/api/v1/cards/{id}/refund"), donor, json!({})).await,
            }
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| [200, 201, 403, 409].contains(s)),
        "{statuses:?}"
    );
    let redeemed = statuses
        .iter()
        .enumerate()
        .filter(|(i, s)| i % 4 < 2 && **s == 201)
        .count() as i64;
    let extended = statuses
        .iter()
        .enumerate()
        .filter(|(i, s)| i % 4 == 2 && **s == 200)
        .count();
    assert_eq!(extended, 1, "the one free extension, once");
    let card: Value = app
        .get_as(&holder, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["available_minor"], 50_000 - redeemed * 100);
    assert_eq!(spent_on(&app, &id).await, redeemed * 100);
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_never_spend_twice() {
    let Ok(base) = std::env::var("FIMY_TEST_DATABASE_URL") else {
        return; // needs a database both instances share: PostgreSQL
    };
    if base.is_empty() {
        return;
    }
    let a = spawn_demo_app().await;
    let b = spawn_with(Options {
        database_url: a.database_url.clone(),
        secret_key: Some(a.secret_key.clone()),
        ..Default::default()
    })
    .await;
    let donor = a.demo_token("donor").await;
    let tablet = a.demo_token("partner tablet").await;
    let partner = a.partner_of(&tablet).await;
    let initial = 30_000;
    let (id, code) = a.delivered_cad_card(&donor, initial).await;
    let mut tasks = Vec::new();
    for i in 0..300u64 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (client, url, code, tablet) = (
            node.client.clone(),
            node.url(&format!("/api/v1/partners/{partner}/redemptions")),
            code.clone(),
            tablet.clone(),
        );
        let amount = 1 + (i * 7919 % 299) as i64;
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(tablet)
                .json(&json!({"code": code, "amount_minor": amount}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), amount)
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, amount) = t.await.unwrap();
        assert!(status == 201 || status == 409 || status == 503, "{status}");
        if status == 201 {
            accepted += amount;
        }
    }
    assert!(accepted <= initial);
    assert_eq!(spent_on(&a, &id).await, accepted);
    a.assert_audit_clean().await;
}
