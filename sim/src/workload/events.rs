//! The event stream: one row per request a facility will make, time-sorted, in Parquet.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | u64 | unique and stable: person index × 2^20 + the person's event number |
//! | `at` | timestamp (ms, +09:00) | when the request is due, simulated time |
//! | `flow` | text | the flow that made it (`visit`, `refill`, `discharge`, `checkup`, `vaccination`, `maternal`, `care`, `portal`) |
//! | `route` | text | `verify`, `batch` (one person of a batch pre-check), `consent`, `check`, `register`, `cancel`, `retrieve`, `dispense`, `paper_dispense`; EHR sharing: `ehr_items`, `ehr_document`, `ehr_inbox`, `ehr_read`, `ehr_receive`, `ehr_summary`; municipal and portal: `vaccination_record`, `vaccination_batch` (one dose of a municipal batch upload), `vaccination_read`, `vaccination_schedule`, `prenatal_checkup`, `infant_checkup`, `care_certify`, `care_read`, `portal_read`, `portal_apply`, `application_decide`; `healthz` (a liveness probe, for benchmarks of the driver itself) |
//! | `needs` | u64, null | the event whose result this one needs (registration → access code → retrieval → prescription id → dispensing; document → id → read, receipt, attachment; consenting check → clinical-summary read) |
//! | `facility` | text | the requesting facility's code; a municipality's 6-digit code for municipal requests; empty for the person's own portal requests |
//! | `person_id` | text | the person |
//! | `card_serial` | text, null | set when the person is identified by card |
//! | `insurer_number`, `symbol`, `number`, `branch` | text, null | the insurance number (identification, or coverage for a registration) |
//! | `sex`, `birth_date` | text, date | for the prescription document |
//! | `consent` | bool | consent given at the card reader to viewing records (medication, checkup and EHR information) |
//! | `kind` | text, null | registration: `electronic` or `in_hospital`; EHR document: `referral`, `discharge_summary`, `checkup_report`; portal page: `medications`, `vaccinations`, `checkups`, `care`, `access_log`, `applications`; application: `vaccination_voucher`, `medical_subsidy`, `care_certification` |
//! | `uses` | u8 | registration: uses allowed (refills 2–3) |
//! | `other_facility` | text, null | paper dispensing: the prescriber's facility code; referral letter: the addressee |
//! | `items` | text, null | drug lines `YJ:days:quantity`, `;`-separated; EHR items: facts, `;`-separated (see [`parse_facts`]); vaccination: the vaccine code; care certification: `level:valid_from:valid_to`; prenatal checkup: gestational weeks |

use anyhow::Context as _;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, StringBuilder, TimestampMillisecondBuilder, UInt8Builder,
    UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMillisecondType, UInt8Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

/// One request due at a time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub id: u64,
    /// Milliseconds since the Unix epoch (UTC) of the simulated due time.
    pub at_ms: i64,
    pub flow: &'static str,
    pub route: Route,
    pub needs: Option<u64>,
    pub facility: String,
    pub person_id: String,
    pub card_serial: Option<String>,
    pub insurance: Option<[String; 4]>,
    pub sex: &'static str,
    /// Days since the Unix epoch.
    pub birth_date: i32,
    pub consent: bool,
    pub kind: Option<&'static str>,
    pub uses: u8,
    /// Paper dispensing: the prescriber; referral letter: the addressee.
    pub other_facility: Option<String>,
    pub items: Option<String>,
}

impl Event {
    /// Whether later events may need this one's result: registrations and retrievals
    /// (prescription id, access code), documents (their id), checks with consent (a
    /// clinical-summary read waits for the consent).
    pub fn is_needed(&self) -> bool {
        match self.route {
            Route::Register | Route::Retrieve | Route::EhrDocument | Route::PortalApply => true,
            Route::Verify => self.consent,
            _ => false,
        }
    }
}

