//! FHIR R4 checks of the payloads a target returns: the structure R4 requires of a Bundle and its
//! resources (resource types, the document Bundle's identifier, timestamp and leading
//! Composition, unique full URLs, references that resolve, code and date formats) and the elements
//! the JP profiles require of them (ePrescriptionData 1.0.0: the profile, the Bundle identifier,
//! the document type, the YJ or HOT9 drug code, the insurer's Organization and the facility
//! identifier; JP-CLINS 1.3.0-rc1: the subject of every item by the insured-person identifier,
//! entries' fullUrl, absolute links). Each function returns the first fault found, with the path
//! to it.

use dx_protocol::wire::clins::INSURED_PERSON_SYSTEM;
use dx_protocol::wire::fhir::BUNDLE_PROFILE;
use dx_protocol::wire::guides;
use dx_protocol::wire::guides::rules::{self, Rule};
use serde_json::Value;
use std::collections::HashSet;

type Fault = String;

/// HL7's FHIR R4 JSON schema (`fhir.schema.json`), compiled: what `--fhir-schema` names.
pub struct Schema(jsonschema::Validator);

impl Schema {
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--fhir-schema {}: {e}", path.display()))?;
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("--fhir-schema {}: not JSON: {e}", path.display()))?;
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft6)
            .build(&schema)
            .map_err(|e| {
                anyhow::anyhow!("--fhir-schema {}: not a JSON schema: {e}", path.display())
            })?;
        Ok(Self(v))
    }

    /// The first faults of `b` against the schema, with their paths.
    pub fn check(&self, b: &Value) -> Result<(), Fault> {
        let faults: Vec<String> = self
            .0
            .iter_errors(b)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if faults.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "breaks the FHIR R4 JSON schema: {}",
                faults.join("; ")
            ))
        }
    }
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.pointer(path)
}

fn need<'a>(v: &'a Value, path: &str, whole: &str) -> Result<&'a Value, Fault> {
    at(v, path)
        .filter(|x| !x.is_null())
        .ok_or_else(|| format!("{whole}{} is missing", path.replace('/', ".")))
}

fn need_str<'a>(v: &'a Value, path: &str, whole: &str) -> Result<&'a str, Fault> {
    need(v, path, whole)?
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            format!(
                "{whole}{} is not a non-empty string",
                path.replace('/', ".")
            )
        })
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_date_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok() || is_date(s)
}

/// Every entry holds a resource with a type; returns the resources with their paths.
fn entries<'a>(b: &'a Value, name: &str) -> Result<Vec<(String, &'a Value)>, Fault> {
    if at(b, "/resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(format!("{name}.resourceType is not Bundle"));
    }
    let list = at(b, "/entry")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{name}.entry is not a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let path = format!("{name}.entry[{i}].resource");
            let r = need(e, "/resource", &format!("{name}.entry[{i}]"))?;
            need_str(r, "/resourceType", &path)?;
            Ok((path, r))
        })
        .collect()
}

fn drug_code(r: &Value, path: &str) -> Result<(), Fault> {
    let system = need_str(r, "/medicationCodeableConcept/coding/0/system", path)?;
    if guides::drug_system(system).is_none() {
        return Err(format!(
            "{path}.medicationCodeableConcept.coding[0].system is {system}, not YJ or HOT9"
        ));
    }
    need_str(r, "/medicationCodeableConcept/coding/0/code", path)?;
    Ok(())
}

/// The first of the guide's element rules `rules` that `b` breaks, with the path and the guide's
/// citation.
fn guide_rules(b: &Value, rules: &'static [Rule]) -> Result<(), Fault> {
    for rule in rules {
        if let Err(v) = rule.check(b) {
            return Err(format!("{} {}", v.path, v.message));
        }
    }
    Ok(())
}

