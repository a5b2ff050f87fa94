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
    BUNDLE_ID_SYSTEM, DocumentKind, EHR_TAG_SYSTEM, INSTITUTION_NUMBER_EXTENSION,
    INSURED_PERSON_SYSTEM, INTERPRETATION_SYSTEM, ITEMS_BUNDLE_PROFILE, ItemKind,
    REFERRAL_TO_SECTION, SECTION_SYSTEM, STORED_DOCUMENT_PREFIX, TAG_LTS, TAG_UNDELIVERED,
    TAG_UNINFORMED, bundle_id_part,
};
use dx_protocol::wire::fhir::FACILITY_SYSTEM;
use dx_protocol::wire::guides::{self, CodeSystem, HOT9, ICD10, JFAGY_FOOD, JLAC10, JP_CLINS, YJ};
use serde_json::{Value, json};

/// Where a JP-CLINS rule comes from, for refusals.
fn guide(profile: &str, element: &str) -> String {
    JP_CLINS.cite(profile, element)
}

/// Who a Bundle is about, as its Patient entry says.
#[derive(Debug, Clone)]
pub struct ParsedPatient {
    /// The insurance quadruple, as a person reference.
    pub person: PersonRef,
    /// The insured-person identifier's value, as the Patient entry gives it.
    pub member_id: String,
    pub birth_date: Option<NaiveDate>,
}

/// A clinical resource read as one of the six items; `resource` names its patient by the
/// insured-person identifier and its code system in the guide's form.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    pub item: NewItem,
    pub resource: Value,
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
        member_id: value.to_owned(),
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

/// The flags of `meta.tag` in [`EHR_TAG_SYSTEM`]: (UNINFORMED, LTS). The guide's slicing of them
/// is closed: any other code of that system is refused.
fn tags(r: &Value, path: &str, profile: &str) -> Result<(bool, bool), Refusal> {
    let (mut uninformed, mut lts) = (false, false);
    let list = r.pointer("/meta/tag").and_then(Value::as_array);
    for (i, t) in list.into_iter().flatten().enumerate() {
        if t["system"].as_str() != Some(EHR_TAG_SYSTEM) {
            continue;
        }
        let field = format!("{path}.meta.tag[{i}].code");
        match t["code"].as_str() {
            Some(TAG_UNINFORMED) => uninformed = true,
            Some(TAG_LTS) => lts = true,
            Some(TAG_UNDELIVERED) => {
                return Err(Refusal::broken_rule(
                    "undelivered_item",
                    format!("an item flagged {TAG_UNDELIVERED} (未提供) is not to be sent to the sharing service"),
                )
                .at(field));
            }
            other => {
                return Err(Refusal::broken_rule(
                    "unknown_code",
                    format!(
                        "{} is not a flag of {EHR_TAG_SYSTEM}: {TAG_LTS} (長期保存) or {TAG_UNINFORMED} (未告知) ({})",
                        other.unwrap_or("(no code)"),
                        guide(profile, "meta.tag")
                    ),
                )
                .at(field));
            }
        }
    }
    Ok((uninformed, lts))
}

/// The coding of `r.code` an item is read by: the first of `prefer`'s system, else the first.
fn coding<'a>(
    r: &'a Value,
    path: &str,
    prefer: Option<&CodeSystem>,
) -> Result<(&'a str, &'a str, String, usize), Refusal> {
    let list = r
        .pointer("/code/coding")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| fhir_err(&format!("{path}.code"), "a coded concept is required"))?;
    let i = prefer
        .and_then(|cs| {
            list.iter()
                .position(|c| c["system"].as_str().is_some_and(|s| cs.accepts(s)))
        })
        .unwrap_or(0);
    let base = format!("{path}.code.coding[{i}]");
    let c = &list[i];
    Ok((
        str_at(c, "/system", &base)?,
        str_at(c, "/code", &base)?,
        base,
        i,
    ))
}

fn unknown_system(system: &str, expected: &CodeSystem, element: String, field: String) -> Refusal {
    Refusal::broken_rule(
        "unknown_code_system",
        format!(
            "code system {system} is not accepted here; expected {} ({}; {element})",
            expected.written, expected.name
        ),
    )
    .at(format!("{field}.system"))
}

