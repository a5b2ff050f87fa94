//! 重複投薬等チェック: duplicate-ingredient and contraindicated-combination checks of new drugs
//! against a person's recent history (and against each other).
//!
//! Duplicate: same ingredient and route with overlapping dosing periods. Contraindication: a pair
//! listed as 併用禁忌 with overlapping periods. As-needed and external drugs occupy 14 days.
//! Drugs from the checking facility are excluded unless asked for. Without medication consent the
//! warning says what conflicts, but not where or when the other drug came from.

use super::HistoryItem;
use crate::ehr::DrugFlag;
use crate::refdata::{Drug, DrugMaster};
use chrono::{NaiveDate, TimeDelta};
use dx_protocol::wire::clins::ItemKind;
use dx_protocol::wire::{MedicationSource, OtherDrug, Warning, WarningKind};

/// A new drug to check.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The code as the caller sent it (YJ or HOT9).
    pub code: &'a str,
    pub drug: &'a Drug,
    pub start: NaiveDate,
    pub days: u16,
}

/// The period a drug occupies, as [start, end).
fn period(drug: &Drug, start: NaiveDate, days: u16) -> (NaiveDate, NaiveDate) {
    (
        start,
        start + TimeDelta::days(i64::from(drug.check_days(days))),
    )
}

