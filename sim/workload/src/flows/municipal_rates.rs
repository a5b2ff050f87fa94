//! What the municipal flows derive once per generation: the care providers per prefecture,
//! the share of a season's flu doses inside the period, and the portal's hourly arrival
//! weights with the surge.

use super::base::{Day, Facilities, day_masses, jst_ms};
use crate::calendar::{Calendar, Desk};
use chrono::Datelike;
use dx_model::rng::Stream;
use dx_population::life::Life;
use dx_scenario::Scenario;
use std::collections::HashMap;

pub const HOUR: i64 = 3_600_000;
/// How far back a dose can lie and still reach the period in a batch upload (two weekdays after
/// the dose, across a long holiday).
pub const UPLOAD_REACH_DAYS: i64 = 9;
/// Share of a flu season's doses given in October, November and December.
pub const FLU_MONTHS: [(u32, f64); 3] = [(10, 0.45), (11, 0.40), (12, 0.15)];
/// Relative portal use by hour of day (JST): low at night, a lunch bump, the evening peak.
pub const PORTAL_HOURS: [f64; 24] = [
    0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.3, 0.6, 0.8, 1.0, 1.0, 1.0, 1.3, 1.1, 1.0, 1.0, 1.0, 1.1,
    1.4, 1.8, 2.4, 2.6, 2.0, 1.0,
];

/// What the municipal flows derive once per generation.
#[derive(Debug)]
pub struct MunicipalRates {
    pub life: Life,
    /// Share of a year's flu doses falling inside the period.
    flu_share: f64,
    /// The days before the period whose doses a batch upload inside it may carry: each day's
    /// midnight (epoch ms) and its share of the season's doses.
    flu_before: Vec<(i64, f64)>,
    /// Portal: cumulative weight over the period's hours and the period's expected reads per
    /// unit yearly rate.
    portal_cum: Vec<f64>,
    portal_hours_ms: Vec<i64>,
    pub portal_year_fraction: f64,
    /// The municipalities' office hours inside the period (weekdays 09:00–17:00): each window and
    /// the cumulative milliseconds to its end.
    office: Vec<(i64, i64)>,
    office_cum: Vec<f64>,
}

/// Weekdays a year the municipal offices are open (as the care reads assume).
pub const OFFICE_DAYS_A_YEAR: f64 = 245.0;
/// Office hours a day, 09:00–17:00.
pub const OFFICE_HOURS: i64 = 8;

