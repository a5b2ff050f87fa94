//! The national calendar the arrival model runs on: Japanese public holidays, the year-end break,
//! and how busy a facility is by weekday, hour, month and flu season.
//!
//! Sources: public holidays from the Act on National Holidays (国民の祝日に関する法律) as in force
//! since 2020, with the equinoxes from the usual approximation for 1980–2099; the shapes of the
//! weekly and daily patterns follow FACTS ("Time patterns"): mornings busiest, a lunch dip, an
//! afternoon session, Saturday mornings, Sundays and holidays near zero, Monday the busiest
//! weekday, days after holidays busy, winter 1.2–1.5× summer. The exact weights are ours (there is
//! no published hourly series); only their shape matters, since the level of every flow is set by
//! the annual rates.

use chrono::{Datelike, NaiveDate, Weekday};

/// Years the holiday rules here are exact for (the 2020–2021 Olympic moves are not modelled).
pub const YEARS: std::ops::RangeInclusive<i32> = dx_scenario::CALENDAR_YEARS;

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("exists in every month")
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn equinox_day(year: i32, base: f64) -> u32 {
    let y = f64::from(year - 1980);
    (base + 0.242_194 * y - (y / 4.0).floor()).floor() as u32
}

/// The public holidays of `year` (named days, substitute holidays and citizens' holidays), sorted.
pub fn public_holidays(year: i32) -> Vec<NaiveDate> {
    let mut days = vec![
        ymd(year, 1, 1),
        nth_weekday(year, 1, Weekday::Mon, 2),
        ymd(year, 2, 11),
        ymd(year, 2, 23),
        ymd(year, 3, equinox_day(year, 20.8431)),
        ymd(year, 4, 29),
        ymd(year, 5, 3),
        ymd(year, 5, 4),
        ymd(year, 5, 5),
        nth_weekday(year, 7, Weekday::Mon, 3),
        ymd(year, 8, 11),
        nth_weekday(year, 9, Weekday::Mon, 3),
        ymd(year, 9, equinox_day(year, 23.2488)),
        nth_weekday(year, 10, Weekday::Mon, 2),
        ymd(year, 11, 3),
        ymd(year, 11, 23),
    ];
    days.sort();
    // A day between two holidays is a holiday (citizens' holiday), unless it is a Sunday.
    let mut extra: Vec<NaiveDate> = days
        .windows(2)
        .filter(|w| (w[1] - w[0]).num_days() == 2)
        .map(|w| w[0].succ_opt().expect("not the last day"))
        .filter(|d| d.weekday() != Weekday::Sun && !days.contains(d))
        .collect();
    days.append(&mut extra);
    days.sort();
    // A holiday on a Sunday moves to the next day that is not a holiday.
    let mut substitutes = Vec::new();
    for d in days.iter().filter(|d| d.weekday() == Weekday::Sun) {
        let mut s = d.succ_opt().expect("not the last day");
        while days.contains(&s) || substitutes.contains(&s) {
            s = s.succ_opt().expect("not the last day");
        }
        substitutes.push(s);
    }
    days.extend(substitutes);
    days.sort();
    days.dedup();
    days
}

/// What kind of day a date is for outpatient care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Weekday(Weekday),
    Saturday,
    /// Sunday, a public holiday, or the year-end break (29 Dec – 3 Jan), when clinics close.
    Closed,
}

/// The calendar over the years of a simulated period.
#[derive(Debug, Clone)]
pub struct Calendar {
    holidays: Vec<NaiveDate>,
    /// Multiplier over the whole flu season weeks (1.0 = an ordinary winter).
    flu_peak: f64,
}

/// Facility kinds whose reception desks the arrival model schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Desk {
    // In the order of `KindShares::values`.
    Hospital = 0,
    Clinic = 1,
    Dental = 2,
    Pharmacy = 3,
}

impl Desk {
    pub const ALL: [Desk; 4] = [Desk::Hospital, Desk::Clinic, Desk::Dental, Desk::Pharmacy];
}

/// Relative arrivals per quarter hour of a weekday, from 07:00 (index 0) to 21:00; outside that
/// window nothing arrives. Four values per hour.
const QUARTERS: usize = 56;
const FIRST_HOUR: u32 = 7;

