//! Structured logs with `tracing`, as text for people or JSON for machines.
//!
//! No personal data or secret is logged, at any level: spans and events carry ids,
//! amounts, statuses and counts — never names, email addresses, messages, card codes,
//! tokens, addresses or push endpoints. Every `#[tracing::instrument]` skips the
//! arguments that could carry them (`skip(..)`, or `skip_all` with the ids as fields).
//! The API test `logs_of_a_whole_story_carry_no_personal_data` reads a whole gift's log
//! at this default filter and at `debug` for the Fimy crates.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when `RUST_LOG` is not set: `info`, with sqlx statement logs off.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm_migration=warn";

/// Installs the global subscriber. `RUST_LOG` overrides the default filter
/// ([`DEFAULT_FILTER`]). Safe to call more than once (tests).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = init_with(format, filter, std::io::stdout);
}

/// Replaces the filter of the subscriber [`init_with`] installed.
pub type SetFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// Installs the global subscriber with this filter, writing to `writer`: what [`init`]
/// does, for a test that reads the log. Returns how to change the filter later (a process
/// has one global subscriber). Fails when a subscriber is installed already.
pub fn init_with<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Result<SetFilter, Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init()?;
            Ok(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
        LogFormat::Json => {
            let builder = builder.json().flatten_event(true).with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init()?;
            Ok(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
    }
}
