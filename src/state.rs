//! What every handler can reach: the database, the configuration, the clock and the
//! process-wide services.

use crate::auth::limiter::{LoginLimiter, LoginThrottle};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use sea_orm::DatabaseConnection;

pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Config,
    pub clock: SharedClock,
    pub login_limiter: LoginThrottle,
    /// Recently read sessions (dropped at once when their user's access changes).
    pub sessions: crate::auth::cache::SessionCache,
    /// Venues' terms and the cards tills' codes stand for (see `cache`).
    pub caches: crate::store::cache::Caches,
    pub metrics: Metrics,
    /// Present when `REDIS_URL` is set; used by readiness checks (and the event bus).
    pub redis: Option<redis::Client>,
    /// Where committed events are published for live subscribers.
    pub bus: std::sync::Arc<dyn crate::live::bus::EventBus>,
    /// Hands each event to this node's clients that follow its topic.
    pub hub: crate::live::hub::Hub,
    /// The card actors of this node.
    pub registry: actors::runtime::Registry<actors::giftcard::GiftCards>,
    /// The slot actors of this node.
    pub slots: actors::runtime::Registry<actors::booking::Slots>,
    /// The partner calendar actors of this node.
    pub calendars: actors::runtime::Registry<actors::booking::Calendars>,
    /// Web Push: the VAPID key and the client that sends to push services.
    pub push: std::sync::Arc<crate::notify::push::PushService>,
    /// The channels the outbox delivers on (email, Web Push, refunds).
    pub channels: crate::notify::delivery::Channels,
    /// The installation's master key: card-code hashing and encryption.
    pub secrets: crate::secrets::SecretKey,
    /// The configured payment provider (sandbox by default).
    pub payments: std::sync::Arc<dyn crate::payments::PaymentProvider>,
    /// The sandbox, when it is the provider (for its 3-D Secure step).
    pub sandbox: Option<std::sync::Arc<crate::payments::SandboxProvider>>,
    /// Anonymous code lookups, per client address (a separate budget from logins).
    pub code_limiter: LoginLimiter,
    /// Code lookups by partner staff, per staff account.
    pub staff_code_limiter: LoginLimiter,
}

pub type State = actix_web::web::Data<AppState>;

impl AppState {
    /// Announces that `user`'s access changed (a session ended, a staff membership or a
    /// device was removed), after the change is committed: this node's session cache
    /// forgets them before the call returns, other nodes on the bus message
    /// ([`crate::live::bus::access_topic`]).
    pub async fn access_changed(&self, user: uuid::Uuid) {
        self.sessions.forget_user(user);
        self.bus
            .publish(vec![crate::live::bus::LiveEvent {
                topic: crate::live::bus::access_topic(user),
                seq: 0,
                kind: "access_changed".to_owned(),
                data: serde_json::json!({}),
                at: self.clock.now(),
                donor_seq: None,
            }])
            .await;
    }
}
