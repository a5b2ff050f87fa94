//! The arrival model's rates, derived from the scenario's national volumes (FACTS) once, so each
//! person's draws are cheap and the expected counts of a period can be integrated exactly.
//!
//! Derivation (all at scale 1.0, per month, with the FACTS adoption of June 2025):
//! - visits = persons × `visits_per_person_year` / 12, split between hospitals, clinics and
//!   dental clinics in proportion to their published eligibility checks;
//! - published checks exceed visits (clinics: 115.7 M checks against ≈73 M visits to connected
//!   clinics), so a visit makes on average checks_K = published_K / visits at connected K
//!   checks: `batch_share` of all checks are batch pre-checks of booked patients (all at medical
//!   and dental desks), the rest are real-time checks at reception and again at payment;
//! - pharmacies check per dispensing: published pharmacy checks / outside prescriptions filled
//!   at connected pharmacies;
//! - prescriptions = `prescriptions_per_year` / 12; dental visits prescribe with probability
//!   [`DENTAL_PRESCRIBING`], medical visits with the probability that makes up the rest, shaped
//!   by age ([`prescribing_shape`]).
//!
//! The scenario's adoption then decides which facilities take part, so raising adoption raises
//! the checks, as it did in 2024–2025.

use dx_population::expected::age_distribution;
use dx_population::tables::TOTAL_POPULATION;
use dx_scenario::{AdoptionSection, PerKind, Scenario, Share};

/// Share of dental visits that end with a prescription (analgesics, antibiotics); an assumption.
pub const DENTAL_PRESCRIBING: f64 = 0.15;

/// Outpatient visits by age relative to the mean, shaped on the Patient Survey's outpatient
/// reception rates (受療率, 2020, rounded per 100,000: 0–4 6,300 … 80–84 11,800); only the shape
/// is used, the level comes from `visits_per_person_year`.
pub fn visit_shape(age: u32) -> f64 {
    match age {
        0..=4 => 6_300.0,
        5..=9 => 3_900.0,
        10..=14 => 2_600.0,
        15..=19 => 1_800.0,
        20..=24 => 1_900.0,
        25..=29 => 2_300.0,
        30..=34 => 2_600.0,
        35..=39 => 2_800.0,
        40..=44 => 3_000.0,
        45..=49 => 3_400.0,
        50..=54 => 4_000.0,
        55..=59 => 4_700.0,
        60..=64 => 5_700.0,
        65..=69 => 7_000.0,
        70..=74 => 9_000.0,
        75..=79 => 10_800.0,
        80..=84 => 11_800.0,
        85..=89 => 11_000.0,
        _ => 8_500.0,
    }
}

/// Relative chance that a medical visit ends with a prescription, by age (older patients take
/// more long-term medication); normalised over visits in [`Model`].
pub fn prescribing_shape(age: u32) -> f64 {
    match age {
        0..=14 => 0.8,
        15..=64 => 1.0,
        _ => 1.15,
    }
}

/// Which reception desk a visit is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    Hospital,
    Clinic,
    Dental,
}

