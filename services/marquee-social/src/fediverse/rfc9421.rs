//! HTTP Message Signatures (RFC 9421), as newer fediverse servers sign:
//! `Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=…;keyid="…"`
//! with `Signature: sig1=:BASE64:`, checked with the signer's RSA key
//! (`rsa-v1_5-sha256`, or `rsa-pss-sha512`). Only the components an inbox
//! POST needs are understood: derived `@method`, `@target-uri`,
//! `@authority`, `@scheme`, `@path`, `@query`, `@request-target`, and plain
//! header fields; a component with parameters is refused by name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::HeaderMap;
use rsa::RsaPublicKey;
use rsa::signature::Verifier;
use sha2::{Sha256, Sha512};

use super::signature::SignatureError;

/// One message signature: the first label of `Signature-Input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageSignature {
    /// The covered components, in order.
    pub components: Vec<String>,
    /// The inner list with its parameters, exactly as received: the
    /// `@signature-params` line signs it byte for byte.
    params: String,
    /// The `keyid` parameter.
    pub key_id: String,
    /// The `created` parameter, in seconds since the epoch.
    pub created: Option<i64>,
    /// The `alg` parameter, when given.
    algorithm: Option<String>,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}

/// Where a request was received, for the derived components.
pub(crate) struct Request<'a> {
    /// `POST`.
    pub method: &'a str,
    /// `https` or `http`: the public URL's, as the peer addressed it.
    pub scheme: &'a str,
    /// The path and query.
    pub target: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
}

fn malformed(why: impl Into<String>) -> SignatureError {
    SignatureError::Malformed(why.into())
}

