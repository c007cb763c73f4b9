use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn register_with_key(app: &TestApp, key: &str, email: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/register")
        .header("idempotency-key", key)
        .json(&json!({"email": email, "password": "correct horse battery", "display_name": "Idem"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_request_gets_the_first_response_and_does_nothing_twice() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = spawn_app().await;
    let first = register_with_key(&app, "key-1", "once@example.com").await;
    assert_eq!(first.status(), 201);
    let first_body: Value = first.json().await.unwrap();
    let again = register_with_key(&app, "key-1", "once@example.com").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(first_body, again_body);
    assert_eq!(
        entities::user::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        entities::session::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn errors_are_replayed_too_but_a_different_body_is_a_422() {
    let app = spawn_app().await;
    app.register("taken@example.com").await;
    let res = register_with_key(&app, "key-2", "taken@example.com").await;
    assert_problem(res, 409, "email_taken").await;
    let res = register_with_key(&app, "key-2", "taken@example.com").await;
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_problem(res, 409, "email_taken").await;
    let res = register_with_key(&app, "key-2", "other@example.com").await;
    assert_problem(res, 422, "idempotency_key_reused").await;
}

#[tokio::test]
async fn a_key_whose_first_request_is_still_running_is_a_409() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn_app().await;
    entities::idempotency_key::ActiveModel {
        scope: Set("anon".into()),
        key: Set("busy".into()),
        request_hash: Set("whatever".into()),
        state: Set("in_progress".into()),
        response_status: Set(None),
        response_content_type: Set(None),
        response_body: Set(None),
        created_at: Set(fimy::clock::Clock::now(&app.clock)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let res = register_with_key(&app, "busy", "busy@example.com").await;
    assert_problem(res, 409, "idempotency_request_in_progress").await;

    // A first request that never finished (its process died) frees the key in time.
    app.clock.advance(chrono::Duration::minutes(6));
    let res = register_with_key(&app, "busy", "busy@example.com").await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller_and_must_be_well_formed() {
    let app = spawn_app().await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    for token in [&a, &b] {
        let res = app
            .request(Method::PATCH, "/api/v1/me")
            .bearer_auth(token)
            .header("idempotency-key", "shared")
            .json(&json!({"display_name": "Mine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(!res.headers().contains_key("idempotent-replayed"));
    }
    let res = app
        .request(Method::PATCH, "/api/v1/me")
        .bearer_auth(&a)
        .header("idempotency-key", "x".repeat(300))
        .json(&json!({"display_name": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_account() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/register");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("idempotency-key", "race")
                .json(&json!({"email": "race@example.com", "password": "correct horse battery", "display_name": "R"}))
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
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201));
    assert_eq!(
        entities::user::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn stored_responses_are_encrypted_so_no_token_sits_in_the_database() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let res = register_with_key(&app, "secret-key", "sealed@example.com").await;
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = entities::idempotency_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.response_body.unwrap();
    assert!(!stored.windows(token.len()).any(|w| w == token.as_bytes()));
    let replayed = register_with_key(&app, "secret-key", "sealed@example.com").await;
    assert_eq!(
        replayed.json::<Value>().await.unwrap()["token"],
        token.as_str()
    );
}

#[tokio::test]
async fn an_oversized_body_with_a_key_is_still_a_problem() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/api/v1/auth/register")
        .header("idempotency-key", "big")
        .header("content-type", "application/json")
        .body("x".repeat(200 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
}
