//! Rate limits as the networks state them: `Retry-After`, and the
//! remaining/reset headers each network spells its own way.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

/// How long a rate limit asks to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `Retry-After: SECONDS`.
    For(chrono::Duration),
    /// An HTTP date or a reset instant.
    Until(DateTime<Utc>),
}

impl Wait {
    /// The instant the wait ends, measured from `now`.
    pub(crate) fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::For(wait) => now + wait,
            Self::Until(at) => at.max(now),
        }
    }
}

const DEFAULT_WAIT: chrono::Duration = chrono::Duration::seconds(60);

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
}

/// A rate-limit reset: Unix seconds (X, Bluesky), or RFC 3339 (Mastodon).
fn parse_reset(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(seconds) = value.parse::<i64>() {
        return DateTime::from_timestamp(seconds, 0);
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

const REMAINING: [&str; 3] = [
    "x-ratelimit-remaining",
    "x-rate-limit-remaining",
    "ratelimit-remaining",
];
const RESET: [&str; 3] = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"];

/// When the rate limit is used up, when the response says so.
pub(super) fn exhausted_until(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let remaining: i64 = header(headers, &REMAINING)?.parse().ok()?;
    if remaining > 0 {
        return None;
    }
    parse_reset(header(headers, &RESET)?)
}

/// `Retry-After` (seconds or an HTTP date), else the rate-limit reset.
pub(super) fn wait_of(headers: &HeaderMap) -> Wait {
    if let Some(value) = header(headers, &["retry-after"]) {
        if let Ok(seconds) = value.parse::<i64>() {
            return Wait::For(chrono::Duration::seconds(seconds.max(0)));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value) {
            return Wait::Until(at.with_timezone(&Utc));
        }
    }
    header(headers, &RESET)
        .and_then(parse_reset)
        .map_or(Wait::For(DEFAULT_WAIT), Wait::Until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_come_from_retry_after_or_the_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().expect("header"));
        assert_eq!(wait_of(&headers), Wait::For(chrono::Duration::seconds(30)));
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-reset", "1736500000".parse().expect("header"));
        headers.insert("x-rate-limit-remaining", "0".parse().expect("header"));
        let reset = DateTime::from_timestamp(1_736_500_000, 0).expect("instant");
        assert_eq!(wait_of(&headers), Wait::Until(reset));
        assert_eq!(exhausted_until(&headers), Some(reset));
    }
}
