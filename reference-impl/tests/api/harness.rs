//! A server on 127.0.0.1:0 with a manual clock and the built-in sample, plus request helpers.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dx_exchange::clock::{Clock, ManualClock};
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::refdata::{DrugMaster, sample};
use dx_exchange::store::{Durability, ScratchStore};
use dx_exchange::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_exchange::wire::hpki::{Practitioner, Role, sign_bundle};
use dx_exchange::wire::{PersonRecord, QualificationRecord, Sex};
use dx_exchange::{Exchange, Running};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// 2026-11-25 09:30 JST.
pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T09:30:00+09:00")
        .unwrap()
        .with_timezone(&Utc)
}

/// The store a test runs on: every test of this suite that goes through the store runs once on
/// each (see [`on_both_stores!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// The backend of the running test (SQLite outside [`on_store`]).
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Runs a test body on `backend` (a PostgreSQL run without a server to test against says so
/// and passes, unless the server is required: see
/// [`dx_exchange::store::postgres::test_server_or_skip`]).
pub async fn on_store(backend: Backend, test: impl std::future::Future<Output = ()>) {
    if backend == Backend::Postgres
        && dx_exchange::store::postgres::test_server_or_skip("this test").is_none()
    {
        return;
    }
    BACKEND.scope(backend, test).await
}

/// Declares each named `async fn` of the module as two tests, `sqlite::<name>` and
/// `postgres::<name>`: one test body, both stores.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::harness::on_store(crate::harness::Backend::Sqlite, super::$name()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::harness::on_store(crate::harness::Backend::Postgres, super::$name())
                        .await
                }
            )*
        }
    };
}
pub(crate) use on_both_stores;

/// Declares each named `async fn` of the module as a test `postgres::<name>` only (what needs a
/// store several nodes serve).
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::harness::on_store(crate::harness::Backend::Postgres, super::$name())
                        .await
                }
            )*
        }
    };
}
pub(crate) use on_postgres;

/// A store of the running test's backend: the SQLite file in `dir`, or a scratch database on
/// the test server.
pub fn test_store(dir: &std::path::Path) -> ScratchStore {
    match backend() {
        Backend::Sqlite => ScratchStore::sqlite(dir),
        Backend::Postgres => {
            let server = dx_exchange::store::postgres::test_server().expect("a test server");
            ScratchStore::postgres(&server).unwrap()
        }
    }
}

pub const SEED: u64 = 1;
pub const PERSONS: u64 = 200;

pub struct Harness {
    pub url: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    admin_secret: String,
    /// Nonces of the cards presented so far (shared by the nodes of one store).
    presented: Arc<std::sync::atomic::AtomicU64>,
    /// The facility of each facility token handed out.
    facilities: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    location: dx_exchange::store::Location,
    limits: dx_exchange::admission::Limits,
    _running: Running,
    /// The store and directory, owned by the first node of a store.
    _store: Option<ScratchStore>,
    _dir: Option<tempfile::TempDir>,
}

/// A prescriber or pharmacist: a facility's token and an HPKI certificate of the sample's
/// hierarchy (which the sample exchange trusts).
pub struct Signer {
    pub facility: String,
    pub token: String,
    pub practitioner_id: String,
    pub cert: Practitioner,
}

/// The certificate of `practitioner_id` from the sample's HPKI hierarchy of `seed`: a
/// pharmacist if the id starts with `PH`, else a doctor (a dentist at a dental clinic); valid
/// from 2020 to 2044; numbered by a digest of the id.
pub fn certificate(seed: u64, facility: &str, practitioner_id: &str) -> Practitioner {
    let role = if practitioner_id.starts_with("PH") {
        Role::Pharmacist
    } else if dx_exchange::codes::validate_facility_code(facility) == Ok(FacilityTable::Dental) {
        Role::Dentist
    } else {
        Role::Doctor
    };
    let serial = practitioner_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        >> 1;
    let at = |y| chrono::TimeZone::with_ymd_and_hms(&Utc, y, 1, 1, 0, 0, 0).unwrap();
    sample::hpki(seed).practitioner(practitioner_id, role, at(2020), at(2045), serial)
}

