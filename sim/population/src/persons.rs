//! One person from (seed, person id) alone: age and sex, insurer, card, conditions, pregnancy,
//! long-term care, public expense, home clinic and pharmacy.

use super::orgs::{Insurer, Orgs};
use super::tables::{self, InsurerType};
use chrono::{Datelike, NaiveDate, TimeDelta};
use dx_exchange::wire::FacilityKind;
use dx_model::rng::{Stream, stream_key};

/// A generated person; the columns of `persons/*.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: u64,
    pub male: bool,
    pub birth_date: NaiveDate,
    pub age: u32,
    pub prefecture: u8,
    pub municipality: u32,
    /// Index into `Orgs::insurers`; `None` for public assistance recipients (medical aid).
    pub insurer: Option<u32>,
    /// 記号; the 番号 is the person id, zero-padded to 9 digits (unique within every insurer).
    pub symbol: u32,
    /// "00" for the insured person, "01"… for dependants.
    pub branch: &'static str,
    pub card_held: bool,
    pub card_registered: bool,
    pub conditions: u16,
    pub pregnant: bool,
    /// 0 none, 1–7 = support 1–2, care 1–5.
    pub ltc_level: u8,
    /// Law code of a public-expense entitlement: "54", "12" or "88".
    pub public_expense: Option<&'static str>,
    pub home_clinic: Option<u32>,
    pub usual_pharmacy: Option<u32>,
}

/// Everything the generator looks up, built once from the organisations.
pub struct Context<'a> {
    pub orgs: &'a Orgs,
    pub as_of: NaiveDate,
    person_key: u64,
    age_cumulative: Vec<f64>,
    ltc_cumulative: Vec<f64>,
    /// Per municipality: indices of its clinics and pharmacies (falling back to the prefecture's).
    clinics: Vec<Vec<u32>>,
    pharmacies: Vec<Vec<u32>>,
    /// Per prefecture (index code-1): Kyokai branch, late-elderly union, NHI societies.
    kyokai: Vec<u32>,
    late_elderly: Vec<u32>,
    nhi_societies: Vec<Vec<u32>>,
    /// Per municipality: its NHI.
    municipal_nhi: Vec<u32>,
    societies: (Vec<u32>, Vec<f64>),
    mutual_aid: (Vec<u32>, Vec<f64>),
}

fn weighted(insurers: &[Insurer], kind: InsurerType) -> (Vec<u32>, Vec<f64>) {
    let mut ids = Vec::new();
    let mut cumulative = Vec::new();
    let mut acc = 0.0;
    for (i, ins) in insurers.iter().enumerate().filter(|(_, i)| i.kind == kind) {
        acc += ins.weight;
        ids.push(i as u32);
        cumulative.push(acc);
    }
    (ids, cumulative)
}

