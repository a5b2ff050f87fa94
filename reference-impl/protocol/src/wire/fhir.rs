//! FHIR R4 shapes of the e-prescription document, on the lines of the Japanese ePrescriptionData
//! guide: a `document` Bundle whose first entry is the Composition, then Patient, one Coverage per
//! payer, the prescribing Organization, the Practitioner, and one MedicationRequest per drug.
//!
//! The server reads exactly the elements named here; [`PrescriptionDraft::to_bundle`] writes them.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Value, json};

/// Profile URL declared in `Bundle.meta.profile`.
pub const BUNDLE_PROFILE: &str =
    "http://jpfhir.jp/fhir/ePrescriptionData/StructureDefinition/JP_Bundle_ePrescriptionData";
/// Document type code system; code `1` is an outpatient prescription (処方箋).
pub const DOC_TYPE_SYSTEM: &str = "http://jpfhir.jp/fhir/ePrescription/CodeSystem/doc-typecodes";
/// Bundle.identifier system for the prescriber's own document id.
pub const DOCUMENT_ID_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
/// Medical institution code (医療機関コード, 10 digits).
pub const FACILITY_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// Insurer number (保険者番号).
pub const INSURER_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.61";
/// Practitioner identifier (our stand-in for the HPKI certificate subject).
pub const PRACTITIONER_SYSTEM: &str = "http://jpfhir.jp/fhir/core/IdSystem/practitioner-hpki-id";
/// Insured symbol (記号) extension on Coverage.
pub const SYMBOL_EXTENSION: &str =
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol";
/// Insured number (番号) extension on Coverage.
pub const NUMBER_EXTENSION: &str =
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber";
/// HOT9 drug codes.
pub const HOT9_SYSTEM: &str = "urn:oid:1.2.392.200119.4.403.1";
/// YJ drug codes.
pub const YJ_SYSTEM: &str = "urn:oid:1.2.392.100495.20.1.73";

/// The insurance part of a prescription: 保険者番号, 記号, 番号, 枝番.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftCoverage {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
}

/// One drug of a prescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftItem {
    /// YJ code (or HOT9 code, then `code_system` is [`HOT9_SYSTEM`]).
    pub code: String,
    pub code_system: &'static str,
    pub display: String,
    pub days: u16,
    pub quantity: u32,
    pub unit: String,
    pub as_needed: bool,
}

/// Everything a prescriber's system knows when it writes a prescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionDraft {
    /// The prescriber's own id for this document, unique per facility.
    pub document_id: String,
    pub facility_code: String,
    pub facility_name: String,
    pub practitioner_id: String,
    pub issued_at: DateTime<FixedOffset>,
    /// `male` or `female` (FHIR administrative gender).
    pub patient_gender: &'static str,
    pub patient_birth_date: NaiveDate,
    pub coverage: DraftCoverage,
    pub items: Vec<DraftItem>,
    /// Total uses: 1 for an ordinary prescription, 2–3 for a refill prescription.
    pub uses: u8,
}

/// A name-based `urn:uuid:` for `part` of document `document_id` (stable for the same inputs).
pub fn urn(document_id: &str, part: &str) -> String {
    // A name-based id in UUID layout; FHIR requires urn:uuid fullUrls to be UUID-shaped.
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in document_id.bytes().chain([0]).chain(part.bytes()) {
        h = (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let x = format!("{h:032x}");
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

impl PrescriptionDraft {
    /// The FHIR document Bundle for this prescription.
    pub fn to_bundle(&self) -> Value {
        let id = &self.document_id;
        let (patient, coverage, org, pract) = (
            urn(id, "patient"),
            urn(id, "coverage"),
            urn(id, "organization"),
            urn(id, "practitioner"),
        );
        let issued = self.issued_at.to_rfc3339();
        let authored = self.issued_at.date_naive().to_string();
        let requests: Vec<(String, Value)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let url = urn(id, &format!("medication-request-{i}"));
                let resource = json!({
                    "resourceType": "MedicationRequest",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": patient},
                    "authoredOn": authored,
                    "medicationCodeableConcept": {"coding": [{
                        "system": item.code_system, "code": item.code, "display": item.display
                    }]},
                    "dosageInstruction": [{"asNeededBoolean": item.as_needed}],
                    "dispenseRequest": {
                        "quantity": {"value": item.quantity, "unit": item.unit},
                        "expectedSupplyDuration": {
                            "value": item.days, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d"
                        },
                        "numberOfRepeatsAllowed": self.uses.saturating_sub(1)
                    }
                });
                (url, resource)
            })
            .collect();
        let section_entries: Vec<Value> = requests
            .iter()
            .map(|(u, _)| json!({"reference": u}))
            .collect();
        let mut entries = vec![
            json!({"fullUrl": urn(id, "composition"), "resource": {
                "resourceType": "Composition",
                "status": "final",
                "type": {"coding": [{"system": DOC_TYPE_SYSTEM, "code": "1", "display": "処方箋"}]},
                "subject": {"reference": patient},
                "date": issued,
                "author": [{"reference": pract}, {"reference": org}],
                "title": "処方箋",
                "section": [{"title": "処方指示", "entry": section_entries}]
            }}),
            json!({"fullUrl": patient, "resource": {
                "resourceType": "Patient",
                "gender": self.patient_gender,
                "birthDate": self.patient_birth_date.to_string()
            }}),
            json!({"fullUrl": coverage, "resource": {
                "resourceType": "Coverage",
                "status": "active",
                "extension": [
                    {"url": SYMBOL_EXTENSION, "valueString": self.coverage.symbol},
                    {"url": NUMBER_EXTENSION, "valueString": self.coverage.number}
                ],
                "dependent": self.coverage.branch,
                "beneficiary": {"reference": patient},
                "payor": [{"identifier": {"system": INSURER_SYSTEM, "value": self.coverage.insurer_number}}]
            }}),
            json!({"fullUrl": org, "resource": {
                "resourceType": "Organization",
                "identifier": [{"system": FACILITY_SYSTEM, "value": self.facility_code}],
                "name": self.facility_name
            }}),
            json!({"fullUrl": pract, "resource": {
                "resourceType": "Practitioner",
                "identifier": [{"system": PRACTITIONER_SYSTEM, "value": self.practitioner_id}]
            }}),
        ];
        entries.extend(
            requests
                .into_iter()
                .map(|(url, r)| json!({"fullUrl": url, "resource": r})),
        );
        json!({
            "resourceType": "Bundle",
            "meta": {"profile": [BUNDLE_PROFILE]},
            "identifier": {"system": DOCUMENT_ID_SYSTEM, "value": self.document_id},
            "type": "document",
            "timestamp": issued,
            "entry": entries
        })
    }
}
