//! One request of the workload: when it is due, who sends it about whom, what it needs from an
//! earlier request, and what it carries — a typed [`Payload`] per route. How events are laid
//! out in the event file is the business of that file's reader and writer alone.

use crate::route::Route;
use chrono::NaiveDate;
use dx_protocol::wire::clins::DocumentKind;
use dx_protocol::wire::endpoints::{self as ep, Info, info};
use dx_protocol::wire::{ApplicationKind, CareLevel, PrescriptionKind, Sex};

/// The flow of care that made an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Flow {
    #[default]
    Visit,
    Refill,
    Discharge,
    Checkup,
    Vaccination,
    Maternal,
    Care,
    Portal,
    /// Public-expense and local-subsidy entitlements the municipalities register.
    Entitlement,
    /// Qualifications the insurers report (資格取得・喪失).
    Insurer,
}

impl Flow {
    pub const ALL: [Flow; 10] = [
        Flow::Visit,
        Flow::Refill,
        Flow::Discharge,
        Flow::Checkup,
        Flow::Vaccination,
        Flow::Maternal,
        Flow::Care,
        Flow::Portal,
        Flow::Entitlement,
        Flow::Insurer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Visit => "visit",
            Flow::Refill => "refill",
            Flow::Discharge => "discharge",
            Flow::Checkup => "checkup",
            Flow::Vaccination => "vaccination",
            Flow::Maternal => "maternal",
            Flow::Care => "care",
            Flow::Portal => "portal",
            Flow::Entitlement => "entitlement",
            Flow::Insurer => "insurer",
        }
    }

    pub fn parse(s: &str) -> Option<Flow> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A drug line: the YJ code, days of supply, quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugLine {
    pub code: String,
    pub days: u16,
    pub quantity: u32,
}

/// A value in hundredths, as the workload gives laboratory results (two decimals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Centi(pub i64);

impl Centi {
    /// `v` rounded to two decimals as `{:.2}` rounds it (ties to even on the exact binary value).
    pub fn of(v: f64) -> Centi {
        let text = format!("{v:.2}");
        let (whole, frac) = text.split_once('.').expect("two decimals");
        let negative = whole.starts_with('-');
        let whole: i64 = whole.trim_start_matches('-').parse().expect("digits");
        let frac: i64 = frac.parse().expect("digits");
        let c = whole * 100 + frac;
        Centi(if negative { -c } else { c })
    }

    /// The value: the nearest `f64` to the decimal it stands for.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl std::fmt::Display for Centi {
    /// Two decimals, as `{:.2}` of the value writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// One fact of EHR sharing's 6 items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// An ICD-10 diagnosis.
    Diagnosis { icd10: String },
    /// A laboratory result (JLAC10 code).
    Lab { jlac10: String, value: Centi },
    /// An infection marker, positive or negative.
    Infection { jlac10: String, positive: bool },
    /// An allergy to a drug (YJ code).
    DrugAllergy { yj: String },
    /// A food allergy (allergen code).
    FoodAllergy { allergen: String },
    /// A contraindicated drug (YJ code).
    ContraindicatedDrug { yj: String },
}

/// A fact with its flags: not yet told to the patient (undisclosed), kept without end
/// (long-term).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactLine {
    pub fact: Fact,
    pub undisclosed: bool,
    pub long_term: bool,
}

impl Fact {
    /// The resource type JP-CLINS writes it as; a facility submits the items of a visit as one
    /// Bundle per type (`Condition`, `Observation`, `AllergyIntolerance`: [`FACT_CATEGORIES`]).
    pub fn resource_type(&self) -> &'static str {
        match self {
            Fact::Diagnosis { .. } => "Condition",
            Fact::Lab { .. } | Fact::Infection { .. } => "Observation",
            Fact::DrugAllergy { .. }
            | Fact::FoodAllergy { .. }
            | Fact::ContraindicatedDrug { .. } => "AllergyIntolerance",
        }
    }
}

/// The resource types of items, in the order a visit's Bundles are sent.
pub const FACT_CATEGORIES: [&str; 3] = ["Condition", "Observation", "AllergyIntolerance"];

