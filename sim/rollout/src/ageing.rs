//! A population that ages through the rollout: every person grows older by their birth date, dies
//! at the yearly rate of their age, and women bear children at the rates of theirs (the
//! population's tables, calibrated to FACTS' 1.61 M deaths and 0.72 M births a year). The flows
//! run one rollout year at a time with each person's age in the middle of it, from their birth
//! and until their death; the month's stock — persons, persons aged 75+, late-elderly members —
//! is counted in the middle of each month.
//!
//! Every draw comes from (seed, person): the same scenario and seed give the same rollout for any
//! thread count. A newborn is a new person of the mother's municipality, covered with her (a
//! dependant of her number), and numbered after the population's persons from the mother's id
//! and the year.

use chrono::{Datelike, NaiveDate, TimeDelta};
use dx_model::rng::{Stream, stream_key};
use dx_population::tables;
use dx_protocol::wire::Sex;
use dx_workload::flows::{PersonRow, jst_ms};

/// Newborns' indices start here, above every generated person (2^40 > 123.8 M · 2^10).
const NEWBORN_BASE: u64 = 1 << 40;
/// A year's events of one person are numbered from `year << YEAR_SEQ_BITS` on.
pub const YEAR_SEQ_BITS: u32 = 16;
/// The most rollout years a person's event numbering has room for (2^20 events per person).
pub const MAX_YEARS: usize = 1 << (20 - YEAR_SEQ_BITS);

/// One year of the rollout (the last may be shorter): its span in epoch milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Year {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Year {
    /// The rollout's years from `start` to `end` (exclusive).
    pub fn split(start: NaiveDate, end: NaiveDate) -> Vec<Year> {
        let mut out = Vec::new();
        let mut from = start;
        while from < end {
            let to = from
                .checked_add_months(chrono::Months::new(12))
                .expect("a date within range")
                .min(end);
            out.push(Year {
                start: from,
                end: to,
                start_ms: midnight_ms(from),
                end_ms: midnight_ms(to),
            });
            from = to;
        }
        out
    }

    fn middle(&self) -> NaiveDate {
        self.start + (self.end - self.start) / 2
    }

    fn fraction(&self) -> f64 {
        (self.end - self.start).num_days() as f64 / 365.25
    }

    /// A day of the year drawn uniformly.
    fn day(&self, r: &mut Stream) -> NaiveDate {
        let days = (self.end - self.start).num_days().max(1) as u64;
        self.start + TimeDelta::days(r.below(days) as i64)
    }
}