/// A prescription document Bundle (ePrescriptionData 1.0.0: the R4 structure and every element
/// rule of [`rules::prescription`]).
pub fn prescription_document(b: &Value) -> Result<(), Fault> {
    guide_rules(b, rules::prescription())?;
    let name = "bundle";
    let list = entries(b, name)?;
    if need_str(b, "/type", name)? != "document" {
        return Err("bundle.type is not document".into());
    }
    if at(b, "/meta/profile/0").and_then(Value::as_str) != Some(BUNDLE_PROFILE) {
        return Err(format!("bundle.meta.profile is not {BUNDLE_PROFILE}"));
    }
    if !is_date_time(need_str(b, "/timestamp", name)?) {
        return Err("bundle.timestamp is not a dateTime".into());
    }
    let urls: Vec<&str> = b["entry"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["fullUrl"].as_str()).collect())
        .unwrap_or_default();
    if urls.len() != list.len() {
        return Err("bundle.entry: every entry of a document needs a fullUrl".into());
    }
    let unique: HashSet<&str> = urls.iter().copied().collect();
    if unique.len() != urls.len() {
        return Err("bundle.entry: fullUrls are not unique".into());
    }
    let (first, composition) = list.first().ok_or("bundle.entry is empty")?;
    if composition["resourceType"] != "Composition" {
        return Err(format!("{first} is not the Composition"));
    }
    need_str(composition, "/status", first)?;
    if !is_date_time(need_str(composition, "/date", first)?) {
        return Err(format!("{first}.date is not a dateTime"));
    }
    let reference = need_str(composition, "/subject/reference", first)?;
    if !unique.contains(reference) {
        return Err(format!(
            "{first}.subject.reference {reference} does not resolve in the Bundle"
        ));
    }
    let of = |t: &str| {
        list.iter()
            .filter(|(_, r)| r["resourceType"] == t)
            .collect::<Vec<_>>()
    };
    let patients = of("Patient");
    let (pp, patient) = patients.first().ok_or("bundle: no Patient")?;
    let gender = need_str(patient, "/gender", pp)?;
    if !["male", "female", "other", "unknown"].contains(&gender) {
        return Err(format!(
            "{pp}.gender {gender} is not an administrative gender"
        ));
    }
    if !is_date(need_str(patient, "/birthDate", pp)?) {
        return Err(format!("{pp}.birthDate is not a date"));
    }
    let resolve = |url: &str| {
        b["entry"]
            .as_array()
            .and_then(|e| e.iter().find(|x| x["fullUrl"] == url))
            .map(|x| &x["resource"])
    };
    for (cp, coverage) in of("Coverage") {
        let payor = need_str(coverage, "/payor/0/reference", cp)?;
        let insurer = resolve(payor).filter(|o| {
            o["resourceType"] == "Organization"
                && o["identifier"][0]["system"]
                    .as_str()
                    .is_some_and(|s| guides::INSURER_NUMBER.accepts(s))
        });
        if insurer.is_none() {
            return Err(format!(
                "{cp}.payor[0].reference {payor} is not an insurer's Organization in the Bundle"
            ));
        }
        need_str(coverage, "/status", cp)?;
    }
    let custodian = need_str(composition, "/custodian/reference", first)?;
    let org = resolve(custodian)
        .filter(|o| o["resourceType"] == "Organization")
        .ok_or_else(|| {
            format!("{first}.custodian.reference {custodian} is not an Organization in the Bundle")
        })?;
    need_str(org, "/identifier/0/value", &format!("{first}.custodian"))?;
    let requests = of("MedicationRequest");
    if requests.is_empty() {
        return Err("bundle: no MedicationRequest".into());
    }
    for (rp, r) in requests {
        drug_code(r, rp)?;
        need_str(r, "/status", rp)?;
        need_str(r, "/intent", rp)?;
        need(r, "/dispenseRequest/expectedSupplyDuration/value", rp)?;
        need(r, "/dispenseRequest/quantity/value", rp)?;
        let subject = need_str(r, "/subject/reference", rp)?;
        if !unique.contains(subject) {
            return Err(format!(
                "{rp}.subject.reference {subject} does not resolve in the Bundle"
            ));
        }
    }
    Ok(())
}

