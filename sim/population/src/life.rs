//! Where a person stands in the life events the exchange keeps state for — an ongoing pregnancy
//! and a care-level certification — derived from (seed, person index) alone, so that the import
//! (what the store holds when a run starts) and the workload (what happens during the run) agree
//! without either reading the other.

use chrono::{Months, NaiveDate, TimeDelta};
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
}
