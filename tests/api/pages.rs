//! The server-rendered pages (catalogue, experience, gift): HTML that needs no script,
//! escaped, in French or English, and a gift that only a POST opens.

use crate::helpers::{TEST_CARD_OK, TestApp, spawn_app, spawn_demo_app};
use reqwest::Response;
use serde_json::{Value, json};

async fn html(res: Response, status: u16) -> String {
    assert_eq!(res.status(), status, "{}", res.url());
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let body = res.text().await.unwrap();
    assert!(!body.contains("<script>"), "no inline script");
    assert!(!body.contains("style="), "no inline style");
    body
}

/// A query-string value, encoded (codes may end in `=` or `$`).
fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn get_lang(app: &TestApp, path: &str, accept: &str) -> Response {
    app.client
        .get(app.url(path))
        .header("accept-language", accept)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_catalogue_searches_and_pages_without_javascript() {
    let app = spawn_demo_app().await;
    let page = html(
        app.get("/experiences?q=cr%C3%A8me+br%C3%BBl%C3%A9e").await,
        200,
    )
    .await;
    assert!(page.contains("<html lang=\"fr\">"), "French by default");
    assert!(page.contains("action=\"/experiences\""));
    assert!(
        page.contains("value=\"crème brûlée\""),
        "the search is kept in the form"
    );
    let first = page.find("<li class=\"card\">").expect("a result");
    assert!(
        page[first..]
            .split("</li>")
            .next()
            .unwrap()
            .contains("Atelier pâtisserie: crème brûlée"),
        "ranked first"
    );
    assert!(
        !page.contains("<script"),
        "the catalogue runs no script at all"
    );

    // The same filters as the API: a category and a price in units.
    let spa = html(
        app.get("/experiences?category=spa&max_price=1000").await,
        200,
    )
    .await;
    let api: Value = app
        .get("/api/v1/experiences?category=spa&max_price=100000")
        .await
        .json()
        .await
        .unwrap();
    let items = api["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert_eq!(spa.matches("<li class=\"card\">").count(), items.len());
    for it in items {
        assert!(spa.contains(&format!("/experiences/{}", it["id"].as_str().unwrap())));
    }

    // Near a city, within a radius.
    let near = html(
        app.get("/experiences?near=Montr%C3%A9al&radius_km=25")
            .await,
        200,
    )
    .await;
    assert!(near.contains(" km</p>"), "distances are shown");
    assert!(
        !near.contains("Paris</p>"),
        "nothing in Paris within 25 km of Montréal"
    );

    // Pages: the next-page link carries the filters and the cursor, and its page follows on.
    let one = html(app.get("/experiences?limit=4").await, 200).await;
    assert_eq!(one.matches("<li class=\"card\">").count(), 4);
    let start = one
        .find("rel=\"next\"")
        .map(|i| one[..i].rfind("href=\"").unwrap() + 6);
    let href = &one[start.expect("a next page")..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    assert!(
        href.contains("limit=4") && href.contains("cursor="),
        "{href}"
    );
    let two = html(app.get(&href).await, 200).await;
    assert!(two.contains("← Première page"));
    let ids = |p: &str| -> Vec<String> {
        p.split("href=\"/experiences/")
            .skip(1)
            .map(|s| s[..36].to_owned())
            .collect()
    };
    for id in ids(&two) {
        assert!(!ids(&one).contains(&id), "pages do not overlap");
    }

    // Bad input is a page in plain words, with its status.
    let bad = html(app.get("/experiences?max_price=abc").await, 400).await;
    assert!(bad.contains("role=\"alert\"") && bad.contains("Entrez un prix en nombre"));
    let bad = html(app.get("/experiences?category=%3Cscript%3E").await, 400).await;
    assert!(bad.contains("n’est pas dans la liste"));
    let bad = html(app.get("/experiences?cursor=nonsense").await, 400).await;
    assert!(bad.contains("première page"));
}

#[tokio::test]
async fn english_by_header_query_or_cookie() {
    let app = spawn_demo_app().await;
    let en = html(
        get_lang(&app, "/experiences", "en-GB,en;q=0.9,fr;q=0.5").await,
        200,
    )
    .await;
    assert!(en.contains("<html lang=\"en\">") && en.contains("Find an experience"));
    assert!(en.contains("href=\"/experiences?lang=fr\""), "the switch");

    let res = app.get("/experiences?lang=en").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("fimy_lang=en"), "{cookie}");
    assert!(html(res, 200).await.contains("<html lang=\"en\">"));
    let remembered = app
        .client
        .get(app.url("/gift"))
        .header("cookie", "fimy_lang=en")
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap();
    assert!(
        html(remembered, 200)
            .await
            .contains("Enter your gift’s code")
    );
}

