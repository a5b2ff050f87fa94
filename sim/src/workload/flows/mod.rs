//! Flows: each turns one person's attributes into the requests their care causes in the period.
//! A flow is a module implementing [`Flow`]; the generator runs every registered flow for every
//! person, so later flows (EHR sharing, municipal data) plug in beside these without touching them.

pub mod ehr;
pub mod municipal;
pub mod prescription;
pub mod visit;

use super::calendar::{Calendar, Desk};
use super::model::Model;
use chrono::{NaiveDate, NaiveDateTime};
use dx_model::event::{Event, Flow as FlowName, Payload};
use dx_model::rng::Stream;
use dx_scenario::Scenario;
use dx_scenario::adoption::field;
use std::collections::HashMap;

/// What a flow sees of a person (one row of the population's persons files).
#[derive(Debug, Clone, Default)]
pub struct PersonRow {
    /// Numeric part of the person id; the root of the person's random streams and event ids.
    pub index: u64,
    pub id: String,
    pub sex: &'static str,
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
    pub home_clinic: Option<String>,
    pub usual_pharmacy: Option<String>,
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
#[derive(Debug, Default)]
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

/// Everything shared by all persons of a generation.
pub struct GenContext {
    pub scenario: Scenario,
    pub model: Model,
    pub calendar: Calendar,
    pub facilities: Facilities,
    pub days: Vec<Day>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Visits per person per year divide by this to give the rate per unit of day factor.
    pub year_divisor: f64,
    /// Per desk: cumulative arrival mass over (day, quarter) slots inside the period.
    pub slots: HashMap<Desk, Vec<f64>>,
    pub drugs: prescription::DrugChoices,
    pub ehr: ehr::EhrRates,
    pub municipal: municipal::MunicipalRates,
    pub stream_keys: StreamKeys,
    /// Adoption over time (`[adoption.at_end]` or `[rollout]`).
    pub adoption: dx_scenario::adoption::Timeline,
}

/// Stream keys hoisted out of the per-person loop.
#[derive(Debug, Clone, Copy)]
pub struct StreamKeys {
    pub visit: u64,
    pub prescription: u64,
    pub ehr: u64,
    pub municipal: u64,
}

/// Arrival mass of each day of the period, from a desk's cumulative slot masses.
pub fn day_masses(cum: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let q = Calendar::QUARTERS;
    (0..cum.len() / q)
        .map(move |i| cum[(i + 1) * q - 1] - if i == 0 { 0.0 } else { cum[i * q - 1] })
}

pub use dx_protocol::time::jst_ms;

impl GenContext {
    /// The context of the scenario's period.
    pub fn new(scenario: &Scenario, facilities: Facilities) -> Self {
        let p = &scenario.period;
        Self::over(scenario, p.start, p.end(), facilities)
    }

