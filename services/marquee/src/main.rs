//! `marquee`: run the pipeline. See `marquee --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use marquee::{DEFAULT_CONFIG, Service, Settings};
use marquee_bus::Transport;

/// Marquee turns a film publication's reviews and London's repertory
/// listings into feeds, a weekly email and social posts.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file layered over the built-in defaults (then MARQUEE_* variables,
    /// e.g. MARQUEE_BUS__TRANSPORT=kafka, override both).
    #[arg(long, global = true, env = "MARQUEE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in this process on the embedded event log, with the
    /// bundled sample sources: the one-command demo.
    Up {
        /// Where state lives (SQLite files and the event log).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Run one service alone against Kafka, as a container does.
    Run {
        /// The service to run.
        service: Service,
    },
    /// Operate a running Marquee through its admin API: schedules, digests,
    /// subscribers, sources, replay, dead letters.
    Admin(marquee::admin::AdminArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("marquee: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // A client of the API: the process's own settings do not apply.
        Command::Admin(args) => marquee::admin::run(args).await,
        Command::Up { data_dir } => {
            let mut settings = settings(cli.config)?;
            if let Some(data_dir) = data_dir {
                settings.data_dir = data_dir;
            }
            let data_dir = settings.data_dir.clone();
            let late_review = marquee::demo::LateReview::new(&settings);
            let shutdown = marquee_runtime::shutdown::on_signal();
            let started = marquee::start(settings, &Service::ALL, true, shutdown.clone()).await?;
            if let Some(late_review) = late_review {
                let address = started.address;
                tokio::spawn(async move {
                    if let Err(error) = late_review.send(address, shutdown).await {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "Demo: the new review was not sent"
                        );
                    }
                });
            }
            println!(
                "Marquee is up.\n  feeds:   http://{0}/\n  console: http://{0}/console/ (token marquee-local-admin)\n  health:  http://{0}/healthz  metrics: http://{0}/metrics\n  state:   {1}\nPress Ctrl-C to stop.",
                started.address,
                data_dir.display()
            );
            started.wait().await
        }
        Command::Run { service } => {
            let settings = settings(cli.config)?;
            anyhow::ensure!(
                settings.bus.transport == Transport::Kafka,
                "`marquee run` runs one service of a distributed deployment and needs \
                 bus.transport = \"kafka\" (e.g. --config config/distributed.toml or \
                 MARQUEE_BUS__TRANSPORT=kafka); `marquee up` runs everything in one process"
            );
            let shutdown = marquee_runtime::shutdown::on_signal();
            marquee::start(settings, &[service], false, shutdown)
                .await?
                .wait()
                .await
        }
    }
}

/// The layered settings, with logging started from them.
fn settings(config: Option<PathBuf>) -> anyhow::Result<Settings> {
    let settings: Settings = marquee_runtime::config::load(DEFAULT_CONFIG, config.as_deref())?;
    marquee_runtime::telemetry::init(&settings.telemetry);
    Ok(settings)
}
