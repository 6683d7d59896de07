//! The reader's form, on the subscribe and preferences pages: its fields
//! as entered ([`Draft`], shown again beside a refusal), the preferences
//! they ask for, each refusal naming its field, and the choices the pages
//! offer.

use marquee_events::Venue;
use serde::Serialize;

use super::list_of;
use crate::email::EmailAddress;
use crate::store::Preferences;

/// Formats a reader can ask for (as stored, then as offered); none is
/// every format.
const FORMATS: [(&str, &str); 4] = [
    ("celluloid", "Celluloid only: 35mm, 70mm and 16mm prints"),
    ("35mm", "35mm prints only"),
    ("70mm", "70mm prints only"),
    ("16mm", "16mm prints only"),
];

/// Access provisions, spelled as `marquee_events::Accessibility` is.
const ACCESSIBILITY: [(&str, &str); 4] = [
    (
        "subtitled",
        "Captioned or subtitled, for deaf and hard of hearing viewers",
    ),
    ("audio_described", "Audio described"),
    ("relaxed", "Relaxed screenings"),
    ("baby_friendly", "Parent and baby screenings"),
];

/// The longest a reader may pause the digest for.
pub(crate) const MAX_PAUSE_WEEKS: u32 = 12;

/// A field of a posted form that is refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FormError {
    /// The field, as the form names it.
    pub field: &'static str,
    /// What is wrong with it, and what would do.
    pub reason: String,
}

impl FormError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// The fields of a subscribe or preferences form as the reader entered
/// them. Lists come as repeated fields (checkboxes) or comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Draft {
    /// The address.
    pub email: String,
    /// The list; empty for `weekly`.
    pub list: String,
    /// Venue ids.
    pub venues: Vec<String>,
    /// Formats.
    pub formats: Vec<String>,
    /// Minimum stars, empty for any.
    pub min_rating: String,
    /// Access provisions.
    pub accessibility: Vec<String>,
}

/// The `name=value` pairs of a urlencoded `body`, each name one of `fields`.
fn pairs(body: &[u8], fields: &[&str]) -> Result<Vec<(String, String)>, FormError> {
    url::form_urlencoded::parse(body)
        .map(|(name, value)| {
            if fields.contains(&name.as_ref()) {
                Ok((name.into_owned(), value.into_owned()))
            } else {
                Err(FormError::new(
                    "form",
                    format!(
                        "it has a field `{name}` that this form does not have (it has {})",
                        fields.join(", ")
                    ),
                ))
            }
        })
        .collect()
}

impl Draft {
    /// The subscribe or preferences form in `body`.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut draft = Self::default();
        let fields = [
            "email",
            "list",
            "venues",
            "formats",
            "min_rating",
            "accessibility",
        ];
        for (name, value) in pairs(body, &fields)? {
            match name.as_str() {
                "email" => draft.email = value.trim().to_owned(),
                "list" => draft.list = value.trim().to_owned(),
                "venues" => draft.venues.extend(list_of(&value, ',')),
                "formats" => draft.formats.extend(list_of(&value, ',')),
                "min_rating" => draft.min_rating = value.trim().to_owned(),
                _ => draft.accessibility.extend(list_of(&value, ',')),
            }
        }
        Ok(draft)
    }

    /// The form as `preferences` fill it, for the preferences page.
    pub fn of(email: &EmailAddress, list: &str, preferences: &Preferences) -> Self {
        Self {
            email: email.to_string(),
            list: list.to_owned(),
            venues: preferences.venues.clone(),
            formats: preferences.formats.clone(),
            min_rating: preferences
                .min_rating
                .map(|n| n.to_string())
                .unwrap_or_default(),
            accessibility: preferences.accessibility.clone(),
        }
    }

    /// The address entered.
    pub fn email(&self) -> Result<EmailAddress, FormError> {
        if self.email.is_empty() {
            return Err(FormError::new("email", "enter your email address"));
        }
        EmailAddress::parse(&self.email).map_err(|error| FormError::new("email", error.to_string()))
    }

    /// The preferences it asks for, its venues among `known`.
    pub fn preferences(&self, known: &[Venue]) -> Result<Preferences, FormError> {
        let min_rating = match self.min_rating.as_str() {
            "" => None,
            n => Some(n.parse::<u8>().ok().filter(|n| *n <= 5).ok_or_else(|| {
                FormError::new("min_rating", format!("must be 0 to 5 stars, not `{n}`"))
            })?),
        };
        let preferences = Preferences {
            venues: self.venues.clone(),
            formats: self.formats.clone(),
            min_rating,
            accessibility: self.accessibility.clone(),
            paused_until: None,
        };
        check(&preferences, known)?;
        Ok(preferences)
    }
}

/// Refuses preferences naming a venue not in `known`, a format or an
/// access provision the pages do not offer.
pub fn check(preferences: &Preferences, known: &[Venue]) -> Result<(), FormError> {
    if let Some(unknown) = preferences
        .venues
        .iter()
        .find(|id| !known.iter().any(|venue| &venue.id == *id))
    {
        let ids: Vec<&str> = known.iter().map(|venue| venue.id.as_str()).collect();
        let choose = if ids.is_empty() {
            "no venue has listed screenings yet, so leave venues empty for every venue".to_owned()
        } else {
            format!("choose among {}", ids.join(", "))
        };
        return Err(FormError::new(
            "venues",
            format!("`{unknown}` is not a venue the digest lists; {choose}"),
        ));
    }
    let offered = |list: &[(&str, &str)], value: &str| list.iter().any(|(v, _)| *v == value);
    if let Some(unknown) = preferences.formats.iter().find(|f| !offered(&FORMATS, f)) {
        return Err(FormError::new(
            "formats",
            format!(
                "`{unknown}` is not a format to choose; choose among celluloid, 35mm, 70mm, 16mm"
            ),
        ));
    }
    if let Some(unknown) = preferences
        .accessibility
        .iter()
        .find(|a| !offered(&ACCESSIBILITY, a))
    {
        return Err(FormError::new(
            "accessibility",
            format!(
                "`{unknown}` is not an access provision; choose among subtitled, audio_described, relaxed, baby_friendly"
            ),
        ));
    }
    Ok(())
}

