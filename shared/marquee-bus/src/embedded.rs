//! The embedded transport: an append-only log in one SQLite file, for the
//! one-process default. Same promises as Kafka where they matter: order per
//! partition, keys pinned to partitions, consumer groups sharing partitions,
//! offsets that survive a restart, at-least-once delivery, dead letters.
//!
//! Every message gets a global, increasing sequence number, which is its
//! offset; a group's position in a partition is the last sequence it finished.
//! Consumers live in the same process as producers, so a publish wakes them
//! directly instead of having them poll.
//!
//! Group commit: one writer task appends whatever publishes are waiting in one
//! transaction, and each publish returns once the transaction holding it has
//! committed (WAL, `synchronous=NORMAL`: a committed append survives the
//! process crashing; the last commits before a power cut or OS crash may be
//! lost, since the WAL is synced at checkpoints, not at every commit).
//! Consumers read a batch per partition and store the group's offset once
//! per batch, at the last message the handler finished.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marquee_runtime::clock::SharedClock;
use marquee_runtime::database::SQLITE_CACHE_SIZE;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::delivery::{Outcome, deliver};
use crate::history::Range;
use crate::{
    BusError, EmbeddedSettings, Handler, Logged, Message, PartitionLag, Position, Record,
    Subscription, Transport,
};

const TRANSPORT: Transport = Transport::Embedded;
/// Messages read from a partition per query, and handled before the
/// group's offset is stored.
const BATCH: i64 = 500;
/// The most appends one transaction commits.
const GROUP_COMMIT: usize = 1_000;
/// Rows per `INSERT`: full chunks share one prepared statement.
const ROWS_PER_INSERT: usize = 100;
/// Appends waiting for the writer before a publish waits for room.
const APPENDS_QUEUED: usize = 4 * GROUP_COMMIT;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bus_topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    key TEXT,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    published_at INTEGER
);
CREATE INDEX IF NOT EXISTS bus_messages_by_partition ON bus_messages (topic, partition, seq);
CREATE TABLE IF NOT EXISTS bus_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
";

/// The embedded SQLite log. Clones share one log.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    path: PathBuf,
    /// Stamps each message's `published_at`.
    clock: SharedClock,
    /// To the writer task; it stops when the last clone of the bus is dropped.
    appends: mpsc::Sender<Append>,
    /// Each topic's partition count, which never changes once created.
    partitions: Mutex<HashMap<String, i32>>,
    /// Woken on every commit of appends and every change of group membership.
    wake: Arc<Notify>,
    /// Live members of each group, in joining order.
    groups: Mutex<HashMap<String, Vec<u64>>>,
    next_member: AtomicU64,
    /// One lock per (group, topic, partition): a partition is never processed
    /// by two members of a group at once, even while they rebalance.
    partition_locks: Mutex<HashMap<PartitionOfGroup, Arc<tokio::sync::Mutex<()>>>>,
}

/// (group, topic, partition)
type PartitionOfGroup = (String, String, i32);

