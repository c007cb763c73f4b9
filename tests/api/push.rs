//! Web Push: the VAPID key, subscriptions, and delivery to a push service run inside the
//! test. That service checks the VAPID signature against the key the API publishes,
//! decrypts each message (RFC 8291, aes128gcm) with the subscription's private key and
//! auth secret, records it, and answers with the status its URL asks for.

use crate::helpers::{Options, PATIENCE, TestApp, assert_problem, eventually, spawn_with};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fimy::notify::delivery::DeliveryError;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An application that may push to this machine (`127.0.0.1`, where the test's push
/// service listens): never allowed by default.
async fn spawn_push_app() -> TestApp {
    spawn_with(Options {
        env: vec![("FIMY_PUSH_ALLOW_HOSTS", "127.0.0.1".to_owned())],
        ..Default::default()
    })
    .await
}

/// One message as the push service received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    message: Value,
    headers: HashMap<String, String>,
}

/// A browser's side of a subscription: the keys only it has.
struct BrowserKeys {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

#[derive(Default)]
struct PushState {
    /// The VAPID key the API publishes; the service accepts no other.
    vapid_key: String,
    origin: String,
    browsers: HashMap<String, BrowserKeys>,
    received: Vec<Received>,
    /// Requests refused, and why (a bad signature, a message that does not decrypt…).
    refused: Vec<String>,
}

/// A push service on 127.0.0.1. `/push/ok/…` answers 201, `/push/gone/…` 410,
/// `/push/busy/…` 503, `/push/slow/…` 429, `/push/bad/…` 400.
struct FakePushService {
    base: String,
    state: Arc<Mutex<PushState>>,
}

impl FakePushService {
    async fn start(app: &TestApp) -> Self {
        let key: Value = app
            .get("/api/v1/push/vapid-public-key")
            .await
            .json()
            .await
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(PushState {
            vapid_key: key["key"].as_str().unwrap().to_owned(),
            origin: format!("http://127.0.0.1:{port}"),
            ..Default::default()
        }));
        let shared = web::Data::from(state.clone());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// A new browser subscription on this service (`mode` picks the answer); returns the
    /// JSON a browser would post.
    fn browser(&self, mode: &str) -> Value {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let auth: [u8; 16] = rand::random();
        let path = format!("/push/{mode}/{}", uuid::Uuid::new_v4().simple());
        let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
        self.state
            .lock()
            .unwrap()
            .browsers
            .insert(path.clone(), BrowserKeys { secret, auth });
        json!({
            "endpoint": format!("{}{path}", self.base),
            "expirationTime": null,
            "keys": {"p256dh": p256dh, "auth": URL_SAFE_NO_PAD.encode(auth)},
        })
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }
}

/// The push service's one handler: check, decrypt, record, answer.
async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<PushState>>,
) -> HttpResponse {
    let path = req.path().to_owned();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut state = state.lock().unwrap();
    match check_and_decrypt(&state, &path, &headers, &body) {
        Ok(message) => state.received.push(Received {
            path: path.clone(),
            message,
            headers,
        }),
        Err(why) => {
            state.refused.push(format!("{path}: {why}"));
            return HttpResponse::Unauthorized().body(why);
        }
    }
    let mode = path.split('/').nth(2).unwrap_or_default();
    match mode {
        "ok" => HttpResponse::Created().finish(),
        "gone" => HttpResponse::Gone().finish(),
        "busy" => HttpResponse::ServiceUnavailable().finish(),
        "slow" => HttpResponse::TooManyRequests().finish(),
        _ => HttpResponse::BadRequest().finish(),
    }
}

