//! Loads a generated population into the reference exchange's store: insurers, facilities, and
//! persons with their insurance numbers, card serials and entitlements, in large transactions.

use super::life::Life;
use anyhow::Context as _;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use chrono::{Datelike, NaiveDate, TimeDelta};
use dx_exchange::codes::insurer_number;
use dx_exchange::store::{SqlStore, Store};
use dx_exchange::wire::{
    FacilityKind, FacilityRecord, InsurerRecord, MunicipalityRecord, PersonRecord,
    PublicExpenseRecord, QualificationRecord, Sex,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::Path;

/// Persons stored per transaction.
const PERSONS_PER_TRANSACTION: usize = 200_000;

/// What an import stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub insurers: u64,
    pub facilities: u64,
    pub persons: u64,
}

fn batches(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<RecordBatch>>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(65_536)
        .build()?;
    let p = path.display().to_string();
    Ok(reader.map(move |b| b.with_context(|| format!("reading {p}"))))
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a dyn Array> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| anyhow::anyhow!("column {name} is missing"))
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a arrow_array::StringArray> {
    column(b, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| anyhow::anyhow!("column {name} is not text"))
}

fn opt(a: &arrow_array::StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Reads `insurers.parquet` into import records.
pub fn read_insurers(dir: &Path) -> anyhow::Result<Vec<InsurerRecord>> {
    let mut out = Vec::new();
    for b in batches(&dir.join("insurers.parquet"))? {
        let b = b?;
        let (number, name) = (strings(&b, "number")?, strings(&b, "name")?);
        let scheme = column(&b, "scheme")?.as_primitive::<UInt8Type>();
        let pref = column(&b, "prefecture")?.as_primitive::<UInt8Type>();
        for i in 0..b.num_rows() {
            out.push(InsurerRecord {
                number: number.value(i).to_owned(),
                scheme: (!scheme.is_null(i)).then(|| scheme.value(i)),
                name: name.value(i).to_owned(),
                prefecture: pref.value(i),
            });
        }
    }
    Ok(out)
}

/// Reads `municipalities.parquet` into import records.
pub fn read_municipalities(dir: &Path) -> anyhow::Result<Vec<MunicipalityRecord>> {
    let mut out = Vec::new();
    for b in batches(&dir.join("municipalities.parquet"))? {
        let b = b?;
        let (code, name) = (strings(&b, "code")?, strings(&b, "name")?);
        let pref = column(&b, "prefecture")?.as_primitive::<UInt8Type>();
        for i in 0..b.num_rows() {
            out.push(MunicipalityRecord {
                code: code.value(i).to_owned(),
                name: name.value(i).to_owned(),
                prefecture: pref.value(i),
            });
        }
    }
    Ok(out)
}

/// Care providers of each prefecture, sorted by code.
pub fn care_providers(facilities: &[FacilityRecord]) -> HashMap<u8, Vec<String>> {
    let mut out: HashMap<u8, Vec<String>> = HashMap::new();
    for f in facilities
        .iter()
        .filter(|f| f.kind == FacilityKind::CareProvider)
    {
        out.entry(f.prefecture).or_default().push(f.code.clone());
    }
    for l in out.values_mut() {
        l.sort();
    }
    out
}

/// Reads `facilities.parquet` into import records.
pub fn read_facilities(dir: &Path) -> anyhow::Result<Vec<FacilityRecord>> {
    let mut out = Vec::new();
    for b in batches(&dir.join("facilities.parquet"))? {
        let b = b?;
        let (code, kind, name) = (
            strings(&b, "code")?,
            strings(&b, "kind")?,
            strings(&b, "name")?,
        );
        let pref = column(&b, "prefecture")?.as_primitive::<UInt8Type>();
        for i in 0..b.num_rows() {
            let kind = match kind.value(i) {
                "hospital" => FacilityKind::Hospital,
                "clinic" => FacilityKind::Clinic,
                "dental" => FacilityKind::Dental,
                "pharmacy" => FacilityKind::Pharmacy,
                "care_provider" => FacilityKind::CareProvider,
                other => anyhow::bail!("facility {}: unknown kind {other}", code.value(i)),
            };
            out.push(FacilityRecord {
                code: code.value(i).to_owned(),
                kind,
                name: name.value(i).to_owned(),
                prefecture: pref.value(i),
            });
        }
    }
    Ok(out)
}

/// The day insurance began: the 75th birthday for the late-elderly union, otherwise the later of
/// birth and 1 April five years before the population's date.
fn valid_from(kind: &str, birth: NaiveDate, as_of: NaiveDate) -> NaiveDate {
    if kind == "late_elderly" {
        return dx_exchange::eligibility::rules::birthday(birth, 75);
    }
    birth.max(NaiveDate::from_ymd_opt(as_of.year() - 5, 4, 1).expect("1 April"))
}

/// Converts one batch of the persons schema into import records.
pub fn person_records(b: &RecordBatch, life: &Life) -> anyhow::Result<Vec<PersonRecord>> {
    let as_of = life.as_of;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let (id, sex, muni) = (
        strings(b, "id")?,
        strings(b, "sex")?,
        strings(b, "municipality")?,
    );
    let (ins, ins_type, symbol, number, branch) = (
        strings(b, "insurer_number")?,
        strings(b, "insurer_type")?,
        strings(b, "symbol")?,
        strings(b, "number")?,
        strings(b, "branch")?,
    );
    let (serial, law) = (
        strings(b, "card_serial")?,
        strings(b, "public_expense_law")?,
    );
    let prev = [
        strings(b, "previous_insurer_number")?,
        strings(b, "previous_symbol")?,
        strings(b, "previous_number")?,
        strings(b, "previous_branch")?,
    ];
    let coverage_from = column(b, "coverage_from")?.as_primitive::<Date32Type>();
    let prev_until = column(b, "previous_until")?.as_primitive::<Date32Type>();
    let next = [
        strings(b, "next_insurer_number")?,
        strings(b, "next_symbol")?,
        strings(b, "next_number")?,
        strings(b, "next_branch")?,
        strings(b, "next_change")?,
    ];
    let next_from = column(b, "next_from")?.as_primitive::<Date32Type>();
    let day = |days: i32| epoch + TimeDelta::days(i64::from(days));
    let registered = column(b, "card_registered")?.as_boolean();
    let pregnant = column(b, "pregnant")?.as_boolean();
    let ltc = column(b, "ltc_level")?.as_primitive::<UInt8Type>();
    let birth = column(b, "birth_date")?.as_primitive::<Date32Type>();
    let pref = column(b, "prefecture")?.as_primitive::<UInt8Type>();
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let birth_date = epoch + TimeDelta::days(i64::from(birth.value(i)));
        // The coverage in force, and the one before it where the history has one.
        let mut qualifications = match opt(ins, i) {
            Some(insurer) => vec![QualificationRecord {
                insurer_number: insurer.to_owned(),
                symbol: opt(symbol, i).unwrap_or_default().to_owned(),
                number: opt(number, i).unwrap_or_default().to_owned(),
                branch: opt(branch, i).unwrap_or("00").to_owned(),
                valid_from: if coverage_from.is_null(i) {
                    valid_from(opt(ins_type, i).unwrap_or_default(), birth_date, as_of)
                } else {
                    day(coverage_from.value(i))
                },
                valid_to: None,
            }],
            None => Vec::new(),
        };
        if let (Some(insurer), false) = (opt(prev[0], i), prev_until.is_null(i)) {
            let until = day(prev_until.value(i));
            qualifications.push(QualificationRecord {
                insurer_number: insurer.to_owned(),
                symbol: opt(prev[1], i).unwrap_or_default().to_owned(),
                number: opt(prev[2], i).unwrap_or_default().to_owned(),
                branch: opt(prev[3], i).unwrap_or("00").to_owned(),
                valid_from: valid_from("", birth_date, as_of).min(until),
                valid_to: Some(until),
            });
        }
        // Turning 75: the union's qualification from the birthday (registered ahead), the
        // current one ending the day before. A change of employer is the insurers' to report
        // once it happens (the workload's reports), so the store holds nothing of it yet.
        let reported_later = opt(next[4], i).is_some_and(|why| why != "75th_birthday");
        if let (Some(insurer), false, false) =
            (opt(next[0], i), next_from.is_null(i), reported_later)
        {
            let from = day(next_from.value(i));
            if let Some(current) = qualifications.first_mut() {
                current.valid_to = Some(from - TimeDelta::days(1));
            }
            qualifications.push(QualificationRecord {
                insurer_number: insurer.to_owned(),
                symbol: opt(next[1], i).unwrap_or_default().to_owned(),
                number: opt(next[2], i).unwrap_or_default().to_owned(),
                branch: opt(next[3], i).unwrap_or("00").to_owned(),
                valid_from: from,
                valid_to: None,
            });
        }
        let index: u64 = id.value(i).trim_start_matches('P').parse().unwrap_or(0);
        let public_expenses = opt(law, i)
            .and_then(|law| {
                let valid_from = match law {
                    // A child's subsidy registered after the population's date is registered by
                    // the workload; the yearly certificates run from their last renewal.
                    "88" if life.subsidy_registered(index, birth_date) > as_of => return None,
                    "88" | "54" => life.entitlement_from(index, birth_date, as_of),
                    _ => birth_date
                        .max(NaiveDate::from_ymd_opt(as_of.year() - 1, 4, 1).expect("1 April")),
                };
                let code: u8 = law.parse().unwrap_or(0);
                Some(vec![PublicExpenseRecord {
                    law_code: law.to_owned(),
                    payer_number: insurer_number(Some(code), pref.value(i), 1),
                    recipient_number: dx_exchange::municipal::rules::recipient_number(
                        (index % 1_000_000) as u32,
                    ),
                    valid_from,
                    valid_to: None,
                }])
            })
            .unwrap_or_default();
        let care_certification = life.care(index, ltc.value(i), pref.value(i));
        out.push(PersonRecord {
            care_certification,
            pregnancy: pregnant.value(i).then(|| life.pregnancy(index)),
            id: id.value(i).to_owned(),
            sex: Sex::parse(sex.value(i))
                .with_context(|| format!("persons: sex {:?}", sex.value(i)))?,
            birth_date,
            prefecture: pref.value(i),
            municipality: muni.value(i).to_owned(),
            // Only a card registered as insurance card verifies eligibility.
            card_serial: if registered.value(i) {
                opt(serial, i).map(str::to_owned)
            } else {
                None
            },
            qualifications,
            public_expenses,
        });
    }
    Ok(out)
}