/// A clinical-summary `searchset` Bundle (JP-CLINS items) of the person whose insured-person
/// identifier is `member_id`: every entry names its subject by it.
pub fn summary_searchset(b: &Value, member_id: &str) -> Result<(), Fault> {
    let name = "summary";
    let list = entries(b, name)?;
    guide_rules(b, rules::document_items()).map_err(|f| f.replacen("bundle.", "summary.", 1))?;
    if need_str(b, "/type", name)? != "searchset" {
        return Err("summary.type is not searchset".into());
    }
    let total = need(b, "/total", name)?
        .as_u64()
        .ok_or("summary.total is not an unsigned integer")?;
    if (total as usize) < list.len() {
        return Err(format!(
            "summary.total {total} is below the {} entries",
            list.len()
        ));
    }
    for (i, l) in b["link"].as_array().into_iter().flatten().enumerate() {
        let url = need_str(l, "/url", &format!("{name}.link[{i}]"))?;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("{name}.link[{i}].url {url} is not absolute"));
        }
    }
    for (i, e) in b["entry"].as_array().into_iter().flatten().enumerate() {
        need_str(e, "/fullUrl", &format!("{name}.entry[{i}]"))?;
    }
    for (p, r) in list {
        need_str(r, "/id", &p)?;
        if !is_date_time(need_str(r, "/meta/lastUpdated", &p)?) {
            return Err(format!("{p}.meta.lastUpdated is not an instant"));
        }
        let kind = r["resourceType"].as_str().unwrap_or_default();
        let (who, expected) = match kind {
            "AllergyIntolerance" => ("/patient/identifier/value", member_id),
            _ => ("/subject/identifier/value", member_id),
        };
        if need_str(r, who, &p)? != expected {
            return Err(format!("{p}{} is not {expected}", who.replace('/', ".")));
        }
        if at(r, &who.replace("/value", "/system")).and_then(Value::as_str)
            != Some(INSURED_PERSON_SYSTEM)
        {
            return Err(format!(
                "{p}{} is not {INSURED_PERSON_SYSTEM}",
                who.replace("/value", "/system").replace('/', ".")
            ));
        }
        match kind {
            "Condition" => {
                need_str(r, "/code/coding/0/system", &p)?;
                need_str(r, "/code/coding/0/code", &p)?;
            }
            "Observation" => {
                need_str(r, "/status", &p)?;
                need_str(r, "/code/coding/0/code", &p)?;
                if at(r, "/valueQuantity").is_none() && at(r, "/valueCodeableConcept").is_none() {
                    return Err(format!("{p} has no value[x]"));
                }
            }
            "AllergyIntolerance" => {
                need_str(r, "/code/coding/0/code", &p)?;
            }
            "MedicationRequest" | "MedicationDispense" => drug_code(r, &p)?,
            other => return Err(format!("{p} is a {other}, not one of the six items")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_protocol::wire::fhir::{INSURER_SYSTEM, PrescriptionDraft};
    use serde_json::json;

    fn bundle() -> Value {
        PrescriptionDraft {
            facility_code: "4719999012".into(),
            ..PrescriptionDraft::example()
        }
        .to_bundle()
    }

    fn entry_of(b: &mut Value, t: &str) -> usize {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .position(|e| e["resource"]["resourceType"] == t)
            .unwrap()
    }

    #[test]
    fn a_prescription_document_passes_and_each_fault_is_named() {
        prescription_document(&bundle()).unwrap();
        type Break = fn(&mut Value);
        let faults: [(Break, &str); 7] = [
            (
                |b| b["timestamp"] = Value::Null,
                "bundle.timestamp must be at least 1 (JAMI ePrescriptionData 1.0.0",
            ),
            (
                |b| {
                    let i = entry_of(b, "MedicationRequest");
                    b["entry"][i]["resource"]["medicationCodeableConcept"]["coding"][0]["system"] =
                        json!("urn:example");
                },
                "must be a system of YJ or HOT9",
            ),
            (
                |b| b["entry"].as_array_mut().unwrap().rotate_left(1),
                "is not the Composition",
            ),
            (
                |b| {
                    let i = entry_of(b, "MedicationRequest");
                    b["entry"][i]["resource"]["subject"]["reference"] = json!("urn:uuid:nowhere");
                },
                "does not resolve",
            ),
            (
                |b| {
                    let i = entry_of(b, "Patient");
                    b["entry"][i]["resource"]["gender"] = json!("f");
                },
                "administrative gender",
            ),
            (
                |b| b["identifier"]["system"] = json!("urn:example"),
                "bundle.identifier.system must be = urn:ietf:rfc:3986",
            ),
            (
                |b| {
                    let i = entry_of(b, "Coverage");
                    b["entry"][i]["resource"]["payor"][0] =
                        json!({"identifier": {"system": INSURER_SYSTEM, "value": "06479901"}});
                },
                "payor.0.reference is missing",
            ),
        ];
        for (break_it, says) in faults {
            let mut b = bundle();
            break_it(&mut b);
            let e = prescription_document(&b).unwrap_err();
            assert!(e.contains(says), "{e} (wanted {says})");
        }
    }

    #[test]
    fn the_fhir_schema_catches_what_r4_forbids() {
        let Err(missing) = Schema::load(std::path::Path::new("/nonexistent/fhir.schema.json"))
        else {
            panic!("a missing schema file loads");
        };
        assert!(
            missing
                .to_string()
                .contains("--fhir-schema /nonexistent/fhir.schema.json")
        );
        // HL7's schema where the environment names it (as .ci/run does).
        let Ok(path) = std::env::var("DXSIM_FHIR_SCHEMA") else {
            return;
        };
        let schema = Schema::load(std::path::Path::new(&path)).unwrap();
        let mut b = bundle();
        schema.check(&b).unwrap();
        // Organization.type is a list in R4.
        let i = entry_of(&mut b, "Organization");
        b["entry"][i]["resource"]["type"] = json!({"text": "prov"});
        let fault = schema.check(&b).unwrap_err();
        assert!(fault.contains("breaks the FHIR R4 JSON schema"), "{fault}");
    }

    #[test]
    fn a_summary_searchset_names_its_subject_and_item_kinds() {
        // A diagnosis as JP-CLINS writes it, with the id the exchange gives a stored item.
        let subject = json!({"identifier": {"system": INSURED_PERSON_SYSTEM, "value": "M1"}});
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00").unwrap();
        let mut item = dx_protocol::wire::clins::ItemDraft::new(
            dx_protocol::wire::clins::Fact::Diagnosis { code: "I10".into() },
            at.date_naive(),
        )
        .to_resource(&subject, "1310110015", &at, "s1-1");
        item["id"] = json!("i1");
        let good = json!({"resourceType": "Bundle", "type": "searchset", "total": 1,
            "link": [{"relation": "self", "url": "http://127.0.0.1:8080/v1/x?count=50"}],
            "entry": [{"fullUrl": "urn:uuid:0", "resource": item}]});
        summary_searchset(&good, "M1").unwrap();
        assert!(
            summary_searchset(&good, "M2")
                .unwrap_err()
                .contains("is not M2")
        );
        let mut relative = good.clone();
        relative["link"][0]["url"] = json!("/v1/x?count=50");
        assert!(
            summary_searchset(&relative, "M1")
                .unwrap_err()
                .contains("not absolute")
        );
        let mut no_url = good.clone();
        no_url["entry"][0]
            .as_object_mut()
            .unwrap()
            .remove("fullUrl");
        assert!(
            summary_searchset(&no_url, "M1")
                .unwrap_err()
                .contains("fullUrl is missing")
        );
        let mut total = good.clone();
        total["total"] = json!(0);
        assert!(
            summary_searchset(&total, "M1")
                .unwrap_err()
                .contains("below")
        );
        let mut category = good.clone();
        category["entry"][0]["resource"]
            .as_object_mut()
            .unwrap()
            .remove("category");
        assert!(
            summary_searchset(&category, "M1")
                .unwrap_err()
                .contains("JP-CLINS 1.3.0-rc1 JP_Condition_eCS.category")
        );
        let mut kind = good.clone();
        kind["entry"][0]["resource"]["resourceType"] = json!("Encounter");
        assert!(
            summary_searchset(&kind, "M1")
                .unwrap_err()
                .contains("not one of the six items")
        );
    }
}
