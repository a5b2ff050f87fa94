//! Reads the service's Bundles (see [`dx_protocol::wire::clins`]) into what it stores. Structural
//! faults are 400 `invalid_fhir` with the path; unknown code systems, codes and document types
//! are 422.

use super::{MAX_ENTRIES, NewItem, retain_until};
use crate::fhir_read::{BundleView, fhir_err, identifier, one, read_bundle, str_at};
use crate::refdata::DrugMaster;
use crate::refdata::clinical::{Panel, food_allergen, is_icd10, lab_test};
use crate::refusal::Refusal;
use chrono::{DateTime, FixedOffset, NaiveDate};
use dx_protocol::wire::PersonRef;
use dx_protocol::wire::clins::{
    DocumentKind, EHR_TAG_SYSTEM, FOOD_ALLERGEN_SYSTEM, ICD10_SYSTEM, INSURED_PERSON_SYSTEM,
    INTERPRETATION_SYSTEM, ItemKind, JLAC10_SYSTEM, LOINC_SYSTEM, REFERRAL_TO_EXTENSION,
    STORED_DOCUMENT_PREFIX, TAG_LONG_TERM, TAG_UNDISCLOSED,
};
use dx_protocol::wire::fhir::{FACILITY_SYSTEM, HOT9_SYSTEM, YJ_SYSTEM};
use serde_json::Value;

/// Who a Bundle is about, as its Patient entry says.
#[derive(Debug, Clone)]
pub struct ParsedPatient {
    /// The insurance quadruple, as a person reference.
    pub person: PersonRef,
    pub birth_date: Option<NaiveDate>,
}

/// A clinical resource read as one of the six items; `resource` still references the Patient
/// entry by its fullUrl.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    pub item: NewItem,
    pub resource: Value,
    /// `subject` or `patient`: where the resource names the person.
    pub subject_field: &'static str,
}

#[derive(Debug)]
pub struct ParsedItems {
    pub submission_id: String,
    pub facility_code: String,
    pub patient: ParsedPatient,
    pub items: Vec<ParsedItem>,
}

#[derive(Debug)]
pub struct ParsedDocument {
    pub source_id: String,
    pub kind: DocumentKind,
    pub facility_code: String,
    pub patient: ParsedPatient,
    pub date: DateTime<FixedOffset>,
    pub addressee: Option<String>,
    /// (path, stored document id) of each DocumentReference.
    pub attachments: Vec<(String, String)>,
}

fn patient(view: &BundleView<'_>) -> Result<ParsedPatient, Refusal> {
    let (ppath, p) = one(&view.entries, "Patient")?;
    let value = identifier(p, INSURED_PERSON_SYSTEM, &ppath)?;
    let parts: Vec<&str> = value.split(':').collect();
    let [insurer, symbol, number, branch] = parts[..] else {
        return Err(fhir_err(
            &format!("{ppath}.identifier"),
            "the insured-person identifier is insurer:symbol:number:branch",
        ));
    };
    let birth_date = match p.get("birthDate") {
        None => None,
        Some(b) => Some(
            b.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| fhir_err(&format!("{ppath}.birthDate"), "must be YYYY-MM-DD"))?,
        ),
    };
    Ok(ParsedPatient {
        person: PersonRef {
            insurer_number: Some(insurer.to_owned()),
            symbol: Some(symbol.to_owned()),
            number: Some(number.to_owned()),
            branch: Some(branch.to_owned()),
            ..PersonRef::default()
        },
        birth_date,
    })
}

/// A date from a FHIR `date` or `dateTime` (its calendar date as written).
fn date_at(r: &Value, field: &str, path: &str) -> Result<NaiveDate, Refusal> {
    let s = str_at(r, &format!("/{field}"), path)?;
    s.get(..10)
        .and_then(|d| d.parse().ok())
        .filter(|_| s.len() == 10 || s.as_bytes()[10] == b'T')
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.{field}"),
                "must be a full date (YYYY-MM-DD) or dateTime",
            )
        })
}

