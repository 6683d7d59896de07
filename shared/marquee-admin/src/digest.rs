//! `/admin/digest/…`: schedules, digests and their runs, subscribers.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A stored or sent spelling this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownValue {
    /// What was being read, e.g. `run status`.
    pub what: &'static str,
    /// What was found.
    pub value: String,
}

/// A string-spelled enum: one spelling per variant, shared by the JSON wire
/// form (serde), the database and `Display`, so the three never disagree.
macro_rules! spelled {
    ($name:ident, $what:literal, { $($variant:ident => $spelling:literal),+ $(,)? }) => {
        impl $name {
            /// The wire and stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $spelling,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($spelling => Ok(Self::$variant),)+
                    other => Err(UnknownValue { what: $what, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A run's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Recipients are in the ledger and being sent to.
    Sending,
    /// Stopped by an operator or by repeated errors; resumable.
    Paused,
    /// Every recipient was handled.
    Sent,
    /// Nothing new, so nothing sent.
    Skipped,
    /// Composed but not sent (`dry_run`).
    DryRun,
    /// Due while the process was down, outside the catch-up window.
    Missed,
    /// Not sent because a source was stale (the freshness gate); alerted.
    Held,
}

spelled!(RunStatus, "run status", {
    Sending => "sending",
    Paused => "paused",
    Sent => "sent",
    Skipped => "skipped",
    DryRun => "dry_run",
    Missed => "missed",
    Held => "held",
});

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Due by its schedule, started on time.
    Scheduled,
    /// Due by its schedule while the process was down, started late within
    /// the catch-up window.
    CatchUp,
    /// Sent by an operator.
    Manual,
    /// Sent by an operator past the freshness gate.
    Forced,
}

spelled!(RunKind, "run kind", {
    Scheduled => "scheduled",
    CatchUp => "catch_up",
    Manual => "manual",
    Forced => "forced",
});

impl RunKind {
    /// Whether the schedule started it (not an operator).
    pub fn is_scheduled(self) -> bool {
        matches!(self, Self::Scheduled | Self::CatchUp)
    }
}

/// One digest run of one schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    /// Run id.
    pub id: String,
    /// Schedule name.
    pub schedule: String,
    /// The instant the run was due (or asked for, when sent by hand).
    pub scheduled_for: DateTime<Utc>,
    /// Why it exists.
    pub kind: RunKind,
    /// Where it stands.
    pub status: RunStatus,
    /// Reviews published after this and up to `scheduled_for` are in the digest.
    pub reviews_since: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it was skipped or paused, for operators.
    pub note: String,
}

/// Delivery counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryCounts {
    /// Not yet sent.
    pub pending: u64,
    /// Accepted by the relay.
    pub sent: u64,
    /// Refused permanently (5xx) or not deliverable.
    pub failed: u64,
    /// Nothing for this subscriber, or they left before their turn.
    pub skipped: u64,
    /// In the relay's hands when the process died: it may have the
    /// message, so it is not sent again (nobody gets a digest twice).
    pub interrupted: u64,
}

/// `GET /admin/digest/runs[/{id}]`: a run and its delivery counts, the
/// run's fields at the top level beside `counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunReport {
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// Its ledger.
    pub counts: DeliveryCounts,
}

/// `GET /admin/digest/runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct RunsQuery {
    /// Most to list (1 to 500).
    #[serde(default = "default_runs_limit")]
    pub limit: i64,
}

fn default_runs_limit() -> i64 {
    20
}

impl Default for RunsQuery {
    fn default() -> Self {
        Self {
            limit: default_runs_limit(),
        }
    }
}

/// One digest schedule, as configured (`[[digest.schedules]]`) and as
/// `POST`/`PUT /admin/digest/schedules` take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    /// Unique name, e.g. `weekly`.
    pub name: String,
    /// Cron expression, 5 fields (`30 8 * * THU`) or 6-7 with seconds first.
    pub cron: String,
    /// IANA time zone the expression is read in, e.g. `Europe/London`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Template name: `{template}.html` and `{template}.txt`.
    #[serde(default = "default_template")]
    pub template: String,
    /// Subscriber list the digest goes to; `all` for every confirmed subscriber.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Send even when there is nothing new (otherwise the run is skipped).
    #[serde(default)]
    pub send_when_empty: bool,
    /// The freshness gate: hold the digest (and alert) instead of sending
    /// when a source was last read longer ago than this, or cannot be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_source_age_secs: Option<u64>,
}

fn default_time_zone() -> String {
    "Europe/London".to_owned()
}

fn default_template() -> String {
    "weekly".to_owned()
}

fn default_audience() -> String {
    "all".to_owned()
}

