//! Email and the outbox, end to end: a minimal SMTP server runs inside each test (a tokio
//! listener on 127.0.0.1:0 speaking enough RFC 5321), the application sends to it over
//! `SMTP_URL`, and the tests read what arrived — or, without `SMTP_URL`, the `.eml` files.

use crate::helpers::*;
use base64::Engine;
use entities::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

// ---------------------------------------------------------------- the SMTP server

/// One message as the server received it.
#[derive(Debug, Clone)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_head(&self.data);
        header_of(&headers, name)
    }

    /// The decoded leaves of the MIME tree: (content type, text).
    fn parts(&self) -> Vec<(String, String)> {
        mime_leaves(&self.data)
    }

    fn text(&self) -> String {
        self.part("text/plain")
    }

    fn html(&self) -> String {
        self.part("text/html")
    }

    fn part(&self, ct: &str) -> String {
        self.parts()
            .into_iter()
            .find(|(t, _)| t.starts_with(ct))
            .map(|(_, b)| b)
            .unwrap_or_else(|| panic!("no {ct} part in {}", self.data))
    }

    fn to(&self, address: &str) -> bool {
        self.rcpt.iter().any(|r| r.eq_ignore_ascii_case(address))
    }
}

struct SmtpServer {
    port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    /// Answer `451` to `DATA`.
    fail_data: Arc<AtomicBool>,
    /// `DATA` commands seen (accepted or not).
    data_commands: Arc<AtomicUsize>,
    /// Recipients refused with `550`.
    unknown: Arc<Mutex<Vec<String>>>,
    /// Holds the answer to each message's data until released (a slow relay).
    hold: Arc<Hold>,
}

/// A relay that is slow to answer: while `on`, a message's data is read but not answered
/// until [`Hold::release`].
struct Hold {
    on: AtomicBool,
    /// Messages being held now.
    held: AtomicUsize,
    permits: tokio::sync::Semaphore,
}

