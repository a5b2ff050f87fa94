//! SQLite storage of municipalities, vaccinations, maternal-child health records, care
//! certifications, entitlement registrations and applications.

use super::rules::{self, StoredPregnancy};
use super::{
    ApplicationOwner, ApplicationQuery, MunicipalStore, NewApplication, NewCertification, NewDose,
    NewMaternal, record_id, record_seq,
};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::refusal::Refusal;
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::{
    Application, ApplicationKind, ApplicationStatus, CareCertification, CareCertificationResponse,
    CareLevel, MaternalKind, MaternalRecord, MunicipalityRecord, PublicExpenseRecord, Vaccination,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad date {s:?}")))
}

fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("time {ms}")))
}

/// seq, person, vaccine, dose, date, lot, recorded by, recorded at.
type VaccinationRow = (i64, String, String, u8, String, Option<String>, String, i64);

fn vaccination_row(r: &Row<'_>) -> rusqlite::Result<VaccinationRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn load_vaccinations(c: &Connection, person_id: &str) -> Result<Vec<Vaccination>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, person_id, vaccine, dose_number, administered_on, lot, recorded_by, recorded_at_ms
         FROM vaccinations WHERE person_id = ?1 ORDER BY administered_on, seq",
    )?;
    let rows = stmt.query_map([person_id], vaccination_row)?;
    rows.map(|r| {
        let (seq, person_id, vaccine, dose_number, on, lot, by, at) = r?;
        Ok(Vaccination {
            vaccination_id: record_id('V', seq),
            person_id,
            vaccine,
            dose_number,
            administered_on: date(&on)?,
            lot,
            recorded_by: by,
            recorded_at: time(at)?,
        })
    })
    .collect()
}

fn load_maternal(c: &Connection, person_id: &str) -> Result<Vec<MaternalRecord>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, kind, on_date, pregnancy_seq, recorded_by, details FROM maternal_records
         WHERE person_id = ?1 ORDER BY on_date, seq",
    )?;
    let rows = stmt.query_map([person_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    rows.map(|r| {
        let (seq, kind, on, pregnancy, by, details) = r?;
        Ok(MaternalRecord {
            record_id: record_id('M', seq),
            kind: MaternalKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("maternal kind {kind:?}")))?,
            person_id: person_id.to_owned(),
            on: date(&on)?,
            recorded_by: by,
            pregnancy_id: pregnancy.map(|s| record_id('M', s)),
            details: serde_json::from_str(&details)
                .map_err(|e| StoreError::Corrupt(format!("maternal details: {e}")))?,
        })
    })
    .collect()
}

fn pregnancies(c: &Connection, person_id: &str) -> Result<Vec<StoredPregnancy>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, on_date, end_date FROM maternal_records
         WHERE person_id = ?1 AND kind = 'pregnancy' ORDER BY on_date",
    )?;
    let rows = stmt.query_map([person_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    rows.map(|r| {
        let (seq, from, to) = r?;
        let to = to.ok_or_else(|| StoreError::Corrupt("pregnancy without due date".into()))?;
        Ok((seq, date(&from)?, date(&to)?))
    })
    .collect()
}

fn load_certifications(
    c: &Connection,
    person_id: &str,
) -> Result<Vec<(i64, CareCertification)>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, municipality, level, valid_from, valid_to FROM care_certifications
         WHERE person_id = ?1 ORDER BY valid_from DESC, seq DESC",
    )?;
    let rows = stmt.query_map([person_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    rows.map(|r| {
        let (seq, municipality, level, from, to) = r?;
        Ok((
            seq,
            CareCertification {
                certification_id: record_id('C', seq),
                person_id: person_id.to_owned(),
                municipality,
                level: CareLevel::parse(&level)
                    .ok_or_else(|| StoreError::Corrupt(format!("care level {level:?}")))?,
                valid_from: date(&from)?,
                valid_to: date(&to)?,
            },
        ))
    })
    .collect()
}

const APPLICATION_COLUMNS: &str =
    "seq, person_id, municipality, kind, note, status, submitted_at_ms, decided_at_ms, reason";

fn application_row(r: &Row<'_>) -> rusqlite::Result<ApplicationRow> {
    Ok((
        r.get(0)?,
        [r.get(1)?, r.get(2)?, r.get(3)?, String::new()],
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

type ApplicationRow = (
    i64,
    [String; 4],
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<String>,
);

fn into_application(row: ApplicationRow) -> Result<(i64, Application), StoreError> {
    let (seq, [person_id, municipality, kind, _], note, status, submitted, decided, reason) = row;
    Ok((
        seq,
        Application {
            application_id: record_id('A', seq),
            person_id,
            municipality,
            kind: ApplicationKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("application kind {kind:?}")))?,
            note,
            status: ApplicationStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("application status {status:?}")))?,
            submitted_at: time(submitted)?,
            decided_at: decided.map(time).transpose()?,
            reason,
        },
    ))
}

fn load_application(c: &Connection, seq: i64) -> Result<Option<Application>, StoreError> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE seq = ?1"
        ))?
        .query_row([seq], application_row)
        .optional()?;
    row.map(|r| into_application(r).map(|(_, a)| a)).transpose()
}

