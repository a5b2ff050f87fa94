//! Routes of the EHR sharing service:
//!
//! - `POST /v1/ehr/items`: a facility submits items for one visit (a `collection` Bundle).
//! - `GET /v1/persons/{person_id}/clinical-summary`: a facility with EHR consent reads the six
//!   items, newest first, as a FHIR `searchset` Bundle; `GET /v1/portal/clinical-summary`: the
//!   person reads their own, undisclosed diagnoses left out.
//! - `POST /v1/ehr/documents`, `GET /v1/ehr/documents/{id}`, `GET /v1/ehr/referrals` (inbox),
//!   `POST /v1/ehr/documents/{id}/receipt`.
//! - `POST /v1/admin/ehr/purge`: deletes what is past retention.

use super::parse::{self, ParsedPatient};
use super::{
    DrugFlag, InboxFilter, ItemQuery, NewDocument, NewSubmission, PAGE_DEFAULT, PAGE_MAX,
    StoredDocument, StoredItem, item_id, referral_retained_until, retain_until,
};
use crate::audit::AuditEvent;
use crate::auth::{Auth, Principal};
use crate::consent::require_consent;
use crate::eligibility::{lookup, parse_identity, resolve_person};
use crate::error::ApiError;
use crate::http::{ApiJson, AppState};
use crate::prescription::{HISTORY_DAYS, HistoryItem};
use crate::store::StoreError;
use crate::wire::clins::{DocumentKind, ItemKind};
use crate::wire::fhir::{FACILITY_SYSTEM, YJ_SYSTEM};
use crate::wire::{
    ConsentKind, DocumentResponse, DocumentSummary, ItemsSubmittedResponse, MedicationSource,
    PersonRecord, PersonRef, PurgeResponse, ReferralInboxResponse, Role, StoredItemRef,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use serde_json::{Value, json};

const AUTHORS: [Role; 3] = [Role::Hospital, Role::Clinic, Role::Dental];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ehr/items", post(submit_items))
        .route(
            "/v1/persons/{person_id}/clinical-summary",
            get(facility_summary),
        )
        .route("/v1/portal/clinical-summary", get(portal_summary))
        .route("/v1/ehr/documents", post(submit_document))
        .route("/v1/ehr/documents/{id}", get(read_document))
        .route("/v1/ehr/documents/{id}/receipt", post(receive))
        .route("/v1/ehr/referrals", get(inbox))
        .route("/v1/admin/ehr/purge", post(purge))
}

/// The enrolled person a Bundle's Patient names (by insurance, current or past), or 422.
async fn resolve_patient(state: &AppState, p: &ParsedPatient) -> Result<PersonRecord, ApiError> {
    let field = "bundle.Patient.identifier";
    let identity = parse_identity(&p.person, field)?;
    let person = state
        .blocking(move |s| lookup(s, &identity))
        .await?
        .ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_patient",
                "no person holds the insurance number of the Patient",
            )
            .at(field)
        })?;
    if p.birth_date.is_some_and(|b| b != person.birth_date) {
        return Err(ApiError::unprocessable(
            "patient_mismatch",
            "Patient.birthDate does not match the insured person",
        )
        .at("bundle.Patient.birthDate"));
    }
    Ok(person)
}

fn facility_mismatch() -> ApiError {
    ApiError::forbidden(
        "facility_mismatch",
        "the authoring Organization of the bundle is not the calling facility",
    )
    .at("bundle.Organization.identifier")
}

