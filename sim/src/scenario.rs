//! Scenario files: what a run simulates. A scenario is TOML; every field has a default and unknown
//! fields are errors, so a typo never turns into a silent default. `scenarios/README.md` documents
//! every field; `scenarios/quickstart.toml` shows each with its default.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use std::collections::BTreeMap;
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
    #[serde(default)]
    pub period: PeriodSection,
    #[serde(default)]
    pub calendar: CalendarSection,
    #[serde(default)]
    pub rates: RatesSection,
    #[serde(default)]
    pub ehr: EhrSection,
    #[serde(default)]
    pub municipal: MunicipalSection,
    #[serde(default)]
    pub portal: PortalSection,
    #[serde(default)]
    pub replay: ReplaySection,
    /// Service-level objectives per route (the `route` names of the event stream: `verify`,
    /// `register`, `ehr_summary`, …); routes not named use `default`.
    #[serde(default)]
    pub slo: SloSection,
    /// The capacity model (`dxsim capacity`).
    #[serde(default)]
    pub capacity: CapacitySection,
    /// A rollout over years (`dxsim report SCENARIO`): adoption moving through waypoints,
    /// simulated month by month.
    #[serde(default)]
    pub rollout: Option<RolloutSection>,
}

/// A rollout: from the first day of `start`'s month, `months` months are simulated; adoption
/// starts at the scenario's `[adoption]`, `[rates]` and `[municipal]` values and moves linearly
/// between the waypoints that name each value (see [`crate::adoption`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    /// The first month simulated: a date on its first day.
    #[serde(deserialize_with = "toml_date")]
    pub start: NaiveDate,
    /// How many months are simulated (1–240).
    pub months: u32,
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
        (0..=self.months)
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

/// How `dxsim capacity` models the central services.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapacitySection {
    /// Scale of the workload sample the arrival rates are estimated from (then scaled to 1.0).
    #[serde(default = "default_sample_scale")]
    pub sample_scale: f64,
    /// Independent replications of the simulation (confidence intervals need at least 2).
    #[serde(default = "default_replications")]
    pub replications: usize,
    /// Per service (`eligibility`, `consent`, `prescription_register`, `prescription_check`,
    /// `prescription_retrieve`, `prescription_dispense`, `ehr_write`, `ehr_read`, `municipal`,
    /// `portal`): a fixed size to simulate, a queue limit, network latency.
    #[serde(default)]
    pub services: BTreeMap<String, CapacityService>,
    /// Per route: a log-normal service time given by its median and p99, overriding the
    /// calibration and the built-in figures.
    #[serde(default)]
    pub service_times: BTreeMap<String, ServiceTimeSpec>,
}

fn default_sample_scale() -> f64 {
    0.01
}
fn default_replications() -> usize {
    3
}

