//! Everything shared by all persons of a generation: the scenario, the rates and calendar,
//! the facilities, the period's days and arrival slots, each flow's precomputed rates, and
//! adoption over time.

use super::super::calendar::{Calendar, Desk};
use super::super::model::Model;
use super::base::{Day, Facilities, Facility, jst_ms};
use super::drugs::DrugChoices;
use super::ehr_rates::EhrRates;
use super::municipal_rates::MunicipalRates;
use chrono::{NaiveDate, NaiveDateTime};
use dx_model::rng::Stream;
use dx_scenario::Scenario;
use dx_scenario::adoption::field;
use std::collections::HashMap;

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
    pub drugs: DrugChoices,
    pub ehr: EhrRates,
    pub municipal: MunicipalRates,
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
        let ehr_rates = EhrRates::new(scenario, &days, &slots);
        let municipal = MunicipalRates::new(
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
            drugs: DrugChoices::new(),
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

    /// The same context drawing other numbers: part `part` of a span cut into parts (a
    /// rollout's years), so that each part's draws are its own.
    pub fn drawing_for(mut self, part: u64) -> Self {
        use dx_model::rng::splitmix64;
        let k = &mut self.stream_keys;
        for key in [
            &mut k.visit,
            &mut k.prescription,
            &mut k.ehr,
            &mut k.municipal,
        ] {
            *key = splitmix64(*key ^ splitmix64(part));
        }
        self
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