impl EmbeddedBus {
    /// Opens (or creates) the log at `settings.path`; `clock` stamps what
    /// is published.
    pub async fn open(settings: &EmbeddedSettings, clock: SharedClock) -> Result<Self, BusError> {
        let path = settings.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| connect_error(&path, e))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| connect_error(&path, e))?
            .create_if_missing(true)
            // WAL: consumers read while producers append. NORMAL sync: a
            // process crash loses nothing that was acknowledged.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", SQLITE_CACHE_SIZE);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(&path, e))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(|e| connect_error(&path, e))?;
        // Logs written before messages carried a publish time get the column.
        let has_time: bool = sqlx::query_scalar(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('bus_messages') WHERE name = 'published_at'",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| connect_error(&path, e))?;
        if !has_time {
            sqlx::query("ALTER TABLE bus_messages ADD COLUMN published_at INTEGER")
                .execute(&pool)
                .await
                .map_err(|e| connect_error(&path, e))?;
        }
        let (appends, queued) = mpsc::channel(APPENDS_QUEUED);
        let wake = Arc::new(Notify::new());
        tokio::spawn(write_appends(pool.clone(), queued, wake.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                path,
                clock,
                appends,
                partitions: Mutex::default(),
                wake,
                groups: Mutex::default(),
                next_member: AtomicU64::new(0),
                partition_locks: Mutex::default(),
            }),
        })
    }

    pub(crate) async fn ensure_topics(
        &self,
        topics: &[&str],
        partitions: i32,
    ) -> Result<(), BusError> {
        for topic in topics {
            sqlx::query("INSERT OR IGNORE INTO bus_topics (name, partitions) VALUES (?, ?)")
                .bind(topic)
                .bind(partitions.max(1))
                .execute(&self.inner.pool)
                .await
                .map_err(|e| self.connect_error(e))?;
        }
        Ok(())
    }

    async fn partitions(&self, topic: &str) -> Result<i32, BusError> {
        if let Some(partitions) = self.known_partitions().get(topic) {
            return Ok(*partitions);
        }
        let partitions = sqlx::query_scalar("SELECT partitions FROM bus_topics WHERE name = ?")
            .bind(topic)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.connect_error(e))?
            .ok_or_else(|| BusError::UnknownTopic(topic.to_owned()))?;
        self.known_partitions().insert(topic.to_owned(), partitions);
        Ok(partitions)
    }

    fn known_partitions(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.inner
            .partitions
            .lock()
            .expect("partition count table poisoned")
    }

    /// Hands `record` to the writer and waits until the transaction holding
    /// it has committed.
    pub(crate) async fn publish(&self, record: Record) -> Result<(), BusError> {
        self.enqueue(record).await?.committed().await
    }

    /// [`EmbeddedBus::publish`] for each of `records`, handed to the writer
    /// in their order before any is waited for, so they share transactions
    /// and keep their order.
    pub(crate) async fn publish_all(&self, records: Vec<Record>) -> Vec<Result<(), BusError>> {
        let mut queued = Vec::with_capacity(records.len());
        for record in records {
            queued.push(self.enqueue(record).await);
        }
        let mut outcomes = Vec::with_capacity(queued.len());
        for append in queued {
            outcomes.push(match append {
                Ok(queued) => queued.committed().await,
                Err(error) => Err(error),
            });
        }
        outcomes
    }

    /// Hands `record` to the writer, waiting only for room in its queue.
    async fn enqueue(&self, record: Record) -> Result<Queued, BusError> {
        let partitions = self.partitions(&record.topic).await?;
        let headers = serde_json::to_string(&record.headers)
            .map_err(|e| publish_error(&record.topic, e.to_string()))?;
        let (committed, outcome) = oneshot::channel();
        let queued = Queued {
            topic: record.topic.clone(),
            outcome,
        };
        let append = Append {
            partition: partition_for(&record.key, partitions),
            headers,
            published_at: self.inner.clock.now().timestamp_millis(),
            record,
            committed,
        };
        match self.inner.appends.send(append).await {
            Ok(()) => Ok(queued),
            Err(_) => Err(writer_stopped(&queued.topic)),
        }
    }

    pub(crate) async fn consume<H: Handler>(
        &self,
        subscription: Subscription,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        for topic in &subscription.topics {
            self.partitions(topic).await?;
        }
        let member = Membership::join(self, &subscription.group);
        tracing::info!(group = %subscription.group, topics = ?subscription.topics, "Consuming from the embedded log");
        loop {
            // Register interest before looking, so a publish that lands
            // between the look and the wait still wakes us.
            let wake = self.inner.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let progressed = match self
                .consume_assigned(&member, &subscription, &handler, &shutdown)
                .await
            {
                Ok(progressed) => progressed,
                Err(error) => {
                    tracing::warn!(group = %subscription.group, %error, "Reading the embedded log failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    true
                }
            };
            if !progressed {
                tokio::select! {
                    () = &mut wake => {}
                    () = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }

    /// Drains every partition assigned to `member`; true if anything was read.
    async fn consume_assigned<H: Handler>(
        &self,
        member: &Membership<'_>,
        subscription: &Subscription,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> Result<bool, BusError> {
        let mut progressed = false;
        for topic in &subscription.topics {
            let partitions = self.partitions(topic).await?;
            for partition in member.assigned(partitions) {
                let lock = self.partition_lock(&subscription.group, topic, partition);
                let _guard = lock.lock().await;
                progressed |= self
                    .consume_partition(subscription, topic, partition, handler, shutdown)
                    .await?;
                if shutdown.is_cancelled() {
                    return Ok(progressed);
                }
            }
        }
        Ok(progressed)
    }

    async fn consume_partition<H: Handler>(
        &self,
        subscription: &Subscription,
        topic: &str,
        partition: i32,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> Result<bool, BusError> {
        let group = &subscription.group;
        let position = self
            .committed(group, topic, partition)
            .await
            .map_err(|e| self.consume_error(group, e))?
            .unwrap_or(0);
        let rows = sqlx::query(
            "SELECT seq, key, headers, payload FROM bus_messages \
             WHERE topic = ? AND partition = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(topic)
        .bind(partition)
        .bind(position)
        .bind(BATCH)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(|e| self.consume_error(group, e))?;
        let progressed = !rows.is_empty();
        let mut finished = None;
        for row in rows {
            let message = message_from_row(topic, partition, &row);
            match deliver(handler, &message, group, subscription.retry, shutdown).await {
                Ok(Outcome::Done) => {}
                Ok(Outcome::Interrupted) => break,
                Err(dead_letter) => {
                    if let Err(error) = self.publish(dead_letter).await {
                        self.store_offset(group, topic, partition, finished).await?;
                        return Err(error);
                    }
                }
            }
            finished = Some(message.offset);
        }
        self.store_offset(group, topic, partition, finished).await?;
        Ok(progressed)
    }

    /// Stores `finished`, the last offset the handler finished in a batch,
    /// as `group`'s position in `partition`; nothing when it finished none.
    async fn store_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        finished: Option<i64>,
    ) -> Result<(), BusError> {
        let Some(offset) = finished else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO bus_offsets (group_id, topic, partition, last_seq) VALUES (?, ?, ?, ?) \
             ON CONFLICT (group_id, topic, partition) DO UPDATE SET last_seq = excluded.last_seq",
        )
        .bind(group)
        .bind(topic)
        .bind(partition)
        .bind(offset)
        .execute(&self.inner.pool)
        .await
        .map(drop)
        .map_err(|e| self.consume_error(group, e))
    }

    /// The last sequence `group` finished in `partition` of `topic`, if any.
    async fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT last_seq FROM bus_offsets WHERE group_id = ? AND topic = ? AND partition = ?",
        )
        .bind(group)
        .bind(topic)
        .bind(partition)
        .fetch_optional(&self.inner.pool)
        .await
    }

    pub(crate) async fn plan(
        &self,
        topics: &[&str],
        from: Position,
        only: Option<i32>,
    ) -> Result<Vec<Range>, BusError> {
        let mut ranges = Vec::new();
        for topic in topics {
            let partitions = self.partitions(topic).await?;
            for partition in (0..partitions).filter(|p| only.is_none_or(|only| only == *p)) {
                let (start, time) = match from {
                    Position::Beginning => (0, 0),
                    Position::Offset(offset) => (offset, 0),
                    Position::Time(time) => (0, time.timestamp_millis()),
                };
                let (first, last, count): (Option<i64>, Option<i64>, i64) = sqlx::query_as(
                    "SELECT MIN(seq), MAX(seq), COUNT(*) FROM bus_messages WHERE topic = ? \
                     AND partition = ? AND seq >= ? AND COALESCE(published_at, 0) >= ?",
                )
                .bind(topic)
                .bind(partition)
                .bind(start)
                .bind(time)
                .fetch_one(&self.inner.pool)
                .await
                .map_err(|e| self.connect_error(e))?;
                if let (Some(first), Some(last)) = (first, last) {
                    ranges.push(Range {
                        topic: (*topic).to_owned(),
                        partition,
                        start: first,
                        end: last + 1,
                        count: u64::try_from(count).unwrap_or(0),
                    });
                }
            }
        }
        Ok(ranges)
    }

    pub(crate) async fn scan<F, Fut>(&self, ranges: &[Range], mut visit: F) -> Result<(), BusError>
    where
        F: FnMut(Logged) -> Fut,
        Fut: Future<Output = bool>,
    {
        for range in ranges {
            let mut next = range.start;
            while next < range.end {
                let rows = sqlx::query(
                    "SELECT seq, key, headers, payload, published_at FROM bus_messages \
                     WHERE topic = ? AND partition = ? AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
                )
                .bind(&range.topic)
                .bind(range.partition)
                .bind(next)
                .bind(range.end)
                .bind(BATCH)
                .fetch_all(&self.inner.pool)
                .await
                .map_err(|e| self.connect_error(e))?;
                let Some(last) = rows.last() else { break };
                next = last.get::<i64, _>("seq") + 1;
                for row in rows {
                    let message = message_from_row(&range.topic, range.partition, &row);
                    if !visit(Logged::stamped(message, row.get("published_at"))).await {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn lag(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Vec<PartitionLag>, BusError> {
        let mut lags = Vec::new();
        for topic in topics {
            for partition in 0..self.partitions(topic).await? {
                let committed = self
                    .committed(group, topic, partition)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                let (last, behind): (Option<i64>, i64) = sqlx::query_as(
                    "SELECT (SELECT MAX(seq) FROM bus_messages WHERE topic = ?1 AND partition = ?2), \
                     (SELECT COUNT(*) FROM bus_messages WHERE topic = ?1 AND partition = ?2 AND seq > ?3)",
                )
                .bind(topic)
                .bind(partition)
                .bind(committed.unwrap_or(0))
                .fetch_one(&self.inner.pool)
                .await
                .map_err(|e| self.connect_error(e))?;
                lags.push(PartitionLag {
                    group: group.to_owned(),
                    topic: (*topic).to_owned(),
                    partition,
                    // As Kafka reports it: the next offset the group will read.
                    committed: committed.map(|seq| seq + 1),
                    end: last.map_or(0, |seq| seq + 1),
                    lag: behind,
                });
            }
        }
        Ok(lags)
    }

    fn partition_lock(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .partition_locks
            .lock()
            .expect("partition lock table poisoned");
        locks
            .entry((group.to_owned(), topic.to_owned(), partition))
            .or_default()
            .clone()
    }

    pub(crate) async fn check(&self) -> Result<(), BusError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.pool)
            .await
            .map(drop)
            .map_err(|e| self.connect_error(e))
    }

    pub(crate) fn describe(&self) -> String {
        format!("embedded SQLite log at {}", self.inner.path.display())
    }

    fn connect_error(&self, error: impl std::fmt::Display) -> BusError {
        connect_error(&self.inner.path, error)
    }

    fn consume_error(&self, group: &str, error: sqlx::Error) -> BusError {
        BusError::Consume {
            group: group.to_owned(),
            reason: format!("{} ({})", error, self.inner.path.display()),
        }
    }
}

/// A publish waiting for the writer.
struct Append {
    record: Record,
    partition: i32,
    /// The headers as stored: JSON.
    headers: String,
    published_at: i64,
    /// Told once the transaction holding the append has committed, or why not.
    committed: oneshot::Sender<Result<(), String>>,
}

/// A publish the writer has, waiting for its commit.
struct Queued {
    topic: String,
    outcome: oneshot::Receiver<Result<(), String>>,
}

impl Queued {
    /// Waits until the transaction holding the append has committed.
    async fn committed(self) -> Result<(), BusError> {
        let Self { topic, outcome } = self;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(publish_error(&topic, reason)),
            Err(_) => Err(writer_stopped(&topic)),
        }
    }
}

fn writer_stopped(topic: &str) -> BusError {
    publish_error(topic, "the embedded log's writer stopped".to_owned())
}

fn publish_error(topic: &str, reason: String) -> BusError {
    BusError::Publish {
        topic: topic.to_owned(),
        reason,
        retriable: true,
    }
}

/// The writer task: appends what is waiting, up to [`GROUP_COMMIT`] at a
/// time, in one transaction, then answers each publish and wakes the
/// consumers. Ends when every sender is gone.
async fn write_appends(pool: SqlitePool, mut queued: mpsc::Receiver<Append>, wake: Arc<Notify>) {
    let mut batch = Vec::with_capacity(GROUP_COMMIT);
    while queued.recv_many(&mut batch, GROUP_COMMIT).await > 0 {
        let outcome = append_all(&pool, &batch).await.map_err(|e| e.to_string());
        if outcome.is_ok() {
            wake.notify_waiters();
        }
        for append in batch.drain(..) {
            if outcome.is_ok() {
                crate::published(&append.record.topic);
            }
            // A publisher that stopped waiting needs no answer.
            let _ = append.committed.send(outcome.clone());
        }
    }
}

/// Appends `batch` in one transaction, [`ROWS_PER_INSERT`] rows a statement.
async fn append_all(pool: &SqlitePool, batch: &[Append]) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    for rows in batch.chunks(ROWS_PER_INSERT) {
        QueryBuilder::<Sqlite>::new(
            "INSERT INTO bus_messages (topic, partition, key, headers, payload, published_at) ",
        )
        .push_values(rows, |mut row, append| {
            row.push_bind(&append.record.topic)
                .push_bind(append.partition)
                .push_bind(&append.record.key)
                .push_bind(&append.headers)
                .push_bind(&append.record.payload)
                .push_bind(append.published_at);
        })
        .build()
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await
}

fn message_from_row(topic: &str, partition: i32, row: &sqlx::sqlite::SqliteRow) -> Message {
    let headers: String = row.get("headers");
    Message {
        topic: topic.to_owned(),
        partition,
        offset: row.get("seq"),
        key: row.get("key"),
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        payload: row.get("payload"),
    }
}

fn connect_error(path: &std::path::Path, error: impl std::fmt::Display) -> BusError {
    BusError::Connect {
        transport: TRANSPORT,
        reason: format!("{}: {error}", path.display()),
    }
}

/// A consumer's place in its group; leaving (on drop) hands its partitions on.
struct Membership<'a> {
    bus: &'a EmbeddedBus,
    group: String,
    id: u64,
}

impl<'a> Membership<'a> {
    fn join(bus: &'a EmbeddedBus, group: &str) -> Self {
        let id = bus.inner.next_member.fetch_add(1, Ordering::Relaxed);
        bus.inner
            .groups
            .lock()
            .expect("group table poisoned")
            .entry(group.to_owned())
            .or_default()
            .push(id);
        bus.inner.wake.notify_waiters();
        Self {
            bus,
            group: group.to_owned(),
            id,
        }
    }

    /// This member's partitions out of `partitions`: round-robin by join order.
    fn assigned(&self, partitions: i32) -> Vec<i32> {
        let groups = self.bus.inner.groups.lock().expect("group table poisoned");
        let members = &groups[&self.group];
        let index = members.iter().position(|m| *m == self.id).unwrap_or(0);
        (0..partitions)
            .filter(|p| *p as usize % members.len() == index)
            .collect()
    }
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        if let Ok(mut groups) = self.bus.inner.groups.lock()
            && let Some(members) = groups.get_mut(&self.group)
        {
            members.retain(|m| *m != self.id);
        }
        self.bus.inner.wake.notify_waiters();
    }
}

/// A key's partition: FNV-1a, stable across builds since it is stored.
fn partition_for(key: &str, partitions: i32) -> i32 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % partitions.max(1) as u64) as i32
}