    /// The context of the span from `start` to `end` (JST wall times): the scenario's period,
    /// or a rollout's years.
    pub fn over(
        scenario: &Scenario,
        start: NaiveDateTime,
        end: NaiveDateTime,
        facilities: Facilities,
    ) -> Self {
        use chrono::Datelike;
        let calendar = Calendar::new(
            start.year() - 1,
            end.year() + 1,
            scenario.calendar.flu_peak.get(),
        );
        let days: Vec<Day> = start
            .date()
            .iter_days()
            .take_while(|d| d.and_hms_opt(0, 0, 0).expect("midnight") < end)
            .map(|date| Day {
                date,
                midnight_ms: jst_ms(date.and_hms_opt(0, 0, 0).expect("midnight")),
            })
            .collect();
        let (start_ms, end_ms) = (jst_ms(start), jst_ms(end));
        let mut slots = HashMap::new();
        for desk in Desk::ALL {
            let mut cum = Vec::with_capacity(days.len() * Calendar::QUARTERS);
            let mut total = 0.0;
            for day in &days {
                let f = calendar.day_factor(day.date);
                let w = calendar.quarter_weights(desk, day.date);
                for (q, wq) in w.iter().enumerate() {
                    let q0 = day.midnight_ms + i64::from(Calendar::quarter_start_s(q)) * 1000;
                    let overlap = (q0 + 900_000).min(end_ms) - q0.max(start_ms);
                    total += f * wq * (overlap.max(0) as f64 / 900_000.0);
                    cum.push(total);
                }
            }
            slots.insert(desk, cum);
        }
        let fiscal_year = if start.month() >= 4 {
            start.year()
        } else {
            start.year() - 1
        };
        let ehr_rates = ehr::EhrRates::new(scenario, &days, &slots);
        let municipal = municipal::MunicipalRates::new(
            scenario,
            &calendar,
            &days,
            &slots,
            &facilities,
            (start_ms, end_ms),
        );
        Self {
            model: Model::new(scenario),
            year_divisor: 365.25 * Calendar::mean_day_factor(fiscal_year),
            scenario: scenario.clone(),
            calendar,
            facilities,
            days,
            start_ms,
            end_ms,
            slots,
            drugs: prescription::DrugChoices::new(),
            ehr: ehr_rates,
            municipal,
            stream_keys: StreamKeys {
                visit: dx_model::rng::stream_key(scenario.seed, "workload.visit"),
                prescription: dx_model::rng::stream_key(scenario.seed, "workload.prescription"),
                ehr: dx_model::rng::stream_key(scenario.seed, "workload.ehr"),
                municipal: dx_model::rng::stream_key(scenario.seed, "workload.municipal"),
            },
            adoption: dx_scenario::adoption::Timeline::of(scenario),
        }
    }

    /// Total arrival mass of `desk` over the period (in units of an ordinary day's arrivals).
    pub fn mass(&self, desk: Desk) -> f64 {
        self.slots[&desk].last().copied().unwrap_or(0.0)
    }

    /// A due time for an arrival at `desk`, drawn from its arrival pattern inside the period.
    pub fn arrival(&self, desk: Desk, rng: &mut Stream) -> i64 {
        let cum = &self.slots[&desk];
        let slot = rng.pick_cumulative(cum);
        let (d, q) = (slot / Calendar::QUARTERS, slot % Calendar::QUARTERS);
        let q0 = self.days[d].midnight_ms + i64::from(Calendar::quarter_start_s(q)) * 1000;
        let (lo, hi) = (q0.max(self.start_ms), (q0 + 900_000).min(self.end_ms));
        lo + rng.below((hi - lo).max(1) as u64) as i64
    }

    fn joined(start: f64, now: f64, already: bool, rank: f64) -> bool {
        // Of those not taking part at the start, the share that has joined by now.
        already || (start < 1.0 && rank < (now - start) / (1.0 - start))
    }

    /// Adoption at an instant.
    pub fn adoption_at(&self, at_ms: i64) -> dx_scenario::adoption::AdoptionState {
        self.adoption.at(at_ms)
    }

    /// Whether a facility is connected to online eligibility at an instant.
    pub fn connected(&self, f: &Facility, at_ms: i64) -> bool {
        let k = f.desk as usize;
        let start = self.adoption.start().online_eligibility.values()[k];
        let now = self.adoption.value(field::ONLINE_ELIGIBILITY + k, at_ms);
        Self::joined(start, now, f.online_eligibility, f.ranks[0])
    }

    /// Whether a facility runs e-prescription at an instant (only connected ones do).
    pub fn runs_eprescription(&self, f: &Facility, at_ms: i64) -> bool {
        let k = f.desk as usize;
        let start = self.adoption.start().eprescription.values()[k];
        let now = self.adoption.value(field::EPRESCRIPTION + k, at_ms);
        self.connected(f, at_ms) && Self::joined(start, now, f.eprescription, f.ranks[1])
    }

    /// Whether a facility takes part in EHR sharing at an instant (only connected ones do). No
    /// population flag marks it: the lowest ranks take part first.
    pub fn runs_ehr(&self, f: &Facility, at_ms: i64) -> bool {
        let share = self
            .adoption
            .value(field::EHR_SHARING + f.desk as usize, at_ms);
        f.ranks[2] < share && self.connected(f, at_ms)
    }

