//! The guides' element rules as data: for each profile, the elements dxsim holds a payload to —
//! cardinality, fixed values, code systems, closed sets of codes — each with the guide, release,
//! profile and element it is transcribed from (the profiles' FSH in the guides' repositories;
//! [`Rule::cite`]). The exchange refuses a Bundle that breaks one, the conformance suite checks
//! what a target answers against them and derives a guide-violating payload from each
//! ([`Rule::break_in`]); neither writes a rule of its own.
//!
//! A rule holds where dxsim holds the payload to it; what the guides require and dxsim does not yet
//! send or check is listed in docs/api.md § The published guides.

use super::{
    CodeSystem, DOC_TYPE, E_PRESCRIPTION, Guide, HOT9, JAMI_USAGE, JP_CLINS, ORDER_IN_RP,
    RP_NUMBER, YJ,
};
use serde_json::Value;

/// How the exchange answers a payload that breaks a rule (docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `400 invalid_fhir`: the structure the profile requires.
    Invalid,
    /// `422 unknown_code_system`.
    UnknownSystem,
    /// `422 unknown_code`.
    UnknownCode,
}

impl Answer {
    pub fn status(self) -> u16 {
        match self {
            Answer::Invalid => 400,
            _ => 422,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Answer::Invalid => "invalid_fhir",
            Answer::UnknownSystem => "unknown_code_system",
            Answer::UnknownCode => "unknown_code",
        }
    }
}

/// What a rule requires of the values at its element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Cardinality: at least `min` values, at most `max` (`None`: unbounded).
    Card(usize, Option<usize>),
    /// Every value is this string.
    Fixed(&'static str),
    /// Every value starts with this.
    Prefix(&'static str),
    /// Every value is a URI of one of these code systems.
    Systems(&'static [CodeSystem]),
    /// At least one value is a URI of this code system (a required slice of a coding list).
    Includes(CodeSystem),
    /// Among the codings (`meta.tag`) of this system, every code is one of these (a closed
    /// slicing).
    Codes {
        system: &'static str,
        codes: &'static [&'static str],
    },
}

/// One element rule of one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, for checks and reports.
    pub id: &'static str,
    pub guide: Guide,
    pub profile: &'static str,
    /// The resource type it holds for (`Bundle`: the Bundle itself; else every entry of the type).
    pub resource: &'static str,
    /// The element, dotted from the resource as the profile names it (lists are walked through).
    pub element: &'static str,
    pub kind: Kind,
    pub answer: Answer,
}

const fn rule(
    id: &'static str,
    guide: Guide,
    profile: &'static str,
    resource: &'static str,
    element: &'static str,
    kind: Kind,
) -> Rule {
    let answer = match kind {
        Kind::Systems(_) => Answer::UnknownSystem,
        Kind::Codes { .. } => Answer::UnknownCode,
        _ => Answer::Invalid,
    };
    Rule {
        id,
        guide,
        profile,
        resource,
        element,
        kind,
        answer,
    }
}

use Kind::{Card, Codes, Fixed, Includes, Prefix, Systems};

const EP: Guide = E_PRESCRIPTION;
const BUNDLE: &str = "JP_Bundle_ePrescriptionData";
const COMPOSITION: &str = "JP_Composition_ePrescriptionData";
const COVERAGE: &str = "JP_Coverage_ePrescriptionData_insurance";
const ORGANIZATION: &str = "JP_Organization_ePrescriptionData_issuer";
const MEDICATION_REQUEST: &str = "JP_MedicationRequest_ePrescriptionData";
const PATIENT: &str = "JP_Patient_ePrescriptionData";
const DRUGS: &[CodeSystem] = &[YJ, HOT9];

