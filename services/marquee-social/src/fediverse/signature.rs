//! HTTP Signatures in the draft-cavage form Mastodon and Fedify use
//! (draft-cavage-http-signatures-12, RSASSA-PKCS1-v1_5 with SHA-256): what
//! this actor sends is signed over `(request-target) host date digest`, and
//! what its inbox receives must sign at least those; or, when a peer sends
//! them, RFC 9421 message signatures ([`super::rfc9421`]) covering the
//! method, the target and `content-digest`.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};

pub(crate) use super::rfc9421::{MessageSignature, Request};

/// What an inbox POST must sign: no more than Mastodon sends, and enough
/// that a signature cannot be moved to another body, path, host or time.
pub(crate) const REQUIRED: [&str; 4] = ["(request-target)", "host", "date", "digest"];

/// `SHA-256=…`, the `Digest` header (RFC 3230) of `body`.
pub(crate) fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// The HTTP date of `at`, as `Date` carries it.
pub(crate) fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The headers that sign a POST of `body` to `url` at `at` with `key`,
/// published as `key_id`: `Host`, `Date`, `Digest` and `Signature`.
pub(crate) fn sign_post(
    key_id: &str,
    key: &RsaPrivateKey,
    url: &url::Url,
    body: &[u8],
    at: DateTime<Utc>,
) -> HeaderMap {
    sign_request("post", key_id, key, url, Some(body), at)
}

/// The headers that sign a GET of `url` (`Host`, `Date`, `Signature` over
/// `(request-target) host date`): servers in Mastodon's authorized-fetch
/// mode answer only signed fetches of their actors and keys.
pub(crate) fn sign_get(
    key_id: &str,
    key: &RsaPrivateKey,
    url: &url::Url,
    at: DateTime<Utc>,
) -> HeaderMap {
    sign_request("get", key_id, key, url, None, at)
}

fn sign_request(
    method: &str,
    key_id: &str,
    key: &RsaPrivateKey,
    url: &url::Url,
    body: Option<&[u8]>,
    at: DateTime<Utc>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target = format!("{target}?{query}");
    }
    let mut signed = vec![("host", host), ("date", http_date(at))];
    if let Some(body) = body {
        signed.push(("digest", digest(body)));
    }
    let mut names = vec!["(request-target)".to_owned()];
    for (name, value) in signed {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
            names.push(name.to_owned());
        }
    }
    // Every name is one just inserted, so the signing string always exists.
    let text = signing_string(method, &target, &headers, &names).unwrap_or_default();
    let signature = sign(key, &text);
    let value = format!(
        r#"keyId="{key_id}",algorithm="rsa-sha256",headers="{}",signature="{signature}""#,
        names.join(" ")
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static("signature"), value);
    }
    headers
}

/// The base64 RSASSA-PKCS1-v1_5 SHA-256 signature of `text`.
pub(crate) fn sign(key: &RsaPrivateKey, text: &str) -> String {
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(text.as_bytes());
    BASE64.encode(signature.to_bytes())
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureHeader {
    /// The key's URL: its owner's actor document, or the key itself.
    pub key_id: String,
    /// The signed headers, lower-case, in order.
    pub headers: Vec<String>,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}

/// Why a request's signature cannot be checked or does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    /// No `Signature` header.
    #[error(
        "the request is not signed: an inbox takes only requests with an HTTP Signature (draft-cavage `Signature`, or RFC 9421 `Signature-Input` and `Signature`)"
    )]
    Unsigned,
    /// The header is not `name="value"` pairs with the needed names.
    #[error("the Signature header is malformed: {0}")]
    Malformed(String),
    /// An algorithm other than RSA with SHA-256.
    #[error(
        "the Signature header's algorithm `{0}` is not supported: sign with rsa-sha256 (or hs2019 with an RSA key)"
    )]
    Algorithm(String),
    /// A header that must be signed is not.
    #[error(
        "the signature does not cover `{0}`; it must sign (request-target), host, date and digest"
    )]
    Uncovered(&'static str),
    /// A signed header is absent from the request.
    #[error("the signature covers `{0}`, which the request does not have")]
    Missing(String),
    /// The key does not verify the signature.
    #[error("the signature does not verify with key {0}")]
    Forged(String),
}

impl SignatureError {
    /// A short, stable label for metrics and logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Malformed(_) | Self::Algorithm(_) | Self::Missing(_) => "malformed_signature",
            Self::Uncovered(_) => "uncovered",
            Self::Forged(_) => "forged",
        }
    }
}

