//! The municipal, long-term-care and portal flows, for residents of the municipalities taking
//! part (`municipal.participation`, the lowest-ranked municipalities first):
//!
//! - **Influenza vaccination**: `municipal.flu_doses_per_year` (FACTS ≈50 M; ≈20.7 M routine
//!   doses of persons 65+), at most one per person and season, given October–December (45%, 40%,
//!   15% of the season — the shape is an assumption; within a month, by the clinics' day
//!   factors), in clinic hours. A connected clinic recording online checks the card with
//!   consent, reads the history (`vaccination_read`) and records the dose; otherwise the dose
//!   reaches the exchange in the municipality's upload (`vaccination_batch`, 09:00 of the first
//!   weekday at least two days later).
//! - **Routine childhood doses** at the standard ages of the vaccine table plus 0–13 days (moved
//!   to the next weekday), with each vaccine's uptake: the schedule check
//!   (`vaccination_schedule`) before recording. The table gives ≈21.5 doses per child; over the
//!   population's ≈0.82 M children aged 0 (0.72 M births in 2023, FACTS) ≈17.6 M doses a year
//!   (FACTS est. ≈20 M).
//! - **Prenatal checkups** (14 at the standard weeks) of pregnant persons, at a hospital or clinic;
//!   **infant checkups** at 4, 18 and 36 months, held by the municipality (13:30–16:00); both on
//!   weekdays, a weekend or holiday moved to the next weekday.
//! - **Long-term care**: the care provider reads each certified person's certification once a
//!   month (first five days); the municipality renews a certification 30 days before it ends.
//! - **Portal**: `portal.reads_per_holder_per_year` page reads per card holder, with an evening
//!   peak (20:00–22:00) and the optional surge; `portal.applications_per_year` applications, each
//!   decided by the municipality on a later weekday.

use super::base::{PersonRow, jst_ms, poisson};
use super::context::GenContext;
use super::emit::{Emitter, Flow};
use super::municipal_rates::{HOUR, UPLOAD_REACH_DAYS};
use crate::calendar::{DayKind, Desk};
use chrono::{Months, NaiveDate, TimeDelta};
use dx_exchange::refdata::vaccines::{Programme, VACCINES};
use dx_exchange::wire::ApplicationKind;
use dx_exchange::wire::{CareLevel, Sex};
use dx_model::event::{Flow as FlowName, Payload, PortalPage};
use dx_model::rng::Stream;

const MINUTE: i64 = 60_000;
/// Japan's population at scale 1.0 (FACTS), and its share aged 65 and over.
const POPULATION: f64 = 123.8e6;
const ELDERLY_SHARE: f64 = 0.293;
/// Share of girls among children (births: ≈105 boys to 100 girls).
const FEMALE_SHARE: f64 = 100.0 / 205.0;
/// Standard weeks of the 14 publicly funded prenatal checkups.
const PRENATAL_WEEKS: [i64; 14] = [12, 16, 20, 24, 26, 28, 30, 32, 34, 36, 37, 38, 39, 40];
/// Infant checkups held by the municipality, in days of age (4, 18 and 36 months).
const INFANT_CHECKUP_DAYS: [i64; 3] = [122, 548, 1096];
/// Pages of the portal and their share of reads.
const PORTAL_PAGES: [(PortalPage, f64); 6] = [
    (PortalPage::Medications, 0.35),
    (PortalPage::Checkups, 0.2),
    (PortalPage::Vaccinations, 0.15),
    (PortalPage::AccessLog, 0.1),
    (PortalPage::Applications, 0.1),
    (PortalPage::Care, 0.1),
];
const APPLICATIONS: [ApplicationKind; 3] = [
    ApplicationKind::VaccinationVoucher,
    ApplicationKind::MedicalSubsidy,
    ApplicationKind::CareCertification,
];

/// Flu doses per person and season at `age` (at most one each): the routine doses of persons
/// 65 and over, and the others' voluntary doses, from the scenario's yearly totals.
pub fn flu_uptake(age: u32, m: &dx_scenario::MunicipalSection) -> f64 {
    let p = if age >= 65 {
        m.flu_elderly_doses_per_year.get() / (POPULATION * ELDERLY_SHARE)
    } else {
        (m.flu_doses_per_year.get() - m.flu_elderly_doses_per_year.get())
            / (POPULATION * (1.0 - ELDERLY_SHARE))
    };
    p.min(1.0)
}

