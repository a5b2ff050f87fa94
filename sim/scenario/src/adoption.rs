//! Adoption over time: where the shares of facilities taking part, card use, the electronic share,
//! refills and municipal participation stand at any instant.
//!
//! A scenario's `[adoption]`, `[rates]` and `[municipal]` sections give where it starts (the
//! population's facility flags are drawn from them). `[adoption.at_end]` moves the values it
//! names linearly over the period; a `[rollout]` instead gives waypoints over years, and each
//! value moves linearly between the waypoints that name it (from the start values at the
//! rollout's start) and stays at the last one after it.

use crate::{AdoptionEnd, KindShares, Scenario};
use chrono::NaiveDateTime;
pub use dx_model::adoption::{AdoptionState, FIELDS, KindValues};
use dx_protocol::time::jst_ms;

/// Where each value starts in that order: a kind share is the first plus the kind's index
/// (hospital, clinic, dental, pharmacy).
pub mod field {
    pub const ONLINE_ELIGIBILITY: usize = 0;
    pub const EPRESCRIPTION: usize = 4;
    pub const EHR_SHARING: usize = 8;
    pub const CARD_USE: usize = 12;
    pub const ELECTRONIC_SHARE: usize = 16;
    pub const REFILL_SHARE: usize = 17;
    pub const MUNICIPAL_PARTICIPATION: usize = 18;
}

fn values_of(k: KindShares) -> KindValues {
    k.map(f64::from)
}

/// Where `s` starts.
pub fn start_of(s: &Scenario) -> AdoptionState {
    AdoptionState {
        online_eligibility: values_of(s.adoption.online_eligibility),
        eprescription: values_of(s.adoption.eprescription),
        ehr_sharing: values_of(s.adoption.ehr_sharing),
        card_use: values_of(s.rates.card_use),
        electronic_share: s.rates.electronic_share.get(),
        refill_share: s.rates.refill_share.get(),
        municipal_participation: s.municipal.participation.get(),
    }
}

/// The values a waypoint (or `[adoption.at_end]`) names, in the order of [`AdoptionState`]'s.
fn named(set: &AdoptionEnd) -> [Option<f64>; FIELDS] {
    let mut out = [None; FIELDS];
    for (i, k) in [
        set.online_eligibility,
        set.eprescription,
        set.ehr_sharing,
        set.card_use,
    ]
    .iter()
    .enumerate()
    {
        if let Some(k) = k {
            for (j, v) in k.values().into_iter().enumerate() {
                out[4 * i + j] = Some(v);
            }
        }
    }
    out[16] = set.electronic_share.map(f64::from);
    out[17] = set.refill_share.map(f64::from);
    out[18] = set.municipal_participation.map(f64::from);
    out
}

/// Names of the values, for messages.
pub const FIELD_NAMES: [&str; FIELDS] = [
    "online_eligibility.hospital",
    "online_eligibility.clinic",
    "online_eligibility.dental",
    "online_eligibility.pharmacy",
    "eprescription.hospital",
    "eprescription.clinic",
    "eprescription.dental",
    "eprescription.pharmacy",
    "ehr_sharing.hospital",
    "ehr_sharing.clinic",
    "ehr_sharing.dental",
    "ehr_sharing.pharmacy",
    "card_use.hospital",
    "card_use.clinic",
    "card_use.dental",
    "card_use.pharmacy",
    "electronic_share",
    "refill_share",
    "municipal_participation",
];

/// Values that only grow: facilities and municipalities that joined stay.
fn only_grows(field: usize) -> bool {
    field < 12 || field == 18
}

/// Adoption as a function of time: per value, knots of (epoch ms, value), linear between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    start: AdoptionState,
    knots: Vec<Vec<(i64, f64)>>,
}

impl Timeline {
    /// The timeline of `s`: its `[rollout]` waypoints if it has any, else `[adoption.at_end]`
    /// over its period.
    pub fn of(s: &Scenario) -> Self {
        let start = start_of(s);
        let ms = jst_ms;
        let (t0, waypoints): (NaiveDateTime, Vec<(NaiveDateTime, &AdoptionEnd)>) = match &s.rollout
        {
            Some(r) => (
                r.start_time(),
                r.waypoints
                    .iter()
                    .map(|w| (w.at.and_hms_opt(0, 0, 0).expect("midnight"), &w.values))
                    .collect(),
            ),
            None => (s.period.start, vec![(s.period.end(), &s.adoption.at_end)]),
        };
        let first = start.to_array();
        let mut knots: Vec<Vec<(i64, f64)>> = first.iter().map(|v| vec![(ms(t0), *v)]).collect();
        for (at, set) in waypoints {
            for (field, v) in named(set).into_iter().enumerate() {
                if let Some(v) = v {
                    knots[field].push((ms(at), v));
                }
            }
        }
        Self { start, knots }
    }

    /// Where the timeline starts (the population's flags are drawn from it).
    pub fn start(&self) -> &AdoptionState {
        &self.start
    }

    /// One value (see [`field`]) at an instant: cheaper than [`Timeline::at`] where the
    /// workload asks per request.
    pub fn value(&self, field: usize, at_ms: i64) -> f64 {
        let k = &self.knots[field];
        let i = k.partition_point(|(t, _)| *t <= at_ms);
        if i == 0 {
            return k[0].1;
        }
        if i == k.len() {
            return k[i - 1].1;
        }
        let ((t0, v0), (t1, v1)) = (k[i - 1], k[i]);
        v0 + (v1 - v0) * ((at_ms - t0) as f64 / (t1 - t0).max(1) as f64)
    }

