//! The event file: events (`dx_model::event::Event`) as rows of Parquet, time-sorted. This
//! module's writer ([`to_batch`]) and reader ([`from_batch`]) are the only code that knows the
//! columns; they round-trip every event exactly.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | u64 | unique and stable: person index × 2^20 + the person's event number |
//! | `at` | timestamp (ms, +09:00) | when the request is due, simulated time |
//! | `flow` | text | the flow that made it (`visit`, `refill`, `discharge`, `checkup`, `vaccination`, `maternal`, `care`, `portal`) |
//! | `route` | text | the route (`dx_model::route::Route`): `verify`, `batch` (one person of a batch pre-check), `consent`, `check`, `register`, `cancel`, `retrieve`, `dispense`, `paper_dispense`; EHR sharing: `ehr_items`, `ehr_document`, `ehr_inbox`, `ehr_read`, `ehr_receive`, `ehr_summary`; municipal and portal: `vaccination_record`, `vaccination_batch` (one dose of a municipal batch upload), `vaccination_read`, `vaccination_schedule`, `prenatal_checkup`, `infant_checkup`, `pregnancy_register`, `entitlement_register`, `care_certify`, `care_read`, `portal_read`, `portal_apply`, `application_decide`; insurers: `qualification_acquire`, `qualification_lose`; `healthz` (a liveness probe, for benchmarks of the driver itself) |
//! | `needs` | u64, null | the event whose result this one needs |
//! | `facility` | text, null | the requesting facility's code; a municipality's 6-digit code for municipal requests; the insurer's number for an insurer's report; null for the person's own portal requests |
//! | `person_id` | text | the person |
//! | `card_serial` | text, null | set when the person is identified by card |
//! | `insurer_number`, `symbol`, `number`, `branch` | text, null | the insurance number (identification, coverage for a registration, or the qualification an insurer reports) |
//! | `sex`, `birth_date` | text, date | for the prescription document; sex `F` or `M`, as in the population's files |
//! | `consent` | bool | verification: consent given at the card reader to viewing records; true for a verbal consent |
//! | `kind` | text, null | registration: `electronic` or `in_hospital`; EHR document: `referral`, `discharge_summary`, `checkup_report`; portal page: `medications`, `vaccinations`, `checkups`, `care`, `access_log`, `applications`; application: `vaccination_voucher`, `medical_subsidy`, `care_certification` |
//! | `uses` | u8 | registration: uses allowed (refills 2–3); municipal upload: days between the dose and the upload; pregnancy notification: days since the pregnancy was confirmed |
//! | `other_facility` | text, null | paper dispensing: the prescriber's facility code; referral letter: the addressee |
//! | `items` | text, null | drug lines `YJ:days:quantity`, `;`-separated; EHR facts, `;`-separated (see [`facts_text`]); vaccination: the vaccine code; care certification: `level:valid_from:valid_to`; prenatal checkup: gestational weeks; pregnancy notification: days from the confirmation to the expected delivery; entitlement: `law:from_days` (the law code, and the first valid day relative to the registration's day); insurer's report: the first (acquisition) or last (loss) day covered, relative to the report's day |

use anyhow::Context as _;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, StringBuilder, TimestampMillisecondBuilder, UInt8Builder,
    UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMillisecondType, UInt8Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use dx_exchange::wire::clins::DocumentKind;
use dx_exchange::wire::{ApplicationKind, CareLevel, PrescriptionKind, Sex};
use dx_model::event::{Centi, DrugLine, Event, Fact, FactLine, Flow, Payload, PortalPage};
use dx_model::route::Route;
use std::sync::Arc;

pub fn schema() -> Arc<Schema> {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt64, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+09:00".into())),
            false,
        ),
        text("flow", false),
        text("route", false),
        Field::new("needs", DataType::UInt64, true),
        // Null for the person's own requests (the portal), which no facility sends.
        text("facility", true),
        text("person_id", false),
        text("card_serial", true),
        text("insurer_number", true),
        text("symbol", true),
        text("number", true),
        text("branch", true),
        text("sex", false),
        Field::new("birth_date", DataType::Date32, false),
        Field::new("consent", DataType::Boolean, false),
        text("kind", true),
        Field::new("uses", DataType::UInt8, false),
        text("other_facility", true),
        text("items", true),
    ]))
}

