//! The `marquee` process: builds the services a command asks for, wires them
//! to the bus and one HTTP listener, and runs them until shutdown.
//!
//! `marquee up` runs every service here on the embedded log; `marquee run
//! SERVICE` runs one on Kafka, as a container does. Both go through
//! [`start`], so tests exercise exactly what operators run.

pub mod admin;
mod audit;
pub mod demo;
mod operations;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use marquee_bus::{Bus, BusSettings, Handler, Subscription};
use marquee_digest::DigestService;
use marquee_events::topics;
use marquee_feeds::FeedsService;
use marquee_listings_ingest::ListingsIngest;
use marquee_reviews_ingest::ReviewsIngest;
use marquee_runtime::admin::{AdminSettings, require_bearer, require_role};
use marquee_runtime::http::{HttpSettings, Readiness, Server, operations_router};
use marquee_runtime::telemetry::TelemetrySettings;
use marquee_social::SocialService;
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The built-in defaults: the one-command demo on bundled samples.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/default.toml");

/// How long in-flight work may take to drain after a shutdown signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// The whole configuration of a `marquee` process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Folder that relative SQLite paths and the embedded log live in.
    pub data_dir: PathBuf,
    /// Sample sources `marquee up` serves: folder by name, at `/samples/{name}/`.
    pub samples: BTreeMap<String, PathBuf>,
    /// The process's HTTP listener.
    pub http: HttpSettings,
    /// Who may use the operator endpoints.
    pub admin: AdminSettings,
    /// Logging.
    pub telemetry: TelemetrySettings,
    /// The event bus.
    pub bus: BusSettings,
    /// The feeds service.
    pub feeds: marquee_feeds::Settings,
    /// The reviews-ingest service.
    pub reviews_ingest: marquee_reviews_ingest::Settings,
    /// The social service.
    pub social: marquee_social::Settings,
    /// The listings-ingest service.
    pub listings_ingest: marquee_listings_ingest::Settings,
    /// The weekly digest service.
    pub digest: marquee_digest::Settings,
    /// The operators' web console.
    #[serde(default)]
    pub console: marquee_console::Settings,
}

impl Settings {
    /// Anchors relative SQLite paths and the embedded log in `data_dir`.
    fn resolve_paths(&mut self) {
        let data_dir = self.data_dir.clone();
        let anchor = |url: &mut String| {
            if let Some(path) = url.strip_prefix("sqlite://")
                && Path::new(path).is_relative()
            {
                *url = format!("sqlite://{}", data_dir.join(path).display());
            }
        };
        anchor(&mut self.feeds.database_url);
        anchor(&mut self.reviews_ingest.database_url);
        anchor(&mut self.social.database_url);
        anchor(&mut self.listings_ingest.database_url);
        anchor(&mut self.digest.database_url);
        if self.bus.embedded.path.is_relative() {
            self.bus.embedded.path = data_dir.join(&self.bus.embedded.path);
        }
    }
}

/// A service a process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// RSS, Atom, JSON Feed and iCalendar over HTTP, from review and screening events.
    Feeds,
    /// Reviews from CMS feeds, article pages and the CMS webhook, to review events.
    ReviewsIngest,
    /// One post per new review per social account (Mastodon, Bluesky, X, webhooks).
    Social,
    /// The weekly "what to watch" email: subscribers, cron schedules, SMTP.
    Digest,
    /// Screenings from venue calendars, JSON-LD pages, CSV and JSON, to screening events.
    ListingsIngest,
    /// The operators' web console at /console/, over the admin API.
    Console,
}

impl Service {
    /// Every service, in start order: consumers before producers.
    pub const ALL: [Service; 6] = [
        Service::Feeds,
        Service::Social,
        Service::Digest,
        Service::ReviewsIngest,
        Service::ListingsIngest,
        Service::Console,
    ];
}

/// Every consumer group of a deployment: one definition for starting the
/// consumers and for reporting their lag, whichever process runs them.
struct Subscriptions {
    feeds_reviews: Subscription,
    feeds_screenings: Subscription,
    social: Subscription,
    digest: Subscription,
    listings_ingest: Subscription,
}

impl Subscriptions {
    fn new(settings: &Settings) -> Self {
        let feeds = &settings.feeds.consumer_group;
        Self {
            feeds_reviews: Subscription::new(feeds, &[topics::REVIEWS]),
            feeds_screenings: Subscription::new(
                format!("{feeds}-screenings"),
                &[topics::SCREENINGS],
            ),
            social: Subscription::new(&settings.social.consumer_group, &[topics::REVIEWS]),
            digest: Subscription::new(
                &settings.digest.consumer_group,
                &[topics::REVIEWS, topics::SCREENINGS],
            ),
            // Reviews, to link screenings to the publication's review of the film.
            listings_ingest: Subscription::new(
                &settings.listings_ingest.consumer_group,
                &[topics::REVIEWS],
            ),
        }
    }

