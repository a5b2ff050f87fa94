//! Parquet files of a population. Row groups and encoder batches have fixed sizes, whatever the
//! generation chunk, and no timestamps are written, so the same scenario and seed give the same
//! bytes.

use super::orgs::Orgs;
use super::persons::{Person, card_serial_number};
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, StringBuilder, UInt8Builder, UInt16Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Rows per row group in every file.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows per batch handed to the Parquet encoder (the last batch of a part may be shorter). The
/// encoder closes pages at batch boundaries, so a fixed size keeps the bytes independent of the
/// generation chunk.
pub const WRITE_ROWS: usize = 65_536;

pub fn writer_properties() -> WriterProperties {
    let mut b = WriterProperties::builder();
    // Dictionaries only where values repeat a lot; for near-unique or thousands-valued columns
    // building one costs more time than it saves space.
    for column in [
        "id",
        "number",
        "card_serial",
        "birth_date",
        "municipality",
        "household",
        "previous_symbol",
        "previous_number",
        "next_symbol",
        "next_number",
        "insurer_number",
        "symbol",
        "home_clinic",
        "usual_pharmacy",
    ] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    b.set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("dxsim {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// Schema of `persons/NN/part-KKKKK.parquet`.
pub fn persons_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("sex", false),
        Field::new("birth_date", DataType::Date32, false),
        Field::new("age", DataType::UInt8, false),
        Field::new("prefecture", DataType::UInt8, false),
        utf8("municipality", false),
        // The head's person id, and this person's relation to the head (`head`, `spouse`,
        // `child`, `parent`).
        utf8("household", false),
        utf8("relation", false),
        utf8("insurer_number", true),
        utf8("insurer_type", true),
        utf8("symbol", true),
        utf8("number", true),
        utf8("branch", true),
        // The qualification history (`history.rs`): the coverage in force since this day; the
        // one before it (insurer number, 記号, 番号, 枝番, last day covered) if it changed
        // within the window, and why (`75th_birthday`, `job_change`, `retirement`, `move`).
        Field::new("coverage_from", DataType::Date32, true),
        utf8("previous_insurer_number", true),
        utf8("previous_symbol", true),
        utf8("previous_number", true),
        utf8("previous_branch", true),
        Field::new("previous_until", DataType::Date32, true),
        utf8("coverage_change", true),
        // The coverage after it within the year: the late-elderly union's for a person turning
        // 75, a new employer's for one changing jobs (and their dependants): insurer number,
        // 記号, 番号, 枝番, first day, why (`75th_birthday`, `job_change`).
        utf8("next_insurer_number", true),
        utf8("next_symbol", true),
        utf8("next_number", true),
        utf8("next_branch", true),
        Field::new("next_from", DataType::Date32, true),
        utf8("next_change", true),
        Field::new("card_held", DataType::Boolean, false),
        Field::new("card_registered", DataType::Boolean, false),
        utf8("card_serial", true),
        Field::new("conditions", DataType::UInt16, false),
        Field::new("pregnant", DataType::Boolean, false),
        Field::new("ltc_level", DataType::UInt8, false),
        utf8("public_expense_law", true),
        utf8("home_clinic", true),
        utf8("usual_pharmacy", true),
    ]))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
}

/// Person id as the exchange uses it.
pub fn person_id(id: u64) -> String {
    format!("P{id:010}")
}

/// Appends `prefix` and `n` in decimal, zero-padded to `width` digits: the persons' ids and
/// numbers, without the formatting machinery (millions of them a second).
fn append_padded(b: &mut StringBuilder, prefix: &str, mut n: u64, width: usize) {
    let mut buf = [b'0'; 32];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = (buf.len() - width).min(at);
    let digits = &mut buf[start - prefix.len()..];
    digits[..prefix.len()].copy_from_slice(prefix.as_bytes());
    b.append_value(std::str::from_utf8(digits).expect("ASCII"));
}