impl SignatureHeader {
    /// The request's `Signature`, refusing one that does not sign what an
    /// inbox POST must.
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, SignatureError> {
        let value = headers.get("signature").ok_or(SignatureError::Unsigned)?;
        let value = value
            .to_str()
            .map_err(|_| SignatureError::Malformed("it is not ASCII".to_owned()))?;
        let parsed = Self::parse(value)?;
        for required in REQUIRED {
            if !parsed.headers.iter().any(|h| h == required) {
                return Err(SignatureError::Uncovered(required));
            }
        }
        Ok(parsed)
    }

    /// Parses `keyId="…",algorithm="…",headers="…",signature="…"`.
    pub(crate) fn parse(value: &str) -> Result<Self, SignatureError> {
        let malformed = |why: &str| SignatureError::Malformed(why.to_owned());
        let mut key_id = None;
        let mut headers = None;
        let mut signature = None;
        let mut rest = value.trim();
        while !rest.is_empty() {
            let (name, after) = rest
                .split_once('=')
                .ok_or_else(|| malformed("expected name=\"value\" pairs"))?;
            let name = name.trim();
            let after = after.trim_start();
            let (field, after) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| malformed("a quoted value is not closed"))?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                // `created` and `expires` are bare numbers.
                after.split_at(after.find(',').unwrap_or(after.len()))
            };
            match name {
                "keyId" => key_id = Some(field.to_owned()),
                "headers" => {
                    headers = Some(field.split_whitespace().map(str::to_lowercase).collect());
                }
                "signature" => {
                    signature = Some(
                        BASE64
                            .decode(field)
                            .map_err(|_| malformed("signature is not base64"))?,
                    );
                }
                "algorithm" if !matches!(field, "rsa-sha256" | "hs2019") => {
                    return Err(SignatureError::Algorithm(field.to_owned()));
                }
                _ => {}
            }
            rest = after.trim_start().trim_start_matches(',').trim_start();
        }
        Ok(Self {
            key_id: key_id.ok_or_else(|| malformed("it has no keyId"))?,
            // The draft's default is `date` alone.
            headers: headers.unwrap_or_else(|| vec!["date".to_owned()]),
            signature: signature.ok_or_else(|| malformed("it has no signature"))?,
        })
    }

    /// Checks the signature of the request `method target` with `headers`
    /// against `key`.
    pub(crate) fn verify(
        &self,
        key: &RsaPublicKey,
        method: &str,
        target: &str,
        headers: &HeaderMap,
    ) -> Result<(), SignatureError> {
        let text = signing_string(method, target, headers, &self.headers)?;
        let forged = || SignatureError::Forged(self.key_id.clone());
        let signature = Signature::try_from(self.signature.as_slice()).map_err(|_| forged())?;
        VerifyingKey::<Sha256>::new(key.clone())
            .verify(text.as_bytes(), &signature)
            .map_err(|_| forged())
    }
}

/// A request's signature in either form: RFC 9421 when it has a
/// `Signature-Input`, else draft-cavage.
pub(crate) enum Signed {
    /// draft-cavage's `Signature` header.
    Cavage(SignatureHeader),
    /// RFC 9421's `Signature-Input` and `Signature`.
    Message(MessageSignature),
}

impl Signed {
    /// The request's signature, refusing one that does not cover what an
    /// inbox POST must.
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, SignatureError> {
        if headers.contains_key("signature-input") {
            let signed = MessageSignature::of(headers)?;
            signed.require_inbox_coverage()?;
            return Ok(Self::Message(signed));
        }
        SignatureHeader::of(headers).map(Self::Cavage)
    }

    /// The signer's key.
    pub(crate) fn key_id(&self) -> &str {
        match self {
            Self::Cavage(signed) => &signed.key_id,
            Self::Message(signed) => &signed.key_id,
        }
    }

    /// The signature's bytes: what a replay repeats.
    pub(crate) fn signature(&self) -> &[u8] {
        match self {
            Self::Cavage(signed) => &signed.signature,
            Self::Message(signed) => &signed.signature,
        }
    }

    /// Checks the signature of `request` against `key`.
    pub(crate) fn verify(
        &self,
        key: &RsaPublicKey,
        request: &Request<'_>,
    ) -> Result<(), SignatureError> {
        match self {
            Self::Cavage(signed) => {
                signed.verify(key, request.method, request.target, request.headers)
            }
            Self::Message(signed) => signed.verify(key, request),
        }
    }
}

