//! The partner portal: profile, experiences, staff and tablet devices, and who may
//! change what.

use crate::helpers::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app.request(method, path).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn patch_as(app: &TestApp, token: &str, path: &str, body: Value) -> Response {
    send(app, Method::PATCH, token, path, Some(body)).await
}

async fn delete_as(app: &TestApp, token: &str, path: &str) -> Response {
    send(app, Method::DELETE, token, path, None).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    let res = app.get_as(token, "/api/v1/me").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The demo owner's token and their partner's id.
async fn owner(app: &TestApp) -> (String, String) {
    let token = app.demo_token("partner owner").await;
    let partner = me(app, &token).await["staff"]["partner_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (token, partner)
}

/// Registers `email` and adds them to `partner`'s staff with `role` (as `by`); returns
/// their token.
async fn staff_member(app: &TestApp, by: &str, partner: &str, email: &str, role: &str) -> String {
    let token = app.register(email).await;
    let res = app
        .post_as(
            by,
            &format!("/api/v1/partners/{partner}/staff"),
            &json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(res.status(), 201, "invite {email}");
    token
}

/// Another partner than `mine`.
async fn other_partner(app: &TestApp, mine: &str) -> String {
    let page: Value = app
        .get("/api/v1/partners?limit=100")
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .find(|id| id != mine)
        .unwrap()
}

async fn search_titles(app: &TestApp, q: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/experiences?q={q}"))
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

fn new_experience(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Trois heures aux fourneaux avec le chef.",
        "category": "activity",
        "price_minor": 8900,
        "currency": "CAD",
        "duration_minutes": 180,
        "capacity": 2,
        "conditions": "Sur réservation.",
        "photos": ["https://img.example.com/atelier.jpg"],
        "occasions": ["birthday", "christmas"],
        "seasons": ["winter"]
    })
}

#[tokio::test]
async fn the_owner_edits_the_profile_and_sees_it() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let res = patch_as(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}"),
        json!({
            "name": "Bistro Zanzibar",
            "city": "Montréal",
            "timezone": "America/Montreal",
            "photos": ["https://img.example.com/salle.jpg"],
            "opening_hours": [
                {"weekday": "sat", "open": "18:00", "close": "24:00"},
                {"weekday": "tue", "open": "11:30", "close": "14:00"}
            ],
            "cancellation_hours": 48,
            "latitude": 45.52,
            "longitude": -73.58
        }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["name"], "Bistro Zanzibar");
    assert_eq!(view["timezone"], "America/Montreal");
    assert_eq!(view["cancellation_hours"], 48);
    assert_eq!(
        view["opening_hours"],
        json!([
            {"weekday": "tue", "open": "11:30", "close": "14:00"},
            {"weekday": "sat", "open": "18:00", "close": "24:00"}
        ]),
        "ordered by weekday"
    );
    assert!(view["commission_bps"].is_i64());

    let profile: Value = app
        .get_as(&token, &format!("/api/v1/partners/{partner}/profile"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile, view);
    let public: Value = app
        .get(&format!("/api/v1/partners/{partner}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["name"], "Bistro Zanzibar");
    assert_eq!(public["latitude"], 45.52);

    // The venue's name is searchable: its experiences were reindexed.
    let hits = search_titles(&app, "zanzibar").await;
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h["partner"]["id"] == partner.as_str()));
}

#[tokio::test]
async fn only_the_owner_edits_the_profile() {
    let app = spawn_demo_app().await;
    let (owner_token, partner) = owner(&app).await;
    let staff = staff_member(&app, &owner_token, &partner, "sam@example.com", "staff").await;
    let tablet = app.demo_token("partner tablet").await;
    let donor = app.demo_token("donor").await;
    let admin = app.demo_token("admin").await;
    let path = format!("/api/v1/partners/{partner}");
    for who in [&staff, &tablet, &donor] {
        assert_problem(
            patch_as(&app, who, &path, json!({"name": "Pirate"})).await,
            403,
            "forbidden",
        )
        .await;
    }
    // The owner of another partner.
    let other = other_partner(&app, &partner).await;
    let other_owner = staff_member(&app, &admin, &other, "olga@example.com", "owner").await;
    assert_problem(
        patch_as(&app, &other_owner, &path, json!({"name": "Pirate"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        patch_as(
            &app,
            &other_owner,
            &format!("/api/v1/partners/{other}"),
            json!({"cancellation_hours": 0})
        )
        .await
        .status(),
        200
    );
    // Staff read the full profile; tablets and customers do not.
    let profile = app
        .get_as(&staff, &format!("/api/v1/partners/{partner}/profile"))
        .await;
    assert_eq!(profile.status(), 200);
    let profile: Value = profile.json().await.unwrap();
    assert!(profile["commission_bps"].is_i64());
    for who in [&tablet, &donor] {
        assert_problem(
            app.get_as(who, &format!("/api/v1/partners/{partner}/profile"))
                .await,
            403,
            "forbidden",
        )
        .await;
    }
    // Admins may.
    assert_eq!(
        patch_as(&app, &admin, &path, json!({"description": "Revu."}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_profile_values_are_refused_with_the_field() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let path = format!("/api/v1/partners/{partner}");
    let cases = [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (
            json!({"opening_hours": [{"weekday": "lundi", "open": "09:00", "close": "12:00"}]}),
            "opening_hours[0].weekday",
        ),
        (
            json!({"opening_hours": [{"weekday": "mon", "open": "09:00", "close": "12:00"},
                                     {"weekday": "mon", "open": "14:00", "close": "13:00"}]}),
            "opening_hours[1].close",
        ),
        (
            json!({"opening_hours": [{"weekday": "mon", "open": "9h", "close": "12:00"}]}),
            "opening_hours[0].open",
        ),
        (json!({"cancellation_hours": 721}), "cancellation_hours"),
        (json!({"cancellation_hours": -1}), "cancellation_hours"),
        (
            json!({"photos": ["http://insecure.example.com/a.jpg"]}),
            "photos[0]",
        ),
        (json!({"latitude": 91.0}), "latitude"),
        (json!({"name": "  "}), "name"),
        (json!({"commission_bps": 0}), "commission_bps"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            patch_as(&app, &token, &path, body.clone()).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let profile: Value = app
        .get_as(&token, &format!("/api/v1/partners/{partner}/profile"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["cancellation_hours"], 24, "nothing was changed");
}

#[tokio::test]
async fn an_experience_is_a_draft_until_published() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let staff = staff_member(&app, &token, &partner, "sam@example.com", "staff").await;
    let res = app
        .post_as(
            &staff,
            &format!("/api/v1/partners/{partner}/experiences"),
            &new_experience("Atelier quenelles lyonnaises"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let eid = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["published"], false);
    assert_eq!(created["occasions"], json!(["birthday", "christmas"]));
    assert_eq!(created["partner"]["id"], partner.as_str());
    assert!(search_titles(&app, "quenelles").await.is_empty());
    assert_eq!(
        app.get(&format!("/api/v1/experiences/{eid}"))
            .await
            .status(),
        404,
        "drafts are not public"
    );

    // The portal list shows drafts.
    let list: Value = app
        .get_as(
            &token,
            &format!("/api/v1/partners/{partner}/experiences?published=false"),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![eid.as_str()]);
    // Paging through everything visits each experience once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/partners/{partner}/experiences?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app.get_as(&token, &path).await.json().await.unwrap();
        for e in page["items"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert!(seen.contains(&eid));

    let res = app
        .post_as(
            &token,
            &format!("/api/v1/partners/{partner}/experiences/{eid}/publish"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let hits = search_titles(&app, "quenelles").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], eid.as_str());
    assert_eq!(hits[0]["price_minor"], 8900);

    let res = patch_as(
        &app,
        &staff,
        &format!("/api/v1/partners/{partner}/experiences/{eid}"),
        json!({"price_minor": 9900, "occasions": ["thank_you"], "title": "Atelier quenelles et sauce Nantua"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["price_minor"], 9900);
    assert_eq!(patched["currency"], "CAD");
    assert_eq!(patched["occasions"], json!(["thank_you"]));
    assert_eq!(patched["seasons"], json!(["winter"]), "untouched");
    let hits = search_titles(&app, "nantua").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["price_minor"], 9900);
    let by_occasion: Value = app
        .get(&format!(
            "/api/v1/experiences?occasion=thank_you&partner_id={partner}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        by_occasion["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == eid.as_str())
    );

    for (body, field) in [
        (json!({"price_minor": 0}), "price_minor"),
        (json!({"currency": "JPY"}), "currency"),
        (json!({"capacity": 501}), "capacity"),
        (json!({"duration_minutes": 4}), "duration_minutes"),
        (json!({"seasons": ["monsoon"]}), "seasons[0]"),
        (json!({"category": "casino"}), "category"),
    ] {
        let problem = assert_problem(
            patch_as(
                &app,
                &token,
                &format!("/api/v1/partners/{partner}/experiences/{eid}"),
                body.clone(),
            )
            .await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], field, "{body}");
    }

    let res = app
        .post_as(
            &token,
            &format!("/api/v1/partners/{partner}/experiences/{eid}/unpublish"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(search_titles(&app, "nantua").await.is_empty());

    // An experience is reached only under its own partner.
    let other = other_partner(&app, &partner).await;
    let admin = app.demo_token("admin").await;
    assert_problem(
        patch_as(
            &app,
            &admin,
            &format!("/api/v1/partners/{other}/experiences/{eid}"),
            json!({"price_minor": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn tablets_and_customers_cannot_manage_experiences() {
    let app = spawn_demo_app().await;
    let (_, partner) = owner(&app).await;
    let tablet = app.demo_token("partner tablet").await;
    let donor = app.demo_token("donor").await;
    for who in [&tablet, &donor] {
        assert_problem(
            app.post_as(
                who,
                &format!("/api/v1/partners/{partner}/experiences"),
                &new_experience("Atelier interdit"),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get_as(who, &format!("/api/v1/partners/{partner}/experiences"))
                .await,
            403,
            "forbidden",
        )
        .await;
    }
}

#[tokio::test]
async fn invited_staff_join_and_removed_staff_leave_at_once() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let sam = staff_member(&app, &token, &partner, "sam@example.com", "staff").await;
    let view = me(&app, &sam).await;
    assert_eq!(view["kind"], "partner_staff");
    assert_eq!(view["staff"]["partner_id"], partner.as_str());
    assert_eq!(view["staff"]["role"], "staff");
    let sam_id = view["id"].as_str().unwrap().to_owned();
    let staff_list: Value = app
        .get_as(&sam, &format!("/api/v1/partners/{partner}/staff"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        staff_list
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == sam_id.as_str())
    );

    let invite = |email: &str, role: &str| {
        let (app, token, partner) = (&app, &token, &partner);
        let body = json!({"email": email, "role": role});
        async move {
            app.post_as(token, &format!("/api/v1/partners/{partner}/staff"), &body)
                .await
        }
    };
    let p = assert_problem(
        invite("sam@example.com", "staff").await,
        409,
        "already_staff",
    )
    .await;
    assert_eq!(p["field"], "email");
    assert_problem(
        invite("admin@demo.fimy.test", "staff").await,
        409,
        "already_staff",
    )
    .await;
    let p = assert_problem(
        invite("nobody@example.com", "staff").await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(p["field"], "email");
    app.register("tab@example.com").await;
    let p = assert_problem(
        invite("tab@example.com", "tablet").await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(p["field"], "role");
    // Staff do not manage people.
    assert_problem(
        app.post_as(
            &sam,
            &format!("/api/v1/partners/{partner}/staff"),
            &json!({"email": "tab@example.com", "role": "staff"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    let res = delete_as(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}/staff/{sam_id}"),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get_as(&sam, "/api/v1/me").await, 401, "unauthenticated").await;
    let again = app.relogin("sam@example.com").await;
    let view = me(&app, &again).await;
    assert_eq!(view["kind"], "customer");
    assert!(view.get("staff").is_none());
    assert_problem(
        delete_as(
            &app,
            &token,
            &format!("/api/v1/partners/{partner}/staff/{sam_id}"),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // The only owner cannot leave; with a second owner they can.
    let owner_id = me(&app, &token).await["id"].as_str().unwrap().to_owned();
    assert_problem(
        delete_as(
            &app,
            &token,
            &format!("/api/v1/partners/{partner}/staff/{owner_id}"),
        )
        .await,
        409,
        "last_owner",
    )
    .await;
    staff_member(&app, &token, &partner, "co@example.com", "owner").await;
    assert_eq!(
        delete_as(
            &app,
            &token,
            &format!("/api/v1/partners/{partner}/staff/{owner_id}")
        )
        .await
        .status(),
        204
    );
    assert_problem(
        app.get_as(&token, "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_device_gets_a_tablet_token_until_it_is_revoked() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let res = app
        .post_as(
            &token,
            &format!("/api/v1/partners/{partner}/devices"),
            &json!({"name": "Tablette accueil"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let device = created["device_id"].as_str().unwrap().to_owned();
    let device_token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Tablette accueil");

    let view = me(&app, &device_token).await;
    assert_eq!(view["id"], device.as_str());
    assert_eq!(view["kind"], "partner_staff");
    assert_eq!(view["staff"]["role"], "tablet");
    assert_eq!(view["staff"]["partner_id"], partner.as_str());
    assert!(
        view["email"]
            .as_str()
            .unwrap()
            .ends_with("@devices.fimy.invalid")
    );

    // A tablet manages nothing.
    assert_problem(
        app.get_as(&device_token, &format!("/api/v1/partners/{partner}/staff"))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_as(
            &device_token,
            &format!("/api/v1/partners/{partner}/devices"),
            &json!({"name": "Clone"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    let list: Value = app
        .get_as(&token, &format!("/api/v1/partners/{partner}/devices"))
        .await
        .json()
        .await
        .unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == device.as_str())
        .unwrap();
    assert_eq!(mine["name"], "Tablette accueil");
    assert!(mine["session_expires_at"].is_string());
    assert!(mine.get("token").is_none());
    assert!(!list.to_string().contains(&device_token));

    // Only the owner revokes.
    let staff = staff_member(&app, &token, &partner, "sam@example.com", "staff").await;
    assert_problem(
        delete_as(
            &app,
            &staff,
            &format!("/api/v1/partners/{partner}/devices/{device}"),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let res = delete_as(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}/devices/{device}"),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get_as(&device_token, "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
    let list: Value = app
        .get_as(&token, &format!("/api/v1/partners/{partner}/devices"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|d| d["device_id"] != device.as_str())
    );
    assert_problem(
        delete_as(
            &app,
            &token,
            &format!("/api/v1/partners/{partner}/devices/{device}"),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_browser_takes_a_device_token_as_its_session_until_the_device_is_revoked() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_demo_app().await;
    let (owner_token, partner) = owner(&app).await;
    let created: Value = app
        .post_as(
            &owner_token,
            &format!("/api/v1/partners/{partner}/devices"),
            &json!({"name": "Tablette comptoir"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let device = created["device_id"].as_str().unwrap();
    let device_token = created["token"].as_str().unwrap();

    let res = app
        .post_json(
            "/api/v1/auth/device",
            &json!({"token": format!(" {device_token} ")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("fimy_session="))
        .expect("a session cookie");
    assert!(
        session.starts_with(&format!("fimy_session={device_token};")),
        "{session}"
    );
    assert!(session.contains("HttpOnly"), "{session}");
    let csrf = cookies
        .iter()
        .find_map(|c| c.strip_prefix("fimy_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["id"], device);
    assert_eq!(body["user"]["staff"]["role"], "tablet");
    assert_eq!(body["csrf_token"], csrf.as_str());
    // No second session: the device keeps its one.
    let sessions = entities::session::Entity::find()
        .filter(entities::session::Column::UserId.eq(uuid::Uuid::parse_str(device).unwrap()))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
    // The cookie works like the bearer token, writes with the CSRF header.
    let res = app
        .request(Method::GET, "/api/v1/me")
        .header("cookie", format!("fimy_session={device_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["id"], device);

    // Only a tablet's live token.
    for wrong in [owner_token.as_str(), "", "not-a-token"] {
        assert_problem(
            app.post_json("/api/v1/auth/device", &json!({"token": wrong}))
                .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(
        delete_as(
            &app,
            &owner_token,
            &format!("/api/v1/partners/{partner}/devices/{device}")
        )
        .await
        .status(),
        204
    );
    assert_problem(
        app.post_json("/api/v1/auth/device", &json!({"token": device_token}))
            .await,
        401,
        "invalid_credentials",
    )
    .await;
}
