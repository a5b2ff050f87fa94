//! The guides' element rules as data: for each profile, the elements dxsim holds a payload to —
//! cardinality, fixed values, code systems, closed sets of codes — each with the guide, release,
//! profile and element it comes from ([`Rule::cite`]). The exchange refuses a Bundle that breaks
//! one, the conformance suite checks what a target answers against them and derives a
//! guide-violating payload from each ([`Rule::break_in`]); neither writes a rule of its own.
//!
//! Most rules are derived: `reference-impl/protocol/guides/profiles.py` reads the profiles' FSH in
//! the guides' repositories, and their parents' down to JP Core's, into `profiles.json` — every
//! cardinality and fixed primitive value of an element reached through no slice, and the minimum
//! of each slice ([`derived`]). What the FSH expresses through slices, value-set bindings,
//! invariants or the guide's examples is transcribed here ([`TRANSCRIBED`]), each with the
//! element it stands for. A derived rule dxsim does not hold
//! payloads to is listed with its reason in [`NOT_APPLIED`] (and in docs/api.md § The published
//! guides).
//!
//! A resource is held to the rules of the profiles it declares in `meta.profile`; one declaring
//! none of a rule set's profiles for its type, to the set's profile for that type — for the two
//! Organizations of a prescription, the issuer's if the Composition's custodian references it and
//! the insurer's if the Coverage's payor does.

use super::{
    CODE_SYSTEMS, CodeSystem, E_PRESCRIPTION, Guide, HOT9, JAMI_USAGE, JP_CLINS, ORDER_IN_RP,
    RP_NUMBER, YJ,
};
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;

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
    /// Cardinality: wherever the element's parent is present, at least `min` values, at most
    /// `max` (`None`: unbounded).
    Card(usize, Option<usize>),
    /// Every value is this string.
    Fixed(&'static str),
    /// Every value starts with this.
    Prefix(&'static str),
    /// Every value is a URI of one of these code systems (any form JP Core accepts for it).
    Systems(&'static [CodeSystem]),
    /// At least one value is a URI of this code system (a required slice of a coding list).
    Includes(CodeSystem),
    /// At least one value is this string (a required extension's URL, a contained resource's
    /// profile).
    Has(&'static str),
    /// At least one value is this canonical URL, with or without a `|version`
    /// (`meta.profile`).
    Canonical(&'static str),
    /// Among the codings (`meta.tag`) of this system, every code is one of these (a closed
    /// slicing).
    Codes {
        system: &'static str,
        codes: &'static [&'static str],
    },
    /// On a Bundle's `meta.tag`: the entries of the item types in `codes` are all of the type
    /// the tag of `system` names, and at least one is (JP-CLINS's one category per Bundle).
    Category {
        system: &'static str,
        codes: &'static [&'static str],
    },
}

/// Which resources of a Bundle a rule holds for, besides those declaring its profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Every resource of its type declaring none of the set's profiles for the type.
    Always,
    /// Such a resource if this resource type's element references its `fullUrl`
    /// (`("Composition", "custodian")`).
    ReferencedBy(&'static str, &'static str),
}

/// One element rule of one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, for checks and reports.
    pub id: &'static str,
    pub guide: Guide,
    pub profile: &'static str,
    /// The resource type it holds for (`Bundle`: the Bundle itself; else entries of the type).
    pub resource: &'static str,
    /// The element, dotted from the resource as the profile names it (lists are walked through;
    /// `value*` is any member of a choice type).
    pub element: &'static str,
    pub kind: Kind,
    pub answer: Answer,
    /// Derived from the profile's FSH (else transcribed).
    pub derived: bool,
    pub fallback: Fallback,
}

const fn answer(kind: Kind) -> Answer {
    match kind {
        Kind::Systems(_) => Answer::UnknownSystem,
        Kind::Codes { .. } => Answer::UnknownCode,
        _ => Answer::Invalid,
    }
}

const fn rule(
    id: &'static str,
    guide: Guide,
    profile: &'static str,
    resource: &'static str,
    element: &'static str,
    kind: Kind,
) -> Rule {
    Rule {
        id,
        guide,
        profile,
        resource,
        element,
        kind,
        answer: answer(kind),
        derived: false,
        fallback: Fallback::Always,
    }
}

use Kind::{Canonical, Card, Category, Codes, Fixed, Has, Includes, Prefix, Systems};

const EP: Guide = E_PRESCRIPTION;
const BUNDLE: &str = "JP_Bundle_ePrescriptionData";
const MEDICATION_REQUEST: &str = "JP_MedicationRequest_ePrescriptionData";
const DRUGS: &[CodeSystem] = &[YJ, HOT9];