fn duplicate(code: &'static str, what: &str) -> impl FnOnce(StoreError) -> ApiError {
    let what = what.to_owned();
    move |e| match e {
        StoreError::Duplicate(_) => ApiError::conflict(
            code,
            format!("{what} was already submitted by this facility; nothing was stored"),
        )
        .at("bundle.identifier"),
        other => other.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// 6 items

async fn submit_items(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(bundle): ApiJson<Value>,
) -> Result<(StatusCode, Json<ItemsSubmittedResponse>), ApiError> {
    let result = submit_items_inner(&state, &caller, bundle).await;
    let result = state
        .audited(&caller, "ehr.items.submit", None, result)
        .await;
    result.map(|r| (StatusCode::CREATED, Json(r)))
}

async fn submit_items_inner(
    state: &AppState,
    caller: &Principal,
    bundle: Value,
) -> Result<ItemsSubmittedResponse, ApiError> {
    caller.require(&AUTHORS, "submitting the 6 items")?;
    let parsed = parse::items(&bundle, state.clock().today_jst())?;
    if parsed.facility_code != caller.subject() {
        return Err(facility_mismatch());
    }
    let person = resolve_patient(state, &parsed.patient).await?;
    let subject = json!({"reference": format!("Patient/{}", person.id)});
    let items: Vec<_> = parsed
        .items
        .into_iter()
        .map(|mut p| {
            p.resource[p.subject_field] = subject.clone();
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    count: Option<u32>,
    cursor: Option<String>,
    /// Comma-separated item kinds; all six when absent.
    kind: Option<String>,
}

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

fn page(q: Result<Query<SummaryQuery>, QueryRejection>) -> Result<Page, ApiError> {
    let Query(query) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let count = query.count.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&count) {
        return Err(
            ApiError::bad_request("invalid_count", format!("count must be 1–{PAGE_MAX}"))
                .at("count"),
        );
    }
    let kinds = match &query.kind {
        None => ItemKind::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|k| {
                ItemKind::parse(k).ok_or_else(|| {
                    ApiError::bad_request(
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
            ApiError::bad_request("invalid_cursor", "pass the cursor of a next link unchanged")
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

fn item_resource(it: &StoredItem) -> Result<(SortKey, Value), ApiError> {
    let mut r: Value = serde_json::from_str(&it.resource)
        .map_err(|e| ApiError::internal(format!("stored item unreadable: {e}")))?;
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

fn medication_resource(h: &HistoryItem, person_id: &str) -> (SortKey, Value) {
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
        "subject": {"reference": format!("Patient/{person_id}")},
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
    person_id: &str,
    p: Page,
    include_undisclosed: bool,
    base: &str,
) -> Result<Value, ApiError> {
    let today = state.clock().today_jst();
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
        state
            .blocking(move |s| Ok::<_, StoreError>((s.items_page(&q)?, s.count_items(&q)?)))
            .await?
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
        .map(|h| medication_resource(h, person_id))
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
        format!("{base}?{}", parts.join("&"))
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
        "entry": entries.into_iter().map(|(_, r)| json!({"resource": r, "search": {"mode": "match"}})).collect::<Vec<_>>()
    }))
}

async fn facility_summary(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(person_id): Path<String>,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        caller.require_facility("reading the clinical summary")?;
        let p = page(query)?;
        let person = resolve_person(&state, &PersonRef::by_id(&person_id), "person_id").await?;
        require_consent(&state, &person.id, caller.subject(), ConsentKind::Ehr).await?;
        let base = format!("/v1/persons/{}/clinical-summary", person.id);
        let body = summary(&state, &person.id, p, true, &base).await?;
        state
            .audit_read(&caller, "ehr.summary.read", person.id, None)
            .await;
        Ok(body)
    }
    .await;
    let result = state
        .audited(&caller, "ehr.summary.read", Some(person_id), result)
        .await;
    result.map(Json)
}

async fn portal_summary(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        caller.require(&[Role::Person], "the portal's clinical summary")?;
        let p = page(query)?;
        let body = summary(
            &state,
            caller.subject(),
            p,
            false,
            "/v1/portal/clinical-summary",
        )
        .await?;
        state
            .audit_read(
                &caller,
                "portal.summary.read",
                caller.subject().to_owned(),
                None,
            )
            .await;
        Ok(body)
    }
    .await;
    let result = state
        .audited(&caller, "portal.summary.read", None, result)
        .await;
    result.map(Json)
}

/// Registered drug allergies and contraindicated drugs of a person, for the prescription checks.
pub async fn drug_flags(state: &AppState, person_id: &str) -> Result<Vec<DrugFlag>, ApiError> {
    let (p, today) = (person_id.to_owned(), state.clock().today_jst());
    state.blocking(move |s| s.drug_flags(&p, today)).await
}

// ---------------------------------------------------------------------------------------------
// Documents

/// A document's listing entry and its Bundle.
pub fn summary_of(d: StoredDocument) -> (DocumentSummary, String) {
    (
        DocumentSummary {
            document_id: d.id,
            kind: d.kind,
            person_id: d.person_id,
            author_facility: d.author_facility,
            addressee: d.addressee,
            attachments: d.attachments,
            submitted_at: d.submitted_at,
            received_at: d.received_at,
            retain_until: d.retain_until,
        },
        d.bundle,
    )
}

async fn load_document(state: &AppState, id: &str) -> Result<StoredDocument, ApiError> {
    let (i, today) = (id.to_owned(), state.clock().today_jst());
    state
        .blocking(move |s| s.document(&i, today))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "document_not_found",
                format!("no document {id} (or its retention has ended)"),
            )
        })
}

async fn submit_document(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(bundle): ApiJson<Value>,
) -> Result<(StatusCode, Json<DocumentSummary>), ApiError> {
    let result = submit_document_inner(&state, &caller, bundle).await;
    let result = state
        .audited(&caller, "ehr.document.submit", None, result)
        .await;
    result.map(|r| (StatusCode::CREATED, Json(r)))
}

async fn submit_document_inner(
    state: &AppState,
    caller: &Principal,
    bundle: Value,
) -> Result<DocumentSummary, ApiError> {
    caller.require(&AUTHORS, "submitting documents")?;
    let today = state.clock().today_jst();
    let parsed = parse::document(&bundle, today)?;
    if parsed.facility_code != caller.subject() {
        return Err(facility_mismatch());
    }
    if parsed.date.with_timezone(&crate::clock::jst()).date_naive() > today {
        return Err(ApiError::unprocessable(
            "date_in_future",
            format!("the document is dated after today ({today})"),
        )
        .at("bundle.Composition.date"));
    }
    let person = resolve_patient(state, &parsed.patient).await?;
    if let Some(to) = &parsed.addressee {
        let field = "bundle.Composition.extension";
        if to == caller.subject() {
            return Err(ApiError::unprocessable(
                "referral_to_self",
                "a referral letter is addressed to another facility",
            )
            .at(field));
        }
        let code = to.clone();
        let known = state.blocking(move |s| s.facility(&code)).await?;
        if known.is_none() {
            return Err(ApiError::unprocessable(
                "unknown_facility",
                format!("no facility {to} is registered"),
            )
            .at(field));
        }
    }
    for (path, id) in &parsed.attachments {
        let ok = load_document(state, id)
            .await
            .is_ok_and(|d| d.kind == DocumentKind::DischargeSummary && d.person_id == person.id);
        if !ok {
            return Err(ApiError::unprocessable(
                "unknown_attachment",
                format!("{id} is not a stored discharge summary of this patient"),
            )
            .at(path.clone()));
        }
    }
    let now = state.now();
    let doc = NewDocument {
        kind: parsed.kind,
        person_id: person.id.clone(),
        author_facility: parsed.facility_code,
        source_id: parsed.source_id.clone(),
        addressee: parsed.addressee,
        attachments: parsed.attachments.into_iter().map(|(_, id)| id).collect(),
        submitted_at: now,
        retain_until: match parsed.kind {
            DocumentKind::Referral => None,
            _ => retain_until(today, false),
        },
        bundle: bundle.to_string(),
    };
    let audit = AuditEvent::new(
        now,
        caller,
        "ehr.document.submit",
        Some(person.id),
        None,
        "ok",
    );
    let what = format!("document {}", parsed.source_id);
    let stored = doc.clone();
    let id = state
        .blocking(move |s| {
            s.insert_document(&stored, &audit)
                .map_err(duplicate("duplicate_document", &what))
        })
        .await?;
    Ok(DocumentSummary {
        document_id: id,
        kind: doc.kind,
        person_id: doc.person_id,
        author_facility: doc.author_facility,
        addressee: doc.addressee,
        attachments: doc.attachments,
        submitted_at: now,
        received_at: None,
        retain_until: doc.retain_until,
    })
}

/// Who may read a document: its author; a referral's addressee (and the addressee of a referral
/// that attaches a discharge summary); a facility with the person's consent (EHR for discharge
/// summaries, checkup for checkup reports); the person, for all but referrals.
async fn may_read(
    state: &AppState,
    caller: &Principal,
    d: &StoredDocument,
) -> Result<(), ApiError> {
    let not_yours = || {
        ApiError::forbidden(
            "not_your_record",
            "a person reads their own discharge summaries and checkup reports",
        )
    };
    if caller.role == Role::Person {
        return if caller.subject() == d.person_id && d.kind != DocumentKind::Referral {
            Ok(())
        } else {
            Err(not_yours())
        };
    }
    caller.require_facility("reading documents")?;
    let me = caller.subject();
    if d.author_facility == me {
        return Ok(());
    }
    match d.kind {
        DocumentKind::Referral if d.addressee.as_deref() == Some(me) => Ok(()),
        DocumentKind::Referral => Err(ApiError::forbidden(
            "not_addressee",
            "a referral letter is read by its author and the facility it is addressed to",
        )),
        DocumentKind::DischargeSummary => {
            let (id, f, today) = (d.id.clone(), me.to_owned(), state.clock().today_jst());
            let attached = state
                .blocking(move |s| s.attached_for(&id, &f, today))
                .await?;
            if attached {
                return Ok(());
            }
            require_consent(state, &d.person_id, me, ConsentKind::Ehr).await
        }
        DocumentKind::CheckupReport => {
            require_consent(state, &d.person_id, me, ConsentKind::Checkup).await
        }
    }
}

async fn read_document(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<DocumentResponse>, ApiError> {
    let result = async {
        let d = load_document(&state, &id).await?;
        may_read(&state, &caller, &d).await?;
        state
            .audit_read(
                &caller,
                "ehr.document.read",
                d.person_id.clone(),
                Some(d.id.clone()),
            )
            .await;
        let (summary, bundle) = summary_of(d);
        let bundle = serde_json::from_str(&bundle)
            .map_err(|e| ApiError::internal(format!("stored document unreadable: {e}")))?;
        Ok(DocumentResponse { summary, bundle })
    }
    .await;
    let result = state
        .audited(&caller, "ehr.document.read", None, result)
        .await;
    result.map(Json)
}

async fn receive(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<DocumentSummary>, ApiError> {
    let result = async {
        caller.require_facility("marking referrals received")?;
        let d = load_document(&state, &id).await?;
        if d.kind != DocumentKind::Referral {
            return Err(ApiError::unprocessable(
                "not_a_referral",
                format!(
                    "{id} is a {}; only referral letters are received",
                    d.kind.as_str()
                ),
            ));
        }
        if d.addressee.as_deref() != Some(caller.subject()) {
            return Err(ApiError::forbidden(
                "not_addressee",
                "only the facility a referral is addressed to marks it received",
            ));
        }
        if d.received_at.is_some() {
            return Err(ApiError::conflict(
                "already_received",
                format!("{id} was already marked received"),
            ));
        }
        let now = state.now();
        let until = referral_retained_until(state.clock().today_jst());
        let audit = AuditEvent::new(
            now,
            &caller,
            "ehr.referral.receive",
            Some(d.person_id.clone()),
            Some(d.id.clone()),
            "ok",
        );
        let i = id.clone();
        state
            .blocking(move |s| s.mark_received(&i, now, until, &audit))
            .await?;
        let (mut summary, _) = summary_of(d);
        summary.received_at = Some(now);
        summary.retain_until = Some(until);
        Ok(summary)
    }
    .await;
    let result = state
        .audited(&caller, "ehr.referral.receive", None, result)
        .await;
    result.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboxQuery {
    status: Option<String>,
    count: Option<u32>,
    cursor: Option<String>,
}

async fn inbox(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<ReferralInboxResponse>, ApiError> {
    caller.require_facility("the referral inbox")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let filter = match q.status.as_deref() {
        None | Some("unreceived") => InboxFilter::Unreceived,
        Some("received") => InboxFilter::Received,
        Some("all") => InboxFilter::All,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_status",
                "status is unreceived, received or all",
            )
            .at("status"));
        }
    };
    let count = q.count.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&count) {
        return Err(
            ApiError::bad_request("invalid_count", format!("count must be 1–{PAGE_MAX}"))
                .at("count"),
        );
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(super::document_seq(c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "pass next_cursor unchanged").at("cursor")
        })?),
    };
    let (me, today) = (caller.subject().to_owned(), state.clock().today_jst());
    let mut docs = state
        .blocking(move |s| s.referral_inbox(&me, filter, today, before, count + 1))
        .await?;
    let more = docs.len() > count as usize;
    docs.truncate(count as usize);
    let referrals: Vec<DocumentSummary> = docs.into_iter().map(|d| summary_of(d).0).collect();
    Ok(Json(ReferralInboxResponse {
        facility_code: caller.subject().to_owned(),
        next_cursor: more
            .then(|| referrals.last().map(|d| d.document_id.clone()))
            .flatten(),
        referrals,
    }))
}

async fn purge(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<PurgeResponse>, ApiError> {
    caller.require(&[Role::Admin], "purging expired EHR records")?;
    let today = state.clock().today_jst();
    let (documents_removed, items_removed) =
        state.blocking(move |s| s.purge_expired(today)).await?;
    Ok(Json(PurgeResponse {
        documents_removed,
        items_removed,
    }))
}