/// The routes of the exchange a stream drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Route {
    #[default]
    Verify,
    Batch,
    Consent,
    Check,
    Register,
    Cancel,
    Retrieve,
    Dispense,
    PaperDispense,
    /// A facility submits the 6 items of a visit.
    EhrItems,
    /// A referral letter, discharge summary or checkup report.
    EhrDocument,
    /// The addressee lists its referral inbox.
    EhrInbox,
    /// A facility reads a document (a referral addressed to it, or its attachment).
    EhrRead,
    /// The addressee marks a referral received.
    EhrReceive,
    /// A facility reads the clinical summary after consent.
    EhrSummary,
    /// A facility records a dose it gave.
    VaccinationRecord,
    /// A municipality uploads doses from paper records (one person's dose of a batch).
    VaccinationBatch,
    /// A facility reads the vaccination history before vaccinating (after consent).
    VaccinationRead,
    /// A facility checks a child's routine schedule (after consent).
    VaccinationSchedule,
    /// A facility records a prenatal checkup.
    PrenatalCheckup,
    /// A municipality records a group infant checkup.
    InfantCheckup,
    /// A municipality renews a care-level certification.
    CareCertify,
    /// A care provider reads the certification in force.
    CareRead,
    /// A person reads a portal page (`kind`).
    PortalRead,
    /// A person files an online application (`kind`).
    PortalApply,
    /// The municipality lists its inbox and decides an application.
    ApplicationDecide,
    Healthz,
}

impl Route {
    pub const ALL: [Route; 27] = [
        Route::Verify,
        Route::Batch,
        Route::Consent,
        Route::Check,
        Route::Register,
        Route::Cancel,
        Route::Retrieve,
        Route::Dispense,
        Route::PaperDispense,
        Route::EhrItems,
        Route::EhrDocument,
        Route::EhrInbox,
        Route::EhrRead,
        Route::EhrReceive,
        Route::EhrSummary,
        Route::VaccinationRecord,
        Route::VaccinationBatch,
        Route::VaccinationRead,
        Route::VaccinationSchedule,
        Route::PrenatalCheckup,
        Route::InfantCheckup,
        Route::CareCertify,
        Route::CareRead,
        Route::PortalRead,
        Route::PortalApply,
        Route::ApplicationDecide,
        Route::Healthz,
    ];

    /// The route's position in [`Route::ALL`] (its declaration order), for per-route tables.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Verify => "verify",
            Route::Batch => "batch",
            Route::Consent => "consent",
            Route::Check => "check",
            Route::Register => "register",
            Route::Cancel => "cancel",
            Route::Retrieve => "retrieve",
            Route::Dispense => "dispense",
            Route::PaperDispense => "paper_dispense",
            Route::EhrItems => "ehr_items",
            Route::EhrDocument => "ehr_document",
            Route::EhrInbox => "ehr_inbox",
            Route::EhrRead => "ehr_read",
            Route::EhrReceive => "ehr_receive",
            Route::EhrSummary => "ehr_summary",
            Route::VaccinationRecord => "vaccination_record",
            Route::VaccinationBatch => "vaccination_batch",
            Route::VaccinationRead => "vaccination_read",
            Route::VaccinationSchedule => "vaccination_schedule",
            Route::PrenatalCheckup => "prenatal_checkup",
            Route::InfantCheckup => "infant_checkup",
            Route::CareCertify => "care_certify",
            Route::CareRead => "care_read",
            Route::PortalRead => "portal_read",
            Route::PortalApply => "portal_apply",
            Route::ApplicationDecide => "application_decide",
            Route::Healthz => "healthz",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the request is an online eligibility check (the published count).
    pub fn is_eligibility_check(self) -> bool {
        matches!(self, Route::Verify | Route::Batch)
    }

    /// Routes whose events due at one moment travel as one request per principal.
    pub fn is_batched(self) -> bool {
        matches!(self, Route::Batch | Route::VaccinationBatch)
    }
}

