//! EHR sharing (電子カルテ情報共有サービス) at facilities taking part ([`GenContext::runs_ehr`]):
//!
//! - at a visit ([`at_visit`], called by the visit flow): the clinical-summary read after the
//!   patient's consent at the card reader, the submission of the visit's 6 items, and from a
//!   clinic sometimes a referral letter to a hospital;
//! - [`EhrFlow`]: discharges (a discharge summary, sometimes followed by a referral letter back
//!   to the home clinic with the summary attached) and specific health checkups (a checkup
//!   report), at their published volumes;
//! - the addressee of a referral lists its inbox, reads the letter (and its attachment) and
//!   marks it received when the patient comes: the same day for 30%, otherwise 1–14 days later.
//!
//! Rates are in `[ehr]` of the scenario; derivations beside each field there.

use super::super::calendar::Desk;
use super::super::model::VisitKind;
use super::base::{Facility, PersonRow, poisson};
use super::context::GenContext;
use super::emit::{Emitter, Flow};
use dx_exchange::refdata::clinical::{DIAGNOSES, FOOD_ALLERGENS, LAB_TESTS, LabTest, Panel};
use dx_exchange::wire::clins::DocumentKind;
use dx_model::event::{Centi, FACT_CATEGORIES, Fact, FactLine, Flow as FlowName, Payload};
use dx_model::rng::Stream;

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn pick<'a, T>(rng: &mut Stream, list: &'a [T]) -> &'a T {
    &list[rng.below(list.len() as u64) as usize]
}

/// The diagnosis of a visit: a chronic one of the person's (fixed per person) if they have
/// conditions, otherwise an acute one; a cancer diagnosis is sometimes not yet told (undisclosed).
fn diagnosis(person: &PersonRow, rng: &mut Stream, out: &mut Vec<FactLine>) {
    let chronic: Vec<_> = DIAGNOSES.iter().filter(|d| d.2).collect();
    let acute: Vec<_> = DIAGNOSES.iter().filter(|d| !d.2).collect();
    let (code, long_term) = if person.conditions > 0 && rng.chance(0.8) {
        (
            chronic[(person.index % chronic.len() as u64) as usize].0,
            rng.chance(0.1),
        )
    } else {
        (pick(rng, &acute).0, false)
    };
    let undisclosed = code.starts_with('C') && rng.chance(0.3);
    out.push(FactLine {
        fact: Fact::Diagnosis {
            icd10: code.to_owned(),
        },
        undisclosed,
        long_term,
    });
}

/// A fact without flags.
fn plain(fact: Fact) -> FactLine {
    FactLine {
        fact,
        undisclosed: false,
        long_term: false,
    }
}

fn labs(panel: Panel, n: usize, rng: &mut Stream, out: &mut Vec<FactLine>) {
    let tests: Vec<&LabTest> = LAB_TESTS.iter().filter(|t| t.panel == panel).collect();
    let start = rng.below(tests.len() as u64) as usize;
    for t in tests.iter().cycle().skip(start).take(n.min(tests.len())) {
        if panel == Panel::Infection {
            out.push(plain(Fact::Infection {
                jlac10: t.code.to_owned(),
                positive: rng.chance(0.01),
            }));
        } else {
            // Mostly within the reference interval, some above it.
            let v = t.low + (t.high - t.low) * rng.unit() * 1.3;
            out.push(plain(Fact::Lab {
                jlac10: t.code.to_owned(),
                value: Centi::of(v),
            }));
        }
    }
}

