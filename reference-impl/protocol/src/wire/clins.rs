//! FHIR R4 shapes of the EHR sharing service (電子カルテ情報共有サービス), on the lines of JP-CLINS:
//!
//! - **6 items** (6情報) are sent as a `collection` Bundle per visit: the Patient (identified by
//!   the insured-person identifier `insurer:symbol:number:branch`), the submitting Organization,
//!   then Condition (diagnoses, ICD-10), Observation (lab results and the four infection markers,
//!   JLAC10-shaped codes), AllergyIntolerance `type = allergy` (allergies: a drug by YJ/HOT9 code
//!   or a food allergen) and AllergyIntolerance `type = intolerance`, category `medication`
//!   (contraindicated drugs, 薬剤禁忌). Prescriptions come from the e-prescription service.
//! - **3 documents** (3文書) are `document` Bundles whose Composition type is a LOINC code:
//!   referral letter (57133-1, addressed to a facility through [`REFERRAL_TO_EXTENSION`], may
//!   attach stored discharge summaries through DocumentReference entries), discharge summary
//!   (18842-5) and health-checkup report (53576-5).
//! - Flags are `meta.tag` codes of [`EHR_TAG_SYSTEM`]: `undisclosed` (a diagnosis the patient has
//!   not been told of; hidden from the patient's portal) and `long-term` (kept beyond 5 years).
//!
//! The server reads the elements written here; the builders are what the load driver, the tests
//! and the benchmarks send.

use super::fhir::{DOCUMENT_ID_SYSTEM, FACILITY_SYSTEM, urn};
use crate::refdata::clinical::{DIAGNOSES, Panel, food_allergen, lab_test};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Value, json};

/// Insured-person identifier on Patient: `insurer:symbol:number:branch` (被保険者個人識別子).
pub const INSURED_PERSON_SYSTEM: &str =
    "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
pub const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";
/// JLAC10 laboratory codes.
pub const JLAC10_SYSTEM: &str = "urn:oid:1.2.392.200119.4.504";
pub const FOOD_ALLERGEN_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_FoodAllergen";
pub const LOINC_SYSTEM: &str = "http://loinc.org";
pub const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// `meta.tag` system of the service's flags.
pub const EHR_TAG_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication";
pub const TAG_UNDISCLOSED: &str = "undisclosed";
pub const TAG_LONG_TERM: &str = "long-term";
/// Extension on a referral's Composition naming the addressed Organization entry.
pub const REFERRAL_TO_EXTENSION: &str =
    "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eReferral_Destination";
/// How a referral's DocumentReference names a stored document: this prefix, then the id.
pub const STORED_DOCUMENT_PREFIX: &str = "EhrDocument/";

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

    /// The Composition type (LOINC).
    pub fn loinc(self) -> &'static str {
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

    pub fn from_loinc(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.loinc() == code)
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
    /// Allergy to a drug (`system` YJ or HOT9) or a food ([`FOOD_ALLERGEN_SYSTEM`]).
    Allergy { system: String, code: String },
    /// Contraindicated drug (YJ or HOT9).
    ContraindicatedDrug { system: String, code: String },
}

/// One of the six items as a facility submits it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDraft {
    pub fact: Fact,
    /// The clinical date: diagnosed, tested, recorded.
    pub on: NaiveDate,
    pub undisclosed: bool,
    pub long_term: bool,
}

impl ItemDraft {
    pub fn new(fact: Fact, on: NaiveDate) -> Self {
        Self {
            fact,
            on,
            undisclosed: false,
            long_term: false,
        }
    }

