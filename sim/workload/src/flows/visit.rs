//! The outpatient visit: the person arrives at a hospital, clinic or dental clinic (from their
//! age's visit rate and the desk's arrival pattern), is checked in (batch pre-check if booked,
//! card or insurance number at reception, again at payment), and may leave with a prescription,
//! which [`super::prescription`] carries on.

use super::super::calendar::Desk;
use super::super::model::VisitKind;
use super::base::{Facility, PersonRow, poisson, stochastic_round};
use super::context::GenContext;
use super::emit::{Emitter, Flow};
use super::ident::{Ident, identify};
use super::{ehr, prescription};
use dx_model::event::{Flow as FlowName, Payload};
use dx_model::rng::Stream;

pub struct VisitFlow;

const FLOW: FlowName = FlowName::Visit;
const MINUTE: i64 = 60_000;

fn desk(kind: VisitKind) -> Desk {
    match kind {
        VisitKind::Hospital => Desk::Hospital,
        VisitKind::Clinic => Desk::Clinic,
        VisitKind::Dental => Desk::Dental,
    }
}

/// Where a person goes for a visit of `kind`: mostly their home clinic for a clinic visit.
fn choose<'c>(
    person: &PersonRow,
    kind: VisitKind,
    ctx: &'c GenContext,
    rng: &mut Stream,
) -> Option<&'c Facility> {
    if kind == VisitKind::Clinic && rng.chance(0.75) {
        if let Some(f) = person
            .home_clinic
            .as_deref()
            .and_then(|c| ctx.facilities.by_code(c))
        {
            return Some(f);
        }
    }
    ctx.facilities.pick(person.prefecture, desk(kind), rng)
}

/// When a facility runs its batch pre-check of the day's booked patients: between 07:00 and
/// 08:00, fixed per facility and day so one request carries the whole list.
fn batch_time(facility: &str, day_midnight_ms: i64) -> i64 {
    let h = dx_model::rng::code_hash(day_midnight_ms as u64, facility);
    day_midnight_ms + 7 * 60 * MINUTE + (h % 60) as i64 * MINUTE
}

impl Flow for VisitFlow {
    fn name(&self) -> &'static str {
        "visit"
    }

    fn emit(&self, person: &PersonRow, ctx: &GenContext, out: &mut Emitter<'_>) {
        let model = &ctx.model;
        let mut rng = Stream::from_key(ctx.stream_keys.visit, person.index);
        let mut ehr_rng = Stream::from_key(ctx.stream_keys.ehr, person.index);
        let per_unit = model.visits_per_year(person.age) / ctx.year_divisor;
        for kind in VisitKind::ALL {
            let mean = per_unit * model.kind_share[kind.index()] * ctx.mass(desk(kind));
            for _ in 0..poisson(&mut rng, mean) {
                let at = ctx.arrival(desk(kind), &mut rng);
                let Some(facility) = choose(person, kind, ctx, &mut rng) else {
                    continue;
                };
                out.counts.visits += 1;
                let k = kind.index();
                let ident = identify(person, ctx.card_use(desk(kind), at), &mut rng);
                let mut verified = prescription::Verified::No;
                let mut consent_event = None;
                if ctx.connected(facility, at) && ident != Ident::None {
                    let midnight = ctx.days[((at - ctx.days[0].midnight_ms) / 86_400_000) as usize]
                        .midnight_ms;
                    if rng.chance(model.batch_checks[k]) {
                        // Booked: pre-checked with the day's batch, by insurance number or card.
                        let t = batch_time(&facility.code, midnight)
                            .max(ctx.start_ms)
                            .min(at);
                        out.emit(FLOW, t, &facility.code, Payload::Batch, |e| ident.apply(e));
                    }
                    let mut expected_checks = model.realtime_checks[k];
                    if matches!(ident, Ident::Number(_)) {
                        expected_checks *= super::super::calendar::Calendar::month_start_factor(
                            GenContext::date_of(at),
                        );
                    }
                    let checks = stochastic_round(&mut rng, expected_checks);
                    for n in 0..checks {
                        // The first at reception; any further one at payment, 20–60 min later.
                        let t = if n == 0 {
                            at
                        } else {
                            at + (20 + rng.below(41) as i64) * MINUTE
                        };
                        let consent = n == 0 && matches!(ident, Ident::Card(_)) && rng.chance(0.8);
                        verified = if consent {
                            prescription::Verified::WithCardConsent
                        } else {
                            verified.max(prescription::Verified::Yes)
                        };
                        let id =
                            out.emit(FLOW, t, &facility.code, Payload::Verify { consent }, |e| {
                                ident.apply(e)
                            });
                        if consent {
                            consent_event = Some(id);
                        }
                    }
                }
                ehr::at_visit(
                    person,
                    facility,
                    kind,
                    at,
                    consent_event,
                    ctx,
                    &mut ehr_rng,
                    out,
                );
                if rng.chance(model.prescribing(kind, person.age)) {
                    let issued = at + (10 + rng.below(31) as i64) * MINUTE;
                    prescription::issue(person, facility, kind, issued, verified, ctx, out);
                }
            }
        }
    }
}
