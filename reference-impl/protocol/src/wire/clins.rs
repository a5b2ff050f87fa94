//! FHIR R4 shapes of the EHR sharing service (電子カルテ情報共有サービス), as JP-CLINS writes them
//! (see [`super::guides::JP_CLINS`] for the release):
//!
//! - **6 items** (6情報) are sent as a `collection` Bundle (`JP_Bundle_CLINS`) per visit: the
//!   Patient (identified by the insured-person identifier `insurer:symbol:number:branch`), the
//!   submitting Organization, then Condition (diagnoses, MHLW's ICD-10), Observation (lab results
//!   and the four infection markers, JLAC10), AllergyIntolerance `type = allergy` (allergies: a
//!   drug by YJ/HOT9 code or a food by its JFAGY code) and AllergyIntolerance
//!   `type = intolerance`, category `medication` (contraindicated drugs, 薬剤禁忌). Each item
//!   names its patient by `subject.identifier` (`patient.identifier` on AllergyIntolerance), the
//!   insured-person identifier. Prescriptions come from the e-prescription service.
//! - **3 documents** (3文書) are `document` Bundles whose Composition type is a code of the
//!   document type codes ([`super::guides::DOC_TYPE`]): referral letter (57133-1, addressed to a
//!   facility through its referral-to section, code 910; may attach stored discharge summaries
//!   through DocumentReference entries), discharge summary (18842-5) and health-checkup report
//!   (53576-5).
//! - Bundles are identified as JP-CLINS says: system [`BUNDLE_ID_SYSTEM`], value
//!   `<facility code>^<year>^<the facility's own id>`.
//! - Flags are `meta.tag` codes of [`EHR_TAG_SYSTEM`]: `UNINFORMED` (未告知: a diagnosis the
//!   patient has not been told of; never shown on the patient's portal) and `LTS` (長期保存: kept
//!   beyond 5 years).
//!
//! The server reads the elements written here; the builders are what the load driver, the tests
//! and the benchmarks send.

use super::fhir::{FACILITY_SYSTEM, urn};
use super::guides;
use crate::refdata::clinical::{DIAGNOSES, Panel, food_allergen, lab_test};
use crate::refdata::names;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde_json::{Value, json};

/// Insured-person identifier on Patient: `insurer:symbol:number:branch` (被保険者個人識別子).
pub const INSURED_PERSON_SYSTEM: &str =
    "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
/// `Bundle.identifier.system` of every JP-CLINS Bundle.
pub const BUNDLE_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/bundle-identifier";
/// `identifier[resourceIdentifier].system` of every eCS item (JP Core's resource instance ids).
pub const RESOURCE_ID_SYSTEM: &str = guides::RESOURCE_ID.written;
pub const ICD10_SYSTEM: &str = guides::ICD10.written;
/// JLAC10 laboratory codes.
pub const JLAC10_SYSTEM: &str = guides::JLAC10.written;
/// JFAGY food allergen codes.
pub const FOOD_ALLERGEN_SYSTEM: &str = guides::JFAGY_FOOD.written;
pub const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// `meta.tag` system of the service's flags (長期保存／未告知).
pub const EHR_TAG_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication";
/// 未告知: a diagnosis the patient has not been told of.
pub const TAG_UNINFORMED: &str = "UNINFORMED";
/// 長期保存: kept beyond the 5 years.
pub const TAG_LTS: &str = "LTS";
/// 未提供: not to be provided to the sharing service.
pub const TAG_UNDELIVERED: &str = "UNDELIVERED";
/// Section codes of the documents' Compositions.
pub const SECTION_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section";
/// The referral-to section (紹介先情報), whose entry is the addressed Organization.
pub const REFERRAL_TO_SECTION: &str = "910";
/// How a referral's DocumentReference names a stored document: this prefix, then the id.
pub const STORED_DOCUMENT_PREFIX: &str = "EhrDocument/";

/// The JP-CLINS (eCS) profile `name`'s URL.
pub fn ecs_profile(name: &str) -> String {
    format!("http://jpfhir.jp/fhir/eCS/StructureDefinition/{name}")
}

/// `Bundle.meta.profile` of the 6-item submission.
pub const ITEMS_BUNDLE_PROFILE: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS";

/// A Bundle identifier's value: `<facility>^<year>^<id>`.
pub fn bundle_id(facility_code: &str, at: &DateTime<FixedOffset>, id: &str) -> String {
    format!("{facility_code}^{}^{id}", at.year())
}

