//! The admin API's contract: the request and response types of every route
//! under `/admin/`, one module per area. The services' admin routes answer
//! with them, the OpenAPI document is derived from them, and the console and
//! the `marquee admin` CLI read them, so a renamed field fails to compile
//! instead of showing a blank cell. Serde and utoipa types only: no I/O,
//! cheap for anything to depend on.

pub mod audit;
pub mod bus;
pub mod digest;
pub mod feeds;
pub mod jobs;
pub mod social;
pub mod sources;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What every refusal carries: a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Why the request was refused.
    pub error: String,
}
