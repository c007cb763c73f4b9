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
}

/// Runs a parsed command line with a checked configuration.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = crate::db::connect(&config).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied ({:?})", config.database);
            Ok(())
        }
        Command::Seed => {
            let db = crate::db::connect(&config).await?;
            crate::db::migrate(&db).await?;
            std::fs::create_dir_all(&config.data_dir)?;
            let accounts =
                crate::seed::ensure_demo(&db, &config.data_dir, chrono::Utc::now()).await?;
            println!("demo data present in {:?}", config.database);
            print_accounts(&accounts);
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

fn print_accounts(accounts: &[crate::seed::DemoAccount]) {
    if accounts.is_empty() {
        return;
    }
    println!("  Demo accounts (email / password):");
    for a in accounts {
        println!("    {:<15} {:<28} {}", a.role, a.email, a.password);
    }
}
