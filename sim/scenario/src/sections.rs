//! The sections of a scenario. Each field is declared once, with its doc, its range-checked
//! type and its default together (the [`section!`] macro); a section's missing fields take
//! their defaults and unknown ones are errors. `scenarios/README.md` documents every field and
//! `scenarios/quickstart.toml` shows each with its default.

use crate::dates::{toml_date, toml_datetime};
use crate::values::{
    Attempts, Count, FluPeak, Hours, InFlight, KindCounts, KindShares, Latency, Millis, Prefecture,
    Queued, Replications, Scale, Servers, Share, Speedup, SurgeFactor, VisitRate, count, share,
    shares,
};
use chrono::{NaiveDate, NaiveDateTime};
use dx_model::route::{DEFAULT_SLO, Route, Service, Slo};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A section: a struct whose fields each carry their doc, type and default, read with
/// `deny_unknown_fields` and defaults for what is missing.
macro_rules! section {
    (
        $(#[$doc:meta])*
        pub struct $name:ident {
            $(
                $(#[$fdoc:meta])*
                pub $field:ident: $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }
    };
}

section! {
    pub struct PopulationSection {
        /// Fraction of Japan to generate, in (0, 1]; 1.0 is all of Japan (≈123.8 M persons).
        pub scale: Scale = Scale::new(0.001).expect("in range"),
        /// Prefecture codes (1–47) to generate; empty means all 47.
        pub prefectures: Vec<Prefecture> = Vec::new(),
        /// The date ages, qualifications and entitlements refer to.
        #[serde(deserialize_with = "toml_date")]
        pub as_of: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).expect("valid date"),
    }
}

impl PopulationSection {
    /// The prefecture codes named, as numbers.
    pub fn prefecture_codes(&self) -> Vec<u8> {
        self.prefectures.iter().map(|p| p.get()).collect()
    }
}

section! {
    /// The simulated period: from `start` (JST wall time) for `hours`.
    pub struct PeriodSection {
        #[serde(deserialize_with = "toml_datetime")]
        pub start: NaiveDateTime = NaiveDate::from_ymd_opt(2025, 10, 6)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid"),
        pub hours: Hours = Hours::new(24.0).expect("in range"),
    }
}

impl PeriodSection {
    pub fn end(&self) -> NaiveDateTime {
        self.start
            + chrono::TimeDelta::milliseconds((self.hours.get() * 3_600_000.0).round() as i64)
    }
}

section! {
    pub struct CalendarSection {
        /// Multiplier on outpatient volume in the flu season's peak weeks (ISO weeks 51–5); 1.0
        /// is an ordinary winter, whose 1.2–1.5× over summer is already in the monthly pattern.
        pub flu_peak: FluPeak = FluPeak::new(1.0).expect("in range"),
    }
}

section! {
    /// National volumes the flows are calibrated to (FACTS), and the shares that split them.
    pub struct RatesSection {
        /// Outpatient visits per person per year (FACTS: 12.6).
        pub visits_per_person_year: VisitRate = VisitRate::new(12.6).expect("in range"),
        /// Online eligibility checks per month at scale 1.0, by facility kind (FACTS, Oct 2025).
        pub eligibility_checks_per_month: KindCounts = KindCounts {
            hospital: count(23.3e6),
            clinic: count(115.7e6),
            dental: count(24.0e6),
            pharmacy: count(111.5e6),
        },
        /// Share of eligibility checks made as batch pre-checks of booked patients (FACTS: 1 in 8).
        pub batch_share: Share = share(0.125),
        /// Prescriptions per year at scale 1.0 (FACTS: 856 M, FY2023).
        pub prescriptions_per_year: Count = count(856.0e6),
        /// Share of prescriptions dispensed by an outside pharmacy (FACTS: 80.3%).
        pub outside_share: Share = share(0.803),
        /// At a facility running e-prescription, the share of outside prescriptions the patient
        /// takes electronically rather than on paper. Not published; an assumption for the rollout.
        pub electronic_share: Share = share(0.25),
        /// Share of electronic prescriptions issued as refill prescriptions (2–3 uses).
        pub refill_share: Share = share(0.01),
        /// Share of electronic prescriptions cancelled before dispensing (and issued again).
        pub cancel_share: Share = share(0.005),
        /// Share of prescriptions a facility running e-prescription pre-checks for duplicates.
        pub duplicate_check_share: Share = share(0.5),
        /// Share of card holders who use the card at the reader rather than the insurance
        /// number, by kind; the defaults give FACTS' 37% of checks by card (57% at hospitals)
        /// given that 70% of persons hold a card registered as insurance card.
        pub card_use: KindShares = shares(0.81, 0.50, 0.50, 0.50),
    }
}

section! {
    /// Volumes and behaviour of EHR sharing (電子カルテ情報共有サービス) at facilities taking part.
    pub struct EhrSection {
        /// Discharges per month at scale 1.0 (FACTS: ≈1.39 M); each yields a discharge summary
        /// at a hospital taking part.
        pub discharges_per_month: Count = count(1.39e6),
        /// Specific health checkups per year at scale 1.0, of persons aged 40–74 (FACTS: ≈31 M);
        /// each yields a checkup report at a facility taking part. Seasonal: busiest
        /// June–November.
        pub checkups_per_year: Count = count(31.0e6),
        /// Share of visits at a taking-part facility whose 6 items are submitted.
        pub items_share: Share = share(1.0),
        /// Share of submissions that carry lab results (an assumption).
        pub lab_share: Share = share(0.3),
        /// Clinical-summary reads per visit with consent given at the card reader. Calibrated
        /// on the 13.1 M record views a month (Jul 2024) against ≈18 M consenting card checks
        /// then (205 M checks × 11% by card × 80% consenting): ≈0.7.
        pub summary_read_share: Share = share(0.7),
        /// Share of clinic visits that end with a referral letter to a hospital (an assumption).
        pub referral_share: Share = share(0.015),
        /// Share of discharges followed by a referral letter back to the home clinic, with the
        /// discharge summary attached (an assumption).
        pub discharge_referral_share: Share = share(0.3),
    }
}

section! {
    /// Vaccination, maternal-child health and long-term care, in the municipalities taking part.
    pub struct MunicipalSection {
        /// Share of municipalities exchanging their residents' records (an assumption: the
        /// public medical hub was in model municipalities in 2025). Persons of the others make
        /// no municipal or care requests.
        pub participation: Share = share(0.12),
        /// Influenza doses per year at scale 1.0 (FACTS: ≈50 M), given October–December.
        pub flu_doses_per_year: Count = count(50.0e6),
        /// Of them, routine doses of persons aged 65 and over (FACTS: ≈20.7 M).
        pub flu_elderly_doses_per_year: Count = count(20.7e6),
        /// Share of doses the vaccinating facility records online (connected facilities only);
        /// the rest reach the exchange in the municipality's weekly batch upload of paper
        /// records.
        pub online_record_share: Share = share(0.5),
        /// Care-certification reads per certified person per month by their care provider.
        pub care_reads_per_month: Count = count(1.0),
    }
}

section! {
    /// The person's portal: reads of their own records and online applications, with an
    /// evening peak; optionally a surge window.
    pub struct PortalSection {
        /// Portal page reads per card holder per year (not published; an assumption).
        pub reads_per_holder_per_year: Count = count(3.0),
        /// Online applications to municipalities per year at scale 1.0 (an assumption).
        pub applications_per_year: Count = count(2.0e6),
        /// A window of extra portal traffic (e.g. a deadline or an announcement).
        pub surge: Option<Surge> = None,
    }
}

/// A window of extra portal traffic.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    /// JST wall time the surge begins.
    #[serde(deserialize_with = "toml_datetime")]
    pub start: NaiveDateTime,
    pub hours: Hours,
    /// Multiplier on portal traffic inside the window (≥ 1).
    pub factor: SurgeFactor,
}

section! {
    /// How the event stream is replayed.
    pub struct ReplaySection {
        /// Simulated seconds per real second (60 replays an hour in a minute).
        pub speedup: Speedup = Speedup::new(1.0).expect("in range"),
        /// Requests the driver keeps in flight at most (its goose users); a request due while
        /// all are busy waits, and that wait counts in its latency and in the driver's lateness.
        pub max_in_flight: InFlight = InFlight::new(256).expect("in range"),
        /// Requests of persons on the portal (and the municipalities' decisions on their
        /// applications) in flight at most, in goose users of their own: a person's browser
        /// does not wait behind a pharmacy's system in the driver, nor the reverse.
        pub max_in_flight_persons: InFlight = InFlight::new(64).expect("in range"),
        /// How the facilities' systems react to a request shed (503, 429), failed (5xx) or
        /// unanswered (a timeout, no connection).
        pub retry: RetrySection = RetrySection::default(),
    }
}

/// A service of the exchange's admission control (as `dxsim serve --service-limit` names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionService {
    Auth,
    Eligibility,
    Eprescription,
    Ehr,
    Municipal,
    Portal,
    Admin,
}