#[tokio::test]
async fn an_experience_page_has_its_facts_and_a_give_link() {
    let app = spawn_demo_app().await;
    let api: Value = app
        .get("/api/v1/experiences?q=cr%C3%A8me")
        .await
        .json()
        .await
        .unwrap();
    let x = &api["items"][0];
    let id = x["id"].as_str().unwrap();
    let page = html(app.get(&format!("/experiences/{id}")).await, 200).await;
    assert!(page.contains("<h1 id=\"exp-title\">Atelier pâtisserie: crème brûlée</h1>"));
    assert!(
        page.contains(
            &*x["partner"]["name"]
                .as_str()
                .unwrap()
                .replace('\'', "&#39;")
        )
    );
    assert!(page.contains(x["partner"]["city"].as_str().unwrap()));
    assert!(page.contains(&format!("href=\"/wallet?experience={id}\"")));
    assert!(page.contains("Conditions") && page.contains("Sur réservation"));
    assert!(page.contains("Durée"));

    let en = html(
        get_lang(&app, &format!("/experiences/{id}"), "en").await,
        200,
    )
    .await;
    assert!(en.contains("Give this experience") && en.contains("per person"));

    for path in [
        "/experiences/not-an-id".to_owned(),
        format!("/experiences/{}", uuid::Uuid::now_v7()),
    ] {
        let page = html(app.get(&path).await, 404).await;
        assert!(page.contains("n’existe pas"), "{path}");
    }
}

/// A delivered value card from a donor called "Zoé Martin", with `message`: (donor token,
/// card id, code).
async fn gift(app: &TestApp, message: &str) -> (String, String, String) {
    let res = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "zoe@example.com", "password": "correct horse battery",
                    "display_name": "Zoé Martin"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let donor = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bought = app
        .buy_value_card(
            &donor,
            5000,
            json!({"message": message, "theme": "birthday",
                   "payment": {"method": "test_card", "number": TEST_CARD_OK}}),
        )
        .await;
    let id = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &id, "delivered").await;
    let code = app.code_of(&id).await;
    (donor, id, code)
}

#[tokio::test]
async fn a_gift_link_shows_who_it_is_from_and_only_a_post_opens_it() {
    let app = spawn_app().await;
    let message = "Bon anniversaire <script>alert(\"x\")</script> & à bientôt";
    let (donor, id, code) = gift(&app, message).await;
    let link = format!("/gift?code={}", encode(&code));

    // What a link scanner or the recipient's first view gets: who, and a button.
    for _ in 0..2 {
        let page = html(app.get(&link).await, 200).await;
        assert!(page.contains("Zoé vous offre un cadeau"), "{page}");
        assert!(page.contains("Pour Rémi."));
        assert!(page.contains("<form method=\"post\" action=\"/gift/open\">"));
        assert!(page.contains("Ouvrir mon cadeau"));
        assert!(
            !page.contains("anniversaire"),
            "the message waits for the opening"
        );
        assert!(
            page.contains("data-page=\"gift\""),
            "the app takes over when it runs"
        );
    }
    let card: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["status"], "delivered", "a GET does not open the card");

    // The button: opened, with the message escaped.
    let res = app
        .client
        .post(app.url("/gift/open"))
        .form(&[("code", code.as_str()), ("lang", "fr")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = html(res, 200).await;
    assert!(
        page.contains(
            "Bon anniversaire &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; à bientôt"
        ),
        "{page}"
    );
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("De la part de Zoé"));
    assert!(page.contains("data-theme=\"birthday\""));
    assert!(page.contains("50,00") && page.contains("Valable jusqu’au"));
    assert!(page.contains("Conditions"));
    assert!(page.contains(&format!("href=\"/gift?code={}\"", encode(&code))));
    app.wait_for_status(&donor, &id, "opened").await;

    // In English too.
    let res = app
        .client
        .post(app.url("/gift/open"))
        .form(&[("code", code.as_str()), ("lang", "en")])
        .send()
        .await
        .unwrap();
    let page = html(res, 200).await;
    assert!(page.contains("From Zoé") && page.contains("Valid until"));
}