/// The prescription document (JAMI ePrescriptionData 1.0.0). `Bundle.identifier` follows the
/// guide's example Bundle (its profile leaves the element open).
pub const PRESCRIPTION: &[Rule] = &[
    rule(
        "bundle-type",
        EP,
        BUNDLE,
        "Bundle",
        "type",
        Fixed("document"),
    ),
    rule(
        "bundle-timestamp",
        EP,
        BUNDLE,
        "Bundle",
        "timestamp",
        Card(1, Some(1)),
    ),
    rule(
        "bundle-identifier-system",
        EP,
        BUNDLE,
        "Bundle",
        "identifier.system",
        Fixed(super::super::fhir::BUNDLE_ID_SYSTEM),
    ),
    rule(
        "bundle-identifier-uuid",
        EP,
        BUNDLE,
        "Bundle",
        "identifier.value",
        Prefix("urn:uuid:"),
    ),
    rule(
        "composition-identifier-system",
        EP,
        COMPOSITION,
        "Composition",
        "identifier.system",
        Fixed(super::super::fhir::PRESCRIPTION_NUMBER_SYSTEM),
    ),
    rule(
        "composition-identifier-value",
        EP,
        COMPOSITION,
        "Composition",
        "identifier.value",
        Card(1, None),
    ),
    rule(
        "composition-status",
        EP,
        COMPOSITION,
        "Composition",
        "status",
        Fixed("final"),
    ),
    rule(
        "composition-type-coding",
        EP,
        COMPOSITION,
        "Composition",
        "type.coding",
        Card(1, Some(1)),
    ),
    rule(
        "composition-type-system",
        EP,
        COMPOSITION,
        "Composition",
        "type.coding.system",
        Fixed(DOC_TYPE.written),
    ),
    rule(
        "composition-type-code",
        EP,
        COMPOSITION,
        "Composition",
        "type.coding.code",
        Fixed(super::super::fhir::PRESCRIPTION_DOC_TYPE),
    ),
    rule(
        "composition-category",
        EP,
        COMPOSITION,
        "Composition",
        "category",
        Card(1, Some(1)),
    ),
    rule(
        "composition-category-system",
        EP,
        COMPOSITION,
        "Composition",
        "category.coding.system",
        Fixed(super::super::fhir::CATEGORY_SYSTEM),
    ),
    rule(
        "composition-subject",
        EP,
        COMPOSITION,
        "Composition",
        "subject.reference",
        Card(1, Some(1)),
    ),
    rule(
        "composition-custodian",
        EP,
        COMPOSITION,
        "Composition",
        "custodian.reference",
        Card(1, Some(1)),
    ),
    rule(
        "composition-event",
        EP,
        COMPOSITION,
        "Composition",
        "event",
        Card(1, Some(1)),
    ),
    rule(
        "composition-event-code",
        EP,
        COMPOSITION,
        "Composition",
        "event.code.text",
        Fixed("処方箋交付"),
    ),
    rule(
        "composition-event-start",
        EP,
        COMPOSITION,
        "Composition",
        "event.period.start",
        Card(1, Some(1)),
    ),
    rule(
        "patient-gender",
        EP,
        PATIENT,
        "Patient",
        "gender",
        Card(1, Some(1)),
    ),
    rule(
        "patient-birth-date",
        EP,
        PATIENT,
        "Patient",
        "birthDate",
        Card(1, Some(1)),
    ),
    rule(
        "coverage-status",
        EP,
        COVERAGE,
        "Coverage",
        "status",
        Fixed("active"),
    ),
    rule(
        "coverage-type",
        EP,
        COVERAGE,
        "Coverage",
        "type.coding",
        Card(1, Some(1)),
    ),
    rule(
        "coverage-type-system",
        EP,
        COVERAGE,
        "Coverage",
        "type.coding.system",
        Systems(&[super::INSURANCE_CATEGORY]),
    ),
    rule(
        "coverage-relationship",
        EP,
        COVERAGE,
        "Coverage",
        "relationship.coding",
        Card(1, Some(1)),
    ),
    rule(
        "coverage-relationship-system",
        EP,
        COVERAGE,
        "Coverage",
        "relationship.coding.system",
        Systems(&[super::INSURED_RELATIONSHIP]),
    ),
    rule(
        "coverage-payor",
        EP,
        COVERAGE,
        "Coverage",
        "payor",
        Card(1, Some(1)),
    ),
    rule(
        "coverage-subscriber",
        EP,
        COVERAGE,
        "Coverage",
        "subscriber",
        Card(0, Some(0)),
    ),
    rule(
        "organization-type",
        EP,
        ORGANIZATION,
        "Organization",
        "type",
        Card(1, Some(1)),
    ),
    rule(
        "organization-type-system",
        EP,
        ORGANIZATION,
        "Organization",
        "type.coding.system",
        Fixed(super::super::fhir::ORGANIZATION_TYPE_SYSTEM),
    ),
    rule(
        "medication-code-system",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "medicationCodeableConcept.coding.system",
        Systems(DRUGS),
    ),
    rule(
        "medication-subject",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "subject.reference",
        Card(1, Some(1)),
    ),
    rule(
        "medication-rp-number",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "identifier.system",
        Includes(RP_NUMBER),
    ),
    rule(
        "medication-order-in-rp",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "identifier.system",
        Includes(ORDER_IN_RP),
    ),
    rule(
        "medication-text",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "medicationCodeableConcept.text",
        Card(1, Some(1)),
    ),
    rule(
        "medication-usage-code",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "dosageInstruction.timing.code.coding",
        Card(1, None),
    ),
    rule(
        "medication-usage-system",
        EP,
        MEDICATION_REQUEST,
        "MedicationRequest",
        "dosageInstruction.timing.code.coding.system",
        Systems(&[JAMI_USAGE]),
    ),
];