/// The prescription document's rules the FSH does not state outside slices and bindings
/// (JAMI ePrescriptionData 1.0.0). `Bundle.identifier` follows the guide's example Bundle (its
/// profile leaves the element open); `subject` is required by FHIR R4's MedicationRequest.
const PRESCRIPTION_TRANSCRIBED: &[Rule] = &[
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

const ITEM_TYPES: &[&str] = &[
    "AllergyIntolerance",
    "Condition",
    "Observation",
    "MedicationRequest",
];

const INSTITUTION_NUMBER: &str = super::super::clins::INSTITUTION_NUMBER_EXTENSION;
const PATIENT_PROFILE: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS";
const CONDITION_PROFILE: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS";
const OBSERVATION_PROFILE: &str =
    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS";
const ALLERGY_PROFILE: &str =
    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_AllergyIntolerance_eCS";
const DEPARTMENT: &str = super::super::clins::DEPARTMENT_EXTENSION;
const ENCOUNTER: &str = super::super::clins::JP_ENCOUNTER_PROFILE;

/// The 6-item submission's rules the FSH states through slices and invariants (JP-CLINS
/// 1.3.0-rc1): the profiles the Bundle, its Patient and its items declare (R0213, R0212, the
/// entries' profiles), the Bundle's resource category (R02141–R02143), each item's institution number
/// (R9011), a diagnosis's or result's department and contained Encounter (R9014, R9013) and a
/// diagnosis's onset (R9013C), the closed set of flags, the MEDIS disease number, the resource
/// identifier.
const ITEMS_TRANSCRIBED: &[Rule] = &[
    rule(
        "clins-bundle-resource-type",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "meta.tag.system",
        Includes(super::BUNDLE_RESOURCE_TYPE),
    ),
    rule(
        "clins-bundle-resource-type-code",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "meta.tag",
        Codes {
            system: super::BUNDLE_RESOURCE_TYPE.written,
            codes: ITEM_TYPES,
        },
    ),
    rule(
        "clins-bundle-one-category",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "meta.tag",
        Category {
            system: super::BUNDLE_RESOURCE_TYPE.written,
            codes: ITEM_TYPES,
        },
    ),
    rule(
        "clins-bundle-profile",
        CL,
        "JP_Bundle_CLINS",
        "Bundle",
        "meta.profile",
        Canonical(super::super::clins::ITEMS_BUNDLE_PROFILE),
    ),
    rule(
        "clins-patient-profile",
        CL,
        "JP_Patient_eCS",
        "Patient",
        "meta.profile",
        Canonical(PATIENT_PROFILE),
    ),
    rule(
        "condition-profile",
        CL,
        CONDITION,
        "Condition",
        "meta.profile",
        Canonical(CONDITION_PROFILE),
    ),
    rule(
        "observation-profile",
        CL,
        OBSERVATION,
        "Observation",
        "meta.profile",
        Canonical(OBSERVATION_PROFILE),
    ),
    rule(
        "allergy-profile",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "meta.profile",
        Canonical(ALLERGY_PROFILE),
    ),
    rule(
        "condition-institution-number",
        CL,
        CONDITION,
        "Condition",
        "extension.url",
        Has(INSTITUTION_NUMBER),
    ),
    rule(
        "condition-department",
        CL,
        CONDITION,
        "Condition",
        "extension.url",
        Has(DEPARTMENT),
    ),
    rule(
        "condition-encounter",
        CL,
        CONDITION,
        "Condition",
        "contained.meta.profile",
        Has(ENCOUNTER),
    ),
    rule(
        "condition-onset",
        CL,
        CONDITION,
        "Condition",
        "onsetDateTime",
        Card(1, None),
    ),
    rule(
        "observation-institution-number",
        CL,
        OBSERVATION,
        "Observation",
        "extension.url",
        Has(INSTITUTION_NUMBER),
    ),
    rule(
        "observation-department",
        CL,
        OBSERVATION,
        "Observation",
        "extension.url",
        Has(DEPARTMENT),
    ),
    rule(
        "observation-encounter",
        CL,
        OBSERVATION,
        "Observation",
        "contained.meta.profile",
        Has(ENCOUNTER),
    ),
    rule(
        "allergy-institution-number",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "extension.url",
        Has(INSTITUTION_NUMBER),
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
        "condition-medis-number",
        CL,
        CONDITION,
        "Condition",
        "code.coding.system",
        Includes(super::MEDIS_DISEASE),
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
        "observation-flags",
        CL,
        OBSERVATION,
        "Observation",
        "meta.tag",
        FLAGS,
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
        "allergy-flags",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "meta.tag",
        FLAGS,
    ),
    rule(
        "allergy-resource-identifier",
        CL,
        ALLERGY,
        "AllergyIntolerance",
        "identifier.system",
        Includes(super::RESOURCE_ID),
    ),
];

/// Every transcribed rule.
pub const TRANSCRIBED: [&[Rule]; 2] = [PRESCRIPTION_TRANSCRIBED, ITEMS_TRANSCRIBED];

/// Derived rules dxsim does not hold payloads to, by id, with the reason (docs/api.md § The
/// published guides).
pub const NOT_APPLIED: &[(&str, &str)] = &[(
    "medication.dosageInstruction.timing.code.coding.system-fixed",
    "the profile's FSH fixes urn:oid:1.2.392.200250.2.2.20, which neither the guide's value \
         set nor its examples use; they name urn:oid:1.2.392.200250.2.2.20.20 \
         (medication-usage-system)",
)];

/// One derived rule as `profiles.json` writes it (borrowed from the embedded text).
#[derive(Deserialize)]
struct Derived<'a> {
    id: &'a str,
    resource: &'a str,
    element: &'a str,
    #[serde(default)]
    min: usize,
    #[serde(default)]
    max: Option<usize>,
    #[serde(default)]
    fixed: Option<&'a str>,
}

