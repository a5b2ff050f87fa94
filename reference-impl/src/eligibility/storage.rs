//! SQLite storage of persons, qualifications, public-expense entitlements, insurers, facilities.

use super::{EligibilityStore, InsuranceKey};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::NaiveDate;
use dx_protocol::wire::{
    FacilityKind, FacilityRecord, InsurerRecord, PersonRecord, PublicExpenseRecord,
    QualificationRecord, Sex,
};
use rusqlite::{Connection, OptionalExtension, params};

fn date(s: String) -> Result<NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad date {s:?}")))
}

fn opt_date(s: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    s.map(date).transpose()
}

fn load_person(c: &Connection, id: &str) -> Result<Option<PersonRecord>, StoreError> {
    let row = c
        .prepare_cached("SELECT sex, birth_date, prefecture, municipality, card_serial FROM persons WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u8>(2)?, r.get::<_, String>(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((sex, birth, prefecture, municipality, card_serial)) = row else {
        return Ok(None);
    };
    let mut qualifications = Vec::new();
    let mut stmt = c.prepare_cached(
        "SELECT insurer_number, symbol, number, branch, valid_from, valid_to FROM qualifications
         WHERE person_id = ?1 ORDER BY valid_from",
    )?;
    for r in stmt.query_map([id], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })? {
        let (insurer_number, symbol, number, branch, from, to) = r?;
        qualifications.push(QualificationRecord {
            insurer_number,
            symbol,
            number,
            branch,
            valid_from: date(from)?,
            valid_to: opt_date(to)?,
        });
    }
    let mut public_expenses = Vec::new();
    let mut stmt = c.prepare_cached(
        "SELECT law_code, payer_number, recipient_number, valid_from, valid_to FROM public_expenses
         WHERE person_id = ?1 ORDER BY rowid",
    )?;
    for r in stmt.query_map([id], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })? {
        let (law_code, payer_number, recipient_number, from, to) = r?;
        public_expenses.push(PublicExpenseRecord {
            law_code,
            payer_number,
            recipient_number,
            valid_from: date(from)?,
            valid_to: opt_date(to)?,
        });
    }
    Ok(Some(PersonRecord {
        id: id.to_owned(),
        sex: if sex == "M" { Sex::Male } else { Sex::Female },
        birth_date: date(birth)?,
        prefecture,
        municipality,
        card_serial,
        qualifications,
        public_expenses,
        // Certifications and pregnancies are read through `MunicipalStore`.
        care_certification: None,
        pregnancy: None,
    }))
}

fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl EligibilityStore for SqliteStore {
    fn facility(&self, code: &str) -> Result<Option<FacilityRecord>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached("SELECT kind, name, prefecture FROM facilities WHERE code = ?1")?
                .query_row([code], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            row.map(|(kind, name, prefecture)| {
                let kind: FacilityKind =
                    serde_json::from_value(serde_json::Value::String(kind.clone()))
                        .map_err(|_| StoreError::Corrupt(format!("facility kind {kind:?}")))?;
                Ok(FacilityRecord {
                    code: code.to_owned(),
                    kind,
                    name,
                    prefecture,
                })
            })
            .transpose()
        })
    }

    fn person_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM persons WHERE id = ?1")?
                .exists([id])?)
        })
    }

    fn person(&self, id: &str) -> Result<Option<PersonRecord>, StoreError> {
        self.read(|c| load_person(c, id))
    }

    fn person_by_card(&self, serial: &str) -> Result<Option<PersonRecord>, StoreError> {
        self.read(|c| {
            let id: Option<String> = c
                .prepare_cached("SELECT id FROM persons WHERE card_serial = ?1")?
                .query_row([serial], |r| r.get(0))
                .optional()?;
            id.map_or(Ok(None), |id| load_person(c, &id))
        })
    }

    fn person_by_insurance(&self, k: &InsuranceKey) -> Result<Option<PersonRecord>, StoreError> {
        self.read(|c| {
            let id: Option<String> = c
                .prepare_cached(
                    "SELECT person_id FROM qualifications
                     WHERE insurer_number = ?1 AND symbol = ?2 AND number = ?3 AND branch = ?4",
                )?
                .query_row(
                    params![k.insurer_number, k.symbol, k.number, k.branch],
                    |r| r.get(0),
                )
                .optional()?;
            id.map_or(Ok(None), |id| load_person(c, &id))
        })
    }

    fn import_persons(&self, persons: &[PersonRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut person = tx.prepare_cached(
                "INSERT INTO persons (id, sex, birth_date, prefecture, municipality, card_serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut qual = tx.prepare_cached(
                "INSERT INTO qualifications (person_id, insurer_number, symbol, number, branch, valid_from, valid_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut pubexp = tx.prepare_cached(
                "INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from, valid_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut care = tx.prepare_cached(
                "INSERT INTO care_certifications (person_id, municipality, level, valid_from, valid_to, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )?;
            let mut pregnancy = tx.prepare_cached(
                "INSERT INTO maternal_records (person_id, kind, on_date, end_date, recorded_by, recorded_at_ms, details)
                 VALUES (?1, 'pregnancy', ?2, ?3, ?4, 0, ?5)",
            )?;
            let mut consent = tx.prepare_cached(
                "INSERT INTO consents (person_id, facility_code, kind, method, given_at_ms, expires_at_ms)
                 VALUES (?1, ?2, 'care', 'portal', ?3, ?4)",
            )?;
            let dup = |e: rusqlite::Error, what: String| {
                if unique_violation(&e) { StoreError::Duplicate(what) } else { StoreError::from(e) }
            };
            for p in persons {
                person
                    .execute(params![p.id, p.sex.as_str(), p.birth_date.to_string(), p.prefecture, p.municipality, p.card_serial])
                    .map_err(|e| dup(e, format!("person {} or its card", p.id)))?;
                for q in &p.qualifications {
                    qual.execute(params![
                        p.id,
                        q.insurer_number,
                        q.symbol,
                        q.number,
                        q.branch,
                        q.valid_from.to_string(),
                        q.valid_to.map(|d| d.to_string())
                    ])
                    .map_err(|e| dup(e, format!("insurance number {}/{}/{}/{}", q.insurer_number, q.symbol, q.number, q.branch)))?;
                }
                for e in &p.public_expenses {
                    pubexp.execute(params![
                        p.id,
                        e.law_code,
                        e.payer_number,
                        e.recipient_number,
                        e.valid_from.to_string(),
                        e.valid_to.map(|d| d.to_string())
                    ])?;
                }
                if let Some(c) = &p.care_certification {
                    care.execute(params![p.id, p.municipality, c.level.as_str(), c.valid_from.to_string(), c.valid_to.to_string()])?;
                    if let Some(provider) = &c.care_provider {
                        // Consent given on the portal, lasting (365 days) past the certification's end.
                        let given = c.valid_from.max(c.valid_to - chrono::TimeDelta::days(364));
                        let given_ms = given.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis();
                        consent.execute(params![p.id, provider, given_ms, given_ms + 365 * 86_400_000])?;
                    }
                }
                if let Some(g) = &p.pregnancy {
                    let details = serde_json::json!({"expected_delivery": g.expected_delivery}).to_string();
                    pregnancy.execute(params![p.id, g.confirmed_on.to_string(), g.expected_delivery.to_string(), format!("municipality:{}", p.municipality), details])?;
                }
            }
            Ok(persons.len() as u64)
        })
    }

    fn import_insurers(&self, insurers: &[InsurerRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO insurers (number, scheme, name, prefecture) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for i in insurers {
                stmt.execute(params![i.number, i.scheme, i.name, i.prefecture])?;
            }
            Ok(insurers.len() as u64)
        })
    }

    fn import_facilities(&self, facilities: &[FacilityRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO facilities (code, kind, name, prefecture) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for f in facilities {
                stmt.execute(params![f.code, f.kind.as_str(), f.name, f.prefecture])?;
            }
            Ok(facilities.len() as u64)
        })
    }
}
