//! `/console/templates`: a digest template's subject, HTML and text in a
//! form; Preview renders the unsaved text with a schedule's next digest,
//! Save stores it. The API checks both, and a refusal (with its line and
//! column) comes back on the page with the text as the editor left it.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use marquee_admin::digest::{DigestPreview, DigestTemplate, TemplateReport};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, back, render, schedule_names};
use crate::session::Session;
use crate::{ApiClient, ApiError, Console, encode};

const PAGE: &str = "/console/templates";

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    names: Vec<String>,
    name: String,
    schedules: Vec<String>,
    schedule: String,
    template: DigestTemplate,
    preview: Option<DigestPreview>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chosen {
    #[serde(default)]
    name: String,
    #[serde(default)]
    schedule: String,
    #[serde(flatten)]
    flash: Flash,
}

/// The page around `template` (the stored one, or what the editor sent).
async fn view(
    api: &ApiClient,
    name: String,
    schedule: String,
    template: Option<DigestTemplate>,
    flash: Flash,
    preview: Option<DigestPreview>,
) -> Result<View, PageError> {
    let stored: Vec<TemplateReport> = api.get("/admin/digest/templates").await?;
    let schedules = schedule_names(api).await?;
    let name = if name.is_empty() {
        stored.first().map(|t| t.name.clone()).unwrap_or_default()
    } else {
        name
    };
    let template = match template {
        Some(template) => template,
        None => {
            api.get::<TemplateReport>(&format!("/admin/digest/templates/{}", encode(&name)))
                .await?
                .template
        }
    };
    let schedule = if schedule.is_empty() {
        schedules.first().cloned().unwrap_or_default()
    } else {
        schedule
    };
    Ok(View {
        title: "Digest templates",
        flash,
        names: stored.into_iter().map(|t| t.name).collect(),
        name,
        schedules,
        schedule,
        template,
        preview,
    })
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(chosen): Query<Chosen>,
) -> Result<Html<String>, PageError> {
    let view = view(&api, chosen.name, chosen.schedule, None, chosen.flash, None).await?;
    render(&console, "templates.html", &view)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TemplateAction {
    Preview,
    Save,
}

#[derive(Deserialize)]
pub(crate) struct TemplateForm {
    name: String,
    schedule: String,
    subject: String,
    html: String,
    text: String,
    action: TemplateAction,
}

/// Preview or Save. Both answer with the page itself while there is
/// something to look at (a preview, a refusal), so no edit is lost.
pub(crate) async fn act(
    State(console): State<Console>,
    Session(api): Session,
    Form(form): Form<TemplateForm>,
) -> Result<Response, PageError> {
    let template = DigestTemplate {
        // Browsers send a textarea's line breaks as CRLF.
        subject: form.subject.trim().to_owned(),
        html: form.html.replace("\r\n", "\n"),
        text: form.text.replace("\r\n", "\n"),
    };
    let path = format!("/admin/digest/templates/{}", encode(&form.name));
    let (flash, preview) = match form.action {
        TemplateAction::Save => match api.put_json::<TemplateReport>(&path, &template).await {
            Ok(saved) => {
                let to = format!(
                    "{PAGE}?name={}&schedule={}",
                    encode(&saved.name),
                    encode(&form.schedule)
                );
                let message = format!("template {} saved: the next digest uses it", saved.name);
                return Ok(back(&to, Ok(message)));
            }
            Err(error) => (refusal(error)?, None),
        },
        TemplateAction::Preview => {
            let request = api
                .request(reqwest::Method::POST, &format!("{path}/preview"))
                .query(&[("schedule", form.schedule.as_str())])
                .json(&template);
            match api.call::<DigestPreview>(request).await {
                Ok(preview) => (Flash::default(), Some(preview)),
                Err(error) => (refusal(error)?, None),
            }
        }
    };
    let view = view(
        &api,
        form.name,
        form.schedule,
        Some(template),
        flash,
        preview,
    )
    .await?;
    Ok(render(&console, "templates.html", &view)?.into_response())
}

/// The API's refusal as the page's error line; a lapsed login goes to the
/// login page.
fn refusal(error: ApiError) -> Result<Flash, PageError> {
    if error.is_unauthorized() {
        return Err(PageError::Login);
    }
    Ok(Flash::error(error.to_string()))
}