#[derive(Deserialize)]
struct Profile<'a> {
    guide: &'a str,
    #[serde(borrow)]
    rules: Vec<Derived<'a>>,
}

#[derive(Deserialize)]
struct Profiles<'a> {
    #[serde(borrow)]
    profiles: std::collections::BTreeMap<&'a str, Profile<'a>>,
}

/// The derived rules of every profile in `profiles.json`, but those [`NOT_APPLIED`]. A fixed
/// code system URI becomes [`Kind::Systems`] of the system, so every form JP Core accepts for
/// it is accepted.
pub fn derived() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let parsed: Profiles<'static> = serde_json::from_str(super::PROFILES_JSON)
            .expect("profiles.json is the generator's JSON");
        let mut out = Vec::new();
        for (profile, p) in parsed.profiles {
            let guide = match p.guide {
                "ePrescriptionData" => E_PRESCRIPTION,
                "clinical-core" => JP_CLINS,
                other => panic!("profiles.json names an unknown guide {other}"),
            };
            let fallback = match profile {
                "JP_Organization_ePrescriptionData_issuer" => {
                    Fallback::ReferencedBy("Composition", "custodian")
                }
                "JP_Organization_ePrescriptionData_coveragePayer" => {
                    Fallback::ReferencedBy("Coverage", "payor")
                }
                _ => Fallback::Always,
            };
            for d in p.rules {
                if NOT_APPLIED.iter().any(|(id, _)| *id == d.id) {
                    continue;
                }
                let kind = match d.fixed {
                    Some(v) if d.element.ends_with(".system") => {
                        match CODE_SYSTEMS.iter().position(|c| c.accepts(v)) {
                            Some(i) => Systems(std::slice::from_ref(&CODE_SYSTEMS[i])),
                            None => Fixed(v),
                        }
                    }
                    Some(v) => Fixed(v),
                    None => Card(d.min, d.max),
                };
                out.push(Rule {
                    id: d.id,
                    guide,
                    profile,
                    resource: d.resource,
                    element: d.element,
                    kind,
                    answer: answer(kind),
                    derived: true,
                    fallback,
                });
            }
        }
        out
    })
}

fn set(guide: Guide, transcribed: &[Rule], keep: impl Fn(&Rule) -> bool) -> Vec<Rule> {
    derived()
        .iter()
        .filter(|r| r.guide == guide)
        .chain(transcribed)
        .filter(|r| keep(r))
        .copied()
        .collect()
}

/// The prescription document's rules (JAMI ePrescriptionData 1.0.0).
pub fn prescription() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| set(E_PRESCRIPTION, PRESCRIPTION_TRANSCRIBED, |_| true))
}

/// The 6-item submission's rules (JP-CLINS 1.3.0-rc1, `JP_Bundle_CLINS` and the eCS item
/// profiles).
pub fn items() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| set(JP_CLINS, ITEMS_TRANSCRIBED, |_| true))
}