/// Routine childhood doses per child, summed over the vaccine table with each uptake.
pub fn childhood_doses_per_child() -> f64 {
    VACCINES
        .iter()
        .filter_map(|v| match v.programme {
            Programme::Childhood {
                doses,
                females_only,
                uptake,
            } => Some(uptake * doses.len() as f64 * if females_only { FEMALE_SHARE } else { 1.0 }),
            _ => None,
        })
        .sum()
}

/// Days of routine childhood doses given in the period: each weekday carries its own due doses
/// and those of the weekend and holidays before it, given 09:30–16:30 (the share of that window
/// inside the period counts).
pub fn childhood_dose_days(ctx: &GenContext) -> f64 {
    let weekday = |d: NaiveDate| matches!(ctx.calendar.day_kind(d), DayKind::Weekday(_));
    ctx.days
        .iter()
        .filter(|day| weekday(day.date))
        .map(|day| {
            let mut carried = 1.0;
            let mut d = day.date - TimeDelta::days(1);
            while !weekday(d) {
                carried += 1.0;
                d -= TimeDelta::days(1);
            }
            let (from, to) = (
                day.midnight_ms + 9 * HOUR + 30 * MINUTE,
                day.midnight_ms + 16 * HOUR + 30 * MINUTE,
            );
            let inside = (to.min(ctx.end_ms) - from.max(ctx.start_ms)).max(0) as f64;
            carried * inside / (to - from) as f64
        })
        .sum()
}

/// The first weekday on or after `d`.
fn weekday_from(ctx: &GenContext, mut d: NaiveDate) -> NaiveDate {
    while !matches!(ctx.calendar.day_kind(d), DayKind::Weekday(_)) {
        d += TimeDelta::days(1);
    }
    d
}

/// Where a municipality stands in the queue of those joining the exchange, in [0, 1): the
/// lowest ranks join first.
pub fn municipality_rank(code: &str) -> f64 {
    dx_model::rng::unit_of(dx_model::rng::code_hash(0x6d75_6e69, code))
}

/// The municipality's upload of paper records: 09:00 JST of the first weekday at least two
/// days after the dose.
fn upload_after(ctx: &GenContext, at_ms: i64) -> i64 {
    let d = weekday_from(ctx, GenContext::date_of(at_ms) + TimeDelta::days(2));
    jst_ms(d.and_hms_opt(9, 0, 0).expect("09:00"))
}

/// When the municipality decides an application filed at `at_ms`: a third of those filed on a
/// weekday morning the same day, 1–3 hours later; the rest on a weekday 1–5 days later, in
/// office hours.
fn office_day_after(ctx: &GenContext, at_ms: i64, r: &mut Stream) -> i64 {
    let filed = GenContext::date_of(at_ms);
    let hour = (at_ms - jst_ms(filed.and_hms_opt(0, 0, 0).expect("midnight"))) / HOUR;
    if matches!(ctx.calendar.day_kind(filed), DayKind::Weekday(_))
        && hour < 14
        && r.chance(1.0 / 3.0)
    {
        return at_ms + HOUR + r.below(120) as i64 * MINUTE;
    }
    let d = weekday_from(ctx, filed + TimeDelta::days(1 + r.below(5) as i64));
    jst_ms(d.and_hms_opt(9, 0, 0).expect("09:00")) + r.below(7 * 60) as i64 * MINUTE
}

pub struct MunicipalFlow;