/// The payload's columns: `consent`, `kind`, `uses`, `other_facility`, `items`.
#[derive(Debug, Default, PartialEq)]
struct Columns<'a> {
    consent: bool,
    kind: Option<&'static str>,
    uses: u8,
    other_facility: Option<&'a str>,
    items: Option<String>,
}

fn columns(p: &Payload) -> Columns<'_> {
    let c = Columns::default();
    match p {
        Payload::Verify { consent } => Columns {
            consent: *consent,
            ..c
        },
        Payload::Consent => Columns { consent: true, ..c },
        Payload::Check { drugs } | Payload::Dispense { drugs } => Columns {
            items: Some(drugs_text(drugs)),
            ..c
        },
        Payload::Register { kind, uses, drugs } => Columns {
            kind: Some(prescription_kind(*kind)),
            uses: *uses,
            items: Some(drugs_text(drugs)),
            ..c
        },
        Payload::PaperDispense { prescriber, drugs } => Columns {
            other_facility: Some(prescriber),
            items: Some(drugs_text(drugs)),
            ..c
        },
        Payload::EhrItems { facts } => Columns {
            items: Some(facts_text(facts)),
            ..c
        },
        Payload::EhrDocument {
            kind,
            addressee,
            facts,
        } => Columns {
            kind: Some(kind.as_str()),
            other_facility: addressee.as_deref(),
            items: Some(facts_text(facts)),
            ..c
        },
        Payload::VaccinationRecord { vaccine } => Columns {
            items: Some(vaccine.clone()),
            ..c
        },
        Payload::VaccinationBatch { vaccine, days_ago } => Columns {
            uses: *days_ago,
            items: Some(vaccine.clone()),
            ..c
        },
        Payload::PrenatalCheckup { gestational_weeks } => Columns {
            items: Some(gestational_weeks.to_string()),
            ..c
        },
        Payload::PregnancyRegister {
            confirmed_days_ago,
            term_days,
        } => Columns {
            uses: *confirmed_days_ago,
            items: Some(term_days.to_string()),
            ..c
        },
        Payload::QualificationAcquire { from_days: days }
        | Payload::QualificationLose { to_days: days } => Columns {
            items: Some(days.to_string()),
            ..c
        },
        Payload::EntitlementRegister { law, from_days } => Columns {
            items: Some(format!("{law}:{from_days}")),
            ..c
        },
        Payload::CareCertify {
            level,
            valid_from,
            valid_to,
        } => Columns {
            items: Some(format!("{}:{valid_from}:{valid_to}", level.as_str())),
            ..c
        },
        Payload::PortalRead { page } => Columns {
            kind: Some(page.as_str()),
            ..c
        },
        Payload::PortalApply { kind } => Columns {
            kind: Some(kind.as_str()),
            ..c
        },
        Payload::Batch
        | Payload::Cancel
        | Payload::Retrieve
        | Payload::EhrInbox
        | Payload::EhrRead
        | Payload::EhrReceive
        | Payload::EhrSummary
        | Payload::VaccinationRead
        | Payload::VaccinationSchedule
        | Payload::InfantCheckup
        | Payload::CareRead
        | Payload::ApplicationDecide
        | Payload::Healthz => c,
    }
}

fn prescription_kind(k: PrescriptionKind) -> &'static str {
    match k {
        PrescriptionKind::Electronic => "electronic",
        PrescriptionKind::InHospital => "in_hospital",
    }
}

