//! FHIR R4 shapes of the e-prescription document, on the lines of the Japanese ePrescriptionData
//! guide: a `document` Bundle whose first entry is the Composition, then Patient, one Coverage per
//! payer, the prescribing Organization, the Practitioner, and one MedicationRequest per drug.
//!
//! The server reads exactly the elements named here; [`PrescriptionDraft::to_bundle`] writes them.

use crate::refdata::names;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Value, json};

/// The ePrescriptionData profile `name`'s URL.
pub fn profile(name: &str) -> String {
    format!("http://jpfhir.jp/fhir/ePrescription/StructureDefinition/{name}")
}
/// Profile URL declared in `Bundle.meta.profile`.
pub const BUNDLE_PROFILE: &str =
    "http://jpfhir.jp/fhir/ePrescription/StructureDefinition/JP_Bundle_ePrescriptionData";
/// `Bundle.identifier.system`: the Bundle is identified by a `urn:uuid:`.
pub const BUNDLE_ID_SYSTEM: &str = "urn:ietf:rfc:3986";
/// `Composition.identifier.system` for the prescription number (処方箋番号), which is the
/// prescriber's own id of the document.
pub const PRESCRIPTION_NUMBER_SYSTEM: &str =
    "http://jpfhir.jp/fhir/Common/IdSystem/resourceInstance-identifier";
/// `Composition.type`: code 57833-6 (処方箋) of the document type codes.
pub const PRESCRIPTION_DOC_TYPE: &str = "57833-6";
/// `Composition.category`: code 01 (一般処方箋).
pub const CATEGORY_SYSTEM: &str =
    "http://jpfhir.jp/fhir/ePrescription/CodeSystem/prescription-category";
/// `Composition.section.code`: code 01 (処方情報セクション).
pub const SECTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/ePrescription/CodeSystem/prescription-section";
/// Medical institution code (医療機関コード, 10 digits).
pub const FACILITY_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// Insurer number (保険者番号), on the insurer's Organization.
pub const INSURER_SYSTEM: &str = super::guides::INSURER_NUMBER.written;
/// `Organization.type` codes (`prov` for the issuing facility, `ins` for an insurer).
pub const ORGANIZATION_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/organization-type";
/// Insurance category (保険種別: 1 医保, 2 国保, 7 後期高齢者, …) on `Coverage.type`.
pub const INSURANCE_CATEGORY_SYSTEM: &str = super::guides::INSURANCE_CATEGORY.written;
/// Insured or dependant (被保険者区分: 1 被保険者, 2 被扶養者) on `Coverage.relationship`.
pub const RELATIONSHIP_SYSTEM: &str = super::guides::INSURED_RELATIONSHIP.written;
/// Insured symbol (記号) extension on Coverage.
pub const SYMBOL_EXTENSION: &str =
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol";
/// Insured number (番号) extension on Coverage.
pub const NUMBER_EXTENSION: &str =
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber";
/// Branch number (枝番) extension on Coverage.
pub const SUB_NUMBER_EXTENSION: &str =
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber";
/// HOT9 drug codes, as ePrescriptionData writes them.
pub const HOT9_SYSTEM: &str = super::guides::HOT9.written;
/// YJ drug codes, as ePrescriptionData writes them.
pub const YJ_SYSTEM: &str = super::guides::YJ.written;

/// The identifier system of the prescribers of facility `facility_code` (医師を特定する ID,
/// `urn:oid:1.2.392.100495.20.3.41.1<facility>`; 42 for a dentist, at a dental facility).
pub fn practitioner_system(facility_code: &str) -> String {
    let dentist = crate::codes::validate_facility_code(facility_code)
        == Ok(crate::codes::FacilityTable::Dental);
    let kind = if dentist { 42 } else { 41 };
    format!("urn:oid:1.2.392.100495.20.3.{kind}.1{facility_code}")
}

/// 保険種別 from the insurer number: 国保 (6 digits), 後期高齢者 (法別番号 39), else 医保.
pub fn insurance_category(insurer_number: &str) -> &'static str {
    match (insurer_number.len(), insurer_number.get(..2)) {
        (6, _) => "2",
        (_, Some("39")) => "7",
        _ => "1",
    }
}

/// 被保険者区分 from the branch number: in dxsim's population the insured person's branch is `00`
/// and a dependant's is `01`–`03`.
pub fn relationship(branch: &str) -> (&'static str, &'static str) {
    if branch == "00" {
        ("1", "被保険者")
    } else {
        ("2", "被扶養者")
    }
}

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

/// JP Core's extensions that split a facility code into prefecture, category (医科 1, 歯科 3) and
/// number, each an identifier of its MHLW system (JP_Organization_ePrescriptionData_issuer).
pub const ISSUER_EXTENSIONS: [(&str, &str); 3] = [
    (
        "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_PrefectureNo",
        "urn:oid:1.2.392.100495.20.3.21",
    ),
    (
        "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_InsuranceOrganizationCategory",
        "urn:oid:1.2.392.100495.20.3.22",
    ),
    (
        "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_InsuranceOrganizationNo",
        "urn:oid:1.2.392.100495.20.3.23",
    ),
];