impl MunicipalStore for SqliteStore {
    fn import_municipalities(&self, m: &[MunicipalityRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO municipalities (code, name, prefecture) VALUES (?1, ?2, ?3)",
            )?;
            for r in m {
                stmt.execute(params![r.code, r.name, r.prefecture])?;
            }
            Ok(m.len() as u64)
        })
    }

    fn municipality(&self, code: &str) -> Result<Option<MunicipalityRecord>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT name, prefecture FROM municipalities WHERE code = ?1")?
                    .query_row([code], |r| {
                        Ok(MunicipalityRecord {
                            code: code.to_owned(),
                            name: r.get(0)?,
                            prefecture: r.get(1)?,
                        })
                    })
                    .optional()?,
            )
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
                let recorded: Vec<NaiveDate> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT administered_on FROM vaccinations
                         WHERE person_id = ?1 AND vaccine = ?2 ORDER BY administered_on",
                    )?;
                    let rows = stmt.query_map(params![d.person_id, d.vaccine.code], |r| {
                        r.get::<_, String>(0)
                    })?;
                    rows.map(|r| date(&r?)).collect::<Result<_, _>>()?
                };
                let dose_number = rules::number_dose(d, &recorded)?;
                let on = d.administered_on.to_string();
                tx.prepare_cached(
                    "INSERT INTO vaccinations (person_id, vaccine, dose_number, administered_on, lot, recorded_by, recorded_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    d.person_id,
                    d.vaccine.code,
                    dose_number,
                    on,
                    d.lot,
                    d.recorded_by,
                    d.at.timestamp_millis()
                ])?;
                out.push(Vaccination {
                    vaccination_id: record_id('V', tx.last_insert_rowid()),
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
            tx.prepare_cached(
                "INSERT INTO maternal_records (person_id, kind, on_date, end_date, pregnancy_seq, recorded_by, recorded_at_ms, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                r.person_id,
                r.kind.as_str(),
                r.on.to_string(),
                r.end.map(|d| d.to_string()),
                pregnancy,
                r.recorded_by,
                r.at.timestamp_millis(),
                r.details.to_string()
            ])?;
            let seq = tx.last_insert_rowid();
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
                    tx.prepare_cached("UPDATE care_certifications SET valid_to = ?2 WHERE seq = ?1")?
                        .execute(params![seq, last_day.to_string()])?;
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
            tx.prepare_cached(
                "INSERT INTO care_certifications (person_id, municipality, level, valid_from, valid_to, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c.person_id,
                c.municipality,
                c.level.as_str(),
                c.valid_from.to_string(),
                c.valid_to.to_string(),
                c.at.timestamp_millis()
            ])?;
            let seq = tx.last_insert_rowid();
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
            let stored: Vec<(i64, PublicExpenseRecord)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT rowid, law_code, payer_number, recipient_number, valid_from, valid_to
                     FROM public_expenses WHERE person_id = ?1",
                )?;
                let rows = stmt.query_map([person_id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })?;
                rows.map(|r| {
                    let (rowid, law_code, payer_number, recipient_number, from, to) = r?;
                    Ok((
                        rowid,
                        PublicExpenseRecord {
                            law_code,
                            payer_number,
                            recipient_number,
                            valid_from: date(&from)?,
                            valid_to: to.as_deref().map(date).transpose()?,
                        },
                    ))
                })
                .collect::<Result<_, StoreError>>()?
            };
            let renewed = rules::renew(e, &stored)?;
            if let Some((rowid, last_day)) = renewed {
                tx.prepare_cached("UPDATE public_expenses SET valid_to = ?2 WHERE rowid = ?1")?
                    .execute(params![rowid, last_day.to_string()])?;
            }
            tx.prepare_cached(
                "INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from, valid_to, registered_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                person_id,
                e.law_code,
                e.payer_number,
                e.recipient_number,
                e.valid_from.to_string(),
                e.valid_to.map(|d| d.to_string()),
                registered_by
            ])?;
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
            let pending: Option<i64> = tx
                .prepare_cached(
                    "SELECT seq FROM applications WHERE person_id = ?1 AND kind = ?2 AND status = 'submitted'",
                )?
                .query_row(params![a.person_id, a.kind.as_str()], |r| r.get(0))
                .optional()?;
            if let Some(seq) = pending {
                return Err(Refusal::conflict(
                    "application_pending",
                    format!(
                        "application {} of this kind awaits the municipality's decision",
                        record_id('A', seq)
                    ),
                )
                .at("kind")
                .into());
            }
            tx.prepare_cached(
                "INSERT INTO applications (person_id, municipality, kind, note, status, submitted_at_ms)
                 VALUES (?1, ?2, ?3, ?4, 'submitted', ?5)",
            )?
            .execute(params![
                a.person_id,
                a.municipality,
                a.kind.as_str(),
                a.note,
                a.at.timestamp_millis()
            ])?;
            let seq = tx.last_insert_rowid();
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
            let mut stmt = c.prepare_cached(&sql)?;
            let before = q.before.unwrap_or(i64::MAX);
            let rows: Vec<ApplicationRow> = match q.status {
                Some(s) => stmt
                    .query_map(params![owner, before, q.limit, s.as_str()], application_row)?
                    .collect::<Result<_, _>>()?,
                None => stmt
                    .query_map(params![owner, before, q.limit], application_row)?
                    .collect::<Result<_, _>>()?,
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
            let changed = tx
                .prepare_cached(
                    "UPDATE applications SET status = ?2, decided_at_ms = ?3, reason = ?4
                     WHERE seq = ?1 AND status = 'submitted'",
                )?
                .execute(params![seq, status.as_str(), at.timestamp_millis(), reason])?;
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