const CL: Guide = JP_CLINS;
const FLAGS: Kind = Codes {
    system: super::super::clins::EHR_TAG_SYSTEM,
    codes: &[
        super::super::clins::TAG_LTS,
        super::super::clins::TAG_UNINFORMED,
        super::super::clins::TAG_UNDELIVERED,
    ],
};
const CONDITION: &str = "JP_Condition_eCS";
const OBSERVATION: &str = "JP_Observation_LabResult_eCS";
const ALLERGY: &str = "JP_AllergyIntolerance_eCS";

/// The 6-item submission (JP-CLINS 1.3.0-rc1, `JP_Bundle_CLINS` and the eCS item profiles).
pub const ITEMS: &[Rule] = &[
    rule(
        "clins-bundle-identifier-system",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "identifier.system",
        Fixed(super::super::clins::BUNDLE_ID_SYSTEM),
    ),
    rule(
        "clins-bundle-identifier-value",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "identifier.value",
        Card(1, Some(1)),
    ),
    rule(
        "condition-flags",
        CL,
        CONDITION,
        "Condition",
        "meta.tag",
        FLAGS,
    ),
    rule(
        "condition-category",
        CL,
        CONDITION,
        "Condition",
        "category",
        Card(1, Some(1)),
    ),
    rule(
        "condition-verification-status",
        CL,
        CONDITION,
        "Condition",
        "verificationStatus",
        Card(1, Some(1)),
    ),
    rule(
        "condition-code",
        CL,
        CONDITION,
        "Condition",
        "code.coding",
        Card(1, None),
    ),
    rule(
        "condition-code-text",
        CL,
        CONDITION,
        "Condition",
        "code.text",
        Card(1, Some(1)),
    ),
    rule(
        "condition-medis-number",
        CL,
        CONDITION,
        "Condition",
        "code.coding.system",
        Includes(super::MEDIS_DISEASE),
    ),
    rule(
        "condition-subject",
        CL,
        CONDITION,
        "Condition",
        "subject",
        Card(1, Some(1)),
    ),
    rule(
        "observation-flags",
        CL,
        OBSERVATION,
        "Observation",
        "meta.tag",
        FLAGS,
    ),
    rule(
        "observation-status",
        CL,
        OBSERVATION,
        "Observation",
        "status",
        Card(1, Some(1)),
    ),
    rule(
        "observation-code",
        CL,
        OBSERVATION,
        "Observation",
        "code.coding",
        Card(1, None),
    ),
    rule(
        "observation-subject",
        CL,
        OBSERVATION,
        "Observation",
        "subject",
        Card(1, Some(1)),
    ),
    rule(
        "allergy-flags",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "meta.tag",
        FLAGS,
    ),
    rule(
        "allergy-code",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "code.coding",
        Card(1, None),
    ),
    rule(
        "allergy-patient",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "patient",
        Card(1, Some(1)),
    ),
    rule(
        "patient-identifier",
        CL,
        "JP_Patient_eCS",
        "Patient",
        "identifier",
        Card(1, None),
    ),
    rule(
        "condition-last-updated",
        CL,
        CONDITION,
        "Condition",
        "meta.lastUpdated",
        Card(1, Some(1)),
    ),
    rule(
        "condition-resource-identifier",
        CL,
        CONDITION,
        "Condition",
        "identifier.system",
        Includes(super::RESOURCE_ID),
    ),
    rule(
        "observation-last-updated",
        CL,
        OBSERVATION,
        "Observation",
        "meta.lastUpdated",
        Card(1, Some(1)),
    ),
    rule(
        "observation-resource-identifier",
        CL,
        OBSERVATION,
        "Observation",
        "identifier.system",
        Includes(super::RESOURCE_ID),
    ),
    rule(
        "allergy-last-updated",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "meta.lastUpdated",
        Card(1, Some(1)),
    ),
    rule(
        "allergy-resource-identifier",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "identifier.system",
        Includes(super::RESOURCE_ID),
    ),
    rule(
        "allergy-code-text",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "code.text",
        Card(1, Some(1)),
    ),
    rule(
        "clins-bundle-last-updated",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "meta.lastUpdated",
        Card(1, Some(1)),
    ),
];

