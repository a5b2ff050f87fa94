//! The published figures the population is calibrated to, with their sources. Targets from
//! `shared/domain/FACTS.md` are marked FACTS; the rest extend it from public statistics.

/// (code, population at the 2020 census in thousands, municipalities incl. Tokyo's wards); the
/// names are `codes::PREFECTURE_NAMES_EN` (and `PREFECTURE_NAMES`) by code.
/// Populations: Statistics Bureau, 2020 Population Census. Municipality counts: Ministry of
/// Internal Affairs (1,718 municipalities + 23 special wards = 1,741, FACTS). Shares are taken from
/// the census and rescaled to the 2024 total; Tokyo is set to its 2024 share (FACTS: 14.18 M).
#[rustfmt::skip]
pub const PREFECTURES: [(u8, u32, u16); 47] = [
    (1, 5225, 179), (2, 1238, 40), (3, 1211, 33), (4, 2302, 35),
    (5, 960, 25), (6, 1068, 35), (7, 1833, 59), (8, 2867, 44),
    (9, 1933, 25), (10, 1939, 35), (11, 7345, 63), (12, 6284, 54),
    (13, 14048, 62), (14, 9237, 33), (15, 2201, 30), (16, 1035, 15),
    (17, 1133, 19), (18, 767, 17), (19, 810, 27), (20, 2048, 77),
    (21, 1979, 42), (22, 3633, 35), (23, 7542, 54), (24, 1770, 29),
    (25, 1414, 19), (26, 2578, 26), (27, 8838, 43), (28, 5465, 41),
    (29, 1324, 39), (30, 923, 30), (31, 553, 19), (32, 671, 19),
    (33, 1888, 27), (34, 2800, 23), (35, 1342, 19), (36, 720, 24),
    (37, 950, 17), (38, 1335, 20), (39, 692, 34), (40, 5135, 60),
    (41, 811, 20), (42, 1312, 21), (43, 1738, 45), (44, 1124, 18),
    (45, 1070, 26), (46, 1588, 43), (47, 1467, 41),
];

/// Total population, 1 Oct 2024 (FACTS).
pub const TOTAL_POPULATION: f64 = 123_800_000.0;
/// Tokyo's share in 2024 (FACTS: 14.18 M of 123.80 M).
pub const TOKYO_SHARE: f64 = 14.18 / 123.80;

/// Prefecture population shares summing to 1: census shares, Tokyo set to 2024.
pub fn prefecture_shares() -> [f64; 47] {
    let others: f64 = PREFECTURES
        .iter()
        .filter(|p| p.0 != 13)
        .map(|p| f64::from(p.1))
        .sum();
    let mut out = [0.0; 47];
    for (i, p) in PREFECTURES.iter().enumerate() {
        out[i] = if p.0 == 13 {
            TOKYO_SHARE
        } else {
            f64::from(p.1) / others * (1.0 - TOKYO_SHARE)
        };
    }
    out
}

/// Five-year age bands (lower bound, thousands of persons), 1 Oct 2024 estimates, adjusted so the
/// 0–14 / 15–64 / 65+ / 75+ shares are FACTS' 11.2 / 59.6 / 29.3 / 16.8 %. The last band is 100–104.
#[rustfmt::skip]
pub const AGE_BANDS: [(u8, f64); 21] = [
    (0, 4_100.0), (5, 4_700.0), (10, 5_100.0), (15, 5_400.0), (20, 6_100.0), (25, 6_300.0), (30, 6_400.0),
    (35, 7_100.0), (40, 7_900.0), (45, 9_600.0), (50, 9_400.0), (55, 8_100.0), (60, 7_500.0), (65, 7_000.0),
    (70, 8_500.0), (75, 8_050.0), (80, 6_200.0), (85, 4_000.0), (90, 1_950.0), (95, 500.0), (100, 100.0),
];