impl MunicipalFlow {
    /// A dose given at `at`: recorded online by a connected clinic after a consenting card check
    /// and a history read (or schedule check), or uploaded in the municipality's weekly batch.
    fn dose(
        person: &PersonRow,
        vaccine: &'static str,
        at: i64,
        schedule: bool,
        ctx: &GenContext,
        r: &mut Stream,
        out: &mut Emitter<'_>,
    ) {
        let flow = FlowName::Vaccination;
        let clinic = ctx.facilities.pick(person.prefecture, Desk::Clinic, r);
        let online = clinic.filter(|c| {
            ctx.connected(c, at)
                && person.card_serial.is_some()
                && r.chance(ctx.scenario.municipal.online_record_share.get())
        });
        if let Some(c) = online {
            if !out.inside(at) {
                // Recorded online before the period: nothing reaches it.
                return;
            }
            let verify = Payload::Verify { consent: true };
            let check = out.emit(flow, at, &c.code, verify, |e| {
                e.card_serial = person.card_serial.clone();
            });
            let read = if schedule {
                Payload::VaccinationSchedule
            } else {
                Payload::VaccinationRead
            };
            out.emit(flow, at + MINUTE, &c.code, read, |e| e.needs = Some(check));
            let record = Payload::VaccinationRecord {
                vaccine: vaccine.into(),
            };
            out.emit(flow, at + 15 * MINUTE, &c.code, record, |_| {});
        } else {
            let upload = upload_after(ctx, at);
            let days_ago = (GenContext::date_of(upload) - GenContext::date_of(at)).num_days();
            let dose = Payload::VaccinationBatch {
                vaccine: vaccine.into(),
                days_ago: days_ago as u8,
            };
            out.emit(flow, upload, &person.municipality, dose, |_| {});
        }
    }

    fn vaccinations(person: &PersonRow, ctx: &GenContext, r: &mut Stream, out: &mut Emitter<'_>) {
        let uptake = flu_uptake(person.age, &ctx.scenario.municipal);
        let x = r.unit();
        let mut reach = uptake * ctx.municipal.flu_share();
        if x < reach {
            let at = ctx.arrival(Desk::Clinic, r);
            out.counts.flu_doses += 1;
            Self::dose(person, "influenza", at, false, ctx, r, out);
        } else {
            // A dose on one of the days before the period, which reaches it only in the
            // municipality's batch upload of the paper records.
            for &(midnight, share) in ctx.municipal.flu_before() {
                reach += uptake * share;
                if x < reach {
                    let at = midnight + 9 * HOUR + 30 * MINUTE + r.below(7 * 60) as i64 * MINUTE;
                    Self::dose(person, "influenza", at, false, ctx, r, out);
                    break;
                }
            }
        }
        if person.age >= 17 {
            return;
        }
        let birth = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
            + TimeDelta::days(i64::from(person.birth_date));
        for v in VACCINES {
            let Programme::Childhood {
                doses,
                females_only,
                uptake,
            } = v.programme
            else {
                continue;
            };
            if (females_only && person.sex != Sex::Female) || !r.chance(uptake) {
                continue;
            }
            let delay = r.below(14) as i64;
            for d in doses {
                let due = birth + TimeDelta::days(i64::from(d.standard_age) + delay);
                let at_of = |day: NaiveDate| jst_ms(day.and_hms_opt(0, 0, 0).expect("midnight"));
                // Doses before the period still reach it in an upload.
                if at_of(due) < ctx.start_ms - UPLOAD_REACH_DAYS * 24 * HOUR
                    || at_of(due) >= ctx.end_ms
                {
                    continue;
                }
                let day = weekday_from(ctx, due);
                let at = at_of(day) + 9 * HOUR + 30 * MINUTE + r.below(7 * 60) as i64 * MINUTE;
                out.counts.childhood_doses += u64::from(out.inside(at));
                Self::dose(person, v.code, at, true, ctx, r, out);
            }
        }
    }

    fn maternal(person: &PersonRow, ctx: &GenContext, r: &mut Stream, out: &mut Emitter<'_>) {
        let flow = FlowName::Maternal;
        if person.pregnant {
            let due = ctx.municipal.life.pregnancy(person.index).expected_delivery;
            for w in PRENATAL_WEEKS {
                let day = weekday_from(ctx, due - TimeDelta::days((40 - w) * 7));
                let at = jst_ms(day.and_hms_opt(9, 0, 0).expect("09:00"))
                    + r.below(8 * 60) as i64 * MINUTE;
                if !out.inside(at) {
                    continue;
                }
                let desk = if r.chance(0.5) {
                    Desk::Hospital
                } else {
                    Desk::Clinic
                };
                if let Some(f) = ctx.facilities.pick(person.prefecture, desk, r) {
                    let checkup = Payload::PrenatalCheckup {
                        gestational_weeks: w as u8,
                    };
                    out.emit(flow, at, &f.code, checkup, |_| {});
                }
            }
        }
        if person.age < 4 {
            let birth = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
                + TimeDelta::days(i64::from(person.birth_date));
            for age in INFANT_CHECKUP_DAYS {
                let day = weekday_from(ctx, birth + TimeDelta::days(age + r.below(21) as i64));
                let at = jst_ms(day.and_hms_opt(13, 30, 0).expect("13:30"))
                    + r.below(150) as i64 * MINUTE;
                if out.inside(at) {
                    out.emit(
                        flow,
                        at,
                        &person.municipality,
                        Payload::InfantCheckup,
                        |_| {},
                    );
                }
            }
        }
    }