#[rustfmt::skip]
const CLINIC_WEEKDAY: [f32; QUARTERS] = [
    // 07        08                   09                   10                   11
    0.0, 0.0, 0.0, 0.0,  0.1, 0.2, 0.5, 0.8,  1.0, 1.0, 1.0, 1.0,  1.0, 0.95, 0.9, 0.85,  0.8, 0.7, 0.6, 0.5,
    // 12                13                   14                   15                   16
    0.3, 0.15, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.5, 0.55, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.55, 0.5,
    // 17                18                   19                   20
    0.5, 0.45, 0.4, 0.35, 0.25, 0.15, 0.1, 0.05, 0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
];
#[rustfmt::skip]
const HOSPITAL_WEEKDAY: [f32; QUARTERS] = [
    0.0, 0.0, 0.0, 0.1,  0.4, 0.8, 1.0, 1.0,  1.0, 1.0, 0.9, 0.8,  0.7, 0.6, 0.5, 0.45,  0.4, 0.3, 0.25, 0.2,
    0.1, 0.05, 0.05, 0.05, 0.1, 0.15, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05,
    0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
];
#[rustfmt::skip]
const DENTAL_WEEKDAY: [f32; QUARTERS] = [
    0.0, 0.0, 0.0, 0.0,  0.0, 0.0, 0.2, 0.4,  0.8, 0.8, 0.8, 0.8,  0.8, 0.8, 0.8, 0.8,  0.8, 0.8, 0.6, 0.4,
    0.1, 0.05, 0.0, 0.0, 0.0, 0.05, 0.2, 0.4, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
    0.7, 0.7, 0.7, 0.7, 0.6, 0.5, 0.4, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
];

fn profile(desk: Desk) -> &'static [f32; QUARTERS] {
    match desk {
        Desk::Hospital => &HOSPITAL_WEEKDAY,
        // Pharmacies receive the patients of clinics and hospitals; their own arrivals are the
        // prescriber's visit plus a delay, so this profile only serves as a fallback.
        Desk::Clinic | Desk::Pharmacy => &CLINIC_WEEKDAY,
        Desk::Dental => &DENTAL_WEEKDAY,
    }
}

/// Relative volume of a weekday (Monday busiest; many clinics close Thursday afternoons).
fn weekday_factor(d: Weekday) -> f64 {
    match d {
        Weekday::Mon => 1.25,
        Weekday::Tue => 1.05,
        Weekday::Wed => 1.0,
        Weekday::Thu => 0.9,
        Weekday::Fri => 1.0,
        Weekday::Sat => 0.75,
        Weekday::Sun => 0.0,
    }
}

/// Arrivals on a closed day relative to an ordinary weekday (emergency care only).
const CLOSED_FACTOR: f64 = 0.03;

/// Relative volume by month, January first: winter 1.2–1.5× summer (FACTS).
const MONTH_FACTOR: [f64; 12] = [
    1.25, 1.2, 1.05, 1.0, 0.95, 0.95, 0.93, 0.9, 0.95, 1.0, 1.05, 1.15,
];

impl Calendar {
    /// A calendar with the given flu-season multiplier (1.0 for an ordinary winter).
    pub fn new(first_year: i32, last_year: i32, flu_peak: f64) -> Self {
        let holidays = (first_year..=last_year).flat_map(public_holidays).collect();
        Self { holidays, flu_peak }
    }

    pub fn is_public_holiday(&self, d: NaiveDate) -> bool {
        self.holidays.binary_search(&d).is_ok()
    }

    pub fn day_kind(&self, d: NaiveDate) -> DayKind {
        let year_end = (d.month() == 12 && d.day() >= 29) || (d.month() == 1 && d.day() <= 3);
        if d.weekday() == Weekday::Sun || year_end || self.is_public_holiday(d) {
            return DayKind::Closed;
        }
        match d.weekday() {
            Weekday::Sat => DayKind::Saturday,
            w => DayKind::Weekday(w),
        }
    }

    /// Whether `d` is in the flu season's peak weeks (ISO week 51 to week 5).
    pub fn in_flu_season(d: NaiveDate) -> bool {
        let w = d.iso_week().week();
        w >= 51 || w <= 5
    }

