//! The service's settings: the database, dry-run, the accounts to post to
//! and the publication's own fediverse actors.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// Everything the social service needs, deserialized from the layered
/// configuration the binary assembles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://…`: the ledger and the outbox.
    pub database_url: String,
    /// Compose posts into the outbox instead of sending them. On unless
    /// switched off, so a fresh configuration never posts by surprise.
    #[serde(default = "default_true")]
    pub dry_run: bool,
    /// Consumer group of the review-event subscription.
    #[serde(default = "default_consumer_group")]
    pub consumer_group: String,
    /// Where to post; every new review goes to each of them once.
    #[serde(default)]
    pub accounts: Vec<AccountSettings>,
    /// A review already older than this when the service first sees it is
    /// back catalogue: recorded as skipped, never posted unless an operator
    /// asks. Two days unless set.
    #[serde(default = "default_back_catalogue_max_age_secs")]
    pub back_catalogue_max_age_secs: u64,
    /// The publication itself on the fediverse (ActivityPub); off unless
    /// configured.
    #[serde(default)]
    pub fediverse: Option<FediverseSettings>,
}

/// The publication's own fediverse actors, served by this service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FediverseSettings {
    /// Where this service's routes are reached from outside, e.g.
    /// `https://films.example/`: actor ids, and the host of `acct:` handles.
    pub public_base_url: Url,
    /// One actor per feed an operator wants followed, e.g. `reviews`.
    pub actors: Vec<ActorSettings>,
    /// Fetch followers' keys and deliver to loopback or private addresses
    /// (tests and the demo only).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Attempts at one delivery before it is given up as failed.
    #[serde(default = "default_delivery_attempts")]
    pub delivery_attempts: u32,
    /// The first retry's wait; each later one waits twice as long (at most
    /// six hours).
    #[serde(default = "default_retry_base_secs")]
    pub retry_base_secs: u64,
}

fn default_delivery_attempts() -> u32 {
    10
}

fn default_retry_base_secs() -> u64 {
    60
}

/// One fediverse actor: `acct:NAME@HOST`, publishing the reviews of some
/// sections (all when none are named).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSettings {
    /// The handle's user part, e.g. `reviews`: lower-case letters, digits
    /// and `_`.
    pub name: String,
    /// The display name, e.g. `Marquee reviews`.
    pub display_name: String,
    /// A sentence or two for the profile.
    #[serde(default)]
    pub summary: String,
    /// The profile picture.
    #[serde(default)]
    pub icon: Option<Url>,
    /// The review sections this actor publishes; every section if empty.
    #[serde(default)]
    pub sections: Vec<String>,
    /// Hashtags of every post, without `#`.
    #[serde(default)]
    pub hashtags: Vec<String>,
}

impl ActorSettings {
    /// Whether this actor publishes a review of `section`.
    pub fn publishes(&self, section: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section)
    }
}

fn default_back_catalogue_max_age_secs() -> u64 {
    48 * 60 * 60
}

fn default_true() -> bool {
    true
}

fn default_consumer_group() -> String {
    "social".to_owned()
}

fn default_language() -> String {
    "en".to_owned()
}

fn default_bluesky() -> Url {
    Url::parse("https://bsky.social").expect("a valid constant URL")
}

fn default_x() -> Url {
    Url::parse("https://api.x.com").expect("a valid constant URL")
}

/// Who sees a Mastodon post, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, on the public timelines.
    #[default]
    Public,
    /// Everyone, off the public timelines.
    Unlisted,
    /// Followers only.
    Private,
    /// Mentioned accounts only.
    Direct,
}

/// One account to post to, tagged by `network`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "network", rename_all = "lowercase")]
pub enum AccountSettings {
    /// A Mastodon account (`POST /api/v1/statuses`).
    Mastodon(MastodonAccount),
    /// A Bluesky account (`com.atproto.repo.createRecord`).
    Bluesky(BlueskyAccount),
    /// An X account (API v2 `POST /2/tweets`).
    X(XAccount),
    /// A generic JSON webhook (Slack- or Discord-style relays).
    Webhook(WebhookAccount),
}

/// What every account has, whatever its network.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    /// Unique name: the ledger key beside the review id.
    pub name: &'a str,
    /// Least time between two posts of this account.
    pub min_spacing_secs: u64,
    /// When posts wait.
    pub quiet_hours: Option<&'a QuietHours>,
    /// Hashtags to append, without `#`.
    pub hashtags: &'a [String],
    /// More hashtags by review section, after those.
    pub section_hashtags: &'a BTreeMap<String, Vec<String>>,
    /// A minijinja template replacing the network's default.
    pub template: Option<&'a str>,
}