#[tokio::test]
async fn bad_codes_get_a_clear_page_and_the_apis_limits() {
    let app = spawn_app().await;
    let page = html(app.get("/gift?code=AAAA-BBBB-CCCC-DDDD-E").await, 422).await;
    assert!(page.contains("Ce code n’est pas valide"));
    assert!(
        page.contains("value=\"AAAA-BBBB-CCCC-DDDD-E\""),
        "kept to correct"
    );
    let page = html(app.get("/gift?code=%22%3E%3Cscript%3E").await, 422).await;
    assert!(
        page.contains("value=\"&quot;&gt;&lt;script&gt;\""),
        "escaped"
    );

    let empty = html(app.get("/gift").await, 200).await;
    assert!(empty.contains("<label for=\"code\">Code du cadeau</label>"));

    let res = app
        .client
        .post(app.url("/gift/open"))
        .form(&[("code", "")])
        .send()
        .await
        .unwrap();
    html(res, 422).await;

    // Well-formed codes of no card: "not recognised", then the limiter shared with the API.
    let unknown = || actors::code::CardCode::generate(&mut rand::thread_rng()).to_string();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let res = if i % 2 == 0 {
            app.get(&format!("/gift?code={}", encode(&unknown()))).await
        } else {
            app.client
                .post(app.url("/gift/open"))
                .form(&[("code", unknown())])
                .send()
                .await
                .unwrap()
        };
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            let page = html(res, 429).await;
            assert!(page.contains("Trop d’essais"));
        } else {
            let page = html(res, 404).await;
            assert!(page.contains("n’est pas reconnu"));
        }
    }
    assert_eq!(statuses[..5], [404; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 3], "{statuses:?}");
    // The API's own lookups share the same budget.
    let res = app
        .post_json("/api/v1/cards/open", &json!({"code": unknown()}))
        .await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn the_old_email_link_on_the_home_page_goes_to_the_gift() {
    let app = spawn_app().await;
    let res = app.get("/?code=ABCD-EFGH").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/gift?code=ABCD-EFGH");
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn the_reveal_shows_the_givers_photos_and_a_signed_in_donor_does_not_open_it() {
    let app = spawn_app().await;
    let (donor, id, code) = gift(&app, "Regarde !").await;
    let res = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/cards/{id}/attachments"),
        )
        .bearer_auth(&donor)
        .header("content-type", "image/png")
        .body(crate::attachments::png())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The donor, signed in with the web app's cookies, looks at the gift page and presses
    // the button: the form carries the CSRF token, the donor is recognised, nothing opens.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "zoe@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let preview = html(
        browser
            .get(app.url(&format!("/gift?code={}", encode(&code))))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(preview.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
    let res = browser
        .post(app.url("/gift/open"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(html(res, 200).await.contains("Regarde !"));
    let card: Value = app
        .get_as(&donor, &format!("/api/v1/cards/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        card["status"], "delivered",
        "the donor's look is not an opening"
    );

    // A form without the token (another site's, say) is a visitor's: it opens the card.
    let res = browser
        .post(app.url("/gift/open"))
        .form(&[("code", code.as_str()), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    let page = html(res, 200).await;
    app.wait_for_status(&donor, &id, "opened").await;

    // The photo is on the page, by a signed URL that serves it.
    let at = page.find("<img src=\"").expect("the photo") + 10;
    let src = page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&");
    assert!(src.starts_with("/api/v1/"), "{src}");
    assert!(page.contains("alt=\"Photo 1\""));
    let img = app.get(&src).await;
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn an_experience_gift_reveals_the_experience_its_party_and_conditions() {
    let app = spawn_demo_app().await;
    let donor = app.demo_token("donor").await;
    let exp: Value = app
        .get("/api/v1/experiences?q=brunch")
        .await
        .json()
        .await
        .unwrap();
    let exp = &exp["items"][0];
    let res = app
        .post_as(
            &donor,
            "/api/v1/cards",
            &json!({
                "kind": "experience", "experience_id": exp["id"], "party_size": 2,
                "recipient_name": "Ana", "recipient_email": "ana@example.com",
                "payment": {"method": "test_card", "number": TEST_CARD_OK},
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["card"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&donor, &id, "delivered").await;
    let code = app.code_of(&id).await;
    let res = app
        .client
        .post(app.url("/gift/open"))
        .form(&[("code", code.as_str()), ("lang", "en")])
        .send()
        .await
        .unwrap();
    let page = html(res, 200).await;
    let title = exp["title"].as_str().unwrap();
    let venue = exp["partner"]["name"].as_str().unwrap();
    assert!(
        page.contains(&format!(
            "<a href=\"/experiences/{}\">{} at {}</a>",
            exp["id"].as_str().unwrap(),
            title,
            venue.replace('\'', "&#39;")
        )),
        "{page}"
    );
    assert!(page.contains("2 people"));
    assert!(page.contains(exp["conditions"].as_str().unwrap()));
    assert!(page.contains("See the experience"));
}
