//! The `fimy` command line.

use crate::config::Config;
use crate::startup::Application;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "fimy",
    version,
    about = "Fimy, the experience gift-card platform"
)]
pub struct Cli {
    /// A TOML configuration file; environment variables override its values.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo data (once; later runs say it is there) and print the demo accounts.
    Seed,
    /// Audit the stored data.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every hash chain (cards, slots, partner calendars) and every card balance
    /// from the ledger; exit non-zero, naming the entity and event, on any disagreement.
    Verify,
}

/// Runs a parsed command line with a checked configuration.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = crate::store::db::connect(&config).await?;
            crate::store::db::migrate(&db).await?;
            println!("migrations applied ({:?})", config.database);
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = crate::store::db::connect(&config).await?;
            let report = crate::app::audit::verify(&db).await?;
            for f in &report.findings {
                println!("FAIL {f}");
            }
            println!(
                "checked {} cards, {} slots, {} calendars, {} events, {} ledger lines: {}",
                report.cards,
                report.slots,
                report.calendars,
                report.events,
                report.ledger_entries,
                if report.findings.is_empty() {
                    "all consistent".to_owned()
                } else {
                    format!("{} problems", report.findings.len())
                }
            );
            if report.findings.is_empty() {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "the audit found {} problems",
                    report.findings.len()
                ))
            }
        }
        Command::Seed => {
            // The same start-up as `serve` (migrations, actors, demo data), without serving.
            let mut config = config;
            config.demo_data = true;
            config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let database = format!("{:?}", config.database);
            let app = Application::build(config).await?;
            println!("demo data present in {database}");
            print_accounts(&app.demo_accounts);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let public = config.public_url.clone();
    let app = Application::build(config).await?;
    println!();
    println!("  Fimy is running.");
    println!("  Web app:     {public}");
    println!("  API docs:    {public}api/docs");
    println!("  OpenAPI:     {public}api/v1/openapi.json");
    println!("  Health:      {public}health/ready");
    print_accounts(&app.demo_accounts);
    println!();
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_accounts(accounts: &[crate::app::seed::DemoAccount]) {
    if accounts.is_empty() {
        return;
    }
    println!("  Demo accounts (email / password):");
    for a in accounts.iter().filter(|a| !a.role.starts_with("card")) {
        println!("    {:<15} {:<28} {}", a.role, a.email, a.password);
    }
    for a in accounts.iter().filter(|a| a.role.starts_with("card")) {
        println!(
            "  Demo gift card to open ({}): {}",
            a.role.trim_start_matches("card: "),
            a.password
        );
    }
}
