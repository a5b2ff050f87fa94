//! Where a person stands in the life events the exchange keeps state for — an ongoing pregnancy
//! and a care-level certification — derived from (seed, person index) alone, so that the import
//! (what the store holds when a run starts) and the workload (what happens during the run) agree
//! without either reading the other.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use dx_exchange::wire::{CareCertificationRecord, CareLevel, PregnancyRecord};
use dx_model::rng::Stream;
use std::collections::HashMap;

/// Days from the confirmation of a pregnancy (≈5 weeks) to the expected delivery (40 weeks).
pub const CONFIRMED_TO_DUE_DAYS: i64 = 245;
/// Validity of a care certification: a new one 12 months, renewals up to 48 (an even draw of
/// 12, 24 and 36 months: the spread is an assumption).
const CARE_VALIDITY_MONTHS: [u32; 3] = [12, 24, 36];

/// What the run's persons carry into the store.
#[derive(Debug, Clone)]
pub struct Life {
    pub seed: u64,
    pub as_of: NaiveDate,
    /// Care providers of each prefecture, sorted.
    pub care_providers: HashMap<u8, Vec<String>>,
}

impl Life {
    /// The pregnancy of a person flagged pregnant on `as_of`: due 1–280 days later.
    pub fn pregnancy(&self, index: u64) -> PregnancyRecord {
        let mut r = Stream::new(self.seed, "life.pregnancy", index);
        let due = self.as_of + TimeDelta::days(1 + r.below(280) as i64);
        PregnancyRecord {
            confirmed_on: due - TimeDelta::days(CONFIRMED_TO_DUE_DAYS),
            expected_delivery: due,
        }
    }

    /// The certification in force on `as_of` of a person certified at `level` (1–7), and the
    /// care provider managing their care plan (to whom they gave care consent on the portal when
    /// it started).
    pub fn care(&self, index: u64, level: u8, prefecture: u8) -> Option<CareCertificationRecord> {
        let level = CareLevel::from_number(level)?;
        let mut r = Stream::new(self.seed, "life.care", index);
        let months = CARE_VALIDITY_MONTHS[r.below(3) as usize];
        let length = (self.as_of + Months::new(months) - self.as_of).num_days() as u64;
        let valid_from = self.as_of - TimeDelta::days(r.below(length) as i64);
        let valid_to = valid_from + Months::new(months) - TimeDelta::days(1);
        let care_provider = self
            .care_providers
            .get(&prefecture)
            .filter(|l| !l.is_empty())
            .map(|l| l[r.below(l.len() as u64) as usize].clone());
        Some(CareCertificationRecord {
            level,
            valid_from,
            valid_to,
            care_provider,
        })
    }

    /// The day the municipality registers the medical subsidy (local law 88) of a child born on
    /// `birth`: the birth is notified within 14 days and the subsidy applied for with it, so
    /// 7–28 days after the birth (the spread is an assumption).
    pub fn subsidy_registered(&self, index: u64, birth: NaiveDate) -> NaiveDate {
        let mut r = Stream::new(self.seed, "life.subsidy", index);
        birth + TimeDelta::days(7 + r.below(22) as i64)
    }

    /// The renewals of a person's yearly entitlement (the certificates of laws 54 and 88 run a
    /// year) falling in `[from, to)`: one a year, on a day of the year drawn for the person
    /// (uniform: an assumption; many municipalities renew all theirs on one date).
    pub fn renewals(&self, index: u64, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let day = Stream::new(self.seed, "life.renewal", index).below(365) as i64;
        (from.year() - 1..=to.year())
            .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
            .map(|jan1| jan1 + TimeDelta::days(day))
            .filter(|d| (from..to).contains(d))
            .collect()
    }

    /// The first day of a yearly entitlement in force on `on`, first given on `start`: its last
    /// renewal on or before `on`, or `start`.
    pub fn entitlement_from(&self, index: u64, start: NaiveDate, on: NaiveDate) -> NaiveDate {
        let year_before = on - TimeDelta::days(366);
        self.renewals(index, year_before, on + TimeDelta::days(1))
            .into_iter()
            .filter(|d| *d > start)
            .max()
            .unwrap_or(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certifications_are_in_force_on_the_population_date_and_pregnancies_are_due_after_it() {
        let as_of = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
        let life = Life {
            seed: 7,
            as_of,
            care_providers: HashMap::from([(13, vec!["1371000019".to_owned()])]),
        };
        for i in 0..1_000 {
            let c = life.care(i, 1 + (i % 7) as u8, 13).unwrap();
            assert!(c.valid_from <= as_of && as_of <= c.valid_to, "{c:?}");
            assert_eq!(c.care_provider.as_deref(), Some("1371000019"));
            let g = life.pregnancy(i);
            assert!(g.expected_delivery > as_of);
            assert_eq!(life.pregnancy(i), g);
        }
        assert!(life.care(1, 0, 13).is_none());
    }

    #[test]
    fn entitlements_renew_once_a_year_and_the_one_in_force_began_at_the_last_renewal() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let life = Life {
            seed: 7,
            as_of: d(2025, 10, 1),
            care_providers: HashMap::new(),
        };
        for i in 0..500 {
            let r = life.renewals(i, d(2025, 1, 1), d(2028, 1, 1));
            assert_eq!(r.len(), 3, "{r:?}");
            assert!(
                r.windows(2)
                    .all(|w| (364..=366).contains(&(w[1] - w[0]).num_days()))
            );
            let on = d(2026, 6, 30);
            let from = life.entitlement_from(i, d(2010, 5, 5), on);
            assert!(from <= on && on - from < TimeDelta::days(366), "{from}");
            assert!(
                life.renewals(i, from + TimeDelta::days(1), on + TimeDelta::days(1))
                    .is_empty()
            );
            // A child born this year keeps its first day until the first renewal.
            let born = d(2026, 6, 1);
            let first = life.entitlement_from(i, born, born);
            assert_eq!(first, born);
            let registered = life.subsidy_registered(i, born);
            assert!((7..=28).contains(&(registered - born).num_days()));
        }
    }
}
