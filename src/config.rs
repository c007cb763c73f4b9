//! Configuration: built-in defaults, then an optional TOML file (`--config PATH`), then
//! environment variables, each layer overriding the one before. Every value is checked
//! before anything starts; a bad one names its key and what is wrong.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {key}: {message}")]
pub struct ConfigError {
    /// The TOML key or environment variable that holds the bad value.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// The embedded default: a SQLite file (`…/fimy.db` in the data dir unless a
    /// `sqlite:` URL names another).
    Sqlite { path: PathBuf },
    /// Production: a PostgreSQL URL (kept whole; it may carry a password).
    Postgres { url: String },
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "Sqlite({})", path.display()),
            Self::Postgres { url } => write!(f, "Postgres({})", redact_url(url)),
        }
    }
}

/// The whole, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    /// Maximum connections to PostgreSQL (SQLite always uses one writer connection).
    pub database_max_connections: u32,
    pub redis_url: Option<Secret>,
    pub smtp_url: Option<Secret>,
    pub log_format: LogFormat,
    /// The address users reach the platform at, used in printed and emailed links.
    pub public_url: Url,
    /// Load the demo partners, experiences and accounts on first start.
    pub demo_data: bool,
    pub session_ttl: Duration,
    /// HTTP worker threads (default: one per core).
    pub workers: usize,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// The installation's master key (base64, 32 bytes); by default generated into the
    /// data dir. Several nodes must share it.
    pub secret_key: Option<Secret>,
    /// Stripe instead of the sandbox, when its secret key is set.
    pub stripe: Option<StripeSettings>,
    /// A card actor with no message for this long passivates.
    pub actor_idle: Duration,
    /// How often due deliveries and expiries are looked for.
    pub scheduler_interval: Duration,
    /// How often the outbox worker looks for notifications to send.
    pub outbox_interval: Duration,
    /// After a stop signal: how long in-flight requests get to finish, and an outbox row
    /// being delivered gets to be delivered before its lease is released.
    pub shutdown_grace: Duration,
    /// The `From` of emails (`Name <address>`); by default `Fimy <no-reply@…>` at the
    /// public URL's host.
    pub email_from: Option<String>,
    /// The Web Push (VAPID) private key, base64url of the 32-byte P-256 scalar; by default
    /// generated into the data dir. Several nodes must share it.
    pub vapid_private_key: Option<Secret>,
    /// The VAPID contact (`mailto:…` or `https://…`); by default a `mailto:` at the
    /// public host.
    pub vapid_subject: Option<String>,
    /// The push services subscriptions may point at (by default the browsers' own).
    pub push_allow_hosts: crate::notify::push::PushHosts,
}

/// Stripe's settings (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRETS`, `STRIPE_API_BASE`).
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Secret,
    /// Several during a rotation; a webhook signed by any of them is accepted.
    pub webhook_secrets: Vec<Secret>,
    pub api_base: Url,
}

/// A value that must never reach a log line: `Debug` prints it with any password
/// replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// `scheme://user:***@host/…`: a URL with its password hidden, for logs and messages.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

/// The TOML file's shape. Unknown keys are refused so a typo does not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    redis_url: Option<String>,
    smtp_url: Option<String>,
    log_format: Option<String>,
    public_url: Option<String>,
    demo_data: Option<bool>,
    session_ttl_hours: Option<u64>,
    workers: Option<usize>,
    trust_forwarded_for: Option<bool>,
    secret_key: Option<String>,
    stripe_secret_key: Option<String>,
    stripe_webhook_secrets: Option<String>,
    stripe_api_base: Option<String>,
    actor_idle_secs: Option<u64>,
    scheduler_interval_ms: Option<u64>,
    outbox_interval_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    email_from: Option<String>,
    vapid_private_key: Option<String>,
    vapid_subject: Option<String>,
    push_allow_hosts: Option<String>,
}

