//! Storage of prescriptions, dispensings and practitioner keys.

use super::{
    HistoryItem, Item, NewDispensation, NewPrescription, PrescriptionStore, StoredPrescription,
    UseTransition,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Arg, Db, Kind, Row, ToArg as _, args};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dx_protocol::wire::{MedicationSource, PrescriptionKind, PrescriptionStatus};

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

fn item(mut r: Row) -> Result<Item, StoreError> {
    Ok(Item {
        code: r.text(0)?,
        days: r.num(1)?,
        quantity: r.num(2)?,
    })
}

const SELECT_PRESCRIPTION: &str =
    "SELECT id, kind, facility_code, person_id, issued_on, access_code, status,
    uses_allowed, uses_done, next_planned_on, bundle FROM prescriptions";

fn load(c: &dyn Db, where_sql: &str, key: &str) -> Result<Option<StoredPrescription>, StoreError> {
    let Some(mut r) = c.query_opt(
        &format!("{SELECT_PRESCRIPTION} WHERE {where_sql}"),
        args![key],
    )?
    else {
        return Ok(None);
    };
    let id = r.text(0)?;
    let kind = match r.text(1)?.as_str() {
        "electronic" => PrescriptionKind::Electronic,
        "in_hospital" => PrescriptionKind::InHospital,
        other => return Err(StoreError::Corrupt(format!("prescription kind {other:?}"))),
    };
    let status = match r.text(6)?.as_str() {
        "active" => PrescriptionStatus::Active,
        "completed" => PrescriptionStatus::Completed,
        "cancelled" => PrescriptionStatus::Cancelled,
        other => {
            return Err(StoreError::Corrupt(format!(
                "prescription status {other:?}"
            )));
        }
    };
    let items = c
        .query(
            "SELECT code, days, quantity FROM prescription_items WHERE prescription_id = ?1 ORDER BY seq",
            args![id],
        )?
        .into_iter()
        .map(item)
        .collect::<Result<_, _>>()?;
    Ok(Some(StoredPrescription {
        kind,
        facility_code: r.text(2)?,
        person_id: r.text(3)?,
        issued_on: r.date(4)?,
        access_code: r.opt_text(5)?,
        status,
        uses_allowed: r.num(7)?,
        uses_done: r.num(8)?,
        next_planned_on: r.opt_date(9)?,
        bundle: r.text(10)?,
        items,
        id,
    }))
}

fn next_sequence(tx: &dyn Db, facility: &str, year: i32) -> Result<u32, StoreError> {
    let n: u32 = tx
        .query_one(
            "INSERT INTO prescription_sequences (facility_code, year, next) VALUES (?1, ?2, 2)
             ON CONFLICT (facility_code, year) DO UPDATE
               SET next = prescription_sequences.next + 1
             RETURNING next - 1",
            args![facility, year],
        )?
        .num(0)?;
    if n > 99_999_999 {
        return Err(StoreError::Conflict(
            "the facility's prescription numbers for this year are used up",
        ));
    }
    Ok(n)
}

