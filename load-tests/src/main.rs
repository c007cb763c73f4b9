//! # load-tests — load generators for a local Fimy server
//!
//! Each scenario is run by `--concurrency` workers until `--duration-secs` have passed
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
//! - `hot-card`: the demo venue's owner creates `--tablets` tablet devices; a fresh
//!   customer buys a value card of `--card-value` in the venue's currency (sandbox test
//!   card), its code is read from the delivery email in the server's outbox, and every
//!   worker redeems `--amount` on that ONE card (`POST /api/v1/partners/{id}/redemptions`).
//!   Afterwards the card's balance (`GET /api/v1/cards/{id}`) must equal its value minus
//!   the redemptions answered 201 (requests left without an answer may account for the
//!   difference, no more) and never be below zero. `--baseline` then runs the naive design
//!   with the same concurrency, duration and amounts on PostgreSQL (`--database-url` or
//!   `DATABASE_URL`): per redemption one transaction — `SELECT … FOR UPDATE` on a card
//!   row, `UPDATE` its balance, two ledger lines, one event, `COMMIT` — on tables in a
//!   schema of its own (dropped afterwards), and prints the ratio of successful
//!   redemptions per second.
//! - `booking-storm`: the demo venue's cheapest experience is opened around the clock in
//!   `--slot-minutes` slots of `--capacity` places; `--holders` customers each get a
//!   claimed value card, and the workers book one place at a time on `--slots` slots from
//!   tomorrow on, picked at random: a hold (`POST /api/v1/bookings`) then its
//!   confirmation. A success is both; its latency is both together. Afterwards, on every
//!   slot, held + booked ≤ capacity and free + held + booked = capacity (as
//!   `GET /api/v1/experiences/{id}/slots` reports them), and no slot got more confirmed
//!   bookings from this run than it has places.
//! - `fanout`: `--subscribers` websockets (`/ws`) subscribe to one card's topic while
//!   `--concurrency` tablets redeem on it at each rate of `--rates` (paced, one step of
//!   `--duration-secs` each). Latency is the arrival time minus the event's `at` (the
//!   server's commit time; same machine, same clock). Afterwards every subscriber must
//!   have seen the same number of events, at least one per redemption, numbered without
//!   a gap.
//! - `connections`: `--connections` idle, authenticated websockets, `--per-address` per
//!   local source address (127.0.0.2, 127.0.0.3, …: each has its own ~28k ephemeral
//!   ports), `--open-concurrency` handshakes at a time, held `--hold-secs`. Prints the
//!   server's RSS before, with all open, after the hold and after closing, and
//!   (after the hold − before) / opened as the memory per connection. Needs
//!   `--server-pid`; raise `ulimit -n` of both processes for large counts.
//!
//! The scenarios from `hot-card` on need the server's data directory (`--data-dir`,
//! default `./data` or `FIMY_DATA_DIR`), started with demo data, and SMTP unset (card
//! codes are read from the `.eml` files in its `outbox/`). `--svg PATH` writes a chart
//! (latency and throughput over time; for `fanout` with several rates, latency against
//! the rate; for `connections`, RSS against connections open). `--smoke` shrinks every
//! size to run in seconds (`.ci/load-smoke` runs them all).
//!
//! ## Running
//!
//! ```sh
//! cargo run --release &   # server on 127.0.0.1:8080 with demo data
//! cargo run --release -p load-tests -- catalogue --concurrency 32 --duration-secs 10 \
//!     --server-pid $(pgrep -f target/release/fimy)
//! cargo run --release -p load-tests -- login --concurrency 16 --duration-secs 10 --json
//! cargo run --release -p load-tests -- hot-card --baseline \
//!     --database-url postgres://postgres@127.0.0.1:5432/fimy_load --svg hot-card.svg
//! ```
//!
//! Common flags: `--base-url` (default `http://127.0.0.1:8080`; only loopback hosts
//! unless `--allow-remote`), `--concurrency` (32), `--duration-secs` (10),
//! `--max-requests` (100000), `--request-timeout-secs` (10), `--server-pid` (sample the
//! server's `VmRSS`/`VmHWM` from `/proc/<pid>/status` every 250 ms and report start,
//! peak and end RSS), `--json` (the report as one JSON object instead of text).
//!
//! The report gives total requests, errors by kind (`http_<status>` followed by the
//! problem's `code` when there is one, `transport_timeout`/`_connect`/`_body`/`_other`,
//! `bad_body`), throughput, and the p50/p90/p99/max latency of successful requests in
//! milliseconds, from HDR histograms (3 significant digits). A progress line is drawn on
//! stderr. The exit status is 1 when no measured request succeeded or a check failed.
//!
//! Every run ends by itself: workers stop claiming requests at the deadline or the
//! request cap, in-flight requests time out after `--request-timeout-secs`, and workers
//! still busy a few seconds after that are cancelled. The client shares the machine
//! with the server, so on a small machine the figures are a lower bound.