/// Share aged 65 and over by prefecture (index code − 1), %, 1 Oct 2022: Statistics Bureau,
/// Population Estimates (人口推計) 2022, as tabled by the Cabinet Office, Annual Report on the
/// Ageing Society 2023 (令和5年版高齢社会白書), table 1-1-10 (Akita 38.6 to Tokyo 22.8).
#[rustfmt::skip]
pub const AGED_65_2022: [f64; 47] = [
    32.8, 34.8, 34.6, 28.9, 38.6, 34.8, 32.7, 30.4, 29.9, 30.8, 27.4, 28.0, 22.8, 25.8, 33.5, 33.0,
    30.3, 31.2, 31.5, 32.5, 31.0, 30.7, 25.6, 30.5, 26.8, 29.6, 27.7, 29.8, 32.4, 34.0, 33.1, 34.7,
    30.8, 29.9, 35.2, 35.0, 32.4, 33.9, 36.1, 28.3, 31.4, 33.9, 32.1, 33.9, 33.4, 33.5, 23.5,
];

/// Share aged 75 and over, %, 1 Oct 2023, for the prefectures we hold it for (codes 1–21,
/// Hokkaido to Gifu): Statistics Bureau, Population Estimates 2023, as tabled by the Cabinet
/// Office, Annual Report on the Ageing Society 2024, table 1-1-10. The other 26 rows of that
/// table are not in the reference material this project can reach; their 75+ share follows
/// their 65+ share at the nation's ratio (see [`prefecture_age_shares`]).
#[rustfmt::skip]
pub const AGED_75_2023: [f64; 21] = [
    18.0, 18.7, 19.0, 15.2, 21.2, 18.9, 17.2, 16.3, 15.6, 16.9, 15.2, 15.7, 12.9, 14.7, 18.4,
    19.0, 17.1, 17.3, 17.4, 18.7, 17.4,
];

/// The national shares aged 65+ and 75+ under [`AGE_BANDS`] (1 Oct 2024).
pub fn national_aged_shares() -> (f64, f64) {
    let total: f64 = AGE_BANDS.iter().map(|b| b.1).sum();
    let from = |age: u8| {
        AGE_BANDS
            .iter()
            .filter(|b| b.0 >= age)
            .map(|b| b.1)
            .sum::<f64>()
            / total
    };
    (from(65), from(75))
}

/// Each prefecture's shares aged 65+ and 75+ on 1 Oct 2024 (fractions, index code − 1): the
/// published figures carried to 2024 by the nation's own change, so that the prefectures together
/// keep the national shares of [`AGE_BANDS`]. 65+: [`AGED_65_2022`] plus one national shift
/// (+0.27 points). 75+: [`AGED_75_2023`] plus one national shift (+0.67 points, the nation's
/// 16.1 % → 16.8 %) where published, and elsewhere the 65+ share times the nation's 75+/65+ ratio
/// (0.573; the published prefectures' ratios run from 0.52 to 0.58).
pub fn prefecture_age_shares() -> [(f64, f64); 47] {
    let weights = prefecture_shares();
    let (n65, n75) = national_aged_shares();
    let mean65: f64 = weights
        .iter()
        .zip(AGED_65_2022)
        .map(|(w, p)| w * p / 100.0)
        .sum();
    let mut out = [(0.0, 0.0); 47];
    for (i, o) in out.iter_mut().enumerate() {
        o.0 = AGED_65_2022[i] / 100.0 + n65 - mean65;
        o.1 = o.0 * n75 / n65;
    }
    let known: f64 = weights[..AGED_75_2023.len()].iter().sum();
    let generated: f64 = weights
        .iter()
        .zip(&out)
        .enumerate()
        .map(|(i, (w, o))| w * AGED_75_2023.get(i).map_or(o.1, |p| p / 100.0))
        .sum();
    let shift = (n75 - generated) / known;
    for (o, p) in out.iter_mut().zip(AGED_75_2023) {
        o.1 = p / 100.0 + shift;
    }
    out
}