/// The id part of a JP-CLINS Bundle identifier, if the value has its form (10-digit facility,
/// year 20xx, 1–36 letters, digits or hyphens) and names `facility_code`.
pub fn bundle_id_part<'a>(value: &'a str, facility_code: &str) -> Option<&'a str> {
    let mut parts = value.splitn(3, '^');
    let (f, y, id) = (parts.next()?, parts.next()?, parts.next()?);
    let year_ok = y.len() == 4 && y.starts_with("20") && y.bytes().all(|b| b.is_ascii_digit());
    let id_ok =
        (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (f == facility_code && year_ok && id_ok).then_some(id)
}

/// The three documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 診療情報提供書: addressed to one facility.
    Referral,
    /// 退院時サマリー.
    DischargeSummary,
    /// 健康診断結果報告書: no addressee.
    CheckupReport,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Referral,
        DocumentKind::DischargeSummary,
        DocumentKind::CheckupReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Referral => "referral",
            DocumentKind::DischargeSummary => "discharge_summary",
            DocumentKind::CheckupReport => "checkup_report",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Composition type: a code of the document type codes ([`guides::DOC_TYPE`]).
    pub fn type_code(self) -> &'static str {
        match self {
            DocumentKind::Referral => "57133-1",
            DocumentKind::DischargeSummary => "18842-5",
            DocumentKind::CheckupReport => "53576-5",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Referral => "診療情報提供書",
            DocumentKind::DischargeSummary => "退院時サマリー",
            DocumentKind::CheckupReport => "健康診断結果報告書",
        }
    }

    pub fn from_type_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_code() == code)
    }

    /// The Bundle profile JP-CLINS gives this document, if it profiles it.
    pub fn bundle_profile(self) -> Option<&'static str> {
        match self {
            DocumentKind::Referral => {
                Some("http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral")
            }
            DocumentKind::DischargeSummary => {
                Some("http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eDischargeSummary")
            }
            DocumentKind::CheckupReport => None,
        }
    }
}

/// The six items (and the filter names of the clinical summary).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Diagnosis,
    Infection,
    Allergy,
    ContraindicatedDrug,
    LabResult,
    /// From the e-prescription service; never submitted here.
    Prescription,
}

impl ItemKind {
    pub const ALL: [ItemKind; 6] = [
        ItemKind::Diagnosis,
        ItemKind::Infection,
        ItemKind::Allergy,
        ItemKind::ContraindicatedDrug,
        ItemKind::LabResult,
        ItemKind::Prescription,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Diagnosis => "diagnosis",
            ItemKind::Infection => "infection",
            ItemKind::Allergy => "allergy",
            ItemKind::ContraindicatedDrug => "contraindicated_drug",
            ItemKind::LabResult => "lab_result",
            ItemKind::Prescription => "prescription",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who the record is about, as the facility's system knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhrPatient {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    /// `male` or `female`.
    pub gender: &'static str,
    pub birth_date: NaiveDate,
}

impl EhrPatient {
    /// The insured-person identifier's value.
    pub fn member_id(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.insurer_number, self.symbol, self.number, self.branch
        )
    }

    /// The person's synthetic name ([`names`]).
    pub fn name(&self) -> names::Name {
        names::Name::of(&self.member_id(), self.gender == "female")
    }

    /// A reference to this person by the insured-person identifier, as JP-CLINS items name
    /// their subject.
    pub fn reference(&self) -> Value {
        json!({"identifier": {"system": INSURED_PERSON_SYSTEM, "value": self.member_id()}})
    }
}

/// What an item states.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// ICD-10 code.
    Diagnosis { code: String },
    /// Infection marker code and result.
    Infection { code: String, positive: bool },
    /// Laboratory test code and value (in the test's unit).
    LabResult { code: String, value: f64 },
    /// Allergy to a drug (`system` YJ or HOT9) or a food ([`FOOD_ALLERGEN_SYSTEM`], JFAGY).
    Allergy { system: String, code: String },
    /// Contraindicated drug (YJ or HOT9).
    ContraindicatedDrug { system: String, code: String },
}

