//! Every endpoint of the exchange, declared once: its method, its path (with `{name}` for each
//! path parameter), the body it takes, the query string it takes, the body it answers with and
//! its success status. The exchange's routers register handlers by endpoint, the typed client
//! and the load driver build requests from it, and the conformance suite sends its requests
//! through it, so none of them spells a path of its own.

use super::audit::{AccessLogQuery, AccessLogResponse};
use super::card::{
    CardAuthorityRequest, CardAuthorityResponse, CardRevocationRequest, CardRevocationResponse,
};
use super::common::{
    CredentialRequest, CredentialResponse, PersonRef, RevokeResponse, TokenRequest, TokenResponse,
};
use super::consent::{ConsentRequest, ConsentResponse};
use super::ehr::{DocumentResponse, DocumentSummary, ItemsSubmittedResponse, PurgeResponse};
use super::ehr::{InboxQuery, ReferralInboxResponse, SummaryQuery};
use super::eligibility::{AcquisitionRequest, LossRequest, QualificationChange};
use super::eligibility::{BatchVerifyRequest, BatchVerifyResponse, VerifyRequest, VerifyResponse};
use super::enrolment::{ClockRequest, ClockResponse, FacilityRecord, ImportResponse};
use super::enrolment::{InsurerRecord, PersonRecord, StatsResponse};
use super::enrolment::{SlowStoreRequest, SlowStoreResponse};
use super::enrolment::{SuspensionRequest, SuspensionsResponse, WritesRequest, WritesResponse};
use super::hpki::{CrlRequest, CrlResponse, TrustRootRequest, TrustRootResponse};
use super::municipal::{
    Application, ApplicationRequest, ApplicationsQuery, ApplicationsResponse,
    CareCertificationRequest, CareCertificationResponse, CareCertificationsResponse,
    CheckupReportsResponse, DateQuery, DecisionRequest, EntitlementRequest, EntitlementResponse,
    InfantCheckupRequest, MaternalRecord, MaternalResponse, MunicipalityRecord,
    PortalConsentRequest, PregnancyRequest, PrenatalCheckupRequest, ScheduleResponse, Vaccination,
    VaccinationBatchRequest, VaccinationBatchResponse, VaccinationHistory, VaccinationRequest,
    VaccineInfo,
};
use super::prescription::{
    CancelResponse, CheckRequest, CheckResponse, DispenseRequest, DispenseResponse,
    MedicationsQuery, MedicationsResponse, PaperDispenseRequest, PaperDispenseResponse,
    RegisterPrescriptionRequest, RegisterPrescriptionResponse, RetrieveResponse, UnlockResponse,
};
use serde_json::Value;

/// The HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One endpoint: what a request to it is and what it answers.
pub trait Endpoint {
    /// The JSON body it takes; `()` for none.
    type Request;
    /// The query string it takes (a flat struct, see [`query_string`]); `()` for none.
    type Query;
    /// The body of a successful answer.
    type Response;
    const METHOD: Method;
    /// The path, with `{name}` for each path parameter.
    const PATH: &'static str;
    /// The status of a successful answer: 200, or 201 where something is created.
    const STATUS: u16;
    /// The endpoint's name in [`ALL`].
    const NAME: &'static str;

    /// The path with its parameters filled in order, each percent-encoded as one segment.
    fn path(params: &[&str]) -> String {
        fill(Self::PATH, params)
    }
}

/// An endpoint as data, for listings and for tests that every endpoint is served and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub status: u16,
}

/// The table row of endpoint `E`.
pub const fn info<E: Endpoint>() -> Info {
    Info {
        name: E::NAME,
        method: E::METHOD,
        path: E::PATH,
        status: E::STATUS,
    }
}

/// Lines of NDJSON, one record per line (the admin import routes).
#[derive(Debug, Clone, PartialEq)]
pub struct Ndjson<T>(pub Vec<T>);

impl<T: serde::Serialize> Ndjson<T> {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for r in &self.0 {
            serde_json::to_writer(&mut out, r).expect("wire types serialise");
            out.push(b'\n');
        }
        out
    }
}

/// A plain-text answer (`/healthz`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

