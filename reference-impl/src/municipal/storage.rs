//! Storage of municipalities, vaccinations, maternal-child health records, care certifications,
//! entitlement registrations and applications.

use super::rules::{self, StoredPregnancy};
use super::{
    ApplicationOwner, ApplicationQuery, MunicipalStore, NewApplication, NewCertification, NewDose,
    NewMaternal, record_id, record_seq,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::refusal::Refusal;
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Db, Row, args};
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::{
    Application, ApplicationKind, ApplicationStatus, CareCertification, CareCertificationResponse,
    CareLevel, MaternalKind, MaternalRecord, MunicipalityRecord, PublicExpenseRecord, Vaccination,
};

fn load_vaccinations(c: &dyn Db, person_id: &str) -> Result<Vec<Vaccination>, StoreError> {
    c.query(
        "SELECT seq, person_id, vaccine, dose_number, administered_on, lot, recorded_by, recorded_at_ms
         FROM vaccinations WHERE person_id = ?1 ORDER BY administered_on, seq",
        args![person_id],
    )?
    .into_iter()
    .map(|mut r| {
        Ok(Vaccination {
            vaccination_id: record_id('V', r.int(0)?),
            person_id: r.text(1)?,
            vaccine: r.text(2)?,
            dose_number: r.num(3)?,
            administered_on: r.date(4)?,
            lot: r.opt_text(5)?,
            recorded_by: r.text(6)?,
            recorded_at: r.time(7)?,
        })
    })
    .collect()
}

fn load_maternal(c: &dyn Db, person_id: &str) -> Result<Vec<MaternalRecord>, StoreError> {
    c.query(
        "SELECT seq, kind, on_date, pregnancy_seq, recorded_by, details FROM maternal_records
         WHERE person_id = ?1 ORDER BY on_date, seq",
        args![person_id],
    )?
    .into_iter()
    .map(|mut r| {
        let kind = r.text(1)?;
        let details = r.text(5)?;
        Ok(MaternalRecord {
            record_id: record_id('M', r.int(0)?),
            kind: MaternalKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("maternal kind {kind:?}")))?,
            person_id: person_id.to_owned(),
            on: r.date(2)?,
            recorded_by: r.text(4)?,
            pregnancy_id: r.opt_int(3)?.map(|s| record_id('M', s)),
            details: serde_json::from_str(&details)
                .map_err(|e| StoreError::Corrupt(format!("maternal details: {e}")))?,
        })
    })
    .collect()
}

fn pregnancies(c: &dyn Db, person_id: &str) -> Result<Vec<StoredPregnancy>, StoreError> {
    c.query(
        "SELECT seq, on_date, end_date FROM maternal_records
         WHERE person_id = ?1 AND kind = 'pregnancy' ORDER BY on_date",
        args![person_id],
    )?
    .into_iter()
    .map(|r| {
        let to = r
            .opt_date(2)?
            .ok_or_else(|| StoreError::Corrupt("pregnancy without due date".into()))?;
        Ok((r.int(0)?, r.date(1)?, to))
    })
    .collect()
}

fn load_certifications(
    c: &dyn Db,
    person_id: &str,
) -> Result<Vec<(i64, CareCertification)>, StoreError> {
    Ok(certification_rows(c.query(
        "SELECT 3, municipality, level, person_id, '', valid_from, valid_to, seq
         FROM care_certifications WHERE person_id = ?1",
        args![person_id],
    )?)?
    .into_iter()
    .map(|c| (c.0, c.1))
    .collect())
}

/// The care certifications of the person whom a query `who` finds, as a part of the query that
/// reads the person (eligibility's; part 3, eight columns); read by [`certification_rows`].
/// Eligibility verification answers with them.
pub(crate) const CERTIFICATIONS_PART: &str =
    "SELECT 3, municipality, level, person_id, '', valid_from, valid_to, seq
     FROM care_certifications c JOIN who ON c.person_id = who.id";

