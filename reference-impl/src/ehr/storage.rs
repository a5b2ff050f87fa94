//! Storage of the EHR sharing service: submissions, items, documents.

use super::{
    DrugFlag, EhrStore, InboxFilter, ItemQuery, NewDocument, NewSubmission, StoredDocument,
    StoredItem, document_id, document_seq,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Arg, Monthly, Row, args};
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::clins::{DocumentKind, ItemKind};

fn item_kind(s: &str) -> Result<ItemKind, StoreError> {
    ItemKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("item kind {s:?}")))
}

/// The WHERE clause and parameters an item query shares between a page and a count.
fn item_filter(q: &ItemQuery, with_cursor: bool) -> (String, Vec<Arg<'_>>) {
    let mut sql = String::from("person_id = ? AND (retain_until IS NULL OR retain_until >= ?)");
    let mut args = vec![Arg::Text(&q.person_id), Arg::Date(q.today)];
    if !q.include_undisclosed {
        sql.push_str(" AND undisclosed = 0");
    }
    let kinds: Vec<&str> = q
        .kinds
        .iter()
        .filter(|k| **k != ItemKind::Prescription)
        .map(|k| k.as_str())
        .collect();
    if kinds.len() < ItemKind::ALL.len() - 1 {
        sql.push_str(&format!(
            " AND kind IN ({})",
            vec!["?"; kinds.len()].join(",")
        ));
        args.extend(kinds.iter().map(|k| Arg::Text(k)));
    }
    if let (true, Some((on, seq))) = (with_cursor, q.before) {
        sql.push_str(" AND (recorded_on < ? OR (recorded_on = ? AND seq < ?))");
        args.extend([Arg::Date(on), Arg::Date(on), Arg::Int(seq)]);
    }
    (sql, args)
}

/// A person's (`?1`) registered allergies and contraindicated drugs still kept on `?4`, as a
/// part of the prescription checks' read (prescription storage's `CHECKS`: part 2, its ten
/// columns, newest first by its order); each row is read by [`drug_flag_of_part`].
pub(crate) const DRUG_FLAGS_PART: &str =
    "SELECT 2, kind, recorded_on, facility_code, '', drug_yj, 0, '', 0 - seq, 0 FROM ehr_items
     WHERE person_id = ?1 AND drug_yj IS NOT NULL AND (retain_until IS NULL OR retain_until >= ?4)";

/// The flag in a row of [`DRUG_FLAGS_PART`].
pub(crate) fn drug_flag_of_part(mut r: Row) -> Result<DrugFlag, StoreError> {
    Ok(DrugFlag {
        kind: item_kind(&r.text(1)?)?,
        yj: r.text(5)?,
        facility_code: r.text(3)?,
        recorded_on: r.date(2)?,
    })
}

const DOCUMENT_COLUMNS: &str = "seq, kind, person_id, author_facility, addressee, attachments,
    submitted_at_ms, received_at_ms, retain_until";

/// A document of a row of [`DOCUMENT_COLUMNS`] (and the bundle, if selected after them).
fn document(mut r: Row, with_bundle: bool) -> Result<StoredDocument, StoreError> {
    let kind = r.text(1)?;
    Ok(StoredDocument {
        id: document_id(r.int(0)?),
        kind: DocumentKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("document kind {kind:?}")))?,
        person_id: r.text(2)?,
        author_facility: r.text(3)?,
        addressee: r.opt_text(4)?,
        attachments: r
            .text(5)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        submitted_at: r.time(6)?,
        received_at: r.opt_time(7)?,
        retain_until: r.opt_date(8)?,
        bundle: if with_bundle {
            r.text(9)?
        } else {
            String::new()
        },
    })
}