    /// Relative outpatient volume of a day (an ordinary Wednesday in April is 1.0).
    pub fn day_factor(&self, d: NaiveDate) -> f64 {
        let base = match self.day_kind(d) {
            DayKind::Closed => return CLOSED_FACTOR * MONTH_FACTOR[d.month0() as usize],
            DayKind::Saturday => weekday_factor(Weekday::Sat),
            DayKind::Weekday(w) => {
                let f = weekday_factor(w);
                // The first open day after a holiday (other than the Sunday before Monday) is
                // busy with the patients the holiday held back.
                let prev = d.pred_opt().expect("not the first day");
                if w != Weekday::Mon && self.day_kind(prev) == DayKind::Closed {
                    f * 1.15
                } else {
                    f
                }
            }
        };
        let season = if Self::in_flu_season(d) {
            self.flu_peak
        } else {
            1.0
        };
        base * MONTH_FACTOR[d.month0() as usize] * season
    }

    /// Multiplier on checks by insurance number on day `d`: where the paper insurance card is
    /// used, a facility checks each patient once a month, at their first visit, so those checks
    /// crowd the first days of the month (FACTS). The first three days weigh 1.5, the rest of the
    /// month a little under 1, so a month's total is unchanged.
    pub fn month_start_factor(d: NaiveDate) -> f64 {
        const FIRST_DAYS: u32 = 3;
        const PEAK: f64 = 1.5;
        let days_in_month = {
            let next = if d.month() == 12 {
                ymd(d.year() + 1, 1, 1)
            } else {
                ymd(d.year(), d.month() + 1, 1)
            };
            (next - ymd(d.year(), d.month(), 1)).num_days() as f64
        };
        if d.day() <= FIRST_DAYS {
            PEAK
        } else {
            (days_in_month - PEAK * f64::from(FIRST_DAYS)) / (days_in_month - f64::from(FIRST_DAYS))
        }
    }

    /// Relative arrivals at `desk` in each quarter hour from 07:00 of day `d`, summing to 1 over
    /// the day (Saturdays: mornings only; closed days: a thin spread over the day).
    pub fn quarter_weights(&self, desk: Desk, d: NaiveDate) -> [f64; QUARTERS] {
        let base = profile(desk);
        let kind = self.day_kind(d);
        let mut w = [0.0f64; QUARTERS];
        for (q, v) in w.iter_mut().enumerate() {
            *v = match kind {
                DayKind::Weekday(_) => f64::from(base[q]),
                // Saturday: the morning session only, ending around 13:00.
                DayKind::Saturday => {
                    if q < 24 {
                        f64::from(base[q])
                    } else {
                        0.0
                    }
                }
                DayKind::Closed => {
                    if (8..48).contains(&q) {
                        1.0
                    } else {
                        0.0
                    }
                }
            };
        }
        let total: f64 = w.iter().sum();
        for v in &mut w {
            *v /= total;
        }
        w
    }

    /// Seconds after midnight at which quarter `q` begins.
    pub fn quarter_start_s(q: usize) -> u32 {
        FIRST_HOUR * 3600 + q as u32 * 900
    }

    pub const QUARTERS: usize = QUARTERS;

    /// The mean of [`Calendar::day_factor`] over a whole year starting 1 April of `year`, with
    /// an ordinary flu season: rates per year divide by 365 × this to give a day's rate.
    /// Specific health checkups by month (January first), relative to the year's mean: municipal
    /// and workplace checkups gather in June–November, few in March–April (fiscal-year turn).
    /// The shape is an assumption; only the annual total is published.
    pub fn checkup_season(month: u32) -> f64 {
        const SHAPE: [f64; 12] = [0.9, 0.9, 0.6, 0.5, 0.8, 1.2, 1.2, 0.9, 1.2, 1.4, 1.3, 1.0];
        let mean = SHAPE.iter().sum::<f64>() / 12.0;
        SHAPE[((month.clamp(1, 12)) - 1) as usize] / mean
    }

