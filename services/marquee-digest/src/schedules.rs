//! The schedules in force: the configured ones stored at the first start,
//! then owned by the admin API (created, changed, paused), and their
//! in-memory copy the scheduler reads.

use std::collections::HashSet;

use anyhow::Context;

use crate::DigestService;
use crate::error::ScheduleChangeError;
use crate::schedule::CronSchedule;
use crate::settings::ScheduleSettings;
use crate::store::Store;

impl DigestService {
    /// The schedules in force.
    pub fn schedules(&self) -> Vec<CronSchedule> {
        self.inner
            .schedules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn schedule(&self, name: &str) -> Option<CronSchedule> {
        self.schedules().into_iter().find(|s| s.name() == name)
    }

    /// Whether the schedule called `name` is paused.
    pub fn is_paused(&self, name: &str) -> bool {
        self.inner
            .paused
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(name)
    }

    /// Stores a new schedule (`create`) or new settings for an existing one.
    pub async fn save_schedule(
        &self,
        settings: &ScheduleSettings,
        create: bool,
    ) -> Result<CronSchedule, ScheduleChangeError> {
        let schedule = CronSchedule::parse(settings)
            .map_err(|e| ScheduleChangeError::Invalid(e.to_string()))?;
        if !self.inner.templates.has(&settings.template) {
            return Err(ScheduleChangeError::Invalid(format!(
                "no digest template `{0}`: store one first with PUT /admin/digest/templates/{0}",
                settings.template
            )));
        }
        let json = serde_json::to_string(settings).map_err(anyhow::Error::from)?;
        if !self
            .inner
            .store
            .save_schedule(&settings.name, &json, create)
            .await?
        {
            return Err(if create {
                ScheduleChangeError::Exists(settings.name.clone())
            } else {
                ScheduleChangeError::Unknown(settings.name.clone())
            });
        }
        {
            let mut schedules = self
                .inner
                .schedules
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            schedules.retain(|s| s.name() != settings.name);
            schedules.push(schedule.clone());
        }
        // Its series at once, not at the scheduler's next tick.
        crate::runs::metrics::schedule(
            schedule.name(),
            self.is_paused(schedule.name()),
            schedule.next_runs(self.now(), 1).first().copied(),
        );
        Ok(schedule)
    }

    /// Pauses (or resumes) a schedule: its due runs are recorded as skipped.
    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<(), ScheduleChangeError> {
        if !self.inner.store.set_schedule_paused(name, paused).await? {
            return Err(ScheduleChangeError::Unknown(name.to_owned()));
        }
        let mut names = self
            .inner
            .paused
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if paused {
            names.insert(name.to_owned());
        } else {
            names.remove(name);
        }
        crate::runs::metrics::set_paused(name, paused);
        tracing::info!(
            schedule = name,
            paused,
            "Schedule paused or resumed by an operator"
        );
        Ok(())
    }
}

/// The stored schedules and the paused ones' names, after storing each
/// configured schedule that is not stored yet.
pub(crate) async fn stored_schedules(
    store: &Store,
    configured: &[ScheduleSettings],
) -> anyhow::Result<(Vec<CronSchedule>, HashSet<String>)> {
    let mut stored = Vec::new();
    let mut paused = HashSet::new();
    for (json, is_paused) in store.schedules().await? {
        let settings: ScheduleSettings = serde_json::from_str(&json)
            .with_context(|| format!("a stored schedule does not parse: {json}"))?;
        if is_paused {
            paused.insert(settings.name.clone());
        }
        stored.push(settings);
    }
    for settings in configured {
        match stored.iter().find(|s| s.name == settings.name) {
            Some(current) if current != settings => tracing::warn!(
                schedule = %settings.name,
                "The configured schedule differs from the stored one, which the admin API owns; \
                 the stored one is used (change it with PUT /admin/digest/schedules/{{name}})"
            ),
            Some(_) => {}
            None => {
                store
                    .save_schedule(&settings.name, &serde_json::to_string(settings)?, true)
                    .await?;
                stored.push(settings.clone());
            }
        }
    }
    let schedules = stored
        .iter()
        .map(CronSchedule::parse)
        .collect::<Result<_, _>>()?;
    Ok((schedules, paused))
}
