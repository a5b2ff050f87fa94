//! Prefectures, municipalities, insurers and facilities: the organisations persons belong to.
//! All are small enough to hold in memory at national scale (1,741 municipalities, ≈3,500
//! insurer numbers, ≈242 k facilities).

use super::tables::{self, InsurerType, PREFECTURES};
use dx_exchange::codes::{FacilityTable, facility_code, insurer_number, municipality_code};
use dx_exchange::wire::FacilityKind;
use dx_model::rng::Stream;
use dx_scenario::Scenario;

#[derive(Debug, Clone, PartialEq)]
pub struct Prefecture {
    pub code: u8,
    pub name: &'static str,
    /// Persons generated (at the scenario's scale).
    pub persons: u64,
    pub municipalities: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    pub code: String,
    pub name: String,
    pub prefecture: u8,
    /// Persons generated; ids `first_person..first_person + persons`.
    pub persons: u64,
    pub first_person: u64,
    /// Codes and names are generated, not the real ones.
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insurer {
    pub number: String,
    pub kind: InsurerType,
    pub name: String,
    pub prefecture: u8,
    /// Relative size, for drawing members of societies and mutual aid associations.
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Facility {
    pub code: String,
    pub kind: FacilityKind,
    pub name: String,
    pub prefecture: u8,
    pub municipality: usize,
    /// Outpatient hours, e.g. `mon-fri 09:00-12:00,15:00-18:00; sat 09:00-12:00`.
    pub hours: &'static str,
    pub online_eligibility: bool,
    pub eprescription: bool,
}

/// Company health insurance societies and mutual aid associations (FACTS counts).
pub const SOCIETIES: usize = 1_374;
pub const MUTUAL_AID: usize = 85;
pub const NHI_SOCIETIES: usize = 159;

/// The organisations of a scenario.
#[derive(Debug, Clone)]
pub struct Orgs {
    pub prefectures: Vec<Prefecture>,
    pub municipalities: Vec<Municipality>,
    pub insurers: Vec<Insurer>,
    pub facilities: Vec<Facility>,
}

/// Splits `total` into parts proportional to `weights` (largest remainder, so parts sum exactly).
pub fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut parts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let short = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for &i in order.iter().take(short as usize) {
        parts[i] += 1;
    }
    parts
}

/// Municipality sizes within a prefecture follow a Zipf law (exponent 1): the first is the
/// prefectural capital; the shape matches the typical share of the largest city (a quarter to a
/// third) outside the big metropolitan prefectures.
fn municipality_weights(n: u16) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / f64::from(k)).collect()
}

/// The prefectures and municipalities of a scenario with their persons (the municipalities
/// numbered from the first prefecture on, as the persons are).
pub fn geography(s: &Scenario) -> (Vec<Prefecture>, Vec<Municipality>) {
    let shares = tables::prefecture_shares();
    let national = (tables::TOTAL_POPULATION * s.population.scale.get()).round() as u64;
    let per_pref = apportion(national, &shares);
    let mut prefectures = Vec::new();
    let mut municipalities = Vec::new();
    let mut next_person = 0u64;
    for (i, &(code, _, count)) in PREFECTURES.iter().enumerate() {
        let name = dx_exchange::codes::prefecture_name_en(code).unwrap_or("?");
        let included =
            s.population.prefectures.is_empty() || s.population.prefecture_codes().contains(&code);
        let persons = if included { per_pref[i] } else { 0 };
        let sizes = apportion(persons, &municipality_weights(count));
        let start = municipalities.len();
        for (k, &n) in sizes.iter().enumerate() {
            municipalities.push(Municipality {
                code: municipality_code(code, 100 + 4 * k as u16),
                name: format!("{name} municipality {:03}", k + 1),
                prefecture: code,
                persons: n,
                first_person: next_person,
                synthetic: true,
            });
            next_person += n;
        }
        prefectures.push(Prefecture {
            code,
            name,
            persons,
            municipalities: start..municipalities.len(),
        });
    }
    (prefectures, municipalities)
}

