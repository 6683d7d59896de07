//! Fetching upstream documents defensively, shared by the ingest services:
//! http(s) only, public addresses only (unless allowed), a few redirects at
//! most, a time limit, a size cap enforced while streaming, text decoded from
//! its declared encoding, and conditional GET when validators are given.

mod error;

pub use error::FetchError;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::Context;
use encoding_rs::Encoding;
use regex::Regex;
use reqwest::header::{
    CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
};
use reqwest::{StatusCode, dns};
use url::{Host, Url};

/// Hops followed before giving up; CMSes need one or two at most.
const MAX_REDIRECTS: usize = 5;

/// Cache validators remembered for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` of the last copy processed.
    pub etag: Option<String>,
    /// `Last-Modified` of the last copy processed.
    pub last_modified: Option<String>,
}

/// What a fetch produced.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the copy processed last time is current.
    NotModified,
    /// A fresh document.
    Document(Document),
}

/// A fetched, decoded document.
#[derive(Debug)]
pub struct Document {
    /// Where it was found, after redirects: the base for relative links.
    pub url: Url,
    /// The text, decoded from its declared encoding.
    pub text: String,
    /// Validators for the next conditional GET.
    pub validators: Validators,
}

/// The HTTP client with the guards every upstream fetch goes through.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: usize,
    allow_private: bool,
}

impl Fetcher {
    /// A client with `timeout` per request and bodies capped at
    /// `max_body_bytes`, refusing private destinations unless
    /// `allow_private`. `user_agent` is the calling service's
    /// `product/version` token, so upstreams can tell the services apart.
    pub fn new(
        timeout: Duration,
        max_body_bytes: usize,
        allow_private: bool,
        user_agent: &str,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Redirects are followed by hand so every hop passes the guards.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent);
        if !allow_private {
            // Checked again at connect time, so a name that re-resolves to a
            // private address between our check and the connection is refused.
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build().context("Failed to build the HTTP client")?;
        Ok(Self {
            client,
            max_body_bytes,
            allow_private,
        })
    }

    /// GETs `url`, conditionally when `validators` are given. Without
    /// validators a 304 is not expected and is treated like any other
    /// redirect without a `Location`, so `Fetched::NotModified` is only ever
    /// returned to a conditional GET.
    #[tracing::instrument(skip(self, validators), fields(url = %url))]
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        self.get_accepting(url, validators, None).await
    }

    /// [`Fetcher::get_in_full`] asking for `accept` media types, e.g. an
    /// ActivityPub actor's `application/activity+json`, with `headers` on
    /// the request (a signature of it, say).
    pub async fn get_as(
        &self,
        url: &Url,
        accept: &str,
        headers: reqwest::header::HeaderMap,
    ) -> Result<Document, FetchError> {
        match self
            .get_accepting(url, None, Some((accept, headers)))
            .await?
        {
            Fetched::Document(document) => Ok(document),
            Fetched::NotModified => Err(FetchError::Status {
                url: url.to_string(),
                status: StatusCode::NOT_MODIFIED.as_u16(),
            }),
        }
    }

    /// POSTs `body` with `headers` to `url` through the same guards, no
    /// redirect followed (a signed request is for one URL); answers the
    /// status, or the error with the first bytes of the peer's reason.
    pub async fn post(
        &self,
        url: &Url,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
    ) -> Result<StatusCode, FetchError> {
        self.guard(url).await?;
        let response = self
            .client
            .post(url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| network(url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status);
        }
        let reason = response.text().await.unwrap_or_default();
        Err(FetchError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            reason: reason.chars().take(200).collect(),
        })
    }

    async fn get_accepting(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        accept: Option<(&str, reqwest::header::HeaderMap)>,
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut visited = HashSet::new();
        loop {
            self.guard(&current).await?;
            if !visited.insert(current.clone()) {
                return Err(redirect(url, format!("redirect loop back to {current}")));
            }
            let mut request = self.client.get(current.clone());
            if let Some((accept, headers)) = &accept {
                request = request
                    .header(reqwest::header::ACCEPT, *accept)
                    .headers(headers.clone());
            }
            if let Some(validators) = validators {
                if let Some(etag) = &validators.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(modified) = &validators.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, modified);
                }
            }
            let response = request.send().await.map_err(|e| network(&current, &e))?;
            let status = response.status();
            let not_modified = validators.is_some() && status == StatusCode::NOT_MODIFIED;
            if status.is_redirection() && !not_modified {
                if visited.len() > MAX_REDIRECTS {
                    return Err(redirect(
                        url,
                        format!("more than {MAX_REDIRECTS} redirects"),
                    ));
                }
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| redirect(url, format!("{status} without a Location")))?;
                current = current
                    .join(location)
                    .map_err(|e| redirect(url, format!("bad Location {location:?}: {e}")))?;
                continue;
            }
            if not_modified {
                return Ok(Fetched::NotModified);
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: current.to_string(),
                    status: status.as_u16(),
                });
            }
            return self.read(current, response).await.map(Fetched::Document);
        }
    }

    /// Fetches `url` unconditionally: the document, read in full. (Without
    /// validators no 304 is expected; one would be refused like any other
    /// redirect without a `Location`.)
    pub async fn get_in_full(&self, url: &Url) -> Result<Document, FetchError> {
        match self.get(url, None).await? {
            Fetched::Document(document) => Ok(document),
            Fetched::NotModified => Err(FetchError::Status {
                url: url.to_string(),
                status: StatusCode::NOT_MODIFIED.as_u16(),
            }),
        }
    }

    /// Refuses non-http(s) URLs and, unless allowed, private destinations.
    async fn guard(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme {
                url: url.to_string(),
            });
        }
        if self.allow_private {
            return Ok(());
        }
        let refused = || FetchError::PrivateAddress {
            host: url.host_str().unwrap_or_default().to_owned(),
        };
        match url.host() {
            Some(Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(refused()),
            Some(Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(refused()),
            Some(Host::Domain(domain)) => {
                let port = url.port_or_known_default().unwrap_or(80);
                let addrs = tokio::net::lookup_host((domain, port)).await.map_err(|e| {
                    FetchError::Network {
                        url: url.to_string(),
                        reason: format!("cannot resolve {domain}: {e}"),
                    }
                })?;
                let mut addrs = addrs.peekable();
                if addrs.peek().is_none() || addrs.any(|a| !is_public(a.ip())) {
                    return Err(refused());
                }
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err(FetchError::UnsupportedScheme {
                url: url.to_string(),
            }),
        }
    }

    /// Streams the body up to the cap and decodes it.
    async fn read(
        &self,
        url: Url,
        mut response: reqwest::Response,
    ) -> Result<Document, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit: self.max_body_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let content_type = header(CONTENT_TYPE);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| network(&url, &e))? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = decode(&body, content_type.as_deref())?;
        Ok(Document {
            url,
            text,
            validators,
        })
    }
}

