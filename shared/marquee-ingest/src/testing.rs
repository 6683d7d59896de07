//! Test support for the ingest services' integration tests (feature
//! `test-support`, a dev-dependency only): an embedded bus in the test's
//! folder, and a recorder of the events a service published on a topic.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use marquee_bus::{Bus, BusSettings, Handler, HandlerError, Message, Record, Subscription};
use marquee_events::{Envelope, EventFamily};
use tokio_util::sync::CancellationToken;

/// An embedded bus in `dir` with the Marquee topics, one partition each (so
/// a sentinel published last arrives last).
pub async fn embedded_bus(dir: &Path) -> anyhow::Result<Bus> {
    let bus = Bus::connect(&BusSettings::embedded(dir.join("bus.sqlite"))).await?;
    bus.ensure_marquee_topics(1).await?;
    Ok(bus)
}

#[derive(Clone, Default)]
struct Messages(Arc<Mutex<Vec<Message>>>);

impl Messages {
    fn all(&self) -> Vec<Message> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Handler for Messages {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}

/// Every message on one topic, consumed in the background until dropped.
pub struct TopicRecorder {
    bus: Bus,
    topic: &'static str,
    messages: Messages,
    drained: usize,
    sentinels: usize,
    stop: CancellationToken,
}

impl TopicRecorder {
    /// Starts consuming `topic` of `bus` as `group`.
    pub fn start(bus: &Bus, topic: &'static str, group: &str) -> Self {
        let messages = Messages::default();
        let stop = CancellationToken::new();
        tokio::spawn({
            let (bus, messages, stop) = (bus.clone(), messages.clone(), stop.clone());
            let subscription = Subscription::new(group, &[topic]);
            async move {
                if let Err(error) = bus.consume(subscription, messages, stop).await {
                    tracing::error!(%error, "The test recorder stopped consuming");
                }
            }
        });
        Self {
            bus: bus.clone(),
            topic,
            messages,
            drained: 0,
            sentinels: 0,
            stop,
        }
    }

    /// The events published on the topic since the last call. A sentinel is
    /// published behind them on the same (single) partition, so once it
    /// arrives nothing published before it is still in flight.
    pub async fn events<T: EventFamily>(&mut self) -> Vec<Envelope<T>> {
        self.sentinels += 1;
        let key = format!("sentinel-{}", self.sentinels);
        self.bus
            .publish(Record {
                topic: self.topic.to_owned(),
                key: key.clone(),
                headers: vec![],
                payload: b"sentinel".to_vec(),
            })
            .await
            .expect("the embedded bus takes the sentinel");
        let (messages, at) = marquee_test_support::wait::until(
            "the sentinel arrived",
            Duration::from_secs(20),
            || {
                let messages = self.messages.all();
                let at = messages.iter().position(|m| m.key.as_deref() == Some(&key));
                async move { at.map(|at| (messages, at)) }
            },
        )
        .await;
        let events = messages[self.drained..at]
            .iter()
            .filter(|m| {
                !m.key
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("sentinel-")
            })
            .map(|m| {
                m.decode::<T>()
                    .expect("the service publishes decodable events")
            })
            .collect();
        self.drained = at + 1;
        events
    }
}

impl Drop for TopicRecorder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
