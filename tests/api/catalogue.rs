use crate::helpers::*;
use serde_json::Value;

async fn search(app: &TestApp, query: &str) -> Value {
    let res = app.get(&format!("/api/v1/experiences?{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn text_search_ranks_by_relevance_and_ignores_accents_and_case() {
    let app = spawn_demo_app().await;
    let page = search(&app, "q=creme%20brulee").await;
    assert_eq!(titles(&page)[0], "Atelier pâtisserie: crème brûlée");
    let accented = search(&app, "q=CR%C3%88ME").await;
    assert_eq!(titles(&accented)[0], "Atelier pâtisserie: crème brûlée");
    let scores: Vec<f64> = search(&app, "q=massage").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["relevance"].as_f64().unwrap())
        .collect();
    assert!(!scores.is_empty());
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[tokio::test]
async fn a_title_match_outranks_a_description_match() {
    let app = spawn_demo_app().await;
    // "nordique" is in one title; "petit" only in descriptions.
    let page = search(&app, "q=nordique").await;
    assert_eq!(titles(&page), ["Expérience thermale nordique"]);
    let page = search(&app, "q=escalade").await;
    assert_eq!(titles(&page)[0], "Initiation à l'escalade");
}

#[tokio::test]
async fn occasions_are_searchable_in_french_and_english_and_filterable() {
    let app = spawn_demo_app().await;
    let fr = titles(&search(&app, "q=mariage").await);
    let en = titles(&search(&app, "q=wedding").await);
    assert!(!fr.is_empty());
    let mut fr_sorted = fr.clone();
    fr_sorted.sort();
    let mut en_sorted = en;
    en_sorted.sort();
    assert_eq!(fr_sorted, en_sorted);
    let filtered = search(&app, "occasion=wedding&limit=100").await;
    for e in filtered["items"].as_array().unwrap() {
        assert!(
            e["occasions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o == "wedding")
        );
    }
    assert_eq!(filtered["items"].as_array().unwrap().len(), fr.len());
    // Winter offers what is tagged winter and what is offered all year.
    let winter = search(&app, "season=winter&limit=100").await;
    let seasons = |e: &serde_json::Value| -> Vec<String> {
        e["seasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let items = winter["items"].as_array().unwrap();
    for e in items {
        let s = seasons(e);
        assert!(s.iter().any(|s| s == "winter" || s == "all_year"), "{s:?}");
    }
    assert!(items.iter().any(|e| seasons(e) == ["all_year"]));
    assert!(
        items
            .iter()
            .any(|e| seasons(e).contains(&"winter".to_owned()))
    );
    // all_year itself finds only what is offered all year.
    let all_year = search(&app, "season=all_year&limit=100").await;
    for e in all_year["items"].as_array().unwrap() {
        assert!(seasons(e).contains(&"all_year".to_owned()));
    }
}

#[tokio::test]
async fn category_and_price_filters_combine() {
    let app = spawn_demo_app().await;
    let page = search(&app, "category=spa&currency=CAD&max_price=10000&limit=100").await;
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for e in items {
        assert_eq!(e["category"], "spa");
        assert_eq!(e["currency"], "CAD");
        assert!(e["price_minor"].as_i64().unwrap() <= 10_000);
    }
    let sorted = search(&app, "sort=price_asc&currency=EUR&min_price=8000&limit=100").await;
    let prices: Vec<i64> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["price_minor"].as_i64().unwrap())
        .collect();
    assert!(prices.iter().all(|p| *p >= 8000));
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
}

#[tokio::test]
async fn distance_filters_and_sorts_around_a_point() {
    let app = spawn_demo_app().await;
    // Place des Arts, Montréal.
    let page = search(&app, "lat=45.5081&lon=-73.5664&radius_km=10&limit=100").await;
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let distances: Vec<f64> = items
        .iter()
        .map(|e| e["distance_km"].as_f64().unwrap())
        .collect();
    assert!(distances.iter().all(|d| *d <= 10.0));
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(items.iter().all(|e| e["partner"]["city"] == "Montréal"));
    let none = search(&app, "lat=0&lon=0&radius_km=100").await;
    assert!(none["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn cursor_pagination_walks_every_result_once_in_order() {
    let app = spawn_demo_app().await;
    for sort in ["newest", "price_asc", "price_desc"] {
        let all = titles(&search(&app, &format!("sort={sort}&limit=100")).await);
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("sort={sort}&limit=3&cursor={c}"),
                None => format!("sort={sort}&limit=3"),
            };
            let page = search(&app, &q).await;
            walked.extend(titles(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(walked, all, "{sort}");
    }
    let page = search(&app, "sort=price_asc&limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/api/v1/experiences?sort=price_desc&cursor={cursor}"
        ))
        .await;
    assert_problem(res, 400, "invalid_cursor").await;
}

#[tokio::test]
async fn inconsistent_searches_are_refused_with_the_parameter_named() {
    let app = spawn_demo_app().await;
    for (query, field) in [
        ("sort=relevance", "sort"),
        ("sort=distance", "sort"),
        ("lat=45", "lat"),
        ("radius_km=5", "radius_km"),
        ("lat=95&lon=0", "lat"),
        ("min_price=500&max_price=100", "min_price"),
        ("category=casino", "category"),
        ("occasion=halloween", "occasion"),
        ("currency=BTC", "currency"),
    ] {
        let res = app.get(&format!("/api/v1/experiences?{query}")).await;
        let p = assert_problem(res, 400, "invalid_query").await;
        assert_eq!(p["field"], field, "{query}");
    }
    let res = app
        .get(&format!("/api/v1/experiences?q={}", "a".repeat(201)))
        .await;
    assert_problem(res, 400, "invalid_query").await;
    // Query syntax of the full-text engines is inert.
    for q in ["%22", "NEAR(", "a%20OR%20b", "%27%3B--", "*", "%26%7C!"] {
        assert_eq!(
            app.get(&format!("/api/v1/experiences?q={q}"))
                .await
                .status(),
            200,
            "{q}"
        );
    }
}

#[tokio::test]
async fn experience_and_partner_details_are_public() {
    let app = spawn_demo_app().await;
    let page = search(&app, "q=hammam").await;
    let exp = &page["items"][0];
    let detail: Value = app
        .get(&format!(
            "/api/v1/experiences/{}",
            exp["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["title"], exp["title"]);
    assert_eq!(detail["partner"]["name"], "Les Bains du Marais");
    let partner: Value = app
        .get(&format!(
            "/api/v1/partners/{}",
            exp["partner"]["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(partner["timezone"], "Europe/Paris");
    let partners: Value = app
        .get("/api/v1/partners?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(partners["items"].as_array().unwrap().len(), 8);
    assert_problem(
        app.get(&format!("/api/v1/experiences/{}", uuid::Uuid::now_v7()))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn demo_data_is_loaded_once_and_the_accounts_survive_a_restart() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    if std::env::var("FIMY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        return; // restarting on the same PostgreSQL database is covered by the SQLite run
    }
    let app = spawn_demo_app().await;
    let accounts = app.demo.clone();
    assert_eq!(
        accounts
            .iter()
            .filter(|a| !a.role.starts_with("card"))
            .count(),
        5
    );
    let partners = entities::partner::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    let secret_key = app.secret_key.clone();
    let data_dir = app.data_dir;
    let again = spawn_with(Options {
        demo_data: true,
        data_dir: Some(data_dir),
        secret_key: Some(secret_key),
        ..Default::default()
    })
    .await;
    assert_eq!(
        entities::partner::Entity::find()
            .count(&again.state.db)
            .await
            .unwrap(),
        partners
    );
    assert_eq!(again.demo.len(), accounts.len());
    assert_eq!(again.demo[0].password, accounts[0].password);
    again.demo_token("admin").await;
}