/// The environment variables read, with the TOML key each overrides.
pub const ENV_KEYS: [(&str, &str); 24] = [
    ("FIMY_LISTEN", "listen"),
    ("FIMY_DATA_DIR", "data_dir"),
    ("DATABASE_URL", "database_url"),
    ("FIMY_DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("REDIS_URL", "redis_url"),
    ("SMTP_URL", "smtp_url"),
    ("FIMY_LOG_FORMAT", "log_format"),
    ("FIMY_PUBLIC_URL", "public_url"),
    ("FIMY_DEMO_DATA", "demo_data"),
    ("FIMY_SESSION_TTL_HOURS", "session_ttl_hours"),
    ("FIMY_WORKERS", "workers"),
    ("FIMY_TRUST_FORWARDED_FOR", "trust_forwarded_for"),
    ("FIMY_SECRET_KEY", "secret_key"),
    ("STRIPE_SECRET_KEY", "stripe_secret_key"),
    ("STRIPE_WEBHOOK_SECRETS", "stripe_webhook_secrets"),
    ("STRIPE_API_BASE", "stripe_api_base"),
    ("FIMY_ACTOR_IDLE_SECS", "actor_idle_secs"),
    ("FIMY_SCHEDULER_INTERVAL_MS", "scheduler_interval_ms"),
    ("FIMY_OUTBOX_INTERVAL_MS", "outbox_interval_ms"),
    ("FIMY_SHUTDOWN_GRACE_MS", "shutdown_grace_ms"),
    ("FIMY_EMAIL_FROM", "email_from"),
    ("FIMY_VAPID_PRIVATE_KEY", "vapid_private_key"),
    ("FIMY_VAPID_SUBJECT", "vapid_subject"),
    ("FIMY_PUSH_ALLOW_HOSTS", "push_allow_hosts"),
];

impl Config {
    /// What the Web Push sender is made from.
    pub fn push_settings(&self) -> crate::notify::push::PushSettings<'_> {
        crate::notify::push::PushSettings {
            data_dir: &self.data_dir,
            vapid_private_key: self.vapid_private_key.as_ref().map(|s| s.expose()),
            vapid_subject: self.vapid_subject.clone(),
            email_from: self.email_from.as_deref(),
            public_url: &self.public_url,
            allow_hosts: self.push_allow_hosts.clone(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, |k| std::env::var(k).ok())
    }

    /// As [`Config::load`], with the environment given as a lookup function (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_cfg = match file {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    ConfigError::new(
                        format!("--config {}", path.display()),
                        e.to_string().trim().replace('\n', " "),
                    )
                })?
            }
        };
        let mut raw = Raw::default();
        raw.set("listen", file_cfg.listen);
        raw.set("data_dir", file_cfg.data_dir);
        raw.set("database_url", file_cfg.database_url);
        raw.set(
            "database_max_connections",
            file_cfg.database_max_connections.map(|v| v.to_string()),
        );
        raw.set("redis_url", file_cfg.redis_url);
        raw.set("smtp_url", file_cfg.smtp_url);
        raw.set("log_format", file_cfg.log_format);
        raw.set("public_url", file_cfg.public_url);
        raw.set("demo_data", file_cfg.demo_data.map(|v| v.to_string()));
        raw.set(
            "session_ttl_hours",
            file_cfg.session_ttl_hours.map(|v| v.to_string()),
        );
        raw.set("workers", file_cfg.workers.map(|v| v.to_string()));
        raw.set(
            "trust_forwarded_for",
            file_cfg.trust_forwarded_for.map(|v| v.to_string()),
        );
        raw.set("secret_key", file_cfg.secret_key);
        raw.set("stripe_secret_key", file_cfg.stripe_secret_key);
        raw.set("stripe_webhook_secrets", file_cfg.stripe_webhook_secrets);
        raw.set("stripe_api_base", file_cfg.stripe_api_base);
        raw.set(
            "actor_idle_secs",
            file_cfg.actor_idle_secs.map(|v| v.to_string()),
        );
        raw.set(
            "scheduler_interval_ms",
            file_cfg.scheduler_interval_ms.map(|v| v.to_string()),
        );
        raw.set(
            "outbox_interval_ms",
            file_cfg.outbox_interval_ms.map(|v| v.to_string()),
        );
        raw.set(
            "shutdown_grace_ms",
            file_cfg.shutdown_grace_ms.map(|v| v.to_string()),
        );
        raw.set("email_from", file_cfg.email_from);
        raw.set("vapid_private_key", file_cfg.vapid_private_key);
        raw.set("vapid_subject", file_cfg.vapid_subject);
        raw.set("push_allow_hosts", file_cfg.push_allow_hosts);
        for (var, key) in ENV_KEYS {
            if let Some(value) = env(var) {
                raw.values.insert(key, (var.to_owned(), value));
            }
        }
        raw.build()
    }

    /// The SQLite file or the PostgreSQL URL, for `sea-orm`.
    pub fn database_url(&self) -> String {
        match &self.database {
            DatabaseConfig::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            DatabaseConfig::Postgres { url } => url.clone(),
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self.database, DatabaseConfig::Sqlite { .. })
    }
}