/// The payload of a `route` row from its columns; a row whose columns do not fit its route is
/// refused, naming the column.
fn payload(route: Route, c: Columns<'_>) -> anyhow::Result<Payload> {
    let items = || c.items.as_deref().context("items is missing");
    let kind = || c.kind.context("kind is missing");
    let p = match route {
        Route::Verify => Payload::Verify { consent: c.consent },
        Route::Batch => Payload::Batch,
        Route::Consent => Payload::Consent,
        Route::Check => Payload::Check {
            drugs: parse_drugs(items()?)?,
        },
        Route::Register => Payload::Register {
            kind: match kind()? {
                "electronic" => PrescriptionKind::Electronic,
                "in_hospital" => PrescriptionKind::InHospital,
                other => anyhow::bail!("kind {other:?} is not a prescription kind"),
            },
            uses: c.uses,
            drugs: parse_drugs(items()?)?,
        },
        Route::Cancel => Payload::Cancel,
        Route::Retrieve => Payload::Retrieve,
        Route::Dispense => Payload::Dispense {
            drugs: parse_drugs(items()?)?,
        },
        Route::PaperDispense => Payload::PaperDispense {
            prescriber: c
                .other_facility
                .context("other_facility (the prescriber) is missing")?
                .to_owned(),
            drugs: parse_drugs(items()?)?,
        },
        Route::EhrItems => Payload::EhrItems {
            facts: parse_facts(items()?)?,
        },
        Route::EhrDocument => Payload::EhrDocument {
            kind: DocumentKind::parse(kind()?)
                .with_context(|| format!("kind {:?} is not a document kind", c.kind))?,
            addressee: c.other_facility.map(str::to_owned),
            facts: parse_facts(items()?)?,
        },
        Route::EhrInbox => Payload::EhrInbox,
        Route::EhrRead => Payload::EhrRead,
        Route::EhrReceive => Payload::EhrReceive,
        Route::EhrSummary => Payload::EhrSummary,
        Route::VaccinationRecord => Payload::VaccinationRecord {
            vaccine: items()?.to_owned(),
        },
        Route::VaccinationBatch => Payload::VaccinationBatch {
            vaccine: items()?.to_owned(),
            days_ago: c.uses,
        },
        Route::VaccinationRead => Payload::VaccinationRead,
        Route::VaccinationSchedule => Payload::VaccinationSchedule,
        Route::PrenatalCheckup => Payload::PrenatalCheckup {
            gestational_weeks: items()?.parse().context("items: gestational weeks")?,
        },
        Route::InfantCheckup => Payload::InfantCheckup,
        Route::PregnancyRegister => Payload::PregnancyRegister {
            confirmed_days_ago: c.uses,
            term_days: items()?.parse().context("items: term days")?,
        },
        Route::QualificationAcquire => Payload::QualificationAcquire {
            from_days: items()?.parse().context("items: from_days")?,
        },
        Route::QualificationLose => Payload::QualificationLose {
            to_days: items()?.parse().context("items: to_days")?,
        },
        Route::EntitlementRegister => {
            let spec = items()?;
            let Some((law, days)) = spec.split_once(':') else {
                anyhow::bail!("entitlement {spec:?} is not law:from_days");
            };
            Payload::EntitlementRegister {
                law: law.to_owned(),
                from_days: days.parse().context("items: from_days")?,
            }
        }
        Route::CareCertify => {
            let spec = items()?;
            let mut f = spec.split(':');
            let (Some(level), Some(from), Some(to), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                anyhow::bail!("care certification {spec:?} is not level:valid_from:valid_to");
            };
            Payload::CareCertify {
                level: CareLevel::parse(level).with_context(|| format!("care level {level:?}"))?,
                valid_from: from.parse().context("valid_from")?,
                valid_to: to.parse().context("valid_to")?,
            }
        }
        Route::CareRead => Payload::CareRead,
        Route::PortalRead => Payload::PortalRead {
            page: PortalPage::parse(kind()?)
                .with_context(|| format!("kind {:?} is not a portal page", c.kind))?,
        },
        Route::PortalApply => Payload::PortalApply {
            kind: ApplicationKind::parse(kind()?)
                .with_context(|| format!("kind {:?} is not an application kind", c.kind))?,
        },
        Route::ApplicationDecide => Payload::ApplicationDecide,
        Route::Healthz => Payload::Healthz,
    };
    // What the payload does not carry must be empty, so that reading and writing round-trip.
    let back = columns(&p);
    anyhow::ensure!(
        back == c,
        "columns {c:?} do not fit a {} event (expected {back:?})",
        route.as_str()
    );
    Ok(p)
}

