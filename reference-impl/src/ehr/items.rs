//! The 6 items and the clinical summary:
//!
//! - `POST /v1/ehr/items`: a facility submits items for one visit (a `collection` Bundle).
//! - `GET /v1/persons/{person_id}/clinical-summary`: a facility with EHR consent reads the six
//!   items, newest first, as a FHIR `searchset` Bundle; `GET /v1/portal/clinical-summary`: the
//!   person reads their own, undisclosed diagnoses left out.

use super::parse::{self};
use super::submit::{AUTHORS, duplicate, facility_mismatch, resolve_patient};
use super::{ItemQuery, NewSubmission, PAGE_DEFAULT, PAGE_MAX, StoredItem, item_id};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::consent::guard::require_consent;
use crate::eligibility::resolve::resolve_person;
use crate::extract::{Answer, Body, Params, Routes};
use crate::prescription::{HISTORY_DAYS, HistoryItem};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use chrono::{NaiveDate, TimeDelta};
use dx_protocol::wire::SummaryQuery;
use dx_protocol::wire::clins::{INSURED_PERSON_SYSTEM, ItemKind};
use dx_protocol::wire::endpoints::{
    Endpoint, PortalClinicalSummary, ReadClinicalSummary, SubmitItems,
};
use dx_protocol::wire::fhir::{FACILITY_SYSTEM, YJ_SYSTEM};
use dx_protocol::wire::{
    ConsentKind, ItemsSubmittedResponse, MedicationSource, PersonRef, Role, StoredItemRef,
};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(SubmitItems, submit_items)
        .endpoint(ReadClinicalSummary, facility_summary)
        .endpoint(PortalClinicalSummary, portal_summary)
}

async fn submit_items(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(bundle): Body<SubmitItems>,
) -> Result<Answer<SubmitItems>, Refusal> {
    let result = submit_items_inner(&state, &caller, bundle).await;
    let result = state
        .audited(&caller, "ehr.items.submit", None, result)
        .await;
    result.map(Answer)
}

