//! Waiting for work done elsewhere (a consumer, a process, a browser) without
//! fixed sleeps: poll a condition until it holds or a deadline passes, then
//! fail with what was last seen.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it returns `Some`, and returns that; panics after
/// `within`, naming `what` it waited for.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `read` until `done` holds for what it read, and returns that; panics
/// after `within` with `what` and the last value read.
pub async fn until_value<T, F, Fut>(
    what: &str,
    within: Duration,
    mut read: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + within;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}; last seen: {value:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
