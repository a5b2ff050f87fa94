//! Calibration: the generator's expected shares (integrated over its tables), the published
//! figures they aim at (FACTS), and the comparison of a generated population with both.

use super::marginals::Marginals;
use super::tables::{self, InsurerType};
use serde::Serialize;

/// Share of the population at each single year of age 0–104 (bands spread evenly).
pub fn age_distribution() -> Vec<f64> {
    spread(&tables::AGE_BANDS.map(|b| b.1))
}

/// The same within one prefecture, whose ages follow its own published shares.
pub fn age_distribution_in(prefecture: u8) -> Vec<f64> {
    spread(&tables::age_bands_in(prefecture))
}

/// The age distribution of persons spread over prefectures: (prefecture code, persons).
pub fn age_distribution_of(persons: impl IntoIterator<Item = (u8, f64)>) -> Vec<f64> {
    // Persons summed by prefecture first: each prefecture's distribution is made once.
    let mut by_prefecture = [0.0; 47];
    for (prefecture, n) in persons {
        by_prefecture[usize::from(prefecture) - 1] += n;
    }
    let mut out = vec![0.0; tables::AGE_BANDS.len() * 5];
    let mut total = 0.0;
    for (i, &n) in by_prefecture.iter().enumerate().filter(|(_, n)| **n > 0.0) {
        for (o, p) in out.iter_mut().zip(age_distribution_in(i as u8 + 1)) {
            *o += n * p;
        }
        total += n;
    }
    if total > 0.0 {
        out.iter_mut().for_each(|o| *o /= total);
    }
    out
}

fn spread(bands: &[f64; 21]) -> Vec<f64> {
    let total: f64 = bands.iter().sum();
    bands
        .iter()
        .flat_map(|&n| std::iter::repeat_n(n / total / 5.0, 5))
        .collect()
}

/// Expected shares of the whole population under the generator's tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub male: f64,
    pub age_0_14: f64,
    pub age_15_64: f64,
    pub age_65_plus: f64,
    pub age_75_plus: f64,
    pub insurer: Vec<(InsurerType, f64)>,
    pub card_held: f64,
    pub card_registered: f64,
    pub ltc_certified: f64,
    pub public_assistance: f64,
}

pub fn expected() -> Expected {
    let ages = age_distribution();
    let sum = |f: &dyn Fn(u32) -> f64| {
        ages.iter()
            .enumerate()
            .map(|(a, p)| p * f(a as u32))
            .sum::<f64>()
    };
    let range = |lo: u32, hi: u32| sum(&|a| f64::from(u8::from((lo..=hi).contains(&a))));
    let under75 = |f: &dyn Fn(u32) -> f64| sum(&|a| if a < 75 { f(a) } else { 0.0 });
    let nhi = under75(&tables::nhi_share) * (1.0 - tables::PUBLIC_ASSISTANCE_IN_NHI);
    let employee = under75(&|a| 1.0 - tables::nhi_share(a));
    let emp_total = InsurerType::KyokaiKenpo.members()
        + InsurerType::Society.members()
        + InsurerType::MutualAid.members();
    let emp = |k: InsurerType| employee * k.members() / emp_total;
    let p75 = range(75, 200);
    let card_held = sum(&tables::card_share);
    Expected {
        male: sum(&tables::male_share),
        age_0_14: range(0, 14),
        age_15_64: range(15, 64),
        age_65_plus: range(65, 200),
        age_75_plus: p75,
        insurer: vec![
            (InsurerType::KyokaiKenpo, emp(InsurerType::KyokaiKenpo)),
            (InsurerType::Society, emp(InsurerType::Society)),
            (InsurerType::MutualAid, emp(InsurerType::MutualAid)),
            (InsurerType::MunicipalNhi, nhi * tables::MUNICIPAL_NHI_SHARE),
            (
                InsurerType::NhiSociety,
                nhi * (1.0 - tables::MUNICIPAL_NHI_SHARE),
            ),
            (
                InsurerType::LateElderly,
                p75 * (1.0 - tables::PUBLIC_ASSISTANCE_75_PLUS),
            ),
        ],
        card_held,
        card_registered: card_held * tables::CARD_REGISTERED_SHARE,
        ltc_certified: sum(&tables::ltc_rate),
        public_assistance: p75 * tables::PUBLIC_ASSISTANCE_75_PLUS
            + under75(&tables::nhi_share) * tables::PUBLIC_ASSISTANCE_IN_NHI,
    }
}

