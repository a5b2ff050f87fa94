//! Storage of persons, qualifications, public-expense entitlements, insurers, facilities.

use super::{EligibilityStore, Identity, InsuranceKey};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Arg, Db, Row, ToArg as _, args};
use dx_protocol::wire::{
    CareCertification, FacilityKind, FacilityRecord, InsurerRecord, PersonRecord,
    PublicExpenseRecord, QualificationRecord, Sex,
};

/// The query of a person found by `who` (a query of one column, `id`, taking `?1`… as its
/// parameters): the person's row first (part 0), then its qualifications by start (part 1) and
/// its public-expense entitlements as registered (part 2), then the rows of `more` parts (each
/// a `SELECT` of eight columns like these, its part number above 2 first, that may join `who`).
/// Read by [`person_of_rows`].
fn person_of(who: &str, more: &[&str]) -> String {
    let more: String = more.iter().map(|m| format!(" UNION ALL {m}")).collect();
    format!(
        "WITH who AS ({who})
         SELECT 0, p.id, p.sex, p.municipality, p.card_serial, p.birth_date, NULL, p.prefecture
         FROM persons p JOIN who ON p.id = who.id
         UNION ALL
         SELECT 1, insurer_number, symbol, number, branch, valid_from, valid_to, 0
         FROM qualifications q JOIN who ON q.person_id = who.id
         UNION ALL
         SELECT 2, law_code, payer_number, recipient_number, '', valid_from, valid_to, rowid
         FROM public_expenses e JOIN who ON e.person_id = who.id{more}
         ORDER BY 1, 8, 6"
    )
}

/// A person found by `who`, read in one query (see [`person_of`]).
fn person_where(
    c: &dyn Db,
    who: &str,
    args: &[Arg<'_>],
) -> Result<Option<PersonRecord>, StoreError> {
    Ok(person_of_rows(c.query(&person_of(who, &[]), args)?)?.0)
}

/// The query of one column, `id`, that finds the person `id` names, and its parameters.
fn who(id: &Identity) -> (&'static str, Vec<Arg<'_>>) {
    match id {
        Identity::PersonId(p) => ("SELECT id FROM persons WHERE id = ?1", vec![p.arg()]),
        Identity::Card(serial) => (
            "SELECT id FROM persons WHERE card_serial = ?1",
            vec![serial.arg()],
        ),
        Identity::Insurance(k) => (
            "SELECT person_id AS id FROM qualifications
             WHERE insurer_number = ?1 AND symbol = ?2 AND number = ?3 AND branch = ?4",
            args![k.insurer_number, k.symbol, k.number, k.branch].to_vec(),
        ),
    }
}

/// The read of the person `id` names, for a caller that adds parts of its own to it.
pub(crate) struct PersonQuery<'a> {
    who: &'static str,
    /// The parameters of the person's parts; the caller's follow them.
    pub args: Vec<Arg<'a>>,
}

impl PersonQuery<'_> {
    /// The query of the person (with their qualifications and entitlements) and the `more`
    /// parts (see [`person_of`]); its rows are read by [`person_of_rows`].
    pub(crate) fn sql(&self, more: &[&str]) -> String {
        person_of(self.who, more)
    }
}

pub(crate) fn person_query(id: &Identity) -> PersonQuery<'_> {
    let (who, args) = who(id);
    PersonQuery { who, args }
}

/// The person in the rows of a [`person_query`] (or of [`person_of`]), if it found one, and the
/// rows of the further parts asked for.
pub(crate) fn person_of_rows(
    rows: Vec<Row>,
) -> Result<(Option<PersonRecord>, Vec<Row>), StoreError> {
    let mut first = None;
    let mut qualifications = Vec::new();
    let mut public_expenses = Vec::new();
    let mut more = Vec::new();
    for mut r in rows {
        match r.int(0)? {
            0 => first = Some(r),
            1 => qualifications.push(QualificationRecord {
                insurer_number: r.text(1)?,
                symbol: r.text(2)?,
                number: r.text(3)?,
                branch: r.text(4)?,
                valid_from: r.date(5)?,
                valid_to: r.opt_date(6)?,
            }),
            2 => public_expenses.push(PublicExpenseRecord {
                law_code: r.text(1)?,
                payer_number: r.text(2)?,
                recipient_number: r.text(3)?,
                valid_from: r.date(5)?,
                valid_to: r.opt_date(6)?,
            }),
            _ => more.push(r),
        }
    }
    let Some(mut first) = first else {
        if qualifications.is_empty() && public_expenses.is_empty() {
            return Ok((None, more));
        }
        return Err(StoreError::Corrupt("coverage without its person".into()));
    };
    let person = PersonRecord {
        id: first.text(1)?,
        sex: if first.text(2)? == "M" {
            Sex::Male
        } else {
            Sex::Female
        },
        municipality: first.text(3)?,
        card_serial: first.opt_text(4)?,
        birth_date: first.date(5)?,
        prefecture: first.num(7)?,
        qualifications,
        public_expenses,
        // Certifications and pregnancies are read through `MunicipalStore`.
        care_certification: None,
        pregnancy: None,
    };
    Ok((Some(person), more))
}

