//! Coverage rules that depend only on dates: the patient's copay share by age, and the status of
//! a qualification on a date of service.

use chrono::{Datelike, NaiveDate};
pub use dx_protocol::time::birthday;
use dx_protocol::wire::{PublicExpenseRecord, QualificationRecord, QualificationStatus};

/// First day of compulsory schooling: 1 April after the 6th birthday, where children born on
/// 2 April through 1 April of the next year form one school year.
pub fn school_entry(birth: NaiveDate) -> NaiveDate {
    let cohort_year = if (birth.month(), birth.day()) <= (4, 1) {
        birth.year() + 6
    } else {
        birth.year() + 7
    };
    NaiveDate::from_ymd_opt(cohort_year, 4, 1).expect("1 April exists")
}

/// The patient's share of the fee in percent on `on` (general income bracket): 20% before school
/// entry, 30% to 69, 20% from the month after the 70th birthday (the birthday month itself when
/// born on the 1st), 10% from the 75th birthday (late-elderly system).
pub fn copay_percent(birth: NaiveDate, on: NaiveDate) -> u8 {
    if on >= birthday(birth, 75) {
        return 10;
    }
    let seventy = birthday(birth, 70);
    let from_70 = if seventy.day() == 1 {
        seventy
    } else {
        let (y, m) = if seventy.month() == 12 {
            (seventy.year() + 1, 1)
        } else {
            (seventy.year(), seventy.month() + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1).expect("first of month exists")
    };
    if on >= from_70 || on < school_entry(birth) {
        20
    } else {
        30
    }
}

/// Status of one qualification on the date of service.
pub fn status_on(q: &QualificationRecord, on: NaiveDate) -> QualificationStatus {
    if on < q.valid_from {
        QualificationStatus::NotYetValid
    } else if q.valid_to.is_some_and(|to| to < on) {
        QualificationStatus::Expired
    } else {
        QualificationStatus::Valid
    }
}

/// The best qualification of a person for a date: the valid one, else the latest lapsed one,
/// else the earliest future one.
pub fn best_qualification(
    qs: &[QualificationRecord],
    on: NaiveDate,
) -> Option<&QualificationRecord> {
    let valid = qs
        .iter()
        .find(|q| status_on(q, on) == QualificationStatus::Valid);
    let expired = qs
        .iter()
        .filter(|q| status_on(q, on) == QualificationStatus::Expired)
        .max_by_key(|q| q.valid_to);
    let future = qs
        .iter()
        .filter(|q| status_on(q, on) == QualificationStatus::NotYetValid)
        .min_by_key(|q| q.valid_from);
    valid.or(expired).or(future)
}

/// Entitlements valid on the date of service.
pub fn public_expenses_on(all: &[PublicExpenseRecord], on: NaiveDate) -> Vec<PublicExpenseRecord> {
    all.iter()
        .filter(|p| p.valid_from <= on && p.valid_to.is_none_or(|to| on <= to))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn preschool_children_pay_20_until_the_april_after_their_sixth_birthday() {
        // Born 1 April 2019: enters school 1 April 2025 (with the earlier cohort).
        assert_eq!(school_entry(d(2019, 4, 1)), d(2025, 4, 1));
        // Born 2 April 2019: enters 1 April 2026.
        assert_eq!(school_entry(d(2019, 4, 2)), d(2026, 4, 1));
        assert_eq!(copay_percent(d(2019, 4, 2), d(2026, 3, 31)), 20);
        assert_eq!(copay_percent(d(2019, 4, 2), d(2026, 4, 1)), 30);
    }

    #[test]
    fn seventy_starts_the_month_after_the_birthday_and_seventy_five_on_the_day() {
        let b = d(1955, 6, 15);
        assert_eq!(copay_percent(b, d(2025, 6, 30)), 30);
        assert_eq!(copay_percent(b, d(2025, 7, 1)), 20);
        assert_eq!(copay_percent(b, d(2030, 6, 14)), 20);
        assert_eq!(copay_percent(b, d(2030, 6, 15)), 10);
        // Born on the 1st: the birthday month itself.
        assert_eq!(copay_percent(d(1955, 6, 1), d(2025, 6, 1)), 20);
        // Born in December: January of the next year.
        assert_eq!(copay_percent(d(1955, 12, 20), d(2026, 1, 1)), 20);
        assert_eq!(copay_percent(d(1955, 12, 20), d(2025, 12, 31)), 30);
    }

    #[test]
    fn leap_day_birthdays_count_from_first_of_march() {
        assert_eq!(birthday(d(1952, 2, 29), 75), d(2027, 3, 1));
    }

    #[test]
    fn best_qualification_prefers_valid_then_latest_lapsed() {
        let q = |from, to| QualificationRecord {
            insurer_number: "01130012".into(),
            symbol: "1".into(),
            number: "1".into(),
            branch: "00".into(),
            valid_from: from,
            valid_to: to,
        };
        let qs = vec![
            q(d(2020, 1, 1), Some(d(2023, 3, 31))),
            q(d(2023, 4, 1), Some(d(2025, 3, 31))),
        ];
        assert_eq!(
            best_qualification(&qs, d(2024, 1, 1)).unwrap().valid_from,
            d(2023, 4, 1)
        );
        let latest = best_qualification(&qs, d(2026, 1, 1)).unwrap();
        assert_eq!(
            (latest.valid_to, status_on(latest, d(2026, 1, 1))),
            (Some(d(2025, 3, 31)), QualificationStatus::Expired)
        );
        assert!(best_qualification(&[], d(2026, 1, 1)).is_none());
    }
}