    pub fn mean_day_factor(year: i32) -> f64 {
        let cal = Calendar::new(year, year + 1, 1.0);
        let start = ymd(year, 4, 1);
        let end = ymd(year + 1, 4, 1);
        let days = (end - start).num_days();
        let sum: f64 = start
            .iter_days()
            .take(days as usize)
            .map(|d| cal.day_factor(d))
            .sum();
        sum / days as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkup_season_averages_one_and_peaks_in_autumn() {
        let mean = (1..=12).map(Calendar::checkup_season).sum::<f64>() / 12.0;
        assert!((mean - 1.0).abs() < 1e-12);
        assert!(Calendar::checkup_season(10) > Calendar::checkup_season(4) * 2.0);
    }

    #[test]
    fn the_holidays_of_2025_are_the_published_ones() {
        let expected = [
            (1, 1),
            (1, 13),
            (2, 11),
            (2, 23),
            (2, 24),
            (3, 20),
            (4, 29),
            (5, 3),
            (5, 4),
            (5, 5),
            (5, 6),
            (7, 21),
            (8, 11),
            (9, 15),
            (9, 23),
            (10, 13),
            (11, 3),
            (11, 23),
            (11, 24),
        ];
        let got: Vec<(u32, u32)> = public_holidays(2025)
            .iter()
            .map(|d| (d.month(), d.day()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_citizens_holiday_fills_the_gap_between_two_holidays() {
        // 2026: Respect for the Aged Day is 21 Sep and the equinox 23 Sep, so 22 Sep is a holiday.
        assert!(public_holidays(2026).contains(&ymd(2026, 9, 22)));
        assert_eq!(ymd(2026, 9, 23), ymd(2026, 9, equinox_day(2026, 23.2488)));
    }

    #[test]
    fn monday_beats_tuesday_and_holidays_are_near_zero() {
        let cal = Calendar::new(2025, 2026, 1.0);
        let (mon, tue) = (ymd(2025, 10, 6), ymd(2025, 10, 7));
        assert!(cal.day_factor(mon) > cal.day_factor(tue));
        // Sports Day, and the Tuesday after it (busy with the patients the holiday held back).
        let holiday = ymd(2025, 10, 13);
        assert_eq!(cal.day_kind(holiday), DayKind::Closed);
        assert!(cal.day_factor(holiday) < 0.05 * cal.day_factor(tue));
        assert!(cal.day_factor(ymd(2025, 10, 14)) > cal.day_factor(tue));
        assert_eq!(cal.day_kind(ymd(2025, 12, 30)), DayKind::Closed);
    }

    #[test]
    fn the_lunch_dip_and_saturday_afternoons() {
        let cal = Calendar::new(2025, 2026, 1.0);
        let w = cal.quarter_weights(Desk::Clinic, ymd(2025, 10, 7));
        let hour = |h: u32| -> f64 { w[((h - FIRST_HOUR) * 4) as usize..][..4].iter().sum() };
        assert!(hour(12) < 0.5 * hour(10) && hour(13) < hour(15));
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let sat = cal.quarter_weights(Desk::Clinic, ymd(2025, 10, 4));
        assert_eq!(sat[((15 - FIRST_HOUR) * 4) as usize], 0.0);
    }

    #[test]
    fn number_checks_crowd_the_start_of_the_month_without_changing_its_total() {
        let total: f64 = ymd(2025, 10, 1)
            .iter_days()
            .take(31)
            .map(Calendar::month_start_factor)
            .sum();
        assert!((total - 31.0).abs() < 1e-9);
        assert!(
            Calendar::month_start_factor(ymd(2025, 10, 1))
                > 1.4 * Calendar::month_start_factor(ymd(2025, 10, 15))
        );
    }

    #[test]
    fn winter_runs_above_summer_and_a_flu_peak_above_that() {
        let normal = Calendar::new(2025, 2026, 1.0);
        let flu = Calendar::new(2025, 2026, 1.4);
        let (jan, jul) = (ymd(2026, 1, 19), ymd(2025, 7, 14));
        let ratio = normal.day_factor(jan) / normal.day_factor(jul);
        assert!((1.2..=1.5).contains(&ratio), "{ratio}");
        assert!(flu.day_factor(jan) > normal.day_factor(jan) * 1.3);
        assert!(Calendar::mean_day_factor(2025) > 0.7 && Calendar::mean_day_factor(2025) < 1.0);
    }
}