/// The rules of the items a document carries (the eCS item profiles; a document's own Bundle is
/// a JP_Bundle_eReferral or the like, not `JP_Bundle_CLINS`).
pub fn document_items() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| set(JP_CLINS, ITEMS_TRANSCRIBED, |r| r.resource != "Bundle"))
}

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
            Category { .. } => "one resource category per Bundle, the one its meta.tag names, \
                 with at least one resource of it"
                .to_owned(),
            Includes(c) => format!("present with a coding of {} ({})", c.written, c.name),
            Has(v) => format!("present with one value {v}"),
            Canonical(v) => format!("present with one value {v} (or {v}|<version>)"),
        }
    }

    /// The resources of `bundle` the rule holds for, with their dotted paths.
    fn targets<'a>(&self, bundle: &'a Value) -> Vec<(String, &'a Value)> {
        if self.resource == "Bundle" {
            return vec![("bundle".to_owned(), bundle)];
        }
        let entries: &[Value] = bundle["entry"].as_array().map_or(&[], Vec::as_slice);
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e["resource"]["resourceType"] == self.resource)
            .filter(|(i, _)| self.holds_for(*i, bundle))
            .map(|(i, e)| (format!("bundle.entry[{i}].resource"), &e["resource"]))
            .collect()
    }

    /// Whether the rule holds for the resource of `entry`: it declares the rule's profile, or
    /// none of the profiles its type has in the rule's guide and the rule falls back to it.
    fn holds_for(&self, i: usize, bundle: &Value) -> bool {
        let entries: &[Value] = bundle["entry"].as_array().map_or(&[], Vec::as_slice);
        let entry = &entries[i];
        let declared = || {
            entry["resource"]["meta"]["profile"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str())
                .filter_map(|p| p.split('|').next().and_then(|p| p.rsplit('/').next()))
        };
        if declared().any(|d| d == self.profile) {
            return true;
        }
        if declared().any(|d| profiles_of(self.guide, self.resource).any(|k| k == d)) {
            return false;
        }
        match self.fallback {
            Fallback::Always => true,
            Fallback::ReferencedBy(kind, element) => {
                let Some(url) = entry["fullUrl"].as_str() else {
                    return false;
                };
                entries
                    .iter()
                    .filter(|e| e["resource"]["resourceType"] == kind)
                    .flat_map(|e| values(&e["resource"], "", element))
                    .any(|(_, v)| v["reference"] == url)
            }
        }
    }

    /// Checks the rule on every resource of `bundle` it holds for.
    pub fn check(&'static self, bundle: &Value) -> Result<(), Violation> {
        self.check_in(bundle, &Resources::of(bundle))
    }

    fn check_in(&'static self, bundle: &Value, resources: &Resources) -> Result<(), Violation> {
        if self.resource == "Bundle" {
            return match self.holds(bundle) {
                true => Ok(()),
                false => self.check_one("bundle", bundle),
            };
        }
        for (i, (kind, r)) in resources.0.iter().enumerate() {
            // The cheap tests first; the paths are spelled out only for a resource that fails.
            if *kind != self.resource || self.holds(r) || !self.holds_for(i, bundle) {
                continue;
            }
            self.check_one(&format!("bundle.entry[{i}].resource"), r)?;
        }
        Ok(())
    }

    /// Whether `r` keeps the rule (what [`Rule::check_one`] finds, without the paths).
    fn holds(&self, r: &Value) -> bool {
        match self.kind {
            Card(min, max) => {
                let (parent, last) = self.split();
                let keeps = |owner: &Value| {
                    let n = count(owner, last);
                    !owner.is_object() || (n >= min && max.is_none_or(|m| n <= m))
                };
                match parent {
                    Some(p) => bare(r, p).into_iter().all(keeps),
                    None => keeps(r),
                }
            }
            Fixed(want) => bare(r, self.element)
                .into_iter()
                .all(|v| v.as_str() == Some(want)),
            Prefix(want) => bare(r, self.element)
                .into_iter()
                .all(|v| v.as_str().is_some_and(|s| s.starts_with(want))),
            Systems(systems) => bare(r, self.element).into_iter().all(|v| {
                v.as_str()
                    .is_some_and(|s| systems.iter().any(|c| c.accepts(s)))
            }),
            Includes(system) => bare(r, self.element)
                .into_iter()
                .any(|v| v.as_str().is_some_and(|s| system.accepts(s))),
            Has(want) => bare(r, self.element)
                .into_iter()
                .any(|v| v.as_str() == Some(want)),
            Canonical(want) => bare(r, self.element)
                .into_iter()
                .any(|v| v.as_str().is_some_and(|s| is_canonical(s, want))),
            Codes { system, codes } => bare(r, self.element).into_iter().all(|tag| {
                tag["system"] != system || tag["code"].as_str().is_some_and(|c| codes.contains(&c))
            }),
            Category { system, codes } => category_fault(r, self.element, system, codes).is_none(),
        }
    }

    fn violation(&'static self, path: String) -> Violation {
        Violation {
            rule: self,
            message: format!("must be {} ({})", self.wants(), self.cite()),
            path,
        }
    }

    /// The element's parent (`None`: the resource) and last step.
    fn split(&self) -> (Option<&'static str>, &'static str) {
        match self.element.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, self.element),
        }
    }

    fn check_one(&'static self, base: &str, r: &Value) -> Result<(), Violation> {
        if let Card(min, max) = self.kind {
            let (parent, last) = self.split();
            let owners = match parent {
                Some(p) => values(r, base, p),
                None => vec![(base.to_owned(), r)],
            };
            for (at, owner) in owners.into_iter().filter(|(_, o)| o.is_object()) {
                let found = step(owner, last);
                let n = count(owner, last);
                // A choice type's path names the member present, else its stem (`effective`).
                let key = found.first().map_or(last.trim_end_matches('*'), |(k, _)| k);
                if n < min {
                    return Err(self.violation(format!("{at}.{key}")));
                }
                if let Some(m) = max.filter(|m| n > *m) {
                    return Err(self.violation(format!("{at}.{key}[{m}]")));
                }
            }
            return Ok(());
        }
        let found = values(r, base, self.element);
        match self.kind {
            Card(..) => unreachable!("handled above"),
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
            Has(want) => {
                if !found.iter().any(|(_, v)| v.as_str() == Some(want)) {
                    return Err(self.violation(format!("{base}.{}", self.element)));
                }
            }
            Canonical(want) => {
                let named = |v: &Value| v.as_str().is_some_and(|s| is_canonical(s, want));
                if !found.iter().any(|(_, v)| named(v)) {
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
            Category { system, codes } => {
                if let Some(at) = category_fault(r, self.element, system, codes) {
                    return Err(self.violation(format!("{base}.{at}")));
                }
            }
        }
        Ok(())
    }

    /// Breaks the rule in `bundle` (which must satisfy it), as a payload that violates the guide
    /// there: removes a required element, repeats one beyond its maximum, changes a fixed value,
    /// a code system or a flag. Returns the path at fault, or `None` when `bundle` holds nothing
    /// the rule could be broken in (no resource it holds for, or not the element's parent).
    pub fn break_in(&'static self, bundle: &mut Value) -> Option<String> {
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
        let (parent, last) = self.split();
        let changed = match self.kind {
            Card(min, _) if min > 0 => {
                let mut removed = false;
                for owner in owners(r, parent) {
                    for key in keys(owner, last) {
                        removed |= owner.as_object_mut()?.remove(&key).is_some();
                    }
                }
                removed
            }
            Card(_, max) => {
                let max = max?;
                let owner = owners(r, parent).into_iter().next()?;
                let key = keys(owner, last).into_iter().next();
                if key.is_none() && last.ends_with('*') {
                    return None;
                }
                let key = key.unwrap_or_else(|| last.to_owned());
                let one = match owner.get(&key).cloned().unwrap_or(Value::Null) {
                    Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
                    Value::Null => {
                        serde_json::json!({"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"})
                    }
                    other => other,
                };
                owner[key.as_str()] = Value::Array(vec![one; max + 1]);
                true
            }
            Fixed(_) | Prefix(_) => replace(r, parent, last, |_| true, "dxsim-not-the-guide-value"),
            Systems(_) => replace(
                r,
                parent,
                last,
                |_| true,
                "http://example.org/not-a-guide-code-system",
            ),
            Includes(system) => replace(
                r,
                parent,
                last,
                |v| v.as_str().is_some_and(|s| system.accepts(s)),
                "http://example.org/not-a-guide-code-system",
            ),
            Has(want) => replace(
                r,
                parent,
                last,
                |v| v.as_str() == Some(want),
                "http://example.org/not-the-guide-value",
            ),
            Canonical(want) => replace(
                r,
                parent,
                last,
                |v| v.as_str().is_some_and(|s| is_canonical(s, want)),
                "http://example.org/not-the-guide-profile",
            ),
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
                true
            }
            Category { system, codes } => {
                // Names another category than the one the Bundle holds.
                let mut changed = false;
                for owner in owners(r, parent) {
                    for tag in owner.get_mut(last)?.as_array_mut()? {
                        if tag["system"] == system {
                            let now = tag["code"].as_str().unwrap_or("");
                            let other = codes.iter().find(|c| **c != now)?;
                            tag["code"] = Value::from(*other);
                            changed = true;
                        }
                    }
                }
                changed
            }
        };
        if !changed {
            return None;
        }
        let r = bundle.pointer(&pointer)?;
        self.check_one(&base, r).err().map(|v| v.path)
    }
}

