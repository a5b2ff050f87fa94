//! The vaccine table and its rules: the routine childhood schedule (定期接種 A類), the elderly's
//! seasonal influenza and once-only pneumococcal doses (B類), and voluntary vaccines (任意接種).
//!
//! Ages and intervals are in days, read from the routine schedule (定期接種実施要領, as in force
//! in 2024–2025: five-in-one DPT-IPV-Hib, MR at 1 and 5–7 years, HPV for girls from grade 6); a
//! month counts as 30 or 31 days and a year as 365. The rules the exchange enforces are the
//! minimum interval after the previous dose and the number of doses of a series; the schedule
//! check adds the minimum age, the standard age, the recommended latest age and the end of the
//! routine (publicly funded) window.

use crate::wire::{ScheduleEntry, ScheduleStatus, Sex, VaccineInfo};
use chrono::{Datelike, NaiveDate, TimeDelta};

/// One dose of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dose {
    /// Youngest age for the routine dose.
    pub min_age: u32,
    /// Least days after the previous dose (0 for the first).
    pub min_interval: u32,
    /// The standard age (標準的な接種期間) — what the workload schedules.
    pub standard_age: u32,
    /// Recommended by this age; after it the dose is overdue.
    pub due_by_age: u32,
    /// The routine window closes at this age.
    pub routine_until_age: u32,
}

