//! What every flow works with: a person's row, the facilities, the days of the period and
//! their arrival masses, the counts a generation keeps, and the draws the flows share.

use super::super::calendar::{Calendar, Desk};
use chrono::NaiveDate;
use dx_model::rng::Stream;
use dx_protocol::wire::Sex;
use std::collections::HashMap;

pub use dx_protocol::time::jst_ms;

/// What a flow sees of a person (one row of the population's persons files).
#[derive(Debug, Clone)]
pub struct PersonRow {
    /// Numeric part of the person id; the root of the person's random streams and event ids.
    pub index: u64,
    pub id: String,
    pub sex: Sex,
    pub birth_date: i32,
    pub age: u32,
    pub prefecture: u8,
    pub insurance: Option<[String; 4]>,
    /// Set when the person holds a card registered as insurance card.
    pub card_serial: Option<String>,
    pub conditions: u16,
    /// Municipality of residence (6-digit code).
    pub municipality: String,
    pub pregnant: bool,
    /// 0 none, 1–7 support 1–2 and care 1–5.
    pub ltc_level: u8,
    /// Law code of the person's public-expense entitlement (`"54"`, `"88"`, `"12"`).
    pub public_expense: Option<String>,
    pub home_clinic: Option<String>,
    pub usual_pharmacy: Option<String>,
    /// The coverage that follows `insurance` and the instant requests begin to carry it: the
    /// late-elderly union's from the 75th birthday; a new employer's from its insurer's report.
    pub next_insurance: Option<([String; 4], i64)>,
    /// For a coverage the insurers report (not a 75th birthday): the midnight of its first day.
    pub next_reported: Option<i64>,
}

#[cfg(test)]
impl PersonRow {
    /// A woman of Tokyo's municipality 131016 with nothing else about her, for tests.
    pub(crate) fn sample(index: u64) -> Self {
        PersonRow {
            index,
            id: format!("P{index:010}"),
            sex: Sex::Female,
            birth_date: 0,
            age: 0,
            prefecture: 13,
            insurance: None,
            card_serial: None,
            conditions: 0,
            municipality: "131016".into(),
            pregnant: false,
            ltc_level: 0,
            public_expense: None,
            home_clinic: None,
            usual_pharmacy: None,
            next_insurance: None,
            next_reported: None,
        }
    }
}

/// A facility as the flows need it.
#[derive(Debug, Clone)]
pub struct Facility {
    pub code: String,
    pub desk: Desk,
    /// Taking part at the period's start (the population's flags).
    pub online_eligibility: bool,
    pub eprescription: bool,
    /// Where the facility stands in the queue of adopters, in [0, 1): during a rollout the lowest
    /// ranks join first. One rank each for online eligibility, e-prescription, EHR sharing.
    pub ranks: [f64; 3],
}

impl Facility {
    /// A facility with its adoption ranks drawn from its code.
    pub fn new(code: String, desk: Desk, online_eligibility: bool, eprescription: bool) -> Self {
        use dx_model::rng::{code_hash, splitmix64, unit_of};
        let h = code_hash(0x5eed, &code);
        let h2 = splitmix64(h);
        let ranks = [unit_of(h), unit_of(h2), unit_of(splitmix64(h2))];
        Self {
            code,
            desk,
            online_eligibility,
            eprescription,
            ranks,
        }
    }
}

/// The facilities of the population, by prefecture and desk.
#[derive(Debug, Default, Clone)]
pub struct Facilities {
    pub all: Vec<Facility>,
    /// Care providers' codes by prefecture, in file order.
    pub care_providers: HashMap<u8, Vec<String>>,
    by_code: HashMap<String, usize>,
    by_place: HashMap<(u8, Desk), Vec<usize>>,
}

impl Facilities {
    pub fn push(&mut self, prefecture: u8, desk: Desk, f: Facility) {
        let i = self.all.len();
        self.by_code.insert(f.code.clone(), i);
        self.by_place.entry((prefecture, desk)).or_default().push(i);
        self.all.push(f);
    }

    pub fn by_code(&self, code: &str) -> Option<&Facility> {
        self.by_code.get(code).map(|&i| &self.all[i])
    }

    /// A facility of `desk` in `prefecture`, drawn uniformly; `None` if the prefecture has none.
    pub fn pick(&self, prefecture: u8, desk: Desk, rng: &mut Stream) -> Option<&Facility> {
        let list = self.by_place.get(&(prefecture, desk))?;
        Some(&self.all[list[rng.below(list.len() as u64) as usize]])
    }
}

/// One day of the period, with where in it arrivals fall.
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    /// Epoch milliseconds of the day's JST midnight.
    pub midnight_ms: i64,
}

/// Arrival mass of each day of the period, from a desk's cumulative slot masses.
pub fn day_masses(cum: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let q = Calendar::QUARTERS;
    (0..cum.len() / q)
        .map(move |i| cum[(i + 1) * q - 1] - if i == 0 { 0.0 } else { cum[i * q - 1] })
}

/// Counts a generation keeps beside the events: what the model did, including what makes no
/// request (a paper prescription at a facility not running e-prescription still counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowCounts {
    pub visits: u64,
    pub prescriptions: u64,
    pub electronic_prescriptions: u64,
    pub pharmacy_visits: u64,
    /// Vaccine doses given inside the period (recorded online then, or uploaded later).
    pub flu_doses: u64,
    pub childhood_doses: u64,
}

impl FlowCounts {
    pub fn add(&mut self, o: &FlowCounts) {
        self.visits += o.visits;
        self.prescriptions += o.prescriptions;
        self.electronic_prescriptions += o.electronic_prescriptions;
        self.pharmacy_visits += o.pharmacy_visits;
        self.flu_doses += o.flu_doses;
        self.childhood_doses += o.childhood_doses;
    }
}

/// Something the model did that a rollout counts by month, whether or not it made a request (a
/// paper prescription at a facility not running e-prescription makes none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A prescription issued: dispensed outside (at a pharmacy) or not, electronic or not.
    Prescription { outside: bool, electronic: bool },
}

/// A Poisson draw (Knuth's method; the means here are small).
pub fn poisson(rng: &mut Stream, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        // Normal approximation for the rare large mean (a long period of a frequent visitor).
        let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        return (mean + z * mean.sqrt()).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product = rng.unit();
    let mut n = 0;
    while product > limit {
        n += 1;
        product *= rng.unit();
    }
    n
}

/// Rounds a non-negative expected count to a whole count: its integer part plus one more with
/// the probability of its fraction.
pub fn stochastic_round(rng: &mut Stream, x: f64) -> u32 {
    let whole = x.floor();
    whole as u32 + u32::from(rng.chance(x - whole))
}