/// What a push service does with a request (RFC 8292 and RFC 8291), minus the storage.
fn check_and_decrypt(
    state: &PushState,
    path: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Result<Value, String> {
    let authorization = headers.get("authorization").ok_or("no Authorization")?;
    let rest = authorization
        .strip_prefix("vapid t=")
        .ok_or("not a vapid Authorization")?;
    let (jwt, k) = rest.split_once(", k=").ok_or("no k=")?;
    if k != state.vapid_key {
        return Err(format!("k={k} is not the published VAPID key"));
    }
    let (signed, signature) = jwt.rsplit_once('.').ok_or("JWT without a signature")?;
    let key = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| "the JWT signature does not verify")?;
    let mut parts = signed.split('.');
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().unwrap_or_default())
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    if header["alg"] != "ES256" {
        return Err(format!("JWT alg {}", header["alg"]));
    }
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().unwrap_or_default())
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    if claims["aud"] != state.origin.as_str() {
        return Err(format!("aud {} is not {}", claims["aud"], state.origin));
    }
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    let now = chrono::Utc::now().timestamp();
    if exp <= now || exp > now + 24 * 3600 {
        return Err(format!("exp {exp} is not within 24 h of {now}"));
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err("no sub".into());
    }
    if headers.get("content-encoding").map(String::as_str) != Some("aes128gcm") {
        return Err("Content-Encoding is not aes128gcm".into());
    }
    if headers
        .get("ttl")
        .and_then(|t| t.parse::<u64>().ok())
        .is_none()
    {
        return Err("no TTL".into());
    }
    let browser = state.browsers.get(path).ok_or("no such subscription")?;
    let auth = web_push_native::Auth::clone_from_slice(&browser.auth);
    let plaintext = web_push_native::decrypt(body.to_vec(), &browser.secret, &auth)
        .map_err(|e| format!("the body does not decrypt: {e}"))?;
    serde_json::from_slice(&plaintext).map_err(|e| format!("not JSON: {e}"))
}

/// Registers a customer with a locale; returns (token, user id).
async fn customer(app: &TestApp, email: &str, locale: &str) -> (String, uuid::Uuid) {
    let res = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": "correct horse battery",
                    "display_name": "Test", "locale": locale}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app.get_as(&token, "/api/v1/me").await.json().await.unwrap();
    (token, me["id"].as_str().unwrap().parse().unwrap())
}

async fn subscribe(app: &TestApp, token: &str, sub: &Value) -> reqwest::Response {
    app.post_as(token, "/api/v1/push/subscriptions", sub).await
}

async fn unsubscribe(app: &TestApp, token: &str, endpoint: &Value) -> reqwest::Response {
    app.request(Method::DELETE, "/api/v1/push/subscriptions")
        .bearer_auth(token)
        .json(&json!({"endpoint": endpoint}))
        .send()
        .await
        .unwrap()
}

async fn subscriptions_of(
    app: &TestApp,
    user: uuid::Uuid,
) -> Vec<entities::push_subscription::Model> {
    entities::push_subscription::Entity::find()
        .filter(entities::push_subscription::Column::UserId.eq(user))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Buys a card as `donor`, opens it, and returns the `card_opened` push row for the donor.
async fn opened_card_push_row(app: &TestApp, donor: &str) -> entities::outbox::Model {
    let (card, code) = app.delivered_card(donor, 5_000).await;
    let res = app
        .post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let card: uuid::Uuid = card.parse().unwrap();
    let what = format!("a card_opened push row for card {card}");
    eventually(&what, PATIENCE, || async {
        entities::outbox::Entity::find()
            .filter(entities::outbox::Column::CardId.eq(card))
            .filter(entities::outbox::Column::Channel.eq("push"))
            .filter(entities::outbox::Column::Kind.eq("card_opened"))
            .one(&app.state.db)
            .await
            .unwrap()
    })
    .await
}

/// A copy of `row` addressed to `user`. Tests about answers of the push service use a user
/// with no outbox rows of their own, so the outbox worker never touches their
/// subscriptions while the test calls `deliver` itself.
fn addressed_to(row: &entities::outbox::Model, user: uuid::Uuid) -> entities::outbox::Model {
    entities::outbox::Model {
        user_id: Some(user),
        ..row.clone()
    }
}

#[tokio::test]
async fn the_vapid_public_key_is_served_and_kept_in_the_data_dir() {
    let app = spawn_push_app().await;
    let res = app.get("/api/v1/push/vapid-public-key").await;
    assert_eq!(res.status(), 200);
    let key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let point = URL_SAFE_NO_PAD.decode(&key).unwrap();
    assert_eq!(point.len(), 65);
    assert_eq!(point[0], 0x04, "uncompressed point");
    assert!(p256::PublicKey::from_sec1_bytes(&point).is_ok());
    let path = app.data_dir.path().join("vapid.key");
    let stored = std::fs::read_to_string(&path).unwrap();
    let kept = fimy::notify::push::VapidKey::from_base64(&stored).unwrap();
    assert_eq!(kept.public_key(), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again: Value = app
        .get("/api/v1/push/vapid-public-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["key"], key.as_str());
}

#[tokio::test]
async fn an_opened_gift_is_pushed_to_the_donor_encrypted_and_signed() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let (donor, donor_id) = customer(&app, "donor@example.com", "en").await;
    let browser = service.browser("ok");
    let res = subscribe(&app, &donor, &browser).await;
    assert_eq!(res.status(), 201);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["endpoint"], browser["endpoint"]);

    let row = opened_card_push_row(&app, &donor).await;
    assert_eq!(row.user_id, Some(donor_id));
    assert_eq!(app.push_once(&row).await, Ok(()));
    assert!(service.refused().is_empty(), "{:?}", service.refused());

    let opened: Vec<Received> = service
        .received()
        .into_iter()
        .filter(|r| r.message["kind"] == "card_opened")
        .collect();
    // The outbox worker may have sent it too: at least once, always the same event.
    assert!(!opened.is_empty());
    for r in &opened {
        let m = &r.message;
        assert_eq!(m["title"], "Your gift was opened", "{m}");
        assert!(m["body"].as_str().is_some_and(|b| !b.is_empty()));
        assert_eq!(m["event_id"], row.event_id.to_string());
        assert_eq!(m["card_id"], row.card_id.unwrap().to_string());
        let url = m["url"].as_str().unwrap();
        assert!(url.starts_with(app.state.config.public_url.as_str()), "{m}");
        assert!(url.contains("/wallet?"), "the donor's page: {m}");
        assert!(
            url.ends_with(&format!("card={}", row.card_id.unwrap())),
            "{m}"
        );
        let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["body", "card_id", "event_id", "kind", "title", "url"]
        );
        let words = format!("{} {}", m["title"], m["body"]);
        assert!(
            !words.chars().any(|c| c.is_ascii_digit()),
            "no amount: {words}"
        );
        assert!(r.path.starts_with("/push/ok/"));
        let topic = &r.headers["topic"];
        assert_eq!(topic, &fimy::notify::push::topic(row.event_id));
        assert!(topic.len() <= 32);
        assert!(r.headers.contains_key("urgency"));
    }
}

