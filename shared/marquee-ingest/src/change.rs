//! Change detection, pure: what the ledger holds about an item (by its
//! stable id) and what a source says now decide whether the item is new,
//! changed, unchanged or withdrawn. Each service keeps its own ledger table
//! (`store/`) and compares content its own way (a content hash, or the
//! fields of the last published item); the decision table is this one.

/// What one item handed to change detection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New, or back after a withdrawal: a "published"/"listed" event.
    New,
    /// Changed in substance: an "updated"/"changed" event.
    Changed,
    /// Nothing worth an event.
    Unchanged,
    /// Withdrawn (a review) or cancelled (a screening).
    Withdrawn,
}

/// What the ledger recorded about an item, compared with what came now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Whether the content (its hash, or its fields) is the same as now.
    pub same_content: bool,
    /// Whether the last event about it withdrew it.
    pub withdrawn: bool,
    /// Whether that withdrawal stands until the content changes (a CMS
    /// taking a review down), rather than being undone by the item showing
    /// up again (an item that was only missing from its source).
    pub sticky: bool,
}

impl Recorded {
    /// A live item whose content is (or is not) `same_content`.
    pub fn live(same_content: bool) -> Self {
        Self {
            same_content,
            withdrawn: false,
            sticky: false,
        }
    }
}

/// The decision for an item the ledger holds as `before` (or not at all)
/// that the source now lists, or marks withdrawn when `withdrawn_now`.
pub fn decide(before: Option<Recorded>, withdrawn_now: bool) -> Change {
    match (before, withdrawn_now) {
        // Never published and withdrawn already: nobody needs to hear of it.
        (None, true) => Change::Unchanged,
        (Some(before), true) if before.withdrawn => Change::Unchanged,
        (Some(_), true) => Change::Withdrawn,
        (None, false) => Change::New,
        (Some(before), false) if before.withdrawn && before.sticky && before.same_content => {
            Change::Unchanged
        }
        (Some(before), false) if before.withdrawn => Change::New,
        (Some(before), false) if before.same_content => Change::Unchanged,
        (Some(_), false) => Change::Changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_SAME: Recorded = Recorded {
        same_content: true,
        withdrawn: false,
        sticky: false,
    };

    #[test]
    fn the_decision_table() {
        let gone = Recorded {
            withdrawn: true,
            ..LIVE_SAME
        };
        let taken_down = Recorded {
            sticky: true,
            ..gone
        };
        let edited = |r: Recorded| Recorded {
            same_content: false,
            ..r
        };
        let cases = [
            (None, false, Change::New),
            (None, true, Change::Unchanged),
            (Some(LIVE_SAME), false, Change::Unchanged),
            (Some(edited(LIVE_SAME)), false, Change::Changed),
            (Some(LIVE_SAME), true, Change::Withdrawn),
            (Some(gone), true, Change::Unchanged),
            (Some(gone), false, Change::New),
            (Some(edited(gone)), false, Change::New),
            (Some(taken_down), false, Change::Unchanged),
            (Some(edited(taken_down)), false, Change::New),
            (Some(taken_down), true, Change::Unchanged),
        ];
        for (before, withdrawn_now, expected) in cases {
            assert_eq!(
                decide(before, withdrawn_now),
                expected,
                "{before:?}, withdrawn now: {withdrawn_now}"
            );
        }
        assert_eq!(Recorded::live(true), LIVE_SAME);
    }
}