/// Whether `value` is the canonical URL `url`, with or without a version (`url|1`).
fn is_canonical(value: &str, url: &str) -> bool {
    value
        .strip_prefix(url)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('|'))
}

/// Where a Bundle breaks JP-CLINS's one category per Bundle (relative to the Bundle), if it
/// does: the first item entry of another type than its `meta.tag` of `system` names, or the tag
/// when no entry is of it. A Bundle without such a tag keeps it (another rule requires one).
fn category_fault(b: &Value, element: &str, system: &str, codes: &[&str]) -> Option<String> {
    let named: Vec<&str> = bare(b, element)
        .into_iter()
        .filter(|t| t["system"] == system)
        .filter_map(|t| t["code"].as_str())
        .collect();
    if named.is_empty() {
        return None;
    }
    let mut found = false;
    for (i, e) in b["entry"].as_array().into_iter().flatten().enumerate() {
        let kind = e["resource"]["resourceType"].as_str().unwrap_or("");
        if !codes.contains(&kind) {
            continue;
        }
        if !named.contains(&kind) {
            return Some(format!("entry[{i}].resource.resourceType"));
        }
        found = true;
    }
    (!found).then(|| element.to_owned())
}

/// The profiles of `resource` in `guide`'s rules (derived and transcribed).
fn profiles_of(guide: Guide, resource: &str) -> impl Iterator<Item = &'static str> {
    static TABLE: OnceLock<Vec<(Guide, &'static str, &'static str)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t: Vec<_> = derived()
            .iter()
            .chain(TRANSCRIBED.iter().copied().flatten())
            .map(|r| (r.guide, r.resource, r.profile))
            .collect();
        t.sort_by_key(|(g, r, p)| (g.name, *r, *p));
        t.dedup();
        t
    });
    table
        .iter()
        .filter(move |(g, r, _)| *g == guide && *r == resource)
        .map(|(_, _, p)| *p)
}