#[tokio::test]
async fn messages_speak_the_users_language() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let donor = app.register("donor@example.com").await;
    let row = opened_card_push_row(&app, &donor).await;
    let (fr, fr_id) = customer(&app, "fr@example.com", "fr").await;
    assert_eq!(
        subscribe(&app, &fr, &service.browser("ok")).await.status(),
        201
    );
    assert_eq!(app.push_once(&addressed_to(&row, fr_id)).await, Ok(()));
    let got = service.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].message["title"], "Votre cadeau a été ouvert");
}

#[tokio::test]
async fn a_gone_subscription_is_removed() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let donor = app.register("donor@example.com").await;
    let row = opened_card_push_row(&app, &donor).await;

    // Its only subscription is gone: the row is Gone, the subscription deleted.
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    let gone = service.browser("gone");
    assert_eq!(subscribe(&app, &alice, &gone).await.status(), 201);
    let res = app.push_once(&addressed_to(&row, alice_id)).await;
    assert!(matches!(res, Err(DeliveryError::Gone(_))), "{res:?}");
    assert!(subscriptions_of(&app, alice_id).await.is_empty());

    // One gone among others that work: delivered, and only the dead one removed.
    let (bob, bob_id) = customer(&app, "bob@example.com", "en").await;
    let ok = service.browser("ok");
    assert_eq!(subscribe(&app, &bob, &ok).await.status(), 201);
    assert_eq!(
        subscribe(&app, &bob, &service.browser("gone"))
            .await
            .status(),
        201
    );
    assert_eq!(app.push_once(&addressed_to(&row, bob_id)).await, Ok(()));
    let left = subscriptions_of(&app, bob_id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].endpoint, ok["endpoint"].as_str().unwrap());
    assert!(service.refused().is_empty(), "{:?}", service.refused());

    // Nobody subscribed: nothing to do.
    let (_, carol_id) = customer(&app, "carol@example.com", "en").await;
    assert_eq!(app.push_once(&addressed_to(&row, carol_id)).await, Ok(()));
}