impl Default for CapacitySection {
    fn default() -> Self {
        Self {
            sample_scale: default_sample_scale(),
            replications: default_replications(),
            services: BTreeMap::new(),
            service_times: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapacityService {
    /// Workers; none: the model reports the run at the size the sizing search finds.
    #[serde(default)]
    pub servers: Option<u32>,
    /// Waiting places; none: unbounded.
    #[serde(default)]
    pub queue_limit: Option<u32>,
    /// Added to every response (the network), milliseconds.
    #[serde(default)]
    pub latency_ms: f64,
    /// `fifo` (default) or `priority`: a freed worker takes the waiting request of the
    /// first route in `priority` (routes not listed come last), first come first served within.
    #[serde(default)]
    pub discipline: crate::capacity::station::Discipline,
    #[serde(default)]
    pub priority: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimeSpec {
    pub median_ms: f64,
    pub p99_ms: f64,
}

/// The simulated period: from `start` (JST wall time) for `hours`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeriodSection {
    #[serde(default = "default_start", deserialize_with = "toml_datetime")]
    pub start: NaiveDateTime,
    #[serde(default = "default_hours")]
    pub hours: f64,
}

fn default_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 10, 6)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid")
}
fn default_hours() -> f64 {
    24.0
}

impl Default for PeriodSection {
    fn default() -> Self {
        Self {
            start: default_start(),
            hours: default_hours(),
        }
    }
}

impl PeriodSection {
    pub fn end(&self) -> NaiveDateTime {
        self.start + chrono::TimeDelta::milliseconds((self.hours * 3_600_000.0).round() as i64)
    }
}

/// Volumes and behaviour of EHR sharing (電子カルテ情報共有サービス) at facilities taking part.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EhrSection {
    /// Discharges per month at scale 1.0 (FACTS: ≈1.39 M); each yields a discharge summary at a
    /// hospital taking part.
    #[serde(default = "default_discharges")]
    pub discharges_per_month: f64,
    /// Specific health checkups per year at scale 1.0, of persons aged 40–74 (FACTS: ≈31 M); each
    /// yields a checkup report at a facility taking part. Seasonal: busiest June–November.
    #[serde(default = "default_checkups")]
    pub checkups_per_year: f64,
    /// Share of visits at a taking-part facility whose 6 items are submitted.
    #[serde(default = "one")]
    pub items_share: f64,
    /// Share of submissions that carry lab results (an assumption).
    #[serde(default = "default_lab_share")]
    pub lab_share: f64,
    /// Clinical-summary reads per visit with consent given at the card reader. Calibrated on the
    /// 13.1 M record views a month (Jul 2024) against ≈18 M consenting card checks then (205 M
    /// checks × 11% by card × 80% consenting): ≈0.7.
    #[serde(default = "default_read_share")]
    pub summary_read_share: f64,
    /// Share of clinic visits that end with a referral letter to a hospital (an assumption).
    #[serde(default = "default_referral_share")]
    pub referral_share: f64,
    /// Share of discharges followed by a referral letter back to the home clinic, with the
    /// discharge summary attached (an assumption).
    #[serde(default = "default_discharge_referral")]
    pub discharge_referral_share: f64,
}

/// Vaccination, maternal-child health and long-term care, in the municipalities taking part.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MunicipalSection {
    /// Share of municipalities exchanging their residents' records (an assumption: the public
    /// medical hub was in model municipalities in 2025). Persons of the others make no municipal
    /// or care requests.
    #[serde(default = "default_participation")]
    pub participation: f64,
    /// Influenza doses per year at scale 1.0 (FACTS: ≈50 M), given October–December.
    #[serde(default = "default_flu")]
    pub flu_doses_per_year: f64,
    /// Of them, routine doses of persons aged 65 and over (FACTS: ≈20.7 M).
    #[serde(default = "default_flu_elderly")]
    pub flu_elderly_doses_per_year: f64,
    /// Share of doses the vaccinating facility records online (connected facilities only); the
    /// rest reach the exchange in the municipality's weekly batch upload of paper records.
    #[serde(default = "default_online_record")]
    pub online_record_share: f64,
    /// Care-certification reads per certified person per month by their care provider.
    #[serde(default = "one")]
    pub care_reads_per_month: f64,
}

fn default_participation() -> f64 {
    0.12
}
fn default_flu() -> f64 {
    50.0e6
}
fn default_flu_elderly() -> f64 {
    20.7e6
}
fn default_online_record() -> f64 {
    0.5
}

impl Default for MunicipalSection {
    fn default() -> Self {
        Self {
            participation: default_participation(),
            flu_doses_per_year: default_flu(),
            flu_elderly_doses_per_year: default_flu_elderly(),
            online_record_share: default_online_record(),
            care_reads_per_month: 1.0,
        }
    }
}

/// The person's portal: reads of their own records and online applications, with an evening
/// peak; optionally a surge window.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortalSection {
    /// Portal page reads per card holder per year (not published; an assumption).
    #[serde(default = "default_portal_reads")]
    pub reads_per_holder_per_year: f64,
    /// Online applications to municipalities per year at scale 1.0 (an assumption).
    #[serde(default = "default_applications")]
    pub applications_per_year: f64,
    /// A window of extra portal traffic (e.g. a deadline or an announcement).
    #[serde(default)]
    pub surge: Option<Surge>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    /// JST wall time the surge begins.
    #[serde(deserialize_with = "toml_datetime")]
    pub start: NaiveDateTime,
    pub hours: f64,
    /// Multiplier on portal traffic inside the window (≥ 1).
    pub factor: f64,
}

