//! What the EHR flows derive once per generation: discharges per visit, checkups per
//! person-year and the checkup season's mass over the period, and the drugs that allergies and
//! contraindications name.

use super::super::calendar::{Calendar, Desk};
use super::base::{Day, day_masses};
use dx_exchange::refdata::DrugMaster;
use dx_population::expected::age_distribution;
use dx_population::tables::TOTAL_POPULATION;
use dx_scenario::Scenario;
use std::collections::HashMap;

/// Drugs patients are commonly allergic to, and drugs commonly registered as contraindicated.
const ALLERGY_DRUGS: [&str; 5] = [
    "amoxicillin",
    "cefcapene",
    "loxoprofen",
    "levofloxacin",
    "clarithromycin",
];
const CONTRAINDICATED_DRUGS: [&str; 4] = ["warfarin", "metformin", "aspirin", "celecoxib"];

/// Rates of the EHR flows, derived once per generation.
#[derive(Debug, Clone)]
pub struct EhrRates {
    /// Discharges per outpatient visit (national): discharges a year / visits a year. A
    /// person's discharges follow their visit rate (both rise with age).
    pub discharges_per_visit: f64,
    /// Checkups per person-year of a person aged 40–74.
    pub checkups_per_person_year: f64,
    /// Clinic arrival mass over the period weighted by the checkup season.
    pub checkup_mass: f64,
    /// Drugs commonly allergic to, and commonly registered as contraindicated (YJ codes).
    pub allergy_drugs: Vec<String>,
    pub contraindicated_drugs: Vec<String>,
}

/// Share of the population aged 40–74 (those offered the specific health checkup).
pub fn checkup_age_share() -> f64 {
    age_distribution()[40..=74].iter().sum()
}

fn yj_of(ingredient: &str) -> String {
    DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.ingredient == ingredient)
        .map(|d| d.yj.clone())
        .expect("ingredients of the flows are in the master")
}

impl EhrRates {
    pub fn new(s: &Scenario, days: &[Day], slots: &HashMap<Desk, Vec<f64>>) -> Self {
        let e = &s.ehr;
        let checkup_mass = days
            .iter()
            .zip(day_masses(&slots[&Desk::Clinic]))
            .map(|(d, mass)| {
                use chrono::Datelike;
                mass * Calendar::checkup_season(d.date.month())
            })
            .sum();
        Self {
            discharges_per_visit: e.discharges_per_month.get() * 12.0
                / (TOTAL_POPULATION * s.rates.visits_per_person_year.get()),
            checkups_per_person_year: e.checkups_per_year.get()
                / (TOTAL_POPULATION * checkup_age_share()),
            checkup_mass,
            allergy_drugs: ALLERGY_DRUGS.iter().map(|i| yj_of(i)).collect(),
            contraindicated_drugs: CONTRAINDICATED_DRUGS.iter().map(|i| yj_of(i)).collect(),
        }
    }
}