/// The weights of [`AGE_BANDS`] in a prefecture: under 65, 65–74 and 75+ each rescaled to the
/// prefecture's shares ([`prefecture_age_shares`]), the national shape kept within each.
pub fn age_bands_in(prefecture: u8) -> [f64; 21] {
    let (p65, p75) = prefecture_age_shares()[usize::from(prefecture) - 1];
    let (n65, n75) = national_aged_shares();
    let mut out = [0.0; 21];
    for (o, &(lower, n)) in out.iter_mut().zip(&AGE_BANDS) {
        *o = n * match lower {
            0..65 => (1.0 - p65) / (1.0 - n65),
            65..75 => (p65 - p75) / (n65 - n75),
            _ => p75 / n75,
        };
    }
    out
}

/// Share of men by age: slightly above half under 65, falling with age (2024 estimates), so that
/// 48.7 % of all are men (FACTS).
pub fn male_share(age: u32) -> f64 {
    match age {
        0..=64 => 0.511,
        65..=74 => 0.480,
        _ => 0.390,
    }
}

/// Insurer types (FACTS: counts and members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InsurerType {
    /// 協会けんぽ, scheme 01: 1 insurer (47 prefectural branches), 39.4 M members.
    KyokaiKenpo,
    /// 健保組合, scheme 06: 1,374 societies, 28.2 M.
    Society,
    /// 共済組合, schemes 31–34: 85 associations, 9.8 M.
    MutualAid,
    /// 市町村国保: one per municipality (FACTS counts 1,738 insurers; we run one per municipality,
    /// 1,741, a difference of three joint associations), 23.1 M.
    MunicipalNhi,
    /// 国保組合: 159 trade societies, 2.7 M.
    NhiSociety,
    /// 後期高齢者広域連合, scheme 39: one per prefecture, everyone 75+, 19.9 M.
    LateElderly,
}

impl InsurerType {
    /// The employee schemes (被用者保険), whose members change with their employer.
    pub fn is_employee(self) -> bool {
        matches!(
            self,
            InsurerType::KyokaiKenpo | InsurerType::Society | InsurerType::MutualAid
        )
    }

    pub const ALL: [InsurerType; 6] = [
        InsurerType::KyokaiKenpo,
        InsurerType::Society,
        InsurerType::MutualAid,
        InsurerType::MunicipalNhi,
        InsurerType::NhiSociety,
        InsurerType::LateElderly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InsurerType::KyokaiKenpo => "kyokai_kenpo",
            InsurerType::Society => "society",
            InsurerType::MutualAid => "mutual_aid",
            InsurerType::MunicipalNhi => "municipal_nhi",
            InsurerType::NhiSociety => "nhi_society",
            InsurerType::LateElderly => "late_elderly",
        }
    }

    /// Published members (FACTS).
    pub fn members(self) -> f64 {
        match self {
            InsurerType::KyokaiKenpo => 39.4e6,
            InsurerType::Society => 28.2e6,
            InsurerType::MutualAid => 9.8e6,
            InsurerType::MunicipalNhi => 23.1e6,
            InsurerType::NhiSociety => 2.7e6,
            InsurerType::LateElderly => 19.9e6,
        }
    }
}

/// Probability that a person under 75 is in National Health Insurance (municipal or trade), by
/// age: the self-employed, the unemployed and most retirees 65–74. The published memberships
/// (FY2023: NHI 25.8 M, employee schemes 77.4 M) add up to about 1.3 M more than the 2024
/// population under 75 holds; these shares split the difference, leaving every type within 3 %.
pub fn nhi_share(age: u32) -> f64 {
    match age {
        0..=19 => 0.150,
        20..=59 => 0.165,
        60..=64 => 0.300,
        _ => 0.715,
    }
}

/// Share holding a My Number card, by age: 79.9 % of all (99.5 M, FACTS), lower among infants and
/// the oldest (Digital Agency uptake by age, 2025).
pub fn card_share(age: u32) -> f64 {
    match age {
        0..=4 => 0.58,
        5..=14 => 0.76,
        15..=69 => 0.835,
        70..=84 => 0.80,
        _ => 0.62,
    }
}

