//! Gift-card attachments: upload (types, magic numbers, limits, who and when), listing,
//! serving by signed URL (tampering, expiry, ranges), and the recipient's view when
//! opening a card by its code.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut typed = kind.to_vec();
    typed.extend_from_slice(data);
    out.extend_from_slice(&typed);
    out.extend_from_slice(&crc32(&typed).to_be_bytes());
}

/// A valid 1×1 grey PNG: signature, IHDR, IDAT (a stored zlib block), IEND.
pub(crate) fn png() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib: header, one final stored block of [filter 0, pixel 0x80], Adler-32.
    let idat = [
        0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0x00, 0x80, 0x00, 0x82, 0x00, 0x81,
    ];
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG-looking body of exactly `len` bytes.
pub(crate) fn png_of_len(len: usize) -> Vec<u8> {
    let mut body = png();
    body.resize(len, 0);
    body
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl TestApp {
    async fn upload(
        &self,
        token: &str,
        card: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.request(Method::POST, &format!("/api/v1/cards/{card}/attachments"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn attachments(&self, token: &str, card: &str) -> Vec<Value> {
        let res = self
            .get_as(token, &format!("/api/v1/cards/{card}/attachments"))
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }
}

/// A donor with a delivered card: (token, card id, code).
async fn donor_with_card(app: &TestApp) -> (String, String, String) {
    let donor = app.register("donor@example.com").await;
    let (card, code) = app.delivered_card(&donor, 5_000).await;
    (donor, card, code)
}

#[tokio::test]
async fn a_photo_is_uploaded_listed_and_served_by_its_signed_url() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    let photo = png();
    let res = app.upload(&donor, &card, "image/png", photo.clone()).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["kind"], "photo");
    assert_eq!(created["content_type"], "image/png");
    assert_eq!(created["size_bytes"], photo.len());
    assert_eq!(created["sha256"], sha256_hex(&photo));
    let id = created["id"].as_str().unwrap();

    // Stored under the data dir, at attachments/<card>/<attachment>.
    let file = app
        .data_dir
        .path()
        .join(format!("uploads/attachments/{card}/{id}"));
    assert_eq!(std::fs::read(&file).unwrap(), photo);

    let items = app.attachments(&donor, &card).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    let url = items[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/api/v1/attachments/{id}?exp=")),
        "{url}"
    );

    // No login needed: the signature is the access.
    let res = app.get(url).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-disposition"], "inline");
    let cache = h["cache-control"].to_str().unwrap();
    let max_age: i64 = cache
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((3600..=3900).contains(&max_age), "{cache}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), photo.as_slice());

    // Players seek with ranges; caches revalidate with the ETag.
    let res = app
        .request(Method::GET, url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 0-7/{}", photo.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &photo[..8]);
    let res = app
        .request(Method::GET, url)
        .header("if-none-match", format!("\"{}\"", sha256_hex(&photo)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // The purchaser can take it back; the file goes with it.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/cards/{card}/attachments/{id}"),
        )
        .bearer_auth(&donor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!file.exists());
    assert!(app.attachments(&donor, &card).await.is_empty());
    assert_problem(app.get(url).await, 404, "not_found").await;
}

#[tokio::test]
async fn types_and_contents_are_checked() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    // Declared JPEG, but PNG bytes.
    let res = app.upload(&donor, &card, "image/jpeg", png()).await;
    let body = assert_problem(res, 422, "attachment_content_mismatch").await;
    assert!(
        body["detail"].as_str().unwrap().contains("image/jpeg"),
        "{body}"
    );
    // Not a type taken at all.
    for ct in ["text/html", "image/svg+xml", "application/octet-stream"] {
        let res = app.upload(&donor, &card, ct, png()).await;
        assert_problem(res, 415, "attachment_type_not_allowed").await;
    }
    let res = app
        .request(Method::POST, &format!("/api/v1/cards/{card}/attachments"))
        .bearer_auth(&donor)
        .body(png())
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "attachment_type_not_allowed").await;
    // Empty.
    let res = app.upload(&donor, &card, "image/png", Vec::new()).await;
    assert_problem(res, 422, "attachment_content_mismatch").await;
    // Other formats by their magic numbers; parameters are fine.
    let webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01];
    let res = app
        .upload(&donor, &card, "audio/webm;codecs=opus", webm.clone())
        .await;
    assert_eq!(res.status(), 201);
    let voice: Value = res.json().await.unwrap();
    assert_eq!(voice["kind"], "voice");
    assert_eq!(voice["content_type"], "audio/webm");
    let mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    let res = app.upload(&donor, &card, "video/mp4", mp4).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["kind"], "video");
    let res = app.upload(&donor, &card, "video/mp4", webm).await;
    assert_problem(res, 422, "attachment_content_mismatch").await;
    assert_eq!(app.attachments(&donor, &card).await.len(), 2);
}

/// Sends `len` bytes of a PNG-looking body with chunked transfer encoding (no
/// Content-Length, so the server only learns the size by reading) and returns the
/// response's status.
pub(crate) async fn post_chunked(app: &TestApp, token: &str, path: &str, len: usize) -> u16 {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let body = png_of_len(len);
    // The server may answer and close before it has read everything: stop writing then.
    for part in body.chunks(64 * 1024) {
        let mut framed = format!("{:x}\r\n", part.len()).into_bytes();
        framed.extend_from_slice(part);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"))
}

#[tokio::test]
async fn uploads_over_the_type_limit_are_refused() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    // Exactly the photo limit is fine (bigger than the app's 64 KiB default body).
    let res = app
        .upload(&donor, &card, "image/png", png_of_len(5 * MIB))
        .await;
    assert_eq!(res.status(), 201);
    // One byte more is not, whether the length is announced…
    let res = app
        .upload(&donor, &card, "image/png", png_of_len(5 * MIB + 1))
        .await;
    let body = assert_problem(res, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("5 MiB"), "{body}");
    // …or only found out while reading.
    let path = format!("/api/v1/cards/{card}/attachments");
    assert_eq!(post_chunked(&app, &donor, &path, 5 * MIB + 1).await, 413);
    assert_eq!(post_chunked(&app, &donor, &path, 100_000).await, 201);
    assert_eq!(app.attachments(&donor, &card).await.len(), 2);
    // A video may be larger than a photo.
    let mut video = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    video.resize(6 * MIB, 0);
    let res = app.upload(&donor, &card, "video/mp4", video).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn only_the_purchaser_adds_and_only_before_the_card_is_opened() {
    let app = spawn_app().await;
    let (donor, card, code) = donor_with_card(&app).await;
    let stranger = app.register("stranger@example.com").await;
    let res = app.upload(&stranger, &card, "image/png", png()).await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .get_as(&stranger, &format!("/api/v1/cards/{card}/attachments"))
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .request(Method::POST, &format!("/api/v1/cards/{card}/attachments"))
        .header("content-type", "image/png")
        .body(png())
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    assert_eq!(
        app.upload(&donor, &card, "image/png", png()).await.status(),
        201
    );
    // The recipient claims it (which opens it): they see the attachment, cannot add one,
    // and the donor cannot add more now.
    let recipient = app.register("remi@example.com").await;
    let res = app
        .post_as(&recipient, "/api/v1/cards/claim", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.attachments(&recipient, &card).await.len(), 1);
    let res = app.upload(&recipient, &card, "image/png", png()).await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.upload(&donor, &card, "image/png", png()).await;
    assert_problem(res, 409, "card_state_conflict").await;
    let id = app.attachments(&donor, &card).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/cards/{card}/attachments/{id}"),
        )
        .bearer_auth(&donor)
        .send()
        .await
        .unwrap();
    assert_problem(res, 409, "card_state_conflict").await;
}

#[tokio::test]
async fn a_card_takes_five_attachments() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    for _ in 0..5 {
        let res = app.upload(&donor, &card, "image/png", png()).await;
        assert_eq!(res.status(), 201);
    }
    let res = app.upload(&donor, &card, "image/png", png()).await;
    assert_problem(res, 409, "too_many_attachments").await;
    let items = app.attachments(&donor, &card).await;
    assert_eq!(items.len(), 5);
    // Removing one frees its place.
    let id = items[2]["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/cards/{card}/attachments/{id}"),
        )
        .bearer_auth(&donor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.upload(&donor, &card, "image/png", png()).await;
    assert_eq!(res.status(), 201);
    // Concurrent uploads cannot go past five either.
    let (a, b, c) = tokio::join!(
        app.upload(&donor, &card, "image/png", png()),
        app.upload(&donor, &card, "image/png", png()),
        app.upload(&donor, &card, "image/png", png())
    );
    for res in [a, b, c] {
        assert_problem(res, 409, "too_many_attachments").await;
    }
    assert_eq!(app.attachments(&donor, &card).await.len(), 5);
}