/// One upcoming run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NextRun {
    /// In the schedule's zone, RFC 3339 with offset.
    pub local: String,
    /// In UTC.
    pub utc: DateTime<Utc>,
}

/// `GET /admin/digest/schedules`: a schedule and its next runs, the
/// settings' fields at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleReport {
    /// The schedule as configured.
    #[serde(flatten)]
    pub settings: ScheduleSettings,
    /// Whether an operator paused it: due runs are recorded as skipped.
    pub paused: bool,
    /// Its next five runs.
    pub next_runs: Vec<NextRun>,
}

/// `POST /admin/digest/schedules/{name}/{pause,resume}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchedulePaused {
    /// The schedule.
    pub schedule: String,
    /// Whether it is paused now.
    pub paused: bool,
}

/// `POST /admin/digest/runs/{id}/pause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunPaused {
    /// The run paused.
    pub paused: String,
}

/// `POST /admin/digest/runs/{id}/resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunResuming {
    /// The run resuming in the background.
    pub resuming: String,
}

/// `GET /admin/digest/preview/{schedule}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// As this subscriber would see it, with their preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `GET /admin/digest/preview/{schedule}` and a template's live preview:
/// the three parts of one digest as it would be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DigestPreview {
    /// Subject line.
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
}

/// A digest template's three parts (minijinja; the variables are listed in
/// docs/operators.md): `PUT /admin/digest/templates/{name}` stores one,
/// `POST …/{name}/preview` renders one unsaved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestTemplate {
    /// The subject line, e.g. `What to watch: {{ week }}`.
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
}

/// `PUT /admin/digest/picks/{schedule}` takes a list of these: a film an
/// editor picks for the schedule's digests, led with before the Repertory
/// Rundown's picks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditorPick {
    /// The film's title; a screening matches it whatever its case,
    /// punctuation and spacing ("&" reads "and").
    pub title: String,
    /// Its year (1870 to 2100), when the title alone could match another film.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,
    /// A line from the editor shown with the pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `GET` and `PUT /admin/digest/picks/{schedule}`: a schedule's editors'
/// picks, each with the screenings it matches in the coming week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EditorPicksReport {
    /// The schedule.
    pub schedule: String,
    /// The picks, in the order the digest leads with them.
    pub picks: Vec<EditorPickMatches>,
    /// When an editor last saved them; absent when none ever did.
    pub updated_at: Option<DateTime<Utc>>,
}

/// One editor's pick and what it matches in the coming week; none means
/// readers will not see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EditorPickMatches {
    /// The pick as saved.
    pub pick: EditorPick,
    /// Its screenings in the coming week, earliest first.
    pub screenings: Vec<PickScreening>,
}

/// A screening an editor's pick matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PickScreening {
    /// The venue's name.
    pub venue: String,
    /// When it starts, on the venue's wall clock.
    pub starts_at_local: chrono::NaiveDateTime,
}

/// `GET /admin/digest/templates/{name}`: a template and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TemplateReport {
    /// The name schedules use (`template` in their settings).
    pub name: String,
    /// Its parts.
    #[serde(flatten)]
    pub template: DigestTemplate,
    /// When an operator last saved it; `None` for the built-in one.
    pub updated_at: Option<DateTime<Utc>>,
}

/// `POST /admin/digest/templates/{name}/preview`: which schedule's content
/// to render the unsaved template with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct TemplatePreviewQuery {
    /// The schedule whose next digest fills the template.
    pub schedule: String,
}

/// `POST /admin/digest/test-send/{schedule}`: the editors to send the next
/// digest to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// Addresses; at least one, at most 20.
    pub to: Vec<String>,
}

/// What a test send did: it records no run and counts in no run metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestSendReport {
    /// Schedule name.
    pub schedule: String,
    /// The subject sent, `[test]` first.
    pub subject: String,
    /// Addresses the relay took it for.
    pub sent: Vec<String>,
    /// Addresses it refused, as `[address, reason]`.
    pub failed: Vec<(String, String)>,
}

/// `POST /admin/digest/send/{schedule}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct SendQuery {
    /// Send even if the freshness gate finds a stale source.
    #[serde(default)]
    pub force: bool,
}

/// `POST /admin/digest/send/{schedule}` answers `202 Accepted` with the run
/// it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SendAccepted {
    /// Run id.
    pub run: String,
    /// `sending` (delivery started in the background), `skipped` or `held`.
    pub status: RunStatus,
    /// Why it was skipped or held.
    pub note: String,
}