/// Events as a record batch of [`schema`].
pub fn to_batch(events: &[Event]) -> RecordBatch {
    let n = events.len();
    let mut id = UInt64Builder::with_capacity(n);
    let mut at = TimestampMillisecondBuilder::with_capacity(n).with_timezone("+09:00");
    let mut flow = StringBuilder::new();
    let mut route = StringBuilder::new();
    let mut needs = UInt64Builder::with_capacity(n);
    let mut facility = StringBuilder::new();
    let mut person = StringBuilder::new();
    let mut card = StringBuilder::new();
    let mut ins: [StringBuilder; 4] = std::array::from_fn(|_| StringBuilder::new());
    let mut sex = StringBuilder::new();
    let mut birth = Date32Builder::with_capacity(n);
    let mut consent = BooleanBuilder::with_capacity(n);
    let mut kind = StringBuilder::new();
    let mut uses = UInt8Builder::with_capacity(n);
    let mut other_facility = StringBuilder::new();
    let mut items = StringBuilder::new();
    for e in events {
        id.append_value(e.id);
        at.append_value(e.at_ms);
        flow.append_value(e.flow.as_str());
        route.append_value(e.route().as_str());
        needs.append_option(e.needs);
        facility.append_option((!e.facility.is_empty()).then_some(e.facility.as_str()));
        person.append_value(&e.person_id);
        card.append_option(e.card_serial.as_deref());
        for (b, v) in ins.iter_mut().enumerate() {
            v.append_option(e.insurance.as_ref().map(|k| k[b].as_str()));
        }
        sex.append_value(e.sex.as_str());
        birth.append_value(e.birth_date);
        let c = columns(&e.payload);
        consent.append_value(c.consent);
        kind.append_option(c.kind);
        uses.append_value(c.uses);
        other_facility.append_option(c.other_facility);
        items.append_option(c.items.as_deref());
    }
    let [i0, i1, i2, i3] = ins.map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(at.finish()),
        Arc::new(flow.finish()),
        Arc::new(route.finish()),
        Arc::new(needs.finish()),
        Arc::new(facility.finish()),
        Arc::new(person.finish()),
        Arc::new(card.finish()),
        i0,
        i1,
        i2,
        i3,
        Arc::new(sex.finish()),
        Arc::new(birth.finish()),
        Arc::new(consent.finish()),
        Arc::new(kind.finish()),
        Arc::new(uses.finish()),
        Arc::new(other_facility.finish()),
        Arc::new(items.finish()),
    ];
    RecordBatch::try_new(schema(), cols).expect("columns match the schema")
}

/// The text columns of a batch, by name.
struct Texts<'a>(&'a RecordBatch);

impl<'a> Texts<'a> {
    fn get(&self, name: &str) -> anyhow::Result<&'a StringArray> {
        self.0
            .column_by_name(name)
            .with_context(|| format!("event stream: column {name} is missing"))?
            .as_string_opt::<i32>()
            .with_context(|| format!("event stream: column {name} is not text"))
    }
}