    fn all(&self) -> Vec<Subscription> {
        vec![
            self.feeds_reviews.clone(),
            self.feeds_screenings.clone(),
            self.social.clone(),
            self.digest.clone(),
            self.listings_ingest.clone(),
        ]
    }
}

/// The admin API's OpenAPI document: every service's operator endpoints,
/// whichever of them this process runs, since clients see one API. Each
/// part is derived from the routes' own declarations and the admin
/// contract's types (`marquee_admin`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let mut document = operations::openapi();
    document.merge(marquee_feeds::openapi());
    document.merge(marquee_listings_ingest::openapi());
    document.merge(marquee_reviews_ingest::openapi());
    document.merge(marquee_digest::openapi());
    document.merge(marquee_social::openapi());
    document.merge(audit::openapi());
    // The ingest services' jobs, served by `marquee_runtime::jobs` under
    // their prefix (the feeds document its own with the replay).
    for prefix in ["/admin/reviews-ingest", "/admin/listings-ingest"] {
        document.merge(marquee_admin::jobs::openapi(prefix));
    }
    document.merge(OpenApiDocument::openapi());
    document.info = utoipa::openapi::Info::new("Marquee admin API", env!("CARGO_PKG_VERSION"));
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    document
}

/// `GET /admin/openapi.json`: this document, built on the first request
/// rather than on every one.
#[utoipa::path(get, path = "/admin/openapi.json", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "the OpenAPI 3.1 document of the admin API")))]
async fn openapi_document() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(openapi);
    axum::Json(&*DOCUMENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_document))]
struct OpenApiDocument;