    /// The FHIR resource, its subject pointing at `patient`.
    pub fn to_resource(&self, patient: &str) -> Value {
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
                json!({
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}]}],
                    "code": coded(ICD10_SYSTEM, code, display),
                    "subject": {"reference": patient},
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
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                    "code": coded(JLAC10_SYSTEM, code, lab_test(code).map(|t| t.name)),
                    "subject": {"reference": patient},
                    "effectiveDateTime": on,
                    "valueCodeableConcept": coded(INTERPRETATION_SYSTEM, c, Some(d))
                })
            }
            Fact::LabResult { code, value } => {
                let test = lab_test(code);
                let unit = test.map_or("", |t| t.unit);
                json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                    "code": coded(JLAC10_SYSTEM, code, test.map(|t| t.name)),
                    "subject": {"reference": patient},
                    "effectiveDateTime": on,
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
                    "code": coded(system, code, if food { food_allergen(code) } else { None }),
                    "patient": {"reference": patient},
                    "recordedDate": on
                })
            }
            Fact::ContraindicatedDrug { system, code } => json!({
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                "type": "intolerance",
                "category": ["medication"],
                "code": coded(system, code, None),
                "patient": {"reference": patient},
                "recordedDate": on
            }),
        };
        let tags: Vec<Value> = [
            (self.undisclosed, TAG_UNDISCLOSED),
            (self.long_term, TAG_LONG_TERM),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, code)| json!({"system": EHR_TAG_SYSTEM, "code": code}))
        .collect();
        if !tags.is_empty() {
            r["meta"] = json!({ "tag": tags });
        }
        r
    }
}

/// Whether a lab code is an infection marker (an [`Fact::Infection`]) rather than a lab result.
pub fn is_infection_code(code: &str) -> bool {
    lab_test(code).is_some_and(|t| t.panel == Panel::Infection)
}

fn patient_entry(id: &str, p: &EhrPatient) -> Value {
    json!({"fullUrl": urn(id, "patient"), "resource": {
        "resourceType": "Patient",
        "identifier": [{"system": INSURED_PERSON_SYSTEM, "value": p.member_id()}],
        "gender": p.gender,
        "birthDate": p.birth_date.to_string()
    }})
}

fn organization(fhir_url: &str, code: &str, name: &str) -> Value {
    let mut r = json!({
        "resourceType": "Organization",
        "identifier": [{"system": FACILITY_SYSTEM, "value": code}]
    });
    if !name.is_empty() {
        r["name"] = json!(name);
    }
    json!({"fullUrl": fhir_url, "resource": r})
}

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
    pub fn to_bundle(&self) -> Value {
        let id = &self.submission_id;
        let patient = urn(id, "patient");
        let mut entries = vec![
            patient_entry(id, &self.patient),
            organization(
                &urn(id, "organization"),
                &self.facility_code,
                &self.facility_name,
            ),
        ];
        entries.extend(self.items.iter().enumerate().map(|(i, it)| {
            json!({"fullUrl": urn(id, &format!("item-{i}")), "resource": it.to_resource(&patient)})
        }));
        json!({
            "resourceType": "Bundle",
            "identifier": {"system": DOCUMENT_ID_SYSTEM, "value": id},
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
        let items: Vec<(String, Value)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| (urn(id, &format!("item-{i}")), it.to_resource(&patient)))
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
                        "type": {"coding": [{"system": LOINC_SYSTEM, "code": DocumentKind::DischargeSummary.loinc()}]},
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
            "type": {"coding": [{"system": LOINC_SYSTEM, "code": self.kind.loinc(), "display": self.kind.title()}]},
            "subject": {"reference": patient},
            "date": self.at.to_rfc3339(),
            "author": [{"reference": author}],
            "title": self.kind.title(),
            "section": sections
        });
        let mut entries = vec![
            json!({"fullUrl": urn(id, "composition"), "resource": Value::Null}),
            patient_entry(id, &self.patient),
            organization(&author, &self.facility_code, &self.facility_name),
        ];
        if let Some(to) = &self.addressee {
            let url = urn(id, "addressee");
            composition["extension"] =
                json!([{"url": REFERRAL_TO_EXTENSION, "valueReference": {"reference": url}}]);
            entries.push(organization(&url, to, ""));
        }
        entries[0]["resource"] = composition;
        entries.extend(
            items
                .into_iter()
                .chain(attachments)
                .map(|(u, r)| json!({"fullUrl": u, "resource": r})),
        );
        json!({
            "resourceType": "Bundle",
            "identifier": {"system": DOCUMENT_ID_SYSTEM, "value": id},
            "type": "document",
            "timestamp": self.at.to_rfc3339(),
            "entry": entries
        })
    }
}