fn default_portal_reads() -> f64 {
    3.0
}
fn default_applications() -> f64 {
    2.0e6
}

impl Default for PortalSection {
    fn default() -> Self {
        Self {
            reads_per_holder_per_year: default_portal_reads(),
            applications_per_year: default_applications(),
            surge: None,
        }
    }
}

fn default_discharges() -> f64 {
    1.39e6
}
fn default_checkups() -> f64 {
    31.0e6
}
fn default_lab_share() -> f64 {
    0.3
}
fn default_read_share() -> f64 {
    0.7
}
fn default_referral_share() -> f64 {
    0.015
}
fn default_discharge_referral() -> f64 {
    0.3
}

impl Default for EhrSection {
    fn default() -> Self {
        Self {
            discharges_per_month: default_discharges(),
            checkups_per_year: default_checkups(),
            items_share: 1.0,
            lab_share: default_lab_share(),
            summary_read_share: default_read_share(),
            referral_share: default_referral_share(),
            discharge_referral_share: default_discharge_referral(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalendarSection {
    /// Multiplier on outpatient volume in the flu season's peak weeks (ISO weeks 51–5); 1.0 is
    /// an ordinary winter, whose 1.2–1.5× over summer is already in the monthly pattern.
    #[serde(default = "one")]
    pub flu_peak: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for CalendarSection {
    fn default() -> Self {
        Self { flu_peak: 1.0 }
    }
}

/// National volumes the flows are calibrated to (FACTS), and the shares that split them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RatesSection {
    /// Outpatient visits per person per year (FACTS: 12.6).
    #[serde(default = "default_visits")]
    pub visits_per_person_year: f64,
    /// Online eligibility checks per month at scale 1.0, by facility kind (FACTS, Oct 2025).
    #[serde(default = "default_checks")]
    pub eligibility_checks_per_month: KindShares,
    /// Share of eligibility checks made as batch pre-checks of booked patients (FACTS: 1 in 8).
    #[serde(default = "default_batch")]
    pub batch_share: f64,
    /// Prescriptions per year at scale 1.0 (FACTS: 856 M, FY2023).
    #[serde(default = "default_prescriptions")]
    pub prescriptions_per_year: f64,
    /// Share of prescriptions dispensed by an outside pharmacy (FACTS: 80.3%).
    #[serde(default = "default_outside")]
    pub outside_share: f64,
    /// At a facility running e-prescription, the share of outside prescriptions the patient takes
    /// electronically rather than on paper. Not published; an assumption for the rollout.
    #[serde(default = "default_electronic")]
    pub electronic_share: f64,
    /// Share of electronic prescriptions issued as refill prescriptions (2–3 uses).
    #[serde(default = "default_refill")]
    pub refill_share: f64,
    /// Share of electronic prescriptions cancelled before dispensing (and issued again).
    #[serde(default = "default_cancel")]
    pub cancel_share: f64,
    /// Share of prescriptions a facility running e-prescription pre-checks for duplicates.
    #[serde(default = "default_precheck")]
    pub duplicate_check_share: f64,
    /// Share of card holders who use the card at the reader rather than the insurance number,
    /// by kind; the defaults give FACTS' 37% of checks by card (57% at hospitals) given that 70%
    /// of persons hold a card registered as insurance card.
    #[serde(default = "default_card_use")]
    pub card_use: KindShares,
}

fn default_visits() -> f64 {
    12.6
}
fn default_checks() -> KindShares {
    KindShares {
        hospital: 23.3e6,
        clinic: 115.7e6,
        dental: 24.0e6,
        pharmacy: 111.5e6,
    }
}
fn default_batch() -> f64 {
    0.125
}
fn default_prescriptions() -> f64 {
    856.0e6
}
fn default_outside() -> f64 {
    0.803
}
fn default_electronic() -> f64 {
    0.25
}
fn default_refill() -> f64 {
    0.01
}
fn default_cancel() -> f64 {
    0.005
}
fn default_precheck() -> f64 {
    0.5
}
fn default_card_use() -> KindShares {
    KindShares {
        hospital: 0.81,
        clinic: 0.50,
        dental: 0.50,
        pharmacy: 0.50,
    }
}

impl Default for RatesSection {
    fn default() -> Self {
        Self {
            visits_per_person_year: default_visits(),
            eligibility_checks_per_month: default_checks(),
            batch_share: default_batch(),
            prescriptions_per_year: default_prescriptions(),
            outside_share: default_outside(),
            electronic_share: default_electronic(),
            refill_share: default_refill(),
            cancel_share: default_cancel(),
            duplicate_check_share: default_precheck(),
            card_use: default_card_use(),
        }
    }
}

/// How the event stream is replayed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplaySection {
    /// Simulated seconds per real second (60 replays an hour in a minute).
    #[serde(default = "default_speedup")]
    pub speedup: f64,
    /// Requests the driver keeps in flight at most (its goose users); a request due while all
    /// are busy waits, and that wait counts in its latency and in the driver's lateness.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
}

fn default_speedup() -> f64 {
    1.0
}
fn default_in_flight() -> usize {
    256
}

impl Default for ReplaySection {
    fn default() -> Self {
        Self {
            speedup: default_speedup(),
            max_in_flight: default_in_flight(),
        }
    }
}

/// Latency bounds (milliseconds, measured from the intended send time) and an error-rate bound.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
    #[serde(default)]
    pub p999_ms: Option<f64>,
    /// Largest acceptable share of requests answered 5xx or not at all.
    #[serde(default)]
    pub error_rate: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SloSection {
    #[serde(default = "default_slo")]
    pub default: Slo,
    #[serde(default)]
    pub routes: BTreeMap<String, Slo>,
}

/// 1 s at p99 and 0.1% errors: the order of what a reception desk tolerates.
fn default_slo() -> Slo {
    Slo {
        p50_ms: None,
        p99_ms: Some(1000.0),
        p999_ms: None,
        error_rate: Some(0.001),
    }
}

impl Default for SloSection {
    fn default() -> Self {
        Self {
            default: default_slo(),
            routes: BTreeMap::new(),
        }
    }
}

impl SloSection {
    pub fn for_route(&self, route: &str) -> Slo {
        self.routes.get(route).copied().unwrap_or(self.default)
    }
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
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = toml_text(d)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// Accepts a TOML local date-time (`2025-10-06T08:30:00`) or a quoted one.
fn toml_datetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let text = toml_text(d)?;
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a local date-time (YYYY-MM-DDTHH:MM:SS, JST)"
            ))
        })
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
    /// Connected facilities taking part in EHR sharing: hospitals and clinics submit the 6 items
    /// and documents; every kind may read. The service was in model projects in 2025; the
    /// defaults (hospitals 5%, clinics 2%, dental clinics and pharmacies none) are an assumption.
    #[serde(default = "ehr_sharing_default")]
    pub ehr_sharing: KindShares,
    /// Adoption reached by the end of the period: each value given moves linearly from its
    /// start value (above, or in `[rates]`) to this one over the period; values not given stay.
    #[serde(default)]
    pub at_end: AdoptionEnd,
}