impl PrescriptionStore for SqlStore {
    fn practitioner_key(
        &self,
        practitioner_id: &str,
        facility: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            c.query_opt(
                "SELECT public_key FROM practitioner_keys WHERE practitioner_id = ?1 AND facility_code = ?2",
                args![practitioner_id, facility],
            )?
            .map(|mut r| r.text(0))
            .transpose()
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
            tx.execute(
                "INSERT INTO practitioner_keys (practitioner_id, facility_code, public_key, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (practitioner_id, facility_code) DO UPDATE
                   SET public_key = excluded.public_key, registered_at_ms = excluded.registered_at_ms",
                args![practitioner_id, facility, key_b64, at],
            )?;
            Ok(())
        })
    }

    fn insert_prescription(
        &self,
        p: &NewPrescription,
        access_code: &mut dyn FnMut(&str, u32) -> String,
        audit: &AuditEvent,
    ) -> Result<(String, Option<String>), StoreError> {
        // Every registration of a facility in a year takes the next of its numbers (one row):
        // the registrations queue on that row from taking the number to their commit. A code
        // held by another active prescription is passed over by the insert itself, and a
        // document registered before fails it on its unique key: no query is asked first.
        let stored = self.write_hot_row(|tx| {
            let year = p.issued_on.year();
            let id = format!("{}-{year:04}-{:08}", p.facility_code, next_sequence(tx, &p.facility_code, year)?);
            let mut code = None;
            for attempt in 0..MAX_CODE_ATTEMPTS {
                let candidate = match p.kind {
                    PrescriptionKind::Electronic => Some(access_code(&id, attempt)),
                    PrescriptionKind::InHospital => None,
                };
                let inserted = tx.query_opt(
                    "INSERT INTO prescriptions (id, kind, facility_code, person_id, practitioner_id, document_id, issued_on,
                        registered_at_ms, access_code, status, uses_allowed, uses_done, bundle, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'active', ?10, 0, ?11, ?12)
                     ON CONFLICT (access_code) WHERE status = 'active' AND access_code IS NOT NULL DO NOTHING
                     RETURNING id",
                    args![
                        id,
                        kind_str(p.kind),
                        p.facility_code,
                        p.person_id,
                        p.practitioner_id,
                        p.document_id,
                        p.issued_on,
                        p.registered_at,
                        candidate,
                        p.uses_allowed,
                        p.bundle,
                        p.signature
                    ],
                )?;
                if inserted.is_some() {
                    code = Some(candidate);
                    break;
                }
            }
            let Some(code) = code else {
                return Err(StoreError::Conflict("no free access code was found"));
            };
            let items: Vec<Vec<Arg<'_>>> = p
                .items
                .iter()
                .enumerate()
                .map(|(seq, it)| {
                    vec![
                        Arg::Text(&id),
                        Arg::Int(seq as i64),
                        Arg::Text(&it.code),
                        it.days.arg(),
                        it.quantity.arg(),
                    ]
                })
                .collect();
            tx.insert_rows(
                "prescription_items",
                &[
                    ("prescription_id", Kind::Text),
                    ("seq", Kind::Int),
                    ("code", Kind::Text),
                    ("days", Kind::Int),
                    ("quantity", Kind::Int),
                ],
                &items,
            )?;
            insert_audit(tx, &AuditEvent { target: Some(id.clone()), ..audit.clone() })?;
            Ok((id, code))
        });
        match stored {
            Err(StoreError::Duplicate(key)) => {
                let registered = self.read(|c| {
                    c.exists(
                        "SELECT 1 FROM prescriptions WHERE facility_code = ?1 AND document_id = ?2",
                        args![p.facility_code, p.document_id],
                    )
                })?;
                Err(StoreError::Duplicate(if registered {
                    format!("prescription document {}", p.document_id)
                } else {
                    key
                }))
            }
            other => other,
        }
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
                let changed = tx.execute(
                    "UPDATE prescriptions SET uses_done = uses_done + 1, status = ?1, last_dispensed_on = ?2,
                        next_planned_on = ?3
                     WHERE id = ?4 AND uses_done = ?5 AND status = 'active'",
                    args![status_str(t.status), d.dispensed_on, t.next_planned_on, pid, t.expect_uses_done],
                )?;
                if changed != 1 {
                    return Err(StoreError::Conflict("the prescription was dispensed or cancelled concurrently"));
                }
            }
            let id = tx
                .query_one(
                    "INSERT INTO dispensations (prescription_id, pharmacy_code, prescriber_facility, person_id, dispensed_on,
                        recorded_at_ms, use_number, pharmacist_id, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                    args![
                        d.prescription_id,
                        d.pharmacy_code,
                        d.prescriber_facility,
                        d.person_id,
                        d.dispensed_on,
                        d.recorded_at,
                        d.use_number,
                        d.pharmacist_id,
                        d.signature
                    ],
                )?
                .int(0)?;
            for (seq, it) in d.items.iter().enumerate() {
                tx.execute(
                    "INSERT INTO dispensation_items (dispensation_id, seq, code, days, quantity) VALUES (?1, ?2, ?3, ?4, ?5)",
                    args![id, seq as i64, it.code, it.days, it.quantity],
                )?;
            }
            insert_audit(tx, &AuditEvent { target: Some(format!("dispensation:{id}")), ..audit.clone() })?;
            Ok(id)
        })
    }

    fn cancel_prescription(&self, id: &str, audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE prescriptions SET status = 'cancelled' WHERE id = ?1 AND status = 'active' AND uses_done = 0",
                args![id],
            )?;
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
            let mut out = Vec::new();
            for mut r in c.query(
                "SELECT p.id, p.issued_on, p.facility_code, i.code, i.days FROM prescriptions p
                 JOIN prescription_items i ON i.prescription_id = p.id
                 WHERE p.person_id = ?1 AND p.issued_on BETWEEN ?2 AND ?3 AND p.status != 'cancelled' AND p.uses_done = 0
                 ORDER BY p.issued_on DESC, p.id, i.seq",
                args![person_id, from, to],
            )? {
                let facility = r.text(2)?;
                out.push(HistoryItem {
                    source: MedicationSource::Prescription,
                    date: r.date(1)?,
                    facility_code: facility.clone(),
                    prescriber_facility: facility,
                    code: r.text(3)?,
                    days: r.num(4)?,
                    prescription_id: Some(r.text(0)?),
                });
            }
            for mut r in c.query(
                "SELECT d.prescription_id, d.dispensed_on, d.pharmacy_code, d.prescriber_facility, i.code, i.days
                 FROM dispensations d JOIN dispensation_items i ON i.dispensation_id = d.id
                 WHERE d.person_id = ?1 AND d.dispensed_on BETWEEN ?2 AND ?3
                 ORDER BY d.dispensed_on DESC, d.id, i.seq",
                args![person_id, from, to],
            )? {
                out.push(HistoryItem {
                    source: MedicationSource::Dispensing,
                    date: r.date(1)?,
                    facility_code: r.text(2)?,
                    prescriber_facility: r.text(3)?,
                    code: r.text(4)?,
                    days: r.num(5)?,
                    prescription_id: r.opt_text(0)?,
                });
            }
            out.sort_by_key(|h| std::cmp::Reverse(h.date));
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::EligibilityStore as _;
    use crate::store::testing::backends;

    fn new_prescription(person_id: &str, document: &str) -> NewPrescription {
        NewPrescription {
            kind: PrescriptionKind::Electronic,
            facility_code: "1311001019".into(),
            person_id: person_id.into(),
            practitioner_id: "DR-1".into(),
            document_id: document.into(),
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            registered_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            uses_allowed: 1,
            bundle: "{}".into(),
            signature: None,
            items: vec![
                Item {
                    code: "2149039F1020".into(),
                    days: 28,
                    quantity: 28,
                },
                Item {
                    code: "2325003F1020".into(),
                    days: 14,
                    quantity: 28,
                },
            ],
        }
    }

    /// A code another active prescription holds is passed over; a document registered before,
    /// or no free code at all, refuses the registration and stores nothing (the next one takes
    /// the number it would have taken).
    #[test]
    fn registration_passes_over_held_codes_and_a_refused_one_stores_nothing() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let who = crate::auth::Principal {
            sub: "facility:1311001019".into(),
            role: dx_protocol::wire::Role::Clinic,
        };
        let audit = AuditEvent::new(
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            &who,
            "prescription.register",
            None,
            None,
            "ok",
        );
        for t in backends() {
            let s = &t.store;
            let person = crate::refdata::sample::person(1, 0, day);
            s.import_persons(std::slice::from_ref(&person)).unwrap();
            let mut taken =
                |_: &str, attempt: u32| if attempt < 2 { "111111" } else { "222222" }.to_owned();
            let first = s
                .insert_prescription(&new_prescription(&person.id, "d1"), &mut taken, &audit)
                .unwrap();
            assert_eq!(
                first,
                ("1311001019-2026-00000001".into(), Some("111111".into()))
            );
            let second = s
                .insert_prescription(&new_prescription(&person.id, "d2"), &mut taken, &audit)
                .unwrap();
            assert_eq!(second.1.as_deref(), Some("222222"), "{}", s.backend());

            let mut fresh = |_: &str, attempt: u32| format!("{attempt:06}");
            let again = s
                .insert_prescription(&new_prescription(&person.id, "d1"), &mut fresh, &audit)
                .unwrap_err();
            assert_eq!(
                again.to_string(),
                StoreError::Duplicate("prescription document d1".into()).to_string(),
                "{}",
                s.backend()
            );
            let mut only_held = |_: &str, _: u32| "111111".to_owned();
            let none = s
                .insert_prescription(&new_prescription(&person.id, "d3"), &mut only_held, &audit)
                .unwrap_err();
            assert!(matches!(none, StoreError::Conflict(_)), "{none}");

            let third = s
                .insert_prescription(&new_prescription(&person.id, "d4"), &mut fresh, &audit)
                .unwrap();
            assert_eq!(third.0, "1311001019-2026-00000003", "{}", s.backend());
            let stored = s.prescription(&third.0).unwrap().unwrap();
            assert_eq!(stored.items.len(), 2);
            let (rows, lines): (u64, u64) = s
                .read(|c| {
                    Ok((
                        c.query_one("SELECT count(*) FROM prescription_items", &[])?
                            .num(0)?,
                        c.query_one("SELECT count(*) FROM audit", &[])?.num(0)?,
                    ))
                })
                .unwrap();
            assert_eq!((rows, lines), (6, 3), "{}", s.backend());
        }
    }
}