impl AdmissionService {
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionService::Auth => "auth",
            AdmissionService::Eligibility => "eligibility",
            AdmissionService::Eprescription => "eprescription",
            AdmissionService::Ehr => "ehr",
            AdmissionService::Municipal => "municipal",
            AdmissionService::Portal => "portal",
            AdmissionService::Admin => "admin",
        }
    }
}

section! {
    /// The reference exchange `dxsim run` runs: its admission control, as `dxsim serve`'s flags
    /// (`--max-in-flight`, `--max-queued`, `--queue-deadline-ms`, `--service-limit`).
    pub struct ExchangeSection {
        /// Requests of one service in flight at once.
        pub max_in_flight: InFlight = InFlight::new(64).expect("in range"),
        /// Requests of one service waiting at once; beyond, `503 overloaded`.
        pub max_queued: Queued = Queued::new(512).expect("in range"),
        /// How long a request waits for admission before `503 overloaded`.
        pub queue_deadline_ms: Millis = Millis::new(100.0).expect("in range"),
        /// Services with bounds of their own (e.g. a portal sized apart from the pharmacies'
        /// checks).
        pub services: BTreeMap<AdmissionService, ServiceBounds> = BTreeMap::new(),
    }
}

/// One service's own admission bounds; what is not given is the section's.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBounds {
    pub max_in_flight: InFlight,
    #[serde(default)]
    pub max_queued: Option<Queued>,
    #[serde(default)]
    pub queue_deadline_ms: Option<Millis>,
}

