//! Reads an e-prescription document Bundle (see [`dx_protocol::wire::fhir`]) into what the service
//! stores and checks. Structural faults are 400 `invalid_fhir` with the JSON path at fault;
//! unknown drug codes or code systems are 422.

use crate::eligibility::InsuranceKey;
use crate::fhir_read::{
    BundleView, extension, fhir_err, identifier, identifier_of, one, read_bundle, str_at,
};
use crate::refdata::{Drug, DrugMaster};
use crate::refusal::Refusal;
use chrono::{DateTime, FixedOffset, NaiveDate};
use dx_protocol::wire::fhir::{
    BUNDLE_ID_SYSTEM, BUNDLE_PROFILE, FACILITY_SYSTEM, INSURER_SYSTEM, NUMBER_EXTENSION,
    PRESCRIPTION_DOC_TYPE, PRESCRIPTION_NUMBER_SYSTEM, SUB_NUMBER_EXTENSION, SYMBOL_EXTENSION,
    practitioner_system,
};
use dx_protocol::wire::guides::{self, E_PRESCRIPTION, HOT9, YJ};
use serde_json::Value;

/// Most entries in one Bundle.
const MAX_ENTRIES: usize = 200;

#[derive(Debug)]
pub struct ParsedItem {
    pub code: String,
    pub drug: &'static Drug,
    pub days: u16,
    pub quantity: u32,
    pub field: String,
}

#[derive(Debug)]
pub struct ParsedBundle {
    pub document_id: String,
    pub facility_code: String,
    pub practitioner_id: String,
    /// The Practitioner entry's `fullUrl` (what `Bundle.signature.who` references).
    pub practitioner_url: Option<String>,
    pub issued_at: DateTime<FixedOffset>,
    pub patient_birth_date: NaiveDate,
    pub coverage: InsuranceKey,
    pub items: Vec<ParsedItem>,
    pub uses: u8,
}

fn item(path: &str, mr: &Value, master: &'static DrugMaster) -> Result<(ParsedItem, u64), Refusal> {
    let coding = mr
        .pointer("/medicationCodeableConcept/coding/0")
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.medicationCodeableConcept"),
                "a coded medication is required",
            )
        })?;
    let system = str_at(
        coding,
        "/system",
        &format!("{path}.medicationCodeableConcept.coding[0]"),
    )?;
    let code = str_at(
        coding,
        "/code",
        &format!("{path}.medicationCodeableConcept.coding[0]"),
    )?;
    let field = format!("{path}.medicationCodeableConcept.coding[0].code");
    let Some(system) = guides::drug_system(system) else {
        return Err(Refusal::broken_rule(
            "unknown_code_system",
            format!(
                "drug code system {system} is not YJ or HOT9 (ePrescriptionData writes {} and {}; JP Core's other spellings are accepted)",
                YJ.written, HOT9.written
            ),
        )
        .at(format!("{path}.medicationCodeableConcept.coding[0].system")));
    };
    let drug = master
        .by_code(code)
        .filter(|d| (system == YJ && d.yj == code) || (system == HOT9 && d.hot9 == code))
        .ok_or_else(|| {
            Refusal::broken_rule(
                "unknown_drug_code",
                format!("{code} is not in the drug master"),
            )
            .at(field.clone())
        })?;
    let days = mr
        .pointer("/dispenseRequest/expectedSupplyDuration/value")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.dispenseRequest.expectedSupplyDuration.value"),
                "days of supply (integer) required",
            )
        })?;
    let quantity = mr
        .pointer("/dispenseRequest/quantity/value")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.dispenseRequest.quantity.value"),
                "quantity (integer) required",
            )
        })?;
    let repeats = mr
        .pointer("/dispenseRequest/numberOfRepeatsAllowed")
        .map_or(Some(0), Value::as_u64)
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.dispenseRequest.numberOfRepeatsAllowed"),
                "must be a non-negative integer",
            )
        })?;
    let days = u16::try_from(days).unwrap_or(u16::MAX);
    let quantity = u32::try_from(quantity).unwrap_or(u32::MAX);
    Ok((
        ParsedItem {
            code: code.to_owned(),
            drug,
            days,
            quantity,
            field,
        },
        repeats,
    ))
}