/// Calls `f` with each member of object `v` a step names ([`step`] without a list).
fn each<'a>(v: &'a Value, seg: &str, mut f: impl FnMut(&'a Value)) {
    let Some(o) = v.as_object() else { return };
    match seg.strip_suffix('*') {
        Some(prefix) => o
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .for_each(|(_, x)| f(x)),
        None => o.get(seg).into_iter().for_each(f),
    }
}

/// How many values `owner` holds at a step (a list's length).
fn count(owner: &Value, seg: &str) -> usize {
    let mut n = 0;
    each(owner, seg, |v| {
        n += match v {
            Value::Array(a) => a.len(),
            Value::Null => 0,
            _ => 1,
        }
    });
    n
}

/// The values at a dotted element of `r`, lists walked through ([`values`] without the paths).
fn bare<'a>(r: &'a Value, element: &str) -> Vec<&'a Value> {
    let mut now = vec![r];
    for seg in element.split('.') {
        let mut next = Vec::new();
        for v in now {
            each(v, seg, |x| match x {
                Value::Array(a) => next.extend(a.iter()),
                Value::Null => {}
                x => next.push(x),
            });
        }
        now = next;
    }
    now
}

/// The members of object `v` a step names (`value*`: every member beginning `value`).
fn step<'a>(v: &'a Value, seg: &str) -> Vec<(&'a str, &'a Value)> {
    let Some(o) = v.as_object() else {
        return Vec::new();
    };
    match seg.strip_suffix('*') {
        Some(prefix) => o
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, x)| (k.as_str(), x))
            .collect(),
        None => o
            .get_key_value(seg)
            .map(|(k, x)| (k.as_str(), x))
            .into_iter()
            .collect(),
    }
}

/// The names of the members of `v` a step names.
fn keys(v: &Value, seg: &str) -> Vec<String> {
    step(v, seg)
        .into_iter()
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// Sets every value at `last` of the owners that `pick` selects to `to`; whether any was.
fn replace(
    r: &mut Value,
    parent: Option<&str>,
    last: &str,
    pick: impl Fn(&Value) -> bool,
    to: &str,
) -> bool {
    let mut changed = false;
    for owner in owners(r, parent) {
        for key in keys(owner, last) {
            // A list's values one by one (`meta.profile`), else the value.
            let values: Vec<&mut Value> = match &mut owner[key.as_str()] {
                Value::Array(a) => a.iter_mut().collect(),
                v => vec![v],
            };
            for v in values.into_iter().filter(|v| pick(v)) {
                *v = Value::from(to);
                changed = true;
            }
        }
    }
    changed
}

/// The values at a dotted element of `r`, lists walked through, with their dotted paths.
fn values<'a>(r: &'a Value, base: &str, element: &str) -> Vec<(String, &'a Value)> {
    let mut now = vec![(base.to_owned(), r)];
    for seg in element.split('.') {
        let mut next = Vec::new();
        for (p, v) in now {
            for (key, x) in step(v, seg) {
                let p = if p.is_empty() {
                    key.to_owned()
                } else {
                    format!("{p}.{key}")
                };
                match x {
                    Value::Array(a) => {
                        next.extend(a.iter().enumerate().map(|(i, x)| (format!("{p}[{i}]"), x)))
                    }
                    Value::Null => {}
                    x => next.push((p, x)),
                }
            }
        }
        now = next;
    }
    now
}