impl<'a> Context<'a> {
    pub fn new(orgs: &'a Orgs, seed: u64, as_of: NaiveDate) -> Self {
        let age_cumulative = tables::AGE_BANDS
            .iter()
            .scan(0.0, |acc, (_, n)| {
                *acc += n;
                Some(*acc)
            })
            .collect();
        let n_muni = orgs.municipalities.len();
        let mut clinics = vec![Vec::new(); n_muni];
        let mut pharmacies = vec![Vec::new(); n_muni];
        for (i, f) in orgs.facilities.iter().enumerate() {
            match f.kind {
                FacilityKind::Clinic => clinics[f.municipality].push(i as u32),
                FacilityKind::Pharmacy => pharmacies[f.municipality].push(i as u32),
                _ => {}
            }
        }
        for p in &orgs.prefectures {
            for list in [&mut clinics, &mut pharmacies] {
                let all: Vec<u32> = list[p.municipalities.clone()]
                    .iter()
                    .flatten()
                    .copied()
                    .collect();
                for m in p.municipalities.clone() {
                    if list[m].is_empty() {
                        list[m] = all.clone();
                    }
                }
            }
        }
        let find = |kind: InsurerType, pref: u8| {
            orgs.insurers
                .iter()
                .position(|i| i.kind == kind && i.prefecture == pref)
                .expect("one per prefecture") as u32
        };
        let kyokai = (1..=47)
            .map(|p| find(InsurerType::KyokaiKenpo, p))
            .collect();
        let late_elderly = (1..=47)
            .map(|p| find(InsurerType::LateElderly, p))
            .collect();
        let nhi_societies = (1..=47u8)
            .map(|p| {
                orgs.insurers
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.kind == InsurerType::NhiSociety && i.prefecture == p)
                    .map(|(k, _)| k as u32)
                    .collect()
            })
            .collect();
        let nhi_by_number: std::collections::BTreeMap<(u8, usize), u32> = {
            let mut m = std::collections::BTreeMap::new();
            let mut local = [0usize; 48];
            for (i, ins) in orgs
                .insurers
                .iter()
                .enumerate()
                .filter(|(_, i)| i.kind == InsurerType::MunicipalNhi)
            {
                m.insert(
                    (ins.prefecture, local[usize::from(ins.prefecture)]),
                    i as u32,
                );
                local[usize::from(ins.prefecture)] += 1;
            }
            m
        };
        let municipal_nhi = orgs
            .municipalities
            .iter()
            .enumerate()
            .map(|(k, m)| {
                nhi_by_number[&(
                    m.prefecture,
                    k - orgs.prefectures[usize::from(m.prefecture) - 1]
                        .municipalities
                        .start,
                )]
            })
            .collect();
        let ltc_cumulative = tables::LTC_LEVELS
            .iter()
            .scan(0.0, |a, (_, s)| {
                *a += s;
                Some(*a)
            })
            .collect();
        Self {
            orgs,
            as_of,
            person_key: stream_key(seed, "person"),
            age_cumulative,
            ltc_cumulative,
            clinics,
            pharmacies,
            kyokai,
            late_elderly,
            nhi_societies,
            municipal_nhi,
            societies: weighted(&orgs.insurers, InsurerType::Society),
            mutual_aid: weighted(&orgs.insurers, InsurerType::MutualAid),
        }
    }

    /// The municipality index holding person `id` (persons are numbered municipality by
    /// municipality).
    pub fn municipality_of(&self, id: u64) -> usize {
        self.orgs
            .municipalities
            .partition_point(|m| m.first_person + m.persons <= id)
    }

    fn age_and_birth(&self, r: &mut Stream) -> (u32, NaiveDate) {
        let band = r.pick_cumulative(&self.age_cumulative);
        let age = u32::from(tables::AGE_BANDS[band].0) + r.below(5) as u32;
        // Born between (as_of − age − 1 year, as_of − age years].
        let latest = self
            .as_of
            .with_year(self.as_of.year() - age as i32)
            .unwrap_or(self.as_of - TimeDelta::days(365 * i64::from(age)));
        let birth = latest - TimeDelta::days(r.below(365) as i64);
        (age, birth)
    }

    /// Generates person `id`.
    pub fn person(&self, id: u64) -> Person {
        let mut r = Stream::from_key(self.person_key, id);
        let m_index = self.municipality_of(id);
        let m = &self.orgs.municipalities[m_index];
        let pref = usize::from(m.prefecture) - 1;
        let (age, birth_date) = self.age_and_birth(&mut r);
        let male = r.chance(tables::male_share(age));

        // Insurance: 75+ in the late-elderly union; under 75 NHI or an employee scheme; public
        // assistance recipients in neither.
        let (insurer, public_assistance) = if age >= 75 {
            if r.chance(tables::PUBLIC_ASSISTANCE_75_PLUS) {
                (None, true)
            } else {
                (Some(self.late_elderly[pref]), false)
            }
        } else if r.chance(tables::nhi_share(age)) {
            if r.chance(tables::PUBLIC_ASSISTANCE_IN_NHI) {
                (None, true)
            } else if r.chance(tables::MUNICIPAL_NHI_SHARE) || self.nhi_societies[pref].is_empty() {
                (Some(self.municipal_nhi[m_index]), false)
            } else {
                let list = &self.nhi_societies[pref];
                (Some(list[r.below(list.len() as u64) as usize]), false)
            }
        } else {
            let employee = [
                InsurerType::KyokaiKenpo.members(),
                InsurerType::Society.members(),
                InsurerType::MutualAid.members(),
            ];
            let pick = r.pick_cumulative(&[
                employee[0],
                employee[0] + employee[1],
                employee.iter().sum(),
            ]);
            let id = match pick {
                0 => self.kyokai[pref],
                1 => self.societies.0[r.pick_cumulative(&self.societies.1)],
                _ => self.mutual_aid.0[r.pick_cumulative(&self.mutual_aid.1)],
            };
            (Some(id), false)
        };
        let employee_scheme = insurer.is_some_and(|i| {
            matches!(
                self.orgs.insurers[i as usize].kind,
                InsurerType::KyokaiKenpo | InsurerType::Society | InsurerType::MutualAid
            )
        });
        // Children and a share of adults in employee schemes are dependants of an insured worker.
        let dependant =
            employee_scheme && (age < 20 || (age < 75 && r.chance(if male { 0.06 } else { 0.38 })));
        let branch = if dependant {
            ["01", "02", "03"][r.below(3) as usize]
        } else {
            "00"
        };
        let symbol = 1 + r.below(99_999) as u32;

        let card_held = r.chance(tables::card_share(age));
        let card_registered = card_held && r.chance(tables::CARD_REGISTERED_SHARE);
        let mut conditions = 0;
        for (bit, _) in tables::CONDITION_PREVALENCE {
            if r.chance(tables::prevalence(bit, age)) {
                conditions |= bit;
            }
        }
        let pregnant = !male && r.chance(tables::pregnancy_rate(age));
        let ltc_level = if r.chance(tables::ltc_rate(age)) {
            1 + r.pick_cumulative(&self.ltc_cumulative) as u8
        } else {
            0
        };
        let public_expense = if public_assistance {
            Some("12")
        } else if age <= tables::CHILD_SUBSIDY_MAX_AGE {
            Some("88")
        } else if r.chance(tables::INTRACTABLE_SHARE_ADULT) {
            Some("54")
        } else {
            None
        };
        let pick = |list: &Vec<u32>, r: &mut Stream| {
            (!list.is_empty()).then(|| list[r.below(list.len() as u64) as usize])
        };
        let home_clinic = pick(&self.clinics[m_index], &mut r);
        let usual_pharmacy = pick(&self.pharmacies[m_index], &mut r);
        Person {
            id,
            male,
            birth_date,
            age,
            prefecture: m.prefecture,
            municipality: m_index as u32,
            insurer,
            symbol,
            branch,
            card_held,
            card_registered,
            conditions,
            pregnant,
            ltc_level,
            public_expense,
            home_clinic,
            usual_pharmacy,
        }
    }
}