/// A page of the person's portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortalPage {
    Medications,
    Vaccinations,
    Checkups,
    Care,
    AccessLog,
    Applications,
}

impl PortalPage {
    pub const ALL: [PortalPage; 6] = [
        PortalPage::Medications,
        PortalPage::Vaccinations,
        PortalPage::Checkups,
        PortalPage::Care,
        PortalPage::AccessLog,
        PortalPage::Applications,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PortalPage::Medications => "medications",
            PortalPage::Vaccinations => "vaccinations",
            PortalPage::Checkups => "checkups",
            PortalPage::Care => "care",
            PortalPage::AccessLog => "access_log",
            PortalPage::Applications => "applications",
        }
    }

    pub fn parse(s: &str) -> Option<PortalPage> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The endpoint the page is read from (medications are the clinical summary's prescriptions).
    pub fn endpoint(self) -> Info {
        match self {
            PortalPage::Medications => info::<ep::PortalClinicalSummary>(),
            PortalPage::Vaccinations => info::<ep::PortalVaccinations>(),
            PortalPage::Checkups => info::<ep::PortalCheckups>(),
            PortalPage::Care => info::<ep::PortalCareCertification>(),
            PortalPage::AccessLog => info::<ep::AccessLog>(),
            PortalPage::Applications => info::<ep::MyApplications>(),
        }
    }
}

/// What a request carries beyond who sends it about whom: one variant per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Verification, with consent to viewing records given at the card reader or not.
    Verify {
        consent: bool,
    },
    Batch,
    /// Verbal medication consent.
    Consent,
    Check {
        drugs: Vec<DrugLine>,
    },
    /// A registration: electronic or in-hospital, with its uses (refills 2–3).
    Register {
        kind: PrescriptionKind,
        uses: u8,
        drugs: Vec<DrugLine>,
    },
    Cancel,
    Retrieve,
    Dispense {
        drugs: Vec<DrugLine>,
    },
    /// A paper prescription's dispensing result, naming its prescriber.
    PaperDispense {
        prescriber: String,
        drugs: Vec<DrugLine>,
    },
    EhrItems {
        facts: Vec<FactLine>,
    },
    /// A document; a referral letter names its addressee.
    EhrDocument {
        kind: DocumentKind,
        addressee: Option<String>,
        facts: Vec<FactLine>,
    },
    EhrInbox,
    EhrRead,
    EhrReceive,
    EhrSummary,
    VaccinationRecord {
        vaccine: String,
    },
    /// A dose of a municipality's upload, given `days_ago` days before the upload.
    VaccinationBatch {
        vaccine: String,
        days_ago: u8,
    },
    VaccinationRead,
    VaccinationSchedule,
    PrenatalCheckup {
        gestational_weeks: u8,
    },
    InfantCheckup,
    /// A pregnancy notification (妊娠届) the municipality registers, confirmed
    /// `confirmed_days_ago` days before, the delivery expected `term_days` after the confirmation.
    PregnancyRegister {
        confirmed_days_ago: u8,
        term_days: u16,
    },
    /// The new insurer reports the qualification (the event's insurance) from `from_days` days
    /// after the report's day (negative: before it).
    QualificationAcquire {
        from_days: i16,
    },
    /// The old insurer reports the end of the qualification (the event's insurance), its last
    /// day `to_days` days after the report's day.
    QualificationLose {
        to_days: i16,
    },
    /// A public-expense or local-subsidy entitlement the municipality registers — a child's
    /// medical subsidy after the birth, or a yearly renewal — of law `law` (`"54"`, `"88"`),
    /// valid from `from_days` days after the registration's day (negative: before it).
    EntitlementRegister {
        law: String,
        from_days: i16,
    },
    CareCertify {
        level: CareLevel,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
    },
    CareRead,
    PortalRead {
        page: PortalPage,
    },
    PortalApply {
        kind: ApplicationKind,
    },
    ApplicationDecide,
    Healthz,
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Verify { consent: false }
    }
}