/// The draft's signing string: a `name: value` line per signed header.
pub(crate) fn signing_string(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    names: &[String],
) -> Result<String, SignatureError> {
    let mut text = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        if name == "(request-target)" {
            let _ = write!(text, "(request-target): {} {target}", method.to_lowercase());
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return Err(SignatureError::Missing(name.clone()));
        }
        let _ = write!(text, "{name}: {}", values.join(", "));
    }
    Ok(text)
}

/// A public key as actors publish it: SPKI PEM (`BEGIN PUBLIC KEY`), or
/// PKCS#1 (`BEGIN RSA PUBLIC KEY`) as some older servers do.
pub(crate) fn public_key(pem: &str) -> Option<RsaPublicKey> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .ok()
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1::DecodeRsaPrivateKey;

    use super::*;

    /// The test key of draft-cavage-http-signatures, Appendix C.
    const TEST_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----";

    /// The request of the draft's "All Headers" test (C.3, -08).
    fn test_request() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "example.com"),
            ("date", "Thu, 05 Jan 2014 21:31:40 GMT"),
            ("content-type", "application/json"),
            (
                "digest",
                "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            ),
            ("content-length", "18"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers
    }

    fn names() -> Vec<String> {
        "(request-target) host date content-type digest content-length"
            .split(' ')
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn signs_the_drafts_all_headers_test_as_it_says() {
        assert_eq!(
            digest(br#"{"hello": "world"}"#),
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
        );
        let key = RsaPrivateKey::from_pkcs1_pem(TEST_KEY).expect("the draft's key parses");
        let text = signing_string(
            "POST",
            "/foo?param=value&pet=dog",
            &test_request(),
            &names(),
        )
        .expect("every header is there");
        assert_eq!(
            sign(&key, &text),
            "Ef7MlxLXoBovhil3AlyjtBwAL9g4TN3tibLj7uuNB3CROat/9KaeQ4hW2NiJ+pZ6HQEOx9vYZAyi+7cmIkmJszJCut5kQLAwuX+Ms/mUFvpKlSo9StS2bMXDBNjOh4Auj774GFj4gwjS+3NhFeoqyr/MuN6HsEnkvn6zdgfE2i0="
        );
    }

    #[test]
    fn verifies_a_signature_and_refuses_it_moved_or_altered() {
        let key = RsaPrivateKey::from_pkcs1_pem(TEST_KEY).expect("the draft's key parses");
        let url = url::Url::parse("https://example.com:8443/inbox").expect("valid URL");
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid instant");
        let headers = sign_post("https://example.com/actor#key", &key, &url, b"{}", at);
        assert_eq!(headers["host"], "example.com:8443");
        let parsed = SignatureHeader::of(&headers).expect("all four signed");
        assert_eq!(parsed.key_id, "https://example.com/actor#key");
        let public = key.to_public_key();
        assert_eq!(parsed.verify(&public, "POST", "/inbox", &headers), Ok(()));
        assert_eq!(
            parsed.verify(&public, "POST", "/other/inbox", &headers),
            Err(SignatureError::Forged(
                "https://example.com/actor#key".to_owned()
            ))
        );
        let mut altered = headers.clone();
        altered.insert("digest", HeaderValue::from_static("SHA-256=AAAA"));
        assert!(matches!(
            parsed.verify(&public, "POST", "/inbox", &altered),
            Err(SignatureError::Forged(_))
        ));
    }

    #[test]
    fn refuses_signatures_that_leave_out_what_an_inbox_needs() {
        let mut headers = test_request();
        assert_eq!(SignatureHeader::of(&headers), Err(SignatureError::Unsigned));
        headers.insert(
            "signature",
            HeaderValue::from_static(
                r#"keyId="k",headers="(request-target) host date",signature="AA==""#,
            ),
        );
        assert_eq!(
            SignatureHeader::of(&headers),
            Err(SignatureError::Uncovered("digest"))
        );
        headers.insert(
            "signature",
            HeaderValue::from_static(r#"keyId="k",algorithm="ed25519",signature="AA==""#),
        );
        assert_eq!(
            SignatureHeader::of(&headers),
            Err(SignatureError::Algorithm("ed25519".to_owned()))
        );
        assert!(matches!(
            SignatureHeader::parse(r#"keyId="k",signature="AA=="#),
            Err(SignatureError::Malformed(_))
        ));
    }
}