impl Event {
    /// Who sends the request: the facility (a 10-digit code in `facility`), the municipality
    /// (a 6-digit code) or, for portal requests (no `facility`), the person.
    pub fn principal(&self) -> String {
        match self.facility.len() {
            0 => format!("person:{}", self.person_id),
            6 => format!("municipality:{}", self.facility),
            _ => format!("facility:{}", self.facility),
        }
    }
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

fn static_str(value: &str, options: &[&'static str]) -> anyhow::Result<&'static str> {
    options
        .iter()
        .find(|o| **o == value)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("unexpected value {value:?}"))
}

pub const FLOWS: [&str; 8] = [
    "visit",
    "refill",
    "discharge",
    "checkup",
    "vaccination",
    "maternal",
    "care",
    "portal",
];

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
        text("facility", false),
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
        flow.append_value(e.flow);
        route.append_value(e.route.as_str());
        needs.append_option(e.needs);
        facility.append_value(&e.facility);
        person.append_value(&e.person_id);
        card.append_option(e.card_serial.as_deref());
        for (b, v) in ins.iter_mut().enumerate() {
            v.append_option(e.insurance.as_ref().map(|k| k[b].as_str()));
        }
        sex.append_value(e.sex);
        birth.append_value(e.birth_date);
        consent.append_value(e.consent);
        kind.append_option(e.kind);
        uses.append_value(e.uses);
        other_facility.append_option(e.other_facility.as_deref());
        items.append_option(e.items.as_deref());
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

/// Reads a record batch of [`schema`] back into events.
pub fn from_batch(b: &RecordBatch) -> anyhow::Result<Vec<Event>> {
    let col = |name: &str| -> anyhow::Result<&ArrayRef> {
        b.column_by_name(name)
            .with_context(|| format!("event stream: column {name} is missing"))
    };
    let text = |name: &str| -> anyhow::Result<&arrow_array::StringArray> {
        col(name)?
            .as_string_opt::<i32>()
            .with_context(|| format!("event stream: column {name} is not text"))
    };
    let id = col("id")?.as_primitive::<UInt64Type>();
    let at = col("at")?.as_primitive::<TimestampMillisecondType>();
    let needs = col("needs")?.as_primitive::<UInt64Type>();
    let birth = col("birth_date")?.as_primitive::<Date32Type>();
    let uses = col("uses")?.as_primitive::<UInt8Type>();
    let consent = col("consent")?.as_boolean();
    let (flow, route, facility, person, card) = (
        text("flow")?,
        text("route")?,
        text("facility")?,
        text("person_id")?,
        text("card_serial")?,
    );
    let ins = [
        text("insurer_number")?,
        text("symbol")?,
        text("number")?,
        text("branch")?,
    ];
    let (sex, kind, other_facility, items) = (
        text("sex")?,
        text("kind")?,
        text("other_facility")?,
        text("items")?,
    );
    let opt =
        |a: &arrow_array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let route_name = route.value(i);
        out.push(Event {
            id: id.value(i),
            at_ms: at.value(i),
            flow: static_str(flow.value(i), &FLOWS)?,
            route: Route::parse(route_name)
                .with_context(|| format!("event stream: unknown route {route_name:?}"))?,
            needs: (!needs.is_null(i)).then(|| needs.value(i)),
            facility: facility.value(i).to_owned(),
            person_id: person.value(i).to_owned(),
            card_serial: opt(card, i),
            insurance: (!ins[0].is_null(i)).then(|| ins.map(|a| a.value(i).to_owned())),
            sex: static_str(sex.value(i), &["male", "female"])?,
            birth_date: birth.value(i),
            consent: consent.value(i),
            kind: if kind.is_null(i) {
                None
            } else {
                Some(static_str(kind.value(i), &KINDS)?)
            },
            uses: uses.value(i),
            other_facility: opt(other_facility, i),
            items: opt(items, i),
        });
    }
    Ok(out)
}

/// Parses an `items` value into (YJ code, days, quantity) lines.
pub fn parse_items(items: &str) -> anyhow::Result<Vec<(String, u16, u32)>> {
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
            Ok((code.to_owned(), days.parse()?, qty.parse()?))
        })
        .collect()
}

/// One fact of an `ehr_items` event: what it states, then whether it is flagged undisclosed and
/// long-term.
pub type FactLine = (dx_exchange::wire::clins::Fact, bool, bool);

