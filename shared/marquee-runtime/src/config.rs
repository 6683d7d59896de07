//! Layered configuration.
//!
//! Layers, later ones winning: the built-in defaults (`config/default.toml`,
//! compiled in), then an optional file (`--config`), then environment
//! variables `MARQUEE_<SECTION>__<KEY>` (double underscore between levels,
//! e.g. `MARQUEE_BUS__TRANSPORT=kafka`). Unknown keys are errors that name
//! the key and the layer it came from.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::de::DeserializeOwned;

/// Environment variables with the prefix that are not settings.
const NOT_SETTINGS: &[&str] = &["config"];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Loads `T` from `defaults`, then `file`, then the environment.
pub fn load<T: DeserializeOwned>(defaults: &str, file: Option<&Path>) -> Result<T, ConfigError> {
    let mut figment = Figment::from(Toml::string(defaults));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(ConfigError(format!(
                "config file {} does not exist",
                file.display()
            )));
        }
        figment = figment.merge(Toml::file(file));
    }
    figment
        .merge(Env::prefixed("MARQUEE_").ignore(NOT_SETTINGS).split("__"))
        .extract()
        .map_err(|error| ConfigError(describe(error)))
}

/// Every error figment found, each with its key and source.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = match &e.metadata {
                // Name the variable itself, which is what the operator set.
                Some(m) if m.name.contains("environment") => format!(
                    "environment variable MARQUEE_{}",
                    e.path.join("__").to_uppercase()
                ),
                Some(m) => match &m.source {
                    Some(source) => format!("{} ({source})", m.name),
                    None => m.name.to_string(),
                },
                None => "defaults".to_owned(),
            };
            let kind = e.kind;
            if key.is_empty() {
                format!("{kind} in {source}")
            } else {
                format!("{kind} at `{key}` in {source}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    // figment's Jail returns its large error type; fine in tests.
    #![allow(clippy::unwrap_used, clippy::result_large_err)]

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        bus: Bus,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bus {
        transport: String,
        partitions: u32,
    }

    const DEFAULTS: &str = "[bus]\ntransport = \"embedded\"\npartitions = 1\n";

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("override.toml", "[bus]\npartitions = 3\n")?;
            jail.set_env("MARQUEE_BUS__TRANSPORT", "kafka");
            let settings: Settings = load(DEFAULTS, Some(Path::new("override.toml"))).unwrap();
            assert_eq!(settings.bus.transport, "kafka");
            assert_eq!(settings.bus.partitions, 3);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[bus]\npartitons = 3\n")?;
            let error = load::<Settings>(DEFAULTS, Some(Path::new("typo.toml"))).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("unknown field: found `partitons`"),
                "{message}"
            );
            assert!(message.contains("at `bus.partitons`"), "{message}");
            assert!(message.contains("typo.toml"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn a_bad_environment_value_is_named_with_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MARQUEE_BUS__PARTITIONS", "many");
            let message = load::<Settings>(DEFAULTS, None).unwrap_err().to_string();
            assert!(message.contains("at `bus.partitions`"), "{message}");
            assert!(message.contains("MARQUEE_BUS__PARTITIONS"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let message = load::<Settings>(DEFAULTS, Some(Path::new("/nowhere.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/nowhere.toml does not exist"),
            "{message}"
        );
    }
}