/// The issuing facility as the guide profiles it: its code whole and split into the three
/// extensions, its name, a phone number and an address (both required). dxsim's facilities have
/// neither: the address is the facility's prefecture (the guide asks for one that names it) and the
/// number is made from the facility code, `0PP-NNN-NNNN` — synthetic, as the facility is.
pub fn issuer(facility_code: &str, name: &str) -> Value {
    let part = |r: std::ops::Range<usize>| facility_code.get(r).unwrap_or_default();
    let parts = [part(0..2), part(2..3), part(3..10)];
    let extension: Vec<Value> = ISSUER_EXTENSIONS
        .iter()
        .zip(parts)
        .map(|((url, system), value)| {
            json!({"url": url, "valueIdentifier": {"system": system, "value": value}})
        })
        .collect();
    let prefecture = parts[0]
        .parse()
        .ok()
        .and_then(crate::codes::prefecture_name)
        .unwrap_or_default();
    json!({
        "resourceType": "Organization",
        "meta": {"profile": [profile("JP_Organization_ePrescriptionData_issuer")]},
        "extension": extension,
        "identifier": [{"system": FACILITY_SYSTEM, "value": facility_code}],
        "type": [{"coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": "prov"}]}],
        "name": name,
        "telecom": [{"system": "phone", "value": format!("0{}-{}-{}", parts[0], part(3..6), part(6..10))}],
        "address": [{"text": prefecture, "country": "JP"}]
    })
}

/// A JAMI standard usage code (JAMI標準用法コード) and its display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub code: &'static str,
    pub display: &'static str,
}

impl Usage {
    /// The usage dxsim writes for a drug line: one by the drug's route and whether it is taken
    /// as needed. The codes marked "example" appear in the guide's own examples; the others are
    /// composed as those are (method, then "1日N回" 7N or a condition 5…, zeros).
    pub fn of(item: &DraftItem) -> Usage {
        use crate::refdata::drugs::Route;
        let u = |code, display| Usage { code, display };
        let drug = crate::refdata::DrugMaster::get().by_code(&item.code);
        let patch = drug.is_some_and(|d| d.unit == "枚");
        match (drug.map(|d| d.route), item.as_needed) {
            // example
            (Some(Route::Oral) | None, false) => {
                u("1011000400000000", "内服・経口・１日１回朝食後")
            }
            // example
            (Some(Route::Oral) | None, true) => u("1050110000000000", "内服・経口・疼痛時"),
            (Some(Route::Sublingual), _) => u("1150110000000000", "内服・舌下・疼痛時"),
            (Some(Route::Topical | Route::Transdermal), _) if patch => {
                u("2A71000000000000", "外用・貼付・１日１回")
            }
            // example
            (Some(Route::Topical | Route::Transdermal), true) => {
                u("2B50810000000000", "外用・塗布・かゆいとき")
            }
            // example
            (Some(Route::Topical | Route::Transdermal), false) => {
                u("2B73000000000000", "外用・塗布・１日３回")
            }
            (Some(Route::Inhalation), _) => u("2L72000000000000", "外用・吸入・１日２回"),
            // example
            (Some(Route::Ophthalmic), _) => u("2H73000000000000", "外用・点眼・１日３回"),
        }
    }
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
    /// A small well-formed draft (one drug, 28 days), for examples and tests.
    pub fn example() -> Self {
        Self {
            document_id: "d-1".into(),
            facility_code: "1310110015".into(),
            facility_name: "c".into(),
            practitioner_id: "DR".into(),
            issued_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00")
                .expect("a fixed instant"),
            patient_gender: "female",
            patient_birth_date: NaiveDate::from_ymd_opt(1980, 5, 1).expect("a fixed date"),
            coverage: DraftCoverage {
                insurer_number: "06139996".into(),
                symbol: "C".into(),
                number: "1".into(),
                branch: "00".into(),
            },
            items: vec![DraftItem {
                code: "2171022F1010".into(),
                code_system: YJ_SYSTEM,
                display: "x".into(),
                days: 28,
                quantity: 28,
                unit: "錠".into(),
                as_needed: false,
            }],
            uses: 1,
        }
    }