/// A rule broken: which, and where in the Bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static Rule,
    /// The dotted JSON path at fault (`bundle.entry[0].resource.type.coding[0].code`).
    pub path: String,
    /// What the rule wants, in a phrase.
    pub message: String,
}

impl Rule {
    /// "JAMI ePrescriptionData 1.0.0 JP_Composition_ePrescriptionData.type.coding.code".
    pub fn cite(&self) -> String {
        self.guide.cite(self.profile, self.element)
    }

    /// What the rule requires, in a phrase.
    pub fn wants(&self) -> String {
        match self.kind {
            Card(min, Some(max)) if min == max => format!("exactly {min}"),
            Card(min, Some(max)) => format!("{min}..{max}"),
            Card(min, None) => format!("at least {min}"),
            Fixed(v) => format!("= {v}"),
            Prefix(p) => format!("begins with {p}"),
            Systems(s) => format!(
                "a system of {}",
                s.iter().map(|c| c.name).collect::<Vec<_>>().join(" or ")
            ),
            Codes { system, codes } => format!("codes of {system}: {}", codes.join(", ")),
            Includes(c) => format!("present with a coding of {} ({})", c.written, c.name),
        }
    }

    /// The resources of `bundle` the rule holds for, with their dotted paths.
    fn targets<'a>(&self, bundle: &'a Value) -> Vec<(String, &'a Value)> {
        if self.resource == "Bundle" {
            return vec![("bundle".to_owned(), bundle)];
        }
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, e)| e["resource"]["resourceType"] == self.resource)
            .map(|(i, e)| (format!("bundle.entry[{i}].resource"), &e["resource"]))
            .collect()
    }

    /// Checks the rule on every resource of `bundle` it holds for.
    pub fn check(&'static self, bundle: &Value) -> Result<(), Violation> {
        for (base, r) in self.targets(bundle) {
            self.check_one(&base, r)?;
        }
        Ok(())
    }

    fn violation(&'static self, path: String) -> Violation {
        Violation {
            rule: self,
            message: format!("must be {} ({})", self.wants(), self.cite()),
            path,
        }
    }

    fn check_one(&'static self, base: &str, r: &Value) -> Result<(), Violation> {
        let found = values(r, base, self.element);
        match self.kind {
            Card(min, max) => {
                if found.len() < min || max.is_some_and(|m| found.len() > m) {
                    let at = found
                        .get(max.unwrap_or(usize::MAX))
                        .map_or_else(|| format!("{base}.{}", self.element), |(p, _)| p.clone());
                    return Err(self.violation(at));
                }
            }
            Fixed(want) => {
                if let Some((p, _)) = found.iter().find(|(_, v)| v.as_str() != Some(want)) {
                    return Err(self.violation(p.clone()));
                }
            }
            Prefix(want) => {
                let bad = |v: &Value| !v.as_str().is_some_and(|s| s.starts_with(want));
                if let Some((p, _)) = found.iter().find(|(_, v)| bad(v)) {
                    return Err(self.violation(p.clone()));
                }
            }
            Systems(systems) => {
                let known = |v: &Value| {
                    v.as_str()
                        .is_some_and(|s| systems.iter().any(|c| c.accepts(s)))
                };
                if let Some((p, _)) = found.iter().find(|(_, v)| !known(v)) {
                    return Err(self.violation(p.clone()));
                }
            }
            Includes(system) => {
                let present = found
                    .iter()
                    .any(|(_, v)| v.as_str().is_some_and(|s| system.accepts(s)));
                if !present {
                    return Err(self.violation(format!("{base}.{}", self.element)));
                }
            }
            Codes { system, codes } => {
                for (p, tag) in &found {
                    let code = tag["code"].as_str();
                    if tag["system"] == system && !code.is_some_and(|c| codes.contains(&c)) {
                        return Err(self.violation(format!("{p}.code")));
                    }
                }
            }
        }
        Ok(())
    }

    /// Breaks the rule in `bundle` (which must satisfy it and hold a resource it holds for), as a
    /// payload that violates the guide there: removes a required element, repeats one beyond its
    /// maximum, changes a fixed value, a code system or a flag. Returns the path broken.
    pub fn break_in(&self, bundle: &mut Value) -> Option<String> {
        let (base, _) = self.targets(bundle).into_iter().next()?;
        let pointer = if base == "bundle" {
            String::new()
        } else {
            let i: usize = base
                .strip_prefix("bundle.entry[")?
                .split(']')
                .next()?
                .parse()
                .ok()?;
            format!("/entry/{i}/resource")
        };
        let r = bundle.pointer_mut(&pointer)?;
        let (parent, last) = match self.element.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, self.element),
        };
        let at = format!("{base}.{}", self.element);
        match self.kind {
            Card(min, _) if min > 0 => {
                for owner in owners(r, parent) {
                    owner.as_object_mut()?.remove(last);
                }
            }
            Card(_, max) => {
                let max = max?;
                let owner = owners(r, parent).into_iter().next()?;
                let v = owner.get(last).cloned().unwrap_or(Value::Null);
                let one = match v {
                    Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
                    Value::Null => {
                        serde_json::json!({"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"})
                    }
                    other => other,
                };
                owner[last] = Value::Array(vec![one; max + 1]);
            }
            Fixed(_) | Prefix(_) => {
                for owner in owners(r, parent) {
                    owner[last] = Value::from("dxsim-not-the-guide-value");
                }
            }
            Systems(_) => {
                for owner in owners(r, parent) {
                    owner[last] = Value::from("http://example.org/not-a-guide-code-system");
                }
            }
            Includes(system) => {
                for owner in owners(r, parent) {
                    if owner[last].as_str().is_some_and(|s| system.accepts(s)) {
                        owner[last] = Value::from("http://example.org/not-a-guide-code-system");
                    }
                }
            }
            Codes { system, .. } => {
                let meta = r
                    .as_object_mut()?
                    .entry("meta")
                    .or_insert_with(|| serde_json::json!({}));
                let tags = meta
                    .as_object_mut()?
                    .entry(last)
                    .or_insert_with(|| serde_json::json!([]));
                tags.as_array_mut()?
                    .push(serde_json::json!({"system": system, "code": "dxsim-not-a-flag"}));
                return Some(at);
            }
        }
        Some(at)
    }
}

