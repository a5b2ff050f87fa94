//! Scenario files: what a run simulates. A scenario is TOML; every field has a default and unknown
//! fields are errors, so a typo never turns into a silent default. This is the part of the schema
//! the population uses; the workload model adds its own sections.

use chrono::NaiveDate;
use serde::Deserialize;
use std::path::Path;

/// The seed used when a scenario does not give one.
pub const DEFAULT_SEED: u64 = 20_241_001;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in output paths.
    #[serde(default = "default_name")]
    pub name: String,
    /// Root of every random stream of the run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub population: PopulationSection,
    #[serde(default)]
    pub adoption: AdoptionSection,
}

fn default_name() -> String {
    "japan".into()
}
fn default_seed() -> u64 {
    DEFAULT_SEED
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PopulationSection {
    /// Fraction of Japan to generate, in (0, 1]; 1.0 is all of Japan (≈123.8 M persons).
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// Prefecture codes (1–47) to generate; empty means all 47.
    #[serde(default)]
    pub prefectures: Vec<u8>,
    /// The date ages, qualifications and entitlements refer to.
    #[serde(default = "default_as_of", deserialize_with = "toml_date")]
    pub as_of: NaiveDate,
}

/// Accepts a TOML date (`2025-10-01`) or a quoted one (`"2025-10-01"`).
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Either::deserialize(d)? {
        Either::Text(t) => t,
        Either::Toml(dt) => dt.to_string(),
    };
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

fn default_scale() -> f64 {
    0.001
}
fn default_as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 1).expect("valid date")
}

impl Default for PopulationSection {
    fn default() -> Self {
        Self {
            scale: default_scale(),
            prefectures: Vec::new(),
            as_of: default_as_of(),
        }
    }
}

/// Shares of facilities taking part, by kind; defaults from FACTS (June 2025).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdoptionSection {
    #[serde(default)]
    pub online_eligibility: KindShares,
    #[serde(default = "eprescription_default")]
    pub eprescription: KindShares,
}

impl Default for AdoptionSection {
    fn default() -> Self {
        Self {
            online_eligibility: KindShares::default(),
            eprescription: eprescription_default(),
        }
    }
}

/// A share per facility kind, each in [0, 1].
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KindShares {
    pub hospital: f64,
    pub clinic: f64,
    pub dental: f64,
    pub pharmacy: f64,
}

impl Default for KindShares {
    /// Connected to online eligibility, June 2025: 7,984/8,060; 83,370/105,207; 61,124/66,378;
    /// 60,494/62,828.
    fn default() -> Self {
        Self {
            hospital: 7_984.0 / 8_060.0,
            clinic: 83_370.0 / 105_207.0,
            dental: 61_124.0 / 66_378.0,
            pharmacy: 60_494.0 / 62_828.0,
        }
    }
}

/// Running e-prescription, June 2025: 13.4%, 19.6%, 4.7%, 82.5% of connected facilities.
fn eprescription_default() -> KindShares {
    KindShares {
        hospital: 0.134,
        clinic: 0.196,
        dental: 0.047,
        pharmacy: 0.825,
    }
}

/// Why a scenario was refused; said before any work starts.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("scenario {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Scenario {
    /// The scenario of all of Japan at `scale` with the default seed.
    pub fn national(scale: f64) -> Self {
        Self {
            name: default_name(),
            seed: DEFAULT_SEED,
            population: PopulationSection {
                scale,
                ..PopulationSection::default()
            },
            adoption: AdoptionSection::default(),
        }
    }

    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: p.clone(),
            source,
        })?;
        let s: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Parse {
            path: p.clone(),
            message: e.to_string(),
        })?;
        s.validate()
            .map_err(|message| ScenarioError::Invalid { path: p, message })?;
        Ok(s)
    }

    /// Checks ranges the types cannot express.
    pub fn validate(&self) -> Result<(), String> {
        let scale = self.population.scale;
        if !(scale > 0.0 && scale <= 1.0) {
            return Err(format!("population.scale must be in (0, 1], got {scale}"));
        }
        if let Some(p) = self
            .population
            .prefectures
            .iter()
            .find(|p| !(1..=47).contains(*p))
        {
            return Err(format!(
                "population.prefectures: {p} is not a prefecture code 1–47"
            ));
        }
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err("name: letters, digits, '-' and '_' only".into());
        }
        for (what, k) in [
            (
                "adoption.online_eligibility",
                self.adoption.online_eligibility,
            ),
            ("adoption.eprescription", self.adoption.eprescription),
        ] {
            for v in [k.hospital, k.clinic, k.dental, k.pharmacy] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("{what}: shares must be in [0, 1], got {v}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_an_empty_file_and_typos_are_errors() {
        let s: Scenario = toml::from_str("").unwrap();
        assert_eq!(s, Scenario::national(0.001));
        let e = toml::from_str::<Scenario>("[population]\nscael = 0.1\n").unwrap_err();
        assert!(e.to_string().contains("scael"), "{e}");
    }

    #[test]
    fn dates_may_be_toml_dates_or_strings() {
        for text in [
            "[population]\nas_of = 2024-04-01\n",
            "[population]\nas_of = \"2024-04-01\"\n",
        ] {
            let s: Scenario = toml::from_str(text).unwrap();
            assert_eq!(
                s.population.as_of,
                NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
            );
        }
        assert!(toml::from_str::<Scenario>("[population]\nas_of = \"April\"\n").is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let mut s = Scenario::national(0.0);
        assert!(s.validate().unwrap_err().contains("(0, 1]"));
        s.population.scale = 1.5;
        assert!(s.validate().is_err());
        s.population.scale = 0.5;
        s.population.prefectures = vec![48];
        assert!(s.validate().unwrap_err().contains("48"));
    }
}
