//! SQLite storage of the EHR sharing service: submissions, items, documents.

use super::{
    DrugFlag, EhrStore, InboxFilter, ItemQuery, NewDocument, NewSubmission, StoredDocument,
    StoredItem, document_id, document_seq,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::clins::{DocumentKind, ItemKind};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad date {s:?}")))
}

fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("time {ms}")))
}

fn item_kind(s: &str) -> Result<ItemKind, StoreError> {
    ItemKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("item kind {s:?}")))
}

/// The WHERE clause and parameters an item query shares between a page and a count.
fn item_filter(q: &ItemQuery, with_cursor: bool) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("person_id = ? AND (retain_until IS NULL OR retain_until >= ?)");
    let mut args = vec![
        SqlValue::Text(q.person_id.clone()),
        SqlValue::Text(q.today.to_string()),
    ];
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
        args.extend(kinds.iter().map(|k| SqlValue::Text((*k).to_owned())));
    }
    if let (true, Some((on, seq))) = (with_cursor, q.before) {
        sql.push_str(" AND (recorded_on < ? OR (recorded_on = ? AND seq < ?))");
        args.extend([
            SqlValue::Text(on.to_string()),
            SqlValue::Text(on.to_string()),
            SqlValue::Integer(seq),
        ]);
    }
    (sql, args)
}

const DOCUMENT_COLUMNS: &str = "seq, kind, person_id, author_facility, addressee, attachments,
    submitted_at_ms, received_at_ms, retain_until";

fn document_row(r: &Row<'_>, with_bundle: bool) -> rusqlite::Result<(StoredDocumentRow, String)> {
    let row = StoredDocumentRow {
        seq: r.get(0)?,
        kind: r.get(1)?,
        person_id: r.get(2)?,
        author_facility: r.get(3)?,
        addressee: r.get(4)?,
        attachments: r.get(5)?,
        submitted_at_ms: r.get(6)?,
        received_at_ms: r.get(7)?,
        retain_until: r.get(8)?,
    };
    let bundle = if with_bundle {
        r.get(9)?
    } else {
        String::new()
    };
    Ok((row, bundle))
}

struct StoredDocumentRow {
    seq: i64,
    kind: String,
    person_id: String,
    author_facility: String,
    addressee: Option<String>,
    attachments: String,
    submitted_at_ms: i64,
    received_at_ms: Option<i64>,
    retain_until: Option<String>,
}

impl StoredDocumentRow {
    fn into_document(self, bundle: String) -> Result<StoredDocument, StoreError> {
        Ok(StoredDocument {
            id: document_id(self.seq),
            kind: DocumentKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("document kind {:?}", self.kind)))?,
            person_id: self.person_id,
            author_facility: self.author_facility,
            addressee: self.addressee,
            attachments: self
                .attachments
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            submitted_at: time(self.submitted_at_ms)?,
            received_at: self.received_at_ms.map(time).transpose()?,
            retain_until: self.retain_until.as_deref().map(date).transpose()?,
            bundle,
        })
    }
}