/// Where an ePrescriptionData rule comes from, for refusals.
fn guide(profile: &str, element: &str) -> String {
    E_PRESCRIPTION.cite(profile, element)
}

/// Parses and checks the structure of a prescription Bundle.
pub fn parse(bundle: &Value, master: &'static DrugMaster) -> Result<ParsedBundle, Refusal> {
    let view = read_bundle(
        bundle,
        "document",
        MAX_ENTRIES,
        &[BUNDLE_PROFILE],
        BUNDLE_ID_SYSTEM,
    )
    .map_err(|r| {
        if bundle.pointer("/identifier/system").is_some() && r.field.as_deref() == Some("bundle.identifier")
        {
            fhir_err(
                "bundle.identifier",
                format!(
                    "must be system {BUNDLE_ID_SYSTEM} with a urn:uuid: value ({}); the prescriber's own id goes in Composition.identifier",
                    guide("JP_Bundle_ePrescriptionData", "identifier")
                ),
            )
        } else {
            r
        }
    })?;
    if !is_urn_uuid(view.identifier) {
        return Err(fhir_err(
            "bundle.identifier.value",
            format!(
                "must be a urn:uuid: ({})",
                guide("JP_Bundle_ePrescriptionData", "identifier")
            ),
        ));
    }
    let by_type = &view.entries;
    if by_type[0].1["resourceType"] != "Composition" {
        return Err(fhir_err(
            "bundle.entry[0].resource.resourceType",
            "the first entry must be the Composition",
        ));
    }
    let (cpath, composition) = one(by_type, "Composition")?;
    // The code here (the old dialect wrote its own); its system is the guide rules' to judge.
    let doc_type = composition.pointer("/type/coding/0");
    if doc_type.and_then(|c| c["code"].as_str()) != Some(PRESCRIPTION_DOC_TYPE) {
        return Err(fhir_err(
            &format!("{cpath}.type"),
            format!(
                "must be code {PRESCRIPTION_DOC_TYPE} (処方箋) of {} ({})",
                guides::DOC_TYPE.written,
                guide("JP_Composition_ePrescriptionData", "type")
            ),
        ));
    }
    let document_id = identifier(composition, PRESCRIPTION_NUMBER_SYSTEM, &cpath)
        .map_err(|_| {
            fhir_err(
                &format!("{cpath}.identifier"),
                format!(
                    "the prescription number (the prescriber's own id of the document) is required with system {PRESCRIPTION_NUMBER_SYSTEM} ({})",
                    guide("JP_Composition_ePrescriptionData", "identifier")
                ),
            )
        })?
        .to_owned();
    if document_id.len() > 64 {
        return Err(fhir_err(
            &format!("{cpath}.identifier"),
            "the prescription number: at most 64 characters",
        ));
    }
    let date = str_at(composition, "/date", &cpath)?;
    let issued_at = DateTime::parse_from_rfc3339(date).map_err(|_| {
        fhir_err(
            &format!("{cpath}.date"),
            "must be a dateTime with time zone",
        )
    })?;
    let (ppath, patient) = one(by_type, "Patient")?;
    let birth = str_at(patient, "/birthDate", &ppath)?;
    let patient_birth_date = birth
        .parse()
        .map_err(|_| fhir_err(&format!("{ppath}.birthDate"), "must be YYYY-MM-DD"))?;
    let coverage = coverage(&view)?;
    let (opath, org) = view.follow(composition, "/custodian/reference", &cpath, "Organization")?;
    let facility_code = identifier(org, FACILITY_SYSTEM, opath)?.to_owned();
    let (prpath, practitioner) = one(by_type, "Practitioner")?;
    let system = practitioner_system(&facility_code);
    let practitioner_id = identifier(practitioner, &system, &prpath)
        .map_err(|_| {
            fhir_err(
                &format!("{prpath}.identifier"),
                format!(
                    "the prescriber's id is required with system {system} (医師・歯科医師を特定する ID of the issuing facility; {})",
                    guide("JP_Practitioner_ePrescriptionData_author", "identifier")
                ),
            )
        })?
        .to_owned();
    let practitioner_url = by_type
        .iter()
        .position(|(p, _)| *p == prpath)
        .and_then(|i| view.full_urls[i])
        .map(str::to_owned);
    let requests: Vec<_> = by_type
        .iter()
        .filter(|(_, r)| r["resourceType"] == "MedicationRequest")
        .collect();
    if requests.is_empty() || requests.len() > super::MAX_ITEMS {
        return Err(fhir_err(
            "bundle.entry",
            format!(
                "1–{} MedicationRequest entries are required",
                super::MAX_ITEMS
            ),
        ));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut repeats = None;
    for (path, mr) in requests {
        let (it, r) = item(path, mr, master)?;
        if repeats.is_some_and(|prev| prev != r) {
            return Err(fhir_err(
                &format!("{path}.dispenseRequest.numberOfRepeatsAllowed"),
                "must be the same for every drug",
            ));
        }
        repeats = Some(r);
        items.push(it);
    }
    let uses = u8::try_from(repeats.unwrap_or(0) + 1).unwrap_or(u8::MAX);
    Ok(ParsedBundle {
        document_id,
        facility_code,
        practitioner_id,
        practitioner_url,
        issued_at,
        patient_birth_date,
        coverage,
        items,
        uses,
    })
}

/// `urn:uuid:` and a UUID in its 8-4-4-4-12 hexadecimal layout.
fn is_urn_uuid(s: &str) -> bool {
    s.strip_prefix("urn:uuid:").is_some_and(|u| {
        u.len() == 36
            && u.char_indices().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    })
}

/// The health-insurance Coverage: the one whose payor references an insurer's Organization entry
/// (an Organization with an insurer number); 記号, 番号 and 枝番 from its extensions.
fn coverage(view: &BundleView<'_>) -> Result<InsuranceKey, Refusal> {
    let element = guide("JP_Coverage_ePrescriptionData_insurance", "payor");
    let mut found = Vec::new();
    for (path, r) in view
        .entries
        .iter()
        .filter(|(_, r)| r["resourceType"] == "Coverage")
    {
        if r.pointer("/payor/0/identifier").is_some() {
            return Err(fhir_err(
                &format!("{path}.payor[0]"),
                format!(
                    "must reference the insurer's Organization entry, not carry an identifier ({element})"
                ),
            ));
        }
        let (opath, payer) = view.follow(r, "/payor/0/reference", path, "Organization")?;
        if let Ok(insurer) = identifier_of(payer, &guides::INSURER_NUMBER, opath) {
            found.push((path, *r, insurer));
        }
    }
    let [(path, cov, insurer)] = found.as_slice() else {
        return Err(fhir_err(
            "bundle.entry",
            format!(
                "exactly one Coverage paid by a health insurer (an Organization with an insurer number of {INSURER_SYSTEM}) is required ({element})"
            ),
        ));
    };
    let branch = extension(cov, SUB_NUMBER_EXTENSION, path).map_err(|_| {
        fhir_err(
            &format!("{path}.extension"),
            format!(
                "the branch number (枝番) goes in extension {SUB_NUMBER_EXTENSION} ({})",
                guide(
                    "JP_Coverage_ePrescriptionData_insurance",
                    "extension:insuredPersonSubNumber"
                )
            ),
        )
    })?;
    Ok(InsuranceKey {
        insurer_number: (*insurer).to_owned(),
        symbol: extension(cov, SYMBOL_EXTENSION, path)?.to_owned(),
        number: extension(cov, NUMBER_EXTENSION, path)?.to_owned(),
        branch: branch.to_owned(),
    })
}