const fn dose(
    min_age: u32,
    min_interval: u32,
    standard_age: u32,
    due_by_age: u32,
    routine_until_age: u32,
) -> Dose {
    Dose {
        min_age,
        min_interval,
        standard_age,
        due_by_age,
        routine_until_age,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Programme {
    /// A routine childhood series; `uptake` is the share of a birth cohort vaccinated (for the
    /// workload: ≈95% for infant series, ≈30% for HPV since its recommendation resumed).
    Childhood {
        doses: &'static [Dose],
        females_only: bool,
        uptake: f64,
    },
    /// Influenza: one dose per season (1 August – 31 July) from age 13, two at least 13 days
    /// apart below it; routine for age 65 and over (October–January).
    Seasonal,
    /// Once in a lifetime, routine in the year of age 65 (pneumococcal polysaccharide).
    ElderlyOnce,
    /// Voluntary: any age, a series of `doses` with minimum intervals.
    Voluntary { doses: &'static [Dose] },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vaccine {
    pub code: &'static str,
    pub name: &'static str,
    pub name_ja: &'static str,
    pub programme: Programme,
}

const Y: u32 = 365;

pub const VACCINES: &[Vaccine] = &[
    Vaccine {
        code: "hepb",
        name: "Hepatitis B",
        name_ja: "B型肝炎",
        programme: Programme::Childhood {
            doses: &[
                dose(0, 0, 61, 91, Y),
                dose(0, 27, 91, 152, Y),
                dose(0, 112, 213, 273, Y),
            ],
            females_only: false,
            uptake: 0.95,
        },
    },
    Vaccine {
        code: "rota",
        name: "Rotavirus (2 doses)",
        name_ja: "ロタウイルス",
        programme: Programme::Childhood {
            doses: &[dose(42, 0, 61, 104, 104), dose(42, 27, 91, 167, 167)],
            females_only: false,
            uptake: 0.9,
        },
    },
    Vaccine {
        code: "dpt_ipv_hib",
        name: "DPT-IPV-Hib (five-in-one)",
        name_ja: "五種混合",
        programme: Programme::Childhood {
            doses: &[
                dose(61, 0, 61, 213, 2738),
                dose(61, 20, 91, 243, 2738),
                dose(61, 20, 122, 273, 2738),
                dose(61, 182, 456, 548, 2738),
            ],
            females_only: false,
            uptake: 0.95,
        },
    },
    Vaccine {
        code: "pcv",
        name: "Pneumococcal conjugate (children)",
        name_ja: "小児用肺炎球菌",
        programme: Programme::Childhood {
            doses: &[
                dose(61, 0, 61, 213, 5 * Y),
                dose(61, 27, 91, 365, 5 * Y),
                dose(61, 27, 122, 365, 5 * Y),
                dose(Y, 60, 395, 456, 5 * Y),
            ],
            females_only: false,
            uptake: 0.95,
        },
    },
    Vaccine {
        code: "bcg",
        name: "BCG",
        name_ja: "BCG",
        programme: Programme::Childhood {
            doses: &[dose(0, 0, 152, 243, Y)],
            females_only: false,
            uptake: 0.95,
        },
    },
    Vaccine {
        code: "mr",
        name: "Measles-rubella",
        name_ja: "麻しん風しん混合",
        programme: Programme::Childhood {
            doses: &[
                dose(Y, 0, 380, 2 * Y, 2 * Y),
                dose(5 * Y, 27, 2100, 7 * Y, 7 * Y),
            ],
            females_only: false,
            uptake: 0.94,
        },
    },
    Vaccine {
        code: "varicella",
        name: "Varicella",
        name_ja: "水痘",
        programme: Programme::Childhood {
            doses: &[dose(Y, 0, 380, 456, 3 * Y), dose(Y, 90, 562, 730, 3 * Y)],
            females_only: false,
            uptake: 0.9,
        },
    },
    Vaccine {
        code: "je",
        name: "Japanese encephalitis",
        name_ja: "日本脳炎",
        programme: Programme::Childhood {
            doses: &[
                dose(183, 0, 3 * Y, 4 * Y, 2738),
                dose(183, 6, 3 * Y + 28, 4 * Y, 2738),
                dose(183, 182, 4 * Y + 30, 5 * Y, 2738),
                dose(9 * Y, 365, 9 * Y + 60, 10 * Y, 13 * Y),
            ],
            females_only: false,
            uptake: 0.85,
        },
    },
    Vaccine {
        code: "dt",
        name: "Diphtheria-tetanus (phase 2)",
        name_ja: "二種混合（第2期）",
        programme: Programme::Childhood {
            doses: &[dose(11 * Y, 0, 11 * Y + 30, 12 * Y, 13 * Y)],
            females_only: false,
            uptake: 0.8,
        },
    },
    Vaccine {
        code: "hpv",
        name: "Human papillomavirus",
        name_ja: "HPV（子宮頸がん予防）",
        programme: Programme::Childhood {
            doses: &[
                dose(12 * Y, 0, 12 * Y + 120, 14 * Y, 17 * Y),
                dose(12 * Y, 27, 12 * Y + 180, 14 * Y, 17 * Y),
                dose(12 * Y, 84, 12 * Y + 300, 15 * Y, 17 * Y),
            ],
            females_only: true,
            uptake: 0.3,
        },
    },
    Vaccine {
        code: "influenza",
        name: "Influenza",
        name_ja: "インフルエンザ",
        programme: Programme::Seasonal,
    },
    Vaccine {
        code: "ppsv23",
        name: "Pneumococcal polysaccharide (elderly)",
        name_ja: "高齢者肺炎球菌",
        programme: Programme::ElderlyOnce,
    },
    Vaccine {
        code: "mumps",
        name: "Mumps (voluntary)",
        name_ja: "おたふくかぜ（任意）",
        programme: Programme::Voluntary {
            doses: &[dose(Y, 0, 380, 2 * Y, 0), dose(Y, 27, 5 * Y, 7 * Y, 0)],
        },
    },
];

pub fn vaccine(code: &str) -> Option<&'static Vaccine> {
    VACCINES.iter().find(|v| v.code == code)
}

/// Influenza: the age from which one dose per season suffices, and the interval below it.
pub const FLU_ONE_DOSE_AGE: u32 = 13;
pub const FLU_MIN_INTERVAL: u32 = 13;
/// Routine programmes for the elderly start at this age.
pub const ELDERLY_AGE: u32 = 65;

/// Whole years of age on a date.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    on.years_since(birth).unwrap_or(0)
}

/// The influenza season a date belongs to (its first year; seasons start on 1 August).
pub fn flu_season(on: NaiveDate) -> i32 {
    if on.month() >= 8 {
        on.year()
    } else {
        on.year() - 1
    }
}

/// Why a dose cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoseRefusal {
    /// Too close to a recorded dose: the reason, in words.
    TooSoon(String),
    /// Every dose of the series (or of the season) is already recorded.
    SeriesComplete(String),
}