/// Share of card holders who registered it as their insurance card: 87.8 % (FACTS).
pub const CARD_REGISTERED_SHARE: f64 = 0.878;

/// Chronic conditions, as bits of the `conditions` column.
pub const HYPERTENSION: u16 = 1;
pub const DIABETES: u16 = 1 << 1;
pub const DYSLIPIDAEMIA: u16 = 1 << 2;
pub const ASTHMA_COPD: u16 = 1 << 3;
pub const CKD: u16 = 1 << 4;
pub const DEMENTIA: u16 = 1 << 5;

/// Prevalence of treated chronic conditions by age band (lower bound of the band): MHLW Patient
/// Survey 2020 and National Health and Nutrition Survey 2019 rates, rounded; dementia from the
/// 2024 MHLW prevalence estimates.
#[rustfmt::skip]
pub const CONDITION_PREVALENCE: [(u16, [(u32, f64); 6]); 6] = [
    (HYPERTENSION,  [(0, 0.0), (30, 0.03), (40, 0.10), (50, 0.24), (60, 0.38), (70, 0.52)]),
    (DIABETES,      [(0, 0.002), (30, 0.01), (40, 0.04), (50, 0.09), (60, 0.14), (70, 0.17)]),
    (DYSLIPIDAEMIA, [(0, 0.0), (30, 0.02), (40, 0.07), (50, 0.16), (60, 0.24), (70, 0.27)]),
    (ASTHMA_COPD,   [(0, 0.06), (15, 0.035), (40, 0.04), (50, 0.045), (60, 0.06), (70, 0.08)]),
    (CKD,           [(0, 0.0), (30, 0.003), (40, 0.007), (50, 0.015), (60, 0.04), (70, 0.09)]),
    (DEMENTIA,      [(0, 0.0), (60, 0.003), (65, 0.015), (75, 0.10), (80, 0.22), (85, 0.45)]),
];

/// The prevalence of `bit` at `age`.
pub fn prevalence(bit: u16, age: u32) -> f64 {
    let (_, bands) = CONDITION_PREVALENCE
        .iter()
        .find(|(b, _)| *b == bit)
        .expect("known condition");
    bands
        .iter()
        .rev()
        .find(|(from, _)| age >= *from)
        .map_or(0.0, |&(_, p)| p)
}

/// Long-term-care certification rate by age (MHLW Long-term Care Insurance report, 2023), scaled so
/// that 7.08 M are certified (FACTS).
pub fn ltc_rate(age: u32) -> f64 {
    let raw = match age {
        40..=64 => 0.004,
        65..=69 => 0.029,
        70..=74 => 0.057,
        75..=79 => 0.118,
        80..=84 => 0.255,
        85..=89 => 0.48,
        90..=94 => 0.70,
        95.. => 0.83,
        _ => 0.0,
    };
    raw * LTC_CALIBRATION
}

/// Brings the rates above to the published total (7.08 M; the raw rates give 7.16 M).
pub const LTC_CALIBRATION: f64 = 7.08 / 7.16;

/// Care levels (要支援1–2, 要介護1–5) and their shares among the certified (MHLW 2023).
pub const LTC_LEVELS: [(&str, f64); 7] = [
    ("support_1", 0.141),
    ("support_2", 0.138),
    ("care_1", 0.207),
    ("care_2", 0.164),
    ("care_3", 0.131),
    ("care_4", 0.124),
    ("care_5", 0.095),
];

/// Share of women pregnant on a given day, by age: 0.72 M births a year (FACTS) spread over about
/// 40 weeks, by the age-specific fertility rates of 2023 (peak 30–34).
pub fn pregnancy_rate(age: u32) -> f64 {
    match age {
        15..=19 => 0.0017,
        20..=24 => 0.0145,
        25..=29 => 0.0465,
        30..=34 => 0.0590,
        35..=39 => 0.0335,
        40..=44 => 0.0085,
        45..=49 => 0.0003,
        _ => 0.0,
    }
}