impl Default for AdoptionSection {
    fn default() -> Self {
        Self {
            online_eligibility: KindShares::default(),
            eprescription: eprescription_default(),
            ehr_sharing: ehr_sharing_default(),
            at_end: AdoptionEnd::default(),
        }
    }
}

/// Where adoption stands at the period's end (a rollout over the period).
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
    pub electronic_share: Option<f64>,
    /// `rates.refill_share` at the end.
    pub refill_share: Option<f64>,
    /// `municipal.participation` at the end; at least the start share.
    pub municipal_participation: Option<f64>,
}

impl KindShares {
    pub fn values(&self) -> [f64; 4] {
        [self.hospital, self.clinic, self.dental, self.pharmacy]
    }
}

/// A share per facility kind, each in [0, 1].
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, serde::Serialize)]
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
fn ehr_sharing_default() -> KindShares {
    KindShares {
        hospital: 0.05,
        clinic: 0.02,
        dental: 0.0,
        pharmacy: 0.0,
    }
}

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
    pub fn national(scale: f64) -> Self {
        Self {
            name: default_name(),
            seed: DEFAULT_SEED,
            population: PopulationSection {
                scale,
                ..PopulationSection::default()
            },
            adoption: AdoptionSection::default(),
            period: PeriodSection::default(),
            calendar: CalendarSection::default(),
            rates: RatesSection::default(),
            ehr: EhrSection::default(),
            municipal: MunicipalSection::default(),
            portal: PortalSection::default(),
            replay: ReplaySection::default(),
            slo: SloSection::default(),
            capacity: CapacitySection::default(),
            rollout: None,
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
        self.validate_workload()
    }

    fn validate_workload(&self) -> Result<(), String> {
        use chrono::Datelike;
        let p = &self.period;
        if !(p.hours > 0.0 && p.hours <= 24.0 * 366.0) {
            return Err(format!(
                "period.hours must be in (0, 8784] (366 days), got {}",
                p.hours
            ));
        }
        let years = crate::workload::calendar::YEARS;
        if !years.contains(&p.start.year()) || !years.contains(&p.end().year()) {
            return Err(format!(
                "period: the calendar covers {}–{}, got {}",
                years.start(),
                years.end(),
                p.start
            ));
        }
        if !(self.calendar.flu_peak > 0.0 && self.calendar.flu_peak <= 5.0) {
            return Err(format!(
                "calendar.flu_peak must be in (0, 5], got {}",
                self.calendar.flu_peak
            ));
        }
        let r = &self.rates;
        if !(r.visits_per_person_year > 0.0 && r.visits_per_person_year <= 100.0) {
            return Err("rates.visits_per_person_year must be in (0, 100]".into());
        }
        if !(0.0..=1e12).contains(&r.prescriptions_per_year) {
            return Err("rates.prescriptions_per_year must be at least 0".into());
        }
        let c = r.eligibility_checks_per_month;
        if [c.hospital, c.clinic, c.dental, c.pharmacy]
            .iter()
            .any(|v| !(0.0..=1e12).contains(v))
        {
            return Err("rates.eligibility_checks_per_month: counts must be at least 0".into());
        }
        for (what, v) in [
            ("rates.batch_share", r.batch_share),
            ("rates.outside_share", r.outside_share),
            ("rates.electronic_share", r.electronic_share),
            ("rates.refill_share", r.refill_share),
            ("rates.cancel_share", r.cancel_share),
            ("rates.duplicate_check_share", r.duplicate_check_share),
            ("ehr.items_share", self.ehr.items_share),
            ("ehr.lab_share", self.ehr.lab_share),
            ("ehr.summary_read_share", self.ehr.summary_read_share),
            ("ehr.referral_share", self.ehr.referral_share),
            (
                "ehr.discharge_referral_share",
                self.ehr.discharge_referral_share,
            ),
            ("municipal.participation", self.municipal.participation),
            (
                "municipal.online_record_share",
                self.municipal.online_record_share,
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{what} must be in [0, 1], got {v}"));
            }
        }
        self.validate_rollout()?;
        for (what, v) in [
            ("ehr.discharges_per_month", self.ehr.discharges_per_month),
            ("ehr.checkups_per_year", self.ehr.checkups_per_year),
            (
                "municipal.flu_doses_per_year",
                self.municipal.flu_doses_per_year,
            ),
            (
                "municipal.flu_elderly_doses_per_year",
                self.municipal.flu_elderly_doses_per_year,
            ),
            (
                "municipal.care_reads_per_month",
                self.municipal.care_reads_per_month,
            ),
            (
                "portal.reads_per_holder_per_year",
                self.portal.reads_per_holder_per_year,
            ),
            (
                "portal.applications_per_year",
                self.portal.applications_per_year,
            ),
        ] {
            if !(0.0..=1e12).contains(&v) {
                return Err(format!("{what} must be at least 0, got {v}"));
            }
        }
        if self.municipal.flu_elderly_doses_per_year > self.municipal.flu_doses_per_year {
            return Err(
                "municipal.flu_elderly_doses_per_year cannot exceed flu_doses_per_year".into(),
            );
        }
        if let Some(s) = &self.portal.surge {
            if !(s.hours > 0.0 && s.hours <= 24.0 * 366.0 && (1.0..=1000.0).contains(&s.factor)) {
                return Err(format!(
                    "portal.surge: hours must be in (0, 8784] and factor in [1, 1000], got {} and {}",
                    s.hours, s.factor
                ));
            }
        }
        let e = self.adoption.ehr_sharing;
        if e.values().iter().any(|v| !(0.0..=1.0).contains(v)) {
            return Err("adoption.ehr_sharing: shares must be in [0, 1]".into());
        }
        let u = r.card_use;
        if [u.hospital, u.clinic, u.dental, u.pharmacy]
            .iter()
            .any(|v| !(0.0..=1.0).contains(v))
        {
            return Err("rates.card_use: shares must be in [0, 1]".into());
        }
        if !(self.replay.speedup > 0.0 && self.replay.speedup <= 1e6) {
            return Err(format!(
                "replay.speedup must be in (0, 1e6], got {}",
                self.replay.speedup
            ));
        }
        if !(1..=100_000).contains(&self.replay.max_in_flight) {
            return Err("replay.max_in_flight must be in 1..=100000".into());
        }
        if let Some(route) = self
            .slo
            .routes
            .keys()
            .find(|k| dx_model::route::Route::parse(k).is_none())
        {
            return Err(format!(
                "slo.routes.{route}: not a route; routes are {}",
                dx_model::route::Route::ALL.map(|r| r.as_str()).join(", ")
            ));
        }
        for (route, slo) in std::iter::once(("default", &self.slo.default))
            .chain(self.slo.routes.iter().map(|(k, v)| (k.as_str(), v)))
        {
            for v in [slo.p50_ms, slo.p99_ms, slo.p999_ms].into_iter().flatten() {
                if v.is_nan() || v <= 0.0 {
                    return Err(format!("slo.{route}: latency bounds must be above 0 ms"));
                }
            }
            if slo.error_rate.is_some_and(|e| !(0.0..=1.0).contains(&e)) {
                return Err(format!("slo.{route}.error_rate must be in [0, 1]"));
            }
        }
        self.validate_capacity()
    }

    /// The adoption timeline: `[adoption.at_end]` or `[rollout]`, not both; values in range and
    /// adoption only growing.
    fn validate_rollout(&self) -> Result<(), String> {
        if let Some(r) = &self.rollout {
            if self.adoption.at_end != AdoptionEnd::default() {
                return Err(
                    "give either [adoption.at_end] (over the period) or [rollout] waypoints (over years), not both".into(),
                );
            }
            use chrono::Datelike;
            if r.start.day() != 1 {
                return Err(format!(
                    "rollout.start: the first day of a month, got {}",
                    r.start
                ));
            }
            if !(1..=240).contains(&r.months) {
                return Err(format!(
                    "rollout.months must be in 1..=240, got {}",
                    r.months
                ));
            }
            let end = *r.month_starts().last().expect("months ≥ 1");
            let years = crate::workload::calendar::YEARS;
            if !years.contains(&r.start.year()) || !years.contains(&end.year()) {
                return Err(format!(
                    "rollout: the calendar covers {}–{}, got {} to {end}",
                    years.start(),
                    years.end(),
                    r.start
                ));
            }
            let mut last = r.start;
            for w in &r.waypoints {
                if w.at <= last {
                    return Err(format!(
                        "rollout.waypoints: dates must follow rollout.start and each other, got {} after {last}",
                        w.at
                    ));
                }
                last = w.at;
            }
        }
        crate::adoption::Timeline::of(self)
            .validate()
            .map_err(|e| format!("adoption: {e}"))
    }

    fn validate_capacity(&self) -> Result<(), String> {
        let c = &self.capacity;
        if !(c.sample_scale > 0.0 && c.sample_scale <= 1.0) {
            return Err(format!(
                "capacity.sample_scale must be in (0, 1], got {}",
                c.sample_scale
            ));
        }
        if !(1..=1000).contains(&c.replications) {
            return Err("capacity.replications must be in 1..=1000".into());
        }
        for (name, svc) in &c.services {
            if dx_model::route::Service::parse(name).is_none() {
                return Err(format!(
                    "capacity.services.{name}: not a service; services are {}",
                    dx_model::route::Service::ALL.map(|s| s.as_str()).join(", ")
                ));
            }
            if svc.servers == Some(0) {
                return Err(format!(
                    "capacity.services.{name}.servers must be at least 1"
                ));
            }
            let service = dx_model::route::Service::parse(name).expect("checked");
            if let Some(r) = svc.priority.iter().find(|r| {
                dx_model::route::Route::parse(r)
                    .is_none_or(|r| dx_model::route::Service::of(r) != Some(service))
            }) {
                return Err(format!(
                    "capacity.services.{name}.priority: {r} is not a route of {name}"
                ));
            }
            if !(svc.latency_ms.is_finite() && svc.latency_ms >= 0.0) {
                return Err(format!("capacity.services.{name}.latency_ms must be ≥ 0"));
            }
        }
        for (route, t) in &c.service_times {
            if dx_model::route::Route::parse(route).is_none() {
                return Err(format!("capacity.service_times.{route}: not a route"));
            }
            if !(t.median_ms > 0.0 && t.p99_ms >= t.median_ms && t.p99_ms.is_finite()) {
                return Err(format!(
                    "capacity.service_times.{route}: need 0 < median_ms ≤ p99_ms"
                ));
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
        s.population.prefectures = vec![];
        s.period.hours = 0.0;
        assert!(s.validate().unwrap_err().contains("period.hours"));
        s.period.hours = 4.0;
        s.replay.speedup = -1.0;
        assert!(s.validate().unwrap_err().contains("speedup"));
        s.replay.speedup = 60.0;
        s.slo.routes.insert("verfy".into(), s.slo.default);
        assert!(s.validate().unwrap_err().contains("verfy"));
    }

    #[test]
    fn every_shipped_scenario_loads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(p.file_stem().unwrap().to_str().unwrap(), s.name);
                names.push(s.name);
            }
        }
        names.sort();
        let shipped = [
            "eprescription-full-adoption",
            "flu-peak-monday",
            "national-weekday",
            "portal-surge",
            "quickstart",
            "rollout-2025-2030",
            "rollout-accelerated",
        ];
        assert_eq!(names, shipped);
    }

    #[test]
    fn rollout_waypoints_parse_and_typos_are_errors() {
        let text = "[rollout]\nstart = 2025-06-01\nmonths = 12\n\n[[rollout.waypoints]]\nat = 2026-01-01\nelectronic_share = 0.5\neprescription = { hospital = 1, clinic = 0.5, dental = 0.2, pharmacy = 1 }\n";
        let s: Scenario = toml::from_str(text).unwrap();
        s.validate().unwrap();
        let r = s.rollout.as_ref().unwrap();
        assert_eq!(r.waypoints[0].values.electronic_share, Some(0.5));
        assert_eq!(r.waypoints[0].values.eprescription.unwrap().hospital, 1.0);
        assert_eq!(r.month_starts().len(), 13);
        assert_eq!(r.month_starts()[12].to_string(), "2026-06-01");
        let typo = text.replace("electronic_share", "electronic_shre");
        let e = toml::from_str::<Scenario>(&typo).unwrap_err();
        assert!(e.to_string().contains("electronic_shre"), "{e}");
        for (bad, says) in [
            (text.replace("2026-01-01", "2025-05-01"), "must follow"),
            (
                text.replace("start = 2025-06-01", "start = 2025-06-02"),
                "first day",
            ),
            (text.replace("clinic = 0.5", "clinic = 0.1"), "only grows"),
            (text.replace("months = 12", "months = 0"), "rollout.months"),
            (
                format!("{text}[adoption.at_end]\nelectronic_share = 1.0\n"),
                "not both",
            ),
        ] {
            let s: Scenario = toml::from_str(&bad).unwrap();
            let e = s.validate().unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_period_start_is_a_local_date_time() {
        let s: Scenario =
            toml::from_str("[period]\nstart = 2025-10-06T08:30:00\nhours = 4\n").unwrap();
        assert_eq!(s.period.end().to_string(), "2025-10-06 12:30:00");
        let e = toml::from_str::<Scenario>("[period]\nstart = \"Monday\"\n").unwrap_err();
        assert!(e.to_string().contains("local date-time"), "{e}");
    }
}
