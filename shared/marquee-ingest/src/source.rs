//! A configured source as the core sees it: a name, a kind, where it is
//! read from and how often. Each service's settings implement [`Source`].

use std::time::Duration;

use crate::health::SourceRef;

/// One configured source of an ingest service.
pub trait Source: Clone + Send + Sync + 'static {
    /// The unique name: it keys the ledger, the health records, logs and
    /// metrics.
    fn name(&self) -> &str;
    /// What kind of source it is, as its settings name it (`feed`, `ics`, …).
    fn kind(&self) -> &str;
    /// Where it is read from.
    fn url(&self) -> &url::Url;
    /// Time between polls.
    fn poll_interval(&self) -> Duration;

    /// The source as its health record names it.
    fn health_ref(&self) -> SourceRef {
        SourceRef {
            name: self.name().to_owned(),
            kind: self.kind().to_owned(),
            url: self.url().to_string(),
        }
    }
}
