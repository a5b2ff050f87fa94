//! Storage of prescriptions and dispensings.

use super::{
    CheckReads, HistoryItem, Item, NewDispensation, NewPrescription, PrescriptionStore,
    StoredPrescription, UseTransition,
};
use crate::audit::AuditEvent;
use crate::audit::storage::{insert as insert_audit, insert_targeting as insert_audit_targeting};
use crate::eligibility::Identity;
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Arg, Db, Kind, Row, ToArg as _, args};
use chrono::{Datelike, NaiveDate};
use dx_protocol::wire::{
    ConsentKind, MedicationSource, PersonRecord, PrescriptionKind, PrescriptionStatus,
};

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

/// Takes the next of a facility's (`?1`) prescription numbers of a year (`?2`): the one row
/// every registration of the facility that year updates.
const TAKE_NUMBER: &str =
    "INSERT INTO prescription_sequences (facility_code, year, next) VALUES (?1, ?2, 2)
     ON CONFLICT (facility_code, year) DO UPDATE SET next = prescription_sequences.next + 1";

/// Inserts a prescription whose id the database makes of the number its registration took
/// ([`TAKE_NUMBER`]): `<?1 facility>-<?2 year, 4 digits>-<the number, 8 digits>`; nothing when
/// the year's numbers are used up. The rest of the row from `?4`. Returns the id.
const INSERT_NUMBERED: &str = "INSERT INTO prescriptions (id, kind, facility_code, person_id,
        practitioner_id, document_id, issued_on, registered_at_ms, access_code, status,
        uses_allowed, uses_done, bundle, signature)
     SELECT ?1 || '-' || ?2 || '-' || substr('0000000' || (next - 1), length('0000000' || (next - 1)) - 7),
        ?4, ?1, ?5, ?6, ?7, ?8, ?9, ?10, 'active', ?11, 0, ?12, ?13
     FROM prescription_sequences WHERE facility_code = ?1 AND year = ?3 AND next - 1 <= 99999999
     RETURNING id";

/// The id of the prescription of a facility's (`?1`) document (`?2`).
const PRESCRIPTION_OF_DOCUMENT: &str =
    "SELECT id FROM prescriptions WHERE facility_code = ?1 AND document_id = ?2";

/// Why a registration failed when the facility's numbers of the year are used up: the id could
/// not be made, and the insert failed for want of it.
fn numbers_used_up(
    s: &SqlStore,
    facility: &str,
    year: i32,
) -> Result<Option<StoreError>, StoreError> {
    let next = s.read(|c| {
        c.query_opt(
            "SELECT next FROM prescription_sequences WHERE facility_code = ?1 AND year = ?2",
            args![facility, year],
        )?
        .map(|r| r.int(0))
        .transpose()
    })?;
    Ok(next.filter(|n| *n > 99_999_999).map(|_| {
        StoreError::Conflict("the facility's prescription numbers for this year are used up")
    }))
}

impl PrescriptionStore for SqlStore {
    fn registration_reads(&self, patient: &Identity) -> Result<Option<PersonRecord>, StoreError> {
        let patient = crate::eligibility::storage::person_query(patient);
        let sql = patient.sql(&[]);
        self.read(|c| {
            let (person, _) =
                crate::eligibility::storage::person_of_rows(c.query(&sql, &patient.args)?)?;
            Ok(person)
        })
    }

