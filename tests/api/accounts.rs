use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_new_customer_registers_and_reads_their_account_with_the_token() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": " Zoe@Example.com ", "password": "correct horse battery", "display_name": "Zoé", "locale": "en"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "zoe@example.com");
    assert_eq!(body["user"]["kind"], "customer");
    let token = body["token"].as_str().unwrap();

    let me: Value = app.get_as(token, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["display_name"], "Zoé");
    assert_eq!(me["locale"], "en");
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn an_email_can_register_only_once_whatever_its_case() {
    let app = spawn_app().await;
    app.register("sam@example.com").await;
    let res = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "SAM@example.com", "password": "another long pw", "display_name": "Sam"}),
        )
        .await;
    assert_problem(res, 409, "email_taken").await;
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes_and_tokens_only_as_hashes() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let token = app.register("hash@example.com").await;
    let users = entities::user::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(users[0].password_hash.starts_with("$argon2id$"));
    let sessions = entities::session::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_ne!(sessions[0].token_hash, token);
    assert_eq!(sessions[0].token_hash, fimy::auth::token_hash(&token));
}

#[tokio::test]
async fn login_with_a_wrong_password_or_unknown_email_gives_the_same_401() {
    let app = spawn_app().await;
    app.register("lee@example.com").await;
    let wrong = assert_problem(
        app.login("lee@example.com", "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody@example.com", "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong["detail"], unknown["detail"]);
    let ok = app.login("LEE@example.com", "correct horse battery").await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let token = app.register("out@example.com").await;
    let res = app
        .request(Method::POST, "/api/v1/auth/logout")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get_as(&token, "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn sessions_expire_with_time() {
    let app = spawn_app().await;
    let token = app.register("time@example.com").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    app.clock.advance(chrono::Duration::days(31));
    assert_problem(
        app.get_as(&token, "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_user_lists_and_revokes_their_own_sessions() {
    let app = spawn_app().await;
    let first = app.register("multi@example.com").await;
    let second: Value = app
        .login("multi@example.com", "correct horse battery")
        .await
        .json()
        .await
        .unwrap();
    let second = second["token"].as_str().unwrap().to_owned();
    let list: Vec<Value> = app
        .get_as(&first, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/me/sessions/{}", other["id"].as_str().unwrap()),
        )
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get_as(&second, "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.get_as(&first, "/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn the_web_app_uses_an_httponly_cookie_and_writes_need_the_csrf_header() {
    let app = spawn_app().await;
    app.register("cookie@example.com").await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "cookie@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("fimy_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain http on loopback");
    let body: Value = res.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 200, "reads work with the cookie alone");

    let res = client
        .patch(app.url("/api/v1/me"))
        .json(&json!({"display_name": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "csrf_token_missing").await;
    let res = client
        .patch(app.url("/api/v1/me"))
        .header("x-csrf-token", "forged")
        .json(&json!({"display_name": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "csrf_token_missing").await;
    let res = client
        .patch(app.url("/api/v1/me"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"display_name": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["display_name"], "Changed");
}

#[tokio::test]
async fn repeated_failures_lock_an_account_with_retry_after_until_the_window_passes() {
    let app = spawn_app().await;
    app.register("brute@example.com").await;
    for _ in 0..5 {
        assert_problem(
            app.login("brute@example.com", "guess guess guess").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let res = app
        .login("brute@example.com", "correct horse battery")
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_problem(res, 429, "rate_limited").await;

    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        app.login("brute@example.com", "correct horse battery")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_limited() {
    let app = spawn_app().await;
    for i in 0..20 {
        let res = app
            .login(&format!("user{i}@example.com"), "whatever pw")
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app.login("user99@example.com", "whatever pw").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
}

/// An application that takes the client address from `X-Forwarded-For`, so that one
/// test can log in from several addresses.
async fn spawn_behind_proxy() -> crate::helpers::TestApp {
    crate::helpers::spawn_with(crate::helpers::Options {
        env: vec![("FIMY_TRUST_FORWARDED_FOR", "true".to_owned())],
        ..Default::default()
    })
    .await
}

/// A login from `address`, with the `fimy_device` cookie when given.
async fn login_from(
    app: &crate::helpers::TestApp,
    address: &str,
    device: Option<&str>,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let mut req = app
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}));
    if let Some(d) = device {
        req = req.header("cookie", format!("fimy_device={d}"));
    }
    req.send().await.unwrap()
}

/// The `fimy_device` cookie a login set.
fn device_cookie(res: &reqwest::Response) -> String {
    let cookie = res
        .cookies()
        .find(|c| c.name() == "fimy_device")
        .expect("a device cookie");
    assert!(cookie.http_only());
    assert_eq!(cookie.path(), Some("/api/v1/auth/"));
    cookie.value().to_owned()
}

#[tokio::test]
async fn a_stranger_failing_many_times_does_not_lock_the_owner_out_but_stays_limited() {
    let app = spawn_behind_proxy().await;
    app.register("owner@example.com").await;
    let (owner, password) = ("owner@example.com", "correct horse battery");
    let attacker = "203.0.113.9";
    for _ in 0..5 {
        let res = login_from(&app, attacker, None, owner, "guess guess guess").await;
        assert_problem(res, 401, "invalid_credentials").await;
    }
    for _ in 0..20 {
        let res = login_from(&app, attacker, None, owner, "guess guess guess").await;
        assert!(res.headers().contains_key("retry-after"));
        assert_problem(res, 429, "rate_limited").await;
    }
    // Even the right password from the attacker's address waits…
    let res = login_from(&app, attacker, None, owner, password).await;
    assert_problem(res, 429, "rate_limited").await;
    // …while the owner, from their own address, gets in.
    let res = login_from(&app, "198.51.100.7", None, owner, password).await;
    assert_eq!(res.status(), 200);
    let device = device_cookie(&res);
    // And from a known device, even on the attacker's network.
    let res = login_from(&app, attacker, Some(&device), owner, password).await;
    assert_eq!(res.status(), 200);
    // The attacker is still limited, until the window passes.
    let res = login_from(&app, attacker, None, owner, "guess guess guess").await;
    assert_problem(res, 429, "rate_limited").await;
    app.clock.advance(chrono::Duration::minutes(15));
    let res = login_from(&app, attacker, None, owner, "guess guess guess").await;
    assert_problem(res, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn guesses_from_many_addresses_slow_the_account_down_except_for_a_known_device() {
    let app = spawn_behind_proxy().await;
    app.register("owner@example.com").await;
    let (owner, password) = ("owner@example.com", "correct horse battery");
    let res = login_from(&app, "198.51.100.7", None, owner, password).await;
    assert_eq!(res.status(), 200);
    let device = device_cookie(&res);

    // Thirty failures from six addresses: the account-wide back-off starts.
    for i in 0..6 {
        for _ in 0..5 {
            let res = login_from(&app, &format!("203.0.113.{i}"), None, owner, "guess!!!!!").await;
            assert_eq!(res.status(), 401);
        }
    }
    let res = login_from(&app, "203.0.113.77", None, owner, "guess!!!!!").await;
    assert_problem(res, 429, "rate_limited").await;
    // A new address of the owner's must wait too…
    let res = login_from(&app, "192.0.2.50", None, owner, password).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_problem(res, 429, "rate_limited").await;
    // …but the known device gets in, from anywhere; another account's device does not.
    let res = login_from(&app, "192.0.2.50", Some(&device), owner, password).await;
    assert_eq!(res.status(), 200);
    app.register("other@example.com").await;
    let other = login_from(&app, "198.51.100.8", None, "other@example.com", password).await;
    let other_device = device_cookie(&other);
    let res = login_from(&app, "192.0.2.51", Some(&other_device), owner, password).await;
    assert_problem(res, 429, "rate_limited").await;
    let res = login_from(
        &app,
        "192.0.2.52",
        Some("forged.99999999999.mac"),
        owner,
        password,
    )
    .await;
    assert_problem(res, 429, "rate_limited").await;
}
