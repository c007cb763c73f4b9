//! Talking to the server for the scenarios' set-up and their measured requests: one call
//! with its outcome classified, and the fixtures every scenario needs (demo logins, tablet
//! devices, customers holding a funded value card).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::stats::transport_error_kind;

/// The server and a client for it.
#[derive(Debug, Clone)]
pub struct Api {
    pub client: Client,
    pub base: Url,
    pub timeout: Duration,
}

/// What one request came to.
#[derive(Debug)]
pub enum Outcome {
    /// The expected status; the parsed body (`Null` when empty or not JSON).
    Ok(Value),
    /// Another status: `http_<status>` and the problem's `code` when there is one.
    Http(String),
    /// No answer: `transport_<what>`. The request may or may not have been applied.
    Transport(&'static str),
}

impl Outcome {
    /// The kind used in error counts.
    pub fn kind(&self) -> String {
        match self {
            Self::Ok(_) => "ok".into(),
            Self::Http(kind) => kind.clone(),
            Self::Transport(kind) => (*kind).into(),
        }
    }
}

/// `http_409_insufficient_funds` from a status and a problem+json body, or `http_409`.
pub fn http_error_kind(status: StatusCode, body: &Value) -> String {
    match body.get("code").and_then(Value::as_str) {
        Some(code)
            if code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            format!("http_{}_{code}", status.as_u16())
        }
        _ => format!("http_{}", status.as_u16()),
    }
}

pub fn client(timeout: Duration, pool: usize, local: Option<IpAddr>) -> anyhow::Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .pool_max_idle_per_host(pool)
        .local_address(local)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fimy-load-tests/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

impl Api {
    pub fn new(base: Url, timeout: Duration, pool: usize) -> anyhow::Result<Self> {
        Ok(Self {
            client: client(timeout, pool, None)?,
            base,
            timeout,
        })
    }

    /// The same server through a client whose connections start from `local`.
    pub fn with_local_address(&self, local: IpAddr) -> anyhow::Result<Self> {
        Ok(Self {
            client: client(self.timeout, 4, Some(local))?,
            base: self.base.clone(),
            timeout: self.timeout,
        })
    }

    pub fn url(&self, path: &str) -> anyhow::Result<Url> {
        let joined = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&joined).with_context(|| format!("bad URL {joined}"))
    }

    /// One request; `Ok` when the status is `expect`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> Outcome {
        let url = match self.url(path) {
            Ok(u) => u,
            Err(_) => return Outcome::Transport("transport_other"),
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Transport(transport_error_kind(&e)),
        };
        let status = resp.status();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Transport(transport_error_kind(&e)),
        };
        let value = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
        if status == expect {
            Outcome::Ok(value)
        } else {
            Outcome::Http(http_error_kind(status, &value))
        }
    }

    /// A set-up request that must succeed.
    pub async fn must(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        let what = format!("{method} {path}");
        match self.call(method, path, token, body, expect).await {
            Outcome::Ok(v) => Ok(v),
            other => bail!("set-up request {what} failed: {}", other.kind()),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let v = self
            .must(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&json!({"email": email, "password": password})),
                StatusCode::OK,
            )
            .await?;
        str_field(&v, "token")
    }

    /// Registers a customer; returns the session token.
    pub async fn register(&self, email: &str) -> anyhow::Result<String> {
        let v = self
            .must(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(&json!({"email": email, "password": PASSWORD, "display_name": "Load test"})),
                StatusCode::CREATED,
            )
            .await?;
        str_field(&v, "token")
    }

    /// The partner a staff account belongs to.
    pub async fn partner_of(&self, token: &str) -> anyhow::Result<String> {
        let me = self
            .must(Method::GET, "/api/v1/me", Some(token), None, StatusCode::OK)
            .await?;
        me.pointer("/staff/partner_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("/api/v1/me: not a staff account"))
    }

    /// Creates `n` tablet devices for the partner (as its owner); returns their tokens.
    pub async fn devices(
        &self,
        owner: &str,
        partner: &str,
        n: usize,
        run: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let v = self
                .must(
                    Method::POST,
                    &format!("/api/v1/partners/{partner}/devices"),
                    Some(owner),
                    Some(&json!({"name": format!("Load tablet {run} {i}")})),
                    StatusCode::CREATED,
                )
                .await?;
            tokens.push(str_field(&v, "token")?);
        }
        Ok(tokens)
    }

    pub async fn card(&self, token: &str, card: &str) -> anyhow::Result<Value> {
        self.must(
            Method::GET,
            &format!("/api/v1/cards/{card}"),
            Some(token),
            None,
            StatusCode::OK,
        )
        .await
    }
}