/// Births a year per woman, by age: the pregnancy rates above over 40 weeks of a 52-week year,
/// brought to FACTS' 0.72 M births a year (the bare rates give 0.683 M).
pub fn birth_rate(age: u32) -> f64 {
    pregnancy_rate(age) * 52.0 / 40.0 * BIRTH_CALIBRATION
}

pub const BIRTH_CALIBRATION: f64 = 0.72 / 0.683;

/// Probability of dying within a year, by age (both sexes): the shape of the MHLW abridged life
/// table 2023 (qx by five-year age, rounded), brought to FACTS' 1.61 M deaths a year (the shape
/// alone gives 1.49 M on the 2024 ages).
pub fn death_rate(age: u32) -> f64 {
    let raw = match age {
        0 => 0.0018,
        1..=4 => 0.0002,
        5..=14 => 0.0001,
        15..=19 => 0.0002,
        20..=29 => 0.0004,
        30..=39 => 0.0006,
        40..=49 => 0.0012,
        50..=54 => 0.0024,
        55..=59 => 0.0036,
        60..=64 => 0.0056,
        65..=69 => 0.0088,
        70..=74 => 0.0138,
        75..=79 => 0.0225,
        80..=84 => 0.040,
        85..=89 => 0.075,
        90..=94 => 0.145,
        95..=99 => 0.26,
        _ => 0.40,
    };
    (raw * DEATH_CALIBRATION).min(1.0)
}

pub const DEATH_CALIBRATION: f64 = 1.61 / 1.490;

/// Public-expense entitlements (公費): intractable diseases (law 54, ≈1.08 M recipients, 2023),
/// public assistance medical aid (law 12, ≈2.0 M persons, 2024), municipal child medical subsidy
/// (local 88: children under 15 in every municipality).
///
/// Public assistance recipients leave NHI and the late-elderly system: 75+ members are 19.9 M of
/// 20.8 M persons (FACTS), the rest are on public assistance; under 75, about 1.1 M more among
/// those who would otherwise be in NHI.
pub const INTRACTABLE_SHARE_ADULT: f64 = 0.0105;
pub const PUBLIC_ASSISTANCE_75_PLUS: f64 = 0.043;
pub const PUBLIC_ASSISTANCE_IN_NHI: f64 = 0.041;
/// Share of NHI members in municipal NHI rather than trade societies: 23.1 / 25.8 (FACTS).
pub const MUNICIPAL_NHI_SHARE: f64 = 23.1 / 25.8;
pub const CHILD_SUBSIDY_MAX_AGE: u32 = 14;

/// Facilities (FACTS, 2024): hospitals, medical clinics, dental clinics, pharmacies.
pub const FACILITY_COUNTS: [(dx_exchange::wire::FacilityKind, f64); 5] = [
    (dx_exchange::wire::FacilityKind::Hospital, 8_060.0),
    (dx_exchange::wire::FacilityKind::Clinic, 105_207.0),
    (dx_exchange::wire::FacilityKind::Dental, 66_378.0),
    (dx_exchange::wire::FacilityKind::Pharmacy, 62_828.0),
    // Care providers that manage care plans (居宅介護支援事業所 and the like): not in FACTS; an
    // assumption of one per ≈190 certified persons.
    (dx_exchange::wire::FacilityKind::CareProvider, 37_000.0),
];

/// Hospitals by prefecture (index code − 1), end of January 2022: MHLW, Survey of Medical
/// Institutions, monthly dynamics (医療施設動態調査, 令和4年1月末概数), table 3; 8,193 in all. A
/// prefecture's share of [`FACILITY_COUNTS`]' hospitals follows it (Kochi has 17 per 100,000
/// persons, Kanagawa under 4); the other kinds follow the population, their prefectural
/// tables being out of the project's reach.
#[rustfmt::skip]
pub const HOSPITALS_2022: [u16; 47] = [
    538, 93, 92, 135, 65, 67, 124, 172, 109, 128, 343, 289, 632, 337, 124, 106, 91, 67, 60, 126,
    98, 170, 318, 93, 58, 161, 510, 347, 75, 83, 43, 46, 159, 235, 140, 106, 89, 134, 121, 453,
    97, 148, 206, 151, 133, 232, 89,
];