impl Fact {
    /// The resource type JP-CLINS writes it as: a JP-CLINS items Bundle holds one of them
    /// ([`ItemsDraft::by_category`]).
    pub fn resource_type(&self) -> &'static str {
        match self {
            Fact::Diagnosis { .. } => "Condition",
            Fact::Infection { .. } | Fact::LabResult { .. } => "Observation",
            Fact::Allergy { .. } | Fact::ContraindicatedDrug { .. } => "AllergyIntolerance",
        }
    }
}

/// One of the six items as a facility submits it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDraft {
    pub fact: Fact,
    /// The clinical date: diagnosed, tested, recorded.
    pub on: NaiveDate,
    /// `UNINFORMED` (未告知): diagnoses only.
    pub uninformed: bool,
    /// `LTS` (長期保存).
    pub long_term: bool,
}

impl ItemDraft {
    pub fn new(fact: Fact, on: NaiveDate) -> Self {
        Self {
            fact,
            on,
            uninformed: false,
            long_term: false,
        }
    }

    /// The FHIR resource, its subject `patient` (a Reference), written by `facility` at `at`
    /// (its `meta.lastUpdated`) and identified by `id` (its resource identifier: the facility's
    /// submission or document id and the item's place in it). It carries what JP_Bundle_CLINS's
    /// invariants require of an item: the facility's institution number (R9011), and for a
    /// diagnosis or a result the department (R9014, internal medicine: the synthetic visits have
    /// none) and the visit as a contained Encounter (R9013), for a diagnosis its onset (R9013C,
    /// the clinical date).
    pub fn to_resource(
        &self,
        patient: &Value,
        facility: &str,
        at: &DateTime<FixedOffset>,
        id: &str,
    ) -> Value {
        let coded = |system: &str, code: &str, display: Option<&str>| {
            let mut c = json!({"system": system, "code": code});
            if let Some(d) = display {
                c["display"] = json!(d);
            }
            json!({"coding": [c]})
        };
        let on = self.on.to_string();
        let mut r = match &self.fact {
            Fact::Diagnosis { code } => {
                let display = DIAGNOSES.iter().find(|d| d.0 == code).map(|d| d.1);
                let name = display.unwrap_or(code);
                // JP-CLINS wants the MEDIS disease number beside the ICD-10 code; without the
                // MEDIS master, the number of a name not coded there.
                let mut concept = coded(ICD10_SYSTEM, code, Some(name));
                concept["coding"].as_array_mut().expect("a coding list").push(json!({
                    "system": guides::MEDIS_DISEASE.written, "code": guides::MEDIS_UNCODED, "display": name
                }));
                concept["text"] = json!(name);
                json!({
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}]}],
                    "code": concept,
                    "subject": patient,
                    "recordedDate": on
                })
            }
            Fact::Infection { code, positive } => {
                let (c, d) = if *positive {
                    ("POS", "Positive")
                } else {
                    ("NEG", "Negative")
                };
                json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [{"coding": [{"system": OBSERVATION_CATEGORY_SYSTEM, "code": "laboratory"}]}],
                    "code": lab_concept(code),
                    "subject": patient,
                    "effectiveDateTime": on,
                    "specimen": SPECIMEN.clone(),
                    "valueCodeableConcept": coded(INTERPRETATION_SYSTEM, c, Some(d))
                })
            }
            Fact::LabResult { code, value } => {
                let test = lab_test(code);
                let unit = test.map_or("", |t| t.unit);
                json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [{"coding": [{"system": OBSERVATION_CATEGORY_SYSTEM, "code": "laboratory"}]}],
                    "code": lab_concept(code),
                    "subject": patient,
                    "effectiveDateTime": on,
                    "specimen": SPECIMEN.clone(),
                    "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
                })
            }
            Fact::Allergy { system, code } => {
                let food = system == FOOD_ALLERGEN_SYSTEM;
                json!({
                    "resourceType": "AllergyIntolerance",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                    "type": "allergy",
                    "category": [if food { "food" } else { "medication" }],
                    "code": named(coded(system, code, if food { food_allergen(code) } else { drug_name(code) })),
                    "patient": patient,
                    "recordedDate": on
                })
            }
            Fact::ContraindicatedDrug { system, code } => json!({
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                "type": "intolerance",
                "category": ["medication"],
                "code": named(coded(system, code, drug_name(code))),
                "patient": patient,
                "recordedDate": on
            }),
        };
        let profile = match r["resourceType"].as_str() {
            Some("Condition") => ecs_profile("JP_Condition_eCS"),
            Some("Observation") => ecs_profile("JP_Observation_LabResult_eCS"),
            _ => ecs_profile("JP_AllergyIntolerance_eCS"),
        };
        r["meta"] = json!({ "profile": [profile], "lastUpdated": at.to_rfc3339() });
        r["identifier"] = json!([{"system": RESOURCE_ID_SYSTEM, "value": id}]);
        let mut extensions = vec![institution_number(facility)];
        if r["resourceType"] != "AllergyIntolerance" {
            extensions.push(
                json!({"url": DEPARTMENT_EXTENSION, "valueCodeableConcept": {
                    "coding": [{"system": DEPARTMENT_SYSTEM, "code": "01", "display": "内科"}],
                    "text": "内科"
                }}),
            );
            r["contained"] = json!([{
                "resourceType": "Encounter",
                "id": "encounter",
                "meta": {"profile": [JP_ENCOUNTER_PROFILE]},
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "外来"}
            }]);
            r["encounter"] = json!({"reference": "#encounter"});
        }
        if r["resourceType"] == "Condition" {
            r["onsetDateTime"] = json!(on);
        }
        r["extension"] = json!(extensions);
        let tags: Vec<Value> = [
            (self.long_term, TAG_LTS, "長期保存"),
            (self.uninformed, TAG_UNINFORMED, "未告知"),
        ]
        .into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, code, display)| json!({"system": EHR_TAG_SYSTEM, "code": code, "display": display}))
        .collect();
        if !tags.is_empty() {
            r["meta"]["tag"] = json!(tags);
        }
        r
    }
}