fn unknown_code(code: &str, what: &str, field: String) -> Refusal {
    Refusal::broken_rule("unknown_code", format!("{code} is not a known {what}"))
        .at(format!("{field}.code"))
}

/// A drug coded YJ or HOT9: the master's YJ code, and the code system.
fn drug(
    system: &str,
    code: &str,
    profile: &str,
    field: String,
) -> Result<(String, CodeSystem), Refusal> {
    let Some(system) = guides::drug_system(system) else {
        return Err(unknown_system(system, &YJ, guide(profile, "code"), field));
    };
    DrugMaster::get()
        .by_code(code)
        .filter(|d| (system == YJ && d.yj == code) || (system == HOT9 && d.hot9 == code))
        .map(|d| (d.yj.clone(), system))
        .ok_or_else(|| {
            Refusal::broken_rule(
                "unknown_drug_code",
                format!("{code} is not in the drug master"),
            )
            .at(format!("{field}.code"))
        })
}

/// Checks that an item names the Bundle's patient — by the insured-person identifier, as JP-CLINS
/// writes it, or by a reference to the Patient entry — and rewrites it to the identifier.
fn subject(
    r: &mut Value,
    field: &str,
    path: &str,
    view: &BundleView<'_>,
    patient: &ParsedPatient,
) -> Result<(), Refusal> {
    let at = format!("{path}.{field}");
    let s = &r[field];
    if let Some(id) = s.get("identifier") {
        if id["system"].as_str() != Some(INSURED_PERSON_SYSTEM) {
            return Err(fhir_err(
                &format!("{at}.identifier.system"),
                format!("must be {INSURED_PERSON_SYSTEM}, the insured-person identifier"),
            ));
        }
        if id["value"].as_str() != Some(patient.member_id.as_str()) {
            return Err(fhir_err(
                &format!("{at}.identifier.value"),
                "must be the insured-person identifier of this Bundle's Patient",
            ));
        }
    } else if s.get("reference").is_some() {
        view.follow(r, &format!("/{field}/reference"), path, "Patient")?;
    } else {
        return Err(fhir_err(
            &at,
            format!(
                "the patient is named by its insured-person identifier ({INSURED_PERSON_SYSTEM}) or by a reference to the Patient entry"
            ),
        ));
    }
    r[field] = json!({"identifier": {"system": INSURED_PERSON_SYSTEM, "value": patient.member_id}});
    Ok(())
}

/// Writes the accepted `system` of `r.code.coding[index]` in the guide's form.
fn write_system(r: &mut Value, index: usize, system: &CodeSystem) {
    if let Some(s) = r.pointer_mut(&format!("/code/coding/{index}/system")) {
        *s = json!(system.written);
    }
}

