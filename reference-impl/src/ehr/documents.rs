//! The 3 documents: `POST /v1/ehr/documents`, `GET /v1/ehr/documents/{id}`,
//! `GET /v1/ehr/referrals` (the addressee's inbox), `POST /v1/ehr/documents/{id}/receipt`; and
//! `POST /v1/admin/ehr/purge`, which deletes what is past retention.

use super::parse::{self};
use super::submit::{AUTHORS, duplicate, facility_mismatch, resolve_patient};
use super::summary_of;
use super::{
    InboxFilter, NewDocument, PAGE_DEFAULT, PAGE_MAX, StoredDocument, referral_retained_until,
    retain_until,
};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::consent::guard::require_consent;
use crate::extract::{Answer, Body, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use dx_protocol::wire::clins::DocumentKind;
use dx_protocol::wire::endpoints::{
    PurgeEhr, ReadDocument, ReceiveReferral, ReferralInbox, SubmitDocument,
};
use dx_protocol::wire::{
    ConsentKind, DocumentResponse, DocumentSummary, PurgeResponse, ReferralInboxResponse, Role,
};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(SubmitDocument, submit_document)
        .endpoint(ReadDocument, read_document)
        .endpoint(ReceiveReferral, receive)
        .endpoint(ReferralInbox, inbox)
        .endpoint(PurgeEhr, purge)
}

fn no_such_document(id: &str) -> Refusal {
    Refusal::not_found(
        "document_not_found",
        format!("no document {id} that you may see (or its retention has ended)"),
    )
}

async fn load_document(state: &AppState, id: &str) -> Result<StoredDocument, Refusal> {
    let (i, today) = (id.to_owned(), state.clock().today_jst());
    state
        .blocking(move |s| s.document(&i, today))
        .await?
        .ok_or_else(|| no_such_document(id))
}

/// A refusal of access to an existing document, answered as one that does not exist (so ids
/// cannot be probed); the audit line keeps the person, who sees the attempt.
fn hidden(state: &AppState, id: &str, refusal: Refusal) -> Refusal {
    if state.fault(crate::faults::Fault::ExistenceRevealed)
        || refusal.kind == crate::refusal::Kind::Internal
    {
        refusal
    } else {
        no_such_document(id)
    }
}

async fn submit_document(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(bundle): Body<SubmitDocument>,
) -> Result<Answer<SubmitDocument>, Refusal> {
    let result = submit_document_inner(&state, &caller, bundle).await;
    let result = state
        .audited(&caller, "ehr.document.submit", None, result)
        .await;
    result.map(Answer)
}

