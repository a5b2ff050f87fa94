//! Dates and date-times in a scenario: TOML's own or quoted strings.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;

/// A TOML date or date-time value, or a string, as text.
fn toml_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Toml(toml::value::Datetime),
    }
    Ok(match Either::deserialize(d)? {
        Either::Text(t) => t,
        Either::Toml(dt) => dt.to_string(),
    })
}

/// Accepts a TOML date (`2025-10-01`) or a quoted one (`"2025-10-01"`).
pub fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = toml_text(d)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// Accepts a TOML local date-time (`2025-10-06T08:30:00`) or a quoted one.
pub fn toml_datetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let text = toml_text(d)?;
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a local date-time (YYYY-MM-DDTHH:MM:SS, JST)"
            ))
        })
}
