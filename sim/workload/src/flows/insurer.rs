//! The insurers' reports of qualifications (資格取得・喪失): a person whose coverage changes within
//! the period (a change of employer, with the dependants; `next_*` in the persons files) is
//! reported by the new insurer 0–5 days after the change (the five days the 資格取得届 allows)
//! and by the old one 0–10 days after that. From the new insurer's report on, the person's
//! requests carry the new number (the exchange knows it then); the old one answers `expired`
//! once the old insurer has reported its end. The volumes are the population's job changes in
//! the year ahead (the Labour Force Survey's 3.28 M insured employees a year, and their
//! dependants). A 75th birthday needs no report: the union registers it ahead.

use super::base::PersonRow;
use super::context::GenContext;
use super::emit::{Emitter, Flow};
use super::municipal_rates::HOUR;
use chrono::TimeDelta;
use dx_model::event::{Flow as FlowName, Payload};
use dx_model::rng::splitmix64;

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * HOUR;

/// When the insurers report the change of `index`'s coverage that begins on the day whose
/// midnight is `from_ms`: the new insurer's acquisition and the old one's loss, each in working
/// hours (09:00–18:00). The same for the flow and for the person's requests, which switch to the
/// new number at the first.
pub fn report_times(index: u64, from_ms: i64) -> (i64, i64) {
    let h = splitmix64(index ^ 0x6973_7375_6572);
    let acquire = from_ms + (h % 6) as i64 * DAY + 9 * HOUR + ((h >> 8) % 540) as i64 * MINUTE;
    let lose = acquire + ((h >> 20) % 11) as i64 * DAY + ((h >> 32) % 60) as i64 * MINUTE;
    (acquire, lose)
}

pub struct InsurerFlow;

impl Flow for InsurerFlow {
    fn name(&self) -> &'static str {
        "insurer"
    }

    fn emit(&self, person: &PersonRow, _ctx: &GenContext, out: &mut Emitter<'_>) {
        let (Some(from_ms), Some((new, _)), Some(old)) = (
            person.next_reported,
            &person.next_insurance,
            &person.insurance,
        ) else {
            return;
        };
        let (acquire, lose) = report_times(person.index, from_ms);
        let from = GenContext::date_of(from_ms);
        let days =
            |to: chrono::NaiveDate, at: i64| (to - GenContext::date_of(at)).num_days() as i16;
        let acquisition = Payload::QualificationAcquire {
            from_days: days(from, acquire),
        };
        out.emit(FlowName::Insurer, acquire, &new[0], acquisition, |e| {
            e.insurance = Some(new.clone());
        });
        let loss = Payload::QualificationLose {
            to_days: days(from - TimeDelta::days(1), lose),
        };
        out.emit(FlowName::Insurer, lose, &old[0], loss, |e| {
            e.insurance = Some(old.clone());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Facilities;

    /// A change of employer on 1 November: the new insurer reports within five days, the old
    /// one after it; the person's checks carry the old number until the first report and the
    /// new one from it.
    #[test]
    fn insurers_report_a_change_and_the_person_s_requests_follow_it() {
        let mut s = dx_scenario::Scenario::national(0.0001);
        s.period.start = chrono::NaiveDate::from_ymd_opt(2025, 10, 25)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        s.period.hours = dx_scenario::values::Hours::new(30.0 * 24.0).unwrap();
        let ctx = GenContext::new(&s, Facilities::default());
        let from_ms = crate::flows::jst_ms(
            chrono::NaiveDate::from_ymd_opt(2025, 11, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        );
        let quad = |ins: &str, n: &str, b: &str| {
            [ins.to_owned(), "12".to_owned(), n.to_owned(), b.to_owned()]
        };
        let (old, new) = (
            quad("01130012", "000000042", "01"),
            quad("06131015", "000000042", "01"),
        );
        for index in 0..200 {
            let (acquire, lose) = report_times(index, from_ms);
            assert!(
                acquire >= from_ms + 9 * HOUR && acquire < from_ms + 6 * DAY,
                "{index}"
            );
            assert!(lose >= acquire && lose < acquire + 12 * DAY, "{index}");
            let person = PersonRow {
                birth_date: 5_000,
                age: 40,
                insurance: Some(old.clone()),
                next_insurance: Some((new.clone(), acquire)),
                next_reported: Some(from_ms),
                ..PersonRow::sample(index)
            };
            let mut out = Emitter::new(&person, &ctx);
            InsurerFlow.emit(&person, &ctx, &mut out);
            let [a, l] = &out.events[..] else {
                panic!("two reports: {:?}", out.events);
            };
            assert_eq!((a.at_ms, a.facility.as_str()), (acquire, "06131015"));
            assert_eq!(a.insurance.as_ref(), Some(&new));
            assert_eq!(a.principal(), "insurer:06131015");
            let day = |ms| GenContext::date_of(ms);
            let Payload::QualificationAcquire { from_days } = a.payload else {
                panic!("{a:?}")
            };
            assert_eq!(
                day(acquire) + TimeDelta::days(i64::from(from_days)),
                day(from_ms)
            );
            // The loss names the old number even after the switch.
            assert_eq!((l.at_ms, l.facility.as_str()), (lose, "01130012"));
            assert_eq!(l.insurance.as_ref(), Some(&old));
            let Payload::QualificationLose { to_days } = l.payload else {
                panic!("{l:?}")
            };
            assert_eq!(
                day(lose) + TimeDelta::days(i64::from(to_days)),
                day(from_ms) - TimeDelta::days(1)
            );
            // A check by number before the acquisition carries the old number, after it the new.
            let verify = || Payload::Verify { consent: false };
            let mut out = Emitter::new(&person, &ctx);
            let with_number =
                |e: &mut dx_model::event::Event| e.insurance = person.insurance.clone();
            out.emit(
                FlowName::Visit,
                acquire - 1,
                "1310110019",
                verify(),
                with_number,
            );
            out.emit(
                FlowName::Visit,
                acquire,
                "1310110019",
                verify(),
                with_number,
            );
            assert_eq!(out.events[0].insurance.as_ref(), Some(&old));
            assert_eq!(out.events[1].insurance.as_ref(), Some(&new));
        }
    }
}