impl MunicipalRates {
    pub fn new(
        s: &Scenario,
        calendar: &Calendar,
        days: &[Day],
        slots: &HashMap<Desk, Vec<f64>>,
        facilities: &Facilities,
        (start_ms, end_ms): (i64, i64),
    ) -> Self {
        let mut care_providers = facilities.care_providers.clone();
        for l in care_providers.values_mut() {
            l.sort();
        }
        // A flu month's share spread over its days by the clinics' day factors.
        let mut month_mass: HashMap<(i32, u32), f64> = HashMap::new();
        let mut season_share = |date: chrono::NaiveDate, mass: f64| {
            let Some((_, share)) = FLU_MONTHS.iter().find(|(m, _)| *m == date.month()) else {
                return 0.0;
            };
            let first = date.with_day(1).expect("day 1");
            let total = *month_mass
                .entry((first.year(), first.month()))
                .or_insert_with(|| {
                    first
                        .iter_days()
                        .take_while(|d| d.month() == first.month())
                        .map(|d| calendar.day_factor(d))
                        .sum()
                });
            share * mass / total
        };
        let flu_share = days
            .iter()
            .zip(day_masses(&slots[&Desk::Clinic]))
            .map(|(day, mass)| season_share(day.date, mass))
            .sum();
        let flu_before = days.first().map_or_else(Vec::new, |first| {
            (1..=UPLOAD_REACH_DAYS)
                .rev()
                .map(|k| {
                    let d = first.date - chrono::TimeDelta::days(k);
                    let midnight = jst_ms(d.and_hms_opt(0, 0, 0).expect("midnight"));
                    (midnight, season_share(d, calendar.day_factor(d)))
                })
                .filter(|(_, share)| *share > 0.0)
                .collect()
        });
        let day_weight: f64 = PORTAL_HOURS.iter().sum();
        let (mut portal_cum, mut portal_hours_ms, mut total) = (Vec::new(), Vec::new(), 0.0);
        let mut year_fraction = 0.0;
        for day in days {
            for (h, w) in PORTAL_HOURS.iter().enumerate() {
                let h0 = day.midnight_ms + h as i64 * HOUR;
                let overlap =
                    ((h0 + HOUR).min(end_ms) - h0.max(start_ms)).max(0) as f64 / HOUR as f64;
                let surge = s.portal.surge.as_ref().map_or(1.0, |sg| {
                    let from = jst_ms(sg.start);
                    let to = from + (sg.hours.get() * HOUR as f64) as i64;
                    if h0 < to && h0 + HOUR > from {
                        sg.factor.get()
                    } else {
                        1.0
                    }
                });
                let m = w * overlap * surge;
                total += m;
                year_fraction += m / day_weight / 365.0;
                portal_cum.push(total);
                portal_hours_ms.push(h0);
            }
        }
        let (mut office, mut office_cum, mut open) = (Vec::new(), Vec::new(), 0.0);
        for day in days {
            if !matches!(
                calendar.day_kind(day.date),
                crate::calendar::DayKind::Weekday(_)
            ) {
                continue;
            }
            let from = (day.midnight_ms + 9 * HOUR).max(start_ms);
            let to = (day.midnight_ms + (9 + OFFICE_HOURS) * HOUR).min(end_ms);
            if from < to {
                open += (to - from) as f64;
                office.push((from, to));
                office_cum.push(open);
            }
        }
        Self {
            office,
            office_cum,
            life: Life {
                seed: s.seed,
                as_of: s.population.as_of,
                care_providers,
            },
            flu_share,
            flu_before,
            portal_cum,
            portal_hours_ms,
            portal_year_fraction: year_fraction,
        }
    }

    /// A portal arrival time inside the period `[start_ms, end_ms)`.
    pub fn portal_time(&self, (start_ms, end_ms): (i64, i64), r: &mut Stream) -> i64 {
        let i = r.pick_cumulative(&self.portal_cum);
        let h0 = self.portal_hours_ms[i];
        let (lo, hi) = (h0.max(start_ms), (h0 + HOUR).min(end_ms));
        lo + r.below((hi - lo).max(1) as u64) as i64
    }
}

impl MunicipalRates {
    /// Share of a season's flu doses given inside the period.
    pub fn flu_share(&self) -> f64 {
        self.flu_share
    }

    /// The days before the period whose doses may reach it in a batch upload: midnight (epoch
    /// ms) and share of the season's doses.
    pub fn flu_before(&self) -> &[(i64, f64)] {
        &self.flu_before
    }

    /// The share of a year's office hours inside the period.
    pub fn office_year_fraction(&self) -> f64 {
        self.office_cum.last().copied().unwrap_or(0.0)
            / (OFFICE_DAYS_A_YEAR * (OFFICE_HOURS * HOUR) as f64)
    }

    /// An instant drawn uniformly from the office hours inside the period (`None` if it has
    /// none).
    pub fn office_time(&self, r: &mut Stream) -> Option<i64> {
        if self.office.is_empty() {
            return None;
        }
        let i = r.pick_cumulative(&self.office_cum);
        let (from, to) = self.office[i];
        Some(from + r.below((to - from).max(1) as u64) as i64)
    }

    /// Portal reads and applications of the period per unit yearly rate.
    pub fn portal_year_fraction(&self) -> f64 {
        self.portal_year_fraction
    }
}
