//! Buses, topics and recording handlers for the transport tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use marquee_bus::{
    Bus, BusSettings, Handler, HandlerError, Message, Record, RetryPolicy, Subscription,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a case waits for consumers to catch up.
pub const WAIT: Duration = Duration::from_secs(30);

/// A bus on a fresh log, or on the test broker, with unique topic names.
pub struct TestBus {
    pub bus: Bus,
    pub settings: BusSettings,
    /// Keeps the embedded log's folder alive.
    _dir: Option<tempfile::TempDir>,
}

impl TestBus {
    pub async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = BusSettings::embedded(dir.path().join("bus.sqlite"));
        Self::connect(settings, Some(dir)).await
    }

    pub async fn kafka() -> Self {
        let brokers = marquee_test_support::kafka_brokers();
        Self::kafka_at(&brokers).await
    }

    pub async fn kafka_at(brokers: &str) -> Self {
        Self::connect(BusSettings::kafka(brokers), None).await
    }

    async fn connect(settings: BusSettings, dir: Option<tempfile::TempDir>) -> Self {
        let bus = Bus::connect(&settings).await.unwrap();
        // Before anything that would wait a minute for a broker first.
        if let Err(error) = bus.check().await {
            panic!(
                "{} does not answer ({error}); run the tests with `./scripts/test` (see \
                 README), which installs and starts a broker",
                bus.describe()
            );
        }
        bus.ensure_marquee_topics(1).await.unwrap();
        Self {
            bus,
            settings,
            _dir: dir,
        }
    }

    /// Reconnects to the same log or broker, as a restarted process would.
    pub async fn reopen(&self) -> Bus {
        Bus::connect(&self.settings).await.unwrap()
    }

    /// Publishes each `(key, payload)` to `topic`, in order.
    pub async fn publish_all<K: AsRef<str>, P: AsRef<str>>(
        &self,
        topic: &str,
        messages: impl IntoIterator<Item = (K, P)>,
    ) {
        publish_all(&self.bus, topic, messages).await;
    }

    /// A new topic with `partitions` partitions.
    pub async fn topic(&self, partitions: i32) -> String {
        let name = format!("test-{}", uuid::Uuid::new_v4());
        self.bus.ensure_topics(&[&name], partitions).await.unwrap();
        name
    }

    /// Starts `handler` on `topic` in `group`; stops with the returned token.
    pub fn consume<H: Handler>(
        &self,
        group: &str,
        topic: &str,
        handler: H,
    ) -> (CancellationToken, JoinHandle<()>) {
        consume_on(&self.bus, group, topic, handler)
    }
}

/// [`TestBus::publish_all`] on `bus`.
pub async fn publish_all<K: AsRef<str>, P: AsRef<str>>(
    bus: &Bus,
    topic: &str,
    messages: impl IntoIterator<Item = (K, P)>,
) {
    for (key, payload) in messages {
        bus.publish(record(topic, key.as_ref(), payload.as_ref()))
            .await
            .unwrap();
    }
}

/// `payloads` under one `key`, for [`publish_all`].
pub fn keyed<'a>(
    key: &'a str,
    payloads: &'a [&'a str],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    payloads.iter().map(move |payload| (key, *payload))
}

/// `numbers` as payloads, each keyed by `key(n)`, for [`publish_all`].
pub fn numbered<K: AsRef<str>>(
    numbers: std::ops::Range<u32>,
    key: impl Fn(u32) -> K,
) -> impl Iterator<Item = (K, String)> {
    numbers.map(move |n| (key(n), n.to_string()))
}

pub fn consume_on<H: Handler>(
    bus: &Bus,
    group: &str,
    topic: &str,
    handler: H,
) -> (CancellationToken, JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let mut subscription = Subscription::new(group, &[topic]);
    subscription.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };
    let bus = bus.clone();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        bus.consume(subscription, handler, token).await.unwrap();
    });
    (shutdown, task)
}

pub fn group() -> String {
    format!("group-{}", uuid::Uuid::new_v4())
}

pub fn record(topic: &str, key: &str, payload: &str) -> Record {
    Record {
        topic: topic.to_owned(),
        key: key.to_owned(),
        headers: vec![("test".to_owned(), "yes".to_owned())],
        payload: payload.as_bytes().to_vec(),
    }
}

/// A handler that records what it handled, with scripted failures.
#[derive(Clone, Default)]
pub struct Recorder {
    pub handled: Arc<Mutex<Vec<Message>>>,
    /// Payloads answered with [`HandlerError::Poison`].
    poison: Option<String>,
    /// Payloads that fail every attempt with [`HandlerError::Transient`].
    always_failing: Option<String>,
    /// On this payload: cancel the token and fail, as a crash mid-handler.
    crash_at: Option<(String, CancellationToken)>,
}

impl Recorder {
    pub fn poisoned_by(payload: &str) -> Self {
        Self {
            poison: Some(payload.to_owned()),
            ..Self::default()
        }
    }

    pub fn always_failing_on(payload: &str) -> Self {
        Self {
            always_failing: Some(payload.to_owned()),
            ..Self::default()
        }
    }

    pub fn crashing_at(payload: &str, token: CancellationToken) -> Self {
        Self {
            crash_at: Some((payload.to_owned(), token)),
            ..Self::default()
        }
    }

    pub fn payloads(&self) -> Vec<String> {
        self.handled
            .lock()
            .unwrap()
            .iter()
            .map(|m| String::from_utf8(m.payload.clone()).unwrap())
            .collect()
    }

    pub fn count(&self) -> usize {
        self.handled.lock().unwrap().len()
    }
}

impl Handler for Recorder {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let payload = std::str::from_utf8(&message.payload).unwrap();
        if self.poison.as_deref() == Some(payload) {
            return Err(HandlerError::Poison(anyhow::anyhow!(
                "cannot decode {payload}"
            )));
        }
        if self.always_failing.as_deref() == Some(payload) {
            return Err(HandlerError::Transient(anyhow::anyhow!("database is down")));
        }
        if let Some((at, token)) = &self.crash_at
            && at == payload
        {
            token.cancel();
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "process is going down"
            )));
        }
        self.handled.lock().unwrap().push(message.clone());
        Ok(())
    }
}
