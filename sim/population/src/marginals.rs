//! What a generation counts of the persons it makes, to compare with the published figures:
//! per-chunk counters in fixed arrays on the hot path, merged into [`Marginals`].

use super::orgs::Orgs;
use super::persons::Person;
use super::tables::{self, InsurerType};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts of the generated population, to compare with the published figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marginals {
    pub persons: u64,
    pub male: u64,
    pub age_0_14: u64,
    pub age_15_64: u64,
    pub age_65_plus: u64,
    pub age_75_plus: u64,
    pub by_prefecture: BTreeMap<u8, u64>,
    /// Persons aged 65+ and 75+ by prefecture.
    pub aged_by_prefecture: BTreeMap<u8, [u64; 2]>,
    pub by_insurer_type: BTreeMap<&'static str, u64>,
    pub no_insurer: u64,
    pub card_held: u64,
    pub card_registered: u64,
    pub ltc_certified: u64,
    pub pregnant: u64,
    pub public_expense: BTreeMap<&'static str, u64>,
    pub conditions: BTreeMap<&'static str, u64>,
    pub households: u64,
    /// Households by kind: `one_person`, `couple`, `couple_and_children`, `one_parent`, `other`
    /// (with a parent of the head or spouse, or a couple with a parent).
    pub household_kinds: BTreeMap<&'static str, u64>,
    /// Persons covered as dependants (被扶養者) of an insured person of an employee scheme.
    pub dependants: u64,
    /// Persons whose coverage changed in the year before the population date, by why.
    pub coverage_changes: BTreeMap<&'static str, u64>,
    /// Of them, insured employees who changed employer (their dependants aside).
    pub job_changers: u64,
    /// Insured employees who change employer in the year after the population date (the
    /// insurers report it in the workload).
    pub job_changers_ahead: u64,
}

/// Household kinds, in the order of [`Counts`]' array.
pub const HOUSEHOLD_KINDS: [&str; 5] = [
    "one_person",
    "couple",
    "couple_and_children",
    "one_parent",
    "other",
];

const CONDITION_NAMES: [(u16, &str); 6] = [
    (tables::HYPERTENSION, "hypertension"),
    (tables::DIABETES, "diabetes"),
    (tables::DYSLIPIDAEMIA, "dyslipidaemia"),
    (tables::ASTHMA_COPD, "asthma_copd"),
    (tables::CKD, "chronic_kidney_disease"),
    (tables::DEMENTIA, "dementia"),
];

/// Per-chunk counters in fixed arrays (the hot path); turned into [`Marginals`] once per chunk.
pub struct Counts {
    persons: u64,
    male: u64,
    ages: [u64; 4],
    prefecture: [u64; 48],
    aged: [[u64; 2]; 48],
    insurer_type: [u64; 6],
    no_insurer: u64,
    card_held: u64,
    card_registered: u64,
    ltc: u64,
    pregnant: u64,
    public_expense: [u64; 3],
    conditions: [u64; 6],
    household_kinds: [u64; 5],
    dependants: u64,
    /// Changes counted from this day on (a year before the population date).
    changes_from: Option<chrono::NaiveDate>,
    changes: [u64; 4],
    job_changers: u64,
    job_changers_ahead: u64,
}

const PUBLIC_EXPENSE_LAWS: [&str; 3] = ["12", "54", "88"];

impl Default for Counts {
    fn default() -> Self {
        Self {
            persons: 0,
            male: 0,
            ages: [0; 4],
            prefecture: [0; 48],
            aged: [[0; 2]; 48],
            insurer_type: [0; 6],
            no_insurer: 0,
            card_held: 0,
            card_registered: 0,
            ltc: 0,
            pregnant: 0,
            public_expense: [0; 3],
            conditions: [0; 6],
            household_kinds: [0; 5],
            dependants: 0,
            changes_from: None,
            changes: [0; 4],
            job_changers: 0,
            job_changers_ahead: 0,
        }
    }
}

impl Counts {
    /// Counters that also count coverage changes in the year before `as_of`.
    pub fn for_year_to(as_of: chrono::NaiveDate) -> Self {
        Self {
            changes_from: as_of.checked_sub_months(chrono::Months::new(12)),
            ..Self::default()
        }
    }

    pub fn add(&mut self, p: &Person, orgs: &Orgs) {
        if let (Some(c), Some(from), Some(since)) = (p.change, p.coverage_from, self.changes_from) {
            if from > since {
                self.changes[c as usize] += 1;
                self.job_changers +=
                    u64::from(c == super::coverage::Change::JobChange && p.number == p.id);
            }
        }
        self.job_changers_ahead += u64::from(
            p.number == p.id
                && p.next
                    .is_some_and(|n| n.why == super::coverage::Change::JobChange),
        );
        self.persons += 1;
        self.male += u64::from(p.male);
        self.ages[match p.age {
            0..=14 => 0,
            15..=64 => 1,
            _ => 2,
        }] += 1;
        self.ages[3] += u64::from(p.age >= 75);
        self.prefecture[usize::from(p.prefecture)] += 1;
        let aged = &mut self.aged[usize::from(p.prefecture)];
        aged[0] += u64::from(p.age >= 65);
        aged[1] += u64::from(p.age >= 75);
        match p.insurer {
            Some(i) => self.insurer_type[orgs.insurers[i as usize].kind as usize] += 1,
            None => self.no_insurer += 1,
        }
        self.card_held += u64::from(p.card_held);
        self.card_registered += u64::from(p.card_registered);
        self.ltc += u64::from(p.ltc_level > 0);
        self.pregnant += u64::from(p.pregnant);
        if let Some(law) = p.public_expense {
            if let Some(k) = PUBLIC_EXPENSE_LAWS.iter().position(|l| *l == law) {
                self.public_expense[k] += 1;
            }
        }
        for (k, (bit, _)) in CONDITION_NAMES.iter().enumerate() {
            self.conditions[k] += u64::from(p.conditions & bit != 0);
        }
        let employee = p.insurer.is_some_and(|i| {
            matches!(
                orgs.insurers[i as usize].kind,
                InsurerType::KyokaiKenpo | InsurerType::Society | InsurerType::MutualAid
            )
        });
        self.dependants += u64::from(employee && p.branch > 0);
    }

