//! Why a fetch was refused or failed.

/// A refused or failed fetch. [`FetchError::kind`] gives a stable label for
/// metrics.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not http(s).
    #[error("refusing {url}: only http and https URLs can be fetched")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// The host is (or resolves to) a loopback, private or link-local address.
    #[error(
        "refusing {host}: it resolves to a loopback or private address (set allow_private_addresses = true for local sources)"
    )]
    PrivateAddress {
        /// The host.
        host: String,
    },
    /// The request failed: DNS, connection, TLS or timeout.
    #[error("fetching {url} failed: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The server refused a POST, saying why.
    #[error("{url} answered HTTP {status}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer's body.
        reason: String,
    },
    /// Redirects went round in a circle or on for too long.
    #[error("{url}: {reason}")]
    Redirect {
        /// The URL first asked for.
        url: String,
        /// Loop, too many hops, or a bad `Location`.
        reason: String,
    },
    /// The body is larger than `max_body_bytes`.
    #[error("{url} sent more than {limit} bytes (raise max_body_bytes if this is legitimate)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The document declares a character encoding we do not know.
    #[error("unknown character encoding {label:?}")]
    UnknownEncoding {
        /// The declared label.
        label: String,
    },
    /// The bytes are not valid in the declared encoding.
    #[error("the document is not valid {encoding}")]
    InvalidEncoding {
        /// The encoding it claims.
        encoding: &'static str,
    },
}

impl FetchError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedScheme { .. } => "unsupported_scheme",
            Self::PrivateAddress { .. } => "private_address",
            Self::Network { .. } => "network",
            Self::Status { .. } | Self::Refused { .. } => "http_status",
            Self::Redirect { .. } => "redirect",
            Self::TooLarge { .. } => "too_large",
            Self::UnknownEncoding { .. } | Self::InvalidEncoding { .. } => "encoding",
        }
    }
}
