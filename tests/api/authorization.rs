//! Nobody reads or changes what is not theirs.

use crate::helpers::*;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;

async fn partner_ids(app: &TestApp) -> Vec<uuid::Uuid> {
    entities::partner::Entity::find()
        .order_by_asc(entities::partner::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

#[tokio::test]
async fn only_admins_list_users() {
    let app = spawn_demo_app().await;
    let customer = app.demo_token("donor").await;
    let owner = app.demo_token("partner owner").await;
    let admin = app.demo_token("admin").await;
    assert_problem(
        app.get_as(&customer, "/api/v1/admin/users").await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_as(&owner, "/api/v1/admin/users").await,
        403,
        "forbidden",
    )
    .await;
    let page: Value = app
        .get_as(&admin, "/api/v1/admin/users?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/users?limit=100&cursor={next}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        3,
        "5 demo accounts in all"
    );
    assert!(rest.get("next_cursor").is_none());
}

#[tokio::test]
async fn partner_staff_see_their_own_partner_only_and_tablets_see_no_staff_list() {
    let app = spawn_demo_app().await;
    let ids = partner_ids(&app).await;
    let (own, other) = (ids[0], ids[1]);
    let owner = app.demo_token("partner owner").await;
    let tablet = app.demo_token("partner tablet").await;
    let customer = app.demo_token("recipient").await;

    let staff: Vec<Value> = app
        .get_as(&owner, &format!("/api/v1/partners/{own}/staff"))
        .await
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = staff.iter().map(|s| s["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["owner", "tablet"]);

    assert_problem(
        app.get_as(&owner, &format!("/api/v1/partners/{other}/staff"))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_as(&tablet, &format!("/api/v1/partners/{own}/staff"))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_as(&customer, &format!("/api/v1/partners/{own}/staff"))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/partners/{own}/staff")).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn commission_rates_are_shown_to_the_partner_and_admins_only() {
    let app = spawn_demo_app().await;
    let own = partner_ids(&app).await[0];
    let path = format!("/api/v1/partners/{own}");
    let public: Value = app.get(&path).await.json().await.unwrap();
    assert!(public.get("commission_bps").is_none());
    let customer: Value = app
        .get_as(&app.demo_token("donor").await, &path)
        .await
        .json()
        .await
        .unwrap();
    assert!(customer.get("commission_bps").is_none());
    let owner: Value = app
        .get_as(&app.demo_token("partner owner").await, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(owner["commission_bps"], 1500);
    let admin: Value = app
        .get_as(&app.demo_token("admin").await, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["commission_bps"], 1500);
}

#[tokio::test]
async fn unpublished_experiences_are_hidden_from_everyone_but_their_partner() {
    let app = spawn_demo_app().await;
    let own = partner_ids(&app).await[0];
    let exp = entities::experience::Entity::find()
        .filter(entities::experience::Column::PartnerId.eq(own))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    entities::experience::ActiveModel {
        id: Set(exp.id),
        published: Set(false),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();
    let path = format!("/api/v1/experiences/{}", exp.id);
    assert_problem(app.get(&path).await, 404, "not_found").await;
    assert_problem(
        app.get_as(&app.demo_token("donor").await, &path).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get_as(&app.demo_token("partner owner").await, &path)
            .await
            .status(),
        200
    );
    let listed: Value = app
        .get(&format!("/api/v1/experiences?partner_id={own}&limit=100"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != exp.id.to_string())
    );
}

#[tokio::test]
async fn a_user_cannot_revoke_someone_elses_session() {
    let app = spawn_app().await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bobs: Vec<Value> = app
        .get_as(&bob, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/me/sessions/{}", bobs[0]["id"].as_str().unwrap()),
        )
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    assert_eq!(app.get_as(&bob, "/api/v1/me").await.status(), 200);
}