    fn insert_prescription(
        &self,
        p: &NewPrescription,
        access_code: &mut dyn FnMut(u32) -> String,
        audit: &AuditEvent,
    ) -> Result<(String, Option<String>), StoreError> {
        // Every registration of a facility in a year takes the next of its numbers (one row)
        // and holds it to its commit. So the database makes the id of the number, and the
        // prescription, its items and its audit line refer to it by the document: nothing needs
        // an answer before the commit, the whole transaction is sent at once (one round trip on
        // PostgreSQL) and the number is held only while the database runs it. A code held by
        // another active prescription, like a document registered before, fails the insert on
        // its unique key; the rollback tells which by looking for the document, and a held code
        // is passed over by the next attempt.
        let year = p.issued_on.year();
        let year4 = format!("{year:04}");
        let document = args![p.facility_code, p.document_id];
        let items: Vec<Vec<Arg<'_>>> = p
            .items
            .iter()
            .enumerate()
            .map(|(seq, it)| {
                vec![
                    Arg::Int(seq as i64),
                    Arg::Text(&it.code),
                    it.days.arg(),
                    it.quantity.arg(),
                ]
            })
            .collect();
        for attempt in 0..MAX_CODE_ATTEMPTS {
            let code = match p.kind {
                PrescriptionKind::Electronic => Some(access_code(attempt)),
                PrescriptionKind::InHospital => None,
            };
            let stored = self.write_hot_row(|tx| {
                tx.execute_later(TAKE_NUMBER, args![p.facility_code, year])?;
                let id = tx.query_later(
                    INSERT_NUMBERED,
                    args![
                        p.facility_code,
                        year4,
                        year,
                        kind_str(p.kind),
                        p.person_id,
                        p.practitioner_id,
                        p.document_id,
                        p.issued_on,
                        p.registered_at,
                        code,
                        p.uses_allowed,
                        p.bundle,
                        p.signature
                    ],
                )?;
                // Without its prescription (numbers used up), the items' NOT NULL id fails it.
                tx.insert_child_rows_later(
                    "prescription_items",
                    ("prescription_id", PRESCRIPTION_OF_DOCUMENT, document),
                    &[
                        ("seq", Kind::Int),
                        ("code", Kind::Text),
                        ("days", Kind::Int),
                        ("quantity", Kind::Int),
                    ],
                    &items,
                )?;
                insert_audit_targeting(tx, audit, (PRESCRIPTION_OF_DOCUMENT, document))?;
                Ok(id)
            });
            match stored {
                Ok(rows) => {
                    let id = match rows.into_iter().next() {
                        Some(mut r) => r.text(0)?,
                        None => {
                            return Err(StoreError::Corrupt(
                                "a registration without its id".into(),
                            ));
                        }
                    };
                    return Ok((id, code));
                }
                Err(StoreError::Duplicate(key)) => {
                    let registered = self.read(|c| c.exists(PRESCRIPTION_OF_DOCUMENT, document))?;
                    if registered {
                        return Err(StoreError::Duplicate(format!(
                            "prescription document {}",
                            p.document_id
                        )));
                    }
                    if p.kind == PrescriptionKind::InHospital {
                        return Err(StoreError::Duplicate(key));
                    }
                }
                Err(e) => return Err(numbers_used_up(self, &p.facility_code, year)?.unwrap_or(e)),
            }
        }
        Err(StoreError::Conflict("no free access code was found"))
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
        let range = args![person_id, from, to];
        self.read(|c| history_rows(c.query(&HISTORY, range)?))
    }

    fn check_reads(
        &self,
        person_id: &str,
        facility: &str,
        (from, to): (NaiveDate, NaiveDate),
        today: NaiveDate,
    ) -> Result<CheckReads, StoreError> {
        let medication = ConsentKind::Medication.as_str();
        let checks = args![person_id, from, to, today, facility, medication];
        self.read(|c| {
            let mut reads = CheckReads {
                history: Vec::new(),
                flags: Vec::new(),
                medication_consent_until: None,
            };
            let mut history = Vec::new();
            for r in c.query(&CHECKS, checks)? {
                match r.int(0)? {
                    0 | 1 => history.push(r),
                    2 => reads.flags.push(crate::ehr::storage::drug_flag_of_part(r)?),
                    _ => {
                        reads.medication_consent_until =
                            crate::consent::storage::latest_expiry_of_part(&r)?
                    }
                }
            }
            reads.history = history_rows(history)?;
            Ok(reads)
        })
    }
}

/// A person's (`?1`) medication from `?2` to `?3`, item by item: their prescriptions neither
/// cancelled nor dispensed (a dispensed one counts by its dispensings; part 0), then their
/// dispensings (part 1), each newest first. Ten columns, which the parts of [`CHECKS`] share.
const HISTORY_PARTS: &str = "SELECT 0, p.id, p.issued_on, p.facility_code, p.facility_code, i.code, i.days, p.id, 0, i.seq
     FROM prescriptions p JOIN prescription_items i ON i.prescription_id = p.id
     WHERE p.person_id = ?1 AND p.issued_on BETWEEN ?2 AND ?3 AND p.status != 'cancelled' AND p.uses_done = 0
     UNION ALL
     SELECT 1, d.prescription_id, d.dispensed_on, d.pharmacy_code, d.prescriber_facility, i.code, i.days, '', d.id, i.seq
     FROM dispensations d JOIN dispensation_items i ON i.dispensation_id = d.id
     WHERE d.person_id = ?1 AND d.dispensed_on BETWEEN ?2 AND ?3";