impl Default for Hold {
    fn default() -> Self {
        Self {
            on: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            permits: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Hold {
    fn release(&self) {
        self.on.store(false, Ordering::SeqCst);
        self.permits
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = SmtpServer {
            port: listener.local_addr().unwrap().port(),
            messages: Arc::default(),
            fail_data: Arc::default(),
            data_commands: Arc::default(),
            unknown: Arc::default(),
            hold: Arc::default(),
        };
        let (messages, fail, count, unknown, hold) = (
            server.messages.clone(),
            server.fail_data.clone(),
            server.data_commands.clone(),
            server.unknown.clone(),
            server.hold.clone(),
        );
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (messages, fail, count, unknown, hold) = (
                    messages.clone(),
                    fail.clone(),
                    count.clone(),
                    unknown.clone(),
                    hold.clone(),
                );
                tokio::spawn(async move {
                    let _ = session(socket, messages, fail, count, unknown, hold).await;
                });
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits for a message to `address` whose `X-Fimy-Kind` is `kind`.
    async fn wait_for(&self, address: &str, kind: &str) -> Received {
        let found = within_time(PATIENCE, || async {
            self.messages()
                .into_iter()
                .find(|m| m.to(address) && m.header("X-Fimy-Kind").as_deref() == Some(kind))
        })
        .await;
        found.unwrap_or_else(|| {
            panic!(
                "no {kind} email to {address}; got {:?}",
                self.messages()
                    .iter()
                    .map(|m| (m.rcpt.clone(), m.header("X-Fimy-Kind")))
                    .collect::<Vec<_>>()
            )
        })
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    unknown: Arc<Mutex<Vec<String>>>,
    hold: Arc<Hold>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.local ESMTP ready\r\n").await?;
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 test.local\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            rcpt.clear();
            b"250 2.1.0 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let address = command[8..]
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned();
            if unknown.lock().unwrap().contains(&address) {
                b"550 5.1.1 no such mailbox\r\n"
            } else {
                rcpt.push(address);
                b"250 2.1.5 OK\r\n"
            }
        } else if upper == "DATA" {
            count.fetch_add(1, Ordering::SeqCst);
            if fail.load(Ordering::SeqCst) {
                b"451 4.3.0 try again later\r\n"
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 §4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if hold.on.load(Ordering::SeqCst) {
                    hold.held.fetch_add(1, Ordering::SeqCst);
                    let permit = hold.permits.acquire().await;
                    hold.held.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
                messages.lock().unwrap().push(Received {
                    rcpt: std::mem::take(&mut rcpt),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            rcpt.clear();
            b"250 2.0.0 OK\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

// ---------------------------------------------------------------- a little MIME

/// Headers (unfolded) and body of a message or part.
fn split_head(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn header_of(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn mime_leaves(raw: &str) -> Vec<(String, String)> {
    let (headers, body) = split_head(raw);
    let ct = header_of(&headers, "Content-Type").unwrap_or_else(|| "text/plain".into());
    if ct.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let delimiter = format!("--{boundary}");
        return body
            .split(&delimiter)
            .skip(1)
            .filter(|chunk| !chunk.starts_with("--"))
            .flat_map(|chunk| mime_leaves(chunk.trim_start_matches('\n')))
            .collect();
    }
    let cte = header_of(&headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap(),
        "quoted-printable" => quoted_printable(&body),
        _ => body.into_bytes(),
    };
    vec![(ct, String::from_utf8(bytes).unwrap())]
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(hex) = s.get(i + 1..i + 3)
                && let Ok(v) = u8::from_str_radix(hex, 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------- helpers

async fn smtp_app(smtp: &SmtpServer) -> TestApp {
    spawn_with(Options {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await
}

async fn smtp_demo_app(smtp: &SmtpServer) -> TestApp {
    spawn_with(Options {
        demo_data: true,
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await
}

/// Registers a customer with a display name and a language; returns the token.
async fn register_as(app: &TestApp, email: &str, name: &str, locale: &str) -> String {
    let res = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": "correct horse battery",
                    "display_name": name, "locale": locale}),
        )
        .await;
    assert_eq!(res.status(), 201, "registering {email}");
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn rows_of(app: &TestApp, card: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::CardId.eq(uuid::Uuid::parse_str(card).unwrap()))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn row_of(app: &TestApp, card: &str, kind: &str, channel: &str) -> outbox::Model {
    rows_of(app, card)
        .await
        .into_iter()
        .find(|r| r.kind == kind && r.channel == channel)
        .unwrap_or_else(|| panic!("no {channel} {kind} row for card {card}"))
}

/// Polls the row until `done` holds; returns it.
async fn wait_row(
    app: &TestApp,
    id: uuid::Uuid,
    what: &str,
    done: impl Fn(&outbox::Model) -> bool,
) -> outbox::Model {
    let last = std::sync::Mutex::new(None);
    let found = within_time(PATIENCE, || async {
        let row = outbox::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        if done(&row) {
            return Some(row);
        }
        *last.lock().unwrap() = Some(row);
        None
    })
    .await;
    found.unwrap_or_else(|| panic!("outbox row never {what}: {:?}", last.lock().unwrap()))
}

// ---------------------------------------------------------------- the tests

#[tokio::test]
async fn the_recipient_gets_the_gift_email_in_french_with_the_code() {
    let smtp = SmtpServer::start().await;
    let app = smtp_app(&smtp).await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    let bought = app
        .buy_value_card(
            &donor,
            5_000,
            json!({"message": "Joyeux anniversaire <3 & bises"}),
        )
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let code = app.code_of(&card).await;

    let mail = smtp.wait_for("remi@example.com", "gift_received").await;
    assert_eq!(mail.header("Content-Language").as_deref(), Some("fr"));
    let text = mail.text();
    assert!(text.starts_with("Bonjour Rémi,"), "{text}");
    assert!(
        text.contains("Camille vous a offert une carte cadeau Fimy"),
        "{text}"
    );
    assert!(text.contains(&code), "the code is in the email: {text}");
    assert!(text.contains("Joyeux anniversaire <3 & bises"), "{text}");
    assert!(
        text.contains("/gift?code="),
        "the link opens the gift page: {text}"
    );
    let html = mail.html();
    assert!(html.contains(&code));
    assert!(
        html.contains("Joyeux anniversaire &lt;3 &amp; bises"),
        "user text is escaped in HTML: {html}"
    );
    assert!(!html.contains("<3"));

    // Receivers can deduplicate: the event id is in the headers.
    let row = row_of(&app, &card, "gift_received", "email").await;
    let row = wait_row(&app, row.id, "sent", |r| r.status == "sent").await;
    assert_eq!(
        mail.header("X-Fimy-Event-Id"),
        Some(row.event_id.to_string())
    );
    assert_eq!(mail.header("X-Fimy-Audience").as_deref(), Some("recipient"));
    assert!(
        mail.header("Message-ID")
            .unwrap()
            .contains(&row.event_id.to_string())
    );

    // The donor hears of the delivery, without amounts.
    let delivered = smtp.wait_for("camille@example.com", "card_delivered").await;
    let text = delivered.text();
    assert!(text.contains("Rémi"), "{text}");
    assert!(!text.contains('€'), "no amount for the donor: {text}");

    // The code is stored nowhere in clear: not in the outbox.
    for r in rows_of(&app, &card).await {
        assert!(!r.payload.contains(&code) && !r.payload.contains(&code.replace('-', "")));
        assert!(!r.last_error.unwrap_or_default().contains(&code));
    }
}

#[tokio::test]
async fn a_recipient_whose_account_is_in_english_gets_english() {
    let smtp = SmtpServer::start().await;
    let app = smtp_app(&smtp).await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    register_as(&app, "emma@example.com", "Emma", "en").await;
    let bought = app
        .buy_value_card(
            &donor,
            2_500,
            json!({"recipient_name": "Emma", "recipient_email": "emma@example.com"}),
        )
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    let mail = smtp.wait_for("emma@example.com", "gift_received").await;
    let code = app.code_of(&card).await;
    assert_eq!(mail.header("Content-Language").as_deref(), Some("en"));
    let text = mail.text();
    assert!(text.starts_with("Hello Emma,"), "{text}");
    assert!(
        text.contains("Camille has given you a Fimy gift card"),
        "{text}"
    );
    assert!(text.contains(&code));
    assert!(!text.contains("Bonjour"));
    // The donor, in French, is told in French.
    let delivered = smtp.wait_for("camille@example.com", "card_delivered").await;
    assert_eq!(delivered.header("Content-Language").as_deref(), Some("fr"));
}

#[tokio::test]
async fn the_donor_hears_when_the_recipient_opens_the_card() {
    let smtp = SmtpServer::start().await;
    let app = smtp_app(&smtp).await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    let (card, code) = app.delivered_card(&donor, 4_200).await;
    let res = app
        .post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let mail = smtp.wait_for("camille@example.com", "card_opened").await;
    let text = mail.text();
    assert!(
        text.contains("Rémi vient d'ouvrir votre carte cadeau"),
        "{text}"
    );
    assert!(!text.contains('€'), "no amount for the donor: {text}");
    let row = row_of(&app, &card, "card_opened", "email").await;
    assert_eq!(
        mail.header("X-Fimy-Event-Id"),
        Some(row.event_id.to_string())
    );
    assert_eq!(mail.header("X-Fimy-Audience").as_deref(), Some("donor"));
}

#[tokio::test]
async fn without_smtp_the_email_is_an_eml_file_in_the_data_dir() {
    let app = spawn_app().await;
    let donor = app.register("camille@example.com").await;
    let (card, code) = app.delivered_card(&donor, 3_000).await;
    let row = row_of(&app, &card, "gift_received", "email").await;
    let row = wait_row(&app, row.id, "sent", |r| r.status == "sent").await;
    let dir = app.data_dir.path().join("outbox");
    // Other messages may be being written meanwhile (as `.name.tmp`, renamed when whole):
    // every finished file is a whole `.eml`, and nothing else is there.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !(n.starts_with('.') && n.ends_with(".eml.tmp")))
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "only whole .eml files: {names:?}"
    );
    let name = names
        .iter()
        .find(|n| n.ends_with(&format!("-{}.eml", row.id)))
        .unwrap_or_else(|| panic!("no file for row {} in {names:?}", row.id));
    // <timestamp>-<row id>.eml
    assert!(name.chars().next().unwrap().is_ascii_digit(), "{name}");
    let raw = std::fs::read_to_string(dir.join(name)).unwrap();
    let mail = Received {
        rcpt: vec!["remi@example.com".into()],
        data: raw,
    };
    assert_eq!(
        mail.header("X-Fimy-Event-Id"),
        Some(row.event_id.to_string())
    );
    assert!(mail.header("To").unwrap().contains("remi@example.com"));
    assert!(mail.text().contains(&code));
}

#[tokio::test]
async fn a_failing_server_means_retries_with_back_off_then_a_dead_letter_an_admin_can_retry() {
    let smtp = SmtpServer::start().await;
    smtp.fail_data.store(true, Ordering::SeqCst);
    let app = smtp_demo_app(&smtp).await;
    let admin = app.demo_token("admin").await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    let bought = app.buy_value_card(&donor, 1_500, json!({})).await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let id = row_of(&app, &card, "gift_received", "email").await.id;

    let mut previous_due = None;
    for attempt in 1..=8 {
        let row = wait_row(&app, id, &format!("at attempt {attempt}"), |r| {
            r.attempts == attempt && r.status != "sending"
        })
        .await;
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("451"),
            "{row:?}"
        );
        if attempt == 8 {
            assert_eq!(row.status, "dead", "{row:?}");
            break;
        }
        assert_eq!(row.status, "pending");
        let now = app.state.clock.now();
        let wait = row.next_attempt_at - now;
        // Full jitter: somewhere in a window of 5 s doubling with each failure, at least
        // 1 s (less a rounding: PostgreSQL keeps microseconds).
        let window = chrono::Duration::seconds(5 * (1 << (attempt - 1)));
        assert!(
            wait >= chrono::Duration::milliseconds(999) && wait <= window,
            "attempt {attempt}: next in {wait} (window {window})"
        );
        if let Some(p) = previous_due {
            assert!(row.next_attempt_at > p, "next_attempt_at grows");
        }
        previous_due = Some(row.next_attempt_at);
        // Not due yet: nothing happens until the clock gets there.
        app.drive_outbox().await;
        let same = outbox::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(same.attempts, attempt);
        app.clock.advance(wait + chrono::Duration::milliseconds(10));
    }
    assert!(smtp.data_commands.load(Ordering::SeqCst) >= 8);
    assert!(smtp.messages().is_empty());

    // Admins see the dead letter; others may not look.
    let res = app.get_as(&donor, "/api/v1/admin/outbox?status=dead").await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .get_as(&admin, "/api/v1/admin/outbox?status=bogus")
        .await;
    assert_problem(res, 400, "invalid_query").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/outbox?status=dead&limit=2&cursor={c}"),
            None => "/api/v1/admin/outbox?status=dead&limit=2".to_owned(),
        };
        let page: Value = app.get_as(&admin, &path).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["status"], "dead");
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(seen.contains(&id.to_string()), "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "pages do not overlap");

    // Put back in the queue: the count of failed tries stays true, and the row gets a
    // fresh budget (the next failure is a retry, not a dead letter).
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pending");
    assert_eq!(body["attempts"], 8);
    let row = wait_row(&app, id, "failed again after the retry", |r| {
        r.attempts == 9 && r.status != "sending"
    })
    .await;
    assert_eq!(row.status, "pending", "{row:?}");

    // Sent once the server is back, and the row still says how many tries failed.
    smtp.fail_data.store(false, Ordering::SeqCst);
    app.clock
        .advance(row.next_attempt_at - app.state.clock.now() + chrono::Duration::seconds(1));
    smtp.wait_for("remi@example.com", "gift_received").await;
    let row = wait_row(&app, id, "sent", |r| r.status == "sent").await;
    assert_eq!(row.attempts, 9, "{row:?}");
    let page: Value = app
        .get_as(&admin, "/api/v1/admin/outbox?status=sent")
        .await
        .json()
        .await
        .unwrap();
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.to_string())
        .unwrap_or_else(|| panic!("{page}"));
    assert_eq!(listed["attempts"], 9, "{listed}");
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "notification_not_retryable").await;
    let res = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/outbox/{}/retry", uuid::Uuid::now_v7()),
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .post_as(
            &donor,
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn an_unknown_mailbox_is_gone() {
    let smtp = SmtpServer::start().await;
    smtp.unknown
        .lock()
        .unwrap()
        .push("nobody@example.com".to_owned());
    let app = smtp_app(&smtp).await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    let bought = app
        .buy_value_card(
            &donor,
            1_000,
            json!({"recipient_email": "nobody@example.com"}),
        )
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let id = row_of(&app, &card, "gift_received", "email").await.id;
    let row = wait_row(&app, id, "gone", |r| r.status == "gone").await;
    assert!(row.last_error.unwrap().contains("550"));
    assert_eq!(row.attempts, 1, "no retries");
}

#[tokio::test]
async fn preferences_turn_channels_off_and_such_rows_are_skipped() {
    let smtp = SmtpServer::start().await;
    let app = smtp_app(&smtp).await;
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;

    let res = app.get("/api/v1/me/notification-preferences").await;
    assert_problem(res, 401, "unauthenticated").await;
    let prefs: Value = app
        .get_as(&donor, "/api/v1/me/notification-preferences")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs, json!({"email": true, "push": true}));
    let put = |body: Value| {
        app.request(reqwest::Method::PUT, "/api/v1/me/notification-preferences")
            .bearer_auth(&donor)
            .json(&body)
            .send()
    };
    assert_problem(
        put(json!({"email": false})).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    assert_problem(
        put(json!({"email": false, "push": true, "sms": true}))
            .await
            .unwrap(),
        422,
        "invalid_field",
    )
    .await;
    let res = put(json!({"email": false, "push": true})).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"email": false, "push": true})
    );
    // Changing them again updates the row.
    put(json!({"email": true, "push": false})).await.unwrap();
    let res = put(json!({"email": false, "push": true})).await.unwrap();
    assert_eq!(res.status(), 200);
    let prefs: Value = app
        .get_as(&donor, "/api/v1/me/notification-preferences")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs, json!({"email": false, "push": true}));

    let (card, _) = app.delivered_card(&donor, 2_000).await;
    // The recipient still gets the gift; the donor, who turned email off, does not hear
    // of the delivery.
    smtp.wait_for("remi@example.com", "gift_received").await;
    let id = row_of(&app, &card, "card_delivered", "email").await.id;
    let row = wait_row(&app, id, "skipped", |r| r.status == "skipped").await;
    assert!(row.last_error.unwrap().contains("turned email"));
    assert!(!smtp.messages().iter().any(|m| m.to("camille@example.com")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_never_send_a_row_twice() {
    let smtp = SmtpServer::start().await;
    let a = smtp_app(&smtp).await;
    let shared_db = a.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            a.data_dir.path().join("fimy.db").display()
        )
    });
    let b = spawn_with(Options {
        database_url: Some(shared_db),
        secret_key: Some(a.secret_key.clone()),
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    // Besides both nodes' own workers, race passes of the two nodes in tight loops.
    let stop = Arc::new(AtomicBool::new(false));
    let mut racers = Vec::new();
    for state in [a.state.clone(), b.state.clone()] {
        let stop = stop.clone();
        racers.push(tokio::spawn(async move {
            let mut total = fimy::workers::outbox::Tally::default();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(t) = fimy::workers::outbox::run_once(&state).await {
                    total.sent += t.sent;
                    total.lost += t.lost;
                }
                tokio::task::yield_now().await;
            }
            total
        }));
    }
    let donor = register_as(&a, "camille@example.com", "Camille", "fr").await;
    let mut cards = Vec::new();
    for i in 0..12 {
        let body = json!({"recipient_email": format!("r{i}@example.com")});
        let bought = if i % 2 == 0 {
            a.buy_value_card(&donor, 1_000 + i, body).await
        } else {
            // Bought through the other node: its card actor, the same outbox.
            let donor_b = b.relogin("camille@example.com").await;
            b.buy_value_card(&donor_b, 1_000 + i, body).await
        };
        cards.push(bought["card"]["id"].as_str().unwrap().to_owned());
    }
    // Every email row of these cards ends up sent…
    let mut email_rows = Vec::new();
    for card in &cards {
        for kind in ["gift_received", "card_delivered"] {
            let row = eventually(&format!("a {kind} row for {card}"), PATIENCE, || async {
                rows_of(&a, card)
                    .await
                    .into_iter()
                    .find(|r| r.kind == kind && r.channel == "email")
            })
            .await;
            email_rows.push(wait_row(&a, row.id, "sent", |r| r.status == "sent").await);
        }
    }
    // …and was received once: no (event id, audience) twice. The racers end their
    // passes, both nodes' own workers finish what they are sending, then count.
    stop.store(true, Ordering::SeqCst);
    for (node, racer) in ["a", "b"].into_iter().zip(racers) {
        let t = racer.await.unwrap();
        eprintln!(
            "racing passes on node {node}: sent {}, lost {} claims",
            t.sent, t.lost
        );
    }
    a.drive_outbox().await;
    b.drive_outbox().await;
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for m in smtp.messages() {
        let key = (
            m.header("X-Fimy-Event-Id").unwrap(),
            m.header("X-Fimy-Audience").unwrap(),
        );
        *seen.entry(key).or_default() += 1;
    }
    for row in &email_rows {
        let key = (row.event_id.to_string(), row.audience.clone());
        assert_eq!(seen.get(&key), Some(&1), "{key:?} received once");
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(smtp.messages().len(), email_rows.len());
}

#[tokio::test]
async fn a_booking_confirmation_is_sent_when_the_booking_is_confirmed_with_the_ics() {
    let smtp = SmtpServer::start().await;
    let app = smtp_demo_app(&smtp).await;
    // The demo owner's brunch, bookable every day 10:00–18:00.
    let owner = app.demo_token("partner owner").await;
    let partner = app.partner_of(&owner).await;
    let list: Value = app
        .get(&format!(
            "/api/v1/experiences?partner_id={partner}&q=brunch"
        ))
        .await
        .json()
        .await
        .unwrap();
    let experience = list["items"][0]["id"].as_str().unwrap().to_owned();
    let title = list["items"][0]["title"].as_str().unwrap().to_owned();
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "10:00", "end": "18:00"}))
        .collect();
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/partners/{partner}/experiences/{experience}/availability"),
        )
        .bearer_auth(&owner)
        .json(&json!({"weekly": weekly, "capacity": 3, "slot_minutes": 60,
                      "min_notice_minutes": 0, "horizon_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A claimed CAD card.
    let donor = register_as(&app, "camille@example.com", "Camille", "fr").await;
    let bought = app
        .buy_value_card(&donor, 50_000, json!({"currency": "CAD"}))
        .await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&donor, &card, "delivered").await;
    let code = app.code_of(&card).await;
    let holder = register_as(&app, "remi@example.com", "Rémi", "en").await;
    let res = app
        .post_as(&holder, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    // Book a slot two days out.
    let now = app.state.clock.now();
    let slots: Vec<Value> = app
        .get(&format!(
            "/api/v1/experiences/{experience}/slots?from={}&to={}",
            (now + chrono::Duration::days(2))
                .to_rfc3339()
                .replace('+', "%2B"),
            (now + chrono::Duration::days(4))
                .to_rfc3339()
                .replace('+', "%2B"),
        ))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(
            &holder,
            "/api/v1/bookings",
            &json!({"card_id": card, "experience_id": experience,
                    "starts_at": slots[0]["starts_at"], "party_size": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let booking: Value = res.json().await.unwrap();
    assert_eq!(booking["status"], "held");
    let booking_id = booking["id"].as_str().unwrap().to_owned();

    // A hold is not a booking yet: nobody is told of it.
    app.settle().await;
    let rows = rows_of(&app, &card).await;
    assert!(
        !rows
            .iter()
            .any(|r| r.kind == "card_booked" || r.kind == "booking_confirmed"),
        "{rows:?}"
    );
    assert!(!smtp.messages().iter().any(|m| matches!(
        m.header("X-Fimy-Kind").as_deref(),
        Some("card_booked" | "booking_confirmed")
    )));

    let res = app
        .post_as(
            &holder,
            &format!("/api/v1/bookings/{booking_id}/confirm"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Confirmed, the donor hears of it (no venue, no amount)…
    let booked = smtp.wait_for("camille@example.com", "card_booked").await;
    let text = booked.text();
    assert!(text.contains("Rémi a réservé"), "{text}");
    assert!(!text.contains(&title) && !text.contains('$'), "{text}");
    // …and the recipient gets the confirmation with the booking.
    let row = row_of(&app, &card, "booking_confirmed", "email").await;
    app.clock.advance(chrono::Duration::seconds(20));
    let mail = smtp.wait_for("remi@example.com", "booking_confirmed").await;
    assert_eq!(mail.header("Content-Language").as_deref(), Some("en"));
    let text = mail.text();
    assert!(text.starts_with("Hello Rémi,"), "{text}");
    assert!(text.contains(&title), "{text}");
    let ics = mail.part("text/calendar");
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    assert!(ics.contains(&format!("UID:{booking_id}@fimy")), "{ics}");
    assert!(ics.contains("STATUS:CONFIRMED"), "{ics}");
    assert!(ics.contains("BEGIN:VTIMEZONE"), "{ics}");
    wait_row(&app, row.id, "sent", |r| r.status == "sent").await;
}

#[tokio::test]
async fn the_outbox_and_preferences_endpoints_are_documented() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let paths = &doc["paths"];
    assert!(paths["/api/v1/me/notification-preferences"]["get"].is_object());
    assert!(paths["/api/v1/me/notification-preferences"]["put"].is_object());
    assert!(paths["/api/v1/admin/outbox"]["get"].is_object());
    assert!(paths["/api/v1/admin/outbox/{id}/retry"]["post"].is_object());
    let codes = doc["components"]["schemas"]["ErrorCode"].to_string();
    assert!(codes.contains("notification_not_retryable"), "{codes}");
}

// ---------------------------------------------------------------- shutdown

/// Threads of this process named like the actor threads (Linux: `/proc/self/task`).
fn actor_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("fimy-actors-"))
                .count()
        })
        .unwrap_or(0)
}

/// Buys a card on `app` (whose relay holds messages) and waits until its gift email is
/// being sent and held by the relay; returns the row as claimed.
async fn gift_email_in_flight(app: &TestApp, smtp: &SmtpServer) -> outbox::Model {
    smtp.hold.on.store(true, Ordering::SeqCst);
    let donor = register_as(app, "camille@example.com", "Camille", "fr").await;
    let bought = app.buy_value_card(&donor, 5_000, json!({})).await;
    let card = bought["card"]["id"].as_str().unwrap().to_owned();
    let row = eventually("a gift email row", PATIENCE, || async {
        rows_of(app, &card)
            .await
            .into_iter()
            .find(|r| r.kind == "gift_received" && r.channel == "email")
    })
    .await;
    eventually("the relay holds a message", PATIENCE, || async {
        (smtp.hold.held.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    let row = outbox::Entity::find_by_id(row.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "sending", "{row:?}");
    row
}

/// Stops `app` and fails the test if it takes longer than `secs`.
async fn stop_within(app: &mut TestApp, secs: u64) {
    tokio::time::timeout(Duration::from_secs(secs), app.stop())
        .await
        .expect("the application stops in time");
}

#[tokio::test]
async fn a_stop_lets_the_email_being_sent_finish() {
    let smtp = SmtpServer::start().await;
    let mut app = spawn_with(Options {
        smtp_url: Some(smtp.url()),
        env: vec![("FIMY_SHUTDOWN_GRACE_MS", "10000".into())],
        ..Default::default()
    })
    .await;
    let row = gift_email_in_flight(&app, &smtp).await;
    if cfg!(target_os = "linux") {
        assert!(actor_threads() > 0);
    }
    // The stop signal first, then the relay answers: within the grace, so it is sent.
    let relay = async {
        smtp.hold.release();
    };
    tokio::join!(stop_within(&mut app, 20), relay);
    let row = outbox::Entity::find_by_id(row.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "sent", "{row:?}");
    assert!(
        smtp.messages()
            .iter()
            .any(|m| m.header("X-Fimy-Kind").as_deref() == Some("gift_received"))
    );
    if cfg!(target_os = "linux") {
        assert_eq!(actor_threads(), 0, "the actor threads ended");
    }
}

#[tokio::test]
async fn a_stop_hands_back_the_email_it_could_not_finish_and_another_node_sends_it() {
    let smtp = SmtpServer::start().await;
    let mut app = spawn_with(Options {
        smtp_url: Some(smtp.url()),
        env: vec![("FIMY_SHUTDOWN_GRACE_MS", "300".into())],
        ..Default::default()
    })
    .await;
    let claimed = gift_email_in_flight(&app, &smtp).await;
    // The relay never answers in time: the row is handed back, not left leased.
    stop_within(&mut app, 20).await;
    let row = outbox::Entity::find_by_id(claimed.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "pending", "{row:?}");
    assert_eq!(
        row.attempts, claimed.attempts,
        "no attempt counted: {row:?}"
    );
    assert!(
        row.next_attempt_at <= app.state.clock.now(),
        "due at once, not at the end of the lease: {row:?}"
    );
    if cfg!(target_os = "linux") {
        assert_eq!(actor_threads(), 0, "the actor threads ended");
    }
    // Another node on the same database sends it at once.
    let relay = SmtpServer::start().await;
    let database_url = app.database_url.clone();
    let secret_key = Some(app.secret_key.clone());
    let data_dir = database_url.is_none().then_some(app.data_dir);
    let b = spawn_with(Options {
        smtp_url: Some(relay.url()),
        database_url,
        secret_key,
        data_dir,
        ..Default::default()
    })
    .await;
    let sent = wait_row(&b, claimed.id, "sent by the other node", |r| {
        r.status == "sent"
    })
    .await;
    assert_eq!(sent.attempts, claimed.attempts);
    relay.wait_for("remi@example.com", "gift_received").await;
}