impl Payload {
    /// One payload of every route, in the route table's order, with a value in each field it has
    /// (`drugs` and `facts` where it carries drugs or facts; the portal's access-log page): for
    /// tests that must cover every route.
    pub fn one_of_each(drugs: &[DrugLine], facts: &[FactLine]) -> Vec<Payload> {
        let day = |d| NaiveDate::from_ymd_opt(2025, 10, d).expect("a date of October");
        vec![
            Payload::Verify { consent: true },
            Payload::Batch,
            Payload::Consent,
            Payload::Check {
                drugs: drugs.to_vec(),
            },
            Payload::Register {
                kind: PrescriptionKind::Electronic,
                uses: 3,
                drugs: drugs.to_vec(),
            },
            Payload::Cancel,
            Payload::Retrieve,
            Payload::Dispense {
                drugs: drugs.to_vec(),
            },
            Payload::PaperDispense {
                prescriber: "3111110019".into(),
                drugs: drugs.to_vec(),
            },
            Payload::EhrItems {
                facts: facts.to_vec(),
            },
            Payload::EhrDocument {
                kind: DocumentKind::Referral,
                addressee: Some("3110110027".into()),
                facts: facts.to_vec(),
            },
            Payload::EhrInbox,
            Payload::EhrRead,
            Payload::EhrReceive,
            Payload::EhrSummary,
            Payload::VaccinationRecord {
                vaccine: "influenza".into(),
            },
            Payload::VaccinationBatch {
                vaccine: "mr".into(),
                days_ago: 4,
            },
            Payload::VaccinationRead,
            Payload::VaccinationSchedule,
            Payload::PrenatalCheckup {
                gestational_weeks: 24,
            },
            Payload::InfantCheckup,
            Payload::PregnancyRegister {
                confirmed_days_ago: 20,
                term_days: 245,
            },
            Payload::EntitlementRegister {
                law: "88".into(),
                from_days: -12,
            },
            Payload::QualificationAcquire { from_days: -2 },
            Payload::QualificationLose { to_days: -4 },
            Payload::CareCertify {
                level: CareLevel::Care2,
                valid_from: day(1),
                valid_to: day(31),
            },
            Payload::CareRead,
            Payload::PortalRead {
                page: PortalPage::AccessLog,
            },
            Payload::PortalApply {
                kind: ApplicationKind::MedicalSubsidy,
            },
            Payload::ApplicationDecide,
            Payload::Healthz,
        ]
    }

    /// The route of the request.
    pub fn route(&self) -> Route {
        match self {
            Payload::Verify { .. } => Route::Verify,
            Payload::Batch => Route::Batch,
            Payload::Consent => Route::Consent,
            Payload::Check { .. } => Route::Check,
            Payload::Register { .. } => Route::Register,
            Payload::Cancel => Route::Cancel,
            Payload::Retrieve => Route::Retrieve,
            Payload::Dispense { .. } => Route::Dispense,
            Payload::PaperDispense { .. } => Route::PaperDispense,
            Payload::EhrItems { .. } => Route::EhrItems,
            Payload::EhrDocument { .. } => Route::EhrDocument,
            Payload::EhrInbox => Route::EhrInbox,
            Payload::EhrRead => Route::EhrRead,
            Payload::EhrReceive => Route::EhrReceive,
            Payload::EhrSummary => Route::EhrSummary,
            Payload::VaccinationRecord { .. } => Route::VaccinationRecord,
            Payload::VaccinationBatch { .. } => Route::VaccinationBatch,
            Payload::VaccinationRead => Route::VaccinationRead,
            Payload::VaccinationSchedule => Route::VaccinationSchedule,
            Payload::PrenatalCheckup { .. } => Route::PrenatalCheckup,
            Payload::InfantCheckup => Route::InfantCheckup,
            Payload::PregnancyRegister { .. } => Route::PregnancyRegister,
            Payload::EntitlementRegister { .. } => Route::EntitlementRegister,
            Payload::QualificationAcquire { .. } => Route::QualificationAcquire,
            Payload::QualificationLose { .. } => Route::QualificationLose,
            Payload::CareCertify { .. } => Route::CareCertify,
            Payload::CareRead => Route::CareRead,
            Payload::PortalRead { .. } => Route::PortalRead,
            Payload::PortalApply { .. } => Route::PortalApply,
            Payload::ApplicationDecide => Route::ApplicationDecide,
            Payload::Healthz => Route::Healthz,
        }
    }