macro_rules! endpoints {
    ($(
        $(#[$doc:meta])*
        $name:ident: $method:ident $path:literal $(? $query:ty)?, $req:ty => $resp:ty, $status:literal;
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Endpoint for $name {
                type Request = $req;
                type Query = endpoints!(@query $($query)?);
                type Response = $resp;
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                const STATUS: u16 = $status;
                const NAME: &'static str = stringify!($name);
            }
        )*

        /// Every endpoint, in the order of docs/api.md.
        pub const ALL: &[Info] = &[$(
            Info { name: stringify!($name), method: Method::$method, path: $path, status: $status },
        )*];
    };
    (@query) => { () };
    (@query $q:ty) => { $q };
}

endpoints! {
    // Operations.
    /// Liveness: `ok`, without credentials.
    Healthz: Get "/healthz", () => Text, 200;
    /// Request counts and latency histograms in the Prometheus text format.
    Metrics: Get "/metrics", () => Text, 200;
    /// Row counts of the store (admin).
    Stats: Get "/v1/admin/stats", () => StatsResponse, 200;
    /// Moves a test exchange's clock forward (admin); `409 clock_fixed` on the wall clock.
    MoveClock: Post "/v1/admin/clock", ClockRequest => ClockResponse, 200;
    /// Suspends a service, or resumes it (admin): its requests answer `503 suspended` meanwhile.
    SetSuspension: Post "/v1/admin/suspensions", SuspensionRequest => SuspensionsResponse, 200;
    /// The services suspended now (admin).
    Suspensions: Get "/v1/admin/suspensions", () => SuspensionsResponse, 200;
    /// Slows every store transaction (admin; an exchange built with the `faults` feature only,
    /// 404 in any other).
    SlowStore: Post "/v1/admin/faults/slow-store", SlowStoreRequest => SlowStoreResponse, 200;
    /// Which of the named requests (`x-request-id`) left no successful audit line (admin).
    CheckWrites: Post "/v1/admin/writes", WritesRequest => WritesResponse, 200;

    // Principals and tokens.
    /// A principal's secret for a bearer token.
    Token: Post "/v1/auth/token", TokenRequest => TokenResponse, 200;
    /// Issues a principal's secret (admin).
    Credentials: Post "/v1/admin/credentials", CredentialRequest => CredentialResponse, 200;
    /// Revokes a principal's secrets and tokens (admin).
    RevokeCredentials: Post "/v1/admin/credentials/revoke", CredentialRequest => RevokeResponse, 200;
    /// Trusts a card-issuing authority's key for the certificates of My Number cards (admin).
    TrustCardAuthority: Post "/v1/admin/card-authorities", CardAuthorityRequest => CardAuthorityResponse, 200;
    /// Adds card certificates to the revocation list (admin).
    RevokeCardCertificates: Post "/v1/admin/card-revocations", CardRevocationRequest => CardRevocationResponse, 200;
    /// Trusts an HPKI root certificate for practitioners' signatures (admin).
    TrustHpkiRoot: Post "/v1/admin/hpki-roots", TrustRootRequest => TrustRootResponse, 200;
    /// Reads a CRL of a trusted HPKI CA: its serials sign nothing from now on (admin).
    PostHpkiCrl: Post "/v1/admin/hpki-crls", CrlRequest => CrlResponse, 200;

    // Enrolment (admin, NDJSON).
    ImportPersons: Post "/v1/admin/persons", Ndjson<PersonRecord> => ImportResponse, 200;
    ImportInsurers: Post "/v1/admin/insurers", Ndjson<InsurerRecord> => ImportResponse, 200;
    ImportFacilities: Post "/v1/admin/facilities", Ndjson<FacilityRecord> => ImportResponse, 200;
    ImportMunicipalities: Post "/v1/admin/municipalities", Ndjson<MunicipalityRecord> => ImportResponse, 200;

    // Eligibility and consent.
    /// Verification by card or insurance number, optionally with consent from the card reader.
    Verify: Post "/v1/eligibility/verify", VerifyRequest => VerifyResponse, 200;
    /// A batch pre-check (一括照会) of up to 1,000 persons.
    BatchVerify: Post "/v1/eligibility/batch", BatchVerifyRequest => BatchVerifyResponse, 200;
    /// An insurer reports a qualification it issued (資格取得).
    ReportAcquisition: Post "/v1/eligibility/qualifications", AcquisitionRequest => QualificationChange, 201;
    /// An insurer reports the end of a qualification it issued (資格喪失).
    ReportLoss: Post "/v1/eligibility/qualifications/loss", LossRequest => QualificationChange, 200;
    /// Consent recorded outside verification (card reader or verbal).
    GiveConsent: Post "/v1/consents", ConsentRequest => ConsentResponse, 201;

    // E-prescription.
    /// Registers a signed prescription; answers its access code.
    RegisterPrescription: Post "/v1/prescriptions", RegisterPrescriptionRequest => RegisterPrescriptionResponse, 201;
    /// The duplicate and 併用禁忌 check before prescribing.
    CheckPrescription: Post "/v1/prescriptions/check", CheckRequest => CheckResponse, 200;
    /// A person's medications of the last days (with consent).
    ReadMedications: Get "/v1/persons/{person_id}/medications" ?MedicationsQuery, () => MedicationsResponse, 200;
    /// A pharmacy retrieves a prescription by access code and the patient's identity.
    RetrievePrescription: Get "/v1/prescriptions/{code}" ?PersonRef, () => RetrieveResponse, 200;
    /// A signed dispensing result.
    Dispense: Post "/v1/prescriptions/{id}/dispensations", DispenseRequest => DispenseResponse, 201;
    /// Cancels a prescription not yet dispensed.
    CancelPrescription: Post "/v1/prescriptions/{id}/cancel", () => CancelResponse, 200;
    /// The prescriber unlocks retrieval by access code for the prescription's patient.
    UnlockPrescription: Post "/v1/prescriptions/{id}/unlock", () => UnlockResponse, 200;
    /// The dispensing result of a paper prescription.
    PaperDispense: Post "/v1/dispensations", PaperDispenseRequest => PaperDispenseResponse, 201;

    // EHR sharing.
    /// The 6 items of a visit (a FHIR `collection` Bundle).
    SubmitItems: Post "/v1/ehr/items", Value => ItemsSubmittedResponse, 201;
    /// The clinical summary of a person (with EHR consent): a FHIR `searchset` Bundle.
    ReadClinicalSummary: Get "/v1/persons/{person_id}/clinical-summary" ?SummaryQuery, () => Value, 200;
    /// The person's own clinical summary, without undisclosed diagnoses.
    PortalClinicalSummary: Get "/v1/portal/clinical-summary" ?SummaryQuery, () => Value, 200;
    /// A referral letter, discharge summary or checkup report (a FHIR `document` Bundle).
    SubmitDocument: Post "/v1/ehr/documents", Value => DocumentSummary, 201;
    ReadDocument: Get "/v1/ehr/documents/{id}", () => DocumentResponse, 200;
    /// The addressee marks a referral received.
    ReceiveReferral: Post "/v1/ehr/documents/{id}/receipt", () => DocumentSummary, 200;
    /// The addressee's referral inbox.
    ReferralInbox: Get "/v1/ehr/referrals" ?InboxQuery, () => ReferralInboxResponse, 200;
    /// Deletes what is past retention (admin).
    PurgeEhr: Post "/v1/admin/ehr/purge", () => PurgeResponse, 200;

    // Municipalities, care and the portal.
    /// The vaccine table.
    Vaccines: Get "/v1/vaccines", () => Vec<VaccineInfo>, 200;
    /// A facility records a dose it gave.
    RecordVaccination: Post "/v1/vaccinations", VaccinationRequest => Vaccination, 201;
    /// A municipality uploads doses from paper records.
    VaccinationBatch: Post "/v1/municipal/vaccinations/batch", VaccinationBatchRequest => VaccinationBatchResponse, 201;
    ReadVaccinations: Get "/v1/persons/{id}/vaccinations", () => VaccinationHistory, 200;
    ReadVaccinationSchedule: Get "/v1/persons/{id}/vaccination-schedule" ?DateQuery, () => ScheduleResponse, 200;
    RegisterPregnancy: Post "/v1/maternal/pregnancies", PregnancyRequest => MaternalRecord, 201;
    PrenatalCheckup: Post "/v1/maternal/prenatal-checkups", PrenatalCheckupRequest => MaternalRecord, 201;
    InfantCheckup: Post "/v1/maternal/infant-checkups", InfantCheckupRequest => MaternalRecord, 201;
    ReadMaternal: Get "/v1/persons/{id}/maternal", () => MaternalResponse, 200;
    /// A municipality registers a care-level certification.
    CertifyCare: Post "/v1/care/certifications", CareCertificationRequest => CareCertificationResponse, 201;
    ReadCareCertification: Get "/v1/persons/{id}/care-certification" ?DateQuery, () => CareCertificationsResponse, 200;
    /// A municipality registers a public-expense or local-subsidy entitlement.
    RegisterEntitlement: Post "/v1/municipal/entitlements", EntitlementRequest => EntitlementResponse, 201;
    /// A person files an online application.
    FileApplication: Post "/v1/portal/applications", ApplicationRequest => Application, 201;
    /// A person's own applications.
    MyApplications: Get "/v1/portal/applications" ?ApplicationsQuery, () => ApplicationsResponse, 200;
    /// A municipality's inbox of applications.
    ApplicationInbox: Get "/v1/municipal/applications" ?ApplicationsQuery, () => ApplicationsResponse, 200;
    DecideApplication: Post "/v1/municipal/applications/{id}/decision", DecisionRequest => Application, 200;
    PortalVaccinations: Get "/v1/portal/vaccinations", () => VaccinationHistory, 200;
    PortalMaternal: Get "/v1/portal/maternal", () => MaternalResponse, 200;
    PortalCareCertification: Get "/v1/portal/care-certification", () => CareCertificationsResponse, 200;
    PortalCheckups: Get "/v1/portal/checkups", () => CheckupReportsResponse, 200;
    /// A person consents to a care provider reading their certification.
    PortalConsent: Post "/v1/portal/consents", PortalConsentRequest => ConsentResponse, 201;
    /// A person unlocks retrieval of their prescriptions by access code.
    PortalUnlockPrescriptions: Post "/v1/portal/prescriptions/unlock", () => UnlockResponse, 200;
    /// Who accessed the person's records.
    AccessLog: Get "/v1/portal/access-log" ?AccessLogQuery, () => AccessLogResponse, 200;
}

/// The prefix of every API path (all but the operations routes `/healthz` and `/metrics`).
pub const API_PREFIX: &str = "/v1/";

/// Fills `{…}` parameters of a path template in order, each percent-encoded as one segment.
pub fn fill(template: &str, params: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    let mut values = params.iter();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        out.push_str(&rest[..open]);
        let value = values.next().expect("a value for every path parameter");
        out.push_str(&percent_encode(value));
        rest = &rest[(close + 1).min(rest.len())..];
    }
    debug_assert!(
        values.next().is_none(),
        "more values than parameters of {template}"
    );
    out.push_str(rest);
    out
}