fn days(n: u32) -> TimeDelta {
    TimeDelta::days(i64::from(n))
}

fn series_dose(
    v: &Vaccine,
    doses: &[Dose],
    recorded: &[NaiveDate],
    on: NaiveDate,
) -> Result<u8, DoseRefusal> {
    if recorded.len() >= doses.len() {
        return Err(DoseRefusal::SeriesComplete(format!(
            "{}: all {} doses are recorded",
            v.name,
            doses.len()
        )));
    }
    let before = recorded.iter().filter(|d| **d <= on).count();
    if let Some(prev) = recorded.iter().filter(|d| **d <= on).max() {
        let need = doses[before].min_interval;
        if on < *prev + days(need) || *prev == on {
            return Err(DoseRefusal::TooSoon(format!(
                "{}: dose {} needs at least {need} days after dose {before} (given {prev}); earliest {}",
                v.name,
                before + 1,
                *prev + days(need.max(1)),
            )));
        }
    }
    if let Some(next) = recorded.iter().filter(|d| **d > on).min() {
        let need = doses[(before + 1).min(doses.len() - 1)].min_interval;
        if *next < on + days(need) {
            return Err(DoseRefusal::TooSoon(format!(
                "{}: a dose recorded on {next} would follow this one by less than {need} days",
                v.name
            )));
        }
    }
    Ok(before as u8 + 1)
}

/// Decides whether a dose of `v` given `on` to a person born `birth` may be recorded, given the
/// person's recorded doses of the same vaccine; returns its dose number.
pub fn check_dose(
    v: &Vaccine,
    birth: NaiveDate,
    recorded: &[NaiveDate],
    on: NaiveDate,
) -> Result<u8, DoseRefusal> {
    match v.programme {
        Programme::Childhood { doses, .. } | Programme::Voluntary { doses } => {
            series_dose(v, doses, recorded, on)
        }
        Programme::ElderlyOnce => match recorded.first() {
            Some(d) => Err(DoseRefusal::SeriesComplete(format!(
                "{}: given once in a lifetime, already on {d}",
                v.name
            ))),
            None => Ok(1),
        },
        Programme::Seasonal => {
            let season = flu_season(on);
            let this: Vec<NaiveDate> = recorded
                .iter()
                .copied()
                .filter(|d| flu_season(*d) == season)
                .collect();
            let limit = if age_on(birth, on) >= FLU_ONE_DOSE_AGE {
                1
            } else {
                2
            };
            if this.len() >= limit {
                return Err(DoseRefusal::TooSoon(format!(
                    "{}: {limit} dose(s) per season at age {}, already given on {}; the next season opens {season_end}",
                    v.name,
                    age_on(birth, on),
                    this.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    season_end = NaiveDate::from_ymd_opt(season + 1, 8, 1).expect("1 August"),
                )));
            }
            if let Some(close) = this
                .iter()
                .find(|d| (on - **d).num_days().abs() < i64::from(FLU_MIN_INTERVAL))
            {
                return Err(DoseRefusal::TooSoon(format!(
                    "{}: the second dose needs at least {FLU_MIN_INTERVAL} days after the first (given {close})",
                    v.name
                )));
            }
            Ok(this.iter().filter(|d| **d < on).count() as u8 + 1)
        }
    }
}