pub fn midnight_ms(d: NaiveDate) -> i64 {
    jst_ms(d.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
}

/// A birth date as the persons files hold it (days since 1970-01-01).
pub fn date_of(days: i32) -> NaiveDate {
    epoch() + TimeDelta::days(i64::from(days))
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

/// Completed years of age on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// The life of a person through the rollout: born (before it or inside it), and the instant
/// they die, if they die inside it.
#[derive(Debug, Clone, Copy)]
pub struct Life {
    pub born_ms: i64,
    pub dies_ms: Option<i64>,
}

/// Draws of the rollout's lives, keyed by seed.
pub struct Lives {
    death_key: u64,
    birth_key: u64,
}

impl Lives {
    pub fn new(seed: u64) -> Self {
        Self {
            death_key: stream_key(seed, "rollout.death"),
            birth_key: stream_key(seed, "rollout.birth"),
        }
    }

    /// When `p` dies within `years`, if they do: each year (from their birth) at the death rate
    /// of their age in its middle.
    pub fn life(&self, p: &PersonRow, years: &[Year]) -> Life {
        let birth = date_of(p.birth_date);
        let born_ms = midnight_ms(birth);
        let mut r = Stream::from_key(self.death_key, p.index);
        for y in years.iter().filter(|y| y.end > birth) {
            let age = age_on(birth, y.middle().max(birth));
            let fraction = if birth > y.start {
                (y.end - birth).num_days() as f64 / 365.25
            } else {
                y.fraction()
            };
            if r.chance(tables::death_rate(age) * fraction) {
                let at = midnight_ms(y.day(&mut r)).max(born_ms);
                return Life {
                    born_ms,
                    dies_ms: Some(at),
                };
            }
        }
        Life {
            born_ms,
            dies_ms: None,
        }
    }

    /// The children `mother` bears within `years` while alive: at most one a year, at the birth
    /// rate of her age in its middle.
    pub fn newborns(&self, mother: &PersonRow, life: &Life, years: &[Year]) -> Vec<PersonRow> {
        if mother.sex != Sex::Female {
            return Vec::new();
        }
        let birth = date_of(mother.birth_date);
        let mut r = Stream::from_key(self.birth_key, mother.index);
        let mut out = Vec::new();
        for (k, y) in years.iter().enumerate() {
            let rate = tables::birth_rate(age_on(birth, y.middle()));
            if rate == 0.0 || !r.chance(rate * y.fraction()) {
                continue;
            }
            let born = y.day(&mut r);
            if life.dies_ms.is_some_and(|d| d <= midnight_ms(born)) {
                break;
            }
            let index = NEWBORN_BASE + (mother.index << 4) + k as u64;
            out.push(PersonRow {
                index,
                id: format!("P{index}"),
                sex: if r.chance(0.512) {
                    Sex::Male
                } else {
                    Sex::Female
                },
                birth_date: days_since_epoch(born),
                age: 0,
                prefecture: mother.prefecture,
                // A dependant of the mother's number (or her household's), on a branch of its
                // own.
                insurance: mother.insurance.clone().map(|[ins, symbol, number, _]| {
                    [ins, symbol, number, format!("{:02}", 10 + k)]
                }),
                card_serial: None,
                conditions: 0,
                municipality: mother.municipality.clone(),
                pregnant: false,
                ltc_level: 0,
                // Every child's medical subsidy (local law 88), registered after the birth.
                public_expense: Some("88".to_owned()),
                home_clinic: mother.home_clinic.clone(),
                usual_pharmacy: mother.usual_pharmacy.clone(),
                next_insurance: None,
                next_reported: None,
            });
        }
        out
    }
}

/// `p` as the flows see them in year `y`: at their age in its middle.
pub fn in_year(p: &PersonRow, y: &Year) -> PersonRow {
    let birth = date_of(p.birth_date);
    PersonRow {
        age: age_on(birth, y.middle().max(birth)),
        ..p.clone()
    }
}

/// The stock a person adds to a month whose middle is `middle`: alive, aged 75+, a member of the
/// late-elderly system (75+ and insured; public assistance is not).
pub fn stock(p: &PersonRow, life: &Life, middle: NaiveDate) -> [u64; 3] {
    let at = midnight_ms(middle);
    if at < life.born_ms || life.dies_ms.is_some_and(|d| d <= at) {
        return [0; 3];
    }
    let old = age_on(date_of(p.birth_date), middle) >= 75;
    [1, u64::from(old), u64::from(old && p.insurance.is_some())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: u64, birth: NaiveDate, sex: Sex) -> PersonRow {
        PersonRow {
            index,
            id: format!("P{index:010}"),
            sex,
            birth_date: days_since_epoch(birth),
            age: 0,
            prefecture: 31,
            insurance: Some([
                "06310010".into(),
                "1".into(),
                "000000001".into(),
                "00".into(),
            ]),
            card_serial: None,
            conditions: 0,
            municipality: "311006".into(),
            pregnant: false,
            ltc_level: 0,
            public_expense: None,
            home_clinic: None,
            usual_pharmacy: None,
            next_insurance: None,
            next_reported: None,
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn years_cover_the_rollout_and_the_last_may_be_short() {
        let years = Year::split(d(2025, 6, 1), d(2030, 12, 1) + chrono::Months::new(1));
        assert_eq!(years.len(), 6);
        assert_eq!(years[0].end, d(2026, 6, 1));
        assert_eq!(years[5].start, d(2030, 6, 1));
        assert_eq!(years[5].end, d(2031, 1, 1));
        assert!(years.len() <= MAX_YEARS);
    }

    /// Deaths and births at the rates of the ages: many 90-year-olds die within five years, few
    /// 30-year-olds; women of 30 bear children, men and women of 60 none.
    #[test]
    fn lives_follow_the_rates_of_their_ages() {
        let years = Year::split(d(2025, 1, 1), d(2030, 1, 1));
        let lives = Lives::new(7);
        let n = 20_000u64;
        let died = |born: NaiveDate| {
            (0..n)
                .filter(|&i| {
                    lives
                        .life(&row(i, born, Sex::Female), &years)
                        .dies_ms
                        .is_some()
                })
                .count() as f64
                / n as f64
        };
        let (old, young) = (died(d(1935, 1, 1)), died(d(1995, 1, 1)));
        // Five years at about 0.16–0.28 a year from 90 on: most die; at 30, a few in a thousand.
        assert!(old > 0.5 && old < 0.85, "{old}");
        assert!(young < 0.01, "{young}");
        let births = |born: NaiveDate, sex: Sex| -> usize {
            (0..n)
                .map(|i| {
                    let p = row(i, born, sex);
                    let life = lives.life(&p, &years);
                    lives.newborns(&p, &life, &years).len()
                })
                .sum()
        };
        let per_woman = births(d(1994, 6, 1), Sex::Female) as f64 / n as f64;
        // 30–34: about 0.08 a year, five years.
        assert!(per_woman > 0.3 && per_woman < 0.5, "{per_woman}");
        assert_eq!(births(d(1994, 6, 1), Sex::Male), 0);
        assert_eq!(births(d(1965, 6, 1), Sex::Female), 0);
    }

    #[test]
    fn a_newborn_is_a_dependant_of_the_mother_and_counts_from_birth() {
        let years = Year::split(d(2025, 1, 1), d(2030, 1, 1));
        let lives = Lives::new(7);
        let (mother, life, child) = (0..1_000)
            .find_map(|i| {
                let m = row(i, d(1994, 6, 1), Sex::Female);
                let life = lives.life(&m, &years);
                let mut kids = lives.newborns(&m, &life, &years);
                (!kids.is_empty()).then(|| (m, life, kids.remove(0)))
            })
            .expect("a birth among a thousand women of 30");
        assert!(child.index >= NEWBORN_BASE);
        let [ins, symbol, number, branch] = child.insurance.clone().unwrap();
        let mine = mother.insurance.clone().unwrap();
        assert_eq!([&ins, &symbol, &number], [&mine[0], &mine[1], &mine[2]]);
        assert_ne!(branch, mine[3]);
        assert!(child.card_serial.is_none() && child.municipality == mother.municipality);
        let born = date_of(child.birth_date);
        let child_life = lives.life(&child, &years);
        assert_eq!(child_life.born_ms, midnight_ms(born));
        assert_eq!(
            stock(&child, &child_life, born - TimeDelta::days(1)),
            [0; 3]
        );
        if child_life.dies_ms.is_none() {
            assert_eq!(
                stock(&child, &child_life, born + TimeDelta::days(1)),
                [1, 0, 0]
            );
        }
        assert!(life.dies_ms.is_none_or(|d| d > midnight_ms(born)));
        // The same draws again: deterministic.
        assert_eq!(
            lives.newborns(&mother, &life, &years)[0].birth_date,
            child.birth_date
        );
    }

    #[test]
    fn a_person_joins_the_late_elderly_count_at_75_and_leaves_every_count_at_death() {
        let p = row(1, d(1951, 3, 10), Sex::Male);
        let life = Life {
            born_ms: midnight_ms(d(1951, 3, 10)),
            dies_ms: Some(midnight_ms(d(2028, 1, 1))),
        };
        assert_eq!(stock(&p, &life, d(2026, 3, 9)), [1, 0, 0]);
        assert_eq!(stock(&p, &life, d(2026, 3, 10)), [1, 1, 1]);
        assert_eq!(stock(&p, &life, d(2028, 1, 1)), [0; 3]);
        let assisted = PersonRow {
            insurance: None,
            ..p.clone()
        };
        assert_eq!(stock(&assisted, &life, d(2027, 1, 1)), [1, 1, 0]);
        let y = Year::split(d(2026, 1, 1), d(2027, 1, 1))[0];
        assert_eq!(in_year(&p, &y).age, 75);
    }
}