impl VisitKind {
    pub const ALL: [VisitKind; 3] = [VisitKind::Hospital, VisitKind::Clinic, VisitKind::Dental];
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The medical kinds' values (hospital, clinic, dental) of a per-kind value.
fn kind_values<T: Copy + Into<f64>>(k: &PerKind<T>) -> [f64; 3] {
    let [hospital, clinic, dental, _] = k.values();
    [hospital, clinic, dental]
}

/// Connection to online eligibility as published (FACTS, June 2025): the defaults of
/// `[adoption.online_eligibility]`.
fn published_connection() -> PerKind<Share> {
    AdoptionSection::default().online_eligibility
}

/// The per-visit and per-person rates of a scenario.
#[derive(Debug, Clone)]
pub struct Model {
    /// Visits per person per year at each age 0–104.
    pub visits_per_year: Vec<f64>,
    /// Share of visits at hospitals, clinics, dental clinics.
    pub kind_share: [f64; 3],
    /// Expected real-time checks per visit at a connected desk, by visit kind.
    pub realtime_checks: [f64; 3],
    /// Probability that a visit at a connected desk was batch pre-checked, by visit kind.
    pub batch_checks: [f64; 3],
    /// Expected checks per dispensing at a connected pharmacy.
    pub pharmacy_checks: f64,
    /// Probability that a medical visit at age a ends with a prescription.
    pub prescribing: Vec<f64>,
    pub dental_prescribing: f64,
}

impl Model {
    pub fn new(s: &Scenario) -> Self {
        let r = &s.rates;
        let ages = age_distribution();
        let mean_shape: f64 = ages
            .iter()
            .enumerate()
            .map(|(a, w)| w * visit_shape(a as u32))
            .sum();
        let visits_per_year: Vec<f64> = (0..ages.len())
            .map(|a| r.visits_per_person_year.get() * visit_shape(a as u32) / mean_shape)
            .collect();
        let checks = kind_values(&r.eligibility_checks_per_month);
        let medical_checks: f64 = checks.iter().sum();
        let kind_share = if medical_checks > 0.0 {
            checks.map(|c| c / medical_checks)
        } else {
            [0.15, 0.7, 0.15]
        };
        let facts_connected = kind_values(&published_connection());
        let visits_month = TOTAL_POPULATION * r.visits_per_person_year.get() / 12.0;
        let total_checks = medical_checks + r.eligibility_checks_per_month.pharmacy.get();
        // All batch pre-checks are made at medical and dental desks.
        let batch_of_medical = if medical_checks > 0.0 {
            (r.batch_share.get() * total_checks / medical_checks).min(1.0)
        } else {
            0.0
        };
        let mut realtime_checks = [0.0; 3];
        let mut batch_checks = [0.0; 3];
        for k in 0..3 {
            let connected_visits = visits_month * kind_share[k] * facts_connected[k];
            let per_visit = if connected_visits > 0.0 {
                checks[k] / connected_visits
            } else {
                0.0
            };
            batch_checks[k] = (per_visit * batch_of_medical).min(1.0);
            realtime_checks[k] = per_visit - batch_checks[k];
        }
        let prescriptions_month = r.prescriptions_per_year.get() / 12.0;
        let dental_visits = visits_month * kind_share[VisitKind::Dental.index()];
        let medical_visits = visits_month - dental_visits;
        let dental_prescribing =
            DENTAL_PRESCRIBING.min(prescriptions_month / dental_visits.max(1.0));
        let medical_p = ((prescriptions_month - dental_prescribing * dental_visits)
            / medical_visits.max(1.0))
        .max(0.0);
        // Normalise the age shape over where medical visits happen.
        let visit_weighted_shape: f64 = ages
            .iter()
            .enumerate()
            .map(|(a, w)| w * visits_per_year[a] * prescribing_shape(a as u32))
            .sum::<f64>()
            / ages
                .iter()
                .enumerate()
                .map(|(a, w)| w * visits_per_year[a])
                .sum::<f64>();
        let prescribing = (0..ages.len())
            .map(|a| (medical_p * prescribing_shape(a as u32) / visit_weighted_shape).min(0.98))
            .collect();
        let outside_month =
            prescriptions_month * r.outside_share.get() * published_connection().pharmacy.get();
        let pharmacy_checks = if outside_month > 0.0 {
            r.eligibility_checks_per_month.pharmacy.get() / outside_month
        } else {
            0.0
        };
        Self {
            visits_per_year,
            kind_share,
            realtime_checks,
            batch_checks,
            pharmacy_checks,
            prescribing,
            dental_prescribing,
        }
    }

    pub fn visits_per_year(&self, age: u32) -> f64 {
        self.visits_per_year[(age as usize).min(self.visits_per_year.len() - 1)]
    }

    pub fn prescribing(&self, kind: VisitKind, age: u32) -> f64 {
        match kind {
            VisitKind::Dental => self.dental_prescribing,
            _ => self.prescribing[(age as usize).min(self.prescribing.len() - 1)],
        }
    }
}