/// One published figure and how close the generated population comes to it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub measure: String,
    pub generated: f64,
    /// The published figure scaled to the run (persons), or a share.
    pub published: f64,
    /// |generated − published| / published.
    pub relative_error: f64,
    pub tolerance: f64,
    pub within: bool,
}

/// Generated vs published, for `summary.json` and the CLI's table.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub scale: f64,
    /// Published national figures apply only to a run of all 47 prefectures.
    pub national: bool,
    pub marginals: Marginals,
    pub rows: Vec<Row>,
    /// Every generated prefecture's shares aged 65+ and 75+ against its published ones.
    pub prefectures: Vec<PrefectureAges>,
}

/// One prefecture's ages: generated, published, and the published carried to the population's
/// date (1 Oct 2024) by the nation's change ([`tables::prefecture_age_shares`]), which the
/// generator aims at. Shares in percent.
#[derive(Debug, Clone, Serialize)]
pub struct PrefectureAges {
    pub prefecture: u8,
    pub persons: u64,
    pub aged_65_plus: f64,
    pub aged_75_plus: f64,
    /// 1 Oct 2022 ([`tables::AGED_65_2022`]).
    pub published_65_plus: f64,
    /// 1 Oct 2023 where we hold it ([`tables::AGED_75_2023`]).
    pub published_75_plus: Option<f64>,
    pub aimed_65_plus: f64,
    pub aimed_75_plus: f64,
    /// Both generated shares within one point of the aimed ones, widened by four binomial
    /// standard deviations for small runs.
    pub within: bool,
}

impl PrefectureAges {
    pub fn new(prefecture: u8, persons: u64, aged: [u64; 2]) -> Self {
        let i = usize::from(prefecture) - 1;
        let (aim65, aim75) = tables::prefecture_age_shares()[i];
        let n = persons.max(1) as f64;
        let share = |k: u64| k as f64 / n;
        let close =
            |got: f64, aim: f64| (got - aim).abs() <= 0.01 + 4.0 * (aim * (1.0 - aim) / n).sqrt();
        Self {
            prefecture,
            persons,
            aged_65_plus: 100.0 * share(aged[0]),
            aged_75_plus: 100.0 * share(aged[1]),
            published_65_plus: tables::AGED_65_2022[i],
            published_75_plus: tables::AGED_75_2023.get(i).copied(),
            aimed_65_plus: 100.0 * aim65,
            aimed_75_plus: 100.0 * aim75,
            within: close(share(aged[0]), aim65) && close(share(aged[1]), aim75),
        }
    }
}