    /// Card use at a desk at an instant.
    pub fn card_use(&self, desk: Desk, at_ms: i64) -> f64 {
        self.adoption.value(field::CARD_USE + desk as usize, at_ms)
    }

    /// `rates.electronic_share` at an instant.
    pub fn electronic_share(&self, at_ms: i64) -> f64 {
        self.adoption.value(field::ELECTRONIC_SHARE, at_ms)
    }

    /// `rates.refill_share` at an instant.
    pub fn refill_share(&self, at_ms: i64) -> f64 {
        self.adoption.value(field::REFILL_SHARE, at_ms)
    }

    /// When the residents of a municipality of adoption rank `rank` start exchanging records
    /// inside the period (`None`: not in it).
    pub fn municipal_joins(&self, rank: f64) -> Option<i64> {
        self.adoption
            .municipal_joins(rank, self.start_ms, self.end_ms)
    }

    /// The JST date of an instant.
    pub fn date_of(ms: i64) -> NaiveDate {
        dx_protocol::time::jst_date_of_ms(ms)
    }
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

/// Collects one person's events, numbering them and keeping only those inside the period.
pub struct Emitter<'a> {
    person: &'a PersonRow,
    seq: u64,
    start_ms: i64,
    end_ms: i64,
    pub events: Vec<Event>,
    pub counts: FlowCounts,
    /// What the model did inside the period, with when; kept only if asked for.
    pub notes: Option<Vec<(i64, Note)>>,
}

impl<'a> Emitter<'a> {
    pub fn new(person: &'a PersonRow, ctx: &GenContext) -> Self {
        Self {
            person,
            seq: 0,
            start_ms: ctx.start_ms,
            end_ms: ctx.end_ms,
            events: Vec::new(),
            counts: FlowCounts::default(),
            notes: None,
        }
    }

    /// Keeps a note, if notes are kept and the instant is inside the period.
    pub fn note(&mut self, at_ms: i64, note: Note) {
        if self.inside(at_ms) {
            if let Some(n) = &mut self.notes {
                n.push((at_ms, note));
            }
        }
    }

    /// Runs `f` with the period starting no earlier than `start_ms` (a municipality joining
    /// the exchange inside it): events before then are numbered but not kept.
    pub fn from_instant(&mut self, start_ms: i64, f: impl FnOnce(&mut Self)) {
        let saved = self.start_ms;
        self.start_ms = saved.max(start_ms);
        f(self);
        self.start_ms = saved;
    }

    /// A new event of this person carrying `payload`, due at `at_ms`; returns its id. Its
    /// identification and prerequisite are set by `fill`. Events outside the period are numbered
    /// but not kept, so ids do not depend on the period.
    pub fn emit(
        &mut self,
        flow: FlowName,
        at_ms: i64,
        facility: &str,
        payload: Payload,
        fill: impl FnOnce(&mut Event),
    ) -> u64 {
        let id = (self.person.index << 20) | self.seq;
        self.seq += 1;
        if at_ms < self.start_ms || at_ms >= self.end_ms {
            return id;
        }
        let p = self.person;
        let mut e = Event {
            id,
            at_ms,
            flow,
            needs: None,
            facility: facility.to_owned(),
            person_id: p.id.clone(),
            card_serial: None,
            insurance: None,
            sex: p.sex,
            birth_date: p.birth_date,
            payload,
        };
        fill(&mut e);
        self.events.push(e);
        id
    }

    /// Whether an instant is inside the period.
    pub fn inside(&self, at_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&at_ms)
    }
}

/// A source of requests.
pub trait Flow: Sync {
    fn name(&self) -> &'static str;
    fn emit(&self, person: &PersonRow, ctx: &GenContext, out: &mut Emitter<'_>);
}

/// The flows every generation runs, in order.
pub fn registry() -> Vec<Box<dyn Flow>> {
    vec![
        Box::new(visit::VisitFlow),
        Box::new(ehr::EhrFlow),
        Box::new(municipal::MunicipalFlow),
    ]
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