/// Whether a client tries a failed request again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryKind {
    /// One attempt: a failure is the answer.
    #[default]
    None,
    /// Again after `Retry-After` if the answer gives it, else after an exponential backoff
    /// with full jitter (a uniform wait up to `base_ms × 2^(attempt−1)`, at most
    /// `max_backoff_ms`), until `max_attempts` or `deadline_ms`.
    Backoff,
}

section! {
    /// The clients' retry policy. Its times are of the replay's real clock (the exchange's
    /// queues drain in real time whatever the speedup): a request's latency runs from its first
    /// intended send to its final answer, every attempt is counted, and a request the client
    /// stops trying is given up, a failure with its reason.
    pub struct RetrySection {
        pub policy: RetryKind = RetryKind::None,
        /// Attempts of one request at most, the first included.
        pub max_attempts: Attempts = Attempts::new(4).expect("in range"),
        /// The first backoff's bound; each further one doubles it.
        pub base_ms: Millis = Millis::new(100.0).expect("in range"),
        /// The largest backoff (and the largest `Retry-After` honoured as given).
        pub max_backoff_ms: Millis = Millis::new(5_000.0).expect("in range"),
        /// No attempt starts later than this after the first intended send.
        pub deadline_ms: Millis = Millis::new(30_000.0).expect("in range"),
        /// How long one attempt waits for its answer.
        pub timeout_ms: Millis = Millis::new(60_000.0).expect("in range"),
        /// Per route, other values of any of the fields above.
        pub routes: BTreeMap<Route, RetryOverride> = BTreeMap::new(),
    }
}

/// One route's own retry values; those not given are the section's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryOverride {
    pub policy: Option<RetryKind>,
    pub max_attempts: Option<Attempts>,
    pub base_ms: Option<Millis>,
    pub max_backoff_ms: Option<Millis>,
    pub deadline_ms: Option<Millis>,
    pub timeout_ms: Option<Millis>,
}

/// The retry policy of one route, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub kind: RetryKind,
    pub max_attempts: u32,
    pub base: std::time::Duration,
    pub max_backoff: std::time::Duration,
    pub deadline: std::time::Duration,
    pub timeout: std::time::Duration,
}