pub fn clinic(n: u16) -> String {
    facility_code(13, FacilityTable::Medical, 1, 1001 + n)
}
pub fn hospital(n: u16) -> String {
    facility_code(13, FacilityTable::Medical, 1, 1 + n)
}
pub fn pharmacy(n: u16) -> String {
    facility_code(13, FacilityTable::Pharmacy, 1, 1 + n)
}

/// The YJ code of the first product of an ingredient.
pub fn yj(ingredient: &str) -> String {
    DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.ingredient == ingredient)
        .unwrap()
        .yj
        .clone()
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(dx_exchange::admission::Limits::default()).await
    }

    /// A server with the given admission limits.
    pub async fn start_with(limits: dx_exchange::admission::Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(start_time()));
        let store = test_store(dir.path());
        let exchange =
            Exchange::open_at(&store.location, Durability::Normal, clock.clone(), limits).unwrap();
        exchange.seed_sample(PERSONS, SEED).unwrap();
        let admin_secret = exchange.admin_secret().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = exchange.spawn(listener).unwrap();
        Self {
            url: running.url(),
            http: reqwest::Client::new(),
            clock,
            admin_secret,
            presented: Arc::default(),
            facilities: Arc::default(),
            location: store.location.clone(),
            limits,
            _running: running,
            _store: Some(store),
            _dir: Some(dir),
        }
    }

    /// Another exchange process on this one's store (a second node: only a PostgreSQL store is
    /// served by several), on the same clock; its tokens and cards are this one's.
    pub async fn another_node(&self) -> Harness {
        assert!(
            matches!(self.location, dx_exchange::store::Location::Postgres(_)),
            "only a PostgreSQL store has several nodes"
        );
        let exchange = Exchange::open_at(
            &self.location,
            Durability::Normal,
            self.clock.clone(),
            self.limits,
        )
        .unwrap();
        assert_eq!(
            exchange.admin_secret(),
            self.admin_secret,
            "one secret per store"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = exchange.spawn(listener).unwrap();
        Harness {
            url: running.url(),
            http: reqwest::Client::new(),
            clock: self.clock.clone(),
            admin_secret: self.admin_secret.clone(),
            presented: self.presented.clone(),
            facilities: self.facilities.clone(),
            location: self.location.clone(),
            limits: self.limits,
            _running: running,
            _store: None,
            _dir: None,
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.clock.today_jst()
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.advance(TimeDelta::days(days));
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        crate::fhir_schema::check_bundles(path, &v);
        (status, v)
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, Some(token), path, Some(&body))
            .await
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    pub async fn admin(&self) -> String {
        let (s, v) = self
            .send(
                reqwest::Method::POST,
                None,
                "/v1/auth/token",
                Some(&json!({"principal": "admin", "secret": self.admin_secret})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// A fresh token for a principal (`facility:<code>`, `person:<id>`, …).
    pub async fn token(&self, principal: &str) -> String {
        let admin = self.admin().await;
        let (s, cred) = self
            .post(
                &admin,
                "/v1/admin/credentials",
                json!({"principal": principal}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{cred}");
        let (s, v) = self
            .send(
                reqwest::Method::POST,
                None,
                "/v1/auth/token",
                Some(&json!({"principal": principal, "secret": cred["secret"]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        if let Some(code) = principal.strip_prefix("facility:") {
            let mut f = self.facilities.lock().unwrap();
            f.insert(token.clone(), code.to_owned());
        }
        token
    }

    /// The facility a token of [`Harness::token`] was issued to.
    pub fn facility_of(&self, token: &str) -> String {
        let f = self.facilities.lock().unwrap();
        f.get(token)
            .cloned()
            .expect("a facility token of this harness")
    }

    /// `p`'s card presented at the facility of `token`, as a person reference.
    pub fn card_at(&self, token: &str, p: &PersonRecord) -> Value {
        self.card(&self.facility_of(token), p)
    }

    pub async fn facility_token(&self, code: &str) -> String {
        self.token(&format!("facility:{code}")).await
    }

    pub async fn stats(&self) -> Value {
        let admin = self.admin().await;
        let (s, v) = self.get(&admin, "/v1/admin/stats").await;
        assert_eq!(s, StatusCode::OK);
        v
    }

    /// Stats without the audit count, which refusals do add to.
    pub async fn data_stats(&self) -> Value {
        let mut v = self.stats().await;
        v.as_object_mut().unwrap().remove("audit");
        v
    }

    /// A facility's token with a practitioner's certificate.
    pub async fn signer(&self, facility: &str, practitioner_id: &str) -> Signer {
        Signer {
            facility: facility.to_owned(),
            token: self.facility_token(facility).await,
            practitioner_id: practitioner_id.to_owned(),
            cert: certificate(SEED, facility, practitioner_id),
        }
    }

    /// The sample person with the lowest index matching `pred`.
    pub fn find_person(&self, pred: impl Fn(&PersonRecord) -> bool) -> PersonRecord {
        (0..PERSONS)
            .map(|i| sample::person(SEED, i, self.today()))
            .find(|p| pred(p))
            .expect("a matching sample person")
    }

    /// The sample person with id `id`.
    pub fn sample_person(&self, id: &str) -> PersonRecord {
        let i: u64 = id.trim_start_matches('P').parse().unwrap();
        sample::person(SEED, i, self.today())
    }

    /// The card proof of the sample card `serial` presented now at `facility` (a fresh nonce).
    pub fn card_proof(&self, facility: &str, serial: &str) -> String {
        let (card, cert) = dx_exchange::wire::card::simulated(SEED, serial, self.today());
        let n = self
            .presented
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce = dx_exchange::wire::card::nonce_from(&n.to_le_bytes());
        card.present(&cert, facility, self.clock.now(), &nonce)
    }

    /// `p`'s card presented at `facility`, as a person reference.
    pub fn card(&self, facility: &str, p: &PersonRecord) -> Value {
        let serial = p.card_serial.as_deref().expect("a person with a card");
        json!({"card_serial": serial, "card_proof": self.card_proof(facility, serial)})
    }

    /// The card `serial` presented at `facility`, as a query string.
    pub fn card_query(&self, facility: &str, serial: &str) -> String {
        let proof = self.card_proof(facility, serial);
        dx_exchange::wire::endpoints::query_string(&dx_exchange::wire::PersonRef::presenting(
            serial, proof,
        ))
    }

    /// Verifies `p`'s eligibility by insurance number at `token`'s facility (a visit).
    pub async fn visit(&self, token: &str, p: &PersonRecord) {
        let body = json!({"person": insurance_ref(current(p))});
        let (s, v) = self.post(token, "/v1/eligibility/verify", body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// An adult with a card and a single current qualification.
    pub fn adult_with_card(&self, skip: usize) -> PersonRecord {
        let today = self.today();
        (0..PERSONS)
            .map(|i| sample::person(SEED, i, today))
            .filter(|p| {
                p.card_serial.is_some()
                    && p.qualifications.len() == 1
                    && (20..65).contains(&(today.years_since(p.birth_date).unwrap_or(0)))
            })
            .nth(skip)
            .expect("enough adults in the sample")
    }
}

pub fn current(p: &PersonRecord) -> &QualificationRecord {
    p.qualifications
        .iter()
        .find(|q| q.valid_to.is_none())
        .unwrap()
}

/// The query string naming a person by their current insurance number.
pub fn insurance_query(p: &PersonRecord) -> String {
    let q = current(p);
    dx_exchange::wire::endpoints::query_string(&dx_exchange::wire::PersonRef {
        insurer_number: Some(q.insurer_number.clone()),
        symbol: Some(q.symbol.clone()),
        number: Some(q.number.clone()),
        branch: Some(q.branch.clone()),
        ..Default::default()
    })
}

pub fn insurance_ref(q: &QualificationRecord) -> Value {
    json!({"insurer_number": q.insurer_number, "symbol": q.symbol, "number": q.number, "branch": q.branch})
}

impl Signer {
    /// A prescription document for `person` with `(ingredient, days)` drugs and `uses` uses.
    pub fn draft(
        &self,
        doc: &str,
        person: &PersonRecord,
        drugs: &[(&str, u16)],
        uses: u8,
        at: DateTime<Utc>,
    ) -> PrescriptionDraft {
        let q = current(person);
        PrescriptionDraft {
            document_id: doc.to_owned(),
            facility_code: self.facility.clone(),
            facility_name: "Test facility".into(),
            practitioner_id: self.practitioner_id.clone(),
            issued_at: at.with_timezone(&dx_exchange::clock::jst()),
            patient_gender: if person.sex == Sex::Male {
                "male"
            } else {
                "female"
            },
            patient_birth_date: person.birth_date,
            coverage: DraftCoverage {
                insurer_number: q.insurer_number.clone(),
                symbol: q.symbol.clone(),
                number: q.number.clone(),
                branch: q.branch.clone(),
            },
            items: drugs
                .iter()
                .map(|&(ing, days)| {
                    let d = DrugMaster::get().by_code(&yj(ing)).unwrap();
                    DraftItem {
                        code: d.yj.clone(),
                        code_system: YJ_SYSTEM,
                        display: d.name.clone(),
                        days,
                        quantity: u32::from(days),
                        unit: d.unit.into(),
                        as_needed: d.as_needed,
                    }
                })
                .collect(),
            uses,
        }
    }

    /// The registration request body for a draft, signed when it was issued.
    pub fn signed(&self, draft: &PrescriptionDraft) -> Value {
        Self::signed_by(draft, &self.cert, draft.issued_at.fixed_offset())
    }

    /// The registration request body for a draft, signed by `who` at `when` (another
    /// certificate, another time: what the signature refusals are made of).
    pub fn signed_by(
        draft: &PrescriptionDraft,
        who: &Practitioner,
        when: DateTime<chrono::FixedOffset>,
    ) -> Value {
        let mut bundle = draft.to_bundle();
        sign_bundle(&mut bundle, who, when);
        json!({"kind": "electronic", "bundle": bundle})
    }

    /// The registration request body for a Bundle, signed when its Composition is dated.
    pub fn signed_bundle(&self, mut bundle: Value) -> Value {
        let when = bundle["entry"][0]["resource"]["date"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .expect("a Composition.date");
        sign_bundle(&mut bundle, &self.cert, when);
        json!({"kind": "electronic", "bundle": bundle})
    }

    /// Registers a prescription and returns the response body.
    pub async fn register(
        &self,
        h: &Harness,
        doc: &str,
        person: &PersonRecord,
        drugs: &[(&str, u16)],
        uses: u8,
    ) -> Value {
        let body = self.signed(&self.draft(doc, person, drugs, uses, h.clock.now()));
        let (s, v) = h.post(&self.token, "/v1/prescriptions", body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// A dispensing result body for prescription `rx` (its answer at registration), signed
    /// `at` for this pharmacy.
    pub fn dispensation_at(
        &self,
        rx: &Value,
        access_code: &str,
        items: &[(&str, u16)],
        at: DateTime<Utc>,
    ) -> Value {
        let d = dx_exchange::wire::Dispensation {
            access_code: access_code.to_owned(),
            items: items
                .iter()
                .map(|&(ing, days)| dx_exchange::wire::DrugLine {
                    code: yj(ing),
                    days,
                    quantity: Some(u32::from(days)),
                })
                .collect(),
        };
        let id = rx["prescription_id"].as_str().expect("a prescription id");
        let sig = self.cert.sign(&d.signed_bytes(id, &self.facility), at);
        json!({"dispensation": d, "signature": sig})
    }

    /// A dispensing result body for `rx`, signed now (the harness's clock).
    pub fn dispensation(
        &self,
        h: &Harness,
        rx: &Value,
        access_code: &str,
        items: &[(&str, u16)],
    ) -> Value {
        self.dispensation_at(rx, access_code, items, h.clock.now())
    }

    /// Retrieves a registered prescription by its access code and the patient's insurance number.
    pub async fn retrieve(&self, h: &Harness, rx: &Value) -> (StatusCode, Value) {
        let p = h.sample_person(rx["person_id"].as_str().unwrap());
        let code = rx["access_code"].as_str().unwrap();
        h.get(
            &self.token,
            &format!("/v1/prescriptions/{code}?{}", insurance_query(&p)),
        )
        .await
    }

    /// Retrieves (as a pharmacy must before dispensing), dispenses, and returns the dispensing's
    /// answer.
    pub async fn dispense(
        &self,
        h: &Harness,
        rx: &Value,
        items: &[(&str, u16)],
    ) -> (StatusCode, Value) {
        // A code freed by the last use retrieves nothing; the dispensing then answers for itself.
        self.retrieve(h, rx).await;
        let path = format!(
            "/v1/prescriptions/{}/dispensations",
            rx["prescription_id"].as_str().unwrap()
        );
        h.post(
            &self.token,
            &path,
            self.dispensation(h, rx, rx["access_code"].as_str().unwrap(), items),
        )
        .await
    }
}

impl Signer {
    /// A new token after the clock moved past the old one's expiry.
    pub async fn refresh(&mut self, h: &Harness) {
        self.token = h.facility_token(&self.facility).await;
    }
}

/// The EHR Patient of a person, by their current insurance.
pub fn ehr_patient(p: &PersonRecord) -> dx_exchange::wire::clins::EhrPatient {
    let q = current(p);
    dx_exchange::wire::clins::EhrPatient {
        insurer_number: q.insurer_number.clone(),
        symbol: q.symbol.clone(),
        number: q.number.clone(),
        branch: q.branch.clone(),
        gender: if p.sex == Sex::Male { "male" } else { "female" },
        birth_date: p.birth_date,
    }
}

impl Harness {
    /// A 6-item submission of `facility` for `p`, dated now, as one Bundle (whatever its items'
    /// categories: a Bundle of several is for tests of its refusal).
    pub fn items_bundle(
        &self,
        facility: &str,
        submission: &str,
        p: &PersonRecord,
        items: Vec<dx_exchange::wire::clins::ItemDraft>,
    ) -> Value {
        self.items_draft(facility, submission, p, items).to_bundle()
    }

    /// A 6-item submission as JP-CLINS sends it: one Bundle per resource category.
    pub fn items_bundles(
        &self,
        facility: &str,
        submission: &str,
        p: &PersonRecord,
        items: Vec<dx_exchange::wire::clins::ItemDraft>,
    ) -> Vec<Value> {
        let draft = self.items_draft(facility, submission, p, items);
        draft.by_category().iter().map(|d| d.to_bundle()).collect()
    }

    fn items_draft(
        &self,
        facility: &str,
        submission: &str,
        p: &PersonRecord,
        items: Vec<dx_exchange::wire::clins::ItemDraft>,
    ) -> dx_exchange::wire::clins::ItemsDraft {
        dx_exchange::wire::clins::ItemsDraft {
            submission_id: submission.into(),
            facility_code: facility.into(),
            facility_name: "Test facility".into(),
            at: self.clock.now().with_timezone(&dx_exchange::clock::jst()),
            patient: ehr_patient(p),
            items,
        }
    }

    /// A document of `facility` for `p`, dated now.
    pub fn document_bundle(
        &self,
        facility: &str,
        doc: &str,
        kind: dx_exchange::wire::clins::DocumentKind,
        p: &PersonRecord,
        addressee: Option<&str>,
        attachments: &[&str],
    ) -> Value {
        dx_exchange::wire::clins::DocumentDraft {
            document_id: doc.into(),
            kind,
            facility_code: facility.into(),
            facility_name: "Test facility".into(),
            at: self.clock.now().with_timezone(&dx_exchange::clock::jst()),
            patient: ehr_patient(p),
            addressee: addressee.map(str::to_owned),
            attachments: attachments.iter().map(|s| (*s).to_owned()).collect(),
            text: "Course & findings <summary>".into(),
            items: vec![dx_exchange::wire::clins::ItemDraft::new(
                dx_exchange::wire::clins::Fact::Diagnosis { code: "I10".into() },
                self.today(),
            )],
        }
        .to_bundle()
    }

    /// Consent of `kinds` (`{"ehr": true}`, …) given at `token`'s card reader.
    pub async fn consent(&self, token: &str, p: &PersonRecord, kinds: Value) {
        let body = json!({"person": self.card_at(token, p), "consent": kinds});
        let (s, v) = self.post(token, "/v1/eligibility/verify", body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}
