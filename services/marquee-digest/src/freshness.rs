//! The freshness gate: before a gated schedule sends, the digest asks the
//! ingest services when each source was last read, and holds the digest
//! (and alerts) rather than send stale listings.

use marquee_admin::sources::SourceHealth;
use secrecy::ExposeSecret;

use crate::DigestService;

impl DigestService {
    /// Why a digest now would be stale (each stale source, and each health
    /// endpoint that could not be asked), or `None` when all are fresh.
    pub(crate) async fn stale_sources(&self, max_age_secs: u64) -> Option<String> {
        let freshness = &self.inner.settings.freshness;
        if freshness.urls.is_empty() {
            return Some(
                "the schedule is gated but [digest.freshness] urls is empty: no source can be checked"
                    .to_owned(),
            );
        }
        let now = self.now();
        let limit =
            chrono::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX / 2_000_000));
        let mut problems = Vec::new();
        for url in &freshness.urls {
            let mut request = self.inner.http.get(url.clone());
            if let Some(token) = &freshness.token {
                request = request.bearer_auth(token.expose_secret());
            }
            let answer = match request.send().await.and_then(|r| r.error_for_status()) {
                Ok(response) => response.json::<Vec<SourceHealth>>().await,
                Err(error) => Err(error),
            };
            let sources = match answer {
                Ok(sources) => sources,
                Err(error) => {
                    problems.push(format!("cannot ask {url}: {error}"));
                    continue;
                }
            };
            for source in sources {
                match source.last_success {
                    None => problems.push(format!("{} has never been read", source.name)),
                    Some(at) if now - at > limit => problems.push(format!(
                        "{} last read {} ago (limit {})",
                        source.name,
                        human(now - at),
                        human(limit)
                    )),
                    Some(_) => {}
                }
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

fn human(duration: chrono::Duration) -> String {
    let minutes = duration.num_minutes();
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}