macro_rules! account {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Unique account name, e.g. `marquee-mastodon`; the ledger key.
            pub name: String,
            /// Least time between two posts, in seconds.
            #[serde(default)]
            pub min_spacing_secs: u64,
            /// e.g. `"22:00-07:00 Europe/London"`: posts due then wait.
            #[serde(default)]
            pub quiet_hours: Option<QuietHours>,
            /// Hashtags appended to every post, without `#`.
            #[serde(default)]
            pub hashtags: Vec<String>,
            /// Hashtags appended after those to the posts of one section,
            /// by section name, e.g. `"In Cinemas" = ["review"]`, `Features
            /// = ["feature"]`: a section not named gets none of them.
            #[serde(default)]
            pub section_hashtags: BTreeMap<String, Vec<String>>,
            /// A minijinja template replacing the network's default; fields
            /// `headline`, `film`, `standfirst`, `rating`, `url`, `hashtags`.
            #[serde(default)]
            pub template: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
    };
}

account!(
    /// A Mastodon account.
    MastodonAccount {
        /// Instance URL, e.g. `https://mastodon.social`.
        base_url: Url,
        /// An access token with `write:statuses`.
        access_token: SecretString,
        /// Who sees the posts: `public` unless set.
        #[serde(default)]
        visibility: Visibility,
        /// ISO 639 language of the posts.
        #[serde(default = "default_language")]
        language: String,
    }
);

account!(
    /// A Bluesky account, signed in with an app password.
    BlueskyAccount {
        /// The account's PDS or entryway.
        #[serde(default = "default_bluesky")]
        base_url: Url,
        /// Handle or DID.
        identifier: String,
        /// An app password (not the account password).
        app_password: SecretString,
        /// BCP 47 language of the posts.
        #[serde(default = "default_language")]
        language: String,
    }
);

account!(
    /// An X account, posting with an OAuth 2.0 user token.
    XAccount {
        /// API root.
        #[serde(default = "default_x")]
        base_url: Url,
        /// OAuth 2.0 user-context bearer token with `tweet.write`.
        user_token: SecretString,
        /// The account's numeric user id, to look up its recent posts.
        user_id: String,
    }
);

account!(
    /// A webhook receiving `{text, url, headline, film, rating}` as JSON.
    WebhookAccount {
        /// Where to POST.
        url: Url,
    }
);

impl AccountSettings {
    /// The fields every network shares.
    pub fn common(&self) -> Common<'_> {
        macro_rules! common {
            ($a:expr) => {
                Common {
                    name: &$a.name,
                    min_spacing_secs: $a.min_spacing_secs,
                    quiet_hours: $a.quiet_hours.as_ref(),
                    hashtags: &$a.hashtags,
                    section_hashtags: &$a.section_hashtags,
                    template: $a.template.as_deref(),
                }
            };
        }
        match self {
            Self::Mastodon(a) => common!(a),
            Self::Bluesky(a) => common!(a),
            Self::X(a) => common!(a),
            Self::Webhook(a) => common!(a),
        }
    }

    /// The account's name.
    pub fn name(&self) -> &str {
        self.common().name
    }

    /// The account's network.
    pub fn network(&self) -> crate::Network {
        match self {
            Self::Mastodon(_) => crate::Network::Mastodon,
            Self::Bluesky(_) => crate::Network::Bluesky,
            Self::X(_) => crate::Network::X,
            Self::Webhook(_) => crate::Network::Webhook,
        }
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Two accounts share a name, and so would share ledger rows.
    #[error("account name `{0}` is configured twice; give every account its own name")]
    DuplicateAccount(String),
    /// A blank name cannot key the ledger.
    #[error("every account needs a non-blank `name`")]
    BlankName,
    /// A fediverse actor's name cannot be a handle.
    #[error(
        "fediverse actor name `{0}` is not a handle: use lower-case letters, digits and `_`, and give every actor its own"
    )]
    ActorName(String),
    /// A custom template does not parse.
    #[error("the template of account `{account}` is invalid: {reason}")]
    Template {
        /// The account.
        account: String,
        /// What minijinja said.
        reason: String,
    },
}

impl Settings {
    /// [`Settings::back_catalogue_max_age_secs`] as a duration.
    pub fn back_catalogue_max_age(&self) -> chrono::Duration {
        let secs = i64::try_from(self.back_catalogue_max_age_secs).unwrap_or(i64::MAX);
        chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX)
    }

    /// Checks what serde cannot: unique, non-blank account names.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut seen = HashSet::new();
        for account in &self.accounts {
            let name = account.name();
            if name.trim().is_empty() {
                return Err(SettingsError::BlankName);
            }
            if !seen.insert(name) {
                return Err(SettingsError::DuplicateAccount(name.to_owned()));
            }
        }
        let mut actors = HashSet::new();
        for actor in self.fediverse.iter().flat_map(|f| &f.actors) {
            let name = actor.name.as_str();
            let handle = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
            if name.is_empty() || !name.chars().all(handle) || !actors.insert(name) {
                return Err(SettingsError::ActorName(name.to_owned()));
            }
        }
        Ok(())
    }
}

/// A daily window in a time zone during which posts wait, e.g.
/// `22:00-07:00 Europe/London` (it may cross midnight).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
}