/// Reads one clinical resource as an item.
pub fn item(
    path: &str,
    r: &Value,
    view: &BundleView<'_>,
    patient: &ParsedPatient,
    today: NaiveDate,
    registered_on: NaiveDate,
) -> Result<ParsedItem, Refusal> {
    let kind_name = r["resourceType"].as_str().unwrap_or_default();
    let (subject_field, date_field, profile) = match kind_name {
        "Condition" => ("subject", "recordedDate", "JP_Condition_eCS"),
        "Observation" => (
            "subject",
            "effectiveDateTime",
            "JP_Observation_LabResult_eCS",
        ),
        "AllergyIntolerance" => ("patient", "recordedDate", "JP_AllergyIntolerance_eCS"),
        other => {
            return Err(fhir_err(
                &format!("{path}.resourceType"),
                format!(
                    "{other} is not one of the items (Condition, Observation, AllergyIntolerance)"
                ),
            ));
        }
    };
    let mut resource = r.clone();
    subject(&mut resource, subject_field, path, view, patient)?;
    let recorded_on = date_at(r, date_field, path)?;
    if recorded_on > today {
        return Err(Refusal::broken_rule(
            "date_in_future",
            format!("{recorded_on} is after today ({today})"),
        )
        .at(format!("{path}.{date_field}")));
    }
    let prefer = (kind_name == "Condition").then_some(&ICD10);
    let (system, code, field, index) = coding(r, path, prefer)?;
    let mut drug_yj = None;
    let written: CodeSystem;
    let kind = match kind_name {
        "Condition" => {
            if !ICD10.accepts(system) {
                return Err(unknown_system(
                    system,
                    &ICD10,
                    guide(profile, "code.coding:icd10"),
                    field,
                ));
            }
            written = ICD10;
            if !is_icd10(code) {
                return Err(unknown_code(code, "ICD-10 code", field));
            }
            ItemKind::Diagnosis
        }
        "Observation" => {
            if !JLAC10.accepts(system) {
                return Err(unknown_system(
                    system,
                    &JLAC10,
                    guide(profile, "code"),
                    field,
                ));
            }
            written = JLAC10;
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
            Some("allergy") if JFAGY_FOOD.accepts(system) => {
                food_allergen(code)
                    .ok_or_else(|| unknown_code(code, "JFAGY food allergen", field))?;
                written = JFAGY_FOOD;
                ItemKind::Allergy
            }
            Some("allergy") if r["category"][0] == "food" => {
                return Err(unknown_system(
                    system,
                    &JFAGY_FOOD,
                    guide(profile, "code"),
                    field,
                ));
            }
            Some("allergy") => {
                let (yj, cs) = drug(system, code, profile, field)?;
                (drug_yj, written) = (Some(yj), cs);
                ItemKind::Allergy
            }
            Some("intolerance") => {
                let (yj, cs) = drug(system, code, profile, field)?;
                (drug_yj, written) = (Some(yj), cs);
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
    let (uninformed, long_term) = tags(r, path, profile)?;
    if uninformed && kind != ItemKind::Diagnosis {
        return Err(Refusal::broken_rule(
            "uninformed_not_allowed",
            format!(
                "only a diagnosis can be flagged {TAG_UNINFORMED} ({})",
                guide("JP_Condition_eCS", "meta.tag:uninformed")
            ),
        )
        .at(format!("{path}.meta.tag")));
    }
    write_system(&mut resource, index, &written);
    Ok(ParsedItem {
        item: NewItem {
            kind,
            system: written.written.to_owned(),
            code: code.to_owned(),
            recorded_on,
            undisclosed: uninformed,
            retain_until: retain_until(registered_on, long_term),
            drug_yj,
            resource: String::new(),
        },
        resource,
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

/// The facility's own id in a JP-CLINS Bundle identifier (`<facility>^<year>^<id>`).
fn own_id(view: &BundleView<'_>, facility_code: &str, profile: &str) -> Result<String, Refusal> {
    bundle_id_part(view.identifier, facility_code)
        .map(str::to_owned)
        .ok_or_else(|| {
            fhir_err(
                "bundle.identifier.value",
                format!(
                    "must be <facility code {facility_code}>^<year 20xx>^<1–36 letters, digits or hyphens> ({})",
                    guide(profile, "identifier")
                ),
            )
        })
}

/// The facility a 6-item submission comes from: its Organization entry where it has one (as
/// dxsim writes it), else — as JP-CLINS's examples are written, the Patient and the items only —
/// the institution number every item carries (R9011), which must be one facility's.
fn items_author(view: &BundleView<'_>) -> Result<String, Refusal> {
    if view
        .entries
        .iter()
        .any(|(_, r)| r["resourceType"] == "Organization")
    {
        let (opath, org) = one(&view.entries, "Organization")?;
        return facility_of(org, &opath);
    }
    let mut author: Option<String> = None;
    for (path, r) in view
        .entries
        .iter()
        .filter(|(_, r)| r["resourceType"] != "Patient")
    {
        let number = r["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == INSTITUTION_NUMBER_EXTENSION)
            .and_then(|e| e["valueIdentifier"]["value"].as_str());
        let field = format!("{path}.extension");
        let Some(number) = number else {
            return Err(fhir_err(
                &field,
                format!(
                    "without an Organization entry, every item names its facility by {INSTITUTION_NUMBER_EXTENSION} ({})",
                    guide("JP_Bundle_CLINS", "entry.resource.extension")
                ),
            ));
        };
        dx_protocol::codes::validate_facility_code(number).map_err(|e| {
            Refusal::invalid("invalid_facility_code", format!("facility code: {e}")).at(&field)
        })?;
        match &author {
            Some(a) if a != number => {
                return Err(fhir_err(
                    &field,
                    format!("the items of one Bundle come from one facility ({a}, not {number})"),
                ));
            }
            Some(_) => {}
            None => author = Some(number.to_owned()),
        }
    }
    author.ok_or_else(|| fhir_err("bundle.entry", "at least one item is required"))
}

/// Reads a 6-item submission.
pub fn items(bundle: &Value, today: NaiveDate) -> Result<ParsedItems, Refusal> {
    let view = read_bundle(
        bundle,
        "collection",
        MAX_ENTRIES,
        &[ITEMS_BUNDLE_PROFILE],
        BUNDLE_ID_SYSTEM,
    )?;
    let patient = patient(&view)?;
    let facility_code = items_author(&view)?;
    let submission_id = own_id(&view, &facility_code, "JP_Bundle_CLINS")?;
    let items = view
        .entries
        .iter()
        .filter(|(_, r)| !matches!(r["resourceType"].as_str(), Some("Patient" | "Organization")))
        .map(|(path, r)| item(path, r, &view, &patient, today, today))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(fhir_err("bundle.entry", "at least one item is required"));
    }
    Ok(ParsedItems {
        submission_id,
        facility_code,
        patient,
        items,
    })
}

/// Reads one of the three documents.
pub fn document(bundle: &Value, today: NaiveDate) -> Result<ParsedDocument, Refusal> {
    let profiles: Vec<&str> = DocumentKind::ALL
        .into_iter()
        .filter_map(DocumentKind::bundle_profile)
        .collect();
    let view = read_bundle(bundle, "document", MAX_ENTRIES, &profiles, BUNDLE_ID_SYSTEM)?;
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
    if !guides::DOC_TYPE.accepts(system) {
        return Err(unknown_system(
            system,
            &guides::DOC_TYPE,
            guide("JP_Composition_eReferral", "type"),
            tbase,
        ));
    }
    let kind = DocumentKind::from_type_code(code).ok_or_else(|| {
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
    let source_id = own_id(&view, &facility_code, "JP_Bundle_eReferral")?;
    if comp.get("extension").is_some_and(|e| {
        e.as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("/JP_eReferral_Destination"))
            })
        })
    }) {
        return Err(fhir_err(
            &format!("{cpath}.extension"),
            format!(
                "the addressee goes in the referral-to section (code {REFERRAL_TO_SECTION} of {SECTION_SYSTEM}), not an extension ({})",
                guide("JP_Composition_eReferral", "section:referralToSection")
            ),
        ));
    }
    let to = comp
        .get("section")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .find(|(_, sec)| {
            sec.pointer("/code/coding/0")
                .is_some_and(|c| c["system"] == SECTION_SYSTEM && c["code"] == REFERRAL_TO_SECTION)
        });
    let addressee = match (kind, to) {
        (DocumentKind::Referral, Some((i, _))) => {
            let (path, org) = view.follow(
                comp,
                &format!("/section/{i}/entry/0/reference"),
                &cpath,
                "Organization",
            )?;
            Some(facility_of(org, path)?)
        }
        (DocumentKind::Referral, None) => {
            return Err(Refusal::broken_rule(
                "addressee_required",
                format!(
                    "a referral letter names the facility it is addressed to in its referral-to section (code {REFERRAL_TO_SECTION} of {SECTION_SYSTEM}; {})",
                    guide("JP_Composition_eReferral", "section:referralToSection")
                ),
            )
            .at(format!("{cpath}.section")));
        }
        (_, Some((i, _))) => {
            return Err(Refusal::broken_rule(
                "addressee_not_allowed",
                format!("a {} has no addressee", kind.as_str()),
            )
            .at(format!("{cpath}.section[{i}]")));
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
                item(path, r, &view, &patient, today, today)?;
            }
        }
    }
    Ok(ParsedDocument {
        source_id,
        kind,
        facility_code,
        patient,
        date,
        addressee,
        attachments,
    })
}