/// The objects holding the last step of an element: those at `parent` (or `r` itself).
fn owners<'a>(r: &'a mut Value, parent: Option<&str>) -> Vec<&'a mut Value> {
    let mut now = vec![r];
    for seg in parent.into_iter().flat_map(|p| p.split('.')) {
        let mut next = Vec::new();
        for v in now {
            let Some(o) = v.as_object_mut() else { continue };
            let prefix = seg.strip_suffix('*');
            for (k, x) in o.iter_mut() {
                let hit = match prefix {
                    Some(p) => k.starts_with(p),
                    None => k == seg,
                };
                if !hit {
                    continue;
                }
                match x {
                    Value::Array(a) => next.extend(a.iter_mut()),
                    x @ Value::Object(_) => next.push(x),
                    _ => {}
                }
            }
        }
        now = next;
    }
    now.retain(|v| v.is_object());
    now
}

/// The first rule of `rules` that `bundle` breaks.
pub fn first_violation(bundle: &Value, rules: &'static [Rule]) -> Option<Violation> {
    let resources = Resources::of(bundle);
    rules
        .iter()
        .find_map(|r| r.check_in(bundle, &resources).err())
}

/// The type and the resource of each entry of a Bundle, looked up once for all rules.
struct Resources<'a>(Vec<(&'a str, &'a Value)>);