/// A flat query struct as `key=value&…`: fields in declaration order, absent ones left out,
/// values percent-encoded (a space as `%20`).
pub fn query_string<Q: serde::Serialize>(q: &Q) -> String {
    let form = serde_urlencoded::to_string(q).expect("query types are flat structs");
    form_urlencoded::parse(form.as_bytes())
        .map(|(k, v)| format!("{k}={}", percent_encode(&v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_listed_once_with_a_well_formed_path() {
        let mut seen = std::collections::BTreeSet::new();
        for e in ALL {
            assert!(seen.insert((e.method, e.path)), "{} twice", e.path);
            assert!(
                e.path.starts_with('/') && !e.path.ends_with('/'),
                "{}",
                e.path
            );
            assert_eq!(e.path.matches('{').count(), e.path.matches('}').count());
            assert!([200, 201].contains(&e.status));
        }
        assert_eq!(ALL.len(), 63);
    }

    #[test]
    fn paths_and_queries_are_filled_and_encoded() {
        assert_eq!(
            Dispense::path(&["RX 1/2"]),
            "/v1/prescriptions/RX%201%2F2/dispensations"
        );
        assert_eq!(Verify::path(&[]), "/v1/eligibility/verify");
        let p = PersonRef {
            insurer_number: Some("06130012".into()),
            symbol: Some("記号 1".into()),
            number: Some("12".into()),
            branch: Some("00".into()),
            ..PersonRef::default()
        };
        assert_eq!(
            query_string(&p),
            "insurer_number=06130012&symbol=%E8%A8%98%E5%8F%B7%201&number=12&branch=00"
        );
        assert_eq!(query_string(&()), "");
    }
}