mod api;
mod baseline;
mod booking_storm;
mod connections;
mod fanout;
mod hot_card;
mod memory;
mod phase;
mod progress;
mod run;
mod stats;
mod svg;
mod ws;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// N tablets redeem small amounts on ONE value card; checks nothing was overspent.
    HotCard(HotCardArgs),
    /// Many holders book (hold, then confirm) across many small slots; checks nothing is
    /// overbooked.
    BookingStorm(BookingStormArgs),
    /// K websocket subscribers on one card while tablets redeem on it: commit → arrival.
    Fanout(FanoutArgs),
    /// C idle websockets from several 127.x addresses: the server's memory per connection.
    Connections(ConnectionsArgs),
}

/// What the newer scenarios share beyond [`Common`].
#[derive(Debug, Args)]
struct Scenario2 {
    #[command(flatten)]
    common: Common,
    /// The server's data directory: its demo-accounts.txt (start the server with demo
    /// data) and outbox/ (card codes arrive there by email).
    #[arg(long, env = "FIMY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Write a chart of the run here (SVG).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// A run of a few seconds with small numbers (overrides the sizes given).
    #[arg(long)]
    smoke: bool,
}

impl Scenario2 {
    fn phase(&self, label: &str) -> anyhow::Result<phase::PhaseConfig> {
        let c = self.common.config()?;
        Ok(phase::PhaseConfig {
            label: label.to_owned(),
            workers: if self.smoke {
                c.concurrency.min(4)
            } else {
                c.concurrency
            },
            duration: if self.smoke {
                Duration::from_secs(2)
            } else {
                c.duration
            },
            max_requests: c.max_requests,
            request_timeout: c.request_timeout,
            server_pid: c.server_pid,
        })
    }

    fn api(&self) -> anyhow::Result<api::Api> {
        let c = self.common.config()?;
        api::Api::new(c.base_url, c.request_timeout, c.concurrency)
    }

    fn data(&self) -> api::DataDir {
        api::DataDir(self.data_dir.clone())
    }
}