/// The routine schedule of a person on a date: every childhood series below age 17, influenza
/// and the once-only pneumococcal dose from 65. `recorded(code)` gives the person's recorded
/// doses of a vaccine, sorted.
pub fn schedule(
    birth: NaiveDate,
    sex: Sex,
    on: NaiveDate,
    recorded: &dyn Fn(&str) -> Vec<NaiveDate>,
) -> Vec<ScheduleEntry> {
    let age_days = u32::try_from((on - birth).num_days()).unwrap_or(0);
    let age = age_on(birth, on);
    let at = |d: u32| birth + days(d);
    let mut out = Vec::new();
    for v in VACCINES {
        let given = recorded(v.code);
        let entry =
            |doses_total: u8, status, next: Option<u8>, earliest, due_by, until| ScheduleEntry {
                vaccine: v.code.into(),
                name: v.name.into(),
                doses_given: given.len().min(255) as u8,
                doses_total,
                next_dose: next,
                status,
                earliest,
                due_by,
                routine_until: until,
            };
        match v.programme {
            Programme::Childhood {
                doses,
                females_only,
                ..
            } => {
                if age >= 17 || (females_only && sex != Sex::Female) {
                    continue;
                }
                let total = doses.len() as u8;
                let n = given.len();
                if n >= doses.len() {
                    out.push(entry(
                        total,
                        ScheduleStatus::Complete,
                        None,
                        None,
                        None,
                        None,
                    ));
                    continue;
                }
                let d = doses[n];
                let mut earliest = at(d.min_age);
                if let Some(last) = given.last() {
                    earliest = earliest.max(*last + days(d.min_interval));
                }
                let (due_by, until) = (at(d.due_by_age), at(d.routine_until_age));
                let status = if earliest > until || age_days >= d.routine_until_age {
                    ScheduleStatus::Missed
                } else if on < earliest {
                    ScheduleStatus::NotYet
                } else if on <= due_by {
                    ScheduleStatus::Due
                } else {
                    ScheduleStatus::Overdue
                };
                out.push(entry(
                    total,
                    status,
                    Some(n as u8 + 1),
                    Some(earliest),
                    Some(due_by),
                    Some(until),
                ));
            }
            Programme::Seasonal if age >= ELDERLY_AGE => {
                let season = flu_season(on);
                let opens = NaiveDate::from_ymd_opt(season, 10, 1).expect("1 October");
                let closes = NaiveDate::from_ymd_opt(season + 1, 1, 31).expect("31 January");
                let done = given.iter().any(|d| flu_season(*d) == season);
                let (status, earliest) = if done {
                    (ScheduleStatus::Complete, None)
                } else if on < opens {
                    (ScheduleStatus::NotYet, Some(opens))
                } else if on <= closes {
                    (ScheduleStatus::Due, Some(opens))
                } else {
                    (ScheduleStatus::Missed, Some(opens))
                };
                out.push(entry(
                    1,
                    status,
                    (!done).then_some(1),
                    earliest,
                    Some(closes),
                    Some(closes),
                ));
            }
            Programme::ElderlyOnce if age >= ELDERLY_AGE => {
                let from = crate::time::birthday(birth, 65);
                let until = crate::time::birthday(birth, 66).pred_opt();
                let status = if !given.is_empty() {
                    ScheduleStatus::Complete
                } else if until.is_some_and(|u| on > u) {
                    ScheduleStatus::Missed
                } else {
                    ScheduleStatus::Due
                };
                let open = status != ScheduleStatus::Complete;
                out.push(entry(
                    1,
                    status,
                    open.then_some(1),
                    open.then_some(from),
                    until.filter(|_| open),
                    until.filter(|_| open),
                ));
            }
            _ => {}
        }
    }
    out
}