/// Published figures (FACTS) with the relative tolerance the generator is held to.
pub fn published() -> Vec<(&'static str, f64, f64)> {
    let mut v = vec![
        ("persons", tables::TOTAL_POPULATION, 0.001),
        ("men", 0.487 * tables::TOTAL_POPULATION, 0.01),
        ("age 0-14", 0.112 * tables::TOTAL_POPULATION, 0.02),
        ("age 15-64", 0.596 * tables::TOTAL_POPULATION, 0.01),
        ("age 65+", 0.293 * tables::TOTAL_POPULATION, 0.01),
        ("age 75+", 0.168 * tables::TOTAL_POPULATION, 0.02),
        ("Tokyo", 14.18e6, 0.01),
    ];
    for k in InsurerType::ALL {
        v.push((k.as_str(), k.members(), 0.05));
    }
    v.extend([
        ("card holders", 99.5e6, 0.03),
        ("card registered as insurance card", 87.3e6, 0.03),
        ("long-term-care certified", 7.08e6, 0.05),
        // Labour Force Survey 2023: changes of employer, which end an insured employee's
        // coverage (`history.rs`).
        (
            "job changers (insured employees)",
            tables::JOB_CHANGERS_PER_YEAR,
            0.10,
        ),
        // The same rate for the year ahead, whose changes the insurers report in the workload.
        (
            "job changers in the year ahead",
            tables::JOB_CHANGERS_PER_YEAR,
            0.10,
        ),
    ]);
    // 2020 Census (`tables.rs`): persons per household, and the kinds of household.
    let households = tables::TOTAL_POPULATION / tables::PERSONS_PER_HOUSEHOLD;
    v.push(("households", households, 0.05));
    for (kind, share, tolerance) in [
        (
            "one-person households",
            tables::ONE_PERSON_HOUSEHOLD_SHARE,
            0.08,
        ),
        (
            "couple households",
            tables::COUPLE_ONLY_HOUSEHOLD_SHARE,
            0.10,
        ),
        (
            "couple-and-children households",
            tables::COUPLE_AND_CHILDREN_HOUSEHOLD_SHARE,
            0.10,
        ),
        (
            "one-parent households",
            tables::ONE_PARENT_HOUSEHOLD_SHARE,
            0.15,
        ),
    ] {
        v.push((kind, share * households, tolerance));
    }
    v
}

