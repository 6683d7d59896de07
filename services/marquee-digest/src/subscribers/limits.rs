//! How often subscribe requests are taken: per client address and per
//! mailbox, over a sliding hour, so nobody floods a mailbox with
//! confirmation mail. Counted in memory: a restart forgets them, and each
//! process of a distributed deployment counts its own.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::email::EmailAddress;

/// Subscribe requests taken from one client address in [`WINDOW`].
const PER_CLIENT: usize = 10;
/// Subscribe requests taken for one mailbox in [`WINDOW`].
const PER_MAILBOX: usize = 3;
const WINDOW: Duration = Duration::hours(1);
/// Past this many keys, those with nothing in the window are forgotten.
const SWEEP_AT: usize = 10_000;

/// A subscribe request refused by a limit: whose, and when the next is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// `true` for the mailbox's limit, `false` for the client's.
    pub mailbox: bool,
    /// When the next request is taken.
    pub until: DateTime<Utc>,
}

/// The instants of the requests taken per key within the window.
#[derive(Debug)]
struct Window {
    max: usize,
    taken: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl Window {
    fn new(max: usize) -> Self {
        Self {
            max,
            taken: Mutex::default(),
        }
    }

    /// `Ok` when `key` has had fewer than `max` requests in the window
    /// before `now`; else when it next will. Counts nothing.
    fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(times) = taken.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| *t + WINDOW <= now) {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= self.max => Err(*oldest + WINDOW),
            _ => Ok(()),
        }
    }

    fn record(&self, key: &str, now: DateTime<Utc>) {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if taken.len() >= SWEEP_AT {
            taken.retain(|_, times| times.back().is_some_and(|t| *t + WINDOW > now));
        }
        taken.entry(key.to_owned()).or_default().push_back(now);
    }
}

/// The per-client and per-mailbox limits of one process.
#[derive(Debug)]
pub struct SubscribeLimits {
    clients: Window,
    mailboxes: Window,
}

impl Default for SubscribeLimits {
    fn default() -> Self {
        Self {
            clients: Window::new(PER_CLIENT),
            mailboxes: Window::new(PER_MAILBOX),
        }
    }
}

impl SubscribeLimits {
    /// Takes a request from `client` (unknown when the server does not
    /// say, then only the mailbox counts) for `mailbox` at `now`, or says
    /// which limit it hit; a refused request counts toward neither.
    pub fn take(
        &self,
        client: Option<IpAddr>,
        mailbox: &EmailAddress,
        now: DateTime<Utc>,
    ) -> Result<(), Limited> {
        let client = client.map(|ip| ip.to_string());
        let mailbox = mailbox.as_str().to_lowercase();
        if let Some(client) = &client {
            self.clients.check(client, now).map_err(|until| Limited {
                mailbox: false,
                until,
            })?;
        }
        self.mailboxes
            .check(&mailbox, now)
            .map_err(|until| Limited {
                mailbox: true,
                until,
            })?;
        if let Some(client) = &client {
            self.clients.record(client, now);
        }
        self.mailboxes.record(&mailbox, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use marquee_runtime::clock::{Clock, SystemClock};

    use super::*;

    #[test]
    fn each_limit_holds_for_an_hour_from_the_oldest_request_it_counts() {
        let limits = SubscribeLimits::default();
        let now = SystemClock.now();
        let client = Some(IpAddr::from([192, 0, 2, 1]));
        let reader = EmailAddress::parse("reader@films.example").unwrap();
        for _ in 0..PER_MAILBOX {
            assert_eq!(limits.take(client, &reader, now), Ok(()));
        }
        let refused = limits.take(client, &reader, now).unwrap_err();
        assert_eq!(
            refused,
            Limited {
                mailbox: true,
                until: now + WINDOW
            }
        );
        assert_eq!(limits.take(client, &reader, now + WINDOW), Ok(()));

        // The client's own limit, across mailboxes; another client is free.
        let later = now + WINDOW * 3;
        for n in 0..PER_CLIENT {
            let other = EmailAddress::parse(&format!("r{n}@films.example")).unwrap();
            assert_eq!(limits.take(client, &other, later), Ok(()));
        }
        let refused = limits.take(client, &reader, later).unwrap_err();
        assert!(!refused.mailbox);
        assert_eq!(
            limits.take(Some(IpAddr::from([192, 0, 2, 2])), &reader, later),
            Ok(())
        );
    }
}
