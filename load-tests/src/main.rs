//! # load-tests — a load generator for a local Fimy server
//!
//! Two scenarios, each run by `concurrency` workers until `--duration-secs` have passed
//! or `--max-requests` requests were sent, whichever comes first:
//!
//! - `catalogue`: `GET /api/v1/experiences` with a rotating mix of searches — text
//!   (`spa`, `creme brulee`, `escalade`, `hotel`), category filters, `sort=price_asc`,
//!   and 5 km around Montréal (45.5019, -73.5674) and Paris (48.8566, 2.3522) — and,
//!   every third search, one follow-up request for the page's `next_cursor`.
//! - `login`: each worker first registers a fresh customer account
//!   (`POST /api/v1/auth/register`; reported separately as "setup"), then repeatedly
//!   reads `GET /api/v1/me` with `Authorization: Bearer <token>`. `/auth/login` itself
//!   is rate limited per client address (20 a minute), so it is not hammered: what is
//!   measured is authenticated reads.
//!
//! ## Running
//!
//! ```sh
//! cargo run --release &   # server on 127.0.0.1:8080 with demo data
//! cargo run --release -p load-tests -- catalogue --concurrency 32 --duration-secs 10 \
//!     --server-pid $(pgrep -f target/release/fimy)
//! cargo run --release -p load-tests -- login --concurrency 16 --duration-secs 10 --json
//! ```
//!
//! Common flags: `--base-url` (default `http://127.0.0.1:8080`; only loopback hosts
//! unless `--allow-remote`), `--concurrency` (32), `--duration-secs` (10),
//! `--max-requests` (100000), `--request-timeout-secs` (10), `--server-pid` (sample the
//! server's `VmRSS`/`VmHWM` from `/proc/<pid>/status` every 250 ms and report start,
//! peak and end RSS), `--json` (the report as one JSON object instead of text).
//!
//! The report gives total requests, errors by kind (`http_<status>`,
//! `transport_timeout`/`_connect`/`_body`/`_other`, `bad_body`), throughput, and the
//! p50/p90/p99/max latency of successful requests in milliseconds (every latency is
//! kept and sorted; percentiles by nearest rank). The exit status is 1 when no measured
//! request succeeded.
//!
//! Every run ends by itself: workers stop claiming requests at the deadline or the
//! request cap, in-flight requests time out after `--request-timeout-secs`, and workers
//! still busy a few seconds after that are cancelled. The client shares the machine
//! with the server, so on a small machine the figures are a lower bound.

mod memory;
mod run;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(version, about = "Load generator for a local Fimy server")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Concurrent catalogue searches (GET /api/v1/experiences).
    Catalogue(Common),
    /// Register one account per worker, then authenticated reads (GET /api/v1/me).
    Login(Common),
}

#[derive(Debug, Args)]
struct Common {
    /// Server to load; must be loopback unless --allow-remote.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Allow a --base-url host that is not loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Concurrent workers.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Length of the measured phase, seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration_secs: u64,
    /// Stop after this many requests even if time remains.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_requests: u64,
    /// Give up on a single request after this many seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    request_timeout_secs: u64,
    /// Sample this process's memory (/proc/<pid>/status) during the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn config(&self) -> anyhow::Result<run::RunConfig> {
        Ok(run::RunConfig {
            base_url: run::parse_base_url(&self.base_url, self.allow_remote)?,
            concurrency: usize::from(self.concurrency),
            duration: Duration::from_secs(self.duration_secs),
            max_requests: self.max_requests,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            server_pid: self.server_pid,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let (common, report) = match &cli.scenario {
        Scenario::Catalogue(c) => (c, run::catalogue(&c.config()?).await?),
        Scenario::Login(c) => (c, run::login(&c.config()?).await?),
    };
    if common.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    Ok(if report.main.ok == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_flags_parse() -> anyhow::Result<()> {
        let cli = Cli::try_parse_from(["load-tests", "catalogue"])?;
        let Scenario::Catalogue(c) = cli.scenario else {
            anyhow::bail!("wrong subcommand");
        };
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(
            (c.concurrency, c.duration_secs, c.max_requests),
            (32, 10, 100_000)
        );
        assert_eq!(c.server_pid, None);

        let cli = Cli::try_parse_from([
            "load-tests",
            "login",
            "--concurrency",
            "8",
            "--duration-secs",
            "3",
            "--max-requests",
            "500",
            "--server-pid",
            "1234",
            "--json",
        ])?;
        let Scenario::Login(c) = cli.scenario else {
            anyhow::bail!("wrong subcommand");
        };
        assert_eq!(
            (c.concurrency, c.duration_secs, c.max_requests),
            (8, 3, 500)
        );
        assert_eq!(c.server_pid, Some(1234));
        assert!(c.json);

        assert!(Cli::try_parse_from(["load-tests", "catalogue", "--concurrency", "0"]).is_err());
        assert!(
            Cli::try_parse_from([
                "load-tests",
                "catalogue",
                "--base-url",
                "http://example.com"
            ])
            .is_ok_and(|c| match c.scenario {
                Scenario::Catalogue(c) => c.config().is_err(),
                Scenario::Login(_) => false,
            })
        );
        Ok(())
    }
}
