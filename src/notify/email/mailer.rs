//! Sends rendered messages: SMTP when `SMTP_URL` is set, otherwise `.eml` files in
//! `<data_dir>/outbox/`. SMTP replies map onto [`DeliveryError`]: 4xx, timeouts and
//! network errors are retried; a permanent 5xx is `Gone`, except authentication failures
//! (our configuration, not the mailbox), which are retried.
//!
//! `smtp://host` to a loopback address speaks plain SMTP; to any other host it requires
//! STARTTLS (port 587 by default) unless `?tls=opportunistic` or `?tls=none` says
//! otherwise; `smtps://` is TLS from the first byte (port 465). Certificates are checked
//! against the system's roots (rustls).

use crate::config::Config;
use crate::notify::delivery::{Delivery, DeliveryError};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use url::{Host, Url};
use uuid::Uuid;

/// How long one SMTP command may take.
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where emails go.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in this directory.
    Files(PathBuf),
}

/// Sends rendered messages over SMTP or writes them as `.eml` files.
pub struct Mailer {
    transport: Transport,
    pub(super) from: Mailbox,
    /// The right-hand side of our `Message-ID`s.
    pub(super) id_domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// The mailer the configuration asks for: SMTP with `smtp_url`, `.eml` files in
    /// `<data_dir>/outbox/` without.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let public_host = config
            .public_url
            .host()
            .and_then(|h| match h {
                Host::Domain(d) if d.contains('.') => Some(d.to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let from: Mailbox = match &config.email_from {
            Some(raw) => raw
                .parse()
                .map_err(|e| anyhow!("email_from {raw:?} is not an address: {e}"))?,
            None => format!("Fimy <no-reply@{public_host}>")
                .parse()
                .map_err(|e| anyhow!("cannot make a sender address at {public_host}: {e}"))?,
        };
        let id_domain = from.email.domain().to_owned();
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(smtp_transport(url.expose(), &public_host)?),
            None => {
                let dir = config.data_dir.join("outbox");
                private_dir(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
                Transport::Files(dir)
            }
        };
        Ok(Self {
            transport,
            from,
            id_domain,
        })
    }

    /// Whether messages go out over SMTP (rather than into `.eml` files).
    pub fn uses_smtp(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Sends one message; `row_id` and `now` name its file when writing files.
    pub async fn send(&self, message: Message, row_id: Uuid, now: DateTime<Utc>) -> Delivery {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(smtp_error),
            Transport::Files(dir) => {
                let name = format!("{}-{row_id}.eml", now.format("%Y%m%dT%H%M%S%.3fZ"));
                let (dir, bytes) = (dir.clone(), message.formatted());
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|e| DeliveryError::Retry(format!("file writer failed: {e}")))?
                    .map_err(|e| DeliveryError::Retry(format!("cannot write the .eml file: {e}")))
            }
        }
    }
}

/// Writes `dir/name` so that it appears whole or not at all: a temporary file, synced,
/// then renamed. The directory and the file are private to the owner (a gift email holds
/// the card's code).
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    private_dir(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))
}

/// Creates `dir` (and its parents) if needed, the last one readable by its owner only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// How a message is protected on the way to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    Opportunistic,
    Required,
    Wrapper,
}

/// Where and how to reach the relay, from `SMTP_URL`.
#[derive(Debug, PartialEq, Eq)]
struct Relay {
    host: String,
    port: u16,
    mode: TlsMode,
}

fn relay(url: &Url) -> anyhow::Result<Relay> {
    // smtp:// is not a "special" scheme, so an IPv4 address comes back as a domain.
    let (host, loopback) = match url.host() {
        Some(Host::Domain(d)) => (
            d.to_owned(),
            d.parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or_else(|_| {
                    d.eq_ignore_ascii_case("localhost")
                        || d.to_ascii_lowercase().ends_with(".localhost")
                }),
        ),
        Some(Host::Ipv4(ip)) => (ip.to_string(), ip.is_loopback()),
        Some(Host::Ipv6(ip)) => (ip.to_string(), ip.is_loopback()),
        None => bail!("SMTP_URL has no host"),
    };
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let mode = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None | Some("wrapper")) => TlsMode::Wrapper,
        ("smtp", None) if loopback => TlsMode::None,
        ("smtp", None | Some("required")) => TlsMode::Required,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtp", Some("none")) => TlsMode::None,
        (scheme, tls) => bail!(
            "SMTP_URL: {scheme}:// with tls={tls:?} is not supported (smtp:// takes \
             tls=required, opportunistic or none; smtps:// is always TLS)"
        ),
    };
    let port = url.port().unwrap_or(match mode {
        TlsMode::Wrapper => 465,
        TlsMode::Required | TlsMode::Opportunistic => 587,
        TlsMode::None => 25,
    });
    Ok(Relay { host, port, mode })
}

