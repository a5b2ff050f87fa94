//! The routes a workload drives and the central services that serve them, in one table: each
//! route's name (as events, scenarios and results spell it), the service it loads, the endpoint
//! its requests go to, and the SLO it is held to unless a scenario says otherwise.

use dx_protocol::wire::endpoints::{self as ep, Info, info};
use serde::{Deserialize, Serialize};

/// Latency bounds (milliseconds, measured from the intended send time) and an error-rate bound.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
    #[serde(default)]
    pub p999_ms: Option<f64>,
    /// Largest acceptable share of requests answered 5xx or not at all.
    #[serde(default)]
    pub error_rate: Option<f64>,
}

/// 1 s at p99 and 0.1% errors: the order of what a reception desk tolerates.
pub const DEFAULT_SLO: Slo = Slo {
    p50_ms: None,
    p99_ms: Some(1000.0),
    p999_ms: None,
    error_rate: Some(0.001),
};

/// The routes of the exchange a stream drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Route {
    #[default]
    Verify,
    /// One person of a batch pre-check (一括照会).
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
    /// A municipality registers a pregnancy notification.
    PregnancyRegister,
    /// A municipality registers a public-expense or local-subsidy entitlement.
    EntitlementRegister,
    /// An insurer reports a qualification it issued (資格取得).
    QualificationAcquire,
    /// An insurer reports the end of one (資格喪失).
    QualificationLose,
    /// A municipality renews a care-level certification.
    CareCertify,
    /// A care provider reads the certification in force.
    CareRead,
    /// A person reads a portal page.
    PortalRead,
    /// A person files an online application.
    PortalApply,
    /// The municipality decides an application.
    ApplicationDecide,
    /// A liveness probe, for benchmarks of the driver itself.
    Healthz,
}

/// Everything about a route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteInfo {
    pub route: Route,
    pub name: &'static str,
    /// The central service it loads (`None` for the probe).
    pub service: Option<Service>,
    /// The endpoint its requests go to; `None` for the portal's page reads, whose page picks
    /// one of six (`event::PortalPage::endpoint`).
    pub endpoint: Option<Info>,
    /// The SLO it is held to unless the scenario names one.
    pub slo: Slo,
}

const fn row(route: Route, name: &'static str, service: Service, endpoint: Info) -> RouteInfo {
    RouteInfo {
        route,
        name,
        service: Some(service),
        endpoint: Some(endpoint),
        slo: DEFAULT_SLO,
    }
}

use Service as S;

/// The route table, in declaration order.
const TABLE: [RouteInfo; 31] = [
    row(
        Route::Verify,
        "verify",
        S::Eligibility,
        info::<ep::Verify>(),
    ),
    row(
        Route::Batch,
        "batch",
        S::Eligibility,
        info::<ep::BatchVerify>(),
    ),
    row(
        Route::Consent,
        "consent",
        S::Consent,
        info::<ep::GiveConsent>(),
    ),
    row(
        Route::Check,
        "check",
        S::PrescriptionCheck,
        info::<ep::CheckPrescription>(),
    ),
    row(
        Route::Register,
        "register",
        S::PrescriptionRegister,
        info::<ep::RegisterPrescription>(),
    ),
    row(
        Route::Cancel,
        "cancel",
        S::PrescriptionRegister,
        info::<ep::CancelPrescription>(),
    ),
    row(
        Route::Retrieve,
        "retrieve",
        S::PrescriptionRetrieve,
        info::<ep::RetrievePrescription>(),
    ),
    row(
        Route::Dispense,
        "dispense",
        S::PrescriptionDispense,
        info::<ep::Dispense>(),
    ),
    row(
        Route::PaperDispense,
        "paper_dispense",
        S::PrescriptionDispense,
        info::<ep::PaperDispense>(),
    ),
    row(
        Route::EhrItems,
        "ehr_items",
        S::EhrWrite,
        info::<ep::SubmitItems>(),
    ),
    row(
        Route::EhrDocument,
        "ehr_document",
        S::EhrWrite,
        info::<ep::SubmitDocument>(),
    ),
    row(
        Route::EhrInbox,
        "ehr_inbox",
        S::EhrRead,
        info::<ep::ReferralInbox>(),
    ),
    row(
        Route::EhrRead,
        "ehr_read",
        S::EhrRead,
        info::<ep::ReadDocument>(),
    ),
    row(
        Route::EhrReceive,
        "ehr_receive",
        S::EhrWrite,
        info::<ep::ReceiveReferral>(),
    ),
    row(
        Route::EhrSummary,
        "ehr_summary",
        S::EhrRead,
        info::<ep::ReadClinicalSummary>(),
    ),
    row(
        Route::VaccinationRecord,
        "vaccination_record",
        S::Municipal,
        info::<ep::RecordVaccination>(),
    ),
    row(
        Route::VaccinationBatch,
        "vaccination_batch",
        S::Municipal,
        info::<ep::VaccinationBatch>(),
    ),
    row(
        Route::VaccinationRead,
        "vaccination_read",
        S::Municipal,
        info::<ep::ReadVaccinations>(),
    ),
    row(
        Route::VaccinationSchedule,
        "vaccination_schedule",
        S::Municipal,
        info::<ep::ReadVaccinationSchedule>(),
    ),
    row(
        Route::PrenatalCheckup,
        "prenatal_checkup",
        S::Municipal,
        info::<ep::PrenatalCheckup>(),
    ),
    row(
        Route::InfantCheckup,
        "infant_checkup",
        S::Municipal,
        info::<ep::InfantCheckup>(),
    ),
    row(
        Route::PregnancyRegister,
        "pregnancy_register",
        S::Municipal,
        info::<ep::RegisterPregnancy>(),
    ),
    row(
        Route::EntitlementRegister,
        "entitlement_register",
        S::Municipal,
        info::<ep::RegisterEntitlement>(),
    ),
    row(
        Route::QualificationAcquire,
        "qualification_acquire",
        S::Eligibility,
        info::<ep::ReportAcquisition>(),
    ),
    row(
        Route::QualificationLose,
        "qualification_lose",
        S::Eligibility,
        info::<ep::ReportLoss>(),
    ),
    row(
        Route::CareCertify,
        "care_certify",
        S::Municipal,
        info::<ep::CertifyCare>(),
    ),
    row(
        Route::CareRead,
        "care_read",
        S::Municipal,
        info::<ep::ReadCareCertification>(),
    ),
    RouteInfo {
        route: Route::PortalRead,
        name: "portal_read",
        service: Some(S::Portal),
        endpoint: None,
        slo: DEFAULT_SLO,
    },
    row(
        Route::PortalApply,
        "portal_apply",
        S::Portal,
        info::<ep::FileApplication>(),
    ),
    row(
        Route::ApplicationDecide,
        "application_decide",
        S::Municipal,
        info::<ep::DecideApplication>(),
    ),
    RouteInfo {
        route: Route::Healthz,
        name: "healthz",
        service: None,
        endpoint: Some(info::<ep::Healthz>()),
        slo: DEFAULT_SLO,
    },
];