/// The 6 items of one visit.
fn visit_facts(
    person: &PersonRow,
    desk: Desk,
    ctx: &GenContext,
    rng: &mut Stream,
) -> Vec<FactLine> {
    let e = &ctx.scenario.ehr;
    let mut out = Vec::new();
    diagnosis(person, rng, &mut out);
    if rng.chance(e.lab_share.get()) {
        let panel = if desk == Desk::Hospital {
            Panel::Emergency
        } else {
            Panel::Lifestyle
        };
        labs(panel, 3 + rng.below(4) as usize, rng, &mut out);
    }
    if desk == Desk::Hospital && rng.chance(0.05) {
        labs(Panel::Infection, 4, rng, &mut out);
    }
    if rng.chance(0.02) {
        let fact = if rng.chance(0.5) {
            Fact::FoodAllergy {
                allergen: pick(rng, FOOD_ALLERGENS).0.to_owned(),
            }
        } else {
            Fact::DrugAllergy {
                yj: pick(rng, &ctx.ehr.allergy_drugs).clone(),
            }
        };
        out.push(plain(fact));
    }
    if rng.chance(0.005) {
        out.push(plain(Fact::ContraindicatedDrug {
            yj: pick(rng, &ctx.ehr.contraindicated_drugs).clone(),
        }));
    }
    out
}

/// The addressee handles a referral (and its attachment) when the patient comes.
fn receive(
    addressee: &Facility,
    referral: u64,
    attachment: Option<u64>,
    flow: FlowName,
    sent: i64,
    rng: &mut Stream,
    out: &mut Emitter<'_>,
) {
    // Some patients go the same day (urgent referrals), most within two weeks.
    let t = if rng.chance(0.3) {
        sent + (60 + rng.below(180) as i64) * MINUTE
    } else {
        sent + (1 + rng.below(14) as i64) * DAY + rng.below(120) as i64 * MINUTE
    };
    let code = addressee.code.as_str();
    out.emit(flow, t, code, Payload::EhrInbox, |_| {});
    out.emit(flow, t + MINUTE, code, Payload::EhrRead, |e| {
        e.needs = Some(referral);
    });
    if let Some(a) = attachment {
        out.emit(flow, t + 2 * MINUTE, code, Payload::EhrRead, |e| {
            e.needs = Some(a);
        });
    }
    out.emit(flow, t + 3 * MINUTE, code, Payload::EhrReceive, |e| {
        e.needs = Some(referral);
    });
}

/// A document of the person at `facility`; returns its event id.
#[allow(clippy::too_many_arguments)]
fn document(
    person: &PersonRow,
    flow: FlowName,
    kind: DocumentKind,
    at: i64,
    facility: &str,
    addressee: Option<&str>,
    attachment: Option<u64>,
    facts: Vec<FactLine>,
    out: &mut Emitter<'_>,
) -> u64 {
    let payload = Payload::EhrDocument {
        kind,
        addressee: addressee.map(str::to_owned),
        facts,
    };
    out.emit(flow, at, facility, payload, |e| {
        e.insurance = person.insurance.clone();
        e.needs = attachment;
    })
}

/// What a visit at a facility taking part in EHR sharing adds: the summary read after consent
/// (`consent` is the consenting check's event), the 6 items, and from a clinic sometimes a
/// referral letter.
#[allow(clippy::too_many_arguments)]
pub fn at_visit(
    person: &PersonRow,
    facility: &Facility,
    kind: VisitKind,
    at: i64,
    consent: Option<u64>,
    ctx: &GenContext,
    rng: &mut Stream,
    out: &mut Emitter<'_>,
) {
    const FLOW: FlowName = FlowName::Visit;
    if kind == VisitKind::Dental || person.insurance.is_none() || !ctx.runs_ehr(facility, at) {
        return;
    }
    let e = &ctx.scenario.ehr;
    if let Some(c) = consent {
        if rng.chance(e.summary_read_share.get()) {
            let t = at + (2 + rng.below(9) as i64) * MINUTE;
            out.emit(FLOW, t, &facility.code, Payload::EhrSummary, |ev| {
                ev.needs = Some(c);
            });
        }
    }
    if !rng.chance(e.items_share.get()) {
        return;
    }
    let facts = visit_facts(person, facility.desk, ctx, rng);
    let done = at + (15 + rng.below(31) as i64) * MINUTE;
    // JP-CLINS: one Bundle per resource category, sent together.
    for category in FACT_CATEGORIES {
        let part: Vec<FactLine> = (facts.iter())
            .filter(|f| f.fact.resource_type() == category)
            .cloned()
            .collect();
        if part.is_empty() {
            continue;
        }
        out.emit(
            FLOW,
            done,
            &facility.code,
            Payload::EhrItems { facts: part },
            |ev| {
                ev.insurance = person.insurance.clone();
            },
        );
    }
    if kind == VisitKind::Clinic && rng.chance(e.referral_share.get()) {
        let Some(hospital) = ctx
            .facilities
            .pick(person.prefecture, Desk::Hospital, rng)
            .filter(|h| ctx.runs_ehr(h, done))
        else {
            return;
        };
        let diagnosis = facts.iter().take(1).cloned().collect();
        let id = document(
            person,
            FLOW,
            DocumentKind::Referral,
            done + MINUTE,
            &facility.code,
            Some(&hospital.code),
            None,
            diagnosis,
            out,
        );
        receive(hospital, id, None, FLOW, done, rng, out);
    }
}