    fn care(person: &PersonRow, ctx: &GenContext, r: &mut Stream, out: &mut Emitter<'_>) {
        let flow = FlowName::Care;
        let Some(cert) = ctx
            .municipal
            .life
            .care(person.index, person.ltc_level, person.prefecture)
        else {
            return;
        };
        // Reads by the care provider on weekdays, `care_reads_per_month` a month.
        if let Some(provider) = &cert.care_provider {
            for day in &ctx.days {
                if !matches!(ctx.calendar.day_kind(day.date), DayKind::Weekday(_)) {
                    continue;
                }
                let mean = ctx.scenario.municipal.care_reads_per_month.get() * 12.0 / 245.0;
                for _ in 0..poisson(r, mean) {
                    let at = day.midnight_ms + 9 * HOUR + r.below(8 * 60) as i64 * MINUTE;
                    if day.date <= cert.valid_to {
                        out.emit(flow, at, provider, Payload::CareRead, |_| {});
                    }
                }
            }
        }
        // The renewal, decided 30 days before the certification ends.
        let decided = cert.valid_to - TimeDelta::days(30);
        let at =
            jst_ms(decided.and_hms_opt(10, 0, 0).expect("10:00")) + r.below(6 * 60) as i64 * MINUTE;
        if out.inside(at) && matches!(ctx.calendar.day_kind(decided), DayKind::Weekday(_)) {
            let from = cert.valid_to + TimeDelta::days(1);
            let to = from + Months::new(24) - TimeDelta::days(1);
            let level = CareLevel::from_number(person.ltc_level).unwrap_or(CareLevel::Care1);
            let certify = Payload::CareCertify {
                level,
                valid_from: from,
                valid_to: to,
            };
            out.emit(flow, at, &person.municipality, certify, |_| {});
        }
    }

    fn portal(person: &PersonRow, ctx: &GenContext, r: &mut Stream, out: &mut Emitter<'_>) {
        let flow = FlowName::Portal;
        let p = &ctx.scenario.portal;
        let rates = &ctx.municipal;
        if person.card_serial.is_none() {
            return;
        }
        let reads = poisson(
            r,
            p.reads_per_holder_per_year.get() * rates.portal_year_fraction,
        );
        for _ in 0..reads {
            let at = rates.portal_time((ctx.start_ms, ctx.end_ms), r);
            let mut u = r.unit();
            let mut page = PORTAL_PAGES[0].0;
            for (name, share) in PORTAL_PAGES {
                if u < share {
                    page = name;
                    break;
                }
                u -= share;
            }
            if page == PortalPage::Care && person.ltc_level == 0 {
                page = PortalPage::Medications;
            }
            out.emit(flow, at, "", Payload::PortalRead { page }, |_| {});
        }
        let per_person = p.applications_per_year.get() / POPULATION;
        if poisson(r, per_person * rates.portal_year_fraction) > 0 {
            let at = rates.portal_time((ctx.start_ms, ctx.end_ms), r);
            let kind = if person.age >= 65 && person.ltc_level == 0 {
                APPLICATIONS[2]
            } else {
                APPLICATIONS[r.below(2) as usize]
            };
            let filed = out.emit(flow, at, "", Payload::PortalApply { kind }, |_| {});
            let decided = office_day_after(ctx, at, r);
            let decide = Payload::ApplicationDecide;
            out.emit(flow, decided, &person.municipality, decide, |e| {
                e.needs = Some(filed);
            });
        }
    }
}

/// A weekday's office hours from `day` on (09:00–17:00), as an instant.
fn office_time(ctx: &GenContext, day: NaiveDate, r: &mut Stream) -> i64 {
    let d = weekday_from(ctx, day);
    jst_ms(d.and_hms_opt(9, 0, 0).expect("09:00")) + r.below(8 * 60) as i64 * MINUTE
}