/// A prefecture's share of the nation's facilities of `kind`: its hospitals' for hospitals,
/// its population's for the rest.
pub fn facility_share(kind: dx_exchange::wire::FacilityKind, prefecture: u8) -> f64 {
    let i = usize::from(prefecture) - 1;
    if kind == dx_exchange::wire::FacilityKind::Hospital {
        let all: f64 = HOSPITALS_2022.iter().map(|&n| f64::from(n)).sum();
        f64::from(HOSPITALS_2022[i]) / all
    } else {
        prefecture_shares()[i]
    }
}

/// Households (2020 Census, Statistics Bureau, basic tabulation): 55.7 M general households of
/// 2.21 persons on average; one person 38.0%, a couple alone 20.1%, a couple and children 25.0%,
/// one parent and children 9.0%, the rest (three generations and others) 7.9%.
pub const PERSONS_PER_HOUSEHOLD: f64 = 2.21;
pub const ONE_PERSON_HOUSEHOLD_SHARE: f64 = 0.380;
pub const COUPLE_ONLY_HOUSEHOLD_SHARE: f64 = 0.201;
pub const COUPLE_AND_CHILDREN_HOUSEHOLD_SHARE: f64 = 0.250;
pub const ONE_PARENT_HOUSEHOLD_SHARE: f64 = 0.090;
/// Chance that a child at home is first matched with a couple rather than one parent
/// (calibrated: the census's one-parent households include elderly parents with an adult
/// child, so this is above the 25 : 9 of the kinds themselves).
pub const COUPLE_SHARE_OF_PARENTS: f64 = 0.80;

/// Share of persons married (有配偶) by age and sex, rounded to the pattern of the 2020 Census's
/// marital status by five-year age group: men marry later and stay married longer; women are
/// more often widowed. Married men and women are paired within a segment, and a surplus on
/// either side lives as unmarried.
pub fn married_share(age: u32, male: bool) -> f64 {
    let (m, f) = match age {
        0..=17 => (0.0, 0.0),
        18..=19 => (0.005, 0.01),
        20..=24 => (0.05, 0.08),
        25..=29 => (0.25, 0.34),
        30..=34 => (0.48, 0.58),
        35..=39 => (0.59, 0.66),
        40..=44 => (0.62, 0.68),
        45..=49 => (0.62, 0.67),
        50..=54 => (0.64, 0.68),
        55..=59 => (0.68, 0.70),
        60..=64 => (0.73, 0.71),
        65..=69 => (0.77, 0.70),
        70..=74 => (0.80, 0.66),
        75..=79 => (0.82, 0.56),
        80..=84 => (0.80, 0.42),
        _ => (0.70, 0.20),
    };
    if male { m } else { f }
}

/// Years a husband is older than his wife, as couples are paired (the mean gap at marriage is
/// about two years, Vital Statistics).
pub const HUSBAND_OLDER_BY: u32 = 2;

/// Share of unmarried persons living with their parents, by age: every minor, most students,
/// and many unmarried adults. Calibrated (with [`children_room`] and
/// [`elder_with_children_share`]) so the households' sizes and kinds come out as the census's
/// (the rows of `summary.json`); not a published table itself.
pub fn living_with_parents_share(age: u32) -> f64 {
    match age {
        0..=17 => 1.0,
        18..=19 => 0.88,
        20..=24 => 0.72,
        25..=29 => 0.60,
        30..=34 => 0.50,
        35..=39 => 0.44,
        40..=44 => 0.38,
        45..=49 => 0.32,
        50..=54 => 0.24,
        55..=59 => 0.16,
        60..=64 => 0.08,
        _ => 0.0,
    }
}

