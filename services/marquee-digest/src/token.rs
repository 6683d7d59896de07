//! Signed, expiring tokens for confirmation, preferences and unsubscribe
//! links.
//!
//! A token is `{purpose}.{subject}.{expires_unix}.{hmac}`, the HMAC-SHA256
//! of the first three parts under the service's secret, hex-encoded. The
//! subject names the subscriber by id, never by address (a confirmation's
//! and a preferences link's also name the subscription they were issued
//! for), and nobody without the
//! secret can make one for someone else.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a pending subscription.
    Confirm,
    /// Open the preferences page: change them, pause, unsubscribe.
    Preferences,
    /// Unsubscribe.
    Unsubscribe,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Preferences => "preferences",
            Self::Unsubscribe => "unsubscribe",
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this service, or altered.
    #[error("the link is invalid: it may have been altered or copied incompletely")]
    Invalid,
    /// Made for another action.
    #[error("the link is for another action")]
    WrongPurpose,
    /// Past its expiry.
    #[error("the link has expired; subscribe again to get a new one")]
    Expired,
}

/// Makes and checks tokens under one secret.
#[derive(Clone)]
pub struct Signer {
    secret: SecretString,
}

impl Signer {
    /// A signer with `secret`.
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(payload.as_bytes());
        mac
    }

    /// A token for `subject` (no `.` in it) valid until `expires`.
    pub fn sign(&self, purpose: Purpose, subject: &str, expires: DateTime<Utc>) -> String {
        let payload = format!("{}.{subject}.{}", purpose.as_str(), expires.timestamp());
        let signature = hex::encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The subject a valid, unexpired token of `purpose` names.
    pub fn verify(
        &self,
        purpose: Purpose,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let (payload, signature) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let signature = hex::decode(signature).map_err(|_| TokenError::Invalid)?;
        // Constant-time comparison.
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::Invalid)?;
        let mut parts = payload.split('.');
        let (Some(kind), Some(id), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        if kind != purpose.as_str() {
            return Err(TokenError::WrongPurpose);
        }
        let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
        if now.timestamp() > expires {
            return Err(TokenError::Expired);
        }
        Ok(id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use marquee_runtime::clock::{Clock, SystemClock};

    use super::*;

    fn signer(secret: &str) -> Signer {
        Signer::new(SecretString::from(secret.to_owned()))
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering_expiry_and_other_purposes() {
        let now = SystemClock.now();
        let later = now + chrono::Duration::hours(1);
        let token = signer("k").sign(Purpose::Confirm, "sub-1", later);
        assert_eq!(
            signer("k").verify(Purpose::Confirm, &token, now),
            Ok("sub-1".to_owned())
        );
        assert_eq!(
            signer("other").verify(Purpose::Confirm, &token, now),
            Err(TokenError::Invalid)
        );
        let forged = token.replace("sub-1", "sub-2");
        assert_eq!(
            signer("k").verify(Purpose::Confirm, &forged, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            signer("k").verify(Purpose::Unsubscribe, &token, now),
            Err(TokenError::WrongPurpose)
        );
        assert_eq!(
            signer("k").verify(
                Purpose::Confirm,
                &token,
                later + chrono::Duration::seconds(1)
            ),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer("k").verify(Purpose::Confirm, "garbage", now),
            Err(TokenError::Invalid)
        );
    }
}