impl MunicipalFlow {
    /// What the municipality registers for a resident: a pregnancy notification (妊娠届) once a
    /// pregnancy is confirmed, at the yearly birth rate of the woman's age (a notification per
    /// birth: FACTS' 0.72 M a year); a child's medical subsidy (local law 88) after the birth; the
    /// yearly renewal of a child's subsidy (to 14) or of an intractable-disease certificate (law
    /// 54, 1.08 M recipients). From then on the counters' eligibility checks return them.
    fn registrations(person: &PersonRow, ctx: &GenContext, r: &mut Stream, out: &mut Emitter<'_>) {
        let life = &ctx.municipal.life;
        let (first, last) = (ctx.days[0].date, ctx.days.last().expect("a day").date);
        let rates = &ctx.municipal;
        if person.sex == Sex::Female
            && !person.pregnant
            && r.chance(
                dx_population::tables::birth_rate(person.age) * rates.office_year_fraction(),
            )
        {
            if let Some(at) = rates.office_time(r) {
                let notice = Payload::PregnancyRegister {
                    confirmed_days_ago: 7 + r.below(21) as u8,
                    term_days: dx_population::life::CONFIRMED_TO_DUE_DAYS as u16,
                };
                out.emit(FlowName::Maternal, at, &person.municipality, notice, |_| {});
            }
        }
        let Some(law) = person
            .public_expense
            .as_deref()
            .filter(|l| ["54", "88"].contains(l))
        else {
            return;
        };
        let birth = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
            + TimeDelta::days(i64::from(person.birth_date));
        let register = |from: NaiveDate, on: NaiveDate, r: &mut Stream, out: &mut Emitter<'_>| {
            let at = office_time(ctx, on, r);
            if out.inside(at) {
                let from_days = (from - GenContext::date_of(at)).num_days() as i16;
                let entitlement = Payload::EntitlementRegister {
                    law: law.to_owned(),
                    from_days,
                };
                out.emit(
                    FlowName::Entitlement,
                    at,
                    &person.municipality,
                    entitlement,
                    |_| {},
                );
            }
        };
        // A child's subsidy, registered after the birth notification.
        if law == "88" {
            let registered = life.subsidy_registered(person.index, birth);
            if registered > life.as_of && (first..=last).contains(&registered) {
                register(birth, registered, r, out);
            }
        }
        // Yearly renewals, registered 1–30 days before the new certificate starts; a child's
        // subsidy ends at 15.
        let reach = last + TimeDelta::days(31);
        for renewal in life.renewals(person.index, first, reach) {
            let adult = law == "88" && renewal >= birth + Months::new(12 * CHILD_SUBSIDY_UNTIL_AGE);
            if renewal <= life.as_of || renewal <= birth || adult {
                continue;
            }
            // A working day among the 30 before (drawn again while it falls on a day off).
            let mut on = renewal - TimeDelta::days(1 + r.below(30) as i64);
            for _ in 0..16 {
                if matches!(ctx.calendar.day_kind(on), DayKind::Weekday(_)) {
                    break;
                }
                on = renewal - TimeDelta::days(1 + r.below(30) as i64);
            }
            register(renewal, on, r, out);
        }
    }
}

/// A child's medical subsidy runs to the 15th birthday (`tables::CHILD_SUBSIDY_MAX_AGE` 14).
const CHILD_SUBSIDY_UNTIL_AGE: u32 = dx_population::tables::CHILD_SUBSIDY_MAX_AGE + 1;