fn smtp_transport(raw: &str, hello: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = Url::parse(raw).context("SMTP_URL is not a URL")?;
    let Relay { host, port, mode } = relay(&url)?;
    let params = || TlsParameters::new(host.clone()).context("SMTP_URL: TLS set-up failed");
    let tls = match mode {
        TlsMode::None => Tls::None,
        TlsMode::Opportunistic => Tls::Opportunistic(params()?),
        TlsMode::Required => Tls::Required(params()?),
        TlsMode::Wrapper => Tls::Wrapper(params()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if hello != "localhost" {
        builder = builder.hello_name(ClientId::Domain(hello.to_owned()));
    }
    if !url.username().is_empty() {
        builder = builder.credentials(Credentials::new(
            percent_decode(url.username())?,
            percent_decode(url.password().unwrap_or_default())?,
        ));
    }
    Ok(builder.build())
}

/// `%XX` sequences back to bytes (the user and password of a URL), as UTF-8.
fn percent_decode(s: &str) -> anyhow::Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("SMTP_URL: the user or password is not UTF-8")
}

/// What an SMTP failure means for the row.
fn smtp_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {e}");
    if !e.is_permanent() {
        return DeliveryError::Retry(message);
    }
    match e.status().map(u16::from) {
        // Authentication refused: our configuration, not the mailbox. Retried, then dead
        // (and retried by an admin once fixed).
        Some(530 | 534 | 535 | 538) => DeliveryError::Retry(message),
        _ => DeliveryError::Gone(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_credentials() {
        assert_eq!(percent_decode("p%40ss%3Aw%2Frd").unwrap(), "p@ss:w/rd");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert_eq!(percent_decode("bad%zz").unwrap(), "bad%zz");
    }

    // The pooled transport starts its reaper task on the runtime.
    #[tokio::test]
    async fn smtp_urls_choose_tls_sensibly() {
        let r = |s: &str| relay(&Url::parse(s).unwrap()).map(|r| (r.host, r.port, r.mode));
        let loopback = [
            "smtp://127.0.0.1:2525",
            "smtp://localhost:2525",
            "smtp://[::1]:2525",
        ];
        for url in loopback {
            assert_eq!(r(url).unwrap().2, TlsMode::None, "{url}");
            assert_eq!(r(url).unwrap().1, 2525);
        }
        assert_eq!(
            r("smtp://u:p@mail.example.com").unwrap(),
            ("mail.example.com".to_owned(), 587, TlsMode::Required)
        );
        assert_eq!(r("smtp://10.0.0.5").unwrap().2, TlsMode::Required);
        assert_eq!(
            r("smtp://mail.example.com?tls=opportunistic").unwrap().2,
            TlsMode::Opportunistic
        );
        assert_eq!(
            r("smtp://mail.example.com:25?tls=none").unwrap(),
            ("mail.example.com".to_owned(), 25, TlsMode::None)
        );
        assert_eq!(
            r("smtps://mail.example.com").unwrap(),
            ("mail.example.com".to_owned(), 465, TlsMode::Wrapper)
        );
        assert_eq!(
            r("smtp://127.0.0.1?tls=required").unwrap().2,
            TlsMode::Required
        );
        assert!(smtp_transport("smtp://127.0.0.1:2525", "localhost").is_ok());
        assert!(smtp_transport("smtp://u:p@mail.example.com", "fimy.example").is_ok());
        assert!(smtp_transport("smtps://u:p@mail.example.com", "fimy.example").is_ok());
        assert!(smtp_transport("smtp://mail.example.com?tls=none", "fimy.example").is_ok());
        assert!(smtp_transport("smtp://mail.example.com?tls=bogus", "fimy.example").is_err());
        assert!(smtp_transport("smtps://mail.example.com?tls=none", "fimy.example").is_err());
    }

    #[test]
    fn eml_files_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "a.eml", b"hello").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.eml"]);
        assert_eq!(std::fs::read(dir.path().join("a.eml")).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a.eml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let sub = dir.path().join("outbox");
            write_atomically(&sub, "b.eml", b"x").unwrap();
            let mode = std::fs::metadata(&sub).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