impl<'a> Resources<'a> {
    fn of(bundle: &'a Value) -> Self {
        let entries = bundle["entry"].as_array().into_iter().flatten();
        Self(
            entries
                .map(|e| {
                    let r = &e["resource"];
                    (r["resourceType"].as_str().unwrap_or(""), r)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::clins::{ITEMS_BUNDLE_PROFILE as ITEMS_PROFILE, ItemsDraft};
    use crate::wire::fhir::PrescriptionDraft;

    fn prescription_bundle() -> Value {
        PrescriptionDraft::example().to_bundle()
    }

    /// The example submission's Bundles, one per category.
    fn items_bundles() -> Vec<Value> {
        ItemsDraft::example()
            .by_category()
            .iter()
            .map(ItemsDraft::to_bundle)
            .collect()
    }

    #[test]
    fn what_dxsim_writes_keeps_every_rule_and_each_break_breaks_its_rule_only() {
        let mut broken = 0;
        let cases = std::iter::once((prescription_bundle(), prescription()))
            .chain(items_bundles().into_iter().map(|b| (b, items())));
        for (good, rules) in cases {
            assert_eq!(first_violation(&good, rules), None);
            for rule in rules {
                let mut b = good.clone();
                let Some(at) = rule.break_in(&mut b) else {
                    continue;
                };
                broken += 1;
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
        assert!(broken > 150, "{broken} rules broken");
        // Every transcribed rule breaks in one of dxsim's Bundles.
        for rule in TRANSCRIBED.iter().copied().flatten() {
            let rule = prescription()
                .iter()
                .chain(items())
                .find(|r| r.id == rule.id)
                .unwrap();
            let bundles = std::iter::once(prescription_bundle()).chain(items_bundles());
            assert!(
                bundles
                    .into_iter()
                    .any(|mut b| rule.break_in(&mut b).is_some()),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn an_items_bundle_holds_the_one_category_its_tag_names() {
        let draft = ItemsDraft::example();
        let parts = draft.by_category();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].submission_id, "s-1-c");
        let mixed = draft.to_bundle();
        let v = first_violation(&mixed, items()).unwrap();
        assert_eq!(v.rule.id, "clins-bundle-one-category");
        assert_eq!(v.path, "bundle.entry[3].resource.resourceType");
        // A Bundle naming no category, or one dxsim does not know, is refused too.
        let mut b = parts[1].to_bundle();
        b["meta"].as_object_mut().unwrap().remove("tag");
        assert_eq!(
            first_violation(&b, items()).unwrap().rule.id,
            "clins-bundle.meta.tag"
        );
        let mut b = parts[1].to_bundle();
        b["meta"]["tag"][0]["code"] = serde_json::json!("Patient");
        let v = first_violation(&b, items()).unwrap();
        assert_eq!(v.rule.id, "clins-bundle-resource-type-code");
        assert_eq!(v.rule.answer, Answer::UnknownCode);
        // Profiles may be declared with their version, as JP-CLINS's examples do.
        let mut b = parts[0].to_bundle();
        let url = b["entry"][2]["resource"]["meta"]["profile"][0]
            .as_str()
            .unwrap()
            .to_owned();
        b["entry"][2]["resource"]["meta"]["profile"][0] = serde_json::json!(format!("{url}|1"));
        b["meta"]["profile"][0] = serde_json::json!(format!("{ITEMS_PROFILE}|1"));
        assert_eq!(first_violation(&b, items()), None);
        b["entry"][2]["resource"]["meta"]["profile"][0] = serde_json::json!(format!("{url}x"));
        let v = first_violation(&b, items()).unwrap();
        assert_eq!(
            (v.rule.id, v.path.as_str()),
            ("condition-profile", "bundle.entry[2].resource.meta.profile")
        );
        // The tag of a category with none of its resources.
        let mut b = parts[1].to_bundle();
        let entries = b["entry"].as_array_mut().unwrap();
        entries.retain(|e| e["resource"]["resourceType"] != "Observation");
        let v = first_violation(&b, items()).unwrap();
        assert_eq!(
            (v.rule.id, v.path.as_str()),
            ("clins-bundle-one-category", "bundle.meta.tag")
        );
    }

    /// Whether two rules share an element's stem (a broken list breaks the rules inside it).
    fn related(a: &Rule, b: &str, rules: &[Rule]) -> bool {
        let b = rules.iter().find(|r| r.id == b).unwrap();
        let (a_stem, b_stem) = (a.element.replace('*', ""), b.element.replace('*', ""));
        a.resource == b.resource && (a_stem.starts_with(&b_stem) || b_stem.starts_with(&a_stem))
    }

    #[test]
    fn rule_ids_are_unique_and_the_rules_not_applied_exist() {
        let mut ids: Vec<_> = prescription().iter().chain(items()).map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        let all: Vec<_> =
            serde_json::from_str::<Value>(super::super::PROFILES_JSON).unwrap()["profiles"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|p| p["rules"].as_array().unwrap().clone())
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect();
        for (id, _) in NOT_APPLIED {
            assert!(all.iter().any(|a| a == id), "{id} is not in profiles.json");
            assert!(!ids.contains(id), "{id} is applied");
        }
    }

    #[test]
    fn no_rule_is_transcribed_that_the_profiles_give() {
        for t in TRANSCRIBED.iter().copied().flatten() {
            let twin = derived()
                .iter()
                .find(|d| d.profile == t.profile && d.element == t.element && d.kind == t.kind);
            assert!(
                twin.is_none(),
                "{} is derived as {:?}",
                t.id,
                twin.map(|d| d.id)
            );
        }
        // A derived fixed code system accepts every form JP Core maps to it.
        let coverage = derived()
            .iter()
            .find(|r| r.id == "coverage.type.coding.system-fixed")
            .unwrap();
        assert_eq!(coverage.kind, Systems(&[super::super::INSURANCE_CATEGORY]));
        assert_eq!(coverage.answer, Answer::UnknownSystem);
    }

    #[test]
    fn an_organization_without_a_profile_is_held_to_the_one_its_role_references() {
        let mut b = prescription_bundle();
        let entries = b["entry"].as_array_mut().unwrap();
        for e in entries.iter_mut() {
            if e["resource"]["resourceType"] == "Organization" {
                e["resource"].as_object_mut().unwrap().remove("meta");
            }
        }
        let issuer = entries
            .iter()
            .position(|e| {
                e["resource"]["resourceType"] == "Organization"
                    && e["resource"]["address"].is_array()
            })
            .unwrap();
        let payer = entries
            .iter()
            .position(|e| {
                e["resource"]["resourceType"] == "Organization"
                    && !e["resource"]["address"].is_array()
            })
            .unwrap();
        // The insurer's Organization has no address, and the issuer's rules do not reach it.
        assert_eq!(first_violation(&b, prescription()), None);
        b["entry"][issuer]["resource"]
            .as_object_mut()
            .unwrap()
            .remove("address");
        let v = first_violation(&b, prescription()).unwrap();
        assert_eq!(v.rule.id, "issuer.address");
        assert_eq!(v.path, format!("bundle.entry[{issuer}].resource.address"));
        b = prescription_bundle();
        b["entry"][payer]["resource"]["telecom"] = serde_json::json!([{"system": "phone"}]);
        assert_eq!(
            first_violation(&b, prescription()).unwrap().rule.id,
            "payer.telecom"
        );
    }
}