#[tokio::test]
async fn concurrent_uploads_take_distinct_places_up_to_five() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    let uploads: Vec<_> = (0..8)
        .map(|_| app.upload(&donor, &card, "image/png", png()))
        .collect();
    let mut created = 0;
    for res in futures_util::future::join_all(uploads).await {
        match res.status().as_u16() {
            201 => created += 1,
            _ => {
                assert_problem(res, 409, "too_many_attachments").await;
            }
        }
    }
    assert_eq!(created, 5);
    assert_eq!(app.attachments(&donor, &card).await.len(), 5);
    // Only the kept uploads' files remain.
    let dir = app
        .data_dir
        .path()
        .join(format!("uploads/attachments/{card}"));
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 5);
}

#[tokio::test]
async fn signed_urls_cannot_be_altered_and_expire() {
    let app = spawn_app().await;
    let (donor, card, _) = donor_with_card(&app).await;
    assert_eq!(
        app.upload(&donor, &card, "image/png", png()).await.status(),
        201
    );
    let url = app.attachments(&donor, &card).await[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get(&url).await.status(), 200);
    let (path, query) = url.split_once('?').unwrap();
    let params: std::collections::HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let (exp, sig) = (params["exp"], params["sig"]);
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { '1' } else { '0' },
        &sig[1..]
    );
    let later: i64 = exp.parse::<i64>().unwrap() + 86_400;
    let other = uuid::Uuid::now_v7();
    for bad in [
        format!("{path}?exp={exp}&sig={flipped}"),
        format!("{path}?exp={later}&sig={sig}"),
        format!("{path}?exp={exp}"),
        format!("{path}?sig={sig}"),
        path.to_owned(),
        format!("{path}?exp={exp}&sig=zz{}", &sig[2..]),
        format!("{path}?exp={exp}&sig={}", &sig[..62]),
        format!("/api/v1/attachments/{other}?exp={exp}&sig={sig}"),
    ] {
        assert_problem(app.get(&bad).await, 403, "forbidden").await;
    }
    // An hour later (plus the rounding) the link is dead; a fresh list gives a new one.
    app.clock.advance(chrono::Duration::minutes(66));
    let body = assert_problem(app.get(&url).await, 403, "forbidden").await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let donor = app.relogin("donor@example.com").await;
    let fresh = app.attachments(&donor, &card).await[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, url);
    assert_eq!(app.get(&fresh).await.status(), 200);
}

