//! The persons of a segment (one municipality's persons within one part): each person's age and
//! sex, card, conditions, pregnancy, long-term care, home clinic and pharmacy from (seed, person
//! id) alone; then their households (`households.rs`), and insurance by household — dependants
//! (被扶養者) share the insured person's insurer and 記号・番号 with their own 枝番, a household in
//! National Health Insurance holds one number, everyone 75 and over is in the late-elderly system
//! under their own.

use super::households::{self, Place, Relation, Who};
use super::orgs::{Insurer, Orgs};
use super::tables::{self, InsurerType};
use chrono::{Datelike, NaiveDate, TimeDelta};
use dx_exchange::wire::FacilityKind;
use dx_model::rng::{Stream, splitmix64, stream_key, unit_of};

/// A generated person; the columns of `persons/*.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: u64,
    pub male: bool,
    pub birth_date: NaiveDate,
    pub age: u32,
    pub prefecture: u8,
    pub municipality: u32,
    /// The household: its head's person id.
    pub household: u64,
    pub relation: Relation,
    /// Index into `Orgs::insurers`; `None` for public assistance recipients (medical aid).
    pub insurer: Option<u32>,
    /// 記号, shared with the insured person (or the household in NHI).
    pub symbol: u32,
    /// The person whose number covers this one: the person itself, the insured person of a
    /// dependant, or the first member of an NHI household; the 番号 is that id, zero-padded to 9
    /// digits (unique within every insurer).
    pub number: u64,
    /// 枝番: 0 for the insured person (or the household's first member), 1… for the others.
    pub branch: u8,
    /// First day of the coverage in force (`None` without insurance); see `history.rs`.
    pub coverage_from: Option<NaiveDate>,
    /// The coverage before it, if it changed within the history's window.
    pub previous: Option<super::coverage::Previous>,
    pub change: Option<super::coverage::Change>,
    /// The coverage that follows it within a year, if known now (turning 75).
    pub next: Option<super::coverage::Next>,
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
    household_key: u64,
    insurance_key: u64,
    pub(crate) history_key: u64,
    age_key: u64,
    /// Per prefecture (index code − 1): the cumulative weights of the age bands.
    age_cumulative: Vec<Vec<f64>>,
    ltc_cumulative: Vec<f64>,
    /// Per municipality: indices of its clinics and pharmacies (falling back to the prefecture's).
    clinics: Vec<Vec<u32>>,
    pharmacies: Vec<Vec<u32>>,
    /// Per prefecture (index code-1): Kyokai branch, late-elderly union, NHI societies.
    kyokai: Vec<u32>,
    pub(crate) late_elderly: Vec<u32>,
    nhi_societies: Vec<Vec<u32>>,
    /// Per municipality: its NHI.
    pub(crate) municipal_nhi: Vec<u32>,
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
        let age_cumulative = (1..=47)
            .map(|code| {
                tables::age_bands_in(code)
                    .iter()
                    .scan(0.0, |acc, n| {
                        *acc += n;
                        Some(*acc)
                    })
                    .collect()
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
            household_key: stream_key(seed, "household"),
            insurance_key: stream_key(seed, "insurance"),
            history_key: stream_key(seed, "history"),
            age_key: stream_key(seed, "age"),
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

    /// The age band of person `id`, the `k`-th of municipality `m_index`: an equidistributed
    /// (Weyl) sequence over the municipality's persons from a start drawn for it, so that every
    /// run of consecutive persons — a municipality, a segment — holds its prefecture's age shares
    /// up to rounding rather than up to sampling noise (±0.6 points in a prefecture of 5,000).
    fn age_band(&self, prefecture: u8, m_index: usize, k: u64) -> usize {
        const GOLDEN: f64 = 0.618_033_988_749_894_9;
        let start = unit_of(splitmix64(self.age_key ^ m_index as u64));
        let u = (start + k as f64 * GOLDEN).fract();
        let cumulative = &self.age_cumulative[usize::from(prefecture) - 1];
        let x = u * cumulative.last().expect("21 bands");
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len() - 1)
    }

    fn age_and_birth(&self, band: usize, r: &mut Stream) -> (u32, NaiveDate) {
        let age = u32::from(tables::AGE_BANDS[band].0) + r.below(5) as u32;
        // Born between (as_of − age − 1 year, as_of − age years].
        let latest = self
            .as_of
            .with_year(self.as_of.year() - age as i32)
            .unwrap_or(self.as_of - TimeDelta::days(365 * i64::from(age)));
        let birth = latest - TimeDelta::days(r.below(365) as i64);
        (age, birth)
    }

    /// Person `id` on their own: everything but household and insurance, which
    /// [`Context::segment`] adds.
    fn person(&self, id: u64) -> Person {
        let mut r = Stream::from_key(self.person_key, id);
        let m_index = self.municipality_of(id);
        let m = &self.orgs.municipalities[m_index];
        let band = self.age_band(m.prefecture, m_index, id - m.first_person);
        let (age, birth_date) = self.age_and_birth(band, &mut r);
        let male = r.chance(tables::male_share(age));
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
        let intractable = r.chance(tables::INTRACTABLE_SHARE_ADULT);
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
            household: id,
            relation: Relation::Head,
            insurer: None,
            symbol: 0,
            number: id,
            branch: 0,
            coverage_from: None,
            previous: None,
            change: None,
            next: None,
            card_held,
            card_registered,
            conditions,
            pregnant,
            ltc_level,
            public_expense: if age <= tables::CHILD_SUBSIDY_MAX_AGE {
                Some("88")
            } else if intractable {
                Some("54")
            } else {
                None
            },
            home_clinic,
            usual_pharmacy,
        }
    }

    /// The persons `first..end`, who must be one segment: persons of one municipality, inside
    /// one part. Their households and insurance depend on the whole segment, so a segment is
    /// generated whole (and the same whatever else runs).
    pub fn segment(&self, first: u64, end: u64) -> Vec<Person> {
        let mut persons = Vec::new();
        self.segment_into(first, end, &mut persons);
        persons
    }

    /// [`Context::segment`], appended to `out` (the generator's buffer: no copy of its own).
    pub fn segment_into(&self, first: u64, end: u64, out: &mut Vec<Person>) {
        let at = out.len();
        out.extend((first..end).map(|id| self.person(id)));
        let persons = &mut out[at..];
        let who: Vec<Who> = persons
            .iter()
            .map(|p| Who {
                age: p.age,
                male: p.male,
            })
            .collect();
        let places = households::form(&who, &mut Stream::from_key(self.household_key, first));
        for (p, place) in persons.iter_mut().zip(&places) {
            p.household = first + place.head as u64;
            p.relation = place.relation;
        }
        self.insure(persons, &places);
    }

    /// An employee scheme's insurer, by the schemes' memberships (FACTS).
    pub(crate) fn employee_insurer(&self, pref: usize, r: &mut Stream) -> u32 {
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
        match pick {
            0 => self.kyokai[pref],
            1 => self.societies.0[r.pick_cumulative(&self.societies.1)],
            _ => self.mutual_aid.0[r.pick_cumulative(&self.mutual_aid.1)],
        }
    }

    /// Insurance by household, drawn from (seed, head): public assistance for the whole
    /// household or none of it; the late-elderly system for each member 75 and over; the
    /// others under one scheme chosen by the household's eldest member under 75 (its anchor) —
    /// in an employee scheme the anchor is insured and the others are its dependants unless
    /// they work (a spouse, an adult child: insured in their own right), in National Health
    /// Insurance they share the household's number, adult children who work aside.
    fn insure(&self, persons: &mut [Person], places: &[Place]) {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); persons.len()];
        for (i, place) in places.iter().enumerate() {
            members[place.head].push(i);
        }
        for (head, list) in members.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
            let pref = usize::from(persons[head].prefecture) - 1;
            let m_index = persons[head].municipality as usize;
            let mut r = Stream::from_key(self.insurance_key, persons[head].id);
            // The anchor: the head, else the spouse, else the eldest member, under 75.
            let anchor = list
                .iter()
                .copied()
                .filter(|&i| persons[i].age < 75)
                .min_by_key(|&i| (places[i].relation, std::cmp::Reverse(persons[i].age), i));
            let anchor_age = anchor.map_or(persons[head].age, |a| persons[a].age);
            let assisted = if anchor.is_none() {
                r.chance(tables::PUBLIC_ASSISTANCE_75_PLUS)
            } else {
                r.chance(tables::nhi_share(anchor_age) * tables::PUBLIC_ASSISTANCE_IN_NHI)
            };
            if assisted {
                for &i in list {
                    persons[i].insurer = None;
                    persons[i].public_expense = Some("12");
                }
                continue;
            }
            let nhi = r.chance(tables::nhi_share(anchor_age));
            let scheme = if nhi {
                if r.chance(tables::MUNICIPAL_NHI_SHARE) || self.nhi_societies[pref].is_empty() {
                    self.municipal_nhi[m_index]
                } else {
                    let l = &self.nhi_societies[pref];
                    l[r.below(l.len() as u64) as usize]
                }
            } else {
                self.employee_insurer(pref, &mut r)
            };
            let symbol = 1 + r.below(99_999) as u32;
            let anchor_id = anchor.map(|a| persons[a].id);
            let mut branch = 0u8;
            let mut order: Vec<usize> = list.clone();
            order.sort_by_key(|&i| (Some(i) != anchor, places[i].relation, i));
            for i in order {
                let p = &mut persons[i];
                let own = |p: &mut Person, insurer: u32, r: &mut Stream| {
                    p.insurer = Some(insurer);
                    p.symbol = 1 + r.below(99_999) as u32;
                    p.number = p.id;
                    p.branch = 0;
                };
                if p.age >= 75 {
                    own(p, self.late_elderly[pref], &mut r);
                    continue;
                }
                let works = Some(i) != anchor
                    && match places[i].relation {
                        Relation::Spouse => r.chance(tables::spouse_insured_share(p.male, nhi)),
                        Relation::Child => r.chance(tables::adult_child_insured_share(p.age, nhi)),
                        Relation::Head | Relation::Parent => false,
                    };
                if works {
                    let insurer = self.employee_insurer(pref, &mut r);
                    own(p, insurer, &mut r);
                    continue;
                }
                // A parent living with a child's household has a pension of their own and, most
                // often, National Health Insurance under their own number.
                if !nhi
                    && places[i].relation == Relation::Parent
                    && r.chance(tables::nhi_share(p.age))
                {
                    own(p, self.municipal_nhi[m_index], &mut r);
                    continue;
                }
                p.insurer = Some(scheme);
                p.symbol = symbol;
                p.number = anchor_id.unwrap_or(p.id);
                p.branch = branch;
                branch = branch.saturating_add(1);
            }
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
    use crate::coverage::Change;
    use dx_scenario::Scenario;

    /// Every municipality's persons as one segment (small scales: a municipality is within one
    /// part).
    fn everyone(ctx: &Context) -> Vec<Person> {
        ctx.orgs
            .municipalities
            .iter()
            .flat_map(|m| {
                let mut segment = ctx.segment(m.first_person, m.first_person + m.persons);
                ctx.histories(&mut segment);
                segment
            })
            .collect()
    }

    #[test]
    fn a_segment_depends_only_on_seed_and_its_bounds() {
        let orgs = Orgs::generate(&Scenario::national(0.0001));
        let ctx = Context::new(&orgs, 5, NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
        let m = &orgs.municipalities[0];
        let a = ctx.segment(m.first_person, m.first_person + m.persons);
        assert!(a.len() > 20, "{}", a.len());
        let other = &orgs.municipalities[1];
        let _ = ctx.segment(other.first_person, other.first_person + other.persons);
        assert_eq!(ctx.segment(m.first_person, m.first_person + m.persons), a);
        let b = Context::new(&orgs, 6, ctx.as_of).segment(m.first_person, m.first_person + 5);
        assert_ne!(b[..5], a[..5]);
    }

    #[test]
    fn rules_hold_for_every_person_and_household() {
        let orgs = Orgs::generate(&Scenario::national(0.0002));
        let ctx = Context::new(&orgs, 1, NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
        let all = everyone(&ctx);
        assert_eq!(all.len() as u64, orgs.total_persons());
        let by_id: std::collections::HashMap<u64, &Person> =
            all.iter().map(|p| (p.id, p)).collect();
        let mut numbers = std::collections::HashSet::new();
        let mut dependants = 0;
        for (id, p) in (0..).zip(&all) {
            assert_eq!(p.id, id);
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
            // The household: a head of the same municipality; a spouse of the other sex; no
            // child under 15 heads one; public assistance covers a household or none of it.
            let head = by_id[&p.household];
            assert_eq!((head.relation, head.household), (Relation::Head, head.id));
            assert_eq!(head.municipality, p.municipality);
            assert_eq!(p.relation == Relation::Head, p.household == p.id);
            if p.relation == Relation::Spouse {
                assert_ne!(p.male, head.male, "{p:?}");
            }
            let adults_here = all
                .iter()
                .any(|q| q.municipality == p.municipality && q.age >= 15);
            assert!(
                p.age >= 15 || p.relation != Relation::Head || !adults_here,
                "{p:?}"
            );
            assert_eq!(
                p.insurer.is_none(),
                head.insurer.is_none() || p.public_expense == Some("12")
            );
            // Insurance numbers are unique; a dependant (or a member of an NHI household) shares
            // the number of a member of its household whose branch is 00 and whose number is
            // their own id.
            if let Some(i) = p.insurer {
                assert!(numbers.insert((i, p.symbol, p.number, p.branch)), "{p:?}");
                let insured = by_id[&p.number];
                assert_eq!(insured.household, p.household, "{p:?}");
                assert_eq!(
                    (
                        insured.insurer,
                        insured.symbol,
                        insured.number,
                        insured.branch
                    ),
                    (Some(i), p.symbol, insured.id, 0),
                    "{p:?}"
                );
                if p.branch > 0 && kind != Some(InsurerType::MunicipalNhi) {
                    dependants += 1;
                }
                if kind == Some(InsurerType::LateElderly) {
                    assert_eq!((p.number, p.branch), (p.id, 0), "{p:?}");
                }
            }
        }
        assert!(dependants > all.len() / 10, "{dependants} of {}", all.len());

        // Histories: the coverage in force began at the latest on the population date; the one
        // before ended the day before, under a number no one else holds; a dependant's changed
        // with their insured person; the 75th birthday begins the late-elderly coverage, and a
        // person turning 75 within the year has it ahead.
        let birthday = dx_exchange::eligibility::rules::birthday;
        let window = ctx.history_start();
        let mut changes = std::collections::BTreeMap::<&str, usize>::new();
        for p in &all {
            let Some(insurer) = p.insurer else {
                assert!(p.coverage_from.is_none() && p.previous.is_none(), "{p:?}");
                continue;
            };
            let from = p.coverage_from.expect("a coverage's first day");
            assert!(
                from <= ctx.as_of && from >= p.birth_date.min(window),
                "{p:?}"
            );
            let kind = orgs.insurers[insurer as usize].kind;
            if kind == InsurerType::LateElderly {
                assert_eq!(from, birthday(p.birth_date, 75), "{p:?}");
            }
            if let Some(q) = p.previous {
                assert_eq!(q.until + chrono::TimeDelta::days(1), from, "{p:?}");
                assert!(q.until >= window, "{p:?}");
                assert!(
                    numbers.insert((q.insurer, q.symbol, q.number, q.branch)),
                    "{p:?}"
                );
                *changes.entry(p.change.unwrap().as_str()).or_default() += 1;
            }
            let holder = by_id[&p.number];
            if kind != InsurerType::LateElderly && holder.id != p.id {
                let held = holder.coverage_from.unwrap();
                assert_eq!(from, held.max(p.birth_date.max(window)), "{p:?} {holder:?}");
            }
            match p.next {
                Some(n) if n.why == Change::SeventyFifth => {
                    assert_eq!(n.from, birthday(p.birth_date, 75), "{p:?}");
                    assert!(n.from > ctx.as_of && p.age == 74, "{p:?}");
                    assert!(numbers.insert((n.insurer, n.symbol, n.number, 0)), "{p:?}");
                }
                Some(n) => {
                    // A change of employer or a retirement into NHI within the year, the
                    // household's dependants with their insured person, before any 75th birthday.
                    assert!(kind.is_employee(), "{p:?}");
                    let into = orgs.insurers[n.insurer as usize].kind;
                    match n.why {
                        Change::JobChange => assert!(into.is_employee(), "{p:?}"),
                        Change::Retirement => {
                            assert_eq!(into, InsurerType::MunicipalNhi, "{p:?}");
                            assert!((60..65).contains(&holder.age), "{holder:?}");
                        }
                        other => panic!("{other:?} ahead: {p:?}"),
                    }
                    assert!(
                        n.from > ctx.as_of && n.from <= birthday(ctx.as_of, 1),
                        "{p:?}"
                    );
                    assert!(n.from < birthday(p.birth_date, 75), "{p:?}");
                    assert_eq!((n.number, n.branch), (p.number, p.branch), "{p:?}");
                    let h = holder.next.expect("the insured person changes too");
                    assert_eq!((h.insurer, h.symbol, h.from), (n.insurer, n.symbol, n.from));
                    assert!(
                        (n.insurer, n.symbol) != (insurer, p.symbol),
                        "a new number: {p:?}"
                    );
                    *changes
                        .entry(if n.why == Change::JobChange {
                            "job_change_ahead"
                        } else {
                            "retirement_ahead"
                        })
                        .or_default() += 1;
                }
                None => assert!(p.age != 74 || kind == InsurerType::LateElderly, "{p:?}"),
            }
        }
        for why in [
            "75th_birthday",
            "job_change",
            "retirement",
            "move",
            "job_change_ahead",
            "retirement_ahead",
        ] {
            assert!(
                changes.get(why).copied().unwrap_or(0) > 10,
                "{why}: {changes:?}"
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
