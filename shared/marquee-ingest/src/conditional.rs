//! Conditional GET: the validators (`ETag`, `Last-Modified`) of the last
//! document processed at each URL, sent with the next request so an
//! unchanged source answers 304 and costs nothing. Beside the validators the
//! service keeps a memo of what the document yielded (e.g. the ids it
//! listed), since a 304 still means those items are listed.
//!
//! Remember a document only once everything in it went through: a failed
//! publish is then retried on the next poll instead of hidden behind a 304.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use marquee_fetch::{Document, FetchError, Fetched, Fetcher, Validators};
use url::Url;

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
    remembered: Mutex<HashMap<Url, (Validators, T)>>,
}

impl<T: Clone> Conditional<T> {
    /// Nothing remembered yet.
    pub fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            remembered: Mutex::default(),
        }
    }

    /// The fetcher, for documents read in full every time.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Fetches `url`, conditionally if a document from it was remembered.
    pub async fn get(&self, url: &Url) -> Result<Answer<T>, FetchError> {
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .cloned();
        match remembered {
            Some((validators, memo)) => match self.fetcher.get(url, Some(&validators)).await? {
                Fetched::NotModified => Ok(Answer::NotModified(memo)),
                Fetched::Document(document) => Ok(Answer::Document(document)),
            },
            None => self.fetcher.get_in_full(url).await.map(Answer::Document),
        }
    }

    /// Remembers `validators` and `memo` for the next GET of `url`.
    pub fn remember(&self, url: &Url, validators: Validators, memo: T) {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url.clone(), (validators, memo));
    }

    /// Forgets everything, so the next GETs read every document in full
    /// (a backfill).
    pub fn forget_all(&self) {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use marquee_test_support::Upstream;

    use super::*;

    #[tokio::test]
    async fn a_remembered_document_answers_304_with_its_memo_until_forgotten() {
        let upstream = Upstream::start().await;
        upstream.serve("/feed.xml", "application/rss+xml", "<rss/>");
        let url = upstream.url("/feed.xml");
        let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20, true, "test").unwrap();
        let conditional = Conditional::<Vec<String>>::new(fetcher);

        let Answer::Document(first) = conditional.get(&url).await.unwrap() else {
            panic!("nothing was remembered, so the document is read");
        };
        conditional.remember(&url, first.validators, vec!["a".to_owned()]);
        match conditional.get(&url).await.unwrap() {
            Answer::NotModified(memo) => assert_eq!(memo, ["a"]),
            Answer::Document(_) => panic!("an unchanged document answers 304"),
        }
        conditional.forget_all();
        assert!(matches!(
            conditional.get(&url).await.unwrap(),
            Answer::Document(_)
        ));
        assert_eq!(upstream.answers("/feed.xml"), [200, 304, 200]);
    }
}