fn load_person(c: &dyn Db, id: &str) -> Result<Option<PersonRecord>, StoreError> {
    person_where(c, "SELECT id FROM persons WHERE id = ?1", args![id])
}

/// The portal consent an enrolled care certification with a chosen provider carries: given
/// on the portal, lasting (365 days) past the certification's end. (provider, given, expires),
/// in milliseconds.
fn care_consent(p: &PersonRecord) -> Option<(&str, i64, i64)> {
    let c = p.care_certification.as_ref()?;
    let provider = c.care_provider.as_deref()?;
    let given = c.valid_from.max(c.valid_to - chrono::TimeDelta::days(364));
    let given_ms = given
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis();
    Some((provider, given_ms, given_ms + 365 * 86_400_000))
}

/// The maternal record of an enrolled pregnancy.
struct Pregnancy {
    person_id: String,
    on: chrono::NaiveDate,
    due: chrono::NaiveDate,
    recorded_by: String,
    details: String,
}

impl Pregnancy {
    fn of(p: &PersonRecord) -> Option<Pregnancy> {
        let g = p.pregnancy.as_ref()?;
        Some(Pregnancy {
            person_id: p.id.clone(),
            on: g.confirmed_on,
            due: g.expected_delivery,
            recorded_by: format!("municipality:{}", p.municipality),
            details: serde_json::json!({"expected_delivery": g.expected_delivery}).to_string(),
        })
    }
}

use crate::store::sql::Kind::{Date, Int, Text};

impl EligibilityStore for SqlStore {
    fn insurer_exists(&self, number: &str) -> Result<bool, StoreError> {
        self.read(|c| c.exists("SELECT 1 FROM insurers WHERE number = ?1", args![number]))
    }