    /// The drug lines a prescription request carries.
    pub fn drugs(&self) -> &[DrugLine] {
        match self {
            Payload::Check { drugs }
            | Payload::Register { drugs, .. }
            | Payload::Dispense { drugs }
            | Payload::PaperDispense { drugs, .. } => drugs,
            _ => &[],
        }
    }

    /// The facts an EHR request carries.
    pub fn facts(&self) -> &[FactLine] {
        match self {
            Payload::EhrItems { facts } | Payload::EhrDocument { facts, .. } => facts,
            _ => &[],
        }
    }
}

/// One request due at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique and stable: person index × 2^20 + the person's event number.
    pub id: u64,
    /// Milliseconds since the Unix epoch (UTC) of the simulated due time.
    pub at_ms: i64,
    pub flow: Flow,
    /// The event whose result this one needs (registration → access code → retrieval →
    /// prescription id → dispensing; document → id → read, receipt, attachment; consenting
    /// check → clinical-summary read; application → its decision).
    pub needs: Option<u64>,
    /// The requesting facility's 10-digit code, a municipality's 6-digit code, or empty for
    /// the person's own portal requests.
    pub facility: String,
    pub person_id: String,
    /// Set when the person is identified by card.
    pub card_serial: Option<String>,
    /// The insurance number (insurer, 記号, 番号, 枝番): identification, or coverage for a
    /// registration.
    pub insurance: Option<[String; 4]>,
    pub sex: Sex,
    /// Days since the Unix epoch.
    pub birth_date: i32,
    pub payload: Payload,
}

/// An empty event: a verification without consent, of nobody by nobody at the epoch (a base to
/// fill in with `..Event::default()`).
impl Default for Event {
    fn default() -> Self {
        Self {
            id: 0,
            at_ms: 0,
            flow: Flow::default(),
            needs: None,
            facility: String::new(),
            person_id: String::new(),
            card_serial: None,
            insurance: None,
            sex: Sex::Female,
            birth_date: 0,
            payload: Payload::default(),
        }
    }
}

impl Event {
    pub fn route(&self) -> Route {
        self.payload.route()
    }

    /// Whether later events may need this one's result: registrations and retrievals
    /// (prescription id, access code), documents (their id), applications (their id), checks
    /// with consent (a clinical-summary read waits for the consent).
    pub fn is_needed(&self) -> bool {
        match self.payload {
            Payload::Register { .. }
            | Payload::Retrieve
            | Payload::EhrDocument { .. }
            | Payload::PortalApply { .. } => true,
            Payload::Verify { consent } => consent,
            _ => false,
        }
    }

    /// Who sends the request: the facility (a 10-digit code in `facility`), the municipality
    /// (a 6-digit code) or, for portal requests (no `facility`), the person.
    pub fn principal(&self) -> String {
        if matches!(
            self.route(),
            Route::QualificationAcquire | Route::QualificationLose
        ) {
            return format!("insurer:{}", self.facility);
        }
        match self.facility.len() {
            0 => format!("person:{}", self.person_id),
            6 => format!("municipality:{}", self.facility),
            _ => format!("facility:{}", self.facility),
        }
    }

    /// The day of birth.
    pub fn birth_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
            + chrono::TimeDelta::days(i64::from(self.birth_date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centi_rounds_as_two_decimals_do_and_gives_back_the_decimal() {
        for v in [0.0, 6.5, 12.345, 12.355, 99.999, 0.005, 1e6 / 3.0, -3.456] {
            let c = Centi::of(v);
            assert_eq!(c.to_string(), format!("{v:.2}"), "{v}");
            assert_eq!(c.to_f64(), format!("{v:.2}").parse::<f64>().unwrap(), "{v}");
        }
    }

    #[test]
    fn every_route_has_one_payload_and_the_portal_pages_their_endpoints() {
        assert_eq!(Payload::Healthz.route(), Route::Healthz);
        assert_eq!(Payload::default().route(), Route::Verify);
        for p in PortalPage::ALL {
            assert_eq!(PortalPage::parse(p.as_str()), Some(p));
            assert!(p.endpoint().path.starts_with("/v1/portal/"));
        }
    }
}
