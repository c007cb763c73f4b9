//! Catalogue photos: a partner uploads photos of its experiences and of its venue, the
//! catalogue and the experience page show them from this host, the URL serves the very
//! bytes, and what is not a photo, too big, or someone else's is refused.

use crate::attachments::{png, png_of_len, post_chunked};
use crate::helpers::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

/// The demo owner's token and their partner's id.
async fn owner(app: &TestApp) -> (String, String) {
    let token = app.demo_token("partner owner").await;
    let partner = app.partner_of(&token).await;
    (token, partner)
}

/// A new published experience of `partner` without photos; its id.
async fn experience(app: &TestApp, token: &str, partner: &str, title: &str) -> String {
    let res = app
        .post_as(
            token,
            &format!("/api/v1/partners/{partner}/experiences"),
            &json!({
                "title": title,
                "description": "Deux heures au four à pain.",
                "category": "activity",
                "price_minor": 6500,
                "currency": "CAD",
                "duration_minutes": 120,
                "capacity": 2,
                "published": true
            }),
        )
        .await;
    assert_eq!(res.status(), 201, "create {title}");
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn upload(app: &TestApp, token: &str, path: &str, ct: &str, body: Vec<u8>) -> Response {
    app.request(Method::POST, path)
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> Response {
    app.request(Method::DELETE, path)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> Response {
    app.request(Method::PATCH, path)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The experience's photos as the public catalogue answers them.
async fn public_photos(app: &TestApp, eid: &str) -> Value {
    let res = app.get(&format!("/api/v1/experiences/{eid}")).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["photos"].clone()
}

/// A registered customer added to `partner`'s staff as `role`; their token.
async fn staff(app: &TestApp, owner: &str, partner: &str, email: &str, role: &str) -> String {
    let token = app.register(email).await;
    let res = app
        .post_as(
            owner,
            &format!("/api/v1/partners/{partner}/staff"),
            &json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(res.status(), 201, "invite {email}");
    token
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn an_uploaded_photo_shows_in_the_catalogue_and_its_url_serves_the_same_bytes() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Fournil du matin").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let bytes = png();
    let res = upload(&app, &token, &path, "image/png", bytes.clone()).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let photo: Value = res.json().await.unwrap();
    let url = photo["url"].as_str().unwrap().to_owned();
    assert_eq!(location, url);
    assert!(url.starts_with("/api/v1/photos/"), "{url}");
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(photo["sha256"], sha256_hex(&bytes));
    assert_eq!(photo["photos"], json!([url]));

    // In the public catalogue's answers (the experience and the search), as a URL.
    assert_eq!(public_photos(&app, &eid).await, json!([url]));
    let page: Value = app
        .get(&format!(
            "/api/v1/experiences?partner_id={partner}&limit=100"
        ))
        .await
        .json()
        .await
        .unwrap();
    let hit = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == eid.as_str())
        .expect("the experience in the search");
    assert_eq!(hit["photos"], json!([url]));
    // And on the server-rendered experience page, with words for it.
    let html = app
        .get(&format!("/experiences/{eid}?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "<img src=\"{url}\" alt=\"Fournil du matin — photo 1\""
        )),
        "{html}"
    );

    // The URL needs no login and serves exactly what was uploaded.
    let res = app.get(&url).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cache = h["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("public") && cache.contains("max-age=31536000"),
        "{cache}"
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    let served = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&served), sha256_hex(&bytes));
    let res = app
        .request(Method::GET, &url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn what_is_not_a_jpeg_png_or_webp_is_refused() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Atelier poterie").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    // A text file renamed .png and sent as one.
    let text = b"Bonjour, ceci n'est pas une image.\n".to_vec();
    let res = upload(&app, &token, &path, "image/png", text.clone()).await;
    assert_problem(res, 422, "photo_content_mismatch").await;
    // A PNG declared as a JPEG.
    let res = upload(&app, &token, &path, "image/jpeg", png()).await;
    assert_problem(res, 422, "photo_content_mismatch").await;
    let res = upload(&app, &token, &path, "image/png", Vec::new()).await;
    assert_problem(res, 422, "photo_content_mismatch").await;
    for ct in ["text/plain", "image/svg+xml", "video/mp4", "image/gif"] {
        let res = upload(&app, &token, &path, ct, text.clone()).await;
        assert_problem(res, 415, "photo_type_not_allowed").await;
    }
    assert_eq!(public_photos(&app, &eid).await, json!([]));
}

#[tokio::test]
async fn a_photo_over_five_mib_is_refused_whether_announced_or_not() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Brunch du dimanche").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let res = upload(&app, &token, &path, "image/png", png_of_len(5 * MIB + 1)).await;
    assert_problem(res, 413, "payload_too_large").await;
    assert_eq!(post_chunked(&app, &token, &path, 5 * MIB + 1).await, 413);
    assert_eq!(public_photos(&app, &eid).await, json!([]));
    // Exactly the limit is a photo.
    let res = upload(&app, &token, &path, "image/png", png_of_len(5 * MIB)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(public_photos(&app, &eid).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn only_the_partners_own_people_change_its_photos() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Dégustation de cidres").await;
    let exp_path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let profile_path = format!("/api/v1/partners/{partner}/photos");
    let res = upload(&app, &token, &exp_path, "image/png", png()).await;
    assert_eq!(res.status(), 201);
    let photo_id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another partner's owner: neither this partner's experience nor its profile.
    let other = app.register("autre@example.com").await;
    let page: Value = app
        .get("/api/v1/partners?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let elsewhere = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .find(|id| *id != partner)
        .unwrap();
    let admin = app.demo_token("admin").await;
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/partners/{elsewhere}/staff"),
            &json!({"email": "autre@example.com", "role": "owner"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for path in [&exp_path, &profile_path] {
        let res = upload(&app, &other, path, "image/png", png()).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = delete(&app, &other, &format!("{exp_path}/{photo_id}")).await;
    assert_problem(res, 403, "forbidden").await;
    // Nor through its own partner id: the experience is not one of its partner's.
    let res = upload(
        &app,
        &other,
        &format!("/api/v1/partners/{elsewhere}/experiences/{eid}/photos"),
        "image/png",
        png(),
    )
    .await;
    assert_problem(res, 404, "not_found").await;
    let res = delete(
        &app,
        &other,
        &format!("/api/v1/partners/{elsewhere}/photos/{photo_id}"),
    )
    .await;
    assert_problem(res, 404, "not_found").await;

    // The partner's staff: its experiences' photos, not its profile's (owner only).
    let member = staff(&app, &token, &partner, "equipe@example.com", "staff").await;
    let res = upload(&app, &member, &exp_path, "image/png", png()).await;
    assert_eq!(res.status(), 201);
    let res = upload(&app, &member, &profile_path, "image/png", png()).await;
    assert_problem(res, 403, "forbidden").await;
    // Tablets, customers and strangers: nothing.
    let tablet = app.demo_token("partner tablet").await;
    let donor = app.demo_token("donor").await;
    for who in [&tablet, &donor] {
        let res = upload(&app, who, &exp_path, "image/png", png()).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = app
        .request(Method::POST, &exp_path)
        .header("content-type", "image/png")
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(public_photos(&app, &eid).await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_removed_photo_leaves_the_list_and_its_url_stops_answering() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Balade à vélo").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let mut urls = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = upload(&app, &token, &path, "image/png", png()).await;
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        urls.push(v["url"].as_str().unwrap().to_owned());
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(public_photos(&app, &eid).await, json!(urls));

    let res = delete(&app, &token, &format!("{path}/{}", ids[0])).await;
    assert_eq!(res.status(), 204);
    assert_eq!(public_photos(&app, &eid).await, json!([urls[1]]));
    assert_problem(app.get(&urls[0]).await, 404, "not_found").await;
    assert_eq!(app.get(&urls[1]).await.status(), 200);
    let res = delete(&app, &token, &format!("{path}/{}", ids[0])).await;
    assert_problem(res, 404, "not_found").await;
    // A photo of the experience is not removed through the profile.
    let res = delete(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}/photos/{}", ids[1]),
    )
    .await;
    assert_problem(res, 404, "not_found").await;
    assert_eq!(public_photos(&app, &eid).await, json!([urls[1]]));
}

#[tokio::test]
async fn photos_are_reordered_by_patching_the_list_and_never_dropped_by_it() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Soirée jazz").await;
    let other = experience(&app, &token, &partner, "Soirée blues").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let mut urls = Vec::new();
    for _ in 0..2 {
        let res = upload(&app, &token, &path, "image/png", png()).await;
        urls.push(
            res.json::<Value>().await.unwrap()["url"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let exp = format!("/api/v1/partners/{partner}/experiences/{eid}");
    let https = "https://img.example.com/jazz.jpg";
    let res = patch(
        &app,
        &token,
        &exp,
        json!({"photos": [urls[1], https, urls[0]]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["photos"],
        json!([urls[1], https, urls[0]])
    );
    // Leaving an uploaded photo out is refused (it is removed with DELETE)...
    let res = patch(&app, &token, &exp, json!({"photos": [urls[1]]})).await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "photos"
    );
    // ...and so is a photo of another experience.
    let res = patch(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}/experiences/{other}"),
        json!({"photos": [urls[0]]}),
    )
    .await;
    assert_eq!(
        assert_problem(res, 422, "invalid_field").await["field"],
        "photos[0]"
    );
    assert_eq!(
        public_photos(&app, &eid).await,
        json!([urls[1], https, urls[0]])
    );
    assert_eq!(public_photos(&app, &other).await, json!([]));
}

#[tokio::test]
async fn a_list_holds_ten_photos_at_most() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Cours de cuisine").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    for i in 0..10 {
        let res = upload(&app, &token, &path, "image/png", png()).await;
        assert_eq!(res.status(), 201, "photo {i}");
    }
    let res = upload(&app, &token, &path, "image/png", png()).await;
    assert_problem(res, 409, "too_many_photos").await;
    assert_eq!(
        public_photos(&app, &eid).await.as_array().unwrap().len(),
        10
    );
}

#[tokio::test]
async fn the_owner_uploads_venue_photos_that_its_public_profile_lists() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let before: Value = app
        .get(&format!("/api/v1/partners/{partner}"))
        .await
        .json()
        .await
        .unwrap();
    let before = before["photos"].as_array().unwrap().clone();
    let path = format!("/api/v1/partners/{partner}/photos");
    let res = upload(&app, &token, &path, "image/png", png()).await;
    assert_eq!(res.status(), 201);
    let photo: Value = res.json().await.unwrap();
    let url = photo["url"].as_str().unwrap().to_owned();
    let mut expected = before.clone();
    expected.push(json!(url));
    let public: Value = app
        .get(&format!("/api/v1/partners/{partner}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["photos"], Value::Array(expected));
    assert_eq!(app.get(&url).await.status(), 200);
    // The seeded photos stay where they are when the owner reorders.
    let mut reordered = vec![json!(url)];
    reordered.extend(before.iter().cloned());
    let res = patch(
        &app,
        &token,
        &format!("/api/v1/partners/{partner}"),
        json!({"photos": reordered}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["photos"],
        Value::Array(reordered)
    );
    let res = delete(
        &app,
        &token,
        &format!("{path}/{}", photo["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&url).await.status(), 404);
}

#[tokio::test]
async fn concurrent_uploads_lose_no_photo_and_stop_at_ten() {
    let app = spawn_demo_app().await;
    let (token, partner) = owner(&app).await;
    let eid = experience(&app, &token, &partner, "Marché de Noël").await;
    let path = format!("/api/v1/partners/{partner}/experiences/{eid}/photos");
    let answers = futures_util::future::join_all(
        (0..14).map(|_| upload(&app, &token, &path, "image/png", png())),
    )
    .await;
    let mut added = Vec::new();
    for res in answers {
        match res.status().as_u16() {
            201 => added.push(res.json::<Value>().await.unwrap()["url"].clone()),
            409 => {
                assert_problem(res, 409, "too_many_photos").await;
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(added.len(), 10, "exactly ten are taken");
    let mut listed = public_photos(&app, &eid).await.as_array().unwrap().clone();
    let key = |v: &Value| v.as_str().unwrap().to_owned();
    listed.sort_by_key(key);
    added.sort_by_key(key);
    assert_eq!(listed, added, "every photo taken is in the list");
}