/// The weeks of a pause form in `body`, 1 to [`MAX_PAUSE_WEEKS`].
pub fn pause_weeks(body: &[u8]) -> Result<u32, FormError> {
    let weeks = pairs(body, &["weeks"])?
        .into_iter()
        .map(|(_, value)| value)
        .next_back()
        .unwrap_or_default();
    weeks
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PAUSE_WEEKS).contains(n))
        .ok_or_else(|| {
            FormError::new(
                "weeks",
                format!("pause for 1 to {MAX_PAUSE_WEEKS} weeks, not `{weeks}`"),
            )
        })
}

/// One choice a page offers: a checkbox, a radio button or an option.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    value: String,
    label: String,
    chosen: bool,
}

/// What the preference fields offer, `draft`'s choices marked.
#[derive(Debug, Clone, Serialize)]
pub struct Choices {
    venues: Vec<Choice>,
    formats: Vec<Choice>,
    ratings: Vec<Choice>,
    accessibility: Vec<Choice>,
    weeks: Vec<Choice>,
}

impl Choices {
    /// The choices with `draft`'s marked; venues are `known`.
    pub fn of(draft: &Draft, known: &[Venue]) -> Self {
        let choice = |value: &str, label: String, chosen: bool| Choice {
            value: value.to_owned(),
            label,
            chosen,
        };
        let any_format = choice("", "Any format".to_owned(), draft.formats.is_empty());
        Self {
            venues: known
                .iter()
                .map(|venue| {
                    choice(
                        &venue.id,
                        venue.name.clone(),
                        draft.venues.contains(&venue.id),
                    )
                })
                .collect(),
            formats: std::iter::once(any_format)
                .chain(FORMATS.iter().map(|(value, label)| {
                    choice(value, (*label).to_owned(), draft.formats == [*value])
                }))
                .collect(),
            ratings: std::iter::once(choice(
                "",
                "Every review".to_owned(),
                draft.min_rating.is_empty(),
            ))
            .chain((1..=5).map(|n: u8| {
                let label = if n == 1 {
                    "1 star or more".to_owned()
                } else {
                    format!("{n} stars or more")
                };
                choice(&n.to_string(), label, draft.min_rating == n.to_string())
            }))
            .collect(),
            accessibility: ACCESSIBILITY
                .iter()
                .map(|(value, label)| {
                    choice(
                        value,
                        (*label).to_owned(),
                        draft.accessibility.iter().any(|a| a == value),
                    )
                })
                .collect(),
            weeks: [1, 2, 3, 4, 6, 8, MAX_PAUSE_WEEKS]
                .map(|n: u32| {
                    let label = if n == 1 {
                        "1 week".to_owned()
                    } else {
                        format!("{n} weeks")
                    };
                    choice(&n.to_string(), label, n == 1)
                })
                .to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use marquee_events::Accessibility;

    use super::*;

    fn venue(id: &str) -> Venue {
        Venue {
            id: id.to_owned(),
            name: id.to_uppercase(),
            address: None,
        }
    }

    #[test]
    fn every_offered_access_provision_is_a_screenings_spelling() {
        for (value, _) in ACCESSIBILITY {
            let parsed: Accessibility = serde_json::from_value(serde_json::json!(value)).unwrap();
            assert_eq!(serde_json::to_value(parsed).unwrap(), value);
        }
    }

    #[test]
    fn checkboxes_and_commas_both_make_lists_and_each_refusal_names_its_field() {
        let draft = Draft::parse(
            b"email=a%40b.example&venues=bfi&venues=castle,+pcc&formats=celluloid&min_rating=3&accessibility=relaxed",
        )
        .unwrap();
        assert_eq!(draft.venues, ["bfi", "castle", "pcc"]);
        let known = [venue("bfi"), venue("castle"), venue("pcc")];
        let preferences = draft.preferences(&known).unwrap();
        assert_eq!(preferences.min_rating, Some(3));
        assert_eq!(preferences.accessibility, ["relaxed"]);

        let refused = |body: &[u8]| Draft::parse(body).and_then(|d| d.preferences(&known));
        let error = refused(b"venues=odeon").unwrap_err();
        assert_eq!(error.field, "venues");
        assert!(error.reason.contains("`odeon`") && error.reason.contains("bfi, castle, pcc"));
        assert_eq!(refused(b"min_rating=9").unwrap_err().field, "min_rating");
        assert_eq!(refused(b"formats=vhs").unwrap_err().field, "formats");
        assert_eq!(
            refused(b"accessibility=x").unwrap_err().field,
            "accessibility"
        );
        assert_eq!(refused(b"colour=red").unwrap_err().field, "form");
        assert_eq!(Draft::default().email().unwrap_err().field, "email");
        assert_eq!(pause_weeks(b"weeks=4"), Ok(4));
        assert_eq!(pause_weeks(b"weeks=0").unwrap_err().field, "weeks");
        assert_eq!(pause_weeks(b"weeks=13").unwrap_err().field, "weeks");
    }
}