    fn acquire_qualification(
        &self,
        person_id: &str,
        q: &QualificationRecord,
        audit: &crate::audit::AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if tx.exists(
                "SELECT 1 FROM qualifications
                 WHERE insurer_number = ?1 AND number = ?2 AND symbol = ?3 AND branch = ?4",
                args![q.insurer_number, q.number, q.symbol, q.branch],
            )? {
                return Err(crate::refusal::Refusal::conflict(
                    "qualification_exists",
                    "this 記号・番号・枝番 of the insurer is already registered",
                )
                .at("number")
                .into());
            }
            tx.execute(
                "INSERT INTO qualifications (person_id, insurer_number, symbol, number, branch, valid_from, valid_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                args![person_id, q.insurer_number, q.symbol, q.number, q.branch, q.valid_from],
            )?;
            crate::audit::storage::insert(tx, audit)?;
            Ok(())
        })
    }

    fn lose_qualification(
        &self,
        key: &InsuranceKey,
        valid_to: chrono::NaiveDate,
        audit: &crate::audit::AuditEvent,
    ) -> Result<Option<(String, QualificationRecord)>, StoreError> {
        let k = (&key.insurer_number, &key.number, &key.symbol, &key.branch);
        self.write(|tx| {
            let mut rows = tx.query(
                "SELECT person_id, valid_from, valid_to FROM qualifications
                 WHERE insurer_number = ?1 AND number = ?2 AND symbol = ?3 AND branch = ?4",
                args![k.0, k.1, k.2, k.3],
            )?;
            let Some(mut r) = rows.pop() else {
                return Ok(None);
            };
            let stored = QualificationRecord {
                insurer_number: key.insurer_number.clone(),
                symbol: key.symbol.clone(),
                number: key.number.clone(),
                branch: key.branch.clone(),
                valid_from: r.date(1)?,
                valid_to: r.opt_date(2)?,
            };
            let ended = super::qualifications::end(&stored, valid_to)?;
            tx.execute(
                "UPDATE qualifications SET valid_to = ?5
                 WHERE insurer_number = ?1 AND number = ?2 AND symbol = ?3 AND branch = ?4",
                args![k.0, k.1, k.2, k.3, valid_to],
            )?;
            crate::audit::storage::insert(tx, audit)?;
            Ok(Some((r.text(0)?, ended)))
        })
    }

    fn import_persons_bulk(&self, persons: &[PersonRecord]) -> Result<u64, StoreError> {
        if let SqlStore::Sqlite(_) = self {
            // One writer inserting person by person is as fast, and names the duplicate.
            return self.import_persons(persons);
        }
        let pregnancies: Vec<Pregnancy> = persons.iter().filter_map(Pregnancy::of).collect();
        self.write(|tx| {
            tx.copy_rows(
                "persons",
                &[
                    ("id", Text),
                    ("sex", Text),
                    ("birth_date", Date),
                    ("prefecture", Int),
                    ("municipality", Text),
                    ("card_serial", Text),
                ],
                &mut persons.iter().map(|p| {
                    vec![
                        Arg::Text(&p.id),
                        Arg::Text(p.sex.as_str()),
                        Arg::Date(p.birth_date),
                        Arg::Int(p.prefecture.into()),
                        Arg::Text(&p.municipality),
                        p.card_serial.arg(),
                    ]
                }),
            )?;
            tx.copy_rows(
                "qualifications",
                &[
                    ("person_id", Text),
                    ("insurer_number", Text),
                    ("symbol", Text),
                    ("number", Text),
                    ("branch", Text),
                    ("valid_from", Date),
                    ("valid_to", Date),
                ],
                &mut persons.iter().flat_map(|p| {
                    p.qualifications.iter().map(move |q| {
                        args![
                            p.id,
                            q.insurer_number,
                            q.symbol,
                            q.number,
                            q.branch,
                            q.valid_from,
                            q.valid_to
                        ]
                        .to_vec()
                    })
                }),
            )?;
            tx.copy_rows(
                "public_expenses",
                &[
                    ("person_id", Text),
                    ("law_code", Text),
                    ("payer_number", Text),
                    ("recipient_number", Text),
                    ("valid_from", Date),
                    ("valid_to", Date),
                ],
                &mut persons.iter().flat_map(|p| {
                    p.public_expenses.iter().map(move |e| {
                        args![
                            p.id,
                            e.law_code,
                            e.payer_number,
                            e.recipient_number,
                            e.valid_from,
                            e.valid_to
                        ]
                        .to_vec()
                    })
                }),
            )?;
            tx.copy_rows(
                "care_certifications",
                &[
                    ("person_id", Text),
                    ("municipality", Text),
                    ("level", Text),
                    ("valid_from", Date),
                    ("valid_to", Date),
                    ("registered_at_ms", Int),
                ],
                &mut persons.iter().filter_map(|p| {
                    let c = p.care_certification.as_ref()?;
                    Some(vec![
                        Arg::Text(&p.id),
                        Arg::Text(&p.municipality),
                        Arg::Text(c.level.as_str()),
                        Arg::Date(c.valid_from),
                        Arg::Date(c.valid_to),
                        Arg::Int(0),
                    ])
                }),
            )?;
            tx.copy_rows(
                "consents",
                &[
                    ("person_id", Text),
                    ("facility_code", Text),
                    ("kind", Text),
                    ("method", Text),
                    ("given_at_ms", Int),
                    ("expires_at_ms", Int),
                ],
                &mut persons.iter().filter_map(|p| {
                    let (provider, given, expires) = care_consent(p)?;
                    Some(vec![
                        Arg::Text(&p.id),
                        Arg::Text(provider),
                        Arg::Text("care"),
                        Arg::Text("portal"),
                        Arg::Int(given),
                        Arg::Int(expires),
                    ])
                }),
            )?;
            tx.copy_rows(
                "maternal_records",
                &[
                    ("person_id", Text),
                    ("kind", Text),
                    ("on_date", Date),
                    ("end_date", Date),
                    ("recorded_by", Text),
                    ("recorded_at_ms", Int),
                    ("details", Text),
                ],
                &mut pregnancies.iter().map(|g| {
                    vec![
                        Arg::Text(&g.person_id),
                        Arg::Text("pregnancy"),
                        Arg::Date(g.on),
                        Arg::Date(g.due),
                        Arg::Text(&g.recorded_by),
                        Arg::Int(0),
                        Arg::Text(&g.details),
                    ]
                }),
            )?;
            Ok(persons.len() as u64)
        })
    }

    fn facility(&self, code: &str) -> Result<Option<FacilityRecord>, StoreError> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT kind, name, prefecture FROM facilities WHERE code = ?1",
                args![code],
            )?;
            row.map(|mut r| {
                let kind = r.text(0)?;
                let kind: FacilityKind =
                    serde_json::from_value(serde_json::Value::String(kind.clone()))
                        .map_err(|_| StoreError::Corrupt(format!("facility kind {kind:?}")))?;
                Ok(FacilityRecord {
                    code: code.to_owned(),
                    kind,
                    name: r.text(1)?,
                    prefecture: r.num(2)?,
                })
            })
            .transpose()
        })
    }

    fn person_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|c| c.exists("SELECT 1 FROM persons WHERE id = ?1", args![id]))
    }

    fn person(&self, id: &str) -> Result<Option<PersonRecord>, StoreError> {
        self.read(|c| load_person(c, id))
    }

    fn person_by_card(&self, serial: &str) -> Result<Option<PersonRecord>, StoreError> {
        let id = Identity::Card(serial.to_owned());
        let (who, args) = who(&id);
        self.read(|c| person_where(c, who, &args))
    }

    fn person_by_insurance(&self, k: &InsuranceKey) -> Result<Option<PersonRecord>, StoreError> {
        let id = Identity::Insurance(k.clone());
        let (who, args) = who(&id);
        self.read(|c| person_where(c, who, &args))
    }

    fn person_with_care(
        &self,
        id: &Identity,
    ) -> Result<Option<(PersonRecord, Vec<CareCertification>)>, StoreError> {
        let (who, args) = who(id);
        let sql = person_of(who, &[crate::municipal::storage::CERTIFICATIONS_PART]);
        self.read(|c| match person_of_rows(c.query(&sql, &args)?)? {
            (Some(person), care) => {
                let care = crate::municipal::storage::certification_rows(care)?;
                Ok(Some((person, care.into_iter().map(|(_, c)| c).collect())))
            }
            (None, _) => Ok(None),
        })
    }

    fn import_persons(&self, persons: &[PersonRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let dup = |e: StoreError, what: String| match e {
                StoreError::Duplicate(_) => StoreError::Duplicate(what),
                e => e,
            };
            for p in persons {
                tx.execute(
                    "INSERT INTO persons (id, sex, birth_date, prefecture, municipality, card_serial)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    args![p.id, p.sex.as_str(), p.birth_date, p.prefecture, p.municipality, p.card_serial],
                )
                .map_err(|e| dup(e, format!("person {} or its card", p.id)))?;
                for q in &p.qualifications {
                    tx.execute(
                        "INSERT INTO qualifications (person_id, insurer_number, symbol, number, branch, valid_from, valid_to)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        args![p.id, q.insurer_number, q.symbol, q.number, q.branch, q.valid_from, q.valid_to],
                    )
                    .map_err(|e| dup(e, format!("insurance number {}/{}/{}/{}", q.insurer_number, q.symbol, q.number, q.branch)))?;
                }
                for e in &p.public_expenses {
                    tx.execute(
                        "INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from, valid_to)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        args![p.id, e.law_code, e.payer_number, e.recipient_number, e.valid_from, e.valid_to],
                    )?;
                }
                if let Some(c) = &p.care_certification {
                    tx.execute(
                        "INSERT INTO care_certifications (person_id, municipality, level, valid_from, valid_to, registered_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                        args![p.id, p.municipality, c.level.as_str(), c.valid_from, c.valid_to],
                    )?;
                }
                if let Some((provider, given_ms, expires_ms)) = care_consent(p) {
                    tx.execute(
                        "INSERT INTO consents (person_id, facility_code, kind, method, given_at_ms, expires_at_ms)
                         VALUES (?1, ?2, 'care', 'portal', ?3, ?4)",
                        args![p.id, provider, given_ms, expires_ms],
                    )?;
                }
                if let Some(g) = Pregnancy::of(p) {
                    tx.execute(
                        "INSERT INTO maternal_records (person_id, kind, on_date, end_date, recorded_by, recorded_at_ms, details)
                         VALUES (?1, 'pregnancy', ?2, ?3, ?4, 0, ?5)",
                        args![p.id, g.on, g.due, g.recorded_by, g.details],
                    )?;
                }
            }
            Ok(persons.len() as u64)
        })
    }

    fn import_insurers(&self, insurers: &[InsurerRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            for i in insurers {
                tx.execute(
                    "INSERT INTO insurers (number, scheme, name, prefecture) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (number) DO UPDATE SET scheme = excluded.scheme,
                       name = excluded.name, prefecture = excluded.prefecture",
                    args![i.number, i.scheme, i.name, i.prefecture],
                )?;
            }
            Ok(insurers.len() as u64)
        })
    }

    fn import_facilities(&self, facilities: &[FacilityRecord]) -> Result<u64, StoreError> {
        self.write(|tx| {
            for f in facilities {
                tx.execute(
                    "INSERT INTO facilities (code, kind, name, prefecture) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                       prefecture = excluded.prefecture",
                    args![f.code, f.kind.as_str(), f.name, f.prefecture],
                )?;
            }
            Ok(facilities.len() as u64)
        })
    }
}