/// Values as given, keyed by TOML key, with where each came from (for messages).
#[derive(Default)]
struct Raw {
    values: std::collections::HashMap<&'static str, (String, String)>,
}

impl Raw {
    fn set(&mut self, key: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.values.insert(key, (key.to_owned(), v));
        }
    }

    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.values
            .get(key)
            .map(|(src, v)| (src.as_str(), v.as_str()))
    }

    fn parse<T>(
        &self,
        key: &str,
        default: T,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some((src, v)) => f(v.trim()).map_err(|m| ConfigError::new(src, m)),
        }
    }

    fn build(self) -> Result<Config, ConfigError> {
        let listen = self.parse("listen", SocketAddr::from(([127, 0, 0, 1], 8080)), |v| {
            v.parse()
                .map_err(|_| format!("{v:?} is not an address like 127.0.0.1:8080"))
        })?;
        let data_dir = self.parse("data_dir", PathBuf::from("./data"), |v| {
            if v.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(v))
            }
        })?;
        let database = self.parse(
            "database_url",
            DatabaseConfig::Sqlite {
                path: data_dir.join("fimy.db"),
            },
            parse_database_url,
        )?;
        let database_max_connections =
            self.parse("database_max_connections", 10, |v| match v.parse::<u32>() {
                Ok(n) if (1..=500).contains(&n) => Ok(n),
                _ => Err(format!("{v:?} is not a whole number from 1 to 500")),
            })?;
        let redis_url = self.parse("redis_url", None, |v| {
            let url = Url::parse(v).map_err(|e| format!("not a URL ({e})"))?;
            match url.scheme() {
                "redis" | "rediss" => Ok(Some(Secret(v.to_owned()))),
                s => Err(format!("scheme {s:?} is not redis:// or rediss://")),
            }
        })?;
        let smtp_url = self.parse("smtp_url", None, |v| {
            let url = Url::parse(v).map_err(|e| format!("not a URL ({e})"))?;
            match url.scheme() {
                "smtp" | "smtps" => {
                    if url.host_str().is_none_or(str::is_empty) {
                        Err("has no host".to_owned())
                    } else {
                        Ok(Some(Secret(v.to_owned())))
                    }
                }
                s => Err(format!("scheme {s:?} is not smtp:// or smtps://")),
            }
        })?;
        let log_format = self.parse("log_format", LogFormat::Text, |v| match v {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{v:?} is not \"text\" or \"json\"")),
        })?;
        let default_public = format!(
            "http://{}/",
            if listen.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], listen.port()))
            } else {
                listen
            }
        );
        let public_url = self.parse(
            "public_url",
            Url::parse(&default_public).map_err(|e| ConfigError::new("listen", e.to_string()))?,
            |v| {
                let url = Url::parse(v).map_err(|e| format!("not a URL ({e})"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err("must be an http:// or https:// URL".to_owned());
                }
                Ok(url)
            },
        )?;
        let demo_data = self.parse(
            "demo_data",
            matches!(database, DatabaseConfig::Sqlite { .. }),
            parse_bool,
        )?;
        let session_ttl = self.parse(
            "session_ttl_hours",
            Duration::from_secs(30 * 24 * 3600),
            |v| match v.parse::<u64>() {
                Ok(h) if (1..=24 * 365).contains(&h) => Ok(Duration::from_secs(h * 3600)),
                _ => Err(format!(
                    "{v:?} is not a whole number of hours from 1 to 8760"
                )),
            },
        )?;
        let default_workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers = self.parse("workers", default_workers, |v| match v.parse::<usize>() {
            Ok(n) if (1..=256).contains(&n) => Ok(n),
            _ => Err(format!("{v:?} is not a whole number from 1 to 256")),
        })?;
        let trust_forwarded_for = self.parse("trust_forwarded_for", false, parse_bool)?;
        let secret_key = self.parse("secret_key", None, |v| {
            use base64::Engine;
            let ok = base64::engine::general_purpose::STANDARD
                .decode(v)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v))
                .is_ok_and(|b| b.len() == 32);
            if ok {
                Ok(Some(Secret(v.to_owned())))
            } else {
                Err("must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)".to_owned())
            }
        })?;
        let stripe_key = self.parse("stripe_secret_key", None, |v| {
            if v.starts_with("sk_") || v.starts_with("rk_") {
                Ok(Some(Secret(v.to_owned())))
            } else {
                Err("must be a Stripe secret key (sk_… or rk_…)".to_owned())
            }
        })?;
        let webhook_secrets = self.parse("stripe_webhook_secrets", Vec::new(), |v| {
            let list: Vec<Secret> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Secret(s.to_owned()))
                .collect();
            if list.iter().all(|s| s.0.starts_with("whsec_")) {
                Ok(list)
            } else {
                Err("must be comma-separated webhook secrets (whsec_…)".to_owned())
            }
        })?;
        let api_base = self.parse(
            "stripe_api_base",
            Url::parse("https://api.stripe.com/")
                .map_err(|e| ConfigError::new("stripe_api_base", e.to_string()))?,
            |v| {
                let url = Url::parse(v).map_err(|e| format!("not a URL ({e})"))?;
                if matches!(url.scheme(), "http" | "https") {
                    Ok(url)
                } else {
                    Err("must be an http:// or https:// URL".to_owned())
                }
            },
        )?;
        let stripe = match stripe_key {
            Some(secret_key) => {
                if webhook_secrets.is_empty() {
                    return Err(ConfigError::new(
                        "STRIPE_WEBHOOK_SECRETS",
                        "is required with STRIPE_SECRET_KEY (webhooks are how payments complete)",
                    ));
                }
                Some(StripeSettings {
                    secret_key,
                    webhook_secrets,
                    api_base,
                })
            }
            None => None,
        };
        let actor_idle = self.parse("actor_idle_secs", Duration::from_secs(300), |v| match v
            .parse::<u64>()
        {
            Ok(n) if (1..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "{v:?} is not a whole number of seconds from 1 to 86400"
            )),
        })?;
        let scheduler_interval = self.parse(
            "scheduler_interval_ms",
            Duration::from_secs(5),
            |v| match v.parse::<u64>() {
                Ok(n) if (50..=3_600_000).contains(&n) => Ok(Duration::from_millis(n)),
                _ => Err(format!(
                    "{v:?} is not a whole number of milliseconds from 50 to 3600000"
                )),
            },
        )?;
        let outbox_interval = self.parse(
            "outbox_interval_ms",
            Duration::from_millis(500),
            |v| match v.parse::<u64>() {
                Ok(n) if (50..=3_600_000).contains(&n) => Ok(Duration::from_millis(n)),
                _ => Err(format!(
                    "{v:?} is not a whole number of milliseconds from 50 to 3600000"
                )),
            },
        )?;
        let shutdown_grace = self.parse(
            "shutdown_grace_ms",
            Duration::from_secs(10),
            |v| match v.parse::<u64>() {
                Ok(n) if n <= 600_000 => Ok(Duration::from_millis(n)),
                _ => Err(format!(
                    "{v:?} is not a whole number of milliseconds from 0 to 600000"
                )),
            },
        )?;
        let email_from = self.parse("email_from", None, |v| {
            v.parse::<lettre::message::Mailbox>()
                .map(|_| Some(v.to_owned()))
                .map_err(|e| {
                    format!("{v:?} is not an address like `Fimy <no-reply@example.com>` ({e})")
                })
        })?;
        let vapid_private_key = self.parse("vapid_private_key", None, |v| {
            if crate::notify::push::VapidKey::from_base64(v).is_some() {
                Ok(Some(Secret(v.to_owned())))
            } else {
                Err("must be a P-256 private key: 32 bytes in base64url".to_owned())
            }
        })?;
        let vapid_subject = self.parse("vapid_subject", None, |v| {
            let ok = v.strip_prefix("mailto:").is_some_and(|a| a.contains('@'))
                || Url::parse(v).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
            if ok {
                Ok(Some(v.to_owned()))
            } else {
                Err(format!("{v:?} is not a mailto: address or an https:// URL"))
            }
        })?;
        let push_allow_hosts = self.parse(
            "push_allow_hosts",
            crate::notify::push::PushHosts::default(),
            crate::notify::push::PushHosts::parse,
        )?;
        Ok(Config {
            listen,
            data_dir,
            database,
            database_max_connections,
            redis_url,
            smtp_url,
            log_format,
            public_url,
            demo_data,
            session_ttl,
            workers,
            trust_forwarded_for,
            secret_key,
            stripe,
            actor_idle,
            scheduler_interval,
            outbox_interval,
            shutdown_grace,
            email_from,
            vapid_private_key,
            vapid_subject,
            push_allow_hosts,
        })
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{v:?} is not true or false")),
    }
}