/// A JLAC10 code as JP-CLINS writes it: the coding with its display (the test's name, or the
/// code where the table has none) and the same as `text`.
fn lab_concept(code: &str) -> Value {
    let name = lab_test(code).map_or(code, |t| t.name);
    json!({"coding": [{"system": JLAC10_SYSTEM, "code": code, "display": name}], "text": name})
}

/// The specimen of every laboratory item, which JP_Observation_LabResult_eCS requires: named as
/// the profile allows (`type` Specimen and a display) rather than a contained Specimen. All of
/// dxsim's tests are of blood (serum or whole blood, by their JLAC10 material codes).
static SPECIMEN: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| json!({"type": "Specimen", "display": "血液"}));

/// A concept with `text`: the first coding's display, or its code.
fn named(mut concept: Value) -> Value {
    let c = &concept["coding"][0];
    let text = c["display"]
        .as_str()
        .or(c["code"].as_str())
        .unwrap_or_default()
        .to_owned();
    concept["text"] = json!(text);
    concept
}

/// The name of a YJ or HOT9 code in the drug master.
fn drug_name(code: &str) -> Option<&'static str> {
    crate::refdata::DrugMaster::get()
        .by_code(code)
        .map(|d| d.name.as_str())
}

/// Whether a lab code is an infection marker (an [`Fact::Infection`]) rather than a lab result.
pub fn is_infection_code(code: &str) -> bool {
    lab_test(code).is_some_and(|t| t.panel == Panel::Infection)
}

fn patient_entry(id: &str, p: &EhrPatient, at: &DateTime<FixedOffset>) -> Value {
    json!({"fullUrl": urn(id, "patient"), "resource": {
        "resourceType": "Patient",
        "meta": {"profile": [ecs_profile("JP_Patient_eCS")], "lastUpdated": at.to_rfc3339()},
        "identifier": [{"system": INSURED_PERSON_SYSTEM, "value": p.member_id()}],
        "name": p.name().to_fhir(),
        "gender": p.gender,
        "birthDate": p.birth_date.to_string(),
        "address": names::address(&p.insurer_number)
    }})
}

fn organization(fhir_url: &str, code: &str, name: &str) -> Value {
    // R9011 asks every entry after the Patient for the institution number, the author too.
    let mut r = json!({
        "resourceType": "Organization",
        "extension": [institution_number(code)],
        "identifier": [{"system": FACILITY_SYSTEM, "value": code}]
    });
    if !name.is_empty() {
        r["name"] = json!(name);
    }
    json!({"fullUrl": fhir_url, "resource": r})
}

/// The category of a laboratory result, as JP_Observation_LabResult_eCS names it.
pub const OBSERVATION_CATEGORY_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS";

/// JP-CLINS's extension naming the facility an item comes from (its 10-digit code; R9011–R9012).
pub const INSTITUTION_NUMBER_EXTENSION: &str =
    "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber";
