//! The run policy, pure: which due time a schedule's next run is for and of
//! what kind, and what a new run becomes (skipped, held, a dry run or
//! sending). No I/O: the scheduler reads the facts and acts on the answer.

use chrono::{DateTime, Duration, Utc};

use crate::store::{RunKind, RunStatus};

/// A run is late (a catch-up) once it starts more than this after its due time.
const ON_TIME: Duration = Duration::seconds(60);

/// The due time a schedule's run is for, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Due {
    /// The latest due time without a run.
    pub at: DateTime<Utc>,
    /// Due times before it, also without a run: missed while down, never sent.
    pub earlier: usize,
    /// How long after `at` the scheduler saw it.
    pub late: Duration,
    /// What to do.
    pub action: DueAction,
}

/// What the scheduler does with a due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DueAction {
    /// Outside the catch-up window: record it as missed, saying why.
    Missed(String),
    /// Compose and (as [`opening`] decides) send it.
    Start(RunKind),
}

/// The run for the latest of `due_times` (in order, each at or before
/// `now`): one within `window` of now starts (a catch-up when late or
/// when earlier ones were missed), an older one is recorded as missed.
pub(crate) fn due(
    due_times: &[DateTime<Utc>],
    now: DateTime<Utc>,
    window: Duration,
) -> Option<Due> {
    let (&at, before) = due_times.split_last()?;
    let earlier = before.len();
    let late = now - at;
    let action = if late > window {
        DueAction::Missed(format!(
            "missed: due {at}, {} s before the scheduler saw it (catch-up window {} s); {earlier} earlier runs missed too",
            late.num_seconds(),
            window.num_seconds()
        ))
    } else if late > ON_TIME || earlier > 0 {
        DueAction::Start(RunKind::CatchUp)
    } else {
        DueAction::Start(RunKind::Scheduled)
    };
    Some(Due {
        at,
        earlier,
        late,
        action,
    })
}

/// What is known when a run is opened.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// Why it is opened.
    pub kind: RunKind,
    /// Whether an operator paused its schedule.
    pub paused: bool,
    /// Reviews published since `reviews_since`.
    pub reviews: usize,
    /// Screenings in the coming week.
    pub screenings: usize,
    /// Where its reviews start.
    pub reviews_since: DateTime<Utc>,
    /// The schedule sends even when there is nothing new.
    pub send_when_empty: bool,
    /// The freshness gate's complaint, if the gate applies and found one.
    pub stale: Option<&'a str>,
    /// The service composes and records, but sends nothing: the confirmed
    /// subscribers of the audience, which its note names. `None` when it
    /// sends.
    pub dry_run: Option<usize>,
}

/// What a new run becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Not sent: paused by an operator, or nothing new.
    Skipped(String),
    /// Not sent: a source is stale (the freshness gate); alerted.
    Held(String),
    /// Composed but not sent (`dry_run`).
    DryRun(String),
    /// Every recipient goes into the ledger as pending.
    Sending,
}

impl Opening {
    /// The status the run is recorded with.
    pub fn status(&self) -> RunStatus {
        match self {
            Self::Skipped(_) => RunStatus::Skipped,
            Self::Held(_) => RunStatus::Held,
            Self::DryRun(_) => RunStatus::DryRun,
            Self::Sending => RunStatus::Sending,
        }
    }

    /// The operator's note.
    pub fn note(&self) -> &str {
        match self {
            Self::Skipped(note) | Self::Held(note) | Self::DryRun(note) => note,
            Self::Sending => "",
        }
    }
}

/// Decides a new run's fate, in this order: a paused schedule skips its
/// scheduled runs (an operator's send still goes), an empty digest is
/// skipped unless `send_when_empty`, a stale source holds it, `dry_run`
/// records it unsent; otherwise it sends.
pub(crate) fn opening(facts: &Facts<'_>) -> Opening {
    if facts.kind.is_scheduled() && facts.paused {
        Opening::Skipped("skipped: schedule paused by an operator".to_owned())
    } else if facts.reviews == 0 && facts.screenings == 0 && !facts.send_when_empty {
        Opening::Skipped(format!(
            "skipped: nothing new (no reviews since {}, no screenings in the next 7 days); set send_when_empty to send anyway",
            facts.reviews_since
        ))
    } else if let Some(stale) = facts.stale {
        Opening::Held(format!(
            "held by the freshness gate: {stale}; send with force once the sources are fixed"
        ))
    } else if let Some(recipients) = facts.dry_run {
        Opening::DryRun(format!(
            "dry run: {} reviews, {} screenings, {recipients} recipients; nothing sent",
            facts.reviews, facts.screenings
        ))
    } else {
        Opening::Sending
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, hour, minute, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_latest_due_time_starts_on_time_late_or_is_missed() {
        let window = Duration::hours(1);
        assert_eq!(due(&[], at(9, 0), window), None);
        let on_time = due(&[at(8, 30)], at(8, 30), window).expect("due");
        assert_eq!(on_time.action, DueAction::Start(RunKind::Scheduled));
        let late = due(&[at(8, 30)], at(9, 10), window).expect("due");
        assert_eq!(late.action, DueAction::Start(RunKind::CatchUp));
        assert_eq!(late.late, Duration::minutes(40));
        let after_a_gap = due(&[at(8, 0), at(8, 30)], at(8, 30), window).expect("due");
        assert_eq!(after_a_gap.at, at(8, 30));
        assert_eq!(after_a_gap.earlier, 1);
        assert_eq!(after_a_gap.action, DueAction::Start(RunKind::CatchUp));
        let missed = due(&[at(8, 30)], at(11, 30), window).expect("due");
        assert!(
            matches!(&missed.action, DueAction::Missed(note) if note.contains("catch-up window 3600 s")),
            "{missed:?}"
        );
    }

    fn facts(kind: RunKind) -> Facts<'static> {
        Facts {
            kind,
            paused: false,
            reviews: 2,
            screenings: 3,
            reviews_since: at(8, 30) - Duration::days(7),
            send_when_empty: false,
            stale: None,
            dry_run: None,
        }
    }

    #[test]
    fn a_new_run_is_skipped_held_dry_or_sent_in_that_order() {
        assert_eq!(opening(&facts(RunKind::Scheduled)), Opening::Sending);
        let paused = Facts {
            paused: true,
            ..facts(RunKind::Scheduled)
        };
        assert_eq!(opening(&paused).status(), RunStatus::Skipped);
        assert_eq!(
            opening(&paused).note(),
            "skipped: schedule paused by an operator"
        );
        let by_hand = Facts {
            paused: true,
            ..facts(RunKind::Manual)
        };
        assert_eq!(
            opening(&by_hand),
            Opening::Sending,
            "an operator's send goes"
        );
        let empty = Facts {
            reviews: 0,
            screenings: 0,
            stale: Some("x"),
            ..facts(RunKind::Scheduled)
        };
        assert!(opening(&empty).note().contains("nothing new"));
        assert_eq!(
            opening(&Facts {
                send_when_empty: true,
                ..empty.clone()
            })
            .status(),
            RunStatus::Held
        );
        let dry = Facts {
            dry_run: Some(4),
            ..facts(RunKind::Scheduled)
        };
        assert_eq!(
            opening(&dry).note(),
            "dry run: 2 reviews, 3 screenings, 4 recipients; nothing sent"
        );
    }
}