/// Imports the population in `dir` into an empty SQLite store, with its secondary indexes
/// rebuilt after the load (see [`SqlStore::bulk_load`]).
pub fn import_fresh(dir: &Path, store: &SqlStore, progress: bool) -> anyhow::Result<Imported> {
    let mut failure = None;
    let result = store.bulk_load(|s| {
        import(dir, s, progress).map_err(|e| {
            failure = Some(e);
            dx_exchange::store::StoreError::Conflict("the population import failed")
        })
    });
    match (result, failure) {
        (_, Some(e)) => Err(e),
        (Ok(done), None) => Ok(done),
        (Err(e), None) => Err(e.into()),
    }
}

/// Imports the population in `dir` (as written by `dxsim population`) into `store`.
pub fn import(dir: &Path, store: &dyn Store, progress: bool) -> anyhow::Result<Imported> {
    let manifest = super::read_manifest(dir)?;
    let as_of: NaiveDate = manifest
        .as_of
        .parse()
        .with_context(|| format!("{}: as_of {:?}", dir.display(), manifest.as_of))?;
    let insurers = store.import_insurers(&read_insurers(dir)?)?;
    let facility_records = read_facilities(dir)?;
    let facilities = store.import_facilities(&facility_records)?;
    store.import_municipalities(&read_municipalities(dir)?)?;
    let life = Life {
        seed: manifest.seed,
        as_of,
        care_providers: care_providers(&facility_records),
    };
    let bar = if progress {
        indicatif::ProgressBar::new(manifest.persons)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "importing persons {human_pos}/{human_len} [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("template"),
    );
    // Reading, converting and validating run on their own thread, one batch ahead of the
    // inserts, so the single SQLite writer is never waiting on Parquet.
    let (tx, rx) = std::sync::mpsc::sync_channel::<anyhow::Result<Vec<PersonRecord>>>(2);
    let files: Vec<std::path::PathBuf> = manifest
        .person_files
        .iter()
        .map(|rel| dir.join(rel))
        .collect();
    let reader = std::thread::spawn(move || {
        let mut pending: Vec<PersonRecord> = Vec::with_capacity(PERSONS_PER_TRANSACTION);
        let mut read = || -> anyhow::Result<()> {
            for path in &files {
                for b in batches(path)? {
                    for r in person_records(&b?, &life)? {
                        dx_exchange::eligibility::validate_person(&r).map_err(|e| {
                            anyhow::anyhow!("{}: person {}: {e}", path.display(), r.id)
                        })?;
                        pending.push(r);
                    }
                    if pending.len() >= PERSONS_PER_TRANSACTION
                        && tx.send(Ok(std::mem::take(&mut pending))).is_err()
                    {
                        return Ok(());
                    }
                }
            }
            Ok(())
        };
        let result = read();
        match result {
            Ok(()) if !pending.is_empty() => {
                let _ = tx.send(Ok(pending));
            }
            Ok(()) => {}
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
    });
    let mut persons = 0;
    for chunk in rx {
        let chunk = chunk?;
        persons += store.import_persons_bulk(&chunk)?;
        bar.inc(chunk.len() as u64);
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the population reader panicked"))?;
    bar.finish_and_clear();
    Ok(Imported {
        insurers,
        facilities,
        persons,
    })
}
