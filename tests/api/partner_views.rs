//! Around a booking: its iCalendar file, the partner's secret calendar feed, the partner
//! dashboard, and the message thread between holder and partner. Bookings are inserted
//! directly as rows (the booking flow is tested elsewhere).

use crate::helpers::*;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use entities::{booking, experience, partner, partner_staff, user};
use fimy::clock::Clock;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

const TORONTO: Tz = chrono_tz::America::Toronto;

struct Ctx {
    app: TestApp,
    /// Bistro du Plateau (Montréal), where the demo owner and tablet work.
    bistro: partner::Model,
    tasting: experience::Model,
    /// Le Comptoir des Halles (Paris), another partner.
    comptoir: partner::Model,
    dinner: experience::Model,
    card: Uuid,
    holder: String,
    holder_id: Uuid,
    stranger: String,
    stranger_id: Uuid,
    owner: String,
    tablet: String,
    admin: String,
    /// The owner of the other partner.
    rival: String,
}

async fn partner_by_slug(app: &TestApp, slug: &str) -> partner::Model {
    partner::Entity::find()
        .filter(partner::Column::Slug.eq(slug))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn first_experience(app: &TestApp, partner: Uuid) -> experience::Model {
    experience::Entity::find()
        .filter(experience::Column::PartnerId.eq(partner))
        .order_by_asc(experience::Column::CreatedAt)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn user_id(app: &TestApp, token: &str) -> Uuid {
    let me: Value = app.get_as(token, "/api/v1/me").await.json().await.unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

async fn rename(app: &TestApp, id: Uuid, name: &str) {
    let mut u: user::ActiveModel = user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    u.display_name = Set(name.to_owned());
    u.update(&app.state.db).await.unwrap();
}

/// A registered customer (renamed), with their token and id.
async fn customer(app: &TestApp, email: &str, name: &str) -> (String, Uuid) {
    let token = app.register(email).await;
    let id = user_id(app, &token).await;
    rename(app, id, name).await;
    (token, id)
}

/// Makes a fresh account staff of `partner` with `role`; returns its token.
async fn staff_of(app: &TestApp, email: &str, partner: Uuid, role: &str) -> String {
    let token = app.register(email).await;
    let id = user_id(app, &token).await;
    let mut u: user::ActiveModel = user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    u.kind = Set("partner_staff".to_owned());
    u.update(&app.state.db).await.unwrap();
    partner_staff::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner),
        user_id: Set(id),
        role: Set(role.to_owned()),
        created_at: Set(app.clock.now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    token
}

async fn setup() -> Ctx {
    let app = spawn_demo_app().await;
    let bistro = partner_by_slug(&app, "bistro-du-plateau").await;
    let comptoir = partner_by_slug(&app, "comptoir-des-halles").await;
    let tasting = first_experience(&app, bistro.id).await;
    let dinner = first_experience(&app, comptoir.id).await;
    let donor = app.demo_token("donor").await;
    let (card, _) = app.delivered_card(&donor, 20_000).await;
    let (holder, holder_id) = customer(&app, "helene@example.com", "Hélène H.").await;
    let (stranger, stranger_id) = customer(&app, "sam@example.com", "Sam S.").await;
    let owner = app.demo_token("partner owner").await;
    let tablet = app.demo_token("partner tablet").await;
    let admin = app.demo_token("admin").await;
    let rival = staff_of(&app, "rival@example.com", comptoir.id, "owner").await;
    Ctx {
        card: card.parse().unwrap(),
        app,
        bistro,
        tasting,
        comptoir,
        dinner,
        holder,
        holder_id,
        stranger,
        stranger_id,
        owner,
        tablet,
        admin,
        rival,
    }
}

/// Whole seconds, so that values read back from either database compare equal.
fn secs(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

impl Ctx {
    fn now(&self) -> DateTime<Utc> {
        secs(Clock::now(&self.app.clock))
    }

    async fn book(
        &self,
        holder: Uuid,
        exp: &experience::Model,
        starts_at: DateTime<Utc>,
        status: &str,
    ) -> booking::Model {
        let now = self.now();
        let starts_at = secs(starts_at);
        booking::ActiveModel {
            id: Set(Uuid::now_v7()),
            card_id: Set(self.card),
            experience_id: Set(exp.id),
            partner_id: Set(exp.partner_id),
            slot_id: Set(Uuid::now_v7()),
            starts_at: Set(starts_at),
            ends_at: Set(starts_at + Duration::minutes(i64::from(exp.duration_minutes))),
            party_size: Set(2),
            amount: Set(exp.price_minor * 2),
            currency: Set(exp.currency.clone()),
            holder_user_id: Set(holder),
            status: Set(status.to_owned()),
            hold_expires_at: Set(None),
            cancelled_by: Set((status == "cancelled").then(|| "recipient".to_owned())),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.app.state.db)
        .await
        .unwrap()
    }
}

/// Checks the text is iCalendar: CRLF line ends, lines of at most 75 octets, every
/// unfolded line `NAME[;PARAMS]:VALUE`, BEGIN/END properly nested inside one VCALENDAR.
/// Returns the unfolded lines.
fn assert_valid_ics(body: &str) -> Vec<String> {
    assert!(body.ends_with("\r\n"));
    assert_eq!(
        body.matches('\n').count(),
        body.matches("\r\n").count(),
        "bare LF"
    );
    assert_eq!(
        body.matches('\r').count(),
        body.matches("\r\n").count(),
        "bare CR"
    );
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "line of {} octets: {line}", line.len());
    }
    let lines: Vec<String> = body
        .replace("\r\n ", "")
        .trim_end_matches("\r\n")
        .split("\r\n")
        .map(str::to_owned)
        .collect();
    let mut stack: Vec<String> = Vec::new();
    for line in &lines {
        let (head, value) = line.split_once(':').unwrap_or_else(|| panic!("{line}"));
        let name = head.split(';').next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '-'),
            "{line}"
        );
        for param in head.split(';').skip(1) {
            assert!(param.contains('='), "{line}");
        }
        match name {
            "BEGIN" => stack.push(value.to_owned()),
            "END" => assert_eq!(stack.pop().as_deref(), Some(value), "{line}"),
            _ => assert!(!stack.is_empty(), "outside VCALENDAR: {line}"),
        }
        if name == "BEGIN" && stack.len() == 1 {
            assert_eq!(value, "VCALENDAR");
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(lines[0], "BEGIN:VCALENDAR");
    assert!(lines.contains(&"PRODID:-//Fimy//Bookings//FR".to_owned()));
    assert!(lines.contains(&"VERSION:2.0".to_owned()));
    assert!(lines.contains(&"METHOD:PUBLISH".to_owned()));
    lines
}

/// UID → STATUS of each VEVENT.
fn events(lines: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut uid = None;
    let mut status = None;
    for l in lines {
        if l == "BEGIN:VEVENT" {
            uid = None;
            status = None;
        } else if let Some(u) = l.strip_prefix("UID:") {
            uid = Some(u.to_owned());
        } else if let Some(s) = l.strip_prefix("STATUS:") {
            status = Some(s.to_owned());
        } else if l == "END:VEVENT" {
            out.insert(uid.take().unwrap(), status.take().unwrap());
        }
    }
    out
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// Tomorrow at `h`:00 in Toronto.
fn tomorrow_at(now: DateTime<Utc>, h: u32) -> DateTime<Utc> {
    let day = now.with_timezone(&TORONTO).date_naive() + Duration::days(1);
    TORONTO
        .from_local_datetime(&day.and_hms_opt(h, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_booking_ics_is_valid_calendar_text_for_its_holder_and_the_partner_only() {
    let c = setup().await;
    let starts = tomorrow_at(c.now(), 19);
    let b = c.book(c.holder_id, &c.tasting, starts, "confirmed").await;
    let path = format!("/api/v1/bookings/{}/ics", b.id);

    let res = c.app.get_as(&c.holder, &path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/calendar; charset=utf-8");
    assert_eq!(
        header(&res, "content-disposition"),
        format!("attachment; filename=\"fimy-booking-{}.ics\"", b.id)
    );
    let body = res.text().await.unwrap();
    let lines = assert_valid_ics(&body);
    let local = starts.with_timezone(&TORONTO).format("%Y%m%dT190000");
    assert!(
        lines.contains(&format!("DTSTART;TZID=America/Toronto:{local}")),
        "{body}"
    );
    let end = (starts + Duration::minutes(150))
        .with_timezone(&TORONTO)
        .format("%Y%m%dT%H%M%S");
    assert!(lines.contains(&format!("DTEND;TZID=America/Toronto:{end}")));
    assert!(lines.contains(&"BEGIN:VTIMEZONE".to_owned()));
    assert!(lines.contains(&"TZID:America/Toronto".to_owned()));
    assert!(lines.contains(&"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU".to_owned()));
    assert!(lines.contains(&"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU".to_owned()));
    assert!(lines.contains(&"SEQUENCE:1".to_owned()));
    assert_eq!(
        events(&lines),
        HashMap::from([(format!("{}@fimy", b.id), "CONFIRMED".to_owned())])
    );
    let summary = lines.iter().find(|l| l.starts_with("SUMMARY:")).unwrap();
    assert!(summary.contains(&c.tasting.title), "{summary}");
    assert!(summary.contains("Bistro du Plateau"));
    let location = lines.iter().find(|l| l.starts_with("LOCATION:")).unwrap();
    assert_eq!(
        location,
        "LOCATION:Bistro du Plateau\\, 4321 rue Saint-Denis\\, Montréal"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DTSTAMP:") && l.ends_with('Z'))
    );

    // The partner's people see it too, with the customer's display name (no email).
    for token in [&c.owner, &c.tablet, &c.admin] {
        let res = c.app.get_as(token, &path).await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        let lines = assert_valid_ics(&body);
        let summary = lines.iter().find(|l| l.starts_with("SUMMARY:")).unwrap();
        assert!(summary.contains("Hélène H."), "{summary}");
        assert!(!body.contains("helene@example.com"));
    }

    // Nobody else learns it exists.
    for token in [&c.stranger, &c.rival] {
        assert_problem(c.app.get_as(token, &path).await, 404, "not_found").await;
    }
    assert_problem(c.app.get(&path).await, 401, "unauthenticated").await;
    assert_problem(
        c.app
            .get_as(
                &c.holder,
                &format!("/api/v1/bookings/{}/ics", Uuid::now_v7()),
            )
            .await,
        404,
        "not_found",
    )
    .await;

    // A cancelled booking reads as cancelled; a Paris one is in Paris time.
    let paris = c.book(c.holder_id, &c.dinner, starts, "cancelled").await;
    let body = c
        .app
        .get_as(&c.holder, &format!("/api/v1/bookings/{}/ics", paris.id))
        .await
        .text()
        .await
        .unwrap();
    let lines = assert_valid_ics(&body);
    assert_eq!(
        events(&lines).get(&format!("{}@fimy", paris.id)).unwrap(),
        "CANCELLED"
    );
    let local = starts
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y%m%dT%H%M%S");
    assert!(lines.contains(&format!("DTSTART;TZID=Europe/Paris:{local}")));
    assert!(lines.contains(&"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU".to_owned()));
    assert!(lines.contains(&"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU".to_owned()));
}

/// The path of a feed URL (the configured public URL is not where the test app listens).
fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.path().to_owned()
}

#[tokio::test]
async fn the_calendar_feed_works_until_it_is_regenerated_or_revoked() {
    let c = setup().await;
    let now = c.now();
    let confirmed = c
        .book(c.holder_id, &c.tasting, now + days(3), "confirmed")
        .await;
    let completed = c
        .book(c.holder_id, &c.tasting, now - days(5), "completed")
        .await;
    let no_show = c
        .book(c.stranger_id, &c.tasting, now - days(10), "no_show")
        .await;
    let cancelled = c
        .book(c.stranger_id, &c.tasting, now + days(7), "cancelled")
        .await;
    let mut excluded = vec![
        c.book(c.holder_id, &c.tasting, now + days(2), "held").await,
        c.book(c.holder_id, &c.tasting, now + days(400), "confirmed")
            .await,
        c.book(c.holder_id, &c.tasting, now - days(40), "completed")
            .await,
        c.book(c.holder_id, &c.dinner, now + days(3), "confirmed")
            .await,
        c.book(c.holder_id, &c.tasting, now + days(4), "expired")
            .await,
    ];
    // Cancelled long ago: subscribers dropped it already.
    let old = c
        .book(c.holder_id, &c.tasting, now - days(20), "cancelled")
        .await;
    let mut row: booking::ActiveModel = old.clone().into();
    row.updated_at = Set(now - days(40));
    row.update(&c.app.state.db).await.unwrap();
    excluded.push(old);

    let feed_path = format!("/api/v1/partners/{}/calendar-feed", c.bistro.id);
    // Owner and staff only.
    for token in [&c.tablet, &c.rival, &c.holder] {
        assert_problem(
            c.app.post_as(token, &feed_path, &json!({})).await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        c.app.post_json(&feed_path, &json!({})).await,
        401,
        "unauthenticated",
    )
    .await;

    let res = c
        .app
        .request(Method::POST, &feed_path)
        .bearer_auth(&c.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let url = created["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(c.app.state.config.public_url.as_str()));
    assert!(url.ends_with(".ics"));
    assert_eq!(
        created["webcal_url"].as_str().unwrap(),
        url.replacen("http://", "webcal://", 1)
    );
    let first = path_of(&url);
    let token = first
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics")
        .to_owned();
    assert!(token.len() >= 43, "{token}");
    // Only the hash is stored.
    let stored = partner::Entity::find_by_id(c.bistro.id)
        .one(&c.app.state.db)
        .await
        .unwrap()
        .unwrap()
        .calendar_feed_token_hash
        .unwrap();
    assert_eq!(stored, fimy::auth::token_hash(&token));
    assert!(!stored.contains(&token));

    // No login needed: the URL is the credential.
    let res = c.app.get(&first).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/calendar; charset=utf-8");
    let body = res.text().await.unwrap();
    let lines = assert_valid_ics(&body);
    assert!(lines.contains(&"X-WR-CALNAME:Fimy — Bistro du Plateau".to_owned()));
    assert!(lines.contains(&"TZID:America/Toronto".to_owned()));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DTSTART;TZID=America/Toronto:"))
    );
    let uid = |b: &booking::Model| format!("{}@fimy", b.id);
    assert_eq!(
        events(&lines),
        HashMap::from([
            (uid(&confirmed), "CONFIRMED".to_owned()),
            (uid(&completed), "CONFIRMED".to_owned()),
            (uid(&no_show), "CONFIRMED".to_owned()),
            (uid(&cancelled), "CANCELLED".to_owned()),
        ])
    );
    for b in &excluded {
        assert!(!body.contains(&b.id.to_string()));
    }
    assert!(!body.contains("@example.com"), "no emails in the feed");

    // A wrong token, another partner, a malformed id: all the same 404.
    let flipped = if token.ends_with('A') { 'B' } else { 'A' };
    let tampered = first.replace(&token, &format!("{}{flipped}", &token[..token.len() - 1]));
    assert_problem(c.app.get(&tampered).await, 404, "not_found").await;
    let elsewhere = first.replace(&c.bistro.id.to_string(), &c.comptoir.id.to_string());
    assert_problem(c.app.get(&elsewhere).await, 404, "not_found").await;
    let malformed = first.replace(&c.bistro.id.to_string(), "not-a-partner");
    assert_problem(c.app.get(&malformed).await, 404, "not_found").await;

    // A new URL revokes the old one.
    let again: Value = c
        .app
        .post_as(&c.owner, &feed_path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let second = path_of(again["url"].as_str().unwrap());
    assert_ne!(second, first);
    assert_problem(c.app.get(&first).await, 404, "not_found").await;
    assert_eq!(c.app.get(&second).await.status(), 200);

    // Revoked outright: nothing works; revoking again is fine.
    for _ in 0..2 {
        let res = c
            .app
            .request(Method::DELETE, &feed_path)
            .bearer_auth(&c.owner)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    assert_problem(c.app.get(&second).await, 404, "not_found").await;
    assert_problem(c.app.get(&first).await, 404, "not_found").await;
    let res = c
        .app
        .request(Method::DELETE, &feed_path)
        .bearer_auth(&c.tablet)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn the_dashboard_shows_upcoming_bookings_todays_arrivals_and_regulars() {
    let c = setup().await;
    let now = c.now();
    let today = now.with_timezone(&TORONTO).date_naive();
    let midnight = |d: NaiveDate| {
        TORONTO
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    };
    let (day_start, day_end) = (midnight(today), midnight(today + days(1)));

    let (_, theo) = customer(&c.app, "theo@example.com", "Théo T.").await;
    let (_, regis) = customer(&c.app, "regis@example.com", "Régis R.").await;
    // Today's arrival: in an hour, or a minute ago late in the evening.
    let arrival_at = if now + Duration::hours(1) < day_end {
        now + Duration::hours(1)
    } else {
        now - Duration::minutes(1)
    };
    let arrival = c.book(theo, &c.tasting, arrival_at, "confirmed").await;
    c.book(c.stranger_id, &c.tasting, arrival_at, "cancelled")
        .await;
    let tomorrow = c
        .book(
            c.stranger_id,
            &c.tasting,
            day_end + Duration::hours(11),
            "confirmed",
        )
        .await;
    let (_, yann) = customer(&c.app, "yann@example.com", "Yann Y.").await;
    c.book(
        yann,
        &c.tasting,
        day_start - Duration::hours(5),
        "confirmed",
    )
    .await;
    c.book(c.stranger_id, &c.tasting, now + days(2), "held")
        .await;
    c.book(
        c.stranger_id,
        &c.dinner,
        now + Duration::hours(2),
        "confirmed",
    )
    .await;
    // Hélène came twice (and missed once, and went elsewhere).
    let visit = c
        .book(c.holder_id, &c.tasting, now - days(10), "completed")
        .await;
    c.book(c.holder_id, &c.tasting, now - days(40), "completed")
        .await;
    c.book(c.holder_id, &c.tasting, now - days(20), "no_show")
        .await;
    c.book(c.holder_id, &c.dinner, now - days(5), "completed")
        .await;
    // Régis booked 22 evenings ahead.
    let mut regis_bookings = Vec::new();
    for i in 3..25 {
        regis_bookings.push(c.book(regis, &c.tasting, now + days(i), "confirmed").await);
    }

    let path = format!("/api/v1/partners/{}/dashboard", c.bistro.id);
    let res = c.app.get_as(&c.tablet, &path).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains('@'), "no emails: {text}");
    let d: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["timezone"], "America/Toronto");
    assert_eq!(d["date"], today.to_string());

    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&d["today"]), [arrival.id.to_string()]);
    let t = &d["today"][0];
    assert_eq!(t["customer"], "Théo T.");
    assert_eq!(t["experience_title"], c.tasting.title.as_str());
    assert_eq!(t["party_size"], 2);
    assert_eq!(t["status"], "confirmed");
    assert_eq!(t["amount"], c.tasting.price_minor * 2);
    assert_eq!(t["currency"], "CAD");
    assert!(t.get("email").is_none() && t.get("holder_user_id").is_none());

    let mut expected: Vec<String> = Vec::new();
    if arrival_at >= now {
        expected.push(arrival.id.to_string());
    }
    expected.push(tomorrow.id.to_string());
    expected.extend(regis_bookings.iter().map(|b| b.id.to_string()));
    expected.truncate(20);
    assert_eq!(ids(&d["upcoming"]), expected);
    assert!(
        d["upcoming"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "confirmed")
    );

    let regulars = d["returning_customers"].as_array().unwrap();
    assert_eq!(regulars.len(), 2, "{regulars:?}");
    assert_eq!(regulars[0]["customer"], "Régis R.");
    assert_eq!(regulars[0]["bookings"], 22);
    assert!(regulars[0].get("last_visit").is_none());
    assert_eq!(regulars[1]["customer"], "Hélène H.");
    assert_eq!(regulars[1]["bookings"], 2);
    let last: DateTime<Utc> = regulars[1]["last_visit"].as_str().unwrap().parse().unwrap();
    assert_eq!(last, visit.starts_at);

    // Owner and admin see it; other partners' staff and customers do not.
    for token in [&c.owner, &c.admin] {
        assert_eq!(c.app.get_as(token, &path).await.status(), 200);
    }
    for token in [&c.rival, &c.holder] {
        assert_problem(c.app.get_as(token, &path).await, 403, "forbidden").await;
    }
    assert_problem(c.app.get(&path).await, 401, "unauthenticated").await;
    assert_problem(
        c.app
            .get_as(
                &c.admin,
                &format!("/api/v1/partners/{}/dashboard", Uuid::now_v7()),
            )
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn messages_go_both_ways_between_the_holder_and_the_partner_only() {
    let c = setup().await;
    let b = c
        .book(
            c.holder_id,
            &c.tasting,
            tomorrow_at(c.now(), 19),
            "confirmed",
        )
        .await;
    let path = format!("/api/v1/bookings/{}/messages", b.id);

    let res = c
        .app
        .post_as(
            &c.holder,
            &path,
            &json!({"body": "  Bonjour, peut-on venir à 19 h 30 ?\r\nMerci  "}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["author_role"], "recipient");
    assert_eq!(first["author_name"], "Hélène H.");
    assert_eq!(first["body"], "Bonjour, peut-on venir à 19 h 30 ?\nMerci");
    assert_eq!(first["mine"], true);
    assert_eq!(first["booking_id"], b.id.to_string());

    c.app.clock.advance(Duration::minutes(3));
    let res = c
        .app
        .post_as(&c.owner, &path, &json!({"body": "Bien sûr, à demain !"}))
        .await;
    assert_eq!(res.status(), 201);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["author_role"], "partner");
    assert_eq!(reply["author_name"], "Bistro du Plateau");

    c.app.clock.advance(Duration::minutes(1));
    let long = "é".repeat(2000);
    let res = c
        .app
        .post_as(&c.holder, &path, &json!({"body": long}))
        .await;
    assert_eq!(res.status(), 201);
    // Same instant as the previous one: the id breaks the tie.
    let res = c
        .app
        .post_as(&c.owner, &path, &json!({"body": "Noté."}))
        .await;
    assert_eq!(res.status(), 201);

    // Tablets and admins read, do not write.
    for token in [&c.tablet, &c.admin] {
        let page: Value = c.app.get_as(token, &path).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 4);
        assert_problem(
            c.app.post_as(token, &path, &json!({"body": "hello"})).await,
            403,
            "forbidden",
        )
        .await;
    }
    // Nobody else sees the thread.
    for token in [&c.stranger, &c.rival] {
        assert_problem(c.app.get_as(token, &path).await, 404, "not_found").await;
        assert_problem(
            c.app.post_as(token, &path, &json!({"body": "hello"})).await,
            404,
            "not_found",
        )
        .await;
    }
    assert_problem(c.app.get(&path).await, 401, "unauthenticated").await;
    assert_problem(
        c.app
            .get_as(
                &c.holder,
                &format!("/api/v1/bookings/{}/messages", Uuid::now_v7()),
            )
            .await,
        404,
        "not_found",
    )
    .await;

    // Bodies are checked.
    for bad in [
        json!({"body": "  \n "}),
        json!({"body": "é".repeat(2001)}),
        json!({"body": "ding\u{7}"}),
        json!({"body": "tab\there"}),
    ] {
        let p = assert_problem(
            c.app.post_as(&c.holder, &path, &bad).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(p["field"], "body");
    }
    assert_problem(
        c.app
            .post_as(&c.holder, &path, &json!({"body": "x", "to": "admin"}))
            .await,
        422,
        "invalid_field",
    )
    .await;

    // Oldest first, one page at a time.
    let all: Value = c.app.get_as(&c.holder, &path).await.json().await.unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(all.get("next_cursor").is_none());
    let roles: Vec<&str> = items
        .iter()
        .map(|m| m["author_role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["recipient", "partner", "recipient", "partner"]);
    let mine: Vec<bool> = items.iter().map(|m| m["mine"].as_bool().unwrap()).collect();
    assert_eq!(mine, [true, false, true, false]);
    assert_eq!(items[2]["body"].as_str().unwrap().chars().count(), 2000);
    let owner_view: Value = c.app.get_as(&c.owner, &path).await.json().await.unwrap();
    let mine: Vec<bool> = owner_view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mine"].as_bool().unwrap())
        .collect();
    assert_eq!(mine, [false, true, false, true]);

    let mut paged = Vec::new();
    let mut next = format!("{path}?limit=1");
    loop {
        let page: Value = c.app.get_as(&c.holder, &next).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        paged.push(items[0]["id"].clone());
        match page["next_cursor"].as_str() {
            Some(cur) => next = format!("{path}?limit=1&cursor={cur}"),
            None => break,
        }
    }
    let ids: Vec<Value> = items.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(paged, ids);
    assert_problem(
        c.app
            .get_as(&c.holder, &format!("{path}?cursor=garbage"))
            .await,
        400,
        "invalid_cursor",
    )
    .await;
    assert_problem(
        c.app.get_as(&c.holder, &format!("{path}?limit=0")).await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn these_endpoints_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let paths = &doc["paths"];
    let ics = &paths["/api/v1/bookings/{id}/ics"]["get"];
    assert_eq!(ics["tags"][0], "bookings");
    assert!(
        ics["responses"]["200"]["content"]["text/calendar"].is_object(),
        "{ics}"
    );
    assert!(paths["/api/v1/bookings/{id}/messages"]["get"].is_object());
    assert!(paths["/api/v1/bookings/{id}/messages"]["post"].is_object());
    assert!(paths["/api/v1/partners/{id}/calendar-feed"]["post"].is_object());
    assert!(paths["/api/v1/partners/{id}/calendar-feed"]["delete"].is_object());
    let feed = &paths["/api/v1/calendar-feeds/{partner_id}/{token}.ics"]["get"];
    assert_eq!(feed["tags"][0], "partners");
    assert!(feed.get("security").is_none());
    assert!(paths["/api/v1/partners/{id}/dashboard"]["get"].is_object());
    for schema in [
        "Dashboard",
        "PartnerBookingView",
        "MessageView",
        "NewMessage",
        "CalendarFeed",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