async fn submit_document_inner(
    state: &AppState,
    caller: &Principal,
    bundle: Value,
) -> Result<DocumentSummary, Refusal> {
    caller.require(&AUTHORS, "submitting documents")?;
    let today = state.clock().today_jst();
    let parsed = parse::document(&bundle, today)?;
    crate::fhir_read::guide_rules(
        state,
        &bundle,
        dx_protocol::wire::guides::rules::document_items(),
    )?;
    if parsed.facility_code != caller.subject() {
        return Err(facility_mismatch());
    }
    if parsed.date.with_timezone(&crate::clock::jst()).date_naive() > today {
        return Err(Refusal::broken_rule(
            "date_in_future",
            format!("the document is dated after today ({today})"),
        )
        .at("bundle.Composition.date"));
    }
    let person = resolve_patient(state, &parsed.patient).await?;
    if let Some(to) = &parsed.addressee {
        let field = "bundle.Composition.extension";
        if to == caller.subject() {
            return Err(Refusal::broken_rule(
                "referral_to_self",
                "a referral letter is addressed to another facility",
            )
            .at(field));
        }
        let code = to.clone();
        let known = state.blocking(move |s| s.facility(&code)).await?;
        if known.is_none() {
            return Err(Refusal::broken_rule(
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
            return Err(Refusal::broken_rule(
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
async fn may_read(state: &AppState, caller: &Principal, d: &StoredDocument) -> Result<(), Refusal> {
    let not_yours = || {
        Refusal::forbidden(
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
        DocumentKind::Referral => Err(Refusal::forbidden(
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
) -> Result<Answer<ReadDocument>, Refusal> {
    let mut person = None;
    let result = async {
        let d = load_document(&state, &id).await?;
        person = Some(d.person_id.clone());
        may_read(&state, &caller, &d)
            .await
            .map_err(|e| hidden(&state, &id, e))?;
        state
            .audit_read(
                &caller,
                "ehr.document.read",
                d.person_id.clone(),
                Some(d.id.clone()),
            )
            .await?;
        let (summary, bundle) = summary_of(d);
        let bundle = serde_json::from_str(&bundle)
            .map_err(|e| Refusal::internal(format!("stored document unreadable: {e}")))?;
        Ok(DocumentResponse { summary, bundle })
    }
    .await;
    let result = state
        .audited(&caller, "ehr.document.read", person, result)
        .await;
    result.map(Answer)
}

async fn receive(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Answer<ReceiveReferral>, Refusal> {
    let mut person = None;
    let result = async {
        caller.require_facility("marking referrals received")?;
        let d = load_document(&state, &id).await?;
        person = Some(d.person_id.clone());
        if d.kind != DocumentKind::Referral {
            // Said only to a caller who may see the document.
            may_read(&state, &caller, &d)
                .await
                .map_err(|e| hidden(&state, &id, e))?;
            return Err(Refusal::broken_rule(
                "not_a_referral",
                format!(
                    "{id} is a {}; only referral letters are received",
                    d.kind.as_str()
                ),
            ));
        }
        if d.addressee.as_deref() != Some(caller.subject()) {
            return Err(hidden(
                &state,
                &id,
                Refusal::forbidden(
                    "not_addressee",
                    "only the facility a referral is addressed to marks it received",
                ),
            ));
        }
        if d.received_at.is_some() {
            return Err(Refusal::conflict(
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
        .audited(&caller, "ehr.referral.receive", person, result)
        .await;
    result.map(Answer)
}

async fn inbox(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Params<ReferralInbox>, Refusal>,
) -> Result<Answer<ReferralInbox>, Refusal> {
    caller.require_facility("the referral inbox")?;
    let Params(q) = query?;
    let filter = match q.status.as_deref() {
        None | Some("unreceived") => InboxFilter::Unreceived,
        Some("received") => InboxFilter::Received,
        Some("all") => InboxFilter::All,
        Some(_) => {
            return Err(Refusal::invalid(
                "invalid_status",
                "status is unreceived, received or all",
            )
            .at("status"));
        }
    };
    let count = q.count.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&count) {
        return Err(
            Refusal::invalid("invalid_count", format!("count must be 1–{PAGE_MAX}")).at("count"),
        );
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(super::document_seq(c).ok_or_else(|| {
            Refusal::invalid("invalid_cursor", "pass next_cursor unchanged").at("cursor")
        })?),
    };
    let (me, today) = (caller.subject().to_owned(), state.clock().today_jst());
    let mut docs = state
        .blocking(move |s| s.referral_inbox(&me, filter, today, before, count + 1))
        .await?;
    let more = docs.len() > count as usize;
    docs.truncate(count as usize);
    let referrals: Vec<DocumentSummary> = docs.into_iter().map(|d| summary_of(d).0).collect();
    Ok(Answer(ReferralInboxResponse {
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
) -> Result<Answer<PurgeEhr>, Refusal> {
    caller.require(&[Role::Admin], "purging expired EHR records")?;
    let today = state.clock().today_jst();
    let (documents_removed, items_removed) =
        state.blocking(move |s| s.purge_expired(today)).await?;
    Ok(Answer(PurgeResponse {
        documents_removed,
        items_removed,
    }))
}