/// Why a text is not a quiet-hours window.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a quiet-hours window: write it like \"22:00-07:00 Europe/London\"")]
pub struct InvalidQuietHours(String);

impl FromStr for QuietHours {
    type Err = InvalidQuietHours;
    fn from_str(text: &str) -> Result<Self, InvalidQuietHours> {
        let invalid = || InvalidQuietHours(text.to_owned());
        let (window, zone) = text.trim().split_once(' ').ok_or_else(invalid)?;
        let (start, end) = window.split_once('-').ok_or_else(invalid)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| invalid());
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(invalid());
        }
        let zone = zone.trim().parse::<Tz>().map_err(|_| invalid())?;
        Ok(Self { start, end, zone })
    }
}

impl TryFrom<String> for QuietHours {
    type Error = InvalidQuietHours;
    fn try_from(text: String) -> Result<Self, InvalidQuietHours> {
        text.parse()
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} {}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.zone
        )
    }
}

impl fmt::Debug for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuietHours({self})")
    }
}

impl QuietHours {
    /// When the window holding `now` ends, or `None` outside the window.
    pub fn ends_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.zone);
        let time = local.time();
        let quiet = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !quiet {
            return None;
        }
        let mut date = local.date_naive();
        if time >= self.end {
            date = date.succ_opt()?;
        }
        // On a DST change the end time may not exist (or exist twice): take
        // the earliest instant at or after it.
        let end = date.and_time(self.end);
        let resolved = (0..3)
            .find_map(|hour| {
                self.zone
                    .from_local_datetime(&(end + chrono::Duration::hours(hour)))
                    .earliest()
            })
            .map(|end| end.with_timezone(&Utc));
        Some(resolved.unwrap_or(now + chrono::Duration::hours(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn quiet_hours_cross_midnight_in_their_zone() {
        let quiet: QuietHours = "22:00-07:00 Europe/London".parse().expect("parses");
        // 21:30 UTC in July is 22:30 BST: quiet until 07:00 BST = 06:00 UTC.
        assert_eq!(
            quiet.ends_after(utc("2025-07-01T21:30:00Z")),
            Some(utc("2025-07-02T06:00:00Z"))
        );
        // 02:00 UTC in January is 02:00 GMT: quiet until 07:00 GMT.
        assert_eq!(
            quiet.ends_after(utc("2025-01-10T02:00:00Z")),
            Some(utc("2025-01-10T07:00:00Z"))
        );
        assert_eq!(quiet.ends_after(utc("2025-01-10T12:00:00Z")), None);
        assert_eq!(quiet.to_string(), "22:00-07:00 Europe/London");
    }

    #[test]
    fn bad_quiet_hours_are_refused() {
        for bad in [
            "22:00-07:00",
            "22-07 Europe/London",
            "22:00-07:00 Mars/Base",
            "07:00-07:00 UTC",
        ] {
            assert!(bad.parse::<QuietHours>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn accounts_are_tagged_by_network_and_refuse_unknown_fields() {
        let settings: Settings = serde_json::from_value(serde_json::json!({
            "database_url": "sqlite://social.sqlite",
            "accounts": [
                {"network": "mastodon", "name": "m", "base_url": "https://mastodon.example",
                 "access_token": "t", "quiet_hours": "22:00-07:00 Europe/London"},
                {"network": "bluesky", "name": "b", "identifier": "marquee.example", "app_password": "p"},
                {"network": "x", "name": "x", "user_token": "t", "user_id": "1"},
                {"network": "webhook", "name": "w", "url": "https://hooks.example/1"},
            ],
        }))
        .expect("settings parse");
        assert!(settings.dry_run);
        assert_eq!(settings.consumer_group, "social");
        assert_eq!(settings.back_catalogue_max_age_secs, 48 * 3600);
        settings.validate().expect("valid");
        let AccountSettings::Bluesky(bluesky) = &settings.accounts[1] else {
            panic!("not bluesky");
        };
        assert_eq!(bluesky.base_url.as_str(), "https://bsky.social/");
        let AccountSettings::Mastodon(mastodon) = &settings.accounts[0] else {
            panic!("not mastodon");
        };
        assert_eq!(mastodon.visibility, Visibility::Public);
        let unknown_visibility = serde_json::from_value::<Settings>(serde_json::json!({
            "database_url": "sqlite://social.sqlite",
            "accounts": [{"network": "mastodon", "name": "m", "base_url": "https://m.example",
                          "access_token": "t", "visibility": "everyone"}],
        }));
        assert!(
            unknown_visibility
                .expect_err("an unknown visibility is refused")
                .to_string()
                .contains("everyone")
        );
        let typo = serde_json::from_value::<Settings>(serde_json::json!({
            "database_url": "sqlite://social.sqlite",
            "accounts": [{"network": "webhook", "name": "w", "url": "https://h.example", "hashtag": []}],
        }));
        assert!(typo.is_err());
    }
}