fn text_opt(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Reads a record batch of [`schema`] back into events.
pub fn from_batch(b: &RecordBatch) -> anyhow::Result<Vec<Event>> {
    let col = |name: &str| -> anyhow::Result<&ArrayRef> {
        b.column_by_name(name)
            .with_context(|| format!("event stream: column {name} is missing"))
    };
    let t = Texts(b);
    let id = col("id")?.as_primitive::<UInt64Type>();
    let at = col("at")?.as_primitive::<TimestampMillisecondType>();
    let needs = col("needs")?.as_primitive::<UInt64Type>();
    let birth = col("birth_date")?.as_primitive::<Date32Type>();
    let uses = col("uses")?.as_primitive::<UInt8Type>();
    let consent = col("consent")?.as_boolean();
    let (flow, route, facility, person, card) = (
        t.get("flow")?,
        t.get("route")?,
        t.get("facility")?,
        t.get("person_id")?,
        t.get("card_serial")?,
    );
    let ins = [
        t.get("insurer_number")?,
        t.get("symbol")?,
        t.get("number")?,
        t.get("branch")?,
    ];
    let (sex, kind, other_facility, items) = (
        t.get("sex")?,
        t.get("kind")?,
        t.get("other_facility")?,
        t.get("items")?,
    );
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let event_id = id.value(i);
        let route_name = route.value(i);
        let route = Route::parse(route_name)
            .with_context(|| format!("event stream: unknown route {route_name:?}"))?;
        let c = Columns {
            consent: consent.value(i),
            kind: text_opt(kind, i).map(static_kind).transpose()?,
            uses: uses.value(i),
            other_facility: text_opt(other_facility, i),
            items: text_opt(items, i).map(str::to_owned),
        };
        out.push(Event {
            id: event_id,
            at_ms: at.value(i),
            flow: Flow::parse(flow.value(i))
                .with_context(|| format!("event stream: unknown flow {:?}", flow.value(i)))?,
            needs: (!needs.is_null(i)).then(|| needs.value(i)),
            facility: text_opt(facility, i).unwrap_or_default().to_owned(),
            person_id: person.value(i).to_owned(),
            card_serial: text_opt(card, i).map(str::to_owned),
            insurance: (!ins[0].is_null(i)).then(|| ins.map(|a| a.value(i).to_owned())),
            sex: Sex::parse(sex.value(i))
                .with_context(|| format!("event stream: sex {:?}", sex.value(i)))?,
            birth_date: birth.value(i),
            payload: payload(route, c)
                .with_context(|| format!("event stream: event {event_id}"))?,
        });
    }
    Ok(out)
}

/// Values of the `kind` column.
const KINDS: [&str; 14] = [
    "electronic",
    "in_hospital",
    "referral",
    "discharge_summary",
    "checkup_report",
    // Portal pages.
    "medications",
    "vaccinations",
    "checkups",
    "care",
    "access_log",
    "applications",
    // Applications.
    "vaccination_voucher",
    "medical_subsidy",
    "care_certification",
];

fn static_kind(value: &str) -> anyhow::Result<&'static str> {
    KINDS
        .iter()
        .find(|o| **o == value)
        .copied()
        .with_context(|| format!("event stream: unexpected kind {value:?}"))
}

/// Drug lines as `YJ:days:quantity`, `;`-separated.
fn drugs_text(drugs: &[DrugLine]) -> String {
    drugs
        .iter()
        .map(|d| format!("{}:{}:{}", d.code, d.days, d.quantity))
        .collect::<Vec<_>>()
        .join(";")
}

/// Parses drug lines `YJ:days:quantity`, `;`-separated.
fn parse_drugs(items: &str) -> anyhow::Result<Vec<DrugLine>> {
    items
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|line| {
            let mut f = line.split(':');
            let (Some(code), Some(days), Some(qty), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                anyhow::bail!("drug line {line:?} is not YJ:days:quantity");
            };
            Ok(DrugLine {
                code: code.to_owned(),
                days: days.parse()?,
                quantity: qty.parse()?,
            })
        })
        .collect()
}

/// Facts as text: `;`-separated, each `dx:<ICD-10>`, `lab:<JLAC10>=<value, two decimals>`,
/// `inf:<JLAC10>=P|N`, `alg:yj:<YJ>`, `alg:food:<allergen>` or `ci:yj:<YJ>` (a
/// contraindicated drug), followed by `!u` if undisclosed and `!l` if long-term.
pub fn facts_text(facts: &[FactLine]) -> String {
    let mut out = String::new();
    for (i, f) in facts.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        match &f.fact {
            Fact::Diagnosis { icd10 } => out.push_str(&format!("dx:{icd10}")),
            Fact::Lab { jlac10, value } => out.push_str(&format!("lab:{jlac10}={value}")),
            Fact::Infection { jlac10, positive } => {
                let mark = if *positive { 'P' } else { 'N' };
                out.push_str(&format!("inf:{jlac10}={mark}"))
            }
            Fact::DrugAllergy { yj } => out.push_str(&format!("alg:yj:{yj}")),
            Fact::FoodAllergy { allergen } => out.push_str(&format!("alg:food:{allergen}")),
            Fact::ContraindicatedDrug { yj } => out.push_str(&format!("ci:yj:{yj}")),
        }
        if f.undisclosed {
            out.push_str("!u");
        }
        if f.long_term {
            out.push_str("!l");
        }
    }
    out
}

