//! The ingest core: what the reviews and listings ingest services share, so
//! each writes only its parsers and its change rules.
//!
//! - [`Ingest`] runs a service's [`Pipeline`]: every [`Source`] polled on its
//!   interval until the shutdown token is cancelled, each poll's
//!   [`PollReport`] recorded in the sources' health ([`health`]), backfill
//!   as a job, and the admin routes (`GET /admin/{service}/sources`,
//!   `POST /admin/{service}/backfill`, `GET /admin/{service}/jobs/{id}`)
//!   answering with the admin contract's types, documented by [`openapi`].
//! - [`Conditional`] is conditional GET: validators (and a memo of what the
//!   document yielded) remembered per URL in the service's database.
//! - Withdrawal deadlines: what a read in full no longer lists
//!   ([`PollReport::sweep`]) is withdrawn ([`Pipeline::expire`]) once it
//!   has been missing for the pipeline's grace period, checked after every
//!   poll whatever the source answered; kept in the service's database.
//! - [`change::decide`] is change detection: what the ledger holds about an
//!   item and what the source says now make it new, changed, unchanged or
//!   withdrawn. The ledgers themselves stay in each service's `store/`,
//!   since each keeps what its items need (a content hash, or the last
//!   published screening).
//! - [`store`] opens a service's database (schema, readiness check); the
//!   service's ledger and the core's health records share that one pool.
//! - [`Rejection`] and [`PollReport::reject`]: a rejected document or item is
//!   logged with its source and reason, counted in
//!   `marquee_ingest_rejected_total{source, reason}` and in the source's
//!   health, and skipped.
//!
//! # Adding a source kind
//! A source kind is a parser behind [`SourceKind`] plus one registration
//! line in the service's [`Kinds`]; settings then accept its name as
//! `kind`. A parser without state is just a function, registered as
//! [`Parser`]`::new("name", read)`:
//!
//! ```
//! use marquee_fetch::Document;
//! use marquee_ingest::{KindName, Kinds, Parser, SourceKind};
//!
//! /// What every parser of this (made-up) service is given and yields.
//! struct Venue { name: String }
//! type Parsed = Result<Vec<String>, String>;
//!
//! /// One title per line.
//! struct Lines;
//!
//! impl SourceKind for Lines {
//!     type Context = Venue;
//!     type Output = Parsed;
//!     fn name(&self) -> &'static str {
//!         "lines"
//!     }
//!     fn parse(&self, document: &Document, venue: &Venue) -> Parsed {
//!         Ok(document.text.lines().map(|title| format!("{title} at {}", venue.name)).collect())
//!     }
//! }
//!
//! /// Comma-separated titles, read by a plain function.
//! fn commas(document: &Document, venue: &Venue) -> Parsed {
//!     Ok(document.text.split(',').map(|title| format!("{} at {}", title.trim(), venue.name)).collect())
//! }
//!
//! static KINDS: Kinds<Venue, Parsed> = &[
//!     &Lines,                         // a registration line
//!     &Parser::new("commas", commas), // another
//! ];
//!
//! let kind = KindName::parse(KINDS, "lines").unwrap();
//! let document = Document {
//!     url: "https://cinema.example/listings.txt".parse().unwrap(),
//!     text: "Jaws\nHeat".to_owned(),
//!     validators: Default::default(),
//! };
//! let venue = Venue { name: "The Castle".to_owned() };
//! let commas = KindName::parse(KINDS, "commas").unwrap();
//! assert_eq!(commas.parser().parse(&document, &venue).unwrap(), ["Jaws\nHeat at The Castle"]);
//! assert_eq!(kind.parser().parse(&document, &venue).unwrap(), ["Jaws at The Castle", "Heat at The Castle"]);
//! assert_eq!(
//!     KindName::parse(KINDS, "rss").unwrap_err().to_string(),
//!     "unknown source kind \"rss\": expected one of `lines`, `commas`"
//! );
//! ```
//!
//! The service's [`Pipeline::poll`] fetches the source, calls its kind's
//! parser and hands each item to change detection; nothing else changes.

mod admin;
pub mod change;
mod conditional;
mod deadline;
pub mod health;
mod kind;
mod poller;
mod report;
mod source;
pub mod store;

pub use admin::openapi;
pub use change::{Change, Recorded, decide};
pub use conditional::{Answer, Conditional};
pub use health::{PollOutcome, SourceHealthLog, SourceRef};
pub use kind::{KindName, Kinds, Parser, SourceKind, UnknownKind};
pub use poller::{Ingest, Pipeline, ServiceName};
pub use report::{PollReport, Rejection, Sweep};
pub use source::Source;
#[cfg(feature = "test-support")]
pub mod testing;
