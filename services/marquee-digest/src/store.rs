//! Durable state in SQLite or PostgreSQL through portable SQL: the reviews
//! and screenings consumed from the bus, subscribers, runs and the delivery
//! ledger (one row per run × subscriber).
//!
//! Timestamps are Unix microseconds (`BIGINT`); flags are 0/1 `BIGINT`s.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{Envelope, Review, ReviewEvent, Screening, ScreeningEvent};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::email::EmailAddress;

/// Why the store failed; every variant is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or held something this build cannot read.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

type Result<T> = std::result::Result<T, StoreError>;

const SCHEMA: [&str; 9] = [
    // Schedules as operators last saved them (JSON of `ScheduleSettings`).
    "CREATE TABLE IF NOT EXISTS digest_schedules (
        name TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        paused BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_events (
        event_id TEXT PRIMARY KEY,
        applied_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_reviews (
        review_id TEXT PRIMARY KEY,
        published_at BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        withdrawn BIGINT NOT NULL,
        review TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_screenings (
        screening_id TEXT PRIMARY KEY,
        starts_at BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        cancelled BIGINT NOT NULL,
        screening TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_subscribers (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        list TEXT NOT NULL,
        preferences TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        note TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_runs (
        id TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        scheduled_for BIGINT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        reviews_since BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        finished_at BIGINT,
        note TEXT NOT NULL,
        UNIQUE (schedule, scheduled_for)
    )",
    "CREATE TABLE IF NOT EXISTS digest_deliveries (
        run_id TEXT NOT NULL,
        subscriber_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        error TEXT,
        sent_at BIGINT,
        PRIMARY KEY (run_id, subscriber_id)
    )",
    "CREATE INDEX IF NOT EXISTS digest_deliveries_by_status
        ON digest_deliveries (run_id, status)",
    "CREATE INDEX IF NOT EXISTS digest_screenings_by_start
        ON digest_screenings (starts_at)",
];

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Subscribed, confirmation link not yet followed.
    Pending,
    /// Gets the digest.
    Confirmed,
    /// Left; may subscribe again.
    Unsubscribed,
    /// Bounced or complained: never mailed again.
    Suppressed,
}

impl SubscriberStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }
}

impl FromStr for SubscriberStatus {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "confirmed" => Self::Confirmed,
            "unsubscribed" => Self::Unsubscribed,
            "suppressed" => Self::Suppressed,
            other => anyhow::bail!("unknown subscriber status `{other}`"),
        })
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a subscriber wants in their digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    /// Venue ids to list screenings of; empty for every venue.
    pub venues: Vec<String>,
    /// Projection formats, e.g. `35mm`, `70mm`, or `celluloid` for both;
    /// empty for every format.
    pub formats: Vec<String>,
    /// Reviews below this many stars are left out (and unrated pieces with them).
    pub min_rating: Option<u8>,
}

/// A subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// Stable id, used in tokens and the ledger.
    pub id: String,
    /// Address.
    pub email: EmailAddress,
    /// Where they stand.
    pub status: SubscriberStatus,
    /// The list they are on; schedules pick an audience by list.
    pub list: String,
    /// What they want.
    pub preferences: Preferences,
}

fn subscriber(row: &AnyRow) -> anyhow::Result<Subscriber> {
    let email: String = row.try_get("email")?;
    let status: String = row.try_get("status")?;
    let preferences: String = row.try_get("preferences")?;
    Ok(Subscriber {
        id: row.try_get("id")?,
        email: EmailAddress::parse(&email)?,
        status: status.parse()?,
        list: row.try_get("list")?,
        preferences: serde_json::from_str(&preferences)?,
    })
}

/// A run's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Recipients are in the ledger and being sent to.
    Sending,
    /// Stopped by an operator or by repeated errors; resumable.
    Paused,
    /// Every recipient was handled.
    Sent,
    /// Nothing new, so nothing sent.
    Skipped,
    /// Composed but not sent (`dry_run`).
    DryRun,
    /// Due while the process was down, outside the catch-up window.
    Missed,
    /// Not sent because a source was stale (the freshness gate); alerted.
    Held,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Paused => "paused",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::DryRun => "dry_run",
            Self::Missed => "missed",
            Self::Held => "held",
        }
    }
}