/// Discharges and specific health checkups.
pub struct EhrFlow;

impl Flow for EhrFlow {
    fn name(&self) -> &'static str {
        "ehr"
    }

    fn emit(&self, person: &PersonRow, ctx: &GenContext, out: &mut Emitter<'_>) {
        if person.insurance.is_none() {
            return;
        }
        let mut rng = Stream::from_key(ctx.stream_keys.ehr ^ 0xd15c_4a26e, person.index);
        let e = &ctx.scenario.ehr;
        // Discharges: a person's visit rate times discharges per visit, on the hospital pattern.
        let mean = ctx.model.visits_per_year(person.age) * ctx.ehr.discharges_per_visit
            / ctx.year_divisor
            * ctx.mass(Desk::Hospital);
        for _ in 0..poisson(&mut rng, mean) {
            let at = ctx.arrival(Desk::Hospital, &mut rng);
            let Some(hospital) = ctx
                .facilities
                .pick(person.prefecture, Desk::Hospital, &mut rng)
                .filter(|h| ctx.runs_ehr(h, at))
            else {
                continue;
            };
            let mut facts = Vec::new();
            diagnosis(person, &mut rng, &mut facts);
            labs(Panel::Emergency, 4, &mut rng, &mut facts);
            let summary = document(
                person,
                FlowName::Discharge,
                DocumentKind::DischargeSummary,
                at,
                &hospital.code,
                None,
                None,
                facts,
                out,
            );
            if !rng.chance(e.discharge_referral_share.get()) {
                continue;
            }
            let Some(clinic) = person
                .home_clinic
                .as_deref()
                .and_then(|c| ctx.facilities.by_code(c))
                .filter(|c| ctx.runs_ehr(c, at))
            else {
                continue;
            };
            let sent = at + 10 * MINUTE;
            let referral = document(
                person,
                FlowName::Discharge,
                DocumentKind::Referral,
                sent,
                &hospital.code,
                Some(&clinic.code),
                Some(summary),
                Vec::new(),
                out,
            );
            receive(
                clinic,
                referral,
                Some(summary),
                FlowName::Discharge,
                sent,
                &mut rng,
                out,
            );
        }
        // Checkups: persons aged 40–74, on the clinic pattern weighted by the season.
        if (40..=74).contains(&person.age) {
            let mean = ctx.ehr.checkups_per_person_year / ctx.year_divisor * ctx.ehr.checkup_mass;
            for _ in 0..poisson(&mut rng, mean) {
                let at = ctx.arrival(Desk::Clinic, &mut rng);
                let desk = if rng.chance(0.7) {
                    Desk::Clinic
                } else {
                    Desk::Hospital
                };
                let Some(f) = ctx
                    .facilities
                    .pick(person.prefecture, desk, &mut rng)
                    .filter(|f| ctx.runs_ehr(f, at))
                else {
                    continue;
                };
                let mut facts = Vec::new();
                labs(Panel::Lifestyle, LAB_TESTS.len(), &mut rng, &mut facts);
                document(
                    person,
                    FlowName::Checkup,
                    DocumentKind::CheckupReport,
                    at,
                    &f.code,
                    None,
                    None,
                    facts,
                    out,
                );
            }
        }
    }
}
