//! SQLite storage of prescriptions, dispensings and practitioner keys.

use super::{
    HistoryItem, Item, NewDispensation, NewPrescription, PrescriptionStore, StoredPrescription,
    UseTransition,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dx_protocol::wire::{MedicationSource, PrescriptionKind, PrescriptionStatus};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Attempts at drawing an access code not held by another active prescription.
const MAX_CODE_ATTEMPTS: u32 = 64;

fn status_str(s: PrescriptionStatus) -> &'static str {
    match s {
        PrescriptionStatus::Active => "active",
        PrescriptionStatus::Completed => "completed",
        PrescriptionStatus::Cancelled => "cancelled",
    }
}

fn kind_str(k: PrescriptionKind) -> &'static str {
    match k {
        PrescriptionKind::Electronic => "electronic",
        PrescriptionKind::InHospital => "in_hospital",
    }
}

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad date {s:?}")))
}

fn items(
    c: &Connection,
    table: &str,
    key_col: &str,
    key: &dyn rusqlite::ToSql,
) -> Result<Vec<Item>, StoreError> {
    let sql = format!("SELECT code, days, quantity FROM {table} WHERE {key_col} = ?1 ORDER BY seq");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([key], |r| {
        Ok(Item {
            code: r.get(0)?,
            days: r.get(1)?,
            quantity: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const SELECT_PRESCRIPTION: &str =
    "SELECT id, kind, facility_code, person_id, issued_on, access_code, status,
    uses_allowed, uses_done, next_planned_on, bundle FROM prescriptions";

fn load(
    c: &Connection,
    where_sql: &str,
    key: &str,
) -> Result<Option<StoredPrescription>, StoreError> {
    let row = c
        .prepare_cached(&format!("{SELECT_PRESCRIPTION} WHERE {where_sql}"))?
        .query_row([key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, u8>(7)?,
                r.get::<_, u8>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, String>(10)?,
            ))
        })
        .optional()?;
    let Some((
        id,
        kind,
        facility_code,
        person_id,
        issued_on,
        access_code,
        status,
        uses_allowed,
        uses_done,
        next,
        bundle,
    )) = row
    else {
        return Ok(None);
    };
    let kind = match kind.as_str() {
        "electronic" => PrescriptionKind::Electronic,
        "in_hospital" => PrescriptionKind::InHospital,
        other => return Err(StoreError::Corrupt(format!("prescription kind {other:?}"))),
    };
    let status = match status.as_str() {
        "active" => PrescriptionStatus::Active,
        "completed" => PrescriptionStatus::Completed,
        "cancelled" => PrescriptionStatus::Cancelled,
        other => {
            return Err(StoreError::Corrupt(format!(
                "prescription status {other:?}"
            )));
        }
    };
    let items = items(c, "prescription_items", "prescription_id", &id)?;
    Ok(Some(StoredPrescription {
        id,
        kind,
        facility_code,
        person_id,
        issued_on: date(&issued_on)?,
        access_code,
        status,
        uses_allowed,
        uses_done,
        next_planned_on: next.as_deref().map(date).transpose()?,
        bundle,
        items,
    }))
}

fn next_sequence(tx: &Transaction<'_>, facility: &str, year: i32) -> Result<u32, StoreError> {
    let n: u32 = tx
        .prepare_cached(
            "INSERT INTO prescription_sequences (facility_code, year, next) VALUES (?1, ?2, 2)
             ON CONFLICT (facility_code, year) DO UPDATE SET next = next + 1 RETURNING next - 1",
        )?
        .query_row(params![facility, year], |r| r.get(0))?;
    if n > 99_999_999 {
        return Err(StoreError::Conflict(
            "the facility's prescription numbers for this year are used up",
        ));
    }
    Ok(n)
}

fn free_access_code(
    tx: &Transaction<'_>,
    id: &str,
    make: &mut dyn FnMut(&str, u32) -> String,
) -> Result<String, StoreError> {
    let mut taken = tx.prepare_cached(
        "SELECT 1 FROM prescriptions WHERE access_code = ?1 AND status = 'active'",
    )?;
    for attempt in 0..MAX_CODE_ATTEMPTS {
        let code = make(id, attempt);
        if !taken.exists([&code])? {
            return Ok(code);
        }
    }
    Err(StoreError::Conflict("no free access code was found"))
}

impl PrescriptionStore for SqliteStore {
    fn practitioner_key(
        &self,
        practitioner_id: &str,
        facility: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT public_key FROM practitioner_keys WHERE practitioner_id = ?1 AND facility_code = ?2")?
                .query_row([practitioner_id, facility], |r| r.get(0))
                .optional()?)
        })
    }

    fn put_practitioner_key(
        &self,
        practitioner_id: &str,
        facility: &str,
        key_b64: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO practitioner_keys (practitioner_id, facility_code, public_key, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![practitioner_id, facility, key_b64, at.timestamp_millis()])?;
            Ok(())
        })
    }

    fn insert_prescription(
        &self,
        p: &NewPrescription,
        access_code: &mut dyn FnMut(&str, u32) -> String,
        audit: &AuditEvent,
    ) -> Result<(String, Option<String>), StoreError> {
        self.write(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM prescriptions WHERE facility_code = ?1 AND document_id = ?2")?
                .exists([&p.facility_code, &p.document_id])?;
            if exists {
                return Err(StoreError::Duplicate(format!("prescription document {}", p.document_id)));
            }
            let year = p.issued_on.year();
            let id = format!("{}-{year:04}-{:08}", p.facility_code, next_sequence(tx, &p.facility_code, year)?);
            let code = match p.kind {
                PrescriptionKind::Electronic => Some(free_access_code(tx, &id, access_code)?),
                PrescriptionKind::InHospital => None,
            };
            tx.prepare_cached(
                "INSERT INTO prescriptions (id, kind, facility_code, person_id, practitioner_id, document_id, issued_on,
                    registered_at_ms, access_code, status, uses_allowed, uses_done, bundle, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'active', ?10, 0, ?11, ?12)",
            )?
            .execute(params![
                id,
                kind_str(p.kind),
                p.facility_code,
                p.person_id,
                p.practitioner_id,
                p.document_id,
                p.issued_on.to_string(),
                p.registered_at.timestamp_millis(),
                code,
                p.uses_allowed,
                p.bundle,
                p.signature
            ])?;
            let mut item = tx.prepare_cached(
                "INSERT INTO prescription_items (prescription_id, seq, code, days, quantity) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (seq, it) in p.items.iter().enumerate() {
                item.execute(params![id, seq as i64, it.code, it.days, it.quantity])?;
            }
            insert_audit(tx, &AuditEvent { target: Some(id.clone()), ..audit.clone() })?;
            Ok((id, code))
        })
    }

    fn prescription(&self, id: &str) -> Result<Option<StoredPrescription>, StoreError> {
        self.read(|c| load(c, "id = ?1", id))
    }

    fn prescription_by_access_code(
        &self,
        code: &str,
    ) -> Result<Option<StoredPrescription>, StoreError> {
        self.read(|c| load(c, "access_code = ?1 AND status = 'active'", code))
    }

    fn insert_dispensation(
        &self,
        d: &NewDispensation,
        transition: Option<&UseTransition>,
        audit: &AuditEvent,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            if let (Some(pid), Some(t)) = (&d.prescription_id, transition) {
                let changed = tx
                    .prepare_cached(
                        "UPDATE prescriptions SET uses_done = uses_done + 1, status = ?1, last_dispensed_on = ?2,
                            next_planned_on = ?3
                         WHERE id = ?4 AND uses_done = ?5 AND status = 'active'",
                    )?
                    .execute(params![
                        status_str(t.status),
                        d.dispensed_on.to_string(),
                        t.next_planned_on.map(|n| n.to_string()),
                        pid,
                        t.expect_uses_done
                    ])?;
                if changed != 1 {
                    return Err(StoreError::Conflict("the prescription was dispensed or cancelled concurrently"));
                }
            }
            tx.prepare_cached(
                "INSERT INTO dispensations (prescription_id, pharmacy_code, prescriber_facility, person_id, dispensed_on,
                    recorded_at_ms, use_number, pharmacist_id, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                d.prescription_id,
                d.pharmacy_code,
                d.prescriber_facility,
                d.person_id,
                d.dispensed_on.to_string(),
                d.recorded_at.timestamp_millis(),
                d.use_number,
                d.pharmacist_id,
                d.signature
            ])?;
            let id = tx.last_insert_rowid();
            let mut item = tx.prepare_cached(
                "INSERT INTO dispensation_items (dispensation_id, seq, code, days, quantity) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (seq, it) in d.items.iter().enumerate() {
                item.execute(params![id, seq as i64, it.code, it.days, it.quantity])?;
            }
            insert_audit(tx, &AuditEvent { target: Some(format!("dispensation:{id}")), ..audit.clone() })?;
            Ok(id)
        })
    }

    fn cancel_prescription(&self, id: &str, audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE prescriptions SET status = 'cancelled' WHERE id = ?1 AND status = 'active' AND uses_done = 0")?
                .execute([id])?;
            if changed != 1 {
                return Err(StoreError::Conflict("the prescription was dispensed or cancelled concurrently"));
            }
            insert_audit(tx, audit)
        })
    }

    fn history(
        &self,
        person_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HistoryItem>, StoreError> {
        self.read(|c| {
            let (from, to) = (from.to_string(), to.to_string());
            let mut out = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT p.id, p.issued_on, p.facility_code, i.code, i.days FROM prescriptions p
                 JOIN prescription_items i ON i.prescription_id = p.id
                 WHERE p.person_id = ?1 AND p.issued_on BETWEEN ?2 AND ?3 AND p.status != 'cancelled' AND p.uses_done = 0
                 ORDER BY p.issued_on DESC, p.id, i.seq",
            )?;
            let rows = stmt.query_map(params![person_id, from, to], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
            })?;
            for row in rows {
                let (id, on, facility, code, days) = row?;
                out.push(HistoryItem {
                    source: MedicationSource::Prescription,
                    date: date(&on)?,
                    facility_code: facility.clone(),
                    prescriber_facility: facility,
                    code,
                    days,
                    prescription_id: Some(id),
                });
            }
            let mut stmt = c.prepare_cached(
                "SELECT d.prescription_id, d.dispensed_on, d.pharmacy_code, d.prescriber_facility, i.code, i.days
                 FROM dispensations d JOIN dispensation_items i ON i.dispensation_id = d.id
                 WHERE d.person_id = ?1 AND d.dispensed_on BETWEEN ?2 AND ?3
                 ORDER BY d.dispensed_on DESC, d.id, i.seq",
            )?;
            let rows = stmt.query_map(params![person_id, from, to], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?;
            for row in rows {
                let (pid, on, pharmacy, prescriber, code, days) = row?;
                out.push(HistoryItem {
                    source: MedicationSource::Dispensing,
                    date: date(&on)?,
                    facility_code: pharmacy,
                    prescriber_facility: prescriber,
                    code,
                    days,
                    prescription_id: pid,
                });
            }
            out.sort_by_key(|h| std::cmp::Reverse(h.date));
            Ok(out)
        })
    }
}