impl FromStr for RunStatus {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "sending" => Self::Sending,
            "paused" => Self::Paused,
            "sent" => Self::Sent,
            "skipped" => Self::Skipped,
            "dry_run" => Self::DryRun,
            "missed" => Self::Missed,
            "held" => Self::Held,
            other => anyhow::bail!("unknown run status `{other}`"),
        })
    }
}

/// One digest run of one schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Run id.
    pub id: String,
    /// Schedule name.
    pub schedule: String,
    /// The instant the run was due (or asked for, when sent by hand).
    pub scheduled_for: DateTime<Utc>,
    /// `scheduled`, `catch_up` or `manual`.
    pub kind: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Reviews published after this and up to `scheduled_for` are in the digest.
    pub reviews_since: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it was skipped or paused, for operators.
    pub note: String,
}

fn run(row: &AnyRow) -> anyhow::Result<Run> {
    let status: String = row.try_get("status")?;
    Ok(Run {
        id: row.try_get("id")?,
        schedule: row.try_get("schedule")?,
        scheduled_for: from_micros(row.try_get("scheduled_for")?),
        kind: row.try_get("kind")?,
        status: status.parse()?,
        reviews_since: from_micros(row.try_get("reviews_since")?),
        created_at: from_micros(row.try_get("created_at")?),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at")?
            .map(from_micros),
        note: row.try_get("note")?,
    })
}

const RUN_COLUMNS: &str =
    "id, schedule, scheduled_for, kind, status, reviews_since, created_at, finished_at, note";