    /// Counts the households of a segment (every member of each is in `persons`).
    pub fn add_households(&mut self, persons: &[Person]) {
        use super::households::Relation;
        // Per head (by position in the segment): spouse, children, parents.
        let first = persons.first().map_or(0, |p| p.id);
        let mut kinds: Vec<Option<[bool; 3]>> = vec![None; persons.len()];
        for p in persons {
            let k = kinds[(p.household - first) as usize].get_or_insert_default();
            match p.relation {
                Relation::Head => {}
                Relation::Spouse => k[0] = true,
                Relation::Child => k[1] = true,
                Relation::Parent => k[2] = true,
            }
        }
        for [spouse, children, parent] in kinds.into_iter().flatten() {
            let kind = match (spouse, children, parent) {
                (_, _, true) => 4,
                (false, false, false) => 0,
                (true, false, false) => 1,
                (true, true, false) => 2,
                (false, true, false) => 3,
            };
            self.household_kinds[kind] += 1;
        }
    }

    pub fn into_marginals(self) -> Marginals {
        let nonzero =
            |pairs: Vec<(&'static str, u64)>| pairs.into_iter().filter(|(_, n)| *n > 0).collect();
        Marginals {
            persons: self.persons,
            male: self.male,
            age_0_14: self.ages[0],
            age_15_64: self.ages[1],
            age_65_plus: self.ages[2],
            age_75_plus: self.ages[3],
            by_prefecture: (1..=47u8)
                .map(|p| (p, self.prefecture[usize::from(p)]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            aged_by_prefecture: (1..=47u8)
                .filter(|&p| self.prefecture[usize::from(p)] > 0)
                .map(|p| (p, self.aged[usize::from(p)]))
                .collect(),
            by_insurer_type: nonzero(
                InsurerType::ALL
                    .iter()
                    .map(|k| (k.as_str(), self.insurer_type[*k as usize]))
                    .collect(),
            ),
            no_insurer: self.no_insurer,
            card_held: self.card_held,
            card_registered: self.card_registered,
            ltc_certified: self.ltc,
            pregnant: self.pregnant,
            public_expense: nonzero(
                PUBLIC_EXPENSE_LAWS
                    .iter()
                    .zip(self.public_expense)
                    .map(|(l, n)| (*l, n))
                    .collect(),
            ),
            conditions: nonzero(
                CONDITION_NAMES
                    .iter()
                    .zip(self.conditions)
                    .map(|((_, name), n)| (*name, n))
                    .collect(),
            ),
            households: self.household_kinds.iter().sum(),
            household_kinds: nonzero(
                HOUSEHOLD_KINDS
                    .iter()
                    .zip(self.household_kinds)
                    .map(|(k, n)| (*k, n))
                    .collect(),
            ),
            dependants: self.dependants,
            job_changers: self.job_changers,
            job_changers_ahead: self.job_changers_ahead,
            coverage_changes: nonzero(
                super::coverage::Change::ALL
                    .iter()
                    .zip(self.changes)
                    .map(|(c, n)| (c.as_str(), n))
                    .collect(),
            ),
        }
    }
}

impl Marginals {
    pub fn merge(&mut self, o: Marginals) {
        self.persons += o.persons;
        self.male += o.male;
        self.age_0_14 += o.age_0_14;
        self.age_15_64 += o.age_15_64;
        self.age_65_plus += o.age_65_plus;
        self.age_75_plus += o.age_75_plus;
        self.no_insurer += o.no_insurer;
        self.card_held += o.card_held;
        self.card_registered += o.card_registered;
        self.ltc_certified += o.ltc_certified;
        self.pregnant += o.pregnant;
        for (k, v) in o.by_prefecture {
            *self.by_prefecture.entry(k).or_default() += v;
        }
        for (k, [a, b]) in o.aged_by_prefecture {
            let e = self.aged_by_prefecture.entry(k).or_default();
            e[0] += a;
            e[1] += b;
        }
        for (k, v) in o.by_insurer_type {
            *self.by_insurer_type.entry(k).or_default() += v;
        }
        for (k, v) in o.public_expense {
            *self.public_expense.entry(k).or_default() += v;
        }
        for (k, v) in o.conditions {
            *self.conditions.entry(k).or_default() += v;
        }
        self.households += o.households;
        for (k, v) in o.household_kinds {
            *self.household_kinds.entry(k).or_default() += v;
        }
        self.dependants += o.dependants;
        self.job_changers += o.job_changers;
        self.job_changers_ahead += o.job_changers_ahead;
        for (k, v) in o.coverage_changes {
            *self.coverage_changes.entry(k).or_default() += v;
        }
    }
}