/// `POST /admin/digest/dry-run/{schedule}`: what a dry run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DryRunReport {
    /// Schedule name.
    pub schedule: String,
    /// Subject the digest would carry.
    pub subject: String,
    /// New reviews.
    pub reviews: usize,
    /// Screenings of the next 7 days.
    pub screenings: usize,
    /// Confirmed subscribers in the audience.
    pub recipients: usize,
    /// Of whom would get a message.
    pub would_send: usize,
    /// Of whom would get none: nothing matches their preferences.
    pub would_skip: usize,
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Subscribed, confirmation link not yet followed.
    Pending,
    /// Gets the digest.
    Confirmed,
    /// Left; may subscribe again.
    Unsubscribed,
    /// Bounced or complained: never mailed again.
    Suppressed,
}

spelled!(SubscriberStatus, "subscriber status", {
    Pending => "pending",
    Confirmed => "confirmed",
    Unsubscribed => "unsubscribed",
    Suppressed => "suppressed",
});

/// What a subscriber wants in their digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    /// Venue ids to list screenings of; empty for every venue.
    pub venues: Vec<String>,
    /// Projection formats, e.g. `35mm`, `70mm`, or `celluloid` for both;
    /// empty for every format.
    pub formats: Vec<String>,
    /// Reviews below this many stars are left out (and unrated pieces with them).
    pub min_rating: Option<u8>,
    /// Access provisions the reader needs, as a screening's `accessibility`
    /// spells them (`subtitled`, `audio_described`, `relaxed`,
    /// `baby_friendly`); empty for none in particular.
    pub accessibility: Vec<String>,
    /// The reader paused the digest: none is sent to them before this.
    pub paused_until: Option<DateTime<Utc>>,
}

/// `GET /admin/digest/subscribers`: a subscriber as operators see one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Subscriber {
    /// Stable id, used in tokens and the ledger.
    pub id: String,
    /// Address.
    pub email: String,
    /// Where they stand.
    pub status: SubscriberStatus,
    /// The list they are on; schedules pick an audience by list.
    pub list: String,
    /// What they want.
    pub preferences: Preferences,
}

/// `GET /admin/digest/subscribers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct SubscriberQuery {
    /// Part of an address, any case; every subscriber when empty.
    #[serde(default)]
    pub q: String,
    /// Most to list (1 to 1,000).
    #[serde(default = "default_search_limit")]
    pub limit: usize,
}

fn default_search_limit() -> usize {
    50
}

impl Default for SubscriberQuery {
    fn default() -> Self {
        Self {
            q: String::new(),
            limit: default_search_limit(),
        }
    }
}

/// `POST /admin/digest/subscribers/{email}/suppress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suppressed {
    /// The address never mailed again.
    pub suppressed: String,
}

/// One CSV row an import refused: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedRow(
    /// Line number, the header being line 1.
    pub u64,
    /// Why it was refused.
    pub String,
);

/// `POST /admin/digest/subscribers.csv`: what a CSV import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Rows stored.
    pub imported: usize,
    /// Rows refused, as `[line, reason]`.
    pub rejected: Vec<RejectedRow>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn spellings_are_the_wire_form() {
        for status in [
            RunStatus::Sending,
            RunStatus::Paused,
            RunStatus::Sent,
            RunStatus::Skipped,
            RunStatus::DryRun,
            RunStatus::Missed,
            RunStatus::Held,
        ] {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), status);
        }
        for kind in [
            RunKind::Scheduled,
            RunKind::CatchUp,
            RunKind::Manual,
            RunKind::Forced,
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
            assert_eq!(kind.as_str().parse::<RunKind>().unwrap(), kind);
        }
        let error = "later".parse::<RunKind>().unwrap_err();
        assert_eq!(error.to_string(), "unknown run kind `later`");
        assert_eq!(
            "gone".parse::<SubscriberStatus>().unwrap_err().to_string(),
            "unknown subscriber status `gone`"
        );
    }

    #[test]
    fn a_run_report_is_flat_and_reads_back() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let report = RunReport {
            run: Run {
                id: "r1".to_owned(),
                schedule: "weekly".to_owned(),
                scheduled_for: at,
                kind: RunKind::CatchUp,
                status: RunStatus::Paused,
                reviews_since: at,
                created_at: at,
                finished_at: None,
                note: "paused by an operator".to_owned(),
            },
            counts: DeliveryCounts::default(),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kind"], "catch_up");
        assert_eq!(json["status"], "paused");
        assert_eq!(json["counts"]["sent"], 0);
        assert_eq!(serde_json::from_value::<RunReport>(json).unwrap(), report);
        let import = ImportReport {
            imported: 1,
            rejected: vec![RejectedRow(3, "bad address".to_owned())],
        };
        assert_eq!(
            serde_json::to_string(&import).unwrap(),
            r#"{"imported":1,"rejected":[[3,"bad address"]]}"#
        );
    }
}