impl Route {
    pub const ALL: [Route; 31] = {
        let mut all = [Route::Verify; 31];
        let mut i = 0;
        while i < 31 {
            all[i] = TABLE[i].route;
            i += 1;
        }
        all
    };

    /// The route's row of the table.
    pub fn info(self) -> &'static RouteInfo {
        &TABLE[self as usize]
    }

    /// The route's position in [`Route::ALL`] (its declaration order), for per-route tables.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    pub fn parse(s: &str) -> Option<Route> {
        TABLE.iter().find(|r| r.name == s).map(|r| r.route)
    }

    /// The central service its requests go to (`None` for the health probe). A batch pre-check
    /// counts once per person, as the service checks each.
    pub fn service(self) -> Option<Service> {
        self.info().service
    }

    /// The endpoint its requests go to (see [`RouteInfo::endpoint`]).
    pub fn endpoint(self) -> Option<Info> {
        self.info().endpoint
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

/// The central services of the exchange, each a pool of workers in the capacity model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Eligibility,
    Consent,
    PrescriptionRegister,
    PrescriptionCheck,
    PrescriptionRetrieve,
    PrescriptionDispense,
    EhrWrite,
    EhrRead,
    Municipal,
    Portal,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Eligibility,
        Service::Consent,
        Service::PrescriptionRegister,
        Service::PrescriptionCheck,
        Service::PrescriptionRetrieve,
        Service::PrescriptionDispense,
        Service::EhrWrite,
        Service::EhrRead,
        Service::Municipal,
        Service::Portal,
    ];

    /// The service's position in [`Service::ALL`] (its declaration order).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Eligibility => "eligibility",
            Service::Consent => "consent",
            Service::PrescriptionRegister => "prescription_register",
            Service::PrescriptionCheck => "prescription_check",
            Service::PrescriptionRetrieve => "prescription_retrieve",
            Service::PrescriptionDispense => "prescription_dispense",
            Service::EhrWrite => "ehr_write",
            Service::EhrRead => "ehr_read",
            Service::Municipal => "municipal",
            Service::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The service a route's requests go to.
    pub fn of(route: Route) -> Option<Service> {
        route.service()
    }

    /// The routes it serves, in route order.
    pub fn routes(self) -> Vec<Route> {
        Route::ALL
            .into_iter()
            .filter(|r| r.service() == Some(self))
            .collect()
    }
}

/// Names as serde keys and values: a route or a service is written by its name, and an unknown
/// name is refused with the list of names.
macro_rules! by_name {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                <$t>::parse(&name).ok_or_else(|| {
                    let names: Vec<&str> = <$t>::ALL.iter().map(|x| x.as_str()).collect();
                    serde::de::Error::custom(format!(
                        "{name}: not a {}; {}s are {}",
                        $what,
                        $what,
                        names.join(", ")
                    ))
                })
            }
        }
    };
}

by_name!(Route, "route");
by_name!(Service, "service");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_declaration_order_and_every_route_but_the_probe_has_one_service() {
        for (i, r) in Route::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}: Route::ALL is in declaration order");
            assert_eq!(r.info().route, r);
            assert_eq!(Route::parse(r.as_str()), Some(r));
            let owners: Vec<_> = Service::ALL
                .into_iter()
                .filter(|s| s.routes().contains(&r))
                .collect();
            assert_eq!(owners.len(), usize::from(r != Route::Healthz), "{r:?}");
        }
        for (i, s) in Service::ALL.into_iter().enumerate() {
            assert_eq!(Service::parse(s.as_str()), Some(s));
            assert_eq!(s.index(), i);
        }
    }

    #[test]
    fn names_are_serde_keys_and_unknown_ones_are_refused_with_the_list() {
        let m: std::collections::BTreeMap<Route, u8> =
            serde_json::from_str(r#"{"verify": 1, "ehr_summary": 2}"#).unwrap();
        assert_eq!(m[&Route::EhrSummary], 2);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"verify":1,"ehr_summary":2}"#
        );
        let e = serde_json::from_str::<Route>(r#""verfy""#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("verfy: not a route; routes are verify, batch"),
            "{e}"
        );
        let e = serde_json::from_str::<Service>(r#""eligibilty""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a service"), "{e}");
    }
}