impl Comparison {
    pub fn new(m: &Marginals, scale: f64, prefectures: &[u8]) -> Self {
        let national = prefectures.is_empty() || prefectures.len() == 47;
        let generated = |name: &str| -> f64 {
            let ins =
                |k: InsurerType| m.by_insurer_type.get(k.as_str()).copied().unwrap_or(0) as f64;
            let kind = |k: &str| m.household_kinds.get(k).copied().unwrap_or(0) as f64;
            match name {
                "persons" => m.persons as f64,
                "men" => m.male as f64,
                "age 0-14" => m.age_0_14 as f64,
                "age 15-64" => m.age_15_64 as f64,
                "age 65+" => m.age_65_plus as f64,
                "age 75+" => m.age_75_plus as f64,
                "Tokyo" => m.by_prefecture.get(&13).copied().unwrap_or(0) as f64,
                "card holders" => m.card_held as f64,
                "card registered as insurance card" => m.card_registered as f64,
                "long-term-care certified" => m.ltc_certified as f64,
                "job changers (insured employees)" => m.job_changers as f64,
                "job changers in the year ahead" => m.job_changers_ahead as f64,
                "households" => m.households as f64,
                "one-person households" => kind("one_person"),
                "couple households" => kind("couple"),
                "couple-and-children households" => kind("couple_and_children"),
                "one-parent households" => kind("one_parent"),
                other => InsurerType::ALL
                    .iter()
                    .find(|k| k.as_str() == other)
                    .map_or(0.0, |&k| ins(k)),
            }
        };
        let rows = if national {
            published()
                .into_iter()
                .map(|(measure, figure, tolerance)| {
                    let published = figure * scale;
                    let g = generated(measure);
                    // Small runs add sampling noise: allow four binomial standard deviations.
                    let noise = 4.0 * (published.max(1.0)).sqrt() / published.max(1.0);
                    let tolerance = tolerance + noise;
                    let relative_error = (g - published).abs() / published.max(1.0);
                    Row {
                        measure: measure.into(),
                        generated: g,
                        published,
                        relative_error,
                        tolerance,
                        within: relative_error <= tolerance,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let prefectures = m
            .by_prefecture
            .iter()
            .map(|(&p, &n)| {
                PrefectureAges::new(
                    p,
                    n,
                    m.aged_by_prefecture.get(&p).copied().unwrap_or([0; 2]),
                )
            })
            .collect();
        Self {
            scale,
            national,
            marginals: m.clone(),
            rows,
            prefectures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator's expected values at scale 1.0 against FACTS.
    #[test]
    fn expected_values_match_the_published_figures() {
        let e = expected();
        let n = tables::TOTAL_POPULATION;
        let check = |what: &str, got: f64, want: f64, tol: f64| {
            assert!(
                (got - want).abs() / want <= tol,
                "{what}: expected {got:.0}, published {want:.0} (±{:.1}%)",
                tol * 100.0
            );
        };
        check("men", e.male * n, 0.487 * n, 0.005);
        check("0-14", e.age_0_14 * n, 0.112 * n, 0.01);
        check("15-64", e.age_15_64 * n, 0.596 * n, 0.005);
        check("65+", e.age_65_plus * n, 0.293 * n, 0.005);
        check("75+", e.age_75_plus * n, 0.168 * n, 0.01);
        for (k, share) in &e.insurer {
            check(k.as_str(), share * n, k.members(), 0.03);
        }
        check("card holders", e.card_held * n, 99.5e6, 0.01);
        check("registered", e.card_registered * n, 87.3e6, 0.01);
        check("LTC", e.ltc_certified * n, 7.08e6, 0.02);
        check("public assistance", e.public_assistance * n, 2.0e6, 0.05);
        let shares = tables::prefecture_shares();
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        check("Tokyo", shares[12] * n, 14.18e6, 0.001);
        let munis: u32 = tables::PREFECTURES.iter().map(|p| u32::from(p.2)).sum();
        assert_eq!(munis, 1_741);
    }

    /// Births and deaths a year under the rates a rollout ages the population by (FACTS: 0.72 M
    /// and 1.61 M).
    #[test]
    fn birth_and_death_rates_give_the_published_totals() {
        let ages = age_distribution();
        let n = tables::TOTAL_POPULATION;
        let women = |a: u32| 1.0 - tables::male_share(a);
        let births: f64 = (0..ages.len() as u32)
            .map(|a| ages[a as usize] * women(a) * tables::birth_rate(a))
            .sum::<f64>()
            * n;
        let deaths: f64 = (0..ages.len() as u32)
            .map(|a| ages[a as usize] * tables::death_rate(a))
            .sum::<f64>()
            * n;
        assert!((births / 0.72e6 - 1.0).abs() < 0.01, "{births}");
        assert!((deaths / 1.61e6 - 1.0).abs() < 0.01, "{deaths}");
    }

    /// The prefectures' aimed age shares: the published ones carried by under a point, together
    /// the nation's, and the mixture of their age distributions the national one.
    #[test]
    fn prefectures_aim_at_their_published_ages_and_together_at_the_nation() {
        let aims = tables::prefecture_age_shares();
        let weights = tables::prefecture_shares();
        let (n65, n75) = tables::national_aged_shares();
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| -> f64 {
            weights.iter().zip(&aims).map(|(w, a)| w * f(a)).sum()
        };
        assert!((mean(&|a| a.0) - n65).abs() < 1e-12);
        assert!((mean(&|a| a.1) - n75).abs() < 1e-12);
        for (i, &(a65, a75)) in aims.iter().enumerate() {
            assert!((100.0 * a65 - tables::AGED_65_2022[i]).abs() < 0.5, "{i}");
            if let Some(p) = tables::AGED_75_2023.get(i) {
                assert!((100.0 * a75 - p).abs() < 1.0, "{i}");
            }
            assert!(0.5 < a75 / a65 && a75 / a65 < 0.62, "{i}");
            let ages = age_distribution_in(i as u8 + 1);
            assert!((ages.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!((ages[65..].iter().sum::<f64>() - a65).abs() < 1e-12);
            assert!((ages[75..].iter().sum::<f64>() - a75).abs() < 1e-12);
        }
        let mixed = age_distribution_of(weights.iter().enumerate().map(|(i, w)| (i as u8 + 1, *w)));
        for (m, n) in mixed.iter().zip(age_distribution()) {
            assert!((m - n).abs() < 1e-12);
        }
    }
}