fn insurers(
    s: &Scenario,
    prefectures: &[Prefecture],
    municipalities: &[Municipality],
) -> Vec<Insurer> {
    let mut out = Vec::new();
    let shares = tables::prefecture_shares();
    for p in prefectures {
        out.push(Insurer {
            number: insurer_number(Some(1), p.code, 1),
            kind: InsurerType::KyokaiKenpo,
            name: format!("Kyokai Kenpo {} branch", p.name),
            prefecture: p.code,
            weight: 1.0,
        });
        out.push(Insurer {
            number: insurer_number(Some(39), p.code, 1),
            kind: InsurerType::LateElderly,
            name: format!("{} late-elderly medical care union", p.name),
            prefecture: p.code,
            weight: 1.0,
        });
    }
    for (k, m) in municipalities.iter().enumerate() {
        let local = (k - prefectures[usize::from(m.prefecture) - 1]
            .municipalities
            .start) as u16
            + 1;
        out.push(Insurer {
            number: insurer_number(None, m.prefecture, local),
            kind: InsurerType::MunicipalNhi,
            name: format!("{} NHI", m.name),
            prefecture: m.prefecture,
            weight: 1.0,
        });
    }
    // Societies and associations are spread over prefectures by population, Tokyo weighted
    // threefold for head offices; sizes are Pareto-distributed (a few very large ones).
    let mut hq_weights = shares;
    hq_weights[12] *= 3.0;
    for (kind, count, scheme, first) in [
        (InsurerType::Society, SOCIETIES, 6u8, 100u16),
        (InsurerType::MutualAid, MUTUAL_AID, 31, 500),
        (InsurerType::NhiSociety, NHI_SOCIETIES, 0, 300),
    ] {
        let per_pref = apportion(count as u64, &hq_weights);
        for (i, &n) in per_pref.iter().enumerate() {
            let pref = (i + 1) as u8;
            for j in 0..n {
                let mut r = Stream::new(s.seed, kind.as_str(), (u64::from(pref) << 16) | j);
                let weight = (1.0 - r.unit()).powf(-1.0 / 1.3);
                // NHI trade societies have 6-digit numbers like municipal NHI (local 300 and up,
                // above any municipality's); the others 8 digits with their scheme.
                let scheme = (kind != InsurerType::NhiSociety).then_some(scheme);
                let number = insurer_number(scheme, pref, first + j as u16);
                out.push(Insurer {
                    number,
                    kind,
                    name: format!("{} {pref:02}-{j:03}", kind.as_str()),
                    prefecture: pref,
                    weight,
                });
            }
        }
    }
    out
}

const HOURS: [(FacilityKind, &[&str]); 5] = [
    (FacilityKind::CareProvider, &["mon-fri 08:30-17:30"]),
    (
        FacilityKind::Hospital,
        &[
            "mon-fri 08:30-11:30; sat 08:30-11:00",
            "mon-fri 08:30-11:00,13:30-15:00",
        ],
    ),
    (
        FacilityKind::Clinic,
        &[
            "mon-fri 09:00-12:00,15:00-18:00; sat 09:00-12:00",
            "mon-wed,fri 09:00-12:30,14:30-18:30; thu,sat 09:00-12:30",
            "mon-sat 09:00-13:00",
        ],
    ),
    (
        FacilityKind::Dental,
        &[
            "mon-fri 09:30-13:00,14:30-19:00; sat 09:30-13:00",
            "mon-sat 10:00-13:00,14:00-20:00",
        ],
    ),
    (
        FacilityKind::Pharmacy,
        &[
            "mon-fri 09:00-19:00; sat 09:00-13:00",
            "mon-sat 09:00-18:00",
            "mon-sun 09:00-21:00",
        ],
    ),
];

fn facilities(
    s: &Scenario,
    prefectures: &[Prefecture],
    municipalities: &[Municipality],
) -> Vec<Facility> {
    let shares = tables::prefecture_shares();
    let adoption = &s.adoption;
    let mut out = Vec::new();
    for p in prefectures.iter().filter(|p| p.persons > 0) {
        let share = shares[usize::from(p.code) - 1];
        let cumulative: Vec<f64> = municipalities[p.municipalities.clone()]
            .iter()
            .scan(0.0, |acc, m| {
                *acc += m.persons as f64 + 1e-9;
                Some(*acc)
            })
            .collect();
        let mut seq = [0u32; 4];
        for (kind, national) in tables::FACILITY_COUNTS {
            // At least one of each kind in a generated prefecture, so every person has a clinic.
            let share = match kind {
                FacilityKind::Hospital => tables::facility_share(kind, p.code),
                _ => share,
            };
            let n = ((national * s.population.scale.get() * share).round() as u64).max(1);
            let (table, slot, connected, erx) = match kind {
                FacilityKind::Hospital => (
                    FacilityTable::Medical,
                    0,
                    adoption.online_eligibility.hospital,
                    adoption.eprescription.hospital,
                ),
                FacilityKind::Clinic => (
                    FacilityTable::Medical,
                    0,
                    adoption.online_eligibility.clinic,
                    adoption.eprescription.clinic,
                ),
                FacilityKind::Dental => (
                    FacilityTable::Dental,
                    1,
                    adoption.online_eligibility.dental,
                    adoption.eprescription.dental,
                ),
                FacilityKind::Pharmacy => (
                    FacilityTable::Pharmacy,
                    2,
                    adoption.online_eligibility.pharmacy,
                    adoption.eprescription.pharmacy,
                ),
                // Care providers are not connected to online eligibility.
                FacilityKind::CareProvider => (
                    FacilityTable::Care,
                    3,
                    dx_scenario::values::share(0.0),
                    dx_scenario::values::share(0.0),
                ),
            };
            let profiles = HOURS
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, h)| *h)
                .expect("hours for every kind");
            for i in 0..n {
                let mut r = Stream::new(
                    s.seed,
                    "facility",
                    (u64::from(p.code) << 40) | ((slot as u64) << 36) | ((kind as u64) << 32) | i,
                );
                let number = seq[slot];
                seq[slot] += 1;
                let online_eligibility = r.chance(connected.get());
                out.push(Facility {
                    code: facility_code(
                        p.code,
                        table,
                        (1 + number / 10_000) as u8,
                        (number % 10_000) as u16,
                    ),
                    kind,
                    name: format!("{} {} {:05}", p.name, kind.as_str(), i + 1),
                    prefecture: p.code,
                    municipality: p.municipalities.start + r.pick_cumulative(&cumulative),
                    hours: profiles[r.below(profiles.len() as u64) as usize],
                    online_eligibility,
                    eprescription: online_eligibility && r.chance(erx.get()),
                });
            }
        }
    }
    out
}