fn overlaps(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// What conflicts between two drugs, if anything.
fn conflict(a: &Drug, b: &Drug, master: &DrugMaster) -> Option<WarningKind> {
    if a.ingredient == b.ingredient && a.route == b.route {
        Some(WarningKind::Duplicate)
    } else if master.contraindicated(a.ingredient, b.ingredient) {
        Some(WarningKind::Contraindication)
    } else {
        None
    }
}

fn message(kind: WarningKind, new: &Drug, other: &Drug) -> String {
    match kind {
        WarningKind::Duplicate => {
            format!(
                "{} duplicates {} ({}) in an overlapping period",
                new.name,
                other.ingredient,
                other.route.as_str()
            )
        }
        WarningKind::Contraindication => {
            format!(
                "{} ({}) is contraindicated with {} (併用禁忌)",
                new.name, new.ingredient, other.ingredient
            )
        }
        WarningKind::RegisteredContraindication => format!(
            "{} ({}) is registered as contraindicated for this patient (薬剤禁忌)",
            new.name, new.ingredient
        ),
        WarningKind::Allergy => format!(
            "the patient has a registered allergy to {} ({})",
            other.ingredient, new.name
        ),
    }
}

/// Warnings for new drugs whose ingredient the patient has a registered allergy to, or that are
/// registered as contraindicated for them (EHR sharing). They are raised whoever registered them;
/// where and when only with medication consent.
pub fn flag_warnings(
    new: &[Candidate<'_>],
    flags: &[DrugFlag],
    disclose: bool,
    master: &DrugMaster,
) -> Vec<Warning> {
    let mut out = Vec::new();
    for c in new {
        for f in flags {
            let Some(d) = master.by_code(&f.yj) else {
                continue;
            };
            if d.ingredient != c.drug.ingredient {
                continue;
            }
            let kind = if f.kind == ItemKind::Allergy {
                WarningKind::Allergy
            } else {
                WarningKind::RegisteredContraindication
            };
            let other = disclose.then(|| OtherDrug {
                code: d.yj.clone(),
                name: d.name.clone(),
                facility_code: f.facility_code.clone(),
                start_date: f.recorded_on,
                days: 0,
                source: MedicationSource::EhrRecord,
            });
            out.push(warning(kind, c, d, other));
        }
    }
    out
}

/// Options of one check.
#[derive(Debug, Clone, Copy)]
pub struct CheckScope<'a> {
    pub caller_facility: &'a str,
    pub include_same_facility: bool,
    /// The caller holds medication consent and may see the other drug's details.
    pub disclose: bool,
}

/// All warnings for `new` against `history` and against each other, in a stable order: by new
/// drug, then history newest first, then the other new drugs.
pub fn find_warnings(
    new: &[Candidate<'_>],
    history: &[HistoryItem],
    scope: CheckScope<'_>,
    master: &DrugMaster,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let relevant: Vec<(&HistoryItem, &Drug)> = history
        .iter()
        .filter(|h| {
            scope.include_same_facility
                || (h.facility_code != scope.caller_facility
                    && h.prescriber_facility != scope.caller_facility)
        })
        .filter_map(|h| master.by_code(&h.code).map(|d| (h, d)))
        .collect();
    for (i, c) in new.iter().enumerate() {
        let mine = period(c.drug, c.start, c.days);
        for &(h, d) in &relevant {
            let Some(kind) = conflict(c.drug, d, master) else {
                continue;
            };
            if !overlaps(mine, period(d, h.date, h.days)) {
                continue;
            }
            let other = scope.disclose.then(|| OtherDrug {
                code: d.yj.clone(),
                name: d.name.clone(),
                facility_code: h.facility_code.clone(),
                start_date: h.date,
                days: h.days,
                source: h.source,
            });
            out.push(warning(kind, c, d, other));
        }
        for (j, o) in new.iter().enumerate() {
            if i == j {
                continue;
            }
            let Some(kind) = conflict(c.drug, o.drug, master) else {
                continue;
            };
            if overlaps(mine, period(o.drug, o.start, o.days)) {
                let other = OtherDrug {
                    code: o.drug.yj.clone(),
                    name: o.drug.name.clone(),
                    facility_code: scope.caller_facility.to_owned(),
                    start_date: o.start,
                    days: o.days,
                    source: MedicationSource::ThisRequest,
                };
                out.push(warning(kind, c, o.drug, Some(other)));
            }
        }
    }
    out
}

fn warning(
    kind: WarningKind,
    c: &Candidate<'_>,
    other: &Drug,
    detail: Option<OtherDrug>,
) -> Warning {
    Warning {
        kind,
        code: c.code.to_owned(),
        ingredient: c.drug.ingredient.to_owned(),
        other_ingredient: other.ingredient.to_owned(),
        other: detail,
        message: message(kind, c.drug, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drug(ingredient: &str) -> &'static Drug {
        DrugMaster::get()
            .all()
            .iter()
            .find(|d| d.ingredient == ingredient)
            .unwrap()
    }

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + TimeDelta::days(n)
    }

    fn hist(ingredient: &str, date: NaiveDate, days: u16, facility: &str) -> HistoryItem {
        HistoryItem {
            source: MedicationSource::Dispensing,
            date,
            facility_code: facility.into(),
            prescriber_facility: facility.into(),
            code: drug(ingredient).yj.clone(),
            days,
            prescription_id: None,
        }
    }

    fn scope(disclose: bool) -> CheckScope<'static> {
        CheckScope {
            caller_facility: "1311001019",
            include_same_facility: false,
            disclose,
        }
    }

    fn run(
        new: &str,
        start: NaiveDate,
        days: u16,
        history: &[HistoryItem],
        s: CheckScope<'_>,
    ) -> Vec<Warning> {
        let d = drug(new);
        let c = [Candidate {
            code: &d.yj,
            drug: d,
            start,
            days,
        }];
        find_warnings(&c, history, s, DrugMaster::get())
    }

    #[test]
    fn overlapping_same_ingredient_is_a_duplicate_and_touching_is_not() {
        let h = [hist("amlodipine", day(0), 28, "4311001011")];
        let w = run("amlodipine", day(27), 28, &h, scope(true));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].kind, WarningKind::Duplicate);
        assert!(run("amlodipine", day(28), 28, &h, scope(true)).is_empty());
    }

    #[test]
    fn external_and_as_needed_drugs_count_fourteen_days() {
        let h = [hist("heparinoid", day(0), 90, "4311001011")];
        assert_eq!(run("heparinoid", day(13), 7, &h, scope(true)).len(), 1);
        assert!(run("heparinoid", day(14), 7, &h, scope(true)).is_empty());
    }

    #[test]
    fn contraindicated_pair_warns_and_details_need_consent() {
        let h = [hist("nitroglycerin", day(0), 10, "4311001011")];
        let w = run("sildenafil", day(3), 28, &h, scope(true));
        assert_eq!(w[0].kind, WarningKind::Contraindication);
        assert_eq!(w[0].other.as_ref().unwrap().facility_code, "4311001011");
        let masked = run("sildenafil", day(3), 28, &h, scope(false));
        assert_eq!(masked[0].other, None);
        assert_eq!(masked[0].other_ingredient, "nitroglycerin");
    }

    #[test]
    fn same_facility_is_excluded_unless_asked() {
        let h = [hist("amlodipine", day(0), 28, "1311001019")];
        assert!(run("amlodipine", day(1), 28, &h, scope(true)).is_empty());
        let all = CheckScope {
            include_same_facility: true,
            ..scope(true)
        };
        assert_eq!(run("amlodipine", day(1), 28, &h, all).len(), 1);
    }

    #[test]
    fn a_different_ingredient_key_is_not_a_duplicate() {
        // Oral loxoprofen and the loxoprofen tape are distinct entries (and routes) in the master.
        let h = [hist("loxoprofen", day(0), 14, "4311001011")];
        assert!(run("loxoprofen_tape", day(1), 14, &h, scope(true)).is_empty());
    }
}
