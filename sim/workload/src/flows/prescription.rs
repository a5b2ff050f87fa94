//! A prescription and what follows it: the prescriber's duplicate pre-check (after verbal consent
//! when the card reader did not take it) and registration — electronic, in-hospital, or none for
//! paper — a cancellation now and then, the pharmacy visit hours later (checks, retrieval by access
//! code and dispensing, or a paper dispensing result), and the later uses of a refill.

use super::super::calendar::Desk;
use super::super::model::VisitKind;
use super::base::{Facility, PersonRow, stochastic_round};
use super::context::GenContext;
use super::emit::Emitter;
use super::ident::{Ident, identify};
use dx_exchange::wire::PrescriptionKind;
use dx_model::event::{DrugLine, Flow as FlowName, Payload};
use dx_model::rng::Stream;

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

/// The drug lines of a prescription: each drug's days of supply, one unit a day.
fn drug_lines(lines: &[(String, u16)]) -> Vec<DrugLine> {
    lines
        .iter()
        .map(|(code, days)| DrugLine {
            code: code.clone(),
            days: *days,
            quantity: u32::from(*days),
        })
        .collect()
}

/// How the visit before a prescription verified the patient's eligibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verified {
    /// Not at all (the facility is not connected, or it did not check).
    No,
    /// By card or insurance number, without consent at the card reader.
    Yes,
    /// By card, with consent given at the card reader.
    WithCardConsent,
}

/// Issues a prescription at `issued_ms` after a visit, with everything that follows it.
pub fn issue(
    person: &PersonRow,
    prescriber: &Facility,
    kind: VisitKind,
    issued_ms: i64,
    verified: Verified,
    ctx: &GenContext,
    out: &mut Emitter<'_>,
) {
    let rates = &ctx.scenario.rates;
    let mut rng = Stream::from_key(
        ctx.stream_keys.prescription,
        dx_model::rng::splitmix64(person.index) ^ issued_ms as u64,
    );
    out.counts.prescriptions += 1;
    let flu = super::super::calendar::Calendar::in_flu_season(GenContext::date_of(issued_ms));
    let (lines, long_term) = ctx.drugs.choose(person, kind, flu, &mut rng);
    let drugs = drug_lines(&lines);
    let outside = rng.chance(rates.outside_share.get());
    let here = &prescriber.code;
    let runs = ctx.runs_eprescription(prescriber, issued_ms);
    if runs && rng.chance(rates.duplicate_check_share.get()) {
        // Verbal consent is asked for at a visit whose verification took no consent at the card
        // reader; the exchange takes it only after a verification the same day.
        let asked = verified != Verified::WithCardConsent && rng.chance(0.5);
        if asked && verified == Verified::Yes {
            out.emit(
                FlowName::Visit,
                issued_ms - 2 * MINUTE,
                here,
                Payload::Consent,
                |_| {},
            );
        }
        let check = Payload::Check {
            drugs: drugs.clone(),
        };
        out.emit(FlowName::Visit, issued_ms - MINUTE, here, check, |_| {});
    }
    let electronic = outside
        && runs
        && person.insurance.is_some()
        && rng.chance(ctx.electronic_share(issued_ms));
    let register = |out: &mut Emitter<'_>, at: i64, kind: PrescriptionKind, uses: u8| {
        let payload = Payload::Register {
            kind,
            uses,
            drugs: drugs.clone(),
        };
        out.emit(FlowName::Visit, at, here, payload, |e| {
            e.insurance = person.insurance.clone();
        })
    };
    out.note(
        issued_ms,
        super::base::Note::Prescription {
            outside,
            electronic,
        },
    );
    if !outside {
        // The document names the insurer; persons on public assistance alone are left out.
        if runs && person.insurance.is_some() {
            register(out, issued_ms, PrescriptionKind::InHospital, 1);
        }
        return;
    }
    let mut registration = None;
    let mut uses = 1;
    if electronic {
        out.counts.electronic_prescriptions += 1;
        if long_term && rng.chance(ctx.refill_share(issued_ms)) {
            uses = 2 + rng.below(2) as u8;
        }
        let mut reg = register(out, issued_ms, PrescriptionKind::Electronic, uses);
        if rng.chance(rates.cancel_share.get()) {
            // A mistake noticed at once: cancelled, then issued again.
            out.emit(
                FlowName::Visit,
                issued_ms + 2 * MINUTE,
                here,
                Payload::Cancel,
                |e| e.needs = Some(reg),
            );
            reg = register(
                out,
                issued_ms + 3 * MINUTE,
                PrescriptionKind::Electronic,
                uses,
            );
        }
        registration = Some(reg);
    }
    // The pharmacy, later the same day.
    let pharmacy = person
        .usual_pharmacy
        .as_deref()
        .filter(|_| rng.chance(0.7))
        .and_then(|c| ctx.facilities.by_code(c))
        .or_else(|| {
            ctx.facilities
                .pick(person.prefecture, Desk::Pharmacy, &mut rng)
        });
    let Some(pharmacy) = pharmacy else {
        return;
    };
    let arrive = issued_ms + (20 + rng.below(101) as i64) * MINUTE;
    let supply = lines.iter().map(|(_, d)| i64::from(*d)).max().unwrap_or(1);
    let mut day_ms = arrive;
    for use_number in 1..=uses {
        let flow = if use_number == 1 {
            FlowName::Visit
        } else {
            FlowName::Refill
        };
        let at = if use_number == 1 {
            arrive
        } else {
            // The next use is planned at the last dispensing plus its supply; people come a few
            // days early, in pharmacy hours.
            let planned = day_ms + (supply - rng.below(4) as i64) * DAY;
            let midnight = planned - (planned + 9 * 3_600_000).rem_euclid(DAY);
            midnight + 9 * 3_600_000 + rng.below(9 * 60) as i64 * MINUTE
        };
        day_ms = at;
        out.counts.pharmacy_visits += u64::from(out.inside(at));
        let ident = identify(person, ctx.card_use(Desk::Pharmacy, at), &mut rng);
        if ctx.connected(pharmacy, at) && ident != Ident::None {
            for n in 0..stochastic_round(&mut rng, ctx.model.pharmacy_checks) {
                let t = at + i64::from(n) * (3 + rng.below(10) as i64) * MINUTE;
                let verify = Payload::Verify { consent: false };
                out.emit(flow, t, &pharmacy.code, verify, |e| ident.apply(e));
            }
        }
        let done = at + (5 + rng.below(16) as i64) * MINUTE;
        match registration {
            Some(reg) => {
                let ident = match &ident {
                    Ident::None => {
                        Ident::Number(person.insurance.clone().expect("electronic needs one"))
                    }
                    i => i.clone(),
                };
                let retrieved = out.emit(
                    flow,
                    at + 2 * MINUTE,
                    &pharmacy.code,
                    Payload::Retrieve,
                    |e| {
                        e.needs = Some(reg);
                        ident.apply(e);
                    },
                );
                let dispense = Payload::Dispense {
                    drugs: drugs.clone(),
                };
                out.emit(flow, done, &pharmacy.code, dispense, |e| {
                    e.needs = Some(retrieved);
                });
            }
            None if ctx.runs_eprescription(pharmacy, at) && ident != Ident::None => {
                let paper = Payload::PaperDispense {
                    prescriber: here.clone(),
                    drugs: drugs.clone(),
                };
                out.emit(flow, done, &pharmacy.code, paper, |e| ident.apply(e));
            }
            None => {}
        }
    }
}
