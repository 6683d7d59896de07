//! What editors do before a digest goes out: store a template, try an
//! unsaved one on the next digest, send the next digest to themselves. None
//! of it records a run, so none counts as the week's.

use marquee_admin::digest::{DigestTemplate, TemplateReport, TestSendReport};

use crate::compose::{BUILT_IN, Edition, ReaderLinks, RenderedDigest, Templates};
use crate::error::RunError;
use crate::mailer::{self, Envelope};
use crate::{DigestService, EmailAddress};

/// Most addresses one test send goes to: it is for editors, not a list.
pub const MAX_TEST_RECIPIENTS: usize = 20;

impl DigestService {
    /// Every digest template: the built-in one and those stored, by name.
    pub async fn templates(&self) -> Result<Vec<TemplateReport>, RunError> {
        let mut names: Vec<String> = self
            .inner
            .store
            .templates()
            .await?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        if !names.iter().any(|name| name == BUILT_IN) {
            names.push(BUILT_IN.to_owned());
        }
        names.sort();
        let mut reports = Vec::with_capacity(names.len());
        for name in names {
            reports.push(self.template(&name).await?);
        }
        Ok(reports)
    }

    /// Template `name` as in force, and when an operator stored it.
    pub async fn template(&self, name: &str) -> Result<TemplateReport, RunError> {
        let template = self.inner.templates.get(name)?;
        let updated_at = self
            .inner
            .store
            .templates()
            .await?
            .into_iter()
            .find(|(stored, _, _)| stored == name)
            .map(|(_, _, at)| at);
        Ok(TemplateReport {
            name: name.to_owned(),
            template,
            updated_at,
        })
    }

    /// Checks `template` and stores it as `name`: the next digest of every
    /// schedule using `name` is rendered with it. A refused one changes nothing.
    #[tracing::instrument(skip(self, template))]
    pub async fn save_template(
        &self,
        name: &str,
        template: &DigestTemplate,
    ) -> Result<TemplateReport, RunError> {
        Templates::check(name, template)?;
        let updated_at = self.inner.store.save_template(name, template).await?;
        self.inner.templates.replace(name, template)?;
        tracing::info!("Digest template stored");
        Ok(TemplateReport {
            name: name.to_owned(),
            template: template.clone(),
            updated_at: Some(updated_at),
        })
    }

    /// `template`, unsaved, filled with `schedule`'s next digest.
    pub async fn try_template(
        &self,
        name: &str,
        template: &DigestTemplate,
        schedule: &str,
    ) -> Result<RenderedDigest, RunError> {
        let (schedule, content) = self.content_now(schedule).await?;
        let unsubscribe_url = self.unsubscribe_url("preview");
        let preferences_url = self.nobodys_preferences_url();
        let links = ReaderLinks {
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        };
        Ok(Templates::try_out(
            name,
            template,
            &content,
            &self.web_version_url(schedule.name(), content.week_start),
            Edition::Preview(links, &content.unmatched_picks()),
        )?)
    }

    /// Sends `schedule`'s next digest as a reader without preferences gets
    /// it to `to`, subject marked `[test]`, without a `List-Unsubscribe`
    /// (its links are nobody's). No run, no ledger row, no run metric.
    #[tracing::instrument(skip(self, to), fields(recipients = to.len()))]
    pub async fn test_send(
        &self,
        schedule: &str,
        to: &[EmailAddress],
    ) -> Result<TestSendReport, RunError> {
        let (schedule, content) = self.content_now(schedule).await?;
        let unsubscribe_url = self.unsubscribe_url("test");
        let preferences_url = self.nobodys_preferences_url();
        let links = ReaderLinks {
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        };
        let mut digest = self.inner.templates.digest(
            &schedule.settings().template,
            &content,
            &self.web_version_url(schedule.name(), content.week_start),
            Edition::Email(links),
        )?;
        let schedule = schedule.name();
        digest.subject = format!("[test] {}", digest.subject);
        let mut report = TestSendReport {
            schedule: schedule.to_owned(),
            subject: digest.subject.clone(),
            sent: Vec::new(),
            failed: Vec::new(),
        };
        for address in to {
            let envelope = Envelope {
                to: address,
                message_id: format!(
                    "<test-{}-{}@{}>",
                    schedule,
                    uuid::Uuid::new_v4().simple(),
                    self.inner.mailer.domain()
                ),
                list_unsubscribe: None,
            };
            let message = self.inner.mailer.digest_message(&envelope, &digest)?;
            let sent = self.inner.mailer.send(&message).await;
            mailer::count("test-send", sent.is_ok());
            match sent {
                Ok(_) => report.sent.push(address.as_str().to_owned()),
                Err(error) => {
                    tracing::warn!(error = %error, "A test send was refused");
                    report
                        .failed
                        .push((address.as_str().to_owned(), error.to_string()));
                }
            }
        }
        tracing::info!(sent = report.sent.len(), "Test digest sent");
        Ok(report)
    }
}