    /// The FHIR document Bundle for this prescription, as ePrescriptionData writes it.
    pub fn to_bundle(&self) -> Value {
        let id = &self.document_id;
        let (patient, coverage, payer, org, pract) = (
            urn(id, "patient"),
            urn(id, "coverage"),
            urn(id, "insurer"),
            urn(id, "organization"),
            urn(id, "practitioner"),
        );
        let issued = self.issued_at.to_rfc3339();
        let authored = self.issued_at.date_naive().to_string();
        // The insured-person key names the patient as the EHR's Patient does (its synthetic name).
        let c = &self.coverage;
        let key = format!(
            "{}:{}:{}:{}",
            c.insurer_number, c.symbol, c.number, c.branch
        );
        let requests: Vec<(String, Value)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let url = urn(id, &format!("medication-request-{i}"));
                let usage = Usage::of(item);
                let resource = json!({
                    "resourceType": "MedicationRequest",
                    "meta": {"profile": [profile("JP_MedicationRequest_ePrescriptionData")]},
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": patient},
                    "authoredOn": authored,
                    "identifier": [
                        {"system": super::guides::RP_NUMBER.written, "value": (i + 1).to_string()},
                        {"system": super::guides::ORDER_IN_RP.written, "value": "1"}
                    ],
                    "medicationCodeableConcept": {
                        "coding": [{
                            "system": item.code_system, "code": item.code, "display": item.display
                        }],
                        "text": item.display
                    },
                    "dosageInstruction": [{
                        "text": usage.display,
                        "timing": {
                            "repeat": {"boundsDuration": {
                                "value": item.days, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d"
                            }},
                            "code": {"coding": [{
                                "system": super::guides::JAMI_USAGE.written, "code": usage.code, "display": usage.display
                            }]}
                        },
                        "asNeededBoolean": item.as_needed
                    }],
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
        let section_entries: Vec<Value> = [&coverage, &payer]
            .into_iter()
            .chain(requests.iter().map(|(u, _)| u))
            .map(|u| json!({"reference": u}))
            .collect();
        let (relation, relation_name) = relationship(&self.coverage.branch);
        let mut entries = vec![
            json!({"fullUrl": urn(id, "composition"), "resource": {
                "resourceType": "Composition",
                "meta": {"profile": [profile("JP_Composition_ePrescriptionData")]},
                "identifier": [{"system": PRESCRIPTION_NUMBER_SYSTEM, "value": id}],
                "status": "final",
                "type": {"coding": [{
                    "system": super::guides::DOC_TYPE.written, "code": PRESCRIPTION_DOC_TYPE, "display": "処方箋"
                }]},
                "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "01", "display": "一般処方箋"}]}],
                "subject": {"reference": patient},
                "date": issued,
                "author": [{"reference": pract}, {"reference": org}],
                "title": "処方箋",
                "custodian": {"reference": org},
                "event": [{"code": [{"text": "処方箋交付"}], "period": {"start": authored}}],
                "section": [{
                    "title": "処方情報",
                    "code": {"coding": [{"system": SECTION_SYSTEM, "code": "01", "display": "処方情報セクション"}]},
                    "entry": section_entries
                }]
            }}),
            json!({"fullUrl": patient, "resource": {
                "resourceType": "Patient",
                "meta": {"profile": [profile("JP_Patient_ePrescriptionData")]},
                "identifier": [{
                    "system": names::patient_number_system(&self.facility_code),
                    "value": names::patient_number(&self.facility_code, &key)
                }],
                "name": names::Name::of(&key, self.patient_gender == "female").to_fhir(),
                "gender": self.patient_gender,
                "birthDate": self.patient_birth_date.to_string()
            }}),
            json!({"fullUrl": coverage, "resource": {
                "resourceType": "Coverage",
                "meta": {"profile": [profile("JP_Coverage_ePrescriptionData_insurance")]},
                "extension": [
                    {"url": SYMBOL_EXTENSION, "valueString": self.coverage.symbol},
                    {"url": NUMBER_EXTENSION, "valueString": self.coverage.number},
                    {"url": SUB_NUMBER_EXTENSION, "valueString": self.coverage.branch}
                ],
                "status": "active",
                "type": {"coding": [{
                    "system": INSURANCE_CATEGORY_SYSTEM,
                    "code": insurance_category(&self.coverage.insurer_number)
                }]},
                "beneficiary": {"reference": patient},
                "relationship": {"coding": [{"system": RELATIONSHIP_SYSTEM, "code": relation, "display": relation_name}]},
                "payor": [{"reference": payer}]
            }}),
            json!({"fullUrl": payer, "resource": {
                "resourceType": "Organization",
                "meta": {"profile": [profile("JP_Organization_ePrescriptionData_coveragePayer")]},
                "identifier": [{"system": INSURER_SYSTEM, "value": self.coverage.insurer_number}],
                "type": [{"coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": "ins"}]}]
            }}),
            json!({"fullUrl": org, "resource": issuer(&self.facility_code, &self.facility_name)}),
            json!({"fullUrl": pract, "resource": {
                "resourceType": "Practitioner",
                "meta": {"profile": [profile("JP_Practitioner_ePrescriptionData_author")]},
                "identifier": [{
                    "system": practitioner_system(&self.facility_code), "value": self.practitioner_id
                }]
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
            "identifier": {"system": BUNDLE_ID_SYSTEM, "value": urn(id, "bundle")},
            "type": "document",
            "timestamp": issued,
            "entry": entries
        })
    }
}
