//! Keeping the item topics' whole history.
//!
//! A replay (`marquee admin replay --rebuild`) rebuilds the feeds, the
//! digest's "new this week" and the calendars' `SEQUENCE` from the
//! `reviews` and `screenings` topics, so those topics must keep every event
//! for ever. Kafka's defaults do not (`retention.ms` is 7 days), so Marquee
//! creates them with unlimited retention and checks existing ones at start.
//!
//! Unlimited retention, not compaction by item key: a compacted topic keeps
//! only each item's latest event, so a replay would see an update or a
//! withdrawal with no publication before it, the digest would take old
//! reviews for new ones, social's "never post the back catalogue" would
//! rest on events that are gone, and a screening's `SEQUENCE` would restart.
//! Replaying must reproduce the sequence the consumers saw. The volume is
//! small (docs/operators.md, "Topic retention"): a publication's reviews and
//! a city's screenings are a few gigabytes a year.
//!
//! The embedded log never deletes a message, so it needs no check.

use std::collections::HashMap;

use marquee_events::topics;

/// The topics that carry items: a replay rebuilds everything from them.
/// Dead letters keep the broker's policy.
pub const ITEM_TOPICS: [&str; 2] = [topics::REVIEWS, topics::SCREENINGS];

/// The settings an item topic is created with, and checked against.
pub(crate) const KEEP_FOREVER: [(&str, &str); 3] = [
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("retention.bytes", "-1"),
];

/// Why an item topic may not keep its whole history: a warning, not an
/// outage (the bus still works; a later replay would restore less).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryWarning {
    /// A setting of the topic deletes or compacts events.
    LosesHistory {
        /// The topic.
        topic: String,
        /// The setting, e.g. `retention.ms`.
        setting: String,
        /// Its value on the broker, e.g. `604800000`.
        value: String,
        /// `bootstrap.servers`, for the command that fixes it.
        brokers: String,
    },
    /// The broker did not say how the topic keeps its events.
    Unverified {
        /// The topic.
        topic: String,
        /// The broker's error, or which settings it did not report.
        reason: String,
    },
}

impl HistoryWarning {
    /// The topic it is about.
    pub fn topic(&self) -> &str {
        match self {
            Self::LosesHistory { topic, .. } | Self::Unverified { topic, .. } => topic,
        }
    }

    /// The commands that give the topic the setting it needs (Kafka's
    /// `kafka-configs`, Redpanda's `rpk`).
    pub fn fix(&self) -> Option<String> {
        let Self::LosesHistory {
            topic,
            setting,
            brokers,
            ..
        } = self
        else {
            return None;
        };
        let wanted = KEEP_FOREVER
            .iter()
            .find(|(name, _)| name == setting)
            .map_or("-1", |(_, value)| value);
        Some(format!(
            "kafka-configs --bootstrap-server {brokers} --alter --entity-type topics \
             --entity-name {topic} --add-config {setting}={wanted} \
             (Redpanda: rpk topic alter-config {topic} --set {setting}={wanted})"
        ))
    }

    /// Logs it, one line naming the topic, the setting, its value and the fix.
    pub(crate) fn log(&self) {
        match self {
            Self::LosesHistory {
                topic,
                setting,
                value,
                ..
            } => tracing::warn!(
                topic,
                setting,
                value,
                fix = self.fix().unwrap_or_default(),
                "{self}"
            ),
            Self::Unverified { topic, reason } => tracing::warn!(topic, reason, "{self}"),
        }
    }
}

impl std::fmt::Display for HistoryWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LosesHistory {
                topic,
                setting,
                value,
                ..
            } => write!(
                f,
                "topic `{topic}` would lose history ({setting}={value}), so a replay would \
                 restore only what is left; fix: {}",
                self.fix().unwrap_or_default()
            ),
            Self::Unverified { topic, reason } => write!(
                f,
                "could not verify that topic `{topic}` keeps its history: {reason}"
            ),
        }
    }
}

/// What is wrong with `topic`, given the settings the broker `reported`
/// (name to value). A setting the broker did not report is unverified, not
/// assumed fine: Kafka reports every setting, defaults included.
pub(crate) fn judge(
    topic: &str,
    brokers: &str,
    reported: &HashMap<String, Option<String>>,
) -> Vec<HistoryWarning> {
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    for (setting, _) in KEEP_FOREVER {
        let Some(Some(value)) = reported.get(setting) else {
            missing.push(setting);
            continue;
        };
        let keeps = match setting {
            // "compact" and "compact,delete" both drop events.
            "cleanup.policy" => value.trim() == "delete",
            // Negative is unlimited; anything else deletes by age or size.
            _ => value.trim().parse::<i64>().is_ok_and(|v| v < 0),
        };
        if !keeps {
            warnings.push(HistoryWarning::LosesHistory {
                topic: topic.to_owned(),
                setting: setting.to_owned(),
                value: value.clone(),
                brokers: brokers.to_owned(),
            });
        }
    }
    if !missing.is_empty() {
        warnings.push(HistoryWarning::Unverified {
            topic: topic.to_owned(),
            reason: format!("the broker did not report {}", missing.join(", ")),
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn reported(settings: &[(&str, &str)]) -> HashMap<String, Option<String>> {
        settings
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Some((*value).to_owned())))
            .collect()
    }

    #[test]
    fn unlimited_retention_by_deletion_keeps_history() {
        assert_eq!(judge("reviews", "b:9092", &reported(&KEEP_FOREVER)), []);
    }

    #[test]
    fn a_finite_retention_or_compaction_loses_history_and_says_how_to_fix_it() {
        let warnings = judge(
            "reviews",
            "b:9092",
            &reported(&[
                ("cleanup.policy", "compact,delete"),
                ("retention.ms", "604800000"),
                ("retention.bytes", "-1"),
            ]),
        );
        let settings: Vec<_> = warnings
            .iter()
            .map(|w| match w {
                HistoryWarning::LosesHistory { setting, value, .. } => {
                    format!("{setting}={value}")
                }
                HistoryWarning::Unverified { reason, .. } => reason.clone(),
            })
            .collect();
        assert_eq!(
            settings,
            ["cleanup.policy=compact,delete", "retention.ms=604800000"]
        );
        assert_eq!(
            warnings[1].to_string(),
            "topic `reviews` would lose history (retention.ms=604800000), so a replay would \
             restore only what is left; fix: kafka-configs --bootstrap-server b:9092 --alter \
             --entity-type topics --entity-name reviews --add-config retention.ms=-1 \
             (Redpanda: rpk topic alter-config reviews --set retention.ms=-1)"
        );
        assert!(
            warnings[0]
                .fix()
                .unwrap()
                .contains("--add-config cleanup.policy=delete")
        );
    }

    #[test]
    fn a_setting_the_broker_does_not_report_is_unverified() {
        let warnings = judge("screenings", "b:9092", &reported(&[("retention.ms", "-1")]));
        assert_eq!(
            warnings,
            [HistoryWarning::Unverified {
                topic: "screenings".to_owned(),
                reason: "the broker did not report cleanup.policy, retention.bytes".to_owned(),
            }]
        );
        assert_eq!(warnings[0].fix(), None);
    }
}