impl Orgs {
    pub fn generate(s: &Scenario) -> Self {
        let (prefectures, municipalities) = geography(s);
        let insurers = insurers(s, &prefectures, &municipalities);
        let facilities = facilities(s, &prefectures, &municipalities);
        Self {
            prefectures,
            municipalities,
            insurers,
            facilities,
        }
    }

    pub fn total_persons(&self) -> u64 {
        self.prefectures.iter().map(|p| p.persons).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_exchange::codes::{
        validate_facility_code, validate_insurer_number, validate_municipality_code,
    };

    #[test]
    fn apportion_sums_exactly() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(0, &[1.0, 2.0]), vec![0, 0]);
        let parts = apportion(123_800_000, &tables::prefecture_shares());
        assert_eq!(parts.iter().sum::<u64>(), 123_800_000);
    }

    #[test]
    fn organisations_have_valid_unique_codes() {
        let orgs = Orgs::generate(&Scenario::national(0.001));
        assert_eq!(orgs.municipalities.len(), 1_741);
        let mut codes: Vec<&str> = orgs
            .municipalities
            .iter()
            .map(|m| m.code.as_str())
            .collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 1_741);
        assert!(
            orgs.municipalities
                .iter()
                .all(|m| validate_municipality_code(&m.code).is_ok())
        );
        let mut numbers: Vec<&str> = orgs.insurers.iter().map(|i| i.number.as_str()).collect();
        assert!(numbers.iter().all(|n| validate_insurer_number(n).is_ok()));
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), orgs.insurers.len());
        let count = |k: InsurerType| orgs.insurers.iter().filter(|i| i.kind == k).count();
        assert_eq!(
            (
                count(InsurerType::Society),
                count(InsurerType::MutualAid),
                count(InsurerType::NhiSociety)
            ),
            (1_374, 85, 159)
        );
        assert_eq!(
            (
                count(InsurerType::LateElderly),
                count(InsurerType::MunicipalNhi)
            ),
            (47, 1_741)
        );
        let mut fac: Vec<&str> = orgs.facilities.iter().map(|f| f.code.as_str()).collect();
        assert!(fac.iter().all(|c| validate_facility_code(c).is_ok()));
        fac.sort();
        fac.dedup();
        assert_eq!(fac.len(), orgs.facilities.len());
    }

    #[test]
    fn a_prefecture_filter_generates_only_that_prefecture() {
        let mut s = Scenario::national(0.01);
        s.population.prefectures = vec![dx_scenario::values::Prefecture::new(31).unwrap()];
        let orgs = Orgs::generate(&s);
        assert_eq!(orgs.total_persons(), orgs.prefectures[30].persons);
        assert!(
            (5_000..6_000).contains(&orgs.total_persons()),
            "{}",
            orgs.total_persons()
        );
        assert!(orgs.facilities.iter().all(|f| f.prefecture == 31));
    }

    /// Hospitals where the published survey counts them: Kochi's per person several times
    /// Kanagawa's, every prefecture within rounding of its share of the nation's 8,060.
    #[test]
    fn hospitals_follow_each_prefecture_s_published_count() {
        let s = Scenario::national(0.1);
        let orgs = Orgs::generate(&s);
        let hospitals = |code: u8| {
            orgs.facilities
                .iter()
                .filter(|f| f.prefecture == code && f.kind == FacilityKind::Hospital)
                .count() as f64
        };
        let all: f64 = tables::HOSPITALS_2022.iter().map(|&n| f64::from(n)).sum();
        for code in 1..=47u8 {
            let want =
                8_060.0 * 0.1 * f64::from(tables::HOSPITALS_2022[usize::from(code) - 1]) / all;
            assert!(
                (hospitals(code) - want).abs() <= 0.5 + 1e-9,
                "{code}: {} {want}",
                hospitals(code)
            );
        }
        let per_person =
            |code: u8| hospitals(code) / orgs.prefectures[usize::from(code) - 1].persons as f64;
        assert!(
            per_person(39) > 3.0 * per_person(14),
            "Kochi against Kanagawa"
        );
    }
}
