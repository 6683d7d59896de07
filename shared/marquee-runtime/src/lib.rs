//! What every Marquee service process shares: layered configuration,
//! telemetry, graceful shutdown, state databases, and the health, readiness
//! and Prometheus metrics endpoints.

pub mod admin;
pub mod clock;
pub mod config;
pub mod database;
pub mod error;
pub mod html;
pub mod http;
pub mod jobs;
pub mod shutdown;
pub mod telemetry;