#[tokio::test]
async fn a_busy_push_service_means_retry_and_a_refusal_is_invalid() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let donor = app.register("donor@example.com").await;
    let row = opened_card_push_row(&app, &donor).await;

    for mode in ["busy", "slow"] {
        let (token, id) = customer(&app, &format!("{mode}@example.com"), "en").await;
        assert_eq!(
            subscribe(&app, &token, &service.browser(mode))
                .await
                .status(),
            201
        );
        let res = app.push_once(&addressed_to(&row, id)).await;
        assert!(
            matches!(res, Err(DeliveryError::Retry(_))),
            "{mode}: {res:?}"
        );
        assert_eq!(subscriptions_of(&app, id).await.len(), 1, "kept");
    }

    let (token, id) = customer(&app, "bad@example.com", "en").await;
    assert_eq!(
        subscribe(&app, &token, &service.browser("bad"))
            .await
            .status(),
        201
    );
    let res = app.push_once(&addressed_to(&row, id)).await;
    assert!(matches!(res, Err(DeliveryError::Invalid(_))), "{res:?}");

    // Nobody listening at all: a network error, retried.
    let (token, id) = customer(&app, "offline@example.com", "en").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut offline = service.browser("ok");
    offline["endpoint"] = json!(format!("http://127.0.0.1:{port}/push/ok/x"));
    assert_eq!(subscribe(&app, &token, &offline).await.status(), 201);
    let res = app.push_once(&addressed_to(&row, id)).await;
    assert!(matches!(res, Err(DeliveryError::Retry(_))), "{res:?}");
    assert!(service.refused().is_empty(), "{:?}", service.refused());
}

#[tokio::test]
async fn only_the_owner_can_unsubscribe() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    let (mallory, _) = customer(&app, "mallory@example.com", "en").await;
    let sub = service.browser("ok");
    assert_eq!(subscribe(&app, &alice, &sub).await.status(), 201);

    let res = unsubscribe(&app, &mallory, &sub["endpoint"]).await;
    assert_problem(res, 404, "not_found").await;
    assert_eq!(subscriptions_of(&app, alice_id).await.len(), 1);

    let res = app
        .request(Method::DELETE, "/api/v1/push/subscriptions")
        .json(&json!({"endpoint": sub["endpoint"]}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    let res = unsubscribe(&app, &alice, &sub["endpoint"]).await;
    assert_eq!(res.status(), 204);
    assert!(subscriptions_of(&app, alice_id).await.is_empty());
    let res = unsubscribe(&app, &alice, &sub["endpoint"]).await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn subscribing_again_updates_the_subscription() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    let (bob, bob_id) = customer(&app, "bob@example.com", "en").await;
    let first = service.browser("ok");
    let res = subscribe(&app, &alice, &first).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].clone();

    let mut renewed = service.browser("ok");
    renewed["endpoint"] = first["endpoint"].clone();
    let res = subscribe(&app, &alice, &renewed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], id);
    let rows = subscriptions_of(&app, alice_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].p256dh, renewed["keys"]["p256dh"].as_str().unwrap());
    assert_eq!(rows[0].auth, renewed["keys"]["auth"].as_str().unwrap());

    // The same browser, now logged in as Bob: the subscription follows the browser.
    assert_eq!(subscribe(&app, &bob, &renewed).await.status(), 200);
    assert!(subscriptions_of(&app, alice_id).await.is_empty());
    assert_eq!(subscriptions_of(&app, bob_id).await.len(), 1);
    let total = entities::push_subscription::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(total, 1);
}

#[tokio::test]
async fn bad_subscriptions_are_refused() {
    let app = spawn_push_app().await;
    let service = FakePushService::start(&app).await;
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    let good = service.browser("ok");

    let res = app.post_json("/api/v1/push/subscriptions", &good).await;
    assert_problem(res, 401, "unauthenticated").await;

    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let compressed = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(true).as_bytes());
    let mut off_curve = secret
        .public_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    off_curve[64] ^= 1;
    let off_curve = URL_SAFE_NO_PAD.encode(off_curve);
    let cases: Vec<(&str, Value)> = vec![
        (
            "keys.p256dh",
            json!({"p256dh": "not base64!", "auth": good["keys"]["auth"]}),
        ),
        (
            "keys.p256dh",
            json!({"p256dh": compressed, "auth": good["keys"]["auth"]}),
        ),
        (
            "keys.p256dh",
            json!({"p256dh": off_curve, "auth": good["keys"]["auth"]}),
        ),
        (
            "keys.auth",
            json!({"p256dh": good["keys"]["p256dh"], "auth": URL_SAFE_NO_PAD.encode([1u8; 15])}),
        ),
        (
            "keys.auth",
            json!({"p256dh": good["keys"]["p256dh"], "auth": "%%%"}),
        ),
    ];
    for (field, keys) in cases {
        let body = json!({"endpoint": good["endpoint"], "keys": keys});
        let res = subscribe(&app, &alice, &body).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    for endpoint in [
        "http://push.example.com/x",
        "ftp://push.example.com/x",
        "not a url",
        "https://user:secret@push.example.com/x",
        // Only the address listed for the test's service, nothing else internal.
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.2/push",
        "https://10.0.0.1/push",
        "https://[::1]/push",
        "https://localhost/push",
    ] {
        let body = json!({"endpoint": endpoint, "keys": good["keys"]});
        let res = subscribe(&app, &alice, &body).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], "endpoint", "{problem}");
    }
    let res = subscribe(&app, &alice, &json!({"endpoint": good["endpoint"]})).await;
    assert_problem(res, 422, "invalid_field").await;
    assert!(subscriptions_of(&app, alice_id).await.is_empty());
    // (The browsers' push services are taken by default: see below.)
    assert_eq!(subscribe(&app, &alice, &good).await.status(), 201);
}

