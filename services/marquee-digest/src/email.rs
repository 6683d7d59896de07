//! Email addresses, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

/// A syntactically valid email address, lower-cased domain, no display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(lettre::Address);

/// Why a text is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an email address: {reason}")]
pub struct InvalidEmail {
    input: String,
    reason: String,
}

impl EmailAddress {
    /// Parses `user@domain`, trimmed; refuses display names and empty parts.
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let invalid = |reason: &str| InvalidEmail {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed.len() > 254 {
            return Err(invalid("it is longer than 254 characters"));
        }
        let (user, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| invalid("it has no @"))?;
        if !domain.contains('.') {
            return Err(invalid("its domain has no dot"));
        }
        let domain = domain.to_ascii_lowercase();
        let address = lettre::Address::new(user, &domain).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self(address))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The domain part.
    pub fn domain(&self) -> &str {
        self.0.domain()
    }

    pub(crate) fn address(&self) -> &lettre::Address {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidEmail;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_parse_and_domains_are_lower_cased() {
        let address = EmailAddress::parse("  Ursula@Films.Example ").expect("valid");
        assert_eq!(address.as_str(), "Ursula@films.example");
        assert_eq!(address.domain(), "films.example");
    }

    #[test]
    fn invalid_addresses_are_refused_with_a_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("ursula.example", "no @"),
            ("ursula@localhost", "no dot"),
            ("@films.example", "user"),
            ("Ursula <u@films.example>", ""),
            ("u r@films.example", ""),
        ] {
            let error = EmailAddress::parse(input).expect_err(input);
            assert!(error.to_string().contains(reason), "{input}: {error}");
        }
    }
}
