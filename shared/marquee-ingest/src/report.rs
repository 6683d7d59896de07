//! What one poll of one source came to, and how a rejected item is
//! reported: logged with its source and reason, counted in
//! `marquee_ingest_rejected_total{source, reason}` and in the source's
//! health, then skipped. Nothing upstream can stop a service.

use std::fmt;

use crate::change::Change;
use crate::health::PollOutcome;

/// Why a document or an item was refused: a message an editor can act on
/// (its `Display`) and a short, stable label for metrics.
pub trait Rejection: fmt::Display {
    /// A short, stable label for metrics, e.g. `missing_dtstart`.
    fn kind(&self) -> &'static str;
}

impl Rejection for marquee_fetch::FetchError {
    fn kind(&self) -> &'static str {
        marquee_fetch::FetchError::kind(self)
    }
}

/// Counts from one poll of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// New items (or back after a withdrawal): "published"/"listed" events sent.
    pub new: usize,
    /// Changed items: "updated"/"changed" events sent.
    pub changed: usize,
    /// Withdrawn items (by the source, or gone from it): "withdrawn"/"cancelled" events sent.
    pub withdrawn: usize,
    /// Items seen again without a change.
    pub unchanged: usize,
    /// Documents, rows or items rejected (each logged and counted).
    pub rejected: usize,
    /// Each rejection as logged, e.g. `line 12: the VEVENT "Jaws" has no DTSTART`.
    pub rejections: Vec<String>,
    /// The [`Rejection::kind`] of each rejection, in order.
    pub rejection_kinds: Vec<&'static str>,
    /// What a read in full found present and missing, for the withdrawal
    /// deadlines; `None` when the source was not read in full (it failed,
    /// answered 304, or listed nothing, which is far likelier an upstream
    /// fault than everything being taken down).
    pub sweep: Option<Sweep>,
    /// Whether the source answered (a document it could parse, or 304 Not
    /// Modified); some items may still be rejected.
    pub read: bool,
}

/// What a read in full of a source found, by item id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// The items the source lists, valid or not: a rejected item is
    /// present but invalid, never withdrawn for being invalid.
    pub present: Vec<String>,
    /// The items the ledger holds live for the source that it no longer
    /// lists: each is withdrawn once missing past the pipeline's grace
    /// period ([`crate::Pipeline::grace`]).
    pub missing: Vec<String>,
}

impl PollReport {
    /// Whether the poll looked for items missing from the source.
    pub fn swept(&self) -> bool {
        self.sweep.is_some()
    }

    /// Counts one item's [`Change`].
    pub fn count(&mut self, change: Change) {
        match change {
            Change::New => self.new += 1,
            Change::Changed => self.changed += 1,
            Change::Unchanged => self.unchanged += 1,
            Change::Withdrawn => self.withdrawn += 1,
        }
    }

    /// Logs and counts `error`, rejected from `source`; the caller carries on
    /// with the next thing.
    pub fn reject(&mut self, source: &str, error: &dyn Rejection) {
        let kind = error.kind();
        tracing::warn!(source = %source, reason = %error, kind, "Rejected input from a source");
        metrics::counter!(
            "marquee_ingest_rejected_total",
            "source" => source.to_owned(),
            "reason" => kind
        )
        .increment(1);
        self.rejected += 1;
        self.rejections.push(error.to_string());
        self.rejection_kinds.push(kind);
    }

    /// Items the poll saw, changed or not.
    pub fn seen(&self) -> usize {
        self.new + self.changed + self.unchanged
    }

    /// Events the poll published.
    pub fn events_published(&self) -> usize {
        self.new + self.changed + self.withdrawn
    }

    /// What the sources' health records of this poll.
    pub fn outcome(&self) -> PollOutcome {
        PollOutcome {
            read: self.read,
            seen: self.seen() as u64,
            rejected: self.rejected as u64,
            published: self.events_published() as u64,
            error: self.rejections.first().cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    impl fmt::Display for Broken {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("line 3: no DTSTART")
        }
    }

    impl Rejection for Broken {
        fn kind(&self) -> &'static str {
            "missing_dtstart"
        }
    }

    #[test]
    fn a_report_counts_changes_and_rejections_for_the_health_record() {
        let mut report = PollReport {
            read: true,
            ..PollReport::default()
        };
        for change in [
            Change::New,
            Change::New,
            Change::Changed,
            Change::Unchanged,
            Change::Withdrawn,
        ] {
            report.count(change);
        }
        report.reject("pcc", &Broken);
        assert_eq!((report.seen(), report.events_published()), (4, 4));
        assert_eq!(report.rejections, ["line 3: no DTSTART"]);
        assert_eq!(report.rejection_kinds, ["missing_dtstart"]);
        let outcome = report.outcome();
        assert!(outcome.read);
        assert_eq!(
            (outcome.seen, outcome.rejected, outcome.published),
            (4, 1, 4)
        );
        assert_eq!(outcome.error.as_deref(), Some("line 3: no DTSTART"));
    }
}