/// A batch of persons in the persons schema.
pub fn persons_batch(orgs: &Orgs, persons: &[Person]) -> RecordBatch {
    let n = persons.len();
    let mut id = StringBuilder::with_capacity(n, n * 11);
    let mut sex = StringBuilder::with_capacity(n, n);
    let mut birth = Date32Builder::with_capacity(n);
    let mut age = UInt8Builder::with_capacity(n);
    let mut pref = UInt8Builder::with_capacity(n);
    let mut muni = StringBuilder::with_capacity(n, n * 6);
    let mut household = StringBuilder::with_capacity(n, n * 11);
    let mut relation = StringBuilder::with_capacity(n, n * 5);
    let mut ins_no = StringBuilder::with_capacity(n, n * 8);
    let mut ins_type = StringBuilder::with_capacity(n, n * 12);
    let mut symbol = StringBuilder::with_capacity(n, n * 5);
    let mut number = StringBuilder::with_capacity(n, n * 9);
    let mut branch = StringBuilder::with_capacity(n, n * 2);
    let mut coverage_from = Date32Builder::with_capacity(n);
    let mut prev: [StringBuilder; 4] = std::array::from_fn(|_| StringBuilder::new());
    let mut prev_until = Date32Builder::with_capacity(n);
    let mut change = StringBuilder::new();
    let mut next: [StringBuilder; 4] = std::array::from_fn(|_| StringBuilder::new());
    let mut next_from = Date32Builder::with_capacity(n);
    let mut next_change = StringBuilder::new();
    let mut held = BooleanBuilder::with_capacity(n);
    let mut registered = BooleanBuilder::with_capacity(n);
    let mut serial = StringBuilder::with_capacity(n, n * 12);
    let mut conditions = UInt16Builder::with_capacity(n);
    let mut pregnant = BooleanBuilder::with_capacity(n);
    let mut ltc = UInt8Builder::with_capacity(n);
    let mut pubexp = StringBuilder::with_capacity(n, n);
    let mut clinic = StringBuilder::with_capacity(n, n * 10);
    let mut pharmacy = StringBuilder::with_capacity(n, n * 10);
    for p in persons {
        append_padded(&mut id, "P", p.id, 10);
        sex.append_value(if p.male { "M" } else { "F" });
        birth.append_value((p.birth_date - epoch()).num_days() as i32);
        age.append_value(p.age.min(255) as u8);
        pref.append_value(p.prefecture);
        muni.append_value(&orgs.municipalities[p.municipality as usize].code);
        append_padded(&mut household, "P", p.household, 10);
        relation.append_value(p.relation.as_str());
        match p.insurer {
            Some(i) => {
                let ins = &orgs.insurers[i as usize];
                ins_no.append_value(&ins.number);
                ins_type.append_value(ins.kind.as_str());
                append_padded(&mut symbol, "", u64::from(p.symbol), 1);
                append_padded(&mut number, "", p.number, 9);
                append_padded(&mut branch, "", u64::from(p.branch), 2);
            }
            None => {
                for b in [
                    &mut ins_no,
                    &mut ins_type,
                    &mut symbol,
                    &mut number,
                    &mut branch,
                ] {
                    b.append_null();
                }
            }
        }
        coverage_from.append_option(p.coverage_from.map(|d| (d - epoch()).num_days() as i32));
        match p.previous {
            Some(q) => {
                prev[0].append_value(&orgs.insurers[q.insurer as usize].number);
                append_padded(&mut prev[1], "", u64::from(q.symbol), 1);
                append_padded(&mut prev[2], "", q.number, 9);
                append_padded(&mut prev[3], "", u64::from(q.branch), 2);
                prev_until.append_value((q.until - epoch()).num_days() as i32);
            }
            None => {
                for b in &mut prev {
                    b.append_null();
                }
                prev_until.append_null();
            }
        }
        change.append_option(p.change.map(|c| c.as_str()));
        match p.next {
            Some(q) => {
                next[0].append_value(&orgs.insurers[q.insurer as usize].number);
                append_padded(&mut next[1], "", u64::from(q.symbol), 1);
                append_padded(&mut next[2], "", q.number, 9);
                append_padded(&mut next[3], "", u64::from(q.branch), 2);
                next_from.append_value((q.from - epoch()).num_days() as i32);
                next_change.append_value(q.why.as_str());
            }
            None => {
                for b in &mut next {
                    b.append_null();
                }
                next_from.append_null();
                next_change.append_null();
            }
        }
        held.append_value(p.card_held);
        registered.append_value(p.card_registered);
        if p.card_held {
            append_padded(&mut serial, "C", card_serial_number(p.id), 11);
        } else {
            serial.append_null();
        }
        conditions.append_value(p.conditions);
        pregnant.append_value(p.pregnant);
        ltc.append_value(p.ltc_level);
        pubexp.append_option(p.public_expense);
        clinic.append_option(
            p.home_clinic
                .map(|f| orgs.facilities[f as usize].code.as_str()),
        );
        pharmacy.append_option(
            p.usual_pharmacy
                .map(|f| orgs.facilities[f as usize].code.as_str()),
        );
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(sex.finish()),
        Arc::new(birth.finish()),
        Arc::new(age.finish()),
        Arc::new(pref.finish()),
        Arc::new(muni.finish()),
        Arc::new(household.finish()),
        Arc::new(relation.finish()),
        Arc::new(ins_no.finish()),
        Arc::new(ins_type.finish()),
        Arc::new(symbol.finish()),
        Arc::new(number.finish()),
        Arc::new(branch.finish()),
        Arc::new(coverage_from.finish()),
        Arc::new(prev[0].finish()),
        Arc::new(prev[1].finish()),
        Arc::new(prev[2].finish()),
        Arc::new(prev[3].finish()),
        Arc::new(prev_until.finish()),
        Arc::new(change.finish()),
        Arc::new(next[0].finish()),
        Arc::new(next[1].finish()),
        Arc::new(next[2].finish()),
        Arc::new(next[3].finish()),
        Arc::new(next_from.finish()),
        Arc::new(next_change.finish()),
        Arc::new(held.finish()),
        Arc::new(registered.finish()),
        Arc::new(serial.finish()),
        Arc::new(conditions.finish()),
        Arc::new(pregnant.finish()),
        Arc::new(ltc.finish()),
        Arc::new(pubexp.finish()),
        Arc::new(clinic.finish()),
        Arc::new(pharmacy.finish()),
    ];
    RecordBatch::try_new(persons_schema(), columns).expect("columns match the schema")
}

