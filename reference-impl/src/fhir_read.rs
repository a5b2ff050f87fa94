//! Reading FHIR JSON with refusals that name the path at fault: a structural fault is 400
//! `invalid_fhir` with the dotted JSON path (`bundle.entry[2].resource.code`).

use crate::refusal::Refusal;
use serde_json::Value;

pub fn fhir_err(path: &str, msg: impl Into<String>) -> Refusal {
    Refusal::invalid("invalid_fhir", msg).at(path.to_owned())
}

pub fn str_at<'a>(v: &'a Value, ptr: &str, path: &str) -> Result<&'a str, Refusal> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}{}", ptr.replace('/', ".")),
                "required string is missing",
            )
        })
}

/// The value of the identifier with `system` in `resource.identifier` (array or single object).
pub fn identifier<'a>(resource: &'a Value, system: &str, path: &str) -> Result<&'a str, Refusal> {
    let ids = match resource.get("identifier") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => vec![],
    };
    ids.into_iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(system))
        .and_then(|i| i.get("value").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.identifier"),
                format!("an identifier with system {system} is required"),
            )
        })
}

/// The value of the identifier of `resource` whose system is any spelling `system` accepts.
pub fn identifier_of<'a>(
    resource: &'a Value,
    system: &dx_protocol::wire::guides::CodeSystem,
    path: &str,
) -> Result<&'a str, Refusal> {
    system
        .accepted
        .iter()
        .find_map(|s| identifier(resource, s, path).ok())
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.identifier"),
                format!(
                    "an identifier with system {} ({}) is required",
                    system.written, system.name
                ),
            )
        })
}

pub fn extension<'a>(resource: &'a Value, url: &str, path: &str) -> Result<&'a str, Refusal> {
    resource
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
        })
        .and_then(|e| e.get("valueString").and_then(Value::as_str))
        .ok_or_else(|| {
            fhir_err(
                &format!("{path}.extension"),
                format!("extension {url} (valueString) is required"),
            )
        })
}

/// Exactly one resource of `kind`, with its path.
pub fn one<'a>(
    by_type: &[(String, &'a Value)],
    kind: &str,
) -> Result<(String, &'a Value), Refusal> {
    let mut found = by_type.iter().filter(|(_, r)| r["resourceType"] == kind);
    match (found.next(), found.next()) {
        (Some((p, r)), None) => Ok((p.clone(), r)),
        (None, _) => Err(fhir_err(
            "bundle.entry",
            format!("a {kind} entry is required"),
        )),
        (Some(_), Some((p, _))) => Err(fhir_err(p, format!("only one {kind} entry is allowed"))),
    }
}

/// A Bundle's identifier and entries, checked for shape.
pub struct BundleView<'a> {
    /// `Bundle.identifier.value` of the system the guide names.
    pub identifier: &'a str,
    /// (path, resource) of every entry, in order.
    pub entries: Vec<(String, &'a Value)>,
    /// `fullUrl` of every entry, where given.
    pub full_urls: Vec<Option<&'a str>>,
}

impl<'a> BundleView<'a> {
    /// The entry a reference inside the Bundle points at (by `fullUrl`).
    pub fn resolve(&self, reference: &str) -> Option<(&str, &'a Value)> {
        let i = self.full_urls.iter().position(|u| *u == Some(reference))?;
        let (path, r) = &self.entries[i];
        Some((path.as_str(), *r))
    }

    /// Resolves `resource[ptr]` (a Reference) to an entry of `kind`.
    pub fn follow(
        &self,
        resource: &Value,
        ptr: &str,
        path: &str,
        kind: &str,
    ) -> Result<(&str, &'a Value), Refusal> {
        let reference = str_at(resource, ptr, path)?;
        self.resolve(reference)
            .filter(|(_, r)| r["resourceType"] == kind)
            .ok_or_else(|| {
                fhir_err(
                    &format!("{path}{}", ptr.replace('/', ".")),
                    format!("must reference a {kind} entry of this Bundle"),
                )
            })
    }
}

/// Checks a Bundle's type, profile (when it declares any, one of `profiles` must be among them),
/// identifier (of `id_system`, at most 64 characters) and entries (1–`max`, each with a resource
/// that has a resourceType).
pub fn read_bundle<'a>(
    bundle: &'a Value,
    kind: &str,
    max: usize,
    profiles: &[&str],
    id_system: &str,
) -> Result<BundleView<'a>, Refusal> {
    if bundle["resourceType"] != "Bundle" {
        return Err(fhir_err("bundle.resourceType", "must be Bundle"));
    }
    if bundle["type"] != kind {
        return Err(fhir_err("bundle.type", format!("must be {kind}")));
    }
    if let Some(declared) = bundle.pointer("/meta/profile") {
        // A canonical URL with or without its version (`…/JP_Bundle_CLINS|1`, as JP-CLINS's
        // examples write it).
        let unversioned = |p: &str| p.split('|').next().unwrap_or(p).to_owned();
        let listed = declared.as_array().is_some_and(|a| {
            a.iter().any(|p| {
                p.as_str()
                    .is_some_and(|p| profiles.contains(&unversioned(p).as_str()))
            })
        });
        if !listed {
            return Err(fhir_err(
                "bundle.meta.profile",
                format!("must name {}", profiles.join(" or ")),
            ));
        }
    }
    let identifier = identifier(bundle, id_system, "bundle")?;
    if identifier.len() > 64 {
        return Err(fhir_err("bundle.identifier", "at most 64 characters"));
    }
    let list = bundle["entry"]
        .as_array()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| fhir_err("bundle.entry", "entries are required"))?;
    if list.len() > max {
        return Err(fhir_err("bundle.entry", format!("at most {max} entries")));
    }
    let mut entries = Vec::with_capacity(list.len());
    let mut full_urls = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let path = format!("bundle.entry[{i}].resource");
        let r = e
            .get("resource")
            .filter(|r| r.get("resourceType").and_then(Value::as_str).is_some())
            .ok_or_else(|| fhir_err(&path, "a resource with resourceType is required"))?;
        entries.push((path, r));
        full_urls.push(e.get("fullUrl").and_then(Value::as_str));
    }
    Ok(BundleView {
        identifier,
        entries,
        full_urls,
    })
}

/// The first of the guide's element rules `rules` that `bundle` breaks, as the refusal
/// docs/api.md gives for it, at the path at fault and citing the guide. Checked after the
/// service's own reading of the Bundle (whose refusals name the old dialect's forms).
pub fn guide_rules(
    state: &crate::state::AppState,
    bundle: &Value,
    rules: &'static [dx_protocol::wire::guides::rules::Rule],
) -> Result<(), Refusal> {
    use dx_protocol::wire::guides::rules::{Answer, first_violation};
    if state.fault(crate::faults::Fault::GuideRulesUnchecked) {
        return Ok(());
    }
    let Some(v) = first_violation(bundle, rules) else {
        return Ok(());
    };
    let refusal = match v.rule.answer {
        Answer::Invalid => Refusal::invalid("invalid_fhir", v.message),
        Answer::UnknownSystem => Refusal::broken_rule("unknown_code_system", v.message),
        Answer::UnknownCode => Refusal::broken_rule("unknown_code", v.message),
    };
    Err(refusal.at(v.path))
}