/// Parses facts written by [`facts_text`].
fn parse_facts(items: &str) -> anyhow::Result<Vec<FactLine>> {
    items
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|token| {
            let mut parts = token.split('!');
            let body = parts.next().unwrap_or_default();
            let (mut undisclosed, mut long_term) = (false, false);
            for flag in parts {
                match flag {
                    "u" => undisclosed = true,
                    "l" => long_term = true,
                    _ => anyhow::bail!("fact {token:?}: unknown flag !{flag}"),
                }
            }
            Ok(FactLine {
                fact: parse_fact(token, body)?,
                undisclosed,
                long_term,
            })
        })
        .collect()
}

fn parse_fact(token: &str, body: &str) -> anyhow::Result<Fact> {
    Ok(match body.split_once(':') {
        Some(("dx", code)) => Fact::Diagnosis { icd10: code.into() },
        Some(("lab", rest)) => {
            let (code, v) = rest
                .split_once('=')
                .with_context(|| format!("fact {token:?}: lab:<code>=<value>"))?;
            Fact::Lab {
                jlac10: code.into(),
                value: parse_centi(v).with_context(|| format!("fact {token:?}: a value"))?,
            }
        }
        Some(("inf", rest)) => match rest.split_once('=') {
            Some((code, mark @ ("P" | "N"))) => Fact::Infection {
                jlac10: code.into(),
                positive: mark == "P",
            },
            _ => anyhow::bail!("fact {token:?}: inf:<code>=P|N"),
        },
        Some(("alg", rest)) => match rest.split_once(':') {
            Some(("yj", code)) => Fact::DrugAllergy { yj: code.into() },
            Some(("food", code)) => Fact::FoodAllergy {
                allergen: code.into(),
            },
            _ => anyhow::bail!("fact {token:?}: alg:yj:<code> or alg:food:<code>"),
        },
        Some(("ci", rest)) => match rest.split_once(':') {
            Some(("yj", code)) => Fact::ContraindicatedDrug { yj: code.into() },
            _ => anyhow::bail!("fact {token:?}: ci:yj:<code>"),
        },
        _ => anyhow::bail!("fact {token:?} is not dx, lab, inf, alg or ci"),
    })
}