#[tokio::test]
async fn the_recipient_opening_the_card_by_code_gets_the_attachments() {
    let app = spawn_app().await;
    let (donor, card, code) = donor_with_card(&app).await;
    // Without attachments, the opened card has no such field.
    let other = app.buy_value_card(&donor, 2_000, json!({})).await;
    let other_id = other["card"]["id"].as_str().unwrap();
    app.wait_for_status(&donor, other_id, "delivered").await;
    let other_code = app.code_of(other_id).await;
    let opened: Value = app
        .post_json("/api/v1/cards/open", &json!({"code": other_code}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(opened["status"], "opened");
    assert!(opened.get("attachments").is_none(), "{opened}");

    let photo = png();
    assert_eq!(
        app.upload(&donor, &card, "image/png", photo.clone())
            .await
            .status(),
        201
    );
    let voice = b"OggS\0\x02\0\0\0\0\0\0\0\0".to_vec();
    assert_eq!(
        app.upload(&donor, &card, "audio/ogg", voice.clone())
            .await
            .status(),
        201
    );
    let res = app
        .post_json("/api/v1/cards/open", &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let opened: Value = res.json().await.unwrap();
    assert_eq!(opened["id"], card.as_str());
    assert_eq!(opened["status"], "opened");
    assert_eq!(opened["access"], "holder");
    let attachments = opened["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0]["kind"], "photo");
    assert_eq!(attachments[1]["kind"], "voice");
    for (a, bytes) in attachments.iter().zip([photo, voice]) {
        let res = app.get(a["url"].as_str().unwrap()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            a["content_type"].as_str().unwrap()
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
}

#[tokio::test]
async fn attachments_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let paths = &doc["paths"];
    assert!(paths["/api/v1/cards/{id}/attachments"]["post"].is_object());
    assert!(paths["/api/v1/cards/{id}/attachments"]["get"].is_object());
    assert!(paths["/api/v1/cards/{id}/attachments/{attachment_id}"]["delete"].is_object());
    assert!(paths["/api/v1/attachments/{attachment_id}"]["get"].is_object());
    let content = &paths["/api/v1/cards/{id}/attachments"]["post"]["requestBody"]["content"];
    assert!(content["image/png"].is_object(), "{content}");
    assert!(content["video/webm"].is_object(), "{content}");
    assert!(doc["components"]["schemas"]["OpenedCard"].is_object());
}

/// An MP4-looking video of `len` bytes that differ from one position to the next, so a
/// range off by one byte shows.
fn video_of_len(len: usize) -> Vec<u8> {
    let mut body = b"\0\0\0\x20ftypisom".to_vec();
    let mut x = 0x2545_f491_u32;
    while body.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        body.push(x as u8);
    }
    body.truncate(len);
    body
}

/// A donor's card with one uploaded video of `len` bytes: (the bytes, its signed URL).
async fn served_video(app: &TestApp, len: usize) -> (Vec<u8>, String) {
    let (donor, card, _) = donor_with_card(app).await;
    let video = video_of_len(len);
    let res = app.upload(&donor, &card, "video/mp4", video.clone()).await;
    assert_eq!(res.status(), 201);
    let url = app.attachments(&donor, &card).await[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    (video, url)
}

async fn get_with(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.request(Method::GET, url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

/// Several of the server's read chunks (64 KiB) long, and not a multiple of one.
const VIDEO_LEN: usize = 300_001;

#[tokio::test]
async fn a_full_get_is_the_uploaded_file_and_offers_ranges() {
    let app = spawn_app().await;
    let (video, url) = served_video(&app, VIDEO_LEN).await;
    let res = app.get(&url).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], VIDEO_LEN.to_string().as_str());
    assert_eq!(h["content-type"], "video/mp4");
    assert!(h.get("content-range").is_none());
    let body = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&video));
}

#[tokio::test]
async fn a_range_is_answered_with_exactly_its_bytes() {
    let app = spawn_app().await;
    let (video, url) = served_video(&app, VIDEO_LEN).await;
    let len = VIDEO_LEN;
    for (range, first, last) in [
        ("bytes=0-9", 0, 9),
        // A suffix: the last 100 bytes.
        ("bytes=-100", len - 100, len - 1),
        // Open-ended: from a position to the end.
        ("bytes=250000-", 250_000, len - 1),
        // Across read chunks.
        ("bytes=65530-131080", 65_530, 131_080),
        // A last position past the end stops at the end.
        ("bytes=299990-999999", 299_990, len - 1),
        ("bytes=-99999999999999999999", 0, len - 1),
        ("BYTES=5-5", 5, 5),
    ] {
        let res = get_with(&app, &url, &[("range", range)]).await;
        assert_eq!(res.status(), 206, "{range}");
        let h = res.headers().clone();
        assert_eq!(
            h["content-range"],
            format!("bytes {first}-{last}/{len}").as_str(),
            "{range}"
        );
        assert_eq!(
            h["content-length"],
            (last - first + 1).to_string().as_str(),
            "{range}"
        );
        // The full answer's headers, unchanged.
        assert_eq!(h["content-type"], "video/mp4", "{range}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{range}");
        assert_eq!(h["content-disposition"], "inline", "{range}");
        assert_eq!(h["accept-ranges"], "bytes", "{range}");
        assert!(
            h["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private, max-age="),
            "{range}"
        );
        let body = res.bytes().await.unwrap();
        assert_eq!(body.as_ref(), &video[first..=last], "{range}");
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_are_416_and_unreadable_ones_get_the_whole_file() {
    let app = spawn_app().await;
    let (video, url) = served_video(&app, VIDEO_LEN).await;
    let whole = format!("bytes */{VIDEO_LEN}");
    for range in [
        format!("bytes={VIDEO_LEN}-"),
        format!("bytes={VIDEO_LEN}-{}", VIDEO_LEN + 10),
        "bytes=99999999999999999999-".to_owned(),
        "bytes=-0".to_owned(),
    ] {
        let res = get_with(&app, &url, &[("range", &range)]).await;
        assert_eq!(res.status(), 416, "{range}");
        assert_eq!(res.headers()["content-range"], whole.as_str(), "{range}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{range}"
        );
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "range_not_satisfiable", "{range}");
    }
    // Several ranges, another unit, or a header that does not parse: the whole file, as
    // RFC 9110 allows.
    for range in [
        "bytes=0-1,5-6",
        "items=0-9",
        "bytes=abc",
        "bytes=9-0",
        "bytes=+1-2",
        "bytes=",
    ] {
        let res = get_with(&app, &url, &[("range", range)]).await;
        assert_eq!(res.status(), 200, "{range}");
        assert!(res.headers().get("content-range").is_none(), "{range}");
        assert_eq!(res.bytes().await.unwrap().len(), video.len(), "{range}");
    }
}

#[tokio::test]
async fn if_range_gives_the_range_only_for_the_current_file() {
    let app = spawn_app().await;
    let (video, url) = served_video(&app, VIDEO_LEN).await;
    let etag = format!("\"{}\"", sha256_hex(&video));
    let res = get_with(&app, &url, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &video[..10]);
    for other in ["\"0000\"", "Sun, 06 Dec 2026 10:00:00 GMT", "*"] {
        let res = get_with(&app, &url, &[("range", "bytes=0-9"), ("if-range", other)]).await;
        assert_eq!(res.status(), 200, "{other}");
        assert_eq!(res.bytes().await.unwrap().len(), video.len(), "{other}");
    }
}

#[tokio::test]
async fn a_range_needs_a_valid_signature_too() {
    let app = spawn_app().await;
    let (_, url) = served_video(&app, 1_000).await;
    let (head, sig) = url.rsplit_once("sig=").unwrap();
    let flipped = format!(
        "{head}sig={}{}",
        if sig.starts_with('0') { '1' } else { '0' },
        &sig[1..]
    );
    let res = get_with(&app, &flipped, &[("range", "bytes=0-9")]).await;
    assert_problem(res, 403, "forbidden").await;
    assert_eq!(
        get_with(&app, &url, &[("range", "bytes=0-9")])
            .await
            .status(),
        206
    );
    app.clock.advance(chrono::Duration::minutes(66));
    let res = get_with(&app, &url, &[("range", "bytes=0-9")]).await;
    let body = assert_problem(res, 403, "forbidden").await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}