/// Parses the `items` of an `ehr_items` event: `;`-separated facts, each `dx:<ICD-10>`,
/// `lab:<JLAC10>=<value>`, `inf:<JLAC10>=P|N`, `alg:yj:<YJ>`, `alg:food:<allergen>` or
/// `ci:yj:<YJ>` (a contraindicated drug), optionally followed by `!u` (undisclosed) and `!l`
/// (long-term).
pub fn parse_facts(items: &str) -> anyhow::Result<Vec<FactLine>> {
    use dx_exchange::wire::clins::{FOOD_ALLERGEN_SYSTEM, Fact};
    use dx_exchange::wire::fhir::YJ_SYSTEM;
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
            let fact = match body.split_once(':') {
                Some(("dx", code)) => Fact::Diagnosis { code: code.into() },
                Some(("lab", rest)) => {
                    let (code, v) = rest
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("fact {token:?}: lab:<code>=<value>"))?;
                    Fact::LabResult {
                        code: code.into(),
                        value: v.parse()?,
                    }
                }
                Some(("inf", rest)) => match rest.split_once('=') {
                    Some((code, "P" | "N")) => Fact::Infection {
                        code: code.into(),
                        positive: rest.ends_with("=P"),
                    },
                    _ => anyhow::bail!("fact {token:?}: inf:<code>=P|N"),
                },
                Some(("alg", rest)) => match rest.split_once(':') {
                    Some(("yj", code)) => Fact::Allergy {
                        system: YJ_SYSTEM.into(),
                        code: code.into(),
                    },
                    Some(("food", code)) => Fact::Allergy {
                        system: FOOD_ALLERGEN_SYSTEM.into(),
                        code: code.into(),
                    },
                    _ => anyhow::bail!("fact {token:?}: alg:yj:<code> or alg:food:<code>"),
                },
                Some(("ci", rest)) => match rest.split_once(':') {
                    Some(("yj", code)) => Fact::ContraindicatedDrug {
                        system: YJ_SYSTEM.into(),
                        code: code.into(),
                    },
                    _ => anyhow::bail!("fact {token:?}: ci:yj:<code>"),
                },
                _ => anyhow::bail!("fact {token:?} is not dx, lab, inf, alg or ci"),
            };
            Ok((fact, undisclosed, long_term))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_and_bad_ones_are_refused() {
        use dx_exchange::wire::clins::Fact;
        let f = parse_facts(
            "dx:C16.9!u;lab:3D046000002327101=6.5;inf:5F016141002305401=N;alg:food:egg;ci:yj:X!l",
        )
        .unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(
            f[0],
            (
                Fact::Diagnosis {
                    code: "C16.9".into()
                },
                true,
                false
            )
        );
        assert!(matches!(&f[1].0, Fact::LabResult { value, .. } if *value == 6.5));
        assert!(matches!(
            &f[2].0,
            Fact::Infection {
                positive: false,
                ..
            }
        ));
        assert!(f[4].2);
        for bad in ["xx:1", "lab:3D0", "inf:A=Q", "alg:soy:1", "dx:I10!z"] {
            assert!(parse_facts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_survive_a_round_trip_through_arrow() {
        let e = Event {
            id: (7 << 20) | 3,
            at_ms: 1_759_714_200_000,
            flow: "visit",
            route: Route::Register,
            needs: Some(7 << 20),
            facility: "3110110019".into(),
            person_id: "P0000000007".into(),
            card_serial: None,
            insurance: Some(["06310014".into(), "12".into(), "345".into(), "00".into()]),
            sex: "female",
            birth_date: -3_000,
            consent: true,
            kind: Some("electronic"),
            uses: 3,
            other_facility: None,
            items: Some("2171022F1020:28:28".into()),
        };
        let other = Event {
            id: 1,
            route: Route::Batch,
            flow: "refill",
            sex: "male",
            ..Event::default()
        };
        let back = from_batch(&to_batch(&[e.clone(), other.clone()])).unwrap();
        assert_eq!(back, vec![e, other]);
        assert_eq!(
            parse_items("A:1:2;B:3:4").unwrap(),
            vec![("A".into(), 1, 2), ("B".into(), 3, 4)]
        );
        assert!(parse_items("A:1").is_err());
    }
}