/// Delivery counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Not yet sent.
    pub pending: u64,
    /// Accepted by the relay.
    pub sent: u64,
    /// Refused permanently (5xx) or not deliverable.
    pub failed: u64,
    /// Nothing for this subscriber, or they left before their turn.
    pub skipped: u64,
    /// In the relay's hands when the process died: it may have the
    /// message, so it is not sent again (nobody gets a digest twice).
    pub interrupted: u64,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted by the relay.
    Sent,
    /// Refused permanently.
    Failed,
    /// Not sent, on purpose.
    Skipped,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// The digest's tables.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Connects to `database_url` and creates the tables if missing.
    pub async fn open(database_url: &str) -> Result<Self> {
        let pool = marquee_runtime::database::connect(database_url).await?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .context("Failed to create the digest tables")?;
        }
        Ok(Self { pool })
    }

    /// Whether the database answers.
    pub async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the digest database")?;
        Ok(())
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- Schedules ----

    /// Every stored schedule: its settings as JSON, and whether it is paused.
    pub async fn schedules(&self) -> Result<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT settings, paused FROM digest_schedules ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .context("Failed to read the schedules")?;
        rows.iter()
            .map(|row| {
                let settings: String = row.try_get("settings")?;
                let paused: i64 = row.try_get("paused")?;
                Ok((settings, paused != 0))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("Failed to read a schedule")
            .map_err(StoreError::from)
    }

    /// Stores a schedule's settings; `create` refuses (false) when `name`
    /// exists, otherwise it must exist (false when it does not).
    pub async fn save_schedule(&self, name: &str, settings: &str, create: bool) -> Result<bool> {
        let now = micros(Utc::now());
        let result = if create {
            sqlx::query(
                "INSERT INTO digest_schedules (name, settings, paused, updated_at) \
                 VALUES ($1, $2, 0, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(settings)
            .bind(now)
            .execute(&self.pool)
            .await
        } else {
            sqlx::query(
                "UPDATE digest_schedules SET settings = $2, updated_at = $3 WHERE name = $1",
            )
            .bind(name)
            .bind(settings)
            .bind(now)
            .execute(&self.pool)
            .await
        };
        Ok(result.context("Failed to save a schedule")?.rows_affected() == 1)
    }

    /// Pauses or resumes a schedule; false if there is none of that name.
    pub async fn set_schedule_paused(&self, name: &str, paused: bool) -> Result<bool> {
        let result =
            sqlx::query("UPDATE digest_schedules SET paused = $2, updated_at = $3 WHERE name = $1")
                .bind(name)
                .bind(i64::from(paused))
                .bind(micros(Utc::now()))
                .execute(&self.pool)
                .await
                .context("Failed to pause or resume a schedule")?;
        Ok(result.rows_affected() == 1)
    }

    // ---- Content consumed from the bus ----

    /// Applies a review event once (by event id), never over a newer version.
    /// Returns whether anything changed.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, review_id = %event.data.review_id()))]
    pub async fn apply_review(&self, event: &Envelope<ReviewEvent>) -> Result<bool> {
        let (review, withdrawn) = match &event.data {
            ReviewEvent::Published(e) => (Some(&e.review), false),
            ReviewEvent::Updated(e) => (Some(&e.review), false),
            ReviewEvent::Withdrawn(_) => (None, true),
        };
        let id = event.data.review_id().as_str().to_owned();
        let published_at = review.map_or(0, |r| micros(r.published_at));
        let body = review
            .map(serde_json::to_string)
            .transpose()
            .context("Failed to encode a review")?
            .unwrap_or_default();
        self.apply_item(
            event.id,
            micros(event.time),
            "INSERT INTO digest_reviews (review_id, published_at, event_time, withdrawn, review)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (review_id) DO UPDATE SET
                published_at = CASE WHEN excluded.withdrawn = 1
                    THEN digest_reviews.published_at ELSE excluded.published_at END,
                event_time = excluded.event_time,
                withdrawn = excluded.withdrawn,
                review = CASE WHEN excluded.withdrawn = 1
                    THEN digest_reviews.review ELSE excluded.review END
             WHERE digest_reviews.event_time < excluded.event_time",
            (id, published_at, withdrawn, body),
        )
        .await
    }

    /// Applies a screening event once (by event id), never over a newer version.
    #[tracing::instrument(skip_all, fields(event_id = %event.id))]
    pub async fn apply_screening(&self, event: &Envelope<ScreeningEvent>) -> Result<bool> {
        let (screening, cancelled) = match &event.data {
            ScreeningEvent::Listed(e) => (&e.screening, false),
            ScreeningEvent::Changed(e) => (&e.screening, false),
            ScreeningEvent::Cancelled(e) => (&e.screening, true),
        };
        let body = serde_json::to_string(screening).context("Failed to encode a screening")?;
        self.apply_item(
            event.id,
            micros(event.time),
            "INSERT INTO digest_screenings (screening_id, starts_at, event_time, cancelled, screening)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (screening_id) DO UPDATE SET
                starts_at = excluded.starts_at,
                event_time = excluded.event_time,
                cancelled = excluded.cancelled,
                screening = excluded.screening
             WHERE digest_screenings.event_time < excluded.event_time",
            (
                screening.id.as_str().to_owned(),
                micros(screening.starts_at),
                cancelled,
                body,
            ),
        )
        .await
    }

    async fn apply_item(
        &self,
        event_id: uuid::Uuid,
        event_time: i64,
        upsert: &str,
        (id, time, flag, body): (String, i64, bool, String),
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        let fresh = sqlx::query(
            "INSERT INTO digest_events (event_id, applied_at) VALUES ($1, $2)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id.to_string())
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .context("Failed to record the event id")?
        .rows_affected();
        if fresh == 0 {
            return Ok(false);
        }
        let changed = sqlx::query(upsert)
            .bind(id)
            .bind(time)
            .bind(event_time)
            .bind(i64::from(flag))
            .bind(body)
            .execute(&mut *tx)
            .await
            .context("Failed to store an item")?
            .rows_affected();
        tx.commit().await.context("Failed to commit an item")?;
        Ok(changed > 0)
    }

    /// Live reviews first published in `(since, until]`, newest first.
    pub async fn reviews_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT review FROM digest_reviews
             WHERE withdrawn = 0 AND published_at > $1 AND published_at <= $2
             ORDER BY published_at DESC, review_id",
        )
        .bind(micros(since))
        .bind(micros(until))
        .fetch_all(&self.pool)
        .await
        .context("Failed to read reviews")?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("review")?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::from)
    }

    /// Live screenings starting in `[from, to)`, earliest first.
    pub async fn screenings_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Screening>> {
        let rows = sqlx::query(
            "SELECT screening FROM digest_screenings
             WHERE cancelled = 0 AND starts_at >= $1 AND starts_at < $2
             ORDER BY starts_at, screening_id",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.pool)
        .await
        .context("Failed to read screenings")?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("screening")?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::from)
    }

    /// Star ratings of the live reviews among `ids`.
    pub async fn ratings(&self, ids: &[&str]) -> Result<HashMap<String, u8>> {
        let mut ratings = HashMap::new();
        for id in ids {
            let row = sqlx::query(
                "SELECT review FROM digest_reviews WHERE review_id = $1 AND withdrawn = 0",
            )
            .bind(*id)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a review")?;
            if let Some(row) = row {
                let body: String = row.try_get("review").context("review column")?;
                let review: Review =
                    serde_json::from_str(&body).context("Failed to decode a review")?;
                if let Some(rating) = review.rating {
                    ratings.insert((*id).to_owned(), rating.stars());
                }
            }
        }
        Ok(ratings)
    }

    // ---- Subscribers ----

    /// The subscriber with `id`.
    pub async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>> {
        let row = sqlx::query("SELECT * FROM digest_subscribers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a subscriber")?;
        Ok(row.as_ref().map(subscriber).transpose()?)
    }

    /// The subscriber with `email`.
    pub async fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        let row = sqlx::query("SELECT * FROM digest_subscribers WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a subscriber")?;
        Ok(row.as_ref().map(subscriber).transpose()?)
    }

    /// Every subscriber, by address.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query("SELECT * FROM digest_subscribers ORDER BY email")
            .fetch_all(&self.pool)
            .await
            .context("Failed to read subscribers")?;
        Ok(rows.iter().map(subscriber).collect::<anyhow::Result<_>>()?)
    }

    /// Confirmed subscribers of `list` (`all` for every list), by address.
    pub async fn audience(&self, list: &str) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query(
            "SELECT * FROM digest_subscribers
             WHERE status = 'confirmed' AND ($1 = 'all' OR list = $1) ORDER BY email",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the audience")?;
        Ok(rows.iter().map(subscriber).collect::<anyhow::Result<_>>()?)
    }

    /// Inserts or replaces the subscriber with `subscriber.id`'s address.
    pub async fn put_subscriber(&self, subscriber: &Subscriber, note: &str) -> Result<()> {
        let now = micros(Utc::now());
        let preferences = serde_json::to_string(&subscriber.preferences)
            .context("Failed to encode preferences")?;
        sqlx::query(
            "INSERT INTO digest_subscribers
                (id, email, status, list, preferences, created_at, updated_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
             ON CONFLICT (email) DO UPDATE SET
                status = excluded.status, list = excluded.list,
                preferences = excluded.preferences, updated_at = excluded.updated_at,
                note = excluded.note",
        )
        .bind(&subscriber.id)
        .bind(subscriber.email.as_str())
        .bind(subscriber.status.as_str())
        .bind(&subscriber.list)
        .bind(preferences)
        .bind(now)
        .bind(note)
        .execute(&self.pool)
        .await
        .context("Failed to store a subscriber")?;
        Ok(())
    }

    /// Moves subscriber `id` from one of `from` to `to`; returns whether it moved.
    pub async fn transition(
        &self,
        id: &str,
        from: &[SubscriberStatus],
        to: SubscriberStatus,
        note: &str,
    ) -> Result<bool> {
        let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        // The statuses are our own constants, never input.
        let sql = format!(
            "UPDATE digest_subscribers SET status = $1, updated_at = $2, note = $3
             WHERE id = $4 AND status IN ({})",
            from.join(", ")
        );
        let moved = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(micros(Utc::now()))
            .bind(note)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("Failed to update a subscriber")?
            .rows_affected();
        Ok(moved > 0)
    }

    // ---- Runs ----

    /// Creates a run unless one exists for `(schedule, scheduled_for)`, and
    /// in the same transaction puts every recipient in the ledger as
    /// pending, so a run never exists without its recipients.
    pub async fn create_run(&self, run: &Run, recipients: &[Subscriber]) -> Result<bool> {
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        let created = sqlx::query(
            "INSERT INTO digest_runs
                (id, schedule, scheduled_for, kind, status, reviews_since, created_at, finished_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (schedule, scheduled_for) DO NOTHING",
        )
        .bind(&run.id)
        .bind(&run.schedule)
        .bind(micros(run.scheduled_for))
        .bind(&run.kind)
        .bind(run.status.as_str())
        .bind(micros(run.reviews_since))
        .bind(micros(run.created_at))
        .bind(run.finished_at.map(micros))
        .bind(&run.note)
        .execute(&mut *tx)
        .await
        .context("Failed to create a run")?
        .rows_affected();
        if created == 0 {
            return Ok(false);
        }
        for recipient in recipients {
            sqlx::query(
                "INSERT INTO digest_deliveries (run_id, subscriber_id, email, status, attempts)
                 VALUES ($1, $2, $3, 'pending', 0)",
            )
            .bind(&run.id)
            .bind(&recipient.id)
            .bind(recipient.email.as_str())
            .execute(&mut *tx)
            .await
            .context("Failed to enqueue a recipient")?;
        }
        tx.commit().await.context("Failed to commit a run")?;
        Ok(true)
    }

    /// The run with `id`.
    pub async fn run(&self, id: &str) -> Result<Option<Run>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("Failed to read a run")?;
        Ok(row.as_ref().map(run).transpose()?)
    }

    /// The newest runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read runs")?;
        Ok(rows.iter().map(run).collect::<anyhow::Result<_>>()?)
    }

    /// Runs left `sending` (by a process that stopped mid-run).
    pub async fn unfinished_runs(&self) -> Result<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs WHERE status = 'sending' ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await
        .context("Failed to read runs")?;
        Ok(rows.iter().map(run).collect::<anyhow::Result<_>>()?)
    }

    /// The latest due time of `schedule` that has a run of any outcome
    /// (runs sent by hand do not count).
    pub async fn last_scheduled(&self, schedule: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MAX(scheduled_for) AS last FROM digest_runs
             WHERE schedule = $1 AND kind <> 'manual'",
        )
        .bind(schedule)
        .fetch_one(&self.pool)
        .await
        .context("Failed to read the last run")?;
        let last: Option<i64> = row.try_get("last").context("last column")?;
        Ok(last.map(from_micros))
    }

    /// Where the last digest of `schedule` that went out stopped collecting reviews.
    pub async fn last_sent(&self, schedule: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MAX(scheduled_for) AS last FROM digest_runs
             WHERE schedule = $1 AND status IN ('sent', 'sending', 'paused')",
        )
        .bind(schedule)
        .fetch_one(&self.pool)
        .await
        .context("Failed to read the last sent run")?;
        let last: Option<i64> = row.try_get("last").context("last column")?;
        Ok(last.map(from_micros))
    }

    /// Sets a run's status; `from` guards against racing another change.
    pub async fn set_run_status(
        &self,
        id: &str,
        from: &[RunStatus],
        to: RunStatus,
        note: &str,
    ) -> Result<bool> {
        let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let finished = matches!(to, RunStatus::Sent | RunStatus::Skipped | RunStatus::DryRun)
            .then(|| micros(Utc::now()));
        let sql = format!(
            "UPDATE digest_runs SET status = $1, note = $2, finished_at = $3
             WHERE id = $4 AND status IN ({})",
            from.join(", ")
        );
        let moved = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(note)
            .bind(finished)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("Failed to update a run")?
            .rows_affected();
        Ok(moved > 0)
    }

    /// Marks a run sent, only if no recipient is pending any more.
    pub async fn finish_run(&self, id: &str, note: &str) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE digest_runs SET status = 'sent', note = $1, finished_at = $2
             WHERE id = $3 AND status = 'sending' AND NOT EXISTS (
                SELECT 1 FROM digest_deliveries WHERE run_id = $3 AND status = 'pending')",
        )
        .bind(note)
        .bind(micros(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await
        .context("Failed to finish a run")?
        .rows_affected();
        Ok(moved > 0)
    }

    // ---- The delivery ledger ----

    /// Subscriber ids still pending in `run_id`.
    pub async fn pending(&self, run_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT subscriber_id FROM digest_deliveries
             WHERE run_id = $1 AND status = 'pending' ORDER BY email",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read pending deliveries")?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("subscriber_id"))
            .collect::<std::result::Result<_, _>>()
            .context("subscriber_id column")?)
    }

    /// Records how one delivery ended.
    pub async fn mark(
        &self,
        run_id: &str,
        subscriber_id: &str,
        outcome: DeliveryOutcome,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE digest_deliveries SET status = $1, attempts = $2, error = $3, sent_at = $4
             WHERE run_id = $5 AND subscriber_id = $6",
        )
        .bind(outcome.as_str())
        .bind(i64::from(attempts))
        .bind(error)
        .bind(micros(Utc::now()))
        .bind(run_id)
        .bind(subscriber_id)
        .execute(&self.pool)
        .await
        .context("Failed to record a delivery")?;
        Ok(())
    }

    /// Takes a pending delivery to `sending` just before it goes to the
    /// relay; false when it is not pending (another sender has it).
    pub async fn claim(&self, run_id: &str, subscriber_id: &str) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE digest_deliveries SET status = 'sending'
             WHERE run_id = $1 AND subscriber_id = $2 AND status = 'pending'",
        )
        .bind(run_id)
        .bind(subscriber_id)
        .execute(&self.pool)
        .await
        .context("Failed to claim a delivery")?
        .rows_affected();
        Ok(claimed > 0)
    }

    /// Settles deliveries a dead process left `sending`: the relay may or
    /// may not have them, and sending again could mail someone twice, so
    /// they become `interrupted`, for an operator to see. Returns how many.
    pub async fn settle_interrupted(&self, run_id: &str) -> Result<u64> {
        let settled = sqlx::query(
            "UPDATE digest_deliveries SET status = 'interrupted', sent_at = $1,
                error = 'the sender stopped while the relay had this message; not sent again, so it cannot arrive twice'
             WHERE run_id = $2 AND status = 'sending'",
        )
        .bind(micros(Utc::now()))
        .bind(run_id)
        .execute(&self.pool)
        .await
        .context("Failed to settle interrupted deliveries")?
        .rows_affected();
        Ok(settled)
    }

    /// Records a failed attempt that stays pending (to retry on resume).
    pub async fn note_attempt(&self, run_id: &str, subscriber_id: &str, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE digest_deliveries SET status = 'pending', attempts = attempts + 1, error = $1
             WHERE run_id = $2 AND subscriber_id = $3",
        )
        .bind(error)
        .bind(run_id)
        .bind(subscriber_id)
        .execute(&self.pool)
        .await
        .context("Failed to record an attempt")?;
        Ok(())
    }

    /// Delivery counts of `run_id`.
    pub async fn counts(&self, run_id: &str) -> Result<DeliveryCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM digest_deliveries WHERE run_id = $1 GROUP BY status",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .context("Failed to count deliveries")?;
        let mut counts = DeliveryCounts::default();
        for row in rows {
            let status: String = row.try_get("status").context("status column")?;
            let n: i64 = row.try_get("n").context("count column")?;
            let n = u64::try_from(n).unwrap_or_default();
            match status.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                "interrupted" => counts.interrupted = n,
                // `sending`: in flight right now.
                "sending" => counts.pending += n,
                _ => counts.skipped += n,
            }
        }
        Ok(counts)
    }
}