async fn submit_items_inner(
    state: &AppState,
    caller: &Principal,
    bundle: Value,
) -> Result<ItemsSubmittedResponse, Refusal> {
    caller.require(&AUTHORS, "submitting the 6 items")?;
    let parsed = parse::items(&bundle, state.clock().today_jst())?;
    crate::fhir_read::guide_rules(state, &bundle, dx_protocol::wire::guides::rules::items())?;
    if parsed.facility_code != caller.subject() {
        return Err(facility_mismatch());
    }
    let person = resolve_patient(state, &parsed.patient).await?;
    // Each resource names its patient by the insured-person identifier, as parsed.
    let items: Vec<_> = parsed
        .items
        .into_iter()
        .map(|mut p| {
            p.item.resource = p.resource.to_string();
            p.item
        })
        .collect();
    let now = state.now();
    let submission = NewSubmission {
        facility_code: parsed.facility_code,
        submission_id: parsed.submission_id.clone(),
        person_id: person.id.clone(),
        registered_at: now,
        items,
    };
    let audit = AuditEvent::new(
        now,
        caller,
        "ehr.items.submit",
        Some(person.id.clone()),
        None,
        "ok",
    );
    let refs: Vec<_> = submission
        .items
        .iter()
        .map(|i| (i.kind, i.retain_until))
        .collect();
    let what = format!("submission {}", parsed.submission_id);
    let seqs = state
        .blocking(move |s| {
            s.insert_items(&submission, &audit)
                .map_err(duplicate("duplicate_submission", &what))
        })
        .await?;
    Ok(ItemsSubmittedResponse {
        submission_id: parsed.submission_id,
        person_id: person.id,
        items: seqs
            .into_iter()
            .zip(refs)
            .map(|(seq, (kind, retain_until))| StoredItemRef {
                id: item_id(seq),
                kind,
                retain_until,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Clinical summary

/// Where a page ends: the sort key of its last entry. Items sort as `i<seq>`, medications as
/// `m<source><prescription or facility><code>`; newest date first, then key descending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey(NaiveDate, String);

impl SortKey {
    fn encode(&self) -> String {
        format!("{}.{}", self.0, self.1)
    }

    fn decode(s: &str) -> Option<Self> {
        let (d, k) = s.split_once('.')?;
        let ok = k.len() <= 64
            && (k.starts_with('i') || k.starts_with('m'))
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then_some(())?;
        Some(Self(d.parse().ok()?, k.to_owned()))
    }

    /// The item bound `(recorded_on, seq)` equivalent to "sorting before this key".
    fn item_bound(&self) -> (NaiveDate, i64) {
        let seq = self.1.strip_prefix('i').and_then(|n| n.parse().ok());
        (self.0, seq.unwrap_or(i64::MAX))
    }
}

struct Page {
    query: SummaryQuery,
    count: u32,
    kinds: Vec<ItemKind>,
    before: Option<SortKey>,
}

fn page(q: Result<SummaryQuery, Refusal>) -> Result<Page, Refusal> {
    let query = q?;
    let count = query.count.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&count) {
        return Err(
            Refusal::invalid("invalid_count", format!("count must be 1–{PAGE_MAX}")).at("count"),
        );
    }
    let kinds = match &query.kind {
        None => ItemKind::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|k| {
                ItemKind::parse(k).ok_or_else(|| {
                    Refusal::invalid(
                        "invalid_kind",
                        format!(
                            "{k:?} is not an item kind (diagnosis, infection, allergy, contraindicated_drug, lab_result, prescription)"
                        ),
                    )
                    .at("kind")
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let before = match &query.cursor {
        None => None,
        Some(c) => Some(SortKey::decode(c).ok_or_else(|| {
            Refusal::invalid("invalid_cursor", "pass the cursor of a next link unchanged")
                .at("cursor")
        })?),
    };
    Ok(Page {
        query,
        count,
        kinds,
        before,
    })
}

fn item_resource(it: &StoredItem) -> Result<(SortKey, Value), Refusal> {
    let mut r: Value = serde_json::from_str(&it.resource)
        .map_err(|e| Refusal::internal(format!("stored item unreadable: {e}")))?;
    r["id"] = json!(item_id(it.seq));
    let meta = r
        .as_object_mut()
        .expect("stored items are objects")
        .entry("meta")
        .or_insert_with(|| json!({}));
    meta["lastUpdated"] = json!(it.registered_at.to_rfc3339());
    meta["source"] = json!(format!("{FACILITY_SYSTEM}/{}", it.facility_code));
    Ok((SortKey(it.recorded_on, format!("i{:012}", it.seq)), r))
}

/// The insured-person identifier of `p` on `today`: the qualification in force then, else the
/// latest, as JP-CLINS names the patient (`insurer:symbol:number:branch`).
fn member_id(p: &dx_protocol::wire::PersonRecord, today: NaiveDate) -> Option<String> {
    let q = p
        .qualifications
        .iter()
        .find(|q| q.valid_from <= today && q.valid_to.is_none_or(|to| today <= to))
        .or_else(|| p.qualifications.iter().max_by_key(|q| q.valid_from))?;
    Some(format!(
        "{}:{}:{}:{}",
        q.insurer_number, q.symbol, q.number, q.branch
    ))
}

fn medication_resource(h: &HistoryItem, subject: &Value) -> (SortKey, Value) {
    let (letter, name) = match h.source {
        MedicationSource::Dispensing => ("D", "MedicationDispense"),
        _ => ("P", "MedicationRequest"),
    };
    let key = format!(
        "m{letter}{}{}",
        h.prescription_id.as_deref().unwrap_or(&h.facility_code),
        h.code
    );
    let drug = crate::refdata::DrugMaster::get().by_code(&h.code);
    let mut coding = json!({"system": YJ_SYSTEM, "code": h.code});
    if let Some(d) = drug {
        coding["display"] = json!(d.name);
    }
    let days =
        json!({"value": h.days, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d"});
    let mut r = json!({
        "resourceType": name,
        "id": key[1..].to_owned(),
        "meta": {"source": format!("{FACILITY_SYSTEM}/{}", h.facility_code)},
        "medicationCodeableConcept": {"coding": [coding]},
        "subject": subject,
    });
    if name == "MedicationDispense" {
        r["status"] = json!("completed");
        r["whenHandedOver"] = json!(h.date.to_string());
        r["daysSupply"] = days;
    } else {
        r["status"] = json!("active");
        r["intent"] = json!("order");
        r["authoredOn"] = json!(h.date.to_string());
        r["dispenseRequest"] = json!({"expectedSupplyDuration": days});
    }
    (SortKey(h.date, key), r)
}

/// One page of the clinical summary as a FHIR `searchset` Bundle.
async fn summary(
    state: &AppState,
    person: &dx_protocol::wire::PersonRecord,
    p: Page,
    include_undisclosed: bool,
    base: &str,
) -> Result<Value, Refusal> {
    let person_id = person.id.as_str();
    let today = state.clock().today_jst();
    // The e-prescription service's entries name the patient as the items do.
    let subject = match member_id(person, today) {
        Some(id) => json!({"identifier": {"system": INSURED_PERSON_SYSTEM, "value": id}}),
        None => json!({"reference": format!("Patient/{person_id}")}),
    };
    let q = ItemQuery {
        person_id: person_id.to_owned(),
        today,
        kinds: p.kinds.clone(),
        include_undisclosed,
        before: p.before.as_ref().map(SortKey::item_bound),
        limit: p.count + 1,
    };
    let wants_items = p.kinds.iter().any(|k| *k != ItemKind::Prescription);
    let wants_meds = p.kinds.contains(&ItemKind::Prescription);
    let (items, item_total) = if wants_items {
        state.blocking(move |s| s.items_page(&q)).await?
    } else {
        (Vec::new(), 0)
    };
    let meds = if wants_meds {
        let pid = person_id.to_owned();
        state
            .blocking(move |s| s.history(&pid, today - TimeDelta::days(HISTORY_DAYS), today))
            .await?
    } else {
        Vec::new()
    };
    let mut med_entries: Vec<(SortKey, Value)> = meds
        .iter()
        .map(|h| medication_resource(h, &subject))
        .collect();
    let total = item_total + med_entries.len() as u64;
    if let Some(b) = &p.before {
        med_entries.retain(|(k, _)| k < b);
    }
    let mut entries = items
        .iter()
        .map(item_resource)
        .collect::<Result<Vec<_>, _>>()?;
    entries.append(&mut med_entries);
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    let more = entries.len() > p.count as usize;
    entries.truncate(p.count as usize);
    let query_of = |cursor: Option<&str>| {
        let mut parts = vec![format!("count={}", p.count)];
        if let Some(k) = &p.query.kind {
            parts.push(format!("kind={k}"));
        }
        if let Some(c) = cursor {
            parts.push(format!("cursor={c}"));
        }
        format!("{}{base}?{}", state.public_base(), parts.join("&"))
    };
    let mut links = vec![json!({"relation": "self", "url": query_of(p.query.cursor.as_deref())})];
    if let (true, Some((last, _))) = (more, entries.last()) {
        links.push(json!({"relation": "next", "url": query_of(Some(&last.encode()))}));
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": state.now().to_rfc3339(),
        "total": total,
        "link": links,
        "entry": entries.into_iter().map(|(_, r)| {
            // No route serves one entry on its own, so its fullUrl is a name-based urn:uuid.
            let full_url = dx_protocol::wire::fhir::urn(r["id"].as_str().unwrap_or_default(), r["resourceType"].as_str().unwrap_or_default());
            json!({"fullUrl": full_url, "resource": r, "search": {"mode": "match"}})
        }).collect::<Vec<_>>()
    }))
}

async fn facility_summary(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(person_id): Path<String>,
    query: Result<Params<ReadClinicalSummary>, Refusal>,
) -> Result<Answer<ReadClinicalSummary>, Refusal> {
    let result = async {
        caller.require_facility("reading the clinical summary")?;
        let p = page(query.map(|Params(q)| q))?;
        let person = resolve_person(&state, &PersonRef::by_id(&person_id), "person_id").await?;
        require_consent(&state, &person.id, caller.subject(), ConsentKind::Ehr).await?;
        let base = ReadClinicalSummary::path(&[&person.id]);
        let body = summary(&state, &person, p, true, &base).await?;
        state
            .audit_read(&caller, "ehr.summary.read", person.id, None)
            .await?;
        Ok(body)
    }
    .await;
    let result = state
        .audited(&caller, "ehr.summary.read", Some(person_id), result)
        .await;
    result.map(Answer)
}

async fn portal_summary(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Params<PortalClinicalSummary>, Refusal>,
) -> Result<Answer<PortalClinicalSummary>, Refusal> {
    let result = async {
        caller.require(&[Role::Person], "the portal's clinical summary")?;
        let p = page(query.map(|Params(q)| q))?;
        let me = resolve_person(&state, &PersonRef::by_id(caller.subject()), "person").await?;
        let body = summary(&state, &me, p, false, PortalClinicalSummary::PATH).await?;
        state
            .audit_read(
                &caller,
                "portal.summary.read",
                caller.subject().to_owned(),
                None,
            )
            .await?;
        Ok(body)
    }
    .await;
    let result = state
        .audited(&caller, "portal.summary.read", None, result)
        .await;
    result.map(Answer)
}