/// Certifications, newest first, from rows of (part, municipality, level, person_id, '',
/// valid_from, valid_to, seq), with their sequence numbers.
pub(crate) fn certification_rows(
    rows: Vec<Row>,
) -> Result<Vec<(i64, CareCertification)>, StoreError> {
    let mut out = rows
        .into_iter()
        .map(|mut r| {
            let seq = r.int(7)?;
            let level = r.text(2)?;
            Ok((
                seq,
                CareCertification {
                    certification_id: record_id('C', seq),
                    person_id: r.text(3)?,
                    municipality: r.text(1)?,
                    level: CareLevel::parse(&level)
                        .ok_or_else(|| StoreError::Corrupt(format!("care level {level:?}")))?,
                    valid_from: r.date(5)?,
                    valid_to: r.date(6)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by_key(|c| std::cmp::Reverse((c.1.valid_from, c.0)));
    Ok(out)
}

const APPLICATION_COLUMNS: &str =
    "seq, person_id, municipality, kind, note, status, submitted_at_ms, decided_at_ms, reason";

fn into_application(mut r: Row) -> Result<(i64, Application), StoreError> {
    let seq = r.int(0)?;
    let kind = r.text(3)?;
    let status = r.text(5)?;
    Ok((
        seq,
        Application {
            application_id: record_id('A', seq),
            person_id: r.text(1)?,
            municipality: r.text(2)?,
            kind: ApplicationKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("application kind {kind:?}")))?,
            note: r.opt_text(4)?,
            status: ApplicationStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("application status {status:?}")))?,
            submitted_at: r.time(6)?,
            decided_at: r.opt_time(7)?,
            reason: r.opt_text(8)?,
        },
    ))
}

fn load_application(c: &dyn Db, seq: i64) -> Result<Option<Application>, StoreError> {
    c.query_opt(
        &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE seq = ?1"),
        args![seq],
    )?
    .map(|r| into_application(r).map(|(_, a)| a))
    .transpose()
}

impl MunicipalStore for SqlStore {
    fn import_municipalities(&self, m: &[MunicipalityRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            for r in m {
                tx.execute(
                    "INSERT INTO municipalities (code, name, prefecture) VALUES (?1, ?2, ?3)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, prefecture = excluded.prefecture",
                    args![r.code, r.name, r.prefecture],
                )?;
            }
            Ok(m.len() as u64)
        })
    }

    fn municipality(&self, code: &str) -> Result<Option<MunicipalityRecord>, StoreError> {
        self.read(|c| {
            c.query_opt(
                "SELECT name, prefecture FROM municipalities WHERE code = ?1",
                args![code],
            )?
            .map(|mut r| {
                Ok(MunicipalityRecord {
                    code: code.to_owned(),
                    name: r.text(0)?,
                    prefecture: r.num(1)?,
                })
            })
            .transpose()
        })
    }

    fn record_doses(
        &self,
        doses: &[NewDose],
        audit: &[AuditEvent],
    ) -> Result<Vec<Vaccination>, StoreError> {
        self.write(|tx| {
            let mut out = Vec::with_capacity(doses.len());
            for d in doses {
                let recorded: Vec<NaiveDate> = tx
                    .query(
                        "SELECT administered_on FROM vaccinations
                         WHERE person_id = ?1 AND vaccine = ?2 ORDER BY administered_on",
                        args![d.person_id, d.vaccine.code],
                    )?
                    .into_iter()
                    .map(|r| r.date(0))
                    .collect::<Result<_, _>>()?;
                let dose_number = rules::number_dose(d, &recorded)?;
                let seq = tx
                    .query_one(
                        "INSERT INTO vaccinations (person_id, vaccine, dose_number, administered_on, lot, recorded_by, recorded_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
                        args![d.person_id, d.vaccine.code, dose_number, d.administered_on, d.lot, d.recorded_by, d.at],
                    )?
                    .int(0)?;
                out.push(Vaccination {
                    vaccination_id: record_id('V', seq),
                    person_id: d.person_id.clone(),
                    vaccine: d.vaccine.code.into(),
                    dose_number,
                    administered_on: d.administered_on,
                    lot: d.lot.clone(),
                    recorded_by: d.recorded_by.clone(),
                    recorded_at: d.at,
                });
            }
            for a in audit {
                insert_audit(tx, a)?;
            }
            Ok(out)
        })
    }

    fn vaccinations(&self, person_id: &str) -> Result<Vec<Vaccination>, StoreError> {
        self.read(|c| load_vaccinations(c, person_id))
    }

    fn insert_maternal(
        &self,
        r: &NewMaternal,
        audit: &AuditEvent,
    ) -> Result<MaternalRecord, StoreError> {
        self.write(|tx| {
            let stored = pregnancies(tx, &r.person_id)?;
            let pregnancy = match r.kind {
                MaternalKind::Pregnancy => {
                    rules::check_new_pregnancy(r.on, &stored)?;
                    None
                }
                MaternalKind::PrenatalCheckup => Some(rules::pregnancy_at(r.on, &stored)?),
                MaternalKind::InfantCheckup => None,
            };
            let seq = tx
                .query_one(
                    "INSERT INTO maternal_records (person_id, kind, on_date, end_date, pregnancy_seq, recorded_by, recorded_at_ms, details)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq",
                    args![
                        r.person_id,
                        r.kind.as_str(),
                        r.on,
                        r.end,
                        pregnancy,
                        r.recorded_by,
                        r.at,
                        r.details.to_string()
                    ],
                )?
                .int(0)?;
            insert_audit(tx, audit)?;
            Ok(MaternalRecord {
                record_id: record_id('M', seq),
                kind: r.kind,
                person_id: r.person_id.clone(),
                on: r.on,
                recorded_by: r.recorded_by.clone(),
                pregnancy_id: pregnancy.map(|s| record_id('M', s)),
                details: r.details.clone(),
            })
        })
    }

    fn maternal_records(&self, person_id: &str) -> Result<Vec<MaternalRecord>, StoreError> {
        self.read(|c| load_maternal(c, person_id))
    }

    fn certify_care(
        &self,
        c: &NewCertification,
        audit: &AuditEvent,
    ) -> Result<CareCertificationResponse, StoreError> {
        self.write(|tx| {
            let stored = load_certifications(tx, &c.person_id)?;
            let superseded = match rules::supersede(c, &stored)? {
                Some((seq, last_day)) => {
                    tx.execute(
                        "UPDATE care_certifications SET valid_to = ?2 WHERE seq = ?1",
                        args![seq, last_day],
                    )?;
                    stored
                        .iter()
                        .find(|(s, _)| *s == seq)
                        .map(|(_, old)| CareCertification {
                            valid_to: last_day,
                            ..old.clone()
                        })
                }
                None => None,
            };
            let seq = tx
                .query_one(
                    "INSERT INTO care_certifications (person_id, municipality, level, valid_from, valid_to, registered_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
                    args![c.person_id, c.municipality, c.level.as_str(), c.valid_from, c.valid_to, c.at],
                )?
                .int(0)?;
            insert_audit(tx, audit)?;
            Ok(CareCertificationResponse {
                certification: CareCertification {
                    certification_id: record_id('C', seq),
                    person_id: c.person_id.clone(),
                    municipality: c.municipality.clone(),
                    level: c.level,
                    valid_from: c.valid_from,
                    valid_to: c.valid_to,
                },
                superseded,
            })
        })
    }

    fn care_certifications(&self, person_id: &str) -> Result<Vec<CareCertification>, StoreError> {
        self.read(|c| {
            Ok(load_certifications(c, person_id)?
                .into_iter()
                .map(|(_, c)| c)
                .collect())
        })
    }

    fn register_entitlement(
        &self,
        person_id: &str,
        e: &PublicExpenseRecord,
        registered_by: &str,
        audit: &AuditEvent,
    ) -> Result<Option<NaiveDate>, StoreError> {
        self.write(|tx| {
            let stored: Vec<(i64, PublicExpenseRecord)> = tx
                .query(
                    "SELECT rowid, law_code, payer_number, recipient_number, valid_from, valid_to
                     FROM public_expenses WHERE person_id = ?1",
                    args![person_id],
                )?
                .into_iter()
                .map(|mut r| {
                    Ok((
                        r.int(0)?,
                        PublicExpenseRecord {
                            law_code: r.text(1)?,
                            payer_number: r.text(2)?,
                            recipient_number: r.text(3)?,
                            valid_from: r.date(4)?,
                            valid_to: r.opt_date(5)?,
                        },
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            let renewed = rules::renew(e, &stored)?;
            if let Some((rowid, last_day)) = renewed {
                tx.execute(
                    "UPDATE public_expenses SET valid_to = ?2 WHERE rowid = ?1",
                    args![rowid, last_day],
                )?;
            }
            tx.execute(
                "INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from, valid_to, registered_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![person_id, e.law_code, e.payer_number, e.recipient_number, e.valid_from, e.valid_to, registered_by],
            )?;
            insert_audit(tx, audit)?;
            Ok(renewed.map(|(_, d)| d))
        })
    }

    fn file_application(
        &self,
        a: &NewApplication,
        audit: &AuditEvent,
    ) -> Result<Application, StoreError> {
        self.write(|tx| {
            let pending = tx.query_opt(
                "SELECT seq FROM applications WHERE person_id = ?1 AND kind = ?2 AND status = 'submitted'",
                args![a.person_id, a.kind.as_str()],
            )?;
            if let Some(r) = pending {
                return Err(Refusal::conflict(
                    "application_pending",
                    format!(
                        "application {} of this kind awaits the municipality's decision",
                        record_id('A', r.int(0)?)
                    ),
                )
                .at("kind")
                .into());
            }
            let seq = tx
                .query_one(
                    "INSERT INTO applications (person_id, municipality, kind, note, status, submitted_at_ms)
                     VALUES (?1, ?2, ?3, ?4, 'submitted', ?5) RETURNING seq",
                    args![a.person_id, a.municipality, a.kind.as_str(), a.note, a.at],
                )?
                .int(0)?;
            insert_audit(tx, audit)?;
            load_application(tx, seq)?
                .ok_or_else(|| StoreError::Corrupt("application vanished".into()))
        })
    }

    fn applications(&self, q: &ApplicationQuery) -> Result<Vec<(i64, Application)>, StoreError> {
        let (column, owner) = match &q.owner {
            ApplicationOwner::Person(p) => ("person_id", p.as_str()),
            ApplicationOwner::Municipality(m) => ("municipality", m.as_str()),
        };
        let status = if q.status.is_some() {
            " AND status = ?4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications
             WHERE {column} = ?1 AND seq < ?2{status} ORDER BY seq DESC LIMIT ?3"
        );
        self.read(|c| {
            let before = q.before.unwrap_or(i64::MAX);
            let rows = match q.status {
                Some(s) => c.query(&sql, args![owner, before, q.limit, s.as_str()])?,
                None => c.query(&sql, args![owner, before, q.limit])?,
            };
            rows.into_iter().map(into_application).collect()
        })
    }

    fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        let Some(seq) = record_seq('A', id) else {
            return Ok(None);
        };
        self.read(|c| load_application(c, seq))
    }

    fn decide_application(
        &self,
        id: &str,
        status: ApplicationStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Application, StoreError> {
        let seq = record_seq('A', id).ok_or(StoreError::Conflict("no such application"))?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE applications SET status = ?2, decided_at_ms = ?3, reason = ?4
                 WHERE seq = ?1 AND status = 'submitted'",
                args![seq, status.as_str(), at, reason],
            )?;
            if changed == 0 {
                return Err(Refusal::conflict(
                    "already_decided",
                    "the application was already decided",
                )
                .into());
            }
            insert_audit(tx, audit)?;
            load_application(tx, seq)?
                .ok_or_else(|| StoreError::Corrupt("application vanished".into()))
        })
    }
}
