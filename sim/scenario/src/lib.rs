//! `dx-scenario`: what a run simulates. A scenario is TOML; every field has a default and
//! unknown fields are errors, so a typo never turns into a silent default. Every value checks
//! its range while it is read ([`values`]), and what spans several fields (a rollout's
//! waypoints, adoption that only grows, a period inside the calendar) is checked once, when the
//! file is loaded (`Scenario::load`, in `load.rs`); the pipeline takes the loaded [`Scenario`] and never
//! checks it again. A refusal names the file, the field and the allowed range.
//!
//! `scenarios/README.md` documents every field; `scenarios/quickstart.toml` shows each with its
//! default. [`adoption`] turns the adoption values into a timeline.

pub mod adoption;
pub mod dates;
pub mod faults;
mod load;
pub mod sections;
pub mod values;

pub use faults::{Fault, FaultKind};
pub use sections::*;
pub use values::{KindCounts, KindShares, Name, PerKind, Share};

use chrono::{NaiveDate, NaiveDateTime};
use dates::toml_date;
use serde::Deserialize;
use values::{Months, shares};

/// The seed used when a scenario does not give one.
pub const DEFAULT_SEED: u64 = 20_241_001;

/// Years a scenario's period and rollout may fall in: those the workload's holiday calendar is
/// exact for (the 2020–2021 Olympic moves are not modelled).
pub const CALENDAR_YEARS: std::ops::RangeInclusive<i32> = 2022..=2099;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in output paths.
    pub name: Name,
    /// Root of every random stream of the run.
    pub seed: u64,
    pub population: PopulationSection,
    pub adoption: AdoptionSection,
    pub period: PeriodSection,
    pub calendar: CalendarSection,
    pub rates: RatesSection,
    pub ehr: EhrSection,
    pub municipal: MunicipalSection,
    pub portal: PortalSection,
    pub replay: ReplaySection,
    /// The reference exchange `dxsim run` runs (its admission control).
    pub exchange: ExchangeSection,
    /// Service-level objectives per route (the `route` names of the event stream: `verify`,
    /// `register`, `ehr_summary`, …); routes not named use `default`.
    pub slo: SloSection,
    /// The capacity model (`dxsim capacity`).
    pub capacity: CapacitySection,
    /// A rollout over years (`dxsim report SCENARIO`): adoption moving through waypoints,
    /// simulated month by month.
    pub rollout: Option<RolloutSection>,
    /// Faults injected into the replay, each over a window of the period (`[[faults]]`).
    pub faults: Vec<Fault>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: Name::new("japan").expect("a valid name"),
            seed: DEFAULT_SEED,
            population: PopulationSection::default(),
            adoption: AdoptionSection::default(),
            period: PeriodSection::default(),
            calendar: CalendarSection::default(),
            rates: RatesSection::default(),
            ehr: EhrSection::default(),
            municipal: MunicipalSection::default(),
            portal: PortalSection::default(),
            replay: ReplaySection::default(),
            exchange: ExchangeSection::default(),
            slo: SloSection::default(),
            capacity: CapacitySection::default(),
            rollout: None,
            faults: Vec::new(),
        }
    }
}

/// Shares of facilities taking part, by kind; defaults from FACTS (June 2025).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdoptionSection {
    /// Connected to online eligibility, June 2025: 7,984/8,060; 83,370/105,207;
    /// 61,124/66,378; 60,494/62,828.
    pub online_eligibility: KindShares,
    /// Running e-prescription, June 2025: 13.4%, 19.6%, 4.7%, 82.5% of connected facilities.
    pub eprescription: KindShares,
    /// Connected facilities taking part in EHR sharing: hospitals and clinics submit the 6
    /// items and documents; every kind may read. The service was in model projects in 2025;
    /// the defaults (hospitals 5%, clinics 2%, dental clinics and pharmacies none) are an
    /// assumption.
    pub ehr_sharing: KindShares,
    /// Adoption reached by the end of the period: each value given moves linearly from its
    /// start value (above, or in `[rates]`) to this one over the period; values not given stay.
    pub at_end: AdoptionEnd,
}

impl Default for AdoptionSection {
    fn default() -> Self {
        Self {
            online_eligibility: shares(
                7_984.0 / 8_060.0,
                83_370.0 / 105_207.0,
                61_124.0 / 66_378.0,
                60_494.0 / 62_828.0,
            ),
            eprescription: shares(0.134, 0.196, 0.047, 0.825),
            ehr_sharing: shares(0.05, 0.02, 0.0, 0.0),
            at_end: AdoptionEnd::default(),
        }
    }
}

/// Where adoption stands at a waypoint, or at the period's end (a rollout over the period).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdoptionEnd {
    /// Facilities connected to online eligibility; at least the start shares.
    pub online_eligibility: Option<KindShares>,
    /// Connected facilities running e-prescription; at least the start shares.
    pub eprescription: Option<KindShares>,
    /// Connected facilities taking part in EHR sharing; at least the start shares.
    pub ehr_sharing: Option<KindShares>,
    /// `rates.card_use` at the end.
    pub card_use: Option<KindShares>,
    /// `rates.electronic_share` at the end.
    pub electronic_share: Option<Share>,
    /// `rates.refill_share` at the end.
    pub refill_share: Option<Share>,
    /// `municipal.participation` at the end; at least the start share.
    pub municipal_participation: Option<Share>,
}

/// A rollout: from the first day of `start`'s month, `months` months are simulated; adoption
/// starts at the scenario's `[adoption]`, `[rates]` and `[municipal]` values and moves linearly
/// between the waypoints that name each value (see [`adoption`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    /// The first month simulated: a date on its first day.
    #[serde(deserialize_with = "toml_date")]
    pub start: NaiveDate,
    /// How many months are simulated (1–240).
    pub months: Months,
    /// Where adoption stands on given dates, in order, after `start`.
    #[serde(default)]
    pub waypoints: Vec<Waypoint>,
}

impl RolloutSection {
    /// JST midnight of the first day simulated.
    pub fn start_time(&self) -> NaiveDateTime {
        self.start.and_hms_opt(0, 0, 0).expect("midnight")
    }

    /// The first day of each month simulated, and of the month after the last.
    pub fn month_starts(&self) -> Vec<NaiveDate> {
        (0..=self.months.get())
            .map(|m| self.start + chrono::Months::new(m))
            .collect()
    }
}

/// Where adoption stands on a date (`at`): any of the values `[adoption.at_end]` takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Waypoint {
    pub at: NaiveDate,
    pub values: AdoptionEnd,
}

impl<'de> Deserialize<'de> for Waypoint {
    /// `at` beside the values, unknown names refused (serde's `flatten` would ignore them).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let at = table
            .remove("at")
            .ok_or_else(|| D::Error::missing_field("at"))?;
        Ok(Self {
            at: toml_date(at).map_err(D::Error::custom)?,
            values: AdoptionEnd::deserialize(toml::Value::Table(table))
                .map_err(D::Error::custom)?,
        })
    }
}

/// Why a scenario was refused; said before any work starts.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}")]
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
    ///
    /// # Panics
    /// If `scale` is not in (0, 1]; a scale from a user goes through [`values::Scale::new`].
    pub fn national(scale: f64) -> Self {
        let mut s = Self::default();
        s.population.scale = values::Scale::new(scale).expect("a scale in (0, 1]");
        s
    }
}

#[cfg(test)]
mod tests;