/// A process built but not yet serving: its routes can be looked at
/// ([`Built::router`]) before [`Built::serve`] starts it.
pub struct Built {
    server: Server,
    router: Router,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Built {
    /// Every route the process will serve, the admin API's included.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Serves the routes and starts the services' work.
    pub fn serve(self) -> Started {
        let Self {
            server,
            router,
            mut tasks,
            shutdown,
        } = self;
        let address = server.address();
        tasks.spawn(server.serve(router, shutdown.clone()));
        Started {
            address,
            tasks,
            shutdown,
        }
    }
}

/// A started process: its HTTP address, and its tasks to wait for.
pub struct Started {
    /// Where the HTTP listener is bound.
    pub address: SocketAddr,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Started {
    /// Runs until `shutdown` or a failure, then drains.
    pub async fn wait(self) -> anyhow::Result<()> {
        marquee_runtime::shutdown::supervise(self.tasks, self.shutdown, DRAIN_DEADLINE).await
    }
}

/// Builds `services` from `settings` and starts them; `serve_samples` adds the
/// bundled sample sources under `/samples/`.
pub async fn start(
    settings: Settings,
    services: &[Service],
    serve_samples: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<Started> {
    Ok(build(settings, services, serve_samples, shutdown)
        .await?
        .serve())
}

/// [`start`] up to serving: the services are built and their listener
/// bound, their background work starts with [`Built::serve`].
pub async fn build(
    mut settings: Settings,
    services: &[Service],
    serve_samples: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<Built> {
    settings.resolve_paths();
    // The recorder first: what a task records before it exists is lost
    // (the dead-letter series from zero, the digest's last success).
    marquee_runtime::http::metrics_handle();
    let bus = Bus::connect(&settings.bus).await?;
    bus.ensure_marquee_topics(settings.bus.partitions)
        .await
        .with_context(|| format!("Failed to create the topics on the {}", bus.describe()))?;
    tracing::info!(bus = %bus.describe(), ?services, "Starting");

    // Bound before the services start, so a source on this very listener
    // (the samples) is reachable from their first poll.
    let server = Server::bind(&settings.http).await?;
    let address = server.address();
    let subscriptions = Subscriptions::new(&settings);
    let mut router = Router::new();
    let audit = audit::Audit::open(bus.clone(), marquee_runtime::clock::SystemClock::shared())
        .await
        .context("Failed to open the audit trail")?;
    let mut admin = operations::router(bus.clone(), subscriptions.all())
        .route("/admin/openapi.json", axum::routing::get(openapi_document))
        .merge(audit.router());

    let mut readiness = Readiness::default()
        .check(
            "bus",
            bus.clone(),
            |bus| async move { Ok(bus.check().await?) },
        )
        .warning("bus-history", bus.clone(), |bus| async move {
            let [reviews, screenings] = marquee_bus::ITEM_TOPICS;
            let kept = [reviews, screenings, audit::TOPIC];
            let warnings = bus.history_warnings(&kept).await;
            warnings.iter().map(ToString::to_string).collect()
        });
    let consumers = Consumers {
        bus: bus.clone(),
        shutdown: shutdown.clone(),
    };
    let mut tasks = JoinSet::new();
    tasks.spawn(operations::sample_lag(
        bus.clone(),
        subscriptions.all(),
        shutdown.clone(),
    ));
    for service in services {
        match service {
            Service::Feeds => {
                let feeds = FeedsService::build(settings.feeds.clone())
                    .await
                    .context("Failed to start the feeds service")?;
                router = router.merge(feeds.router());
                admin = admin.merge(feeds.admin_router(bus.clone()));
                readiness = readiness.check("feeds-database", feeds.clone(), |feeds| async move {
                    feeds.check().await
                });
                tasks.spawn(then_published(
                    consumers.consume(&subscriptions.feeds_reviews, feeds.handler()),
                    feeds.clone(),
                ));
                tasks.spawn(then_published(
                    consumers.consume(&subscriptions.feeds_screenings, feeds.screenings_handler()),
                    feeds.clone(),
                ));
            }
            Service::Social => {
                let social = SocialService::build(settings.social.clone())
                    .await
                    .context("Failed to start the social service")?;
                router = router.merge(social.router());
                admin = admin.merge(social.admin_router());
                readiness =
                    readiness.check("social-database", social.clone(), |social| async move {
                        social.check().await
                    });
                tasks.spawn(consumers.consume(&subscriptions.social, social.handler()));
                tasks.spawn(social.run(shutdown.clone()));
            }
            Service::Digest => {
                let digest = DigestService::build(settings.digest.clone())
                    .await
                    .context("Failed to start the digest service")?;
                router = router.merge(digest.router());
                admin = admin.merge(digest.admin_router());
                readiness =
                    readiness.check("digest-database", digest.clone(), |digest| async move {
                        digest.check().await
                    });
                tasks.spawn(consumers.consume(&subscriptions.digest, digest.handler()));
                tasks.spawn(digest.run(shutdown.clone()));
            }
            Service::ListingsIngest => {
                let listings = ListingsIngest::build(settings.listings_ingest.clone(), bus.clone())
                    .await
                    .context("Failed to start the listings-ingest service")?;
                admin = admin.merge(listings.admin_router());
                readiness = readiness.check(
                    "listings-ingest-database",
                    listings.clone(),
                    |listings| async move { listings.check().await },
                );
                tasks.spawn(consumers.consume(&subscriptions.listings_ingest, listings.handler()));
                tasks.spawn(listings.run(shutdown.clone()));
            }
            Service::Console => {
                router = router.merge(marquee_console::router(&settings.console, address));
            }
            Service::ReviewsIngest => {
                let ingest = ReviewsIngest::build(settings.reviews_ingest.clone(), bus.clone())
                    .await
                    .context("Failed to start the reviews-ingest service")?;
                router = router.merge(ingest.router());
                admin = admin.merge(ingest.admin_router());
                readiness = readiness.check(
                    "reviews-ingest-database",
                    ingest.clone(),
                    |ingest| async move { ingest.check().await },
                );
                tasks.spawn(ingest.run(shutdown.clone()));
            }
        }
    }
    if serve_samples {
        for (name, dir) in &settings.samples {
            router = router.nest_service(
                &format!("/samples/{name}"),
                tower_http::services::ServeDir::new(dir),
            );
        }
    }
    if settings.admin.tokens.is_empty() {
        tracing::warn!("No admin tokens configured; operator endpoints are not served");
    } else {
        settings.admin.warn_deprecated();
        let admin = audit.record_changes(require_role(admin));
        router = router.merge(require_bearer(admin, settings.admin.tokens()));
    }
    let router = router
        .merge(operations_router(readiness))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    Ok(Built {
        server,
        router,
        tasks,
        shutdown,
    })
}

/// What each service's consumer task shares: the bus, and the signal that
/// stops it.
struct Consumers {
    bus: Bus,
    shutdown: CancellationToken,
}

impl Consumers {
    /// A task consuming `subscription` with `handler` until shutdown.
    fn consume<H: Handler>(
        &self,
        subscription: &Subscription,
        handler: H,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let (bus, subscription, shutdown) = (
            self.bus.clone(),
            subscription.clone(),
            self.shutdown.clone(),
        );
        async move { Ok(bus.consume(subscription, handler, shutdown).await?) }
    }
}

/// Runs a feeds consumer, then waits for the renders of what it handled:
/// output_dir holds every event it acknowledged once it has stopped.
async fn then_published(
    consuming: impl Future<Output = anyhow::Result<()>>,
    feeds: FeedsService,
) -> anyhow::Result<()> {
    let consumed = consuming.await;
    feeds.published().await;
    consumed
}
