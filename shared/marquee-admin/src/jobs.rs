//! Long operator tasks (replay, backfill): `202 Accepted` with a
//! [`JobStatus`], then `GET /admin/{service}/jobs/{id}` until it is done.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Still working.
    Running,
    /// Done.
    Succeeded,
    /// Stopped on an error; `error` says which.
    Failed,
}

/// A job as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// Identifier within the service that runs it.
    pub id: u64,
    /// What it does, e.g. `replay`.
    pub kind: String,
    /// Where it is.
    pub state: JobState,
    /// Items done so far.
    pub processed: u64,
    /// Items to do, once known.
    pub total: Option<u64>,
    /// What it found or did, once succeeded.
    pub summary: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The OpenAPI description of `GET {prefix}/jobs/{id}`, which every service
/// running jobs serves (the route is built by `marquee_runtime::jobs`, one
/// per prefix, so its description is built here rather than by a macro on
/// a handler with a fixed path).
pub fn openapi(prefix: &str) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::{
        ContentBuilder, OpenApiBuilder, PathItem, PathsBuilder, Required, ResponseBuilder,
        ResponsesBuilder, security::SecurityRequirement,
    };
    let service = prefix.trim_start_matches("/admin/");
    let json = |schema: &str| {
        ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name(schema)))
            .build()
    };
    let operation = OperationBuilder::new()
        .tag(service)
        .operation_id(Some(format!("{service}_job")))
        .summary(Some("A job's progress, then its summary or error."))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::Integer,
                ))),
        )
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("the job")
                        .content("application/json", json("JobStatus")),
                )
                .response(
                    "404",
                    ResponseBuilder::new().description("no such job, or forgotten"),
                ),
        )
        .build();
    let mut components = utoipa::openapi::Components::new();
    components.schemas.insert(
        "JobStatus".to_owned(),
        <JobStatus as utoipa::PartialSchema>::schema(),
    );
    components.schemas.insert(
        "JobState".to_owned(),
        <JobState as utoipa::PartialSchema>::schema(),
    );
    OpenApiBuilder::new()
        .paths(PathsBuilder::new().path(
            format!("{prefix}/jobs/{{id}}"),
            PathItem::new(HttpMethod::Get, operation),
        ))
        .components(Some(components))
        .build()
}