/// The card serial of person `id`: an affine bijection of the id onto 11 digits, so serials are
/// unique without a lookup and do not reveal the id's order.
pub fn card_serial(id: u64) -> String {
    format!("C{:011}", card_serial_number(id))
}

/// The 11 digits of [`card_serial`].
pub fn card_serial_number(id: u64) -> u64 {
    const MODULUS: u64 = 100_000_000_000;
    // Odd and not a multiple of 5: invertible modulo 10^11.
    const A: u64 = 73_939_133_077;
    const B: u64 = 27_182_818_284;
    ((u128::from(id) * u128::from(A) + u128::from(B)) % u128::from(MODULUS)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_scenario::Scenario;

    #[test]
    fn a_person_depends_only_on_seed_and_id() {
        let orgs = Orgs::generate(&Scenario::national(0.0001));
        let ctx = Context::new(&orgs, 5, NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
        let a: Vec<Person> = (0..500).map(|i| ctx.person(i)).collect();
        let b: Vec<Person> = (0..500).rev().map(|i| ctx.person(i)).collect();
        assert!(a.iter().eq(b.iter().rev()));
        assert_ne!(Context::new(&orgs, 6, ctx.as_of).person(0), a[0]);
    }

    #[test]
    fn rules_hold_for_every_person() {
        let orgs = Orgs::generate(&Scenario::national(0.0002));
        let ctx = Context::new(&orgs, 1, NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
        for id in 0..orgs.total_persons() {
            let p = ctx.person(id);
            let kind = p.insurer.map(|i| orgs.insurers[i as usize].kind);
            if p.age >= 75 {
                assert!(
                    matches!(kind, Some(InsurerType::LateElderly) | None),
                    "{p:?}"
                );
            } else {
                assert_ne!(kind, Some(InsurerType::LateElderly));
            }
            assert_eq!(kind.is_none(), p.public_expense == Some("12"));
            assert!(!p.pregnant || (!p.male && (15..50).contains(&p.age)));
            assert!(p.card_held || !p.card_registered);
            assert!(p.home_clinic.is_some() && p.usual_pharmacy.is_some());
            let m = &orgs.municipalities[p.municipality as usize];
            assert!(m.first_person <= id && id < m.first_person + m.persons);
            assert_eq!(
                chrono::Datelike::year(&ctx.as_of)
                    - chrono::Datelike::year(&p.birth_date)
                    - i32::from(
                        (ctx.as_of.month(), ctx.as_of.day())
                            < (p.birth_date.month(), p.birth_date.day())
                    ),
                p.age as i32
            );
        }
    }

    #[test]
    fn card_serials_are_unique() {
        let mut s: Vec<String> = (0..100_000).map(card_serial).collect();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 100_000);
    }
}