/// Subscribes `endpoint` for `token` (with valid keys) and returns the answer.
async fn subscribe_endpoint(app: &TestApp, token: &str, endpoint: &str) -> reqwest::Response {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let keys =
        json!({"p256dh": p256dh, "auth": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())});
    subscribe(app, token, &json!({"endpoint": endpoint, "keys": keys})).await
}

#[tokio::test]
async fn by_default_only_the_browsers_push_services_are_taken_never_an_internal_host() {
    let app = spawn_app_with_hosts(None).await;
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    for endpoint in [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://127.0.0.1:8443/push/1",
        "http://127.0.0.1:3000/push/1",
        "http://localhost:3000/push/1",
        "https://localhost/push/1",
        "https://10.1.2.3/push",
        "https://192.168.0.10/push",
        "https://[::1]:8443/push",
        "https://[::ffff:169.254.169.254]/push",
        "https://2130706433/push",
        "https://push.example.com/push",
        "https://push.apple.com.evil.example/push",
    ] {
        let res = subscribe_endpoint(&app, &alice, endpoint).await;
        let problem = assert_problem(res, 422, "invalid_field").await;
        assert_eq!(problem["field"], "endpoint", "{endpoint}: {problem}");
    }
    assert!(subscriptions_of(&app, alice_id).await.is_empty());
    for endpoint in [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com/QGx7",
        "https://wns2-by3p.notify.windows.com/w/?token=AwYAAA",
    ] {
        let res = subscribe_endpoint(&app, &alice, endpoint).await;
        assert_eq!(res.status(), 201, "{endpoint}");
    }
}

async fn spawn_app_with_hosts(hosts: Option<&str>) -> TestApp {
    spawn_with(Options {
        env: hosts
            .map(|h| vec![("FIMY_PUSH_ALLOW_HOSTS", h.to_owned())])
            .unwrap_or_default(),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_name_that_resolves_to_an_internal_address_is_refused_when_saved_and_never_connected_to()
{
    // Any host name allowed: only the addresses stand between the outbox and the network.
    let app = spawn_app_with_hosts(Some("*")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (alice, alice_id) = customer(&app, "alice@example.com", "en").await;
    let endpoint = format!("https://localhost:{port}/push/ok/1");
    let res = subscribe_endpoint(&app, &alice, &endpoint).await;
    let problem = assert_problem(res, 422, "invalid_field").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{problem}"
    );
    assert!(subscriptions_of(&app, alice_id).await.is_empty());

    // Saved while the name pointed elsewhere (DNS rebinding): the outbox still refuses to
    // connect, and the subscription goes.
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let now = app.state.clock.now();
    let saved = entities::push_subscription::ActiveModel {
        id: sea_orm::Set(uuid::Uuid::now_v7()),
        user_id: sea_orm::Set(alice_id),
        endpoint: sea_orm::Set(endpoint.clone()),
        p256dh: sea_orm::Set(
            URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes()),
        ),
        auth: sea_orm::Set(URL_SAFE_NO_PAD.encode([7u8; 16])),
        user_agent: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
    };
    entities::push_subscription::Entity::insert(saved)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    let donor = app.register("donor@example.com").await;
    let row = opened_card_push_row(&app, &donor).await;
    let res = app.push_once(&addressed_to(&row, alice_id)).await;
    match &res {
        Err(DeliveryError::Gone(why)) => assert!(why.contains("no public address"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(subscriptions_of(&app, alice_id).await.is_empty());
    // Whatever the outbox had to send has been tried.
    app.drive_outbox().await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the outbox connected to an internal address"
    );
}