/// The mother's age at a birth: 24–38, most often near 31 (Vital Statistics 2023: mean age at
/// a birth ≈ 32, at a first birth 31.0).
pub fn mother_age_at_birth(r: &mut dx_model::rng::Stream) -> u32 {
    24 + r.below(8) as u32 + r.below(8) as u32
}

/// How many children at home a family can have: none (childless, or the children have left),
/// one, two or three. Calibrated, with the shares above, so the household kinds come out as the
/// census counts them.
pub fn children_room(r: &mut dx_model::rng::Stream) -> u32 {
    if r.chance(0.17) {
        0
    } else {
        1 + u32::from(r.chance(0.45)) + u32::from(r.chance(0.12))
    }
}

/// Youngest age at which an unmarried adult heads a one-parent household.
pub const LONE_PARENT_MIN_AGE: u32 = 20;

/// Share of unmarried (mostly widowed) persons living in a child's household, by age:
/// calibrated like [`living_with_parents_share`].
pub fn elder_with_children_share(age: u32) -> f64 {
    match age {
        0..=64 => 0.0,
        65..=74 => 0.24,
        75..=84 => 0.40,
        _ => 0.52,
    }
}

/// Share of spouses under 75 insured in an employee scheme in their own right rather than as a
/// dependant (or, in a household in National Health Insurance, rather than sharing its number):
/// about half of wives of employees work with their own insurance (the rest are the pension's
/// third category, ≈7 M), nearly every husband; fewer in self-employed (NHI) households.
pub fn spouse_insured_share(male: bool, nhi_household: bool) -> f64 {
    match (male, nhi_household) {
        (false, false) => 0.50,
        (true, false) => 0.90,
        (false, true) => 0.10,
        (true, true) => 0.25,
    }
}

/// Share of children living with their parents who are insured in an employee scheme in their
/// own right, by age: none at school age, most of those past 22 (the rest students or not
/// working, covered with the household); fewer where the household is self-employed (in
/// National Health Insurance), whose children often work in its business.
pub fn adult_child_insured_share(age: u32, nhi_household: bool) -> f64 {
    let share = match age {
        0..=17 => 0.0,
        18..=19 => 0.2,
        20..=22 => 0.35,
        _ => 0.8,
    };
    if nhi_household { share * 0.6 } else { share }
}

/// Changes of employer a year per insured employee, by age (most of them young): calibrated so
/// that the insured employees whose coverage changed with a new employer in the year before the
/// population date are the 3.28 M job changers of 2023 (Statistics Bureau, Labour Force Survey,
/// detailed tabulation: 転職者数), tested.
pub fn job_change_rate(age: u32) -> f64 {
    match age {
        0..=24 => 0.148,
        25..=34 => 0.117,
        35..=44 => 0.08,
        45..=54 => 0.0615,
        55..=64 => 0.074,
        _ => 0.055,
    }
}

/// Job changers in 2023 (Labour Force Survey): what [`job_change_rate`] is calibrated to.
pub const JOB_CHANGERS_PER_YEAR: f64 = 3.28e6;

/// Brings the yearly probabilities of [`job_change_rate`] (calibrated for the history, where dates
/// moved back to 1 April leave the year) to the same 3.28 M changes in the year ahead.
pub const JOB_CHANGE_AHEAD_CALIBRATION: f64 = 0.83;

/// Share of job changes dated 1 April (the start of the fiscal year), of those dated on a first
/// of the month (an assumption: April carries the hiring season).
pub const APRIL_SHARE_OF_JOB_CHANGES: f64 = 0.25;

/// Share of NHI household heads aged 60–74 who were employees until they retired at 60–65 (an
/// assumption: NHI membership doubles between 60 and 65, `nhi_share`).
pub const RETIRED_FROM_EMPLOYMENT: f64 = 0.6;

/// Moves to another municipality a year per NHI household (an assumption of the order of the
/// resident register's migration between municipalities, ≈4% of residents a year).
pub const NHI_MOVE_RATE: f64 = 0.04;