#[derive(Debug, Args)]
struct HotCardArgs {
    #[command(flatten)]
    s: Scenario2,
    /// Tablet devices to create for the venue (the workers share them round-robin);
    /// default one per worker. Each device may look up 1,200 codes a minute.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    tablets: Option<u16>,
    /// Minor units per redemption.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=500_000))]
    amount: i64,
    /// The card's value, minor units (the sandbox sells 500 to 500,000).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(i64).range(500..=500_000))]
    card_value: i64,
    /// Also run the naive design (row lock per redemption) on PostgreSQL.
    #[arg(long)]
    baseline: bool,
    /// The PostgreSQL database for --baseline (tables in a schema of its own).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
struct BookingStormArgs {
    #[command(flatten)]
    s: Scenario2,
    /// Slots booked across (of the demo venue's cheapest experience, opened around the
    /// clock from tomorrow on).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    slots: u32,
    /// Places per slot.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=500))]
    capacity: u32,
    /// Slot length, minutes.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(5..=1440))]
    slot_minutes: u32,
    /// Customers holding a card each (default: one per worker).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    holders: Option<u16>,
}

#[derive(Debug, Args)]
struct FanoutArgs {
    /// `--concurrency` is the number of tablets producing events; `--duration-secs` the
    /// length of each rate step.
    #[command(flatten)]
    s: Scenario2,
    /// Websocket subscribers on the card's topic.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    subscribers: u32,
    /// Redemptions (events) per second to offer, one step each: `50,100,200`.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    rates: Vec<f64>,
}

#[derive(Debug, Args)]
struct ConnectionsArgs {
    #[command(flatten)]
    s: Scenario2,
    /// Idle websockets to open.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    connections: u32,
    /// Connections per local address (127.0.0.2, then 127.0.0.3, …); each address has
    /// about 28k ephemeral ports.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    per_address: u32,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    open_concurrency: u32,
    /// Seconds the connections stay open once all are opened (the server pings every 10 s).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(0..=3600))]
    hold_secs: u64,
}

async fn booking_storm(a: &BookingStormArgs) -> anyhow::Result<phase::Report> {
    let phase = a.s.phase("booking-storm")?;
    let holders = a.holders.map_or(phase.workers, usize::from);
    let cfg = booking_storm::Config {
        api: a.s.api()?,
        data: a.s.data(),
        slots: if a.s.smoke { 20 } else { a.slots as usize },
        capacity: if a.s.smoke { 2 } else { a.capacity },
        slot_minutes: a.slot_minutes,
        holders: if a.s.smoke { holders.min(2) } else { holders },
        svg: a.s.svg.clone(),
        run: run_id(),
        phase,
    };
    booking_storm::run(&cfg).await
}

async fn fanout(a: &FanoutArgs) -> anyhow::Result<phase::Report> {
    let mut phase = a.s.phase("fanout")?;
    if a.rates.is_empty() || a.rates.iter().any(|r| !(0.1..=100_000.0).contains(r)) {
        anyhow::bail!("--rates: each between 0.1 and 100000 per second");
    }
    if a.s.smoke {
        phase.workers = phase.workers.min(2);
    }
    let cfg = fanout::Config {
        api: a.s.api()?,
        data: a.s.data(),
        subscribers: if a.s.smoke { 3 } else { a.subscribers as usize },
        rates: if a.s.smoke {
            vec![20.0]
        } else {
            a.rates.clone()
        },
        svg: a.s.svg.clone(),
        run: run_id(),
        phase,
    };
    fanout::run(&cfg).await
}

async fn connections(a: &ConnectionsArgs) -> anyhow::Result<phase::Report> {
    let c = a.s.common.config()?;
    let pid = c.server_pid.ok_or_else(|| {
        anyhow::anyhow!("connections needs --server-pid to read the server's memory")
    })?;
    let cfg = connections::Config {
        api: a.s.api()?,
        connections: if a.s.smoke {
            200
        } else {
            a.connections as usize
        },
        per_address: if a.s.smoke {
            50
        } else {
            a.per_address as usize
        },
        open_concurrency: a.open_concurrency as usize,
        hold: Duration::from_secs(if a.s.smoke { 1 } else { a.hold_secs }),
        server_pid: pid,
        svg: a.s.svg.clone(),
        run: run_id(),
    };
    connections::run(&cfg).await
}

/// Distinguishes this run's accounts, devices and tables from earlier runs'.
fn run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis}-{}", std::process::id())
}

async fn hot_card(a: &HotCardArgs) -> anyhow::Result<phase::Report> {
    let phase = a.s.phase("hot-card")?;
    let baseline = if a.baseline {
        Some(a.database_url.clone().ok_or_else(|| {
            anyhow::anyhow!("--baseline needs --database-url or DATABASE_URL (postgres://…)")
        })?)
    } else {
        None
    };
    let tablets = a.tablets.map_or(phase.workers, usize::from);
    let cfg = hot_card::Config {
        api: a.s.api()?,
        data: a.s.data(),
        tablets: if a.s.smoke { tablets.min(2) } else { tablets },
        amount: a.amount,
        card_value: if a.s.smoke {
            a.card_value.min(5_000)
        } else {
            a.card_value
        },
        baseline,
        svg: a.s.svg.clone(),
        run: run_id(),
        phase,
    };
    hot_card::run(&cfg).await
}

fn finish(report: &phase::Report, json: bool) -> ExitCode {
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
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
        Scenario::HotCard(a) => return Ok(finish(&hot_card(a).await?, a.s.common.json)),
        Scenario::BookingStorm(a) => {
            return Ok(finish(&booking_storm(a).await?, a.s.common.json));
        }
        Scenario::Fanout(a) => return Ok(finish(&fanout(a).await?, a.s.common.json)),
        Scenario::Connections(a) => {
            return Ok(finish(&connections(a).await?, a.s.common.json));
        }
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
                _ => false,
            })
        );
        Ok(())
    }
}