/// Writes one batch as a whole Parquet file.
pub fn write_file(path: &Path, batch: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
    let mut w = ArrowWriter::try_new(
        File::create(path)?,
        batch.schema(),
        Some(writer_properties()),
    )?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

/// `prefectures.parquet`, `municipalities.parquet`, `insurers.parquet` (with member counts),
/// `facilities.parquet`.
pub fn write_orgs(
    dir: &Path,
    orgs: &Orgs,
    insurer_members: &[u64],
) -> Result<(), parquet::errors::ParquetError> {
    let mut code = UInt8Builder::new();
    let mut name = StringBuilder::new();
    let mut persons = UInt64Builder::new();
    let mut munis = UInt16Builder::new();
    for p in &orgs.prefectures {
        code.append_value(p.code);
        name.append_value(p.name);
        persons.append_value(p.persons);
        munis.append_value(p.municipalities.len() as u16);
    }
    let schema = Schema::new(vec![
        Field::new("code", DataType::UInt8, false),
        utf8("name", false),
        Field::new("persons", DataType::UInt64, false),
        Field::new("municipalities", DataType::UInt16, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(code.finish()),
        Arc::new(name.finish()),
        Arc::new(persons.finish()),
        Arc::new(munis.finish()),
    ];
    write_file(
        &dir.join("prefectures.parquet"),
        &RecordBatch::try_new(Arc::new(schema), cols).expect("schema"),
    )?;

    let (mut code, mut name, mut pref, mut persons, mut first, mut synth) = (
        StringBuilder::new(),
        StringBuilder::new(),
        UInt8Builder::new(),
        UInt64Builder::new(),
        UInt64Builder::new(),
        BooleanBuilder::new(),
    );
    for m in &orgs.municipalities {
        code.append_value(&m.code);
        name.append_value(&m.name);
        pref.append_value(m.prefecture);
        persons.append_value(m.persons);
        first.append_value(m.first_person);
        synth.append_value(m.synthetic);
    }
    let schema = Schema::new(vec![
        utf8("code", false),
        utf8("name", false),
        Field::new("prefecture", DataType::UInt8, false),
        Field::new("persons", DataType::UInt64, false),
        Field::new("first_person", DataType::UInt64, false),
        Field::new("synthetic", DataType::Boolean, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(code.finish()),
        Arc::new(name.finish()),
        Arc::new(pref.finish()),
        Arc::new(persons.finish()),
        Arc::new(first.finish()),
        Arc::new(synth.finish()),
    ];
    write_file(
        &dir.join("municipalities.parquet"),
        &RecordBatch::try_new(Arc::new(schema), cols).expect("schema"),
    )?;

    let (mut number, mut kind, mut scheme, mut name, mut pref, mut weight, mut members) = (
        StringBuilder::new(),
        StringBuilder::new(),
        UInt8Builder::new(),
        StringBuilder::new(),
        UInt8Builder::new(),
        Float64Builder::new(),
        UInt64Builder::new(),
    );
    for (i, ins) in orgs.insurers.iter().enumerate() {
        number.append_value(&ins.number);
        kind.append_value(ins.kind.as_str());
        scheme.append_option(
            (ins.number.len() == 8).then(|| ins.number[..2].parse::<u8>().expect("digits")),
        );
        name.append_value(&ins.name);
        pref.append_value(ins.prefecture);
        weight.append_value(ins.weight);
        members.append_value(insurer_members[i]);
    }
    let schema = Schema::new(vec![
        utf8("number", false),
        utf8("type", false),
        Field::new("scheme", DataType::UInt8, true),
        utf8("name", false),
        Field::new("prefecture", DataType::UInt8, false),
        Field::new("size_weight", DataType::Float64, false),
        Field::new("members", DataType::UInt64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(number.finish()),
        Arc::new(kind.finish()),
        Arc::new(scheme.finish()),
        Arc::new(name.finish()),
        Arc::new(pref.finish()),
        Arc::new(weight.finish()),
        Arc::new(members.finish()),
    ];
    write_file(
        &dir.join("insurers.parquet"),
        &RecordBatch::try_new(Arc::new(schema), cols).expect("schema"),
    )?;

    let (mut code, mut kind, mut name, mut pref, mut muni, mut hours, mut online, mut erx) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        UInt8Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        BooleanBuilder::new(),
        BooleanBuilder::new(),
    );
    for f in &orgs.facilities {
        code.append_value(&f.code);
        kind.append_value(f.kind.as_str());
        name.append_value(&f.name);
        pref.append_value(f.prefecture);
        muni.append_value(&orgs.municipalities[f.municipality].code);
        hours.append_value(f.hours);
        online.append_value(f.online_eligibility);
        erx.append_value(f.eprescription);
    }
    let schema = Schema::new(vec![
        utf8("code", false),
        utf8("kind", false),
        utf8("name", false),
        Field::new("prefecture", DataType::UInt8, false),
        utf8("municipality", false),
        utf8("hours", false),
        Field::new("online_eligibility", DataType::Boolean, false),
        Field::new("eprescription", DataType::Boolean, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(code.finish()),
        Arc::new(kind.finish()),
        Arc::new(name.finish()),
        Arc::new(pref.finish()),
        Arc::new(muni.finish()),
        Arc::new(hours.finish()),
        Arc::new(online.finish()),
        Arc::new(erx.finish()),
    ];
    write_file(
        &dir.join("facilities.parquet"),
        &RecordBatch::try_new(Arc::new(schema), cols).expect("schema"),
    )
}
