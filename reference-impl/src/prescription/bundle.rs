//! Reads an e-prescription document Bundle (see [`dx_protocol::wire::fhir`]) into what the service
//! stores and checks. Structural faults are 400 `invalid_fhir` with the JSON path at fault;
//! unknown drug codes or code systems are 422.

use crate::eligibility::InsuranceKey;
use crate::fhir_read::{extension, fhir_err, identifier, one, read_bundle, str_at};
use crate::refdata::{Drug, DrugMaster};
use crate::refusal::Refusal;
use chrono::{DateTime, FixedOffset, NaiveDate};
use dx_protocol::wire::fhir::{
    DOC_TYPE_SYSTEM, FACILITY_SYSTEM, HOT9_SYSTEM, INSURER_SYSTEM, NUMBER_EXTENSION,
    PRACTITIONER_SYSTEM, SYMBOL_EXTENSION, YJ_SYSTEM,
};
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
    if system != YJ_SYSTEM && system != HOT9_SYSTEM {
        return Err(Refusal::broken_rule(
            "unknown_code_system",
            format!("drug code system {system} is not YJ or HOT9"),
        )
        .at(format!("{path}.medicationCodeableConcept.coding[0].system")));
    }
    let drug = master
        .by_code(code)
        .filter(|d| {
            (system == YJ_SYSTEM && d.yj == code) || (system == HOT9_SYSTEM && d.hot9 == code)
        })
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

/// Parses and checks the structure of a prescription Bundle.
pub fn parse(bundle: &Value, master: &'static DrugMaster) -> Result<ParsedBundle, Refusal> {
    let view = read_bundle(bundle, "document", MAX_ENTRIES)?;
    let document_id = view.identifier.to_owned();
    let by_type = view.entries;
    if by_type[0].1["resourceType"] != "Composition" {
        return Err(fhir_err(
            "bundle.entry[0].resource.resourceType",
            "the first entry must be the Composition",
        ));
    }
    let (cpath, composition) = one(&by_type, "Composition")?;
    let doc_type = composition.pointer("/type/coding/0");
    if doc_type.and_then(|c| c["system"].as_str()) != Some(DOC_TYPE_SYSTEM)
        || doc_type.and_then(|c| c["code"].as_str()) != Some("1")
    {
        return Err(fhir_err(
            &format!("{cpath}.type"),
            format!("must be code 1 (処方箋) of {DOC_TYPE_SYSTEM}"),
        ));
    }
    let date = str_at(composition, "/date", &cpath)?;
    let issued_at = DateTime::parse_from_rfc3339(date).map_err(|_| {
        fhir_err(
            &format!("{cpath}.date"),
            "must be a dateTime with time zone",
        )
    })?;
    let (ppath, patient) = one(&by_type, "Patient")?;
    let birth = str_at(patient, "/birthDate", &ppath)?;
    let patient_birth_date = birth
        .parse()
        .map_err(|_| fhir_err(&format!("{ppath}.birthDate"), "must be YYYY-MM-DD"))?;
    let coverages: Vec<_> = by_type
        .iter()
        .filter(|(_, r)| {
            r["resourceType"] == "Coverage"
                && r.pointer("/payor/0/identifier/system")
                    .and_then(Value::as_str)
                    == Some(INSURER_SYSTEM)
        })
        .collect();
    let [(covpath, cov)] = coverages.as_slice() else {
        return Err(fhir_err(
            "bundle.entry",
            "exactly one Coverage paid by a health insurer is required",
        ));
    };
    let coverage = InsuranceKey {
        insurer_number: str_at(cov, "/payor/0/identifier/value", covpath)?.to_owned(),
        symbol: extension(cov, SYMBOL_EXTENSION, covpath)?.to_owned(),
        number: extension(cov, NUMBER_EXTENSION, covpath)?.to_owned(),
        branch: str_at(cov, "/dependent", covpath)?.to_owned(),
    };
    let (opath, org) = one(&by_type, "Organization")?;
    let facility_code = identifier(org, FACILITY_SYSTEM, &opath)?.to_owned();
    let (prpath, practitioner) = one(&by_type, "Practitioner")?;
    let practitioner_id = identifier(practitioner, PRACTITIONER_SYSTEM, &prpath)?.to_owned();
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
        issued_at,
        patient_birth_date,
        coverage,
        items,
        uses,
    })
}
