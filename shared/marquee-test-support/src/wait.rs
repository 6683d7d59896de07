//! Waiting for work done elsewhere (a consumer, a process, a browser) without
//! fixed sleeps: poll a condition until it holds or a deadline passes, then
//! fail with what was last seen.
//!
//! [`until`] and [`until_value`] poll async probes; [`until_true`] a plain
//! condition from async code (a recorder's count); [`blocking_until`] is
//! [`until`] for code that is not async (starting a child process).

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

/// Polls `holds`, a condition that needs no `.await` (what a handler
/// recorded), until it is true; panics after `within`, naming `what`.
pub async fn until_true(what: &str, within: Duration, mut holds: impl FnMut() -> bool) {
    until(what, within, || std::future::ready(holds().then_some(()))).await;
}

/// [`until`] for code that is not async: blocks the thread between looks.
pub fn blocking_until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn until_returns_what_the_probe_found() {
        let looks = Cell::new(0);
        let found = until("the third look", Duration::from_secs(5), || {
            looks.set(looks.get() + 1);
            std::future::ready((looks.get() == 3).then_some("found"))
        })
        .await;
        assert_eq!((found, looks.get()), ("found", 3));
    }

    #[tokio::test]
    #[should_panic(expected = "waiting until never; last seen: 7")]
    async fn until_value_names_the_last_value_seen() {
        until_value(
            "never",
            Duration::from_millis(120),
            || std::future::ready(7),
            |seen| *seen > 7,
        )
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "waiting until it holds")]
    async fn until_true_fails_after_its_deadline() {
        until_true("it holds", Duration::from_millis(120), || false).await;
    }

    #[test]
    fn blocking_until_polls_without_a_runtime() {
        let mut looks = 0;
        let found = blocking_until("the second look", Duration::from_secs(5), || {
            looks += 1;
            (looks == 2).then_some(looks)
        });
        assert_eq!(found, 2);
    }
}