/// The values at a dotted element of `r`, lists walked through, with their dotted paths.
fn values<'a>(r: &'a Value, base: &str, element: &str) -> Vec<(String, &'a Value)> {
    let mut now = vec![(base.to_owned(), r)];
    for seg in element.split('.') {
        let mut next = Vec::new();
        for (p, v) in now {
            match v.get(seg) {
                Some(Value::Array(a)) => {
                    next.extend(
                        a.iter()
                            .enumerate()
                            .map(|(i, x)| (format!("{p}.{seg}[{i}]"), x)),
                    );
                }
                Some(Value::Null) | None => {}
                Some(x) => next.push((format!("{p}.{seg}"), x)),
            }
        }
        now = next;
    }
    now
}

/// The objects holding the last segment of an element: those at `parent` (or `r` itself).
fn owners<'a>(r: &'a mut Value, parent: Option<&str>) -> Vec<&'a mut Value> {
    let mut now = vec![r];
    for seg in parent.into_iter().flat_map(|p| p.split('.')) {
        let mut next = Vec::new();
        for v in now {
            match v.get_mut(seg) {
                Some(Value::Array(a)) => next.extend(a.iter_mut()),
                Some(x @ Value::Object(_)) => next.push(x),
                _ => {}
            }
        }
        now = next;
    }
    now.retain(|v| v.is_object());
    now
}