/// A value written with exactly two decimals (`12.30`, `-0.05`).
fn parse_centi(v: &str) -> anyhow::Result<Centi> {
    let (whole, frac) = v.split_once('.').context("two decimals")?;
    anyhow::ensure!(
        frac.len() == 2 && frac.bytes().all(|b| b.is_ascii_digit()),
        "two decimals"
    );
    let negative = whole.starts_with('-');
    let whole: i64 = whole.trim_start_matches('-').parse()?;
    let c = whole * 100 + frac.parse::<i64>()?;
    Ok(Centi(if negative { -c } else { c }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_and_bad_ones_are_refused() {
        let text =
            "dx:C16.9!u;lab:3D046000002327101=6.50;inf:5F016141002305401=N;alg:food:egg;ci:yj:X!l";
        let f = parse_facts(text).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(
            f[0],
            FactLine {
                fact: Fact::Diagnosis {
                    icd10: "C16.9".into()
                },
                undisclosed: true,
                long_term: false,
            }
        );
        assert!(matches!(&f[1].fact, Fact::Lab { value, .. } if value.to_f64() == 6.5));
        assert!(matches!(
            &f[2].fact,
            Fact::Infection {
                positive: false,
                ..
            }
        ));
        assert!(f[4].long_term);
        assert_eq!(facts_text(&f), text);
        let drugs = parse_drugs("A:1:2;B:3:4").unwrap();
        assert_eq!((drugs.len(), drugs[1].days, drugs[1].quantity), (2, 3, 4));
        assert_eq!(drugs_text(&drugs), "A:1:2;B:3:4");
        assert!(parse_drugs("A:1").is_err());
        for bad in [
            "xx:1",
            "lab:3D0",
            "inf:A=Q",
            "alg:soy:1",
            "dx:I10!z",
            "lab:A=6.5",
        ] {
            assert!(parse_facts(bad).is_err(), "{bad}");
        }
    }

    fn person(id: u64, payload: Payload) -> Event {
        Event {
            id,
            at_ms: 1_759_714_200_000 + id as i64,
            flow: Flow::Visit,
            needs: Some(7 << 20),
            facility: "3110110019".into(),
            person_id: "P0000000007".into(),
            card_serial: None,
            insurance: Some(["06310014".into(), "12".into(), "345".into(), "00".into()]),
            sex: Sex::Female,
            birth_date: -3_000,
            payload,
        }
    }

    /// One event of every route, each payload with values in every field it has.
    fn every_route() -> Vec<Event> {
        let drugs = vec![
            DrugLine {
                code: "2171022F1020".into(),
                days: 28,
                quantity: 28,
            },
            DrugLine {
                code: "B".into(),
                days: 3,
                quantity: 4,
            },
        ];
        let facts = parse_facts("dx:I10!l;lab:3D046000002327101=12.35;alg:yj:Y!u").unwrap();
        Payload::one_of_each(&drugs, &facts)
            .into_iter()
            .enumerate()
            .map(|(i, p)| person(i as u64, p))
            .collect()
    }

    #[test]
    fn every_payload_survives_a_round_trip_through_arrow() {
        let events = every_route();
        let routes: Vec<Route> = events.iter().map(Event::route).collect();
        assert_eq!(routes, Route::ALL);
        let other = Event {
            id: 99,
            flow: Flow::Refill,
            sex: Sex::Male,
            payload: Payload::Batch,
            ..Event::default()
        };
        let mut all = events.clone();
        all.push(other);
        assert_eq!(from_batch(&to_batch(&all)).unwrap(), all);
    }

    #[test]
    fn a_persons_own_request_names_no_facility_and_sex_is_coded_as_in_the_population() {
        let portal = Event {
            facility: String::new(),
            sex: Sex::Male,
            payload: Payload::PortalRead {
                page: PortalPage::Medications,
            },
            ..Event::default()
        };
        let mut events = every_route()[..1].to_vec();
        events.push(portal);
        let b = to_batch(&events);
        let facility = b.column_by_name("facility").unwrap().as_string::<i32>();
        assert!(
            b.schema()
                .field_with_name("facility")
                .unwrap()
                .is_nullable()
        );
        assert_eq!(facility.value(0), "3110110019");
        assert!(facility.is_null(1), "the portal's request has no facility");
        let sex = b.column_by_name("sex").unwrap().as_string::<i32>();
        assert_eq!((sex.value(0), sex.value(1)), ("F", "M"));
        assert_eq!(from_batch(&b).unwrap(), events);
        // Any other coding is refused.
        let mut cols = b.columns().to_vec();
        let i = b.schema().index_of("sex").unwrap();
        cols[i] = Arc::new(StringArray::from(vec!["female", "M"]));
        let e = from_batch(&RecordBatch::try_new(schema(), cols).unwrap()).unwrap_err();
        assert!(format!("{e:#}").contains("sex"), "{e:#}");
    }

    #[test]
    fn a_row_whose_columns_do_not_fit_its_route_is_refused() {
        let mut b = to_batch(&every_route()[..1]);
        // A verification that names a drug.
        let mut cols = b.columns().to_vec();
        let i = b.schema().index_of("items").unwrap();
        cols[i] = Arc::new(StringArray::from(vec![Some("X:1:1")]));
        b = RecordBatch::try_new(schema(), cols).unwrap();
        let e = from_batch(&b).unwrap_err();
        assert!(
            format!("{e:#}").contains("do not fit a verify event"),
            "{e:#}"
        );
    }
}
