//! Source kinds: a kind is a parser behind [`SourceKind`], and a service
//! lists its kinds in one `static` slice ([`Kinds`]), one registration line
//! each. Settings name a kind by [`SourceKind::name`]; [`KindName`] checks
//! the name against the slice when the settings are read, so a typo stops
//! the process with the kinds it could have been.

use std::fmt;

use marquee_fetch::Document;

/// A parser for one kind of source document.
pub trait SourceKind: Send + Sync + 'static {
    /// What the service hands every parser beside the document: a venue, a
    /// time window, "now"…
    type Context;
    /// What one document yields, typically items plus the rejections among
    /// them.
    type Output;

    /// The name settings use for it, e.g. `ics`.
    fn name(&self) -> &'static str;

    /// Reads `document`.
    fn parse(&self, document: &Document, context: &Self::Context) -> Self::Output;
}

/// A [`SourceKind`] made of a name and a parsing function, for the usual
/// parser that keeps no state: its registration line is
/// `&Parser::new("ics", ics::read)`.
pub struct Parser<C: 'static, O: 'static> {
    name: &'static str,
    parse: fn(&Document, &C) -> O,
}

impl<C, O> Parser<C, O> {
    /// The kind `name`, read by `parse`.
    pub const fn new(name: &'static str, parse: fn(&Document, &C) -> O) -> Self {
        Self { name, parse }
    }
}

impl<C, O> SourceKind for Parser<C, O> {
    type Context = C;
    type Output = O;

    fn name(&self) -> &'static str {
        self.name
    }

    fn parse(&self, document: &Document, context: &C) -> O {
        (self.parse)(document, context)
    }
}

/// A service's registered kinds.
pub type Kinds<C, O> = &'static [&'static dyn SourceKind<Context = C, Output = O>];

/// A settings value naming a registered kind.
pub struct KindName<C: 'static, O: 'static> {
    kind: &'static dyn SourceKind<Context = C, Output = O>,
}

/// A kind name that no registered kind has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source kind {name:?}: expected one of {known}")]
pub struct UnknownKind {
    /// The name given.
    pub name: String,
    /// The registered names, comma-separated.
    pub known: String,
}

impl<C, O> KindName<C, O> {
    /// The kind of `kinds` named `name`.
    pub fn parse(kinds: Kinds<C, O>, name: &str) -> Result<Self, UnknownKind> {
        kinds
            .iter()
            .find(|kind| kind.name() == name)
            .map(|kind| Self { kind: *kind })
            .ok_or_else(|| UnknownKind {
                name: name.to_owned(),
                known: kinds
                    .iter()
                    .map(|kind| format!("`{}`", kind.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The name settings use.
    pub fn as_str(&self) -> &'static str {
        self.kind.name()
    }

    /// Its parser.
    pub fn parser(&self) -> &'static dyn SourceKind<Context = C, Output = O> {
        self.kind
    }
}

impl<C, O> Clone for KindName<C, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C, O> Copy for KindName<C, O> {}

impl<C, O> PartialEq for KindName<C, O> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<C, O> Eq for KindName<C, O> {}

impl<C, O> fmt::Debug for KindName<C, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<C, O> fmt::Display for KindName<C, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