/// The password of the accounts the generators register.
const PASSWORD: &str = "load test password, not secret";

pub fn str_field(v: &Value, field: &str) -> anyhow::Result<String> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the answer has no {field:?}"))
}

/// The server's data directory: demo credentials and the `.eml` outbox.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// `role → (email, password)` from `demo-accounts.txt`.
    pub fn demo_accounts(&self) -> anyhow::Result<HashMap<String, (String, String)>> {
        let path = self.0.join("demo-accounts.txt");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (start the server with FIMY_DEMO_DATA=true and pass its --data-dir)",
                path.display()
            )
        })?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((
                    f.next()?.to_owned(),
                    (f.next()?.to_owned(), f.next()?.to_owned()),
                ))
            })
            .collect())
    }

    /// Logs a demo account in by role (`partner owner`, `partner tablet`, …).
    pub async fn demo_login(&self, api: &Api, role: &str) -> anyhow::Result<String> {
        let accounts = self.demo_accounts()?;
        let (email, password) = accounts
            .get(role)
            .ok_or_else(|| anyhow!("no demo account {role:?} in the data dir"))?;
        api.login(email, password).await
    }

    /// Waits for the email to `recipient` carrying a card code, and reads the code.
    pub async fn code_for(&self, recipient: &str, within: Duration) -> anyhow::Result<String> {
        let dir = self.0.join("outbox");
        let deadline = Instant::now() + within;
        loop {
            if let Some(code) = find_code(&dir, recipient)? {
                return Ok(code);
            }
            if Instant::now() > deadline {
                bail!(
                    "no email with a card code to {recipient} in {} after {within:?}",
                    dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn find_code(dir: &Path, recipient: &str) -> anyhow::Result<Option<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains(recipient) {
            continue;
        }
        if let Some(code) = code_in(&text) {
            return Ok(Some(code));
        }
    }
    Ok(None)
}

/// The first `XXXX-XXXX-XXXX-XXXX-C` in an email (quoted-printable soft breaks and `=3D`
/// undone first: the check symbol may be `=`).
pub fn code_in(text: &str) -> Option<String> {
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let b = text.as_bytes();
    let data = |c: u8| c.is_ascii_digit() || (c.is_ascii_uppercase() && !b"ILOU".contains(&c));
    let check = |c: u8| data(c) || b"*~$=U".contains(&c);
    let len = 4 * 5 + 1;
    (0..b.len().saturating_sub(len - 1)).find_map(|i| {
        let w = &b[i..i + len];
        let before_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let after_ok = b.get(i + len).is_none_or(|c| !c.is_ascii_alphanumeric());
        let shape = w.iter().enumerate().all(|(k, &c)| match k {
            4 | 9 | 14 | 19 => c == b'-',
            20 => check(c),
            _ => data(c),
        });
        (before_ok && after_ok && shape).then(|| String::from_utf8_lossy(w).into_owned())
    })
}

/// The `n`th extra loopback address, 127.0.0.2 upwards (127.0.1.0 after 127.0.0.255…).
pub fn loopback(n: u32) -> IpAddr {
    let v = 2 + n;
    IpAddr::V4(Ipv4Addr::new(127, (v >> 16) as u8, (v >> 8) as u8, v as u8))
}

/// A customer holding a paid, delivered and claimed value card.
#[derive(Debug, Clone)]
pub struct Holder {
    pub token: String,
    pub card: String,
    pub code: String,
}

/// Registers `email`, buys a value card of `amount` minor units in `currency` for
/// themselves (the sandbox's always-accepted test card), waits for its delivery email and
/// claims it. Claims (anonymous code look-ups: 30 per address and minute) go out from
/// `claim_from`.
pub async fn holder(
    api: &Api,
    data: &DataDir,
    email: &str,
    amount: i64,
    currency: &str,
    claim_from: IpAddr,
) -> anyhow::Result<Holder> {
    let token = api.register(email).await?;
    let bought = api
        .must(
            Method::POST,
            "/api/v1/cards",
            Some(&token),
            Some(&json!({
                "kind": "value", "amount_minor": amount, "currency": currency,
                "recipient_name": "Load test", "recipient_email": email,
                "payment": {"method": "test_card", "number": "4242 4242 4242 4242"},
            })),
            StatusCode::CREATED,
        )
        .await?;
    let card = bought
        .pointer("/card/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the purchase has no card.id"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = api.card(&token, &card).await?;
        if v["status"] == "delivered" {
            break;
        }
        if Instant::now() > deadline {
            bail!("card {card} not delivered after a minute: {}", v["status"]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = data.code_for(email, Duration::from_secs(60)).await?;
    api.with_local_address(claim_from)?
        .must(
            Method::POST,
            "/api/v1/cards/claim",
            Some(&token),
            Some(&json!({"code": code})),
            StatusCode::OK,
        )
        .await?;
    Ok(Holder { token, card, code })
}

/// The currency of the demo owner's venue: the partner's country decides.
pub async fn partner_currency(api: &Api, partner: &str) -> anyhow::Result<String> {
    let p = api
        .must(
            Method::GET,
            &format!("/api/v1/partners/{partner}"),
            None,
            None,
            StatusCode::OK,
        )
        .await?;
    let country = p.get("country").and_then(Value::as_str).unwrap_or("");
    Ok(match country {
        "CA" => "CAD",
        "US" => "USD",
        "GB" => "GBP",
        "CH" => "CHF",
        _ => "EUR",
    }
    .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_in_emails() {
        assert_eq!(
            code_in("Votre code : 7K2M-QW3E-9ZXR-B4TN-=3D\r\nmerci").as_deref(),
            Some("7K2M-QW3E-9ZXR-B4TN-=")
        );
        assert_eq!(
            code_in("x\nAB12-CD34-EF56-GH78-9 y").as_deref(),
            Some("AB12-CD34-EF56-GH78-9")
        );
        // Soft line break inside the code.
        assert_eq!(
            code_in("AB12-CD34-EF=\n56-GH78-9").as_deref(),
            Some("AB12-CD34-EF56-GH78-9")
        );
        // Not codes: I/L/O/U in data, too long, a UUID piece.
        assert_eq!(code_in("AB1I-CD34-EF56-GH78-9"), None);
        assert_eq!(code_in("AB12-CD34-EF56-GH78-99"), None);
        assert_eq!(code_in("nothing here"), None);
    }

    #[test]
    fn error_kinds_name_the_problem_code() {
        let p = json!({"code": "insufficient_funds", "status": 409});
        assert_eq!(
            http_error_kind(StatusCode::CONFLICT, &p),
            "http_409_insufficient_funds"
        );
        assert_eq!(
            http_error_kind(StatusCode::BAD_GATEWAY, &Value::Null),
            "http_502"
        );
        assert_eq!(
            http_error_kind(StatusCode::CONFLICT, &json!({"code": "a b"})),
            "http_409"
        );
    }

    #[test]
    fn loopback_addresses_count_up() {
        assert_eq!(loopback(0).to_string(), "127.0.0.2");
        assert_eq!(loopback(253).to_string(), "127.0.0.255");
        assert_eq!(loopback(254).to_string(), "127.0.1.0");
    }
}
