//! Editors' picks for a schedule: stored once checked, reported with the
//! screenings each matches in the coming week (none means readers will not
//! see it). Storing them records no run.

use marquee_admin::digest::{EditorPickMatches, EditorPicksReport, PickScreening};

use crate::DigestService;
use crate::compose::{EditorPicks, picks};
use crate::error::RunError;

impl DigestService {
    /// The editors' picks for `schedule`, each with its screenings this week.
    pub async fn editor_picks(&self, schedule: &str) -> Result<EditorPicksReport, RunError> {
        let (schedule, content) = self.content_now(schedule).await?;
        let stored = self.inner.store.editor_picks(schedule.name()).await?;
        // The editor's picks alone: the Rundown's cannot take one's place.
        let matched = picks(&stored.picks, None, &content.screenings);
        let picks = stored
            .picks
            .into_iter()
            .zip(matched)
            .map(|(pick, matched)| EditorPickMatches {
                pick,
                screenings: matched
                    .screenings
                    .into_iter()
                    .map(|s| PickScreening {
                        venue: s.venue.name,
                        starts_at_local: s.starts_at_local,
                    })
                    .collect(),
            })
            .collect();
        Ok(EditorPicksReport {
            schedule: schedule.name().to_owned(),
            picks,
            updated_at: stored.updated_at,
        })
    }

    /// Replaces the editors' picks for `schedule`: its next digest leads with them.
    #[tracing::instrument(skip(self, picks))]
    pub async fn save_editor_picks(
        &self,
        schedule: &str,
        picks: &EditorPicks,
    ) -> Result<EditorPicksReport, RunError> {
        self.known_schedule(schedule)?;
        self.inner.store.save_editor_picks(schedule, picks).await?;
        tracing::info!(picks = picks.as_slice().len(), "Editors' picks saved");
        self.editor_picks(schedule).await
    }
}