const HISTORY_ORDER: &str = " ORDER BY 1, 3 DESC, 8, 9, 10";

/// The medication history (read by [`history_rows`]).
static HISTORY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{HISTORY_PARTS}{HISTORY_ORDER}"));

/// What the checks of a prescription read, in one query: the medication history ([`HISTORY_PARTS`];
/// the person `?1`, from `?2` to `?3`), the allergies and contraindicated drugs registered with
/// EHR sharing and kept on `?4` (part 2), and when the person's latest consent of kind `?6` to
/// facility `?5` expires (part 3). The EHR's and the consents' parts are written by their
/// services.
static CHECKS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{HISTORY_PARTS} UNION ALL {} UNION ALL {}{HISTORY_ORDER}",
        crate::ehr::storage::DRUG_FLAGS_PART,
        crate::consent::storage::LATEST_CONSENT_PART
    )
});

/// The history in the rows of [`HISTORY_PARTS`], newest first.
fn history_rows(rows: Vec<Row>) -> Result<Vec<HistoryItem>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        out.push(HistoryItem {
            source: if r.int(0)? == 0 {
                MedicationSource::Prescription
            } else {
                MedicationSource::Dispensing
            },
            date: r.date(2)?,
            facility_code: r.text(3)?,
            prescriber_facility: r.text(4)?,
            code: r.text(5)?,
            days: r.num(6)?,
            prescription_id: r.opt_text(1)?,
        });
    }
    out.sort_by_key(|h| std::cmp::Reverse(h.date));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::EligibilityStore as _;
    use crate::store::testing::backends;
    use chrono::DateTime;

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
            let mut taken = |attempt: u32| if attempt < 2 { "111111" } else { "222222" }.to_owned();
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

            let mut fresh = |attempt: u32| format!("{attempt:06}");
            let again = s
                .insert_prescription(&new_prescription(&person.id, "d1"), &mut fresh, &audit)
                .unwrap_err();
            assert_eq!(
                again.to_string(),
                StoreError::Duplicate("prescription document d1".into()).to_string(),
                "{}",
                s.backend()
            );
            let mut only_held = |_: u32| "111111".to_owned();
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
            let targets: Vec<String> = s
                .read(|c| {
                    c.query("SELECT target FROM audit ORDER BY id", &[])?
                        .into_iter()
                        .map(|mut r| r.text(0))
                        .collect()
                })
                .unwrap();
            assert_eq!(
                targets,
                [first.0.clone(), second.0.clone(), third.0.clone()]
            );

            // The year's last number is taken; past it, nothing is stored and the refusal says why.
            s.write(|tx| {
                tx.execute(
                    "UPDATE prescription_sequences SET next = 99999999 WHERE facility_code = ?1",
                    args!["1311001019"],
                )
            })
            .unwrap();
            let last = s
                .insert_prescription(&new_prescription(&person.id, "d5"), &mut fresh, &audit)
                .unwrap();
            assert_eq!(last.0, "1311001019-2026-99999999", "{}", s.backend());
            let over = s
                .insert_prescription(&new_prescription(&person.id, "d6"), &mut fresh, &audit)
                .unwrap_err();
            assert!(
                over.to_string().contains("used up"),
                "{over} on {}",
                s.backend()
            );
            let (prescriptions, lines): (u64, u64) = s
                .read(|c| {
                    Ok((
                        c.query_one("SELECT count(*) FROM prescriptions", &[])?
                            .num(0)?,
                        c.query_one("SELECT count(*) FROM audit", &[])?.num(0)?,
                    ))
                })
                .unwrap();
            assert_eq!((prescriptions, lines), (4, 4), "{}", s.backend());
        }
    }
}
