//! What every handler can reach: the database, the configuration, the clock and the
//! process-wide services.

use crate::auth::LoginLimiter;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use sea_orm::DatabaseConnection;

pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Config,
    pub clock: SharedClock,
    pub login_limiter: LoginLimiter,
    pub metrics: Metrics,
    /// Present when `REDIS_URL` is set; used by readiness checks (and the event bus).
    pub redis: Option<redis::Client>,
}

pub type State = actix_web::web::Data<AppState>;