fn tags(r: &Value) -> (bool, bool) {
    let has = |code: &str| {
        r.pointer("/meta/tag")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|t| {
                    t["system"].as_str() == Some(EHR_TAG_SYSTEM) && t["code"].as_str() == Some(code)
                })
            })
    };
    (has(TAG_UNDISCLOSED), has(TAG_LONG_TERM))
}

fn coding<'a>(r: &'a Value, path: &str) -> Result<(&'a str, &'a str, String), Refusal> {
    let base = format!("{path}.code.coding[0]");
    let c = r
        .pointer("/code/coding/0")
        .ok_or_else(|| fhir_err(&format!("{path}.code"), "a coded concept is required"))?;
    Ok((
        str_at(c, "/system", &base)?,
        str_at(c, "/code", &base)?,
        base,
    ))
}

fn unknown_system(system: &str, expected: &str, field: String) -> Refusal {
    Refusal::broken_rule(
        "unknown_code_system",
        format!("code system {system} is not accepted here; expected {expected}"),
    )
    .at(format!("{field}.system"))
}

fn unknown_code(code: &str, what: &str, field: String) -> Refusal {
    Refusal::broken_rule("unknown_code", format!("{code} is not a known {what}"))
        .at(format!("{field}.code"))
}

/// A drug coded YJ or HOT9, as the master's YJ code.
fn drug(system: &str, code: &str, field: String) -> Result<String, Refusal> {
    if system != YJ_SYSTEM && system != HOT9_SYSTEM {
        return Err(unknown_system(system, "YJ or HOT9", field));
    }
    DrugMaster::get()
        .by_code(code)
        .filter(|d| {
            (system == YJ_SYSTEM && d.yj == code) || (system == HOT9_SYSTEM && d.hot9 == code)
        })
        .map(|d| d.yj.clone())
        .ok_or_else(|| {
            Refusal::broken_rule(
                "unknown_drug_code",
                format!("{code} is not in the drug master"),
            )
            .at(format!("{field}.code"))
        })
}

