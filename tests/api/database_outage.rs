//! PostgreSQL terminating the application's connections (what a restart or a failover
//! does) while requests run: every answer is a success or a 503 with `Retry-After`,
//! never a 500. On PostgreSQL only (`FIMY_TEST_DATABASE_URL`); skipped on SQLite.

use crate::helpers::{PATIENCE, TEST_CARD_OK, spawn_demo_app, within_time};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Concurrent clients, each sending requests one after another.
const CLIENTS: usize = 8;
/// Rounds of terminating every backend of the test's database.
const KILLS: usize = 25;

#[tokio::test]
async fn terminated_database_connections_answer_503_with_retry_after_never_500() {
    let Some(admin_url) = std::env::var("FIMY_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let app = spawn_demo_app().await;
    let db_name = app
        .database_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .unwrap()
        .to_owned();
    let admin = Database::connect(&admin_url).await.unwrap();
    let donor = app.demo_token("donor").await;
    let stop = Arc::new(AtomicBool::new(false));

    let client = |n: usize| {
        let (app, donor, stop) = (&app, donor.clone(), stop.clone());
        async move {
            let mut seen: Vec<(u16, Option<String>, String)> = Vec::new();
            let mut i = n;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let req = match i % 4 {
                    0 => app.request(Method::GET, "/api/v1/me"),
                    1 => app.request(Method::GET, "/api/v1/experiences?q=brunch"),
                    2 => app
                        .request(Method::PATCH, "/api/v1/me")
                        .json(&json!({"display_name": format!("Donor {i}")})),
                    _ => app.request(Method::POST, "/api/v1/cards").json(&json!({
                        "kind": "value", "amount_minor": 1_000, "currency": "EUR",
                        "recipient_name": "Rémi", "recipient_email": "remi@example.com",
                        "payment": {"method": "test_card", "number": TEST_CARD_OK},
                    })),
                };
                let res = req
                    .bearer_auth(&donor)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = res.text().await.unwrap_or_default();
                seen.push((status, retry_after, body));
            }
            seen
        }
    };
    let killer = async {
        let mut killed = 0;
        for _ in 0..KILLS {
            tokio::time::sleep(Duration::from_millis(80)).await;
            let rows = admin
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    [db_name.clone().into()],
                ))
                .await
                .unwrap();
            killed += rows.len();
        }
        stop.store(true, Ordering::SeqCst);
        killed
    };
    let (killed, answers) = tokio::join!(
        killer,
        futures_util::future::join_all((0..CLIENTS).map(client))
    );
    let answers: Vec<_> = answers.into_iter().flatten().collect();
    let mut by_status = BTreeMap::new();
    for (status, _, _) in &answers {
        *by_status.entry(*status).or_insert(0) += 1;
    }
    eprintln!("{killed} backends terminated; answers by status: {by_status:?}");
    assert!(killed > 0, "no backend was terminated");
    for (status, retry_after, body) in &answers {
        assert!(
            (200..300).contains(status) || *status == 503,
            "{status}: {body}"
        );
        if *status == 503 {
            assert!(retry_after.is_some(), "a 503 without Retry-After: {body}");
            assert!(
                body.contains("service_unavailable") || body.contains("busy"),
                "{body}"
            );
        }
    }

    // And the application is back once the database is.
    let last = std::sync::atomic::AtomicU16::new(0);
    within_time(PATIENCE, || async {
        let status = app.get_as(&donor, "/api/v1/me").await.status().as_u16();
        last.store(status, Ordering::SeqCst);
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(last.load(Ordering::SeqCst), 200);
}