impl MessageSignature {
    /// Parses the request's `Signature-Input` and the `Signature` of the
    /// same label.
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, SignatureError> {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .ok_or_else(|| malformed(format!("the {name} header is missing or not ASCII")))
        };
        let input = text("signature-input")?;
        let (label, params) = input
            .split_once('=')
            .ok_or_else(|| malformed("Signature-Input is not label=(…)"))?;
        // Only the first signature is read: its list ends at the first `,`
        // outside quotes.
        let params = first_member(params);
        let inner_end = params
            .find(')')
            .filter(|_| params.starts_with('('))
            .ok_or_else(|| malformed("Signature-Input's components are not a (…) list"))?;
        let mut components = Vec::new();
        for item in params[1..inner_end].split_whitespace() {
            let name = item
                .strip_prefix('"')
                .and_then(|i| i.strip_suffix('"'))
                .ok_or_else(|| {
                    malformed(format!(
                        "component {item} is not a plain quoted name (parameters such as ;sf or ;req are not supported)"
                    ))
                })?;
            components.push(name.to_owned());
        }
        let mut key_id = None;
        let mut created = None;
        let mut algorithm = None;
        for param in params[inner_end + 1..].split(';').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let unquoted = value.trim_matches('"').to_owned();
            match name {
                "keyid" => key_id = Some(unquoted),
                "alg" => algorithm = Some(unquoted),
                "created" => {
                    created = Some(
                        value
                            .parse()
                            .map_err(|_| malformed(format!("created={value} is not a number")))?,
                    );
                }
                _ => {}
            }
        }
        let signatures = text("signature")?;
        let signature = signatures
            .split(',')
            .map(str::trim)
            .find_map(|member| {
                member
                    .strip_prefix(label.trim())
                    .and_then(|r| r.strip_prefix('='))
            })
            .ok_or_else(|| malformed(format!("the Signature header has no {label}")))?;
        let signature = signature
            .strip_prefix(':')
            .and_then(|s| s.strip_suffix(':'))
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or_else(|| malformed(format!("signature {label} is not :base64:")))?;
        Ok(Self {
            components,
            params: params.to_owned(),
            key_id: key_id.ok_or_else(|| malformed("Signature-Input has no keyid"))?,
            created,
            algorithm,
            signature,
        })
    }

    /// Refuses a signature that does not cover what an inbox POST must:
    /// the method, the target, the body's digest and its own time (without
    /// `created`, a replay would be fresh for ever).
    pub(crate) fn require_inbox_coverage(&self) -> Result<(), SignatureError> {
        if self.created.is_none() {
            return Err(SignatureError::Uncovered("created"));
        }
        let covers = |name: &str| self.components.iter().any(|c| c == name);
        if !covers("@method") {
            return Err(SignatureError::Uncovered("@method"));
        }
        if !(covers("@target-uri") || covers("@path") || covers("@request-target")) {
            return Err(SignatureError::Uncovered("@target-uri"));
        }
        if !covers("content-digest") {
            return Err(SignatureError::Uncovered("content-digest"));
        }
        Ok(())
    }

    /// The signature base (RFC 9421 §2.5) of `request`.
    pub(crate) fn base(&self, request: &Request<'_>) -> Result<String, SignatureError> {
        let authority = request
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_lowercase)
            .ok_or_else(|| SignatureError::Missing("host".to_owned()))?;
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target, ""));
        let mut lines = Vec::with_capacity(self.components.len() + 1);
        for name in &self.components {
            let value = match name.as_str() {
                "@method" => request.method.to_uppercase(),
                "@scheme" => request.scheme.to_owned(),
                "@authority" => authority.clone(),
                "@target-uri" => format!("{}://{authority}{}", request.scheme, request.target),
                "@request-target" => request.target.to_owned(),
                "@path" => path.to_owned(),
                "@query" => format!("?{query}"),
                derived if derived.starts_with('@') => {
                    return Err(malformed(format!(
                        "component {derived} is not supported here"
                    )));
                }
                field => {
                    let values: Vec<&str> = request
                        .headers
                        .get_all(field)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .map(str::trim)
                        .collect();
                    if values.is_empty() {
                        return Err(SignatureError::Missing(field.to_owned()));
                    }
                    values.join(", ")
                }
            };
            lines.push(format!("\"{name}\": {value}"));
        }
        lines.push(format!("\"@signature-params\": {}", self.params));
        Ok(lines.join("\n"))
    }

    /// Checks the signature of `request` against `key`, with the `alg`
    /// named, else either RSA algorithm.
    pub(crate) fn verify(
        &self,
        key: &RsaPublicKey,
        request: &Request<'_>,
    ) -> Result<(), SignatureError> {
        let base = self.base(request)?;
        let forged = || SignatureError::Forged(self.key_id.clone());
        let v1_5 = || {
            let signature = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice()).ok()?;
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                .verify(base.as_bytes(), &signature)
                .ok()
        };
        let pss = || {
            let signature = rsa::pss::Signature::try_from(self.signature.as_slice()).ok()?;
            rsa::pss::VerifyingKey::<Sha512>::new(key.clone())
                .verify(base.as_bytes(), &signature)
                .ok()
        };
        let verified = match self.algorithm.as_deref() {
            Some("rsa-v1_5-sha256") => v1_5(),
            Some("rsa-pss-sha512") => pss(),
            Some(other) => return Err(SignatureError::Algorithm(other.to_owned())),
            None => v1_5().or_else(pss),
        };
        verified.ok_or_else(forged)
    }
}

/// The first member of a structured-field dictionary's remainder: up to a
/// `,` outside quotes.
fn first_member(text: &str) -> &str {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return text[..i].trim(),
            _ => {}
        }
    }
    text.trim()
}