fn parse_database_url(v: &str) -> Result<DatabaseConfig, String> {
    if let Some(rest) = v
        .strip_prefix("sqlite://")
        .or_else(|| v.strip_prefix("sqlite:"))
    {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err("a SQLite URL must name a file (sqlite://path/to/fimy.db)".to_owned());
        }
        return Ok(DatabaseConfig::Sqlite {
            path: PathBuf::from(path),
        });
    }
    let url = Url::parse(v).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "postgres" | "postgresql" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("has no host".to_owned());
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err("names no database (postgres://user@host/DATABASE)".to_owned());
            }
            Ok(DatabaseConfig::Postgres { url: v.to_owned() })
        }
        s => Err(format!(
            "scheme {s:?} is not supported: use postgres:// or sqlite://"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_from(None, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_need_nothing() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(
            c.database,
            DatabaseConfig::Sqlite {
                path: PathBuf::from("./data/fimy.db")
            }
        );
        assert!(c.redis_url.is_none() && c.smtp_url.is_none());
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.demo_data);
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn environment_overrides_and_postgres_disables_demo_data() {
        let c = load(&[
            ("FIMY_LISTEN", "0.0.0.0:9000"),
            ("DATABASE_URL", "postgres://u:pw@localhost/fimy"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("FIMY_LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(!c.demo_data);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:9000/");
        assert!(
            !format!("{c:?}").contains("pw"),
            "passwords must not be printed"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (var, value) in [
            ("FIMY_LISTEN", "nope"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("DATABASE_URL", "postgres://localhost"),
            ("REDIS_URL", "http://x"),
            ("SMTP_URL", "smtp://"),
            ("FIMY_LOG_FORMAT", "xml"),
            ("FIMY_DEMO_DATA", "maybe"),
            ("FIMY_SESSION_TTL_HOURS", "0"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.key, var, "{var}={value}: {err}");
        }
    }

    #[test]
    fn the_file_is_read_and_unknown_keys_are_refused() {
        let dir = tempfile_dir();
        let path = dir.join("fimy.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let c = Config::load_from(Some(&path), |_| None).unwrap();
        assert_eq!(c.listen.port(), 9999);
        let c = Config::load_from(Some(&path), |k| {
            (k == "FIMY_LISTEN").then(|| "127.0.0.1:7000".to_owned())
        })
        .unwrap();
        assert_eq!(c.listen.port(), 7000, "environment overrides the file");
        std::fs::write(&path, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        let err = Config::load_from(Some(&path), |_| None).unwrap_err();
        assert!(err.message.contains("lisen"), "{err}");
        std::fs::write(&path, "listen = \"nowhere\"\n").unwrap();
        let err = Config::load_from(Some(&path), |_| None).unwrap_err();
        assert_eq!(err.key, "listen");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fimy-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
