//! "Now", behind one trait: cron schedules, "this week", quiet hours,
//! backoff and every timestamp a store writes read it here, so a test that
//! pins the clock pins all of them. Nothing else in Marquee calls
//! `Utc::now()`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where a service reads the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// How services hold their clock: cheap to clone, shared by every store.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, the only one production uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that may read the system time
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}