/// Reads one clinical resource as an item.
pub fn item(
    path: &str,
    r: &Value,
    view: &BundleView<'_>,
    today: NaiveDate,
    registered_on: NaiveDate,
) -> Result<ParsedItem, Refusal> {
    let kind_name = r["resourceType"].as_str().unwrap_or_default();
    let (subject_field, date_field) = match kind_name {
        "Condition" => ("subject", "recordedDate"),
        "Observation" => ("subject", "effectiveDateTime"),
        "AllergyIntolerance" => ("patient", "recordedDate"),
        other => {
            return Err(fhir_err(
                &format!("{path}.resourceType"),
                format!(
                    "{other} is not one of the items (Condition, Observation, AllergyIntolerance)"
                ),
            ));
        }
    };
    view.follow(r, &format!("/{subject_field}/reference"), path, "Patient")?;
    let recorded_on = date_at(r, date_field, path)?;
    if recorded_on > today {
        return Err(Refusal::broken_rule(
            "date_in_future",
            format!("{recorded_on} is after today ({today})"),
        )
        .at(format!("{path}.{date_field}")));
    }
    let (system, code, field) = coding(r, path)?;
    let mut drug_yj = None;
    let kind = match kind_name {
        "Condition" => {
            if system != ICD10_SYSTEM {
                return Err(unknown_system(system, ICD10_SYSTEM, field));
            }
            if !is_icd10(code) {
                return Err(unknown_code(code, "ICD-10 code", field));
            }
            ItemKind::Diagnosis
        }
        "Observation" => {
            if system != JLAC10_SYSTEM {
                return Err(unknown_system(system, JLAC10_SYSTEM, field));
            }
            let test =
                lab_test(code).ok_or_else(|| unknown_code(code, "laboratory test", field))?;
            if test.panel == Panel::Infection {
                let v = r.pointer("/valueCodeableConcept/coding/0");
                let ok = v.is_some_and(|c| {
                    c["system"].as_str() == Some(INTERPRETATION_SYSTEM)
                        && matches!(c["code"].as_str(), Some("POS" | "NEG"))
                });
                if !ok {
                    return Err(fhir_err(
                        &format!("{path}.valueCodeableConcept"),
                        format!("an infection result is POS or NEG of {INTERPRETATION_SYSTEM}"),
                    ));
                }
                ItemKind::Infection
            } else {
                if !r
                    .pointer("/valueQuantity/value")
                    .is_some_and(Value::is_number)
                {
                    return Err(fhir_err(
                        &format!("{path}.valueQuantity.value"),
                        "a lab result needs a numeric value",
                    ));
                }
                ItemKind::LabResult
            }
        }
        _ => match r["type"].as_str() {
            Some("allergy") if system == FOOD_ALLERGEN_SYSTEM => {
                food_allergen(code).ok_or_else(|| unknown_code(code, "food allergen", field))?;
                ItemKind::Allergy
            }
            Some("allergy") => {
                drug_yj = Some(drug(system, code, field)?);
                ItemKind::Allergy
            }
            Some("intolerance") => {
                drug_yj = Some(drug(system, code, field)?);
                ItemKind::ContraindicatedDrug
            }
            _ => {
                return Err(fhir_err(
                    &format!("{path}.type"),
                    "must be allergy or intolerance (a contraindicated drug)",
                ));
            }
        },
    };
    let (undisclosed, long_term) = tags(r);
    if undisclosed && kind != ItemKind::Diagnosis {
        return Err(Refusal::broken_rule(
            "undisclosed_not_allowed",
            "only a diagnosis can be flagged undisclosed",
        )
        .at(format!("{path}.meta.tag")));
    }
    Ok(ParsedItem {
        item: NewItem {
            kind,
            system: system.to_owned(),
            code: code.to_owned(),
            recorded_on,
            undisclosed,
            retain_until: retain_until(registered_on, long_term),
            drug_yj,
            resource: String::new(),
        },
        resource: r.clone(),
        subject_field,
    })
}

fn facility_of(org: &Value, path: &str) -> Result<String, Refusal> {
    let code = identifier(org, FACILITY_SYSTEM, path)?;
    dx_protocol::codes::validate_facility_code(code).map_err(|e| {
        Refusal::invalid("invalid_facility_code", format!("facility code: {e}"))
            .at(format!("{path}.identifier"))
    })?;
    Ok(code.to_owned())
}

/// Reads a 6-item submission.
pub fn items(bundle: &Value, today: NaiveDate) -> Result<ParsedItems, Refusal> {
    let view = read_bundle(bundle, "collection", MAX_ENTRIES)?;
    let patient = patient(&view)?;
    let (opath, org) = one(&view.entries, "Organization")?;
    let facility_code = facility_of(org, &opath)?;
    let items = view
        .entries
        .iter()
        .filter(|(_, r)| !matches!(r["resourceType"].as_str(), Some("Patient" | "Organization")))
        .map(|(path, r)| item(path, r, &view, today, today))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(fhir_err("bundle.entry", "at least one item is required"));
    }
    Ok(ParsedItems {
        submission_id: view.identifier.to_owned(),
        facility_code,
        patient,
        items,
    })
}