/// The eCS extension naming a diagnosis's or result's clinical department (R9014).
pub const DEPARTMENT_EXTENSION: &str =
    "http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_Department";
/// SS-MIX2's clinical department codes, as JP-CLINS's examples write them.
pub const DEPARTMENT_SYSTEM: &str = "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment";
/// JP Core's Encounter profile, of the visit contained in a diagnosis or result (R9013).
pub const JP_ENCOUNTER_PROFILE: &str =
    "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter";

fn institution_number(facility: &str) -> Value {
    json!({"url": INSTITUTION_NUMBER_EXTENSION, "valueIdentifier": {"system": FACILITY_SYSTEM, "value": facility}})
}

/// The resource categories of JP-CLINS items Bundles dxsim writes (`BundleResourceType_CS`).
pub const CATEGORIES: [&str; 3] = ["Condition", "Observation", "AllergyIntolerance"];

/// A facility's submission of items for one visit.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsDraft {
    /// The facility's own id of this submission (idempotency key), unique per facility.
    pub submission_id: String,
    pub facility_code: String,
    pub facility_name: String,
    pub at: DateTime<FixedOffset>,
    pub patient: EhrPatient,
    pub items: Vec<ItemDraft>,
}

impl ItemsDraft {
    /// A small well-formed submission (a diagnosis, a laboratory result, a food allergy), for
    /// examples and tests.
    pub fn example() -> Self {
        let on = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a date");
        Self {
            submission_id: "s-1".into(),
            facility_code: "1310110015".into(),
            facility_name: "c".into(),
            at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00").expect("a time"),
            patient: EhrPatient {
                insurer_number: "06139996".into(),
                symbol: "C".into(),
                number: "1".into(),
                branch: "00".into(),
                gender: "male",
                birth_date: NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"),
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
                        system: guides::JFAGY_FOOD.written.into(),
                        code: "J9FB13110000".into(),
                    },
                    on,
                ),
            ],
        }
    }

    /// The submission as JP-CLINS sends it: one Bundle per resource category (conditions,
    /// observations, allergies), in that order. A submission of one category is itself; of
    /// several, each part's id is the submission's with the category's initial, lower case
    /// (`visit-1-c`, `visit-1-o`, `visit-1-a`: a Bundle id holds 36 characters at most).
    pub fn by_category(&self) -> Vec<ItemsDraft> {
        let mut kinds: Vec<&str> = self.items.iter().map(|i| i.fact.resource_type()).collect();
        kinds.sort_unstable_by_key(|k| CATEGORIES.iter().position(|c| c == k));
        kinds.dedup();
        if kinds.len() <= 1 {
            return vec![self.clone()];
        }
        kinds
            .into_iter()
            .map(|kind| ItemsDraft {
                submission_id: format!("{}-{}", self.submission_id, kind[..1].to_ascii_lowercase()),
                items: (self.items.iter())
                    .filter(|i| i.fact.resource_type() == kind)
                    .cloned()
                    .collect(),
                ..self.clone()
            })
            .collect()
    }

    /// The Bundle of a submission of one resource category (`meta.tag` names it; a draft of
    /// several is split first with [`ItemsDraft::by_category`], else the exchange refuses it).
    pub fn to_bundle(&self) -> Value {
        let id = &self.submission_id;
        let patient = self.patient.reference();
        let category = self
            .items
            .first()
            .map_or("Condition", |i| i.fact.resource_type());
        let mut entries = vec![
            patient_entry(id, &self.patient, &self.at),
            organization(
                &urn(id, "organization"),
                &self.facility_code,
                &self.facility_name,
            ),
        ];
        entries.extend(self.items.iter().enumerate().map(|(i, it)| {
            let resource = it.to_resource(
                &patient,
                &self.facility_code,
                &self.at,
                &format!("{id}-{}", i + 1),
            );
            json!({"fullUrl": urn(id, &format!("item-{i}")), "resource": resource})
        }));
        json!({
            "resourceType": "Bundle",
            "meta": {
                "profile": [ITEMS_BUNDLE_PROFILE],
                "lastUpdated": self.at.to_rfc3339(),
                "tag": [{"system": guides::BUNDLE_RESOURCE_TYPE.written, "code": category}]
            },
            "identifier": {"system": BUNDLE_ID_SYSTEM, "value": bundle_id(&self.facility_code, &self.at, id)},
            "type": "collection",
            "timestamp": self.at.to_rfc3339(),
            "entry": entries
        })
    }
}

