//! Rendered feeds kept in memory, ready to serve: every format with its
//! validators, and each coding compressed once, for the first request that
//! asks for it, so a 200 or 304 costs a map lookup and a copy of
//! reference-counted bytes.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::Context;
use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use marquee_events::ReviewId;

use crate::render::Fragments;

/// A content coding the client accepts and a representation is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The best coding `accept_encoding` allows: brotli, then gzip.
    pub(crate) fn negotiate(accept_encoding: Option<&str>) -> Self {
        let Some(header) = accept_encoding else {
            return Self::Identity;
        };
        let (mut br, mut gzip, mut any) = (None, None, None);
        for item in header.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            let slot = if coding.eq_ignore_ascii_case("br") {
                &mut br
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if coding == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = Some(quality);
        }
        let accepts = |q: Option<f32>| q.or(any).is_some_and(|q| q > 0.0);
        if accepts(br) {
            Self::Brotli
        } else if accepts(gzip) {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    pub(crate) fn content_encoding(self) -> Option<HeaderValue> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Brotli => Some(HeaderValue::from_static("br")),
        }
    }
}

/// One format of one feed, with its validators; its compressed codings are
/// made on the first request that asks for each, once per rendering.
#[derive(Debug)]
pub(crate) struct Representation {
    body: Bytes,
    /// Identity, gzip, brotli.
    etags: [HeaderValue; 3],
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
    pub(crate) last_modified: Option<HeaderValue>,
    pub(crate) modified_at: Option<DateTime<Utc>>,
}

impl Representation {
    /// Keeps `body` and derives its ETags.
    ///
    /// Each coding gets its own strong ETag (`"<sha256>"`, `"<sha256>-gzip"`,
    /// `"<sha256>-br"`): strong ETags promise byte-identical bodies, which
    /// differently compressed bodies are not. All three come from the body,
    /// so a 304 never compresses.
    pub(crate) fn new(body: Vec<u8>, modified_at: Option<DateTime<Utc>>) -> anyhow::Result<Self> {
        let digest = hex::encode(Sha256::digest(&body));
        let etag = |suffix: &str| {
            HeaderValue::try_from(format!("\"{digest}{suffix}\""))
                .context("Failed to build an ETag")
        };
        let last_modified = modified_at
            .map(|time| HeaderValue::try_from(http_date(time)))
            .transpose()
            .context("Failed to build Last-Modified")?;
        Ok(Self {
            body: Bytes::from(body),
            etags: [etag("")?, etag("-gzip")?, etag("-br")?],
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            last_modified,
            modified_at,
        })
    }

    /// The ETag of `encoding`.
    pub(crate) fn etag(&self, encoding: Encoding) -> &HeaderValue {
        match encoding {
            Encoding::Identity => &self.etags[0],
            Encoding::Gzip => &self.etags[1],
            Encoding::Brotli => &self.etags[2],
        }
    }

    /// The body in `encoding`, compressed now if no request asked for it
    /// since this rendering. Compressing every coding of every document at
    /// each change was a fifth of the consumer's work in a burst (`scripts/
    /// scale`), for codings the next change replaced unread.
    pub(crate) fn encoded(&self, encoding: Encoding) -> anyhow::Result<Bytes> {
        let cell = match encoding {
            Encoding::Identity => return Ok(self.body.clone()),
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => &self.brotli,
        };
        if let Some(body) = cell.get() {
            return Ok(body.clone());
        }
        let body = if encoding == Encoding::Gzip {
            gzip(&self.body)
        } else {
            brotli(&self.body)
        }
        .context("Failed to compress a feed")?;
        // Two first requests at once both compress; one result is kept.
        Ok(cell.get_or_init(|| Bytes::from(body)).clone())
    }

    /// The uncompressed body.
    pub(crate) fn body(&self) -> &Bytes {
        &self.body
    }

    /// Whether `if_none_match` names any coding of this representation.
    ///
    /// If-None-Match uses weak comparison (RFC 9110 §13.1.2), so a `W/`
    /// prefix (added by some proxies) still matches.
    pub(crate) fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*"
                || self
                    .etags
                    .iter()
                    .any(|etag| tag.trim_start_matches("W/").as_bytes() == etag.as_bytes())
        })
    }
}

/// Every format of one document (a feed's three, a venue's three and its
/// calendar, ...), by file extension, as rendered at one moment, and its
/// items' fragments for the next rendering.
/// Representations are shared with the next rendering when their body did
/// not change, with what they have compressed.
#[derive(Debug)]
pub(crate) struct RenderedFeed {
    pub(crate) rendered_at: Instant,
    representations: Vec<(&'static str, Arc<Representation>)>,
    pub(crate) fragments: Fragments,
    /// The reviews its screenings link, live or not yet: a change to one
    /// re-renders it.
    pub(crate) linked_reviews: HashSet<ReviewId>,
}

impl RenderedFeed {
    pub(crate) fn new(
        representations: Vec<(&'static str, Arc<Representation>)>,
        fragments: Fragments,
        linked_reviews: HashSet<ReviewId>,
    ) -> Self {
        Self {
            rendered_at: Instant::now(),
            representations,
            fragments,
            linked_reviews,
        }
    }

    /// The representation served at `extension`, if this document has one.
    pub(crate) fn get(&self, extension: &str) -> Option<&Arc<Representation>> {
        self.representations
            .iter()
            .find(|(ext, _)| *ext == extension)
            .map(|(_, representation)| representation)
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(body)?;
    gzip.finish()
}

fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut brotli = Vec::new();
    {
        // Quality 5 of 11: several times faster than 9, a little larger.
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 5, 22);
        writer.write_all(body)?;
    }
    Ok(brotli)
}

/// IMF-fixdate, the HTTP date format.
fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        let n = |h| Encoding::negotiate(Some(h));
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(n("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(n("gzip"), Encoding::Gzip);
        assert_eq!(n("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(n("*;q=0"), Encoding::Identity);
        assert_eq!(n("*"), Encoding::Brotli);
        assert_eq!(n("identity"), Encoding::Identity);
    }

    #[test]
    fn etags_match_any_coding_weakly() {
        let rep = Representation::new(b"<rss/>".to_vec(), None).expect("compresses");
        let digest = hex::encode(Sha256::digest(b"<rss/>"));
        assert!(rep.matches(&format!("\"{digest}\"")));
        assert!(rep.matches(&format!("W/\"{digest}-gzip\"")));
        assert!(rep.matches(&format!("\"other\", \"{digest}-br\"")));
        assert!(rep.matches("*"));
        assert!(!rep.matches("\"other\""));
    }
}