impl Flow for MunicipalFlow {
    fn name(&self) -> &'static str {
        "municipal"
    }

    fn emit(&self, person: &PersonRow, ctx: &GenContext, out: &mut Emitter<'_>) {
        // Participation may grow over the period: the residents' requests start when their
        // municipality joins.
        let Some(joined) = ctx.municipal_joins(municipality_rank(&person.municipality)) else {
            return;
        };
        let mut r = Stream::from_key(ctx.stream_keys.municipal, person.index);
        out.from_instant(joined, |out| {
            Self::vaccinations(person, ctx, &mut r, out);
            Self::maternal(person, ctx, &mut r, out);
            Self::care(person, ctx, &mut r, out);
            Self::portal(person, ctx, &mut r, out);
            Self::registrations(person, ctx, &mut r, out);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::{Facilities, PersonRow};

    fn person(index: u64, sex: Sex, birth: NaiveDate, law: Option<&str>) -> PersonRow {
        PersonRow {
            sex,
            birth_date: (birth - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32,
            public_expense: law.map(str::to_owned),
            ..PersonRow::sample(index)
        }
    }

    /// Thirty days of November with every municipality taking part: women of 30 notify
    /// pregnancies at their yearly birth rate over the office hours of the period, children and
    /// intractable-disease recipients renew once a year, a child born after the population's
    /// date has the subsidy registered after the birth, and a child of 15 no more.
    #[test]
    fn municipalities_register_pregnancies_and_entitlements_at_their_rates() {
        let mut s = dx_scenario::Scenario::national(0.0001);
        s.municipal.participation = dx_scenario::values::Share::new(1.0).unwrap();
        s.period.start = NaiveDate::from_ymd_opt(2025, 11, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        s.period.hours = dx_scenario::values::Hours::new(30.0 * 24.0).unwrap();
        let ctx = GenContext::new(&s, Facilities::default());
        let fraction = ctx.municipal.office_year_fraction();
        // 18 working days of 8 hours (two holidays in November 2025), of a year's 245.
        assert!((0.07..0.075).contains(&fraction), "{fraction}");
        let count = |rows: &[PersonRow]| {
            let mut n = [0usize; 2];
            for p in rows {
                let mut out = Emitter::new(p, &ctx);
                MunicipalFlow.emit(p, &ctx, &mut out);
                for e in &out.events {
                    match e.payload {
                        Payload::PregnancyRegister { .. } => n[0] += 1,
                        Payload::EntitlementRegister { .. } => n[1] += 1,
                        _ => {}
                    }
                }
            }
            n
        };
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let women: Vec<PersonRow> = (0..40_000)
            .map(|i| PersonRow {
                age: 30,
                ..person(i, Sex::Female, d(1995, 6, 1), None)
            })
            .collect();
        let want = 40_000.0 * dx_population::tables::birth_rate(30) * fraction;
        let [pregnancies, _] = count(&women);
        assert!(
            (pregnancies as f64 - want).abs() < 4.0 * want.sqrt(),
            "{pregnancies} notifications, {want:.0} expected"
        );
        let men: Vec<PersonRow> = women
            .iter()
            .map(|p| PersonRow {
                sex: Sex::Male,
                ..p.clone()
            })
            .collect();
        assert_eq!(count(&men), [0, 0]);
        // One renewal a year each, registered on a working day of the 30 before it.
        let holders: Vec<PersonRow> = (0..20_000)
            .map(|i| {
                let law = if i % 2 == 0 { "54" } else { "88" };
                person(100_000 + i, Sex::Male, d(2016, 2, 1), Some(law))
            })
            .collect();
        let [_, renewals] = count(&holders);
        let want = 20_000.0 * fraction;
        assert!(
            (renewals as f64 - want).abs() < 4.0 * want.sqrt() + 0.05 * want,
            "{renewals} renewals, {want:.0} expected"
        );
        // Children born in October: their subsidies registered 7–28 days after the birth, those
        // after the population's date (1 October 2025) inside November.
        let newborns: Vec<PersonRow> = (0..2_000)
            .map(|i| person(200_000 + i, Sex::Female, d(2025, 10, 20), Some("88")))
            .collect();
        let [_, subsidies] = count(&newborns);
        let life = &ctx.municipal.life;
        let in_november = newborns
            .iter()
            .filter(|p| life.subsidy_registered(p.index, d(2025, 10, 20)) >= d(2025, 11, 1))
            .count();
        assert!(
            subsidies >= in_november && in_november > 500,
            "{subsidies} {in_november}"
        );
        // Turning 15 before the renewal: no renewal of a child's subsidy.
        let fifteen: Vec<PersonRow> = (0..2_000)
            .map(|i| person(300_000 + i, Sex::Male, d(2010, 10, 15), Some("88")))
            .collect();
        assert_eq!(count(&fifteen)[1], 0);
    }
}
