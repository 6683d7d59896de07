//! Bus configuration, read from the `[bus]` section.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Which transport carries events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The embedded SQLite log: one process, nothing to install.
    #[default]
    Embedded,
    /// A Kafka cluster.
    Kafka,
}

/// The name settings and logs use: `embedded` or `kafka`.
impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Embedded => "embedded",
            Self::Kafka => "kafka",
        })
    }
}

/// The `[bus]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSettings {
    /// Which transport to use.
    pub transport: Transport,
    /// Partitions of the topics Marquee creates: the most consumers of one
    /// group that can share the work.
    pub partitions: i32,
    /// Used when `transport = "embedded"`.
    pub embedded: EmbeddedSettings,
    /// Used when `transport = "kafka"`.
    pub kafka: KafkaSettings,
}

impl BusSettings {
    /// The embedded log in the file at `path`, everything else by default.
    pub fn embedded(path: impl Into<PathBuf>) -> Self {
        Self {
            transport: Transport::Embedded,
            embedded: EmbeddedSettings { path: path.into() },
            ..Self::default()
        }
    }

    /// Kafka at `brokers` (`bootstrap.servers`), everything else by default.
    pub fn kafka(brokers: impl Into<String>) -> Self {
        Self {
            transport: Transport::Kafka,
            kafka: KafkaSettings {
                brokers: brokers.into(),
                ..KafkaSettings::default()
            },
            ..Self::default()
        }
    }
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            transport: Transport::default(),
            partitions: 3,
            embedded: EmbeddedSettings::default(),
            kafka: KafkaSettings::default(),
        }
    }
}

/// The `[bus.embedded]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedSettings {
    /// The log's SQLite file.
    pub path: PathBuf,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/bus.sqlite"),
        }
    }
}

/// The `[bus.kafka]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Replication factor of the topics Marquee creates.
    pub replication_factor: i32,
    /// Any librdkafka setting, applied last to producers and consumers alike,
    /// e.g. `"security.protocol" = "SASL_SSL"`.
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            replication_factor: 1,
            librdkafka: BTreeMap::new(),
        }
    }
}