impl EhrStore for SqliteStore {
    fn insert_items(&self, s: &NewSubmission, audit: &AuditEvent) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO ehr_submissions (facility_code, submission_id, person_id, registered_at_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?
                .execute(params![s.facility_code, s.submission_id, s.person_id, s.registered_at.timestamp_millis()])?;
            if inserted == 0 {
                return Err(StoreError::Duplicate(format!("submission {}", s.submission_id)));
            }
            let mut stmt = tx.prepare_cached(
                "INSERT INTO ehr_items (person_id, facility_code, submission_id, kind, system, code,
                    recorded_on, registered_at_ms, retain_until, undisclosed, drug_yj, resource)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut seqs = Vec::with_capacity(s.items.len());
            for it in &s.items {
                stmt.execute(params![
                    s.person_id,
                    s.facility_code,
                    s.submission_id,
                    it.kind.as_str(),
                    it.system,
                    it.code,
                    it.recorded_on.to_string(),
                    s.registered_at.timestamp_millis(),
                    it.retain_until.map(|d| d.to_string()),
                    it.undisclosed,
                    it.drug_yj,
                    it.resource,
                ])?;
                seqs.push(tx.last_insert_rowid());
            }
            let mut audit = audit.clone();
            audit.target = Some(s.submission_id.clone());
            insert_audit(tx, &audit)?;
            Ok(seqs)
        })
    }

    fn items_page(&self, q: &ItemQuery) -> Result<Vec<StoredItem>, StoreError> {
        let (filter, mut args) = item_filter(q, true);
        args.push(SqlValue::Integer(i64::from(q.limit)));
        let sql = format!(
            "SELECT seq, kind, facility_code, recorded_on, registered_at_ms, resource FROM ehr_items
             WHERE {filter} ORDER BY recorded_on DESC, seq DESC LIMIT ?"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            rows.map(|row| {
                let (seq, kind, facility_code, on, at, resource) = row?;
                Ok(StoredItem {
                    seq,
                    kind: item_kind(&kind)?,
                    facility_code,
                    recorded_on: date(&on)?,
                    registered_at: time(at)?,
                    resource,
                })
            })
            .collect()
        })
    }

    fn count_items(&self, q: &ItemQuery) -> Result<u64, StoreError> {
        let (filter, args) = item_filter(q, false);
        let sql = format!("SELECT count(*) FROM ehr_items WHERE {filter}");
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(&sql)?
                .query_row(params_from_iter(args), |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    fn drug_flags(&self, person_id: &str, today: NaiveDate) -> Result<Vec<DrugFlag>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT kind, drug_yj, facility_code, recorded_on FROM ehr_items
                 WHERE person_id = ?1 AND drug_yj IS NOT NULL
                   AND (retain_until IS NULL OR retain_until >= ?2)
                 ORDER BY recorded_on DESC, seq DESC",
            )?;
            let rows = stmt.query_map(params![person_id, today.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            rows.map(|row| {
                let (kind, yj, facility_code, on) = row?;
                Ok(DrugFlag {
                    kind: item_kind(&kind)?,
                    yj,
                    facility_code,
                    recorded_on: date(&on)?,
                })
            })
            .collect()
        })
    }

    fn insert_document(&self, d: &NewDocument, audit: &AuditEvent) -> Result<String, StoreError> {
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO ehr_documents (kind, person_id, author_facility, source_id, addressee,
                        attachments, submitted_at_ms, retain_until, bundle)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    d.kind.as_str(),
                    d.person_id,
                    d.author_facility,
                    d.source_id,
                    d.addressee,
                    d.attachments.join(","),
                    d.submitted_at.timestamp_millis(),
                    d.retain_until.map(|x| x.to_string()),
                    d.bundle,
                ])?;
            if inserted == 0 {
                return Err(StoreError::Duplicate(format!("document {}", d.source_id)));
            }
            let id = document_id(tx.last_insert_rowid());
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
            let found = c
                .prepare_cached(&format!(
                    "SELECT {DOCUMENT_COLUMNS}, bundle FROM ehr_documents
                     WHERE seq = ?1 AND (retain_until IS NULL OR retain_until >= ?2)"
                ))?
                .query_row(params![seq, today.to_string()], |r| document_row(r, true))
                .optional()?;
            found.map(|(row, b)| row.into_document(b)).transpose()
        })
    }

    fn attached_for(
        &self,
        document_id: &str,
        facility: &str,
        today: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM ehr_documents
                 WHERE addressee = ?2 AND kind = 'referral'
                   AND (retain_until IS NULL OR retain_until >= ?3)
                   AND (',' || attachments || ',') LIKE ('%,' || ?1 || ',%')",
            )?
            .exists(params![document_id, facility, today.to_string()])?)
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
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    facility,
                    before.unwrap_or(i64::MAX),
                    today.to_string(),
                    limit
                ],
                |r| document_row(r, false),
            )?;
            rows.map(|row| {
                let (row, b) = row?;
                row.into_document(b)
            })
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
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![person_id, kind.as_str(), today.to_string()], |r| {
                    document_row(r, false)
                })?;
            rows.map(|row| {
                let (row, b) = row?;
                row.into_document(b)
            })
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
            let changed = tx
                .prepare_cached(
                    "UPDATE ehr_documents SET received_at_ms = ?2, retain_until = ?3
                     WHERE seq = ?1 AND received_at_ms IS NULL",
                )?
                .execute(params![
                    seq,
                    at.timestamp_millis(),
                    retain_until.to_string()
                ])?;
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
            let today = today.to_string();
            let docs = tx.execute(
                "DELETE FROM ehr_documents WHERE retain_until IS NOT NULL AND retain_until < ?1",
                [&today],
            )?;
            let items = tx.execute(
                "DELETE FROM ehr_items WHERE retain_until IS NOT NULL AND retain_until < ?1",
                [&today],
            )?;
            Ok((docs as u64, items as u64))
        })
    }
}