/// The table as `GET /v1/vaccines` lists it.
pub fn info() -> Vec<VaccineInfo> {
    VACCINES
        .iter()
        .map(|v| {
            let (programme, doses): (&str, &[Dose]) = match v.programme {
                Programme::Childhood { doses, .. } => ("childhood", doses),
                Programme::Voluntary { doses } => ("voluntary", doses),
                Programme::Seasonal => ("seasonal", &[]),
                Programme::ElderlyOnce => ("elderly_once", &[]),
            };
            VaccineInfo {
                code: v.code.into(),
                name: v.name.into(),
                name_ja: v.name_ja.into(),
                programme: programme.into(),
                doses: if doses.is_empty() {
                    1
                } else {
                    doses.len() as u8
                },
                min_interval_days: if doses.is_empty() {
                    vec![0]
                } else {
                    doses.iter().map(|d| d.min_interval).collect()
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_standard_schedule_keeps_every_minimum() {
        for v in VACCINES {
            if let Programme::Childhood { doses, .. } = v.programme {
                for (i, d) in doses.iter().enumerate() {
                    assert!(d.standard_age >= d.min_age, "{} dose {}", v.code, i + 1);
                    assert!(d.standard_age <= d.routine_until_age, "{}", v.code);
                    if i > 0 {
                        let gap = d.standard_age - doses[i - 1].standard_age;
                        assert!(gap >= d.min_interval, "{} dose {}", v.code, i + 1);
                    }
                }
                // Recording the standard schedule in order is accepted dose by dose.
                let birth = ymd(2024, 4, 1);
                let mut given = Vec::new();
                for (i, d) in doses.iter().enumerate() {
                    let on = birth + days(d.standard_age);
                    assert_eq!(check_dose(v, birth, &given, on), Ok(i as u8 + 1));
                    given.push(on);
                }
                assert!(matches!(
                    check_dose(v, birth, &given, *given.last().unwrap() + days(400)),
                    Err(DoseRefusal::SeriesComplete(_))
                ));
            }
        }
    }

    #[test]
    fn a_dose_inside_its_minimum_interval_is_refused_with_the_reason() {
        let hepb = vaccine("hepb").unwrap();
        let birth = ymd(2026, 1, 10);
        let first = ymd(2026, 3, 12);
        match check_dose(hepb, birth, &[first], first + days(20)) {
            Err(DoseRefusal::TooSoon(why)) => {
                assert!(why.contains("27 days"), "{why}");
                assert!(why.contains("2026-04-08"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(check_dose(hepb, birth, &[first], first + days(27)), Ok(2));
        // A paper record of an earlier dose may not squeeze in before a recorded one.
        assert!(check_dose(hepb, birth, &[first], first - days(5)).is_err());
        assert_eq!(check_dose(hepb, birth, &[first], first - days(30)), Ok(1));
    }

    #[test]
    fn influenza_is_once_a_season_from_13_and_twice_below() {
        let flu = vaccine("influenza").unwrap();
        let adult = ymd(1950, 5, 5);
        let oct = ymd(2025, 10, 20);
        assert_eq!(check_dose(flu, adult, &[], oct), Ok(1));
        assert!(matches!(
            check_dose(flu, adult, &[oct], ymd(2026, 1, 10)),
            Err(DoseRefusal::TooSoon(_))
        ));
        assert_eq!(check_dose(flu, adult, &[oct], ymd(2026, 10, 5)), Ok(1));
        let child = ymd(2019, 6, 1);
        assert!(check_dose(flu, child, &[oct], oct + days(10)).is_err());
        assert_eq!(check_dose(flu, child, &[oct], oct + days(14)), Ok(2));
        assert!(check_dose(flu, child, &[oct, oct + days(14)], oct + days(40)).is_err());
    }

    #[test]
    fn the_schedule_says_due_overdue_not_yet_and_complete() {
        let birth = ymd(2025, 6, 1);
        let on = ymd(2026, 2, 1); // 8 months old
        let hepb_doses = [ymd(2025, 8, 1), ymd(2025, 9, 1)];
        let recorded = |code: &str| match code {
            "hepb" => hepb_doses.to_vec(),
            "bcg" => vec![ymd(2025, 11, 1)],
            _ => vec![],
        };
        let s = schedule(birth, Sex::Female, on, &recorded);
        let get = |c: &str| s.iter().find(|e| e.vaccine == c).unwrap();
        assert_eq!(get("bcg").status, ScheduleStatus::Complete);
        // HepB dose 3: ≥112 days after dose 2 (2025-12-22), recommended by 273 days of age.
        assert_eq!(get("hepb").status, ScheduleStatus::Due);
        assert_eq!(get("hepb").earliest, Some(ymd(2025, 12, 22)));
        // Five-in-one dose 1 was recommended by 213 days of age.
        assert_eq!(get("dpt_ipv_hib").status, ScheduleStatus::Overdue);
        // Rotavirus's window closed at 104 days.
        assert_eq!(get("rota").status, ScheduleStatus::Missed);
        assert_eq!(get("mr").status, ScheduleStatus::NotYet);
        assert!(s.iter().all(|e| e.vaccine != "influenza"));
        let old = schedule(ymd(1950, 1, 1), Sex::Male, ymd(2025, 11, 1), &|_| vec![]);
        assert_eq!(old.len(), 2);
        assert_eq!(old[0].status, ScheduleStatus::Due);
        assert_eq!(old[1].status, ScheduleStatus::Missed);
    }
}