impl EhrStore for SqlStore {
    fn insert_items(&self, s: &NewSubmission, audit: &AuditEvent) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO ehr_submissions (facility_code, submission_id, person_id, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                args![s.facility_code, s.submission_id, s.person_id, s.registered_at],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate(format!("submission {}", s.submission_id)));
            }
            let mut seqs = Vec::with_capacity(s.items.len());
            for it in &s.items {
                if let Some(until) = it.retain_until {
                    tx.month(Monthly::EhrItems, until)?;
                }
                let seq = tx
                    .query_one(
                        "INSERT INTO ehr_items (person_id, facility_code, submission_id, kind, system, code,
                            recorded_on, registered_at_ms, retain_until, undisclosed, drug_yj, resource)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING seq",
                        args![
                            s.person_id,
                            s.facility_code,
                            s.submission_id,
                            it.kind.as_str(),
                            it.system,
                            it.code,
                            it.recorded_on,
                            s.registered_at,
                            it.retain_until,
                            it.undisclosed,
                            it.drug_yj,
                            it.resource,
                        ],
                    )?
                    .int(0)?;
                seqs.push(seq);
            }
            let mut audit = audit.clone();
            audit.target = Some(s.submission_id.clone());
            insert_audit(tx, &audit)?;
            Ok(seqs)
        })
    }

    fn items_page(&self, q: &ItemQuery) -> Result<(Vec<StoredItem>, u64), StoreError> {
        let (filter, mut args) = item_filter(q, true);
        args.push(Arg::Int(i64::from(q.limit)));
        let page = format!(
            "SELECT seq, kind, facility_code, recorded_on, registered_at_ms, resource FROM ehr_items
             WHERE {filter} ORDER BY recorded_on DESC, seq DESC LIMIT ?"
        );
        let (filter, count_args) = item_filter(q, false);
        let count = format!("SELECT count(*) FROM ehr_items WHERE {filter}");
        self.read(|c| {
            let mut both = c
                .query_batch(&[(&page, &args), (&count, &count_args)])?
                .into_iter();
            let page = both
                .next()
                .unwrap_or_default()
                .into_iter()
                .map(|mut r| {
                    Ok(StoredItem {
                        seq: r.int(0)?,
                        kind: item_kind(&r.text(1)?)?,
                        facility_code: r.text(2)?,
                        recorded_on: r.date(3)?,
                        registered_at: r.time(4)?,
                        resource: r.text(5)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let total = match both.next().unwrap_or_default().first() {
                Some(r) => r.num(0)?,
                None => return Err(StoreError::Corrupt("no row from a count".into())),
            };
            Ok((page, total))
        })
    }

    fn insert_document(&self, d: &NewDocument, audit: &AuditEvent) -> Result<String, StoreError> {
        self.write(|tx| {
            let inserted = tx.query_opt(
                "INSERT INTO ehr_documents (kind, person_id, author_facility, source_id, addressee,
                    attachments, submitted_at_ms, retain_until, bundle)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING RETURNING seq",
                args![
                    d.kind.as_str(),
                    d.person_id,
                    d.author_facility,
                    d.source_id,
                    d.addressee,
                    d.attachments.join(","),
                    d.submitted_at,
                    d.retain_until,
                    d.bundle,
                ],
            )?;
            let Some(row) = inserted else {
                return Err(StoreError::Duplicate(format!("document {}", d.source_id)));
            };
            let id = document_id(row.int(0)?);
            let mut audit = audit.clone();
            audit.target = Some(id.clone());
            insert_audit(tx, &audit)?;
            Ok(id)
        })
    }

    fn document(&self, id: &str, today: NaiveDate) -> Result<Option<StoredDocument>, StoreError> {
        let Some(seq) = document_seq(id) else {
            return Ok(None);
        };
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS}, bundle FROM ehr_documents
                     WHERE seq = ?1 AND (retain_until IS NULL OR retain_until >= ?2)"
                ),
                args![seq, today],
            )?
            .map(|r| document(r, true))
            .transpose()
        })
    }

    fn attached_for(
        &self,
        document_id: &str,
        facility: &str,
        today: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.read(|c| {
            c.exists(
                "SELECT 1 FROM ehr_documents
                 WHERE addressee = ?2 AND kind = 'referral'
                   AND (retain_until IS NULL OR retain_until >= ?3)
                   AND (',' || attachments || ',') LIKE ('%,' || ?1 || ',%')",
                args![document_id, facility, today],
            )
        })
    }

    fn referral_inbox(
        &self,
        facility: &str,
        filter: InboxFilter,
        today: NaiveDate,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        let status = match filter {
            InboxFilter::Unreceived => " AND received_at_ms IS NULL",
            InboxFilter::Received => " AND received_at_ms IS NOT NULL",
            InboxFilter::All => "",
        };
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM ehr_documents
             WHERE addressee = ?1 AND seq < ?2 AND (retain_until IS NULL OR retain_until >= ?3){status}
             ORDER BY seq DESC LIMIT ?4"
        );
        self.read(|c| {
            c.query(
                &sql,
                args![facility, before.unwrap_or(i64::MAX), today, limit],
            )?
            .into_iter()
            .map(|r| document(r, false))
            .collect()
        })
    }

    fn documents_of(
        &self,
        person_id: &str,
        kind: DocumentKind,
        today: NaiveDate,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM ehr_documents
             WHERE person_id = ?1 AND kind = ?2 AND (retain_until IS NULL OR retain_until >= ?3)
             ORDER BY seq DESC LIMIT 100"
        );
        self.read(|c| {
            c.query(&sql, args![person_id, kind.as_str(), today])?
                .into_iter()
                .map(|r| document(r, false))
                .collect()
        })
    }

    fn mark_received(
        &self,
        id: &str,
        at: DateTime<Utc>,
        retain_until: NaiveDate,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let seq = document_seq(id).ok_or(StoreError::Conflict("no such referral"))?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE ehr_documents SET received_at_ms = ?2, retain_until = ?3
                 WHERE seq = ?1 AND received_at_ms IS NULL",
                args![seq, at, retain_until],
            )?;
            if changed == 0 {
                return Err(StoreError::Conflict(
                    "the referral was already marked received",
                ));
            }
            insert_audit(tx, audit)
        })
    }

    fn purge_expired(&self, today: NaiveDate) -> Result<(u64, u64), StoreError> {
        self.write(|tx| {
            let docs = tx.execute(
                "DELETE FROM ehr_documents WHERE retain_until IS NOT NULL AND retain_until < ?1",
                args![today],
            )?;
            // Whole months past their retention go at once where items are kept by month.
            let months = tx.drop_months_before(Monthly::EhrItems, today)?;
            let items = tx.execute(
                "DELETE FROM ehr_items WHERE retain_until IS NOT NULL AND retain_until < ?1",
                args![today],
            )?;
            Ok((docs, months + items))
        })
    }
}