/// One of the three documents as a facility writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentDraft {
    /// The facility's own id of this document, unique per facility.
    pub document_id: String,
    pub kind: DocumentKind,
    pub facility_code: String,
    pub facility_name: String,
    pub at: DateTime<FixedOffset>,
    pub patient: EhrPatient,
    /// Referral only: the addressed facility.
    pub addressee: Option<String>,
    /// Referral only: ids of stored discharge summaries sent along.
    pub attachments: Vec<String>,
    /// Free text of the body section (purpose of referral, course in hospital, findings).
    pub text: String,
    /// Coded content: diagnoses, results.
    pub items: Vec<ItemDraft>,
}

fn narrative(text: &str) -> Value {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{escaped}</div>")})
}

impl DocumentDraft {
    pub fn to_bundle(&self) -> Value {
        let id = &self.document_id;
        let (patient, author) = (urn(id, "patient"), urn(id, "organization"));
        let subject = self.patient.reference();
        let items: Vec<(String, Value)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let resource = it.to_resource(
                    &subject,
                    &self.facility_code,
                    &self.at,
                    &format!("{id}-{}", i + 1),
                );
                (urn(id, &format!("item-{i}")), resource)
            })
            .collect();
        let attachments: Vec<(String, Value)> = self
            .attachments
            .iter()
            .enumerate()
            .map(|(i, doc)| {
                (
                    urn(id, &format!("attachment-{i}")),
                    json!({
                        "resourceType": "DocumentReference",
                        "status": "current",
                        "type": {"coding": [{"system": guides::DOC_TYPE.written, "code": DocumentKind::DischargeSummary.type_code()}]},
                        "subject": {"reference": patient},
                        "content": [{"attachment": {"contentType": "application/fhir+json", "url": format!("{STORED_DOCUMENT_PREFIX}{doc}")}}]
                    }),
                )
            })
            .collect();
        let refs = |v: &[(String, Value)]| -> Vec<Value> {
            v.iter().map(|(u, _)| json!({"reference": u})).collect()
        };
        let mut sections = vec![json!({"title": "本文", "text": narrative(&self.text)})];
        if !items.is_empty() {
            sections.push(json!({"title": "臨床情報", "entry": refs(&items)}));
        }
        if !attachments.is_empty() {
            sections.push(json!({"title": "添付情報", "entry": refs(&attachments)}));
        }
        let mut composition = json!({
            "resourceType": "Composition",
            "status": "final",
            "type": {"coding": [{"system": guides::DOC_TYPE.written, "code": self.kind.type_code(), "display": self.kind.title()}]},
            "subject": {"reference": patient},
            "date": self.at.to_rfc3339(),
            "author": [{"reference": author}],
            "title": self.kind.title(),
            "section": sections
        });
        let mut entries = vec![
            json!({"fullUrl": urn(id, "composition"), "resource": Value::Null}),
            patient_entry(id, &self.patient, &self.at),
            organization(&author, &self.facility_code, &self.facility_name),
        ];
        if let Some(to) = &self.addressee {
            let url = urn(id, "addressee");
            composition["section"]
                .as_array_mut()
                .expect("sections are a list")
                .push(json!({
                    "title": "紹介先情報",
                    "code": {"coding": [{"system": SECTION_SYSTEM, "code": REFERRAL_TO_SECTION, "display": "紹介先情報セクション"}]},
                    "entry": [{"reference": url}]
                }));
            entries.push(organization(&url, to, ""));
        }
        entries[0]["resource"] = composition;
        entries.extend(
            items
                .into_iter()
                .chain(attachments)
                .map(|(u, r)| json!({"fullUrl": u, "resource": r})),
        );
        let mut bundle = json!({
            "resourceType": "Bundle",
            "identifier": {"system": BUNDLE_ID_SYSTEM, "value": bundle_id(&self.facility_code, &self.at, id)},
            "type": "document",
            "timestamp": self.at.to_rfc3339(),
            "entry": entries
        });
        bundle["meta"] = json!({"lastUpdated": self.at.to_rfc3339()});
        if let Some(profile) = self.kind.bundle_profile() {
            bundle["meta"]["profile"] = json!([profile]);
        }
        bundle
    }
}