/// Decodes `bytes` by its BOM, the `Content-Type` charset, an XML or HTML
/// declaration, else as UTF-8. Malformed bytes are an error, not U+FFFD,
/// so a mis-declared feed is noticed instead of published garbled. Public
/// for readers of documents that did not come over HTTP (the corpus tests).
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Result<String, FetchError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return decode_as(encoding, &bytes[bom..]);
    }
    let label = content_type
        .and_then(charset_param)
        .or_else(|| declared_charset(bytes));
    let encoding = match label {
        Some(label) => {
            Encoding::for_label(label.as_bytes()).ok_or(FetchError::UnknownEncoding { label })?
        }
        None => encoding_rs::UTF_8,
    };
    decode_as(encoding, bytes)
}

fn decode_as(encoding: &'static Encoding, bytes: &[u8]) -> Result<String, FetchError> {
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or(FetchError::InvalidEncoding {
            encoding: encoding.name(),
        })
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// The charset an XML declaration or HTML `<meta>` names near the start.
fn declared_charset(bytes: &[u8]) -> Option<String> {
    static DECLARED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?i)(?:<\?xml[^>]*\bencoding\s*=\s*["']|<meta[^>]*\bcharset\s*=\s*["']?)([A-Za-z0-9._:-]+)"#,
        )
        .ok()
    });
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]);
    let caps = DECLARED.as_ref()?.captures(&head)?;
    Some(caps.get(1)?.as_str().to_owned())
}

/// Whether `ip` is reachable on the public internet (not loopback, private,
/// link-local, shared, unspecified or documentation space).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl dns::Resolve for PublicOnly {
    fn resolve(&self, name: dns::Name) -> dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as dns::Addrs)
        })
    }
}

fn network(url: &Url, error: &reqwest::Error) -> FetchError {
    let reason = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        // reqwest's own message is generic; the cause chain says what failed.
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        reason
    };
    FetchError::Network {
        url: url.to_string(),
        reason,
    }
}

fn redirect(url: &Url, reason: String) -> FetchError {
    FetchError::Redirect {
        url: url.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encodings_are_honoured_or_refused() {
        assert_eq!(
            decode(b"caf\xe9", Some("text/html; charset=ISO-8859-1")).unwrap(),
            "café"
        );
        assert_eq!(
            decode(
                b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\x93q\x94</a>",
                None
            )
            .unwrap(),
            "<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\u{201c}q\u{201d}</a>"
        );
        assert!(matches!(
            decode(b"x", Some("text/xml; charset=x-klingon")),
            Err(FetchError::UnknownEncoding { .. })
        ));
        assert!(matches!(
            decode(b"caf\xe9", Some("text/html; charset=utf-8")),
            Err(FetchError::InvalidEncoding { .. })
        ));
        assert_eq!(decode("\u{feff}hé".as_bytes(), None).unwrap(), "hé");
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