/// The first rule of `rules` that `bundle` breaks.
pub fn first_violation(bundle: &Value, rules: &'static [Rule]) -> Option<Violation> {
    rules.iter().find_map(|r| r.check(bundle).err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::clins::{EhrPatient, Fact, ItemDraft, ItemsDraft};
    use crate::wire::fhir::PrescriptionDraft;
    use chrono::NaiveDate;

    fn prescription() -> Value {
        PrescriptionDraft::example().to_bundle()
    }

    fn items() -> Value {
        let on = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        ItemsDraft {
            submission_id: "s-1".into(),
            facility_code: "1310110015".into(),
            facility_name: "c".into(),
            at: chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00").unwrap(),
            patient: EhrPatient {
                insurer_number: "06139996".into(),
                symbol: "C".into(),
                number: "1".into(),
                branch: "00".into(),
                gender: "male",
                birth_date: NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
            },
            items: vec![
                ItemDraft::new(Fact::Diagnosis { code: "I10".into() }, on),
                ItemDraft::new(
                    Fact::LabResult {
                        code: "3D046000002327101".into(),
                        value: 6.1,
                    },
                    on,
                ),
                ItemDraft::new(
                    Fact::Allergy {
                        system: super::super::JFAGY_FOOD.written.into(),
                        code: "J9FB13110000".into(),
                    },
                    on,
                ),
            ],
        }
        .to_bundle()
    }

    #[test]
    fn what_dxsim_writes_keeps_every_rule_and_each_break_breaks_its_rule_only() {
        for (good, rules) in [(prescription(), PRESCRIPTION), (items(), ITEMS)] {
            assert_eq!(first_violation(&good, rules), None);
            for rule in rules {
                let mut b = good.clone();
                let at = rule
                    .break_in(&mut b)
                    .unwrap_or_else(|| panic!("{} breaks", rule.id));
                let v = rule.check(&b).expect_err(rule.id);
                assert!(
                    v.path
                        .starts_with(at.split('.').take(4).collect::<Vec<_>>().join(".").as_str()),
                    "{}: {} vs {at}",
                    rule.id,
                    v.path
                );
                assert!(v.message.contains(rule.guide.version), "{}", v.message);
                let others: Vec<_> = rules
                    .iter()
                    .filter(|o| {
                        o.id != rule.id && o.element != rule.element && o.check(&b).is_err()
                    })
                    .map(|o| o.id)
                    .collect();
                assert!(
                    others.is_empty() || others.iter().all(|o| related(rule, o, rules)),
                    "{}: also {others:?}",
                    rule.id
                );
            }
        }
    }

    /// Whether two rules share an element's stem (a broken list breaks the rules inside it).
    fn related(a: &Rule, b: &str, rules: &[Rule]) -> bool {
        let b = rules.iter().find(|r| r.id == b).unwrap();
        a.resource == b.resource
            && (a.element.starts_with(b.element) || b.element.starts_with(a.element))
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<_> = PRESCRIPTION.iter().chain(ITEMS).map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
