//! Conditional GET: the validators (`ETag`, `Last-Modified`) of the last
//! document processed at each URL, sent with the next request so an
//! unchanged source answers 304 and costs nothing. Beside the validators the
//! service keeps a memo of what the document yielded (the ids a feed listed,
//! or a calendar's text), since a 304 still means that is what it says.
//!
//! Both are kept in the service's database (`ingest_validators`), so a
//! restart does not re-read every source in full. Remember a document only
//! once everything in it went through: a failed publish is then retried on
//! the next poll instead of hidden behind a 304.

use std::marker::PhantomData;

use anyhow::Context;
use marquee_fetch::{Document, FetchError, Fetched, Fetcher, Validators};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AnyPool, Row};
use url::Url;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ingest_validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    memo TEXT NOT NULL
)";

/// What a conditional GET answered.
#[derive(Debug)]
pub enum Answer<T> {
    /// A fresh document.
    Document(Document),
    /// 304: the copy processed last time is current; here is its memo.
    NotModified(T),
}

/// A [`Fetcher`] that remembers validators (and a memo) per URL.
#[derive(Debug)]
pub struct Conditional<T> {
    fetcher: Fetcher,
    pool: AnyPool,
    memo: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Conditional<T> {
    /// Conditional GET with `fetcher`, remembering in `pool` (the service's
    /// database, as its `store/` opened it).
    pub async fn open(fetcher: Fetcher, pool: &AnyPool) -> anyhow::Result<Self> {
        crate::store::create(pool, &[SCHEMA], "the ingest_validators table").await?;
        Ok(Self {
            fetcher,
            pool: pool.clone(),
            memo: PhantomData,
        })
    }

    /// The fetcher, for documents read in full every time.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Fetches `url`, conditionally if a document from it was remembered.
    /// What cannot be recalled (the database is down, a memo no longer
    /// decodes) is read in full: a full read is always safe.
    pub async fn get(&self, url: &Url) -> Result<Answer<T>, FetchError> {
        let remembered = self.recall(url).await.unwrap_or_else(|error| {
            tracing::warn!(%url, error = format!("{error:#}"), "Reading in full: could not recall the last copy's validators");
            None
        });
        match remembered {
            Some((validators, memo)) => match self.fetcher.get(url, Some(&validators)).await? {
                Fetched::NotModified => Ok(Answer::NotModified(memo)),
                Fetched::Document(document) => Ok(Answer::Document(document)),
            },
            None => self.fetcher.get_in_full(url).await.map(Answer::Document),
        }
    }

    async fn recall(&self, url: &Url) -> anyhow::Result<Option<(Validators, T)>> {
        let row =
            sqlx::query("SELECT etag, last_modified, memo FROM ingest_validators WHERE url = $1")
                .bind(url.as_str())
                .fetch_optional(&self.pool)
                .await
                .context("Failed to read ingest_validators")?;
        let Some(row) = row else { return Ok(None) };
        let validators = Validators {
            etag: row.try_get("etag")?,
            last_modified: row.try_get("last_modified")?,
        };
        let memo: String = row.try_get("memo")?;
        let memo = serde_json::from_str(&memo).context("The remembered memo does not decode")?;
        Ok(Some((validators, memo)))
    }

    /// Remembers `validators` and `memo` for the next GET of `url`. A
    /// document without validators is not remembered (nothing to send). A
    /// failure to remember is logged: the next read is then in full.
    pub async fn remember(&self, url: &Url, validators: Validators, memo: &T) {
        if validators == Validators::default() {
            return self.forget(url).await;
        }
        let result = async {
            let memo = serde_json::to_string(memo).context("Failed to encode the memo")?;
            sqlx::query(
                "INSERT INTO ingest_validators (url, etag, last_modified, memo)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                    last_modified = excluded.last_modified, memo = excluded.memo",
            )
            .bind(url.as_str())
            .bind(validators.etag)
            .bind(validators.last_modified)
            .bind(memo)
            .execute(&self.pool)
            .await
            .context("Failed to write ingest_validators")?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%url, error = format!("{error:#}"), "Could not remember a document's validators; its next read is in full");
        }
    }

    /// Forgets `url`, so its next GET reads it in full (its document was not
    /// processed whole).
    pub async fn forget(&self, url: &Url) {
        self.delete(Some(url)).await;
    }

    /// Forgets everything, so the next GETs read every document in full
    /// (a backfill).
    pub async fn forget_all(&self) {
        self.delete(None).await;
    }

    async fn delete(&self, url: Option<&Url>) {
        let query = match url {
            Some(url) => {
                sqlx::query("DELETE FROM ingest_validators WHERE url = $1").bind(url.as_str())
            }
            None => sqlx::query("DELETE FROM ingest_validators"),
        };
        if let Err(error) = query.execute(&self.pool).await {
            tracing::warn!(error = %error, "Could not forget validators");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use marquee_test_support::Upstream;

    use super::*;

    async fn open(dir: &std::path::Path) -> Conditional<Vec<String>> {
        let url = format!("sqlite://{}", dir.join("ingest.db").display());
        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20, true, "test").unwrap();
        Conditional::open(fetcher, &pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_remembered_document_answers_304_with_its_memo_across_restarts_until_forgotten() {
        let upstream = Upstream::start().await;
        upstream.serve("/feed.xml", "application/rss+xml", "<rss/>");
        let url = upstream.url("/feed.xml");
        let dir = tempfile::tempdir().unwrap();
        let conditional = open(dir.path()).await;

        let Answer::Document(first) = conditional.get(&url).await.unwrap() else {
            panic!("nothing was remembered, so the document is read");
        };
        conditional
            .remember(&url, first.validators, &vec!["a".to_owned()])
            .await;
        drop(conditional);
        let conditional = open(dir.path()).await;
        match conditional.get(&url).await.unwrap() {
            Answer::NotModified(memo) => assert_eq!(memo, ["a"]),
            Answer::Document(_) => panic!("an unchanged document answers 304 after a restart"),
        }
        conditional.forget_all().await;
        assert!(matches!(
            conditional.get(&url).await.unwrap(),
            Answer::Document(_)
        ));
        assert_eq!(upstream.answers("/feed.xml"), [200, 304, 200]);
    }
}
