//! The published guides' element rules ([`dx_protocol::wire::guides::rules`]), each as a check:
//! a payload that breaks the rule — and nothing else — is refused as docs/api.md says, at the
//! element, and stores nothing. The rules are data derived from the guides' profiles (or, where
//! the FSH states them through slices and bindings, transcribed beside them); no check here
//! writes one of its own. A rule gives a check where the suite's payload holds something to
//! break it in (its element's parent).

use super::ehr::{diagnosis, hba1c, items_bundle, lab, submit_items};
use super::prescription::prescriptions_stored;
use crate::check::{Check, CheckFuture, Ctx};
use crate::finding::{Finding, Outcome, ensure, error};
use dx_protocol::wire::clins::ItemsDraft;
use dx_protocol::wire::clins::{FOOD_ALLERGEN_SYSTEM, Fact};
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::fhir::PrescriptionDraft;
use dx_protocol::wire::guides::rules::{self, Rule};
use serde_json::Value;

/// The rules of `rules` that something in one of `examples` can break.
fn breakable(rules: &'static [Rule], examples: Vec<Value>) -> impl Iterator<Item = &'static Rule> {
    rules.iter().filter(move |r| {
        examples
            .iter()
            .any(|e| r.break_in(&mut e.clone()).is_some())
    })
}

pub fn checks() -> Vec<Check> {
    let prescription = PrescriptionDraft::example().to_bundle();
    let prescriptions = breakable(rules::prescription(), vec![prescription]).map(|r| {
        rule_check("eprescription", "prescription", r, |c, r| {
            Box::pin(prescription_breaks(c, r))
        })
    });
    let visit = ItemsDraft::example().by_category();
    let items = breakable(
        rules::items(),
        visit.iter().map(ItemsDraft::to_bundle).collect(),
    );
    let items = items.map(|r| {
        rule_check("ehr-items", "6-item submission", r, |c, r| {
            Box::pin(items_break(c, r))
        })
    });
    prescriptions.chain(items).collect()
}

fn rule_check(
    group: &str,
    payload: &str,
    rule: &'static Rule,
    run: for<'a> fn(&'a Ctx, &'static Rule) -> CheckFuture<'a>,
) -> Check {
    Check {
        id: format!("{group}.guide-{}", rule.id).into(),
        title: format!("A {payload} breaking {}.{} is refused", rule.profile, rule.element).into(),
        rule: format!(
            "{} {}: {}.{} must be {}; a {payload} that breaks it is {} {} naming the element, and stores nothing",
            rule.guide.name,
            rule.guide.version,
            rule.profile,
            rule.element,
            rule.wants(),
            rule.answer.status(),
            rule.answer.code()
        )
        .into(),
        source: format!("{}; docs/api.md § The published guides", rule.cite()).into(),
        run: Box::new(move |c| run(c, rule)),
    }
}

/// The refusal names the element broken: its field is the broken resource's path and the
/// element's first step, at least.
fn names_element(ex: &crate::target::Exchange, at: &str) -> Outcome {
    let want: String = match at.find(".resource.") {
        Some(i) => {
            let rest = &at[i + ".resource.".len()..];
            let first = rest.split(['.', '[']).next().unwrap_or(rest);
            format!("{}{first}", &at[..i + ".resource.".len()])
        }
        None => at.split(['.', '[']).take(2).collect::<Vec<_>>().join("."),
    };
    let field = ex.text("/error/field");
    ensure(
        field.starts_with(&want),
        ex,
        format!("the refusal's field names the element ({want}…), not {field:?}"),
    )
}

async fn prescription_breaks(c: &Ctx, rule: &'static Rule) -> Outcome {
    let p = c.fx.person(&c.t, 47, false).await?;
    let mut at = None;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |b| {
            at = rule.break_in(b);
        })
        .await?;
    let at =
        at.ok_or_else(|| Finding::Error(format!("rule {} found nothing to break", rule.id)))?;
    let before = prescriptions_stored(c).await?;
    let tok = c.facility(&c.fx.clinic).await?;
    let ex = c.t.post::<ep::RegisterPrescription>(&tok, &body).await?;
    error(&ex, rule.answer.status(), rule.answer.code())?;
    names_element(&ex, &at)?;
    let after = prescriptions_stored(c).await?;
    ensure(
        after == before,
        &ex,
        format!("no prescription stored (the store held {before}, now {after})"),
    )
}

async fn items_break(c: &Ctx, rule: &'static Rule) -> Outcome {
    let p = c.fx.person(&c.t, 52, true).await?;
    // One category per Bundle: the one the rule is about (a diagnosis for the Bundle's rules).
    let facts = match rule.resource {
        "Observation" => vec![(lab(hba1c(), 6.2), false)],
        "AllergyIntolerance" => vec![(
            Fact::Allergy {
                system: FOOD_ALLERGEN_SYSTEM.into(),
                code: "J9FB13110000".into(),
            },
            false,
        )],
        _ => vec![(diagnosis("I10"), false)],
    };
    let mut b = items_bundle(c, &c.fx.clinic, &p, facts).await?;
    let at = rule
        .break_in(&mut b)
        .ok_or_else(|| Finding::Error(format!("rule {} found nothing to break", rule.id)))?;
    let before = c.t.stats().await?["ehr_items"].as_u64();
    let ex = submit_items(c, &c.fx.clinic, b).await?;
    error(&ex, rule.answer.status(), rule.answer.code())?;
    names_element(&ex, &at)?;
    let after = c.t.stats().await?["ehr_items"].as_u64();
    ensure(
        before == after,
        &ex,
        format!("no item stored (the store held {before:?}, now {after:?})"),
    )
}
