//! Use windows. An ordinary prescription, and the first use of a refill prescription, must be
//! dispensed within 4 days of issue (the issue day counted). Each later use of a refill falls
//! within ±7 days of its planned date: the previous dispensing date plus its days of supply.
//! At most 3 uses in all.

use super::StoredPrescription;
use crate::refusal::Refusal;
use chrono::{NaiveDate, TimeDelta};
use dx_protocol::wire::{DateWindow, PrescriptionStatus};

/// Most uses of one refill prescription (リフィル).
pub const MAX_USES: u8 = 3;
/// Days after the issue day in which the first use may be dispensed (4 days, issue day counted).
const FIRST_USE_DAYS_AFTER: i64 = 3;
/// Tolerance either side of the planned date of a later use.
const LATER_USE_TOLERANCE: i64 = 7;

/// The window of the next use, if one is left.
pub fn next_window(p: &StoredPrescription) -> Option<DateWindow> {
    if p.status != PrescriptionStatus::Active || p.uses_done >= p.uses_allowed {
        return None;
    }
    match (p.uses_done, p.next_planned_on) {
        (0, _) | (_, None) => Some(DateWindow {
            from: p.issued_on,
            to: p.issued_on + TimeDelta::days(FIRST_USE_DAYS_AFTER),
        }),
        (_, Some(planned)) => Some(DateWindow {
            from: planned - TimeDelta::days(LATER_USE_TOLERANCE),
            to: planned + TimeDelta::days(LATER_USE_TOLERANCE),
        }),
    }
}

/// Whether the next use may be dispensed `on` this date; the error says why not.
pub fn check_use(p: &StoredPrescription, on: NaiveDate) -> Result<(), Refusal> {
    if p.status == PrescriptionStatus::Cancelled {
        return Err(Refusal::conflict(
            "prescription_cancelled",
            "the prescription was cancelled",
        ));
    }
    if p.uses_done >= p.uses_allowed {
        return Err(Refusal::broken_rule(
            "uses_exhausted",
            format!("all {} allowed use(s) have been dispensed", p.uses_allowed),
        ));
    }
    let w = next_window(p)
        .ok_or_else(|| Refusal::conflict("not_dispensable", "the prescription is not active"))?;
    let nth = p.uses_done + 1;
    if on < w.from {
        return Err(Refusal::broken_rule(
            "refill_too_early",
            format!(
                "use {nth} may be dispensed from {} to {}; today is {on}",
                w.from, w.to
            ),
        ));
    }
    if on > w.to {
        let code = if p.uses_done == 0 {
            "prescription_expired"
        } else {
            "refill_window_passed"
        };
        return Err(Refusal::broken_rule(
            code,
            format!(
                "use {nth} had to be dispensed from {} to {}; today is {on}",
                w.from, w.to
            ),
        ));
    }
    Ok(())
}

/// The planned date of the next use after a dispensing on `on` of `days` days' supply.
pub fn planned_next(on: NaiveDate, days: u16) -> NaiveDate {
    on + TimeDelta::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_protocol::wire::PrescriptionKind;
    use proptest::prelude::*;

    fn rx(
        issued: NaiveDate,
        uses_allowed: u8,
        uses_done: u8,
        planned: Option<NaiveDate>,
    ) -> StoredPrescription {
        StoredPrescription {
            id: "x".into(),
            kind: PrescriptionKind::Electronic,
            facility_code: "1311001019".into(),
            person_id: "P".into(),
            issued_on: issued,
            access_code: Some("123456".into()),
            status: PrescriptionStatus::Active,
            uses_allowed,
            uses_done,
            next_planned_on: planned,
            bundle: "{}".into(),
            items: vec![],
        }
    }

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn first_use_within_four_days_issue_day_counted() {
        let p = rx(d(11, 2), 3, 0, None);
        assert!(check_use(&p, d(11, 2)).is_ok());
        assert!(check_use(&p, d(11, 5)).is_ok());
        assert_eq!(
            check_use(&p, d(11, 6)).unwrap_err().code,
            "prescription_expired"
        );
    }

    #[test]
    fn later_uses_within_seven_days_of_the_planned_date() {
        let p = rx(d(11, 2), 3, 1, Some(d(12, 2)));
        assert_eq!(
            check_use(&p, d(11, 24)).unwrap_err().code,
            "refill_too_early"
        );
        assert!(check_use(&p, d(11, 25)).is_ok());
        assert!(check_use(&p, d(12, 9)).is_ok());
        assert_eq!(
            check_use(&p, d(12, 10)).unwrap_err().code,
            "refill_window_passed"
        );
    }

    #[test]
    fn no_use_beyond_the_allowed_count() {
        let p = rx(d(11, 2), 3, 3, Some(d(12, 30)));
        assert_eq!(check_use(&p, d(12, 30)).unwrap_err().code, "uses_exhausted");
        assert_eq!(next_window(&p), None);
    }

    proptest! {
        #[test]
        fn a_use_is_allowed_exactly_inside_its_window(offset in -20i64..40, done in 0u8..3, days in 1u16..90) {
            let issued = d(1, 10);
            let planned = (done > 0).then(|| planned_next(issued + TimeDelta::days(2), days));
            let p = rx(issued, 3, done, planned);
            let w = next_window(&p).unwrap();
            let on = w.from + TimeDelta::days(offset);
            prop_assert_eq!(check_use(&p, on).is_ok(), on >= w.from && on <= w.to);
        }
    }
}