    /// Adoption at an instant (epoch milliseconds).
    pub fn at(&self, at_ms: i64) -> AdoptionState {
        let mut v = [0.0; FIELDS];
        for (f, x) in v.iter_mut().enumerate() {
            *x = self.value(f, at_ms);
        }
        AdoptionState::from_array(&v)
    }

    /// The first instant in `[from, to)` at which municipal participation exceeds `rank`
    /// (participation only grows), or `None` if it never does there.
    pub fn municipal_joins(&self, rank: f64, from: i64, to: i64) -> Option<i64> {
        const FIELD: usize = field::MUNICIPAL_PARTICIPATION;
        if self.value(FIELD, from) > rank {
            return Some(from);
        }
        if to <= from || self.value(FIELD, to - 1) <= rank {
            return None;
        }
        // The value at `lo` is at most `rank`, at `hi` above it.
        let (mut lo, mut hi) = (from, to - 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.value(FIELD, mid) > rank {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    /// Checks that what only grows grows, and (for timelines built in code) that shares stay in
    /// [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        for (f, k) in self.knots.iter().enumerate() {
            for w in k.windows(2) {
                if w[1].1 < w[0].1 && only_grows(f) {
                    return Err(format!(
                        "{}: adoption only grows ({} after {})",
                        FIELD_NAMES[f], w[1].1, w[0].1
                    ));
                }
            }
            if let Some((_, v)) = k.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
                return Err(format!(
                    "{}: shares must be in [0, 1], got {v}",
                    FIELD_NAMES[f]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Months, share};
    use crate::{RolloutSection, Waypoint};
    use chrono::NaiveDate;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ms(d: NaiveDate) -> i64 {
        jst_ms(d.and_hms_opt(0, 0, 0).unwrap())
    }

    #[test]
    fn each_value_moves_between_the_waypoints_that_name_it() {
        let mut s = Scenario::national(0.001);
        s.rates.electronic_share = share(0.2);
        s.municipal.participation = share(0.1);
        s.rollout = Some(RolloutSection {
            start: day(2026, 1, 1),
            months: Months::new(24).unwrap(),
            waypoints: vec![
                Waypoint {
                    at: day(2027, 1, 1),
                    values: AdoptionEnd {
                        electronic_share: Some(share(0.6)),
                        ..AdoptionEnd::default()
                    },
                },
                Waypoint {
                    at: day(2028, 1, 1),
                    values: AdoptionEnd {
                        municipal_participation: Some(share(0.9)),
                        ..AdoptionEnd::default()
                    },
                },
            ],
        });
        let t = Timeline::of(&s);
        t.validate().unwrap();
        let before = t.at(ms(day(2025, 6, 1)));
        assert_eq!(before, *t.start());
        let mid = t.at(ms(day(2026, 7, 2)));
        assert!((mid.electronic_share - 0.4).abs() < 1e-2, "{mid:?}");
        // Participation moves from the start straight to the waypoint naming it, through 2027.
        let p = t.at(ms(day(2027, 1, 1))).municipal_participation;
        assert!((p - 0.5).abs() < 1e-3, "{p}");
        let after = t.at(ms(day(2029, 1, 1)));
        assert_eq!(after.electronic_share, 0.6);
        assert_eq!(after.municipal_participation, 0.9);
        assert_eq!(after.eprescription, values_of(s.adoption.eprescription));
        // A municipality ranked at 0.5 joins about 1 January 2027.
        let joins = t
            .municipal_joins(0.5, ms(day(2026, 1, 1)), ms(day(2028, 1, 1)))
            .unwrap();
        assert!((joins - ms(day(2027, 1, 1))).abs() < 86_400_000, "{joins}");
        assert_eq!(t.municipal_joins(0.95, 0, ms(day(2030, 1, 1))), None);
        assert_eq!(t.municipal_joins(0.05, 7, 9), Some(7));
    }

    #[test]
    fn the_field_offsets_name_their_values() {
        use field::*;
        for (f, name) in [
            (ONLINE_ELIGIBILITY, "online_eligibility.hospital"),
            (EPRESCRIPTION + 1, "eprescription.clinic"),
            (EHR_SHARING + 3, "ehr_sharing.pharmacy"),
            (CARD_USE + 2, "card_use.dental"),
            (ELECTRONIC_SHARE, "electronic_share"),
            (REFILL_SHARE, "refill_share"),
            (MUNICIPAL_PARTICIPATION, "municipal_participation"),
        ] {
            assert_eq!(FIELD_NAMES[f], name);
        }
    }

    #[test]
    fn without_a_rollout_the_period_end_is_the_one_waypoint_and_shrinking_is_refused() {
        let mut s = Scenario::national(0.001);
        s.adoption.at_end.electronic_share = Some(share(1.0));
        let t = Timeline::of(&s);
        let mid = (ms(s.period.start.date()) + jst_ms(s.period.end())) / 2;
        let e = t.at(mid).electronic_share;
        assert!(
            (e - (s.rates.electronic_share.get() + 1.0) / 2.0).abs() < 1e-6,
            "{e}"
        );
        s.adoption.at_end.municipal_participation = Some(share(0.01));
        let err = Timeline::of(&s).validate().unwrap_err();
        assert!(err.contains("municipal_participation"), "{err}");
    }
}
