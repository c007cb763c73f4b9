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

#[tokio::test]
async fn the_openapi_document_lists_every_problem_with_its_media_type() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            operations += 1;
            let at = format!("{method} {path}");
            for status in ["400", "503"] {
                assert!(responses.contains_key(status), "{at} lacks {status}");
            }
            if op
                .get("security")
                .is_some_and(|s| !s.as_array().unwrap().is_empty())
            {
                assert!(responses.contains_key("401"), "{at} lacks 401");
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(responses.contains_key(status), "{at} lacks {status}");
                }
            }
            for (status, r) in responses {
                if status.starts_with(['4', '5']) {
                    let content = r["content"].as_object().unwrap();
                    assert!(
                        content.keys().all(|k| k == "application/problem+json"),
                        "{at} {status}: {:?}",
                        content.keys()
                    );
                }
            }
        }
    }
    assert!(operations > 80, "{operations}");
    // The availability rules have a real schema, in and out.
    let rules = &doc["components"]["schemas"]["RulesInput"]["properties"];
    assert!(
        rules["weekly"]["items"]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("/WeeklyWindow")
    );
    for field in ["weekday", "start", "end"] {
        assert!(
            doc["components"]["schemas"]["WeeklyWindow"]["properties"][field].is_object(),
            "{field}"
        );
    }
    assert!(
        doc["components"]["schemas"]["AvailabilityRules"]["properties"]["timezone"].is_object()
    );
}
