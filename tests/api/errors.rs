//! Bad input of every kind gets a problem+json answer with a stable code, never a 500.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/api/v1/auth/register")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_json").await;
}

#[tokio::test]
async fn unknown_fields_wrong_types_and_missing_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "a@b.io", "password": "long enough pw", "display_name": "A", "admin": true}),
            "admin",
        ),
        (
            json!({"email": "a@b.io", "password": 1234567890, "display_name": "A"}),
            "",
        ),
        (json!({"email": "a@b.io", "display_name": "A"}), "password"),
        (
            json!({"email": "not-an-email", "password": "long enough pw", "display_name": "A"}),
            "email",
        ),
        (
            json!({"email": "a@b.io", "password": "short", "display_name": "A"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let res = app.post_json("/api/v1/auth/register", &body).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        if !field.is_empty() {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_and_other_media_types_415() {
    let app = spawn_app().await;
    let big = json!({"email": "a@b.io", "password": "x".repeat(100_000), "display_name": "A"});
    let res = app.post_json("/api/v1/auth/register", &big).await;
    assert_problem(res, 413, "payload_too_large").await;

    let res = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn missing_or_broken_credentials_are_401() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/me").await, 401, "unauthenticated").await;
    let res = app
        .request(Method::GET, "/api/v1/me")
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
    assert_problem(
        app.get_as("made-up-token", "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_parameters_are_problems() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    assert_problem(app.get("/nothing/here/either").await, 404, "not_found").await;
    let res = app
        .request(Method::DELETE, "/api/v1/auth/login")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert!(status == 404 || status == 405, "{status}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    assert_problem(
        app.get("/api/v1/experiences/not-a-uuid").await,
        400,
        "invalid_path",
    )
    .await;
    assert_problem(
        app.get("/api/v1/experiences?min_price=cheap").await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/experiences?colour=red").await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/experiences?limit=1000").await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/partners?cursor=garbage").await,
        400,
        "invalid_cursor",
    )
    .await;
}