fn millis(m: Millis) -> std::time::Duration {
    std::time::Duration::from_secs_f64(m.get() / 1000.0)
}

impl RetrySection {
    /// The policy of `route`: its override where given, else the section's.
    pub fn for_route(&self, route: Route) -> RetryPolicy {
        let o = self.routes.get(&route).copied().unwrap_or_default();
        let kind = o.policy.unwrap_or(self.policy);
        RetryPolicy {
            kind,
            max_attempts: match kind {
                RetryKind::None => 1,
                RetryKind::Backoff => o.max_attempts.unwrap_or(self.max_attempts).get(),
            },
            base: millis(o.base_ms.unwrap_or(self.base_ms)),
            max_backoff: millis(o.max_backoff_ms.unwrap_or(self.max_backoff_ms)),
            deadline: millis(o.deadline_ms.unwrap_or(self.deadline_ms)),
            timeout: millis(o.timeout_ms.unwrap_or(self.timeout_ms)),
        }
    }
}

/// Latency bounds of an SLO as the scenario gives them (milliseconds, above 0) and an
/// error-rate bound (a share).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    #[serde(default)]
    pub p50_ms: Option<Millis>,
    #[serde(default)]
    pub p99_ms: Option<Millis>,
    #[serde(default)]
    pub p999_ms: Option<Millis>,
    /// Largest acceptable share of requests answered 5xx or not at all.
    #[serde(default)]
    pub error_rate: Option<Share>,
}

impl SloSpec {
    pub fn slo(self) -> Slo {
        Slo {
            p50_ms: self.p50_ms.map(Millis::get),
            p99_ms: self.p99_ms.map(Millis::get),
            p999_ms: self.p999_ms.map(Millis::get),
            error_rate: self.error_rate.map(Share::get),
        }
    }
}

section! {
    /// Service-level objectives per route; routes not named use `default`, and without
    /// `default` each route's own (`dx_model::route`: 1 s at p99, 0.1% errors for every route).
    pub struct SloSection {
        pub default: Option<SloSpec> = None,
        pub routes: BTreeMap<Route, SloSpec> = BTreeMap::new(),
    }
}

impl SloSection {
    pub fn for_route(&self, route: Route) -> Slo {
        self.routes
            .get(&route)
            .or(self.default.as_ref())
            .map_or(route.info().slo, |s| s.slo())
    }

    /// The SLO of routes not named.
    pub fn default_slo(&self) -> Slo {
        self.default.map_or(DEFAULT_SLO, SloSpec::slo)
    }
}

/// How a freed worker chooses among those waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Discipline {
    /// First come, first served.
    #[default]
    Fifo,
    /// Non-preemptive priority by class (0 first), first come first served within a class.
    Priority,
}

section! {
    /// How `dxsim capacity` models the central services.
    pub struct CapacitySection {
        /// Scale of the workload sample the arrival rates are estimated from (then scaled to
        /// 1.0).
        pub sample_scale: Scale = Scale::new(0.01).expect("in range"),
        /// Independent replications of the simulation (confidence intervals need at least 2).
        pub replications: Replications = Replications::new(3).expect("in range"),
        /// Per service: a fixed size to simulate, a queue limit, network latency.
        pub services: BTreeMap<Service, CapacityService> = BTreeMap::new(),
        /// Per route: a log-normal service time given by its median and p99, overriding the
        /// calibration and the built-in figures.
        pub service_times: BTreeMap<Route, ServiceTimeSpec> = BTreeMap::new(),
    }
}

section! {
    pub struct CapacityService {
        /// Workers; none: the model reports the run at the size the sizing search finds.
        pub servers: Option<Servers> = None,
        /// Waiting places; none: unbounded.
        pub queue_limit: Option<u32> = None,
        /// Added to every response (the network), milliseconds.
        pub latency_ms: Latency = Latency::new(0.0).expect("in range"),
        /// `fifo` (default) or `priority`: a freed worker takes the waiting request of the
        /// first route in `priority` (routes not listed come last), first come first served
        /// within.
        pub discipline: Discipline = Discipline::Fifo,
        pub priority: Vec<Route> = Vec::new(),
    }
}

/// A log-normal service time by its median and p99 (milliseconds).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimeSpec {
    pub median_ms: Millis,
    pub p99_ms: Millis,
}
