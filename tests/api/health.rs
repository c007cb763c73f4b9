use crate::helpers::*;

#[tokio::test]
async fn liveness_and_readiness_answer_ok_when_the_database_is_up() {
    let app = spawn_app().await;
    let res = app.get("/health/live").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.clone().close().await.unwrap();
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_valid_incoming_one_is_kept() {
    let app = spawn_app().await;
    let res = app.get("/health/live").await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok());

    let res = app
        .request(reqwest::Method::GET, "/health/live")
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen-42");

    let res = app
        .request(reqwest::Method::GET, "/nowhere")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/api/v1/experiences").await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"fimy_http_requests_total{method="GET",route="/api/v1/experiences",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains("fimy_http_request_duration_seconds_bucket"));
    assert!(text.contains("fimy_ws_sessions 0"));
    assert!(text.contains("fimy_db_pool_max_connections"));
}

#[tokio::test]
async fn the_openapi_document_and_the_docs_page_are_served_locally() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/experiences",
        "/api/v1/admin/users",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"));
    let html = res.text().await.unwrap();
    for remote in [
        "src=\"http",
        "src=\"//",
        "href=\"http",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !html.contains(remote),
            "the docs page loads nothing from another host ({remote})"
        );
    }
    // The explorer is Swagger UI, its files served from the binary.
    for file in [
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
        "swagger-ui.css",
    ] {
        let res = app.get(&format!("/api/docs/{file}")).await;
        assert_eq!(res.status(), 200, "{file}");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
    }
    let init = app
        .get("/api/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"url\": \"/api/v1/openapi.json\""), "{init}");
    assert!(
        init.contains("\"validatorUrl\": \"none\""),
        "no badge from another host: {init}"
    );
    let missing = app.get("/api/docs/nothing.js").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

/// The operations of the document, as `METHOD /path` lines: registering a handler is what
/// puts it there, so this list changes only with the API.
const OPERATIONS: &str = include_str!("openapi-operations.txt");

#[tokio::test]
async fn the_document_lists_exactly_the_registered_operations() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has an operationId"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| t.len() == 1),
                "{method} {path} has one tag"
            );
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: std::collections::BTreeSet<String> = OPERATIONS
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(documented, expected);

    // And each documented operation is routed: none falls through to the "no such
    // resource" of the default service. Anonymous, with an empty JSON body: the answers
    // are refusals (401, 400, 415, 404 of a handler...), never that 404.
    for line in &expected {
        let (method, path) = line.split_once(' ').unwrap();
        let url = path
            .split('/')
            .map(|seg| match seg.find('{') {
                Some(0) if seg.ends_with(".ics") => "x.ics".to_owned(),
                Some(0) => uuid::Uuid::nil().to_string(),
                _ => seg.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        let res = app
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                &url,
            )
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request");
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert!(
            !(status == 404 && body.contains("no such resource")),
            "{line} is routed: {status} {body}"
        );
        assert!(status != 405, "{line} accepts its method: {body}");
        assert!(!status.is_server_error(), "{line}: {status} {body}");
    }
}

#[tokio::test]
async fn metrics_count_domain_events() {
    let app = spawn_app().await;
    let donor = app.register("donor@example.com").await;
    app.delivered_card(&donor, 5_000).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"fimy_events_total{entity="card",kind="card_issued"} 1"#,
        r#"fimy_events_total{entity="card",kind="card_delivered"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[tokio::test]
async fn the_web_app_is_installable_and_its_pages_are_served_by_the_binary() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/wallet", "text/html"),
        ("/gift", "text/html"),
        ("/tablet", "text/html"),
        ("/portal", "text/html"),
        ("/pages/portal.js", "text/javascript"),
        ("/pages/portal-photos.js", "text/javascript"),
        ("/pages/tablet-redeem.js", "text/javascript"),
        ("/pages/gift-card.js", "text/javascript"),
        ("/offline", "text/html"),
        ("/fimy.js", "text/javascript"),
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/icon.svg", "image/svg+xml"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        // The donor's photos and recording are shown from `blob:` URLs before upload.
        assert!(csp.contains("media-src 'self' blob:"), "{path}: {csp}");
    }
    let manifest: serde_json::Value = app.get("/manifest.webmanifest").await.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["icons"].as_array().is_some_and(|i| !i.is_empty()));
    let page = app.get("/gift").await.text().await.unwrap();
    assert!(page.contains(r#"rel="manifest""#) && page.contains(r#"data-page="gift""#));
}