/// Whether `Content-Digest` (RFC 9530) has a SHA-256 or SHA-512 digest and
/// each it has matches `body`; `Err` says what is wrong.
pub(crate) fn check_content_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    use sha2::Digest as _;
    let header = headers
        .get("content-digest")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| "is missing".to_owned())?;
    let mut checked = false;
    for member in header.split(',') {
        let Some((algorithm, value)) = member.trim().split_once('=') else {
            continue;
        };
        let expected = match algorithm {
            "sha-256" => BASE64.encode(Sha256::digest(body)),
            "sha-512" => BASE64.encode(Sha512::digest(body)),
            _ => continue,
        };
        if value.trim_matches(':') != expected {
            return Err(format!("{algorithm} does not match the body"));
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(format!("{header:?} has no sha-256 or sha-512 digest"))
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use rsa::pkcs8::DecodePublicKey;

    use super::*;

    /// `test-key-rsa-pss` of RFC 9421, Appendix B.1.2.
    const TEST_KEY_RSA_PSS: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----";

    /// The `test-request` of Appendix B.2 with the signature of B.2.3
    /// ("full coverage", rsa-pss-sha512).
    fn test_request() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "example.com"),
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("content-type", "application/json"),
            (
                "content-digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            ),
            ("content-length", "18"),
            (
                "signature-input",
                r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#,
            ),
            (
                "signature",
                "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
            ),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers
    }

    fn request(headers: &HeaderMap) -> Request<'_> {
        Request {
            method: "POST",
            scheme: "https",
            target: "/foo?param=Value&Pet=dog",
            headers,
        }
    }

    #[test]
    fn verifies_the_rfcs_full_coverage_example() {
        let headers = test_request();
        let signed = MessageSignature::of(&headers).expect("the example parses");
        assert_eq!(signed.key_id, "test-key-rsa-pss");
        assert_eq!(signed.created, Some(1_618_884_473));
        let base = signed
            .base(&request(&headers))
            .expect("every component is there");
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@query\": ?param=Value&Pet=dog\n\"@authority\": example.com\n\"content-type\": application/json\n\"content-digest\": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n\"content-length\": 18\n\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\""
        );
        let key = RsaPublicKey::from_public_key_pem(TEST_KEY_RSA_PSS).expect("the RFC's key");
        assert_eq!(signed.verify(&key, &request(&headers)), Ok(()));
        assert_eq!(signed.require_inbox_coverage(), Ok(()));
        assert_eq!(
            check_content_digest(&headers, br#"{"hello": "world"}"#),
            Ok(())
        );
        assert!(check_content_digest(&headers, b"{}").is_err());

        let mut moved = headers.clone();
        moved.insert("host", HeaderValue::from_static("example.org"));
        assert_eq!(
            signed.verify(&key, &request(&moved)),
            Err(SignatureError::Forged("test-key-rsa-pss".to_owned()))
        );
    }

    #[test]
    fn refuses_signatures_an_inbox_cannot_trust() {
        let mut headers = test_request();
        headers.insert(
            "signature-input",
            HeaderValue::from_static(r#"sig1=("@method" "@path");created=1;keyid="k""#),
        );
        headers.insert("signature", HeaderValue::from_static("sig1=:AAAA:"));
        let signed = MessageSignature::of(&headers).expect("parses");
        assert_eq!(
            signed.require_inbox_coverage(),
            Err(SignatureError::Uncovered("content-digest"))
        );
        headers.insert(
            "signature-input",
            HeaderValue::from_static(r#"sig1=("@method" "@path" "content-digest");keyid="k""#),
        );
        let signed = MessageSignature::of(&headers).expect("parses");
        assert_eq!(
            signed.require_inbox_coverage(),
            Err(SignatureError::Uncovered("created"))
        );
        headers.insert(
            "signature-input",
            HeaderValue::from_static(r#"sig1=("@method" "content-digest";sf);keyid="k""#),
        );
        assert!(
            matches!(MessageSignature::of(&headers), Err(SignatureError::Malformed(m)) if m.contains(";sf"))
        );
        headers.insert(
            "signature-input",
            HeaderValue::from_static(r#"sig1=("@method");created=1"#),
        );
        assert!(
            matches!(MessageSignature::of(&headers), Err(SignatureError::Malformed(m)) if m.contains("keyid"))
        );
    }
}