/// Reads one of the three documents.
pub fn document(bundle: &Value, today: NaiveDate) -> Result<ParsedDocument, Refusal> {
    let view = read_bundle(bundle, "document", MAX_ENTRIES)?;
    if view.entries[0].1["resourceType"] != "Composition" {
        return Err(fhir_err(
            "bundle.entry[0].resource.resourceType",
            "the first entry must be the Composition",
        ));
    }
    let (cpath, comp) = one(&view.entries, "Composition")?;
    if comp["status"] != "final" {
        return Err(fhir_err(&format!("{cpath}.status"), "must be final"));
    }
    let tbase = format!("{cpath}.type.coding[0]");
    let t = comp
        .pointer("/type/coding/0")
        .ok_or_else(|| fhir_err(&format!("{cpath}.type"), "a document type is required"))?;
    let (system, code) = (str_at(t, "/system", &tbase)?, str_at(t, "/code", &tbase)?);
    if system != LOINC_SYSTEM {
        return Err(unknown_system(system, LOINC_SYSTEM, tbase));
    }
    let kind = DocumentKind::from_loinc(code).ok_or_else(|| {
        Refusal::broken_rule(
            "unknown_document_type",
            format!(
                "{code} is not a shared document type (57133-1 referral, 18842-5 discharge summary, 53576-5 checkup report)"
            ),
        )
        .at(format!("{tbase}.code"))
    })?;
    str_at(comp, "/title", &cpath)?;
    let date = DateTime::parse_from_rfc3339(str_at(comp, "/date", &cpath)?).map_err(|_| {
        fhir_err(
            &format!("{cpath}.date"),
            "must be a dateTime with time zone",
        )
    })?;
    let patient = patient(&view)?;
    view.follow(comp, "/subject/reference", &cpath, "Patient")?;
    let (apath, author) = view.follow(comp, "/author/0/reference", &cpath, "Organization")?;
    let facility_code = facility_of(author, apath)?;
    let to = comp
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|e| e["url"] == REFERRAL_TO_EXTENSION));
    let addressee = match (kind, to) {
        (DocumentKind::Referral, Some(ext)) => {
            let (path, org) = view.follow(
                ext,
                "/valueReference/reference",
                &format!("{cpath}.extension"),
                "Organization",
            )?;
            Some(facility_of(org, path)?)
        }
        (DocumentKind::Referral, None) => {
            return Err(Refusal::broken_rule(
                "addressee_required",
                format!("a referral letter names the facility it is addressed to ({REFERRAL_TO_EXTENSION})"),
            )
            .at(format!("{cpath}.extension")));
        }
        (_, Some(_)) => {
            return Err(Refusal::broken_rule(
                "addressee_not_allowed",
                format!("a {} has no addressee", kind.as_str()),
            )
            .at(format!("{cpath}.extension")));
        }
        (_, None) => None,
    };
    if let Some(sections) = comp.get("section").and_then(Value::as_array) {
        for (s, section) in sections.iter().enumerate() {
            for (e, _) in section["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let spath = format!("{cpath}.section[{s}]");
                let ptr = format!("/section/{s}/entry/{e}/reference");
                let reference = str_at(comp, &ptr, &cpath)?;
                view.resolve(reference).ok_or_else(|| {
                    fhir_err(
                        &format!("{spath}.entry[{e}]"),
                        "must reference an entry of this Bundle",
                    )
                })?;
            }
        }
    }
    let mut attachments = Vec::new();
    for (path, r) in &view.entries {
        match r["resourceType"].as_str() {
            Some("Composition" | "Patient" | "Organization") => {}
            Some("DocumentReference") => {
                if kind != DocumentKind::Referral {
                    return Err(Refusal::broken_rule(
                        "attachment_not_allowed",
                        "only a referral letter carries attachments",
                    )
                    .at(path.clone()));
                }
                let url = str_at(r, "/content/0/attachment/url", path)?;
                let id = url.strip_prefix(STORED_DOCUMENT_PREFIX).ok_or_else(|| {
                    fhir_err(
                        &format!("{path}.content[0].attachment.url"),
                        format!(
                            "must be {STORED_DOCUMENT_PREFIX}<id> of a stored discharge summary"
                        ),
                    )
                })?;
                attachments.push((format!("{path}.content[0].attachment.url"), id.to_owned()));
            }
            // Coded content is checked like submitted items.
            _ => {
                item(path, r, &view, today, today)?;
            }
        }
    }
    Ok(ParsedDocument {
        source_id: view.identifier.to_owned(),
        kind,
        facility_code,
        patient,
        date,
        addressee,
        attachments,
    })
}
