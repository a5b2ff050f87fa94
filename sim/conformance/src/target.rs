//! The target as the suite sees it: HTTP calls recorded as [`Exchange`]s (what a failure shows),
//! each to an endpoint of the table (`wire::endpoints`) with its typed body and query — only the
//! checks that send something deliberately wrong send a body, path or method of their own —
//! tokens for any principal through the admin routes, the target's own clock, and the synthetic
//! insurer, facilities, municipalities, persons and HPKI certificates the checks use.

use crate::finding::Finding;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use dx_protocol::codes::{FacilityTable, facility_code, insurer_number, municipality_code};
use dx_protocol::refdata::DrugMaster;
use dx_protocol::wire::card::{CardAuthority, CardAuthorityRequest, nonce_from, simulated};
use dx_protocol::wire::endpoints::{self as ep, Endpoint, Ndjson};
use dx_protocol::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_protocol::wire::hpki::{Practitioner, TestHierarchy, sign_bundle};
use dx_protocol::wire::{
    CredentialRequest, Dispensation, DispenseRequest, DrugLine, FacilityKind, FacilityRecord,
    InsurerRecord, MunicipalityRecord, PersonRecord, PersonRef, PrescriptionKind,
    QualificationRecord, RegisterPrescriptionRequest, Sex, TokenRequest,
};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes of a request or response body kept in a record.
const KEEP: usize = 4096;

pub use dx_model::rundir::conformance::Exchange;

fn cut(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(KEEP)]).into_owned();
    if bytes.len() > KEEP {
        format!("{text}… ({} bytes in all)", bytes.len())
    } else {
        text
    }
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    /// Bytes with a content type, sent as they are (malformed, oversized, NDJSON).
    Raw(Vec<u8>, &'static str),
}

/// The target exchange.
pub struct Target {
    base: String,
    http: reqwest::Client,
    admin_secret: String,
}

impl Target {
    pub fn new(base: &str, admin_secret: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("a client"),
            admin_secret: admin_secret.trim().to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request (with a bearer token if given) and records it.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> Result<Exchange, Finding> {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let request = match body {
            Body::None => None,
            Body::Json(v) => {
                let bytes = serde_json::to_vec(&v).expect("JSON");
                let text = cut(&bytes);
                rb = rb.header("content-type", "application/json").body(bytes);
                Some(text)
            }
            Body::Raw(bytes, content_type) => {
                let text = cut(&bytes);
                rb = rb.header("content-type", content_type).body(bytes);
                Some(text)
            }
        };
        let resp = rb.send().await.map_err(|e| {
            Finding::Error(format!(
                "{method} {path}: no answer from {}: {e}",
                self.base
            ))
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Finding::Error(format!("{method} {path}: reading the answer: {e}")))?;
        Ok(Exchange {
            method: method.to_string(),
            path: path.to_owned(),
            request,
            status,
            response: cut(&bytes),
            retry_after,
            json: serde_json::from_slice(&bytes).ok(),
        })
    }

    /// A request to endpoint `E`: its method and path from the table, its path parameters,
    /// query and body typed.
    pub async fn send<E: Endpoint>(
        &self,
        token: Option<&str>,
        params: &[&str],
        query: &E::Query,
        body: &E::Request,
    ) -> Result<Exchange, Finding>
    where
        E::Query: Serialize,
        E::Request: Serialize,
    {
        let path = dx_client::target::<E>(params, query);
        let body = match dx_client::body::<E>(body) {
            Some(bytes) => Body::Raw(bytes, "application/json"),
            None => Body::None,
        };
        self.call(dx_client::method(E::METHOD), &path, token, body)
            .await
    }

    /// A request with a body to endpoint `E`, which takes no path parameters or query.
    pub async fn post<E: Endpoint<Query = ()>>(
        &self,
        token: &str,
        body: &E::Request,
    ) -> Result<Exchange, Finding>
    where
        E::Request: Serialize,
    {
        self.send::<E>(Some(token), &[], &(), body).await
    }

    /// A read of endpoint `E` with its path parameters, without query or body.
    pub async fn get<E: Endpoint<Query = (), Request = ()>>(
        &self,
        token: &str,
        params: &[&str],
    ) -> Result<Exchange, Finding> {
        self.send::<E>(Some(token), params, &(), &()).await
    }

    /// A deliberately wrong body to endpoint `E` (its method and path from the table).
    pub async fn send_raw<E: Endpoint>(
        &self,
        token: Option<&str>,
        params: &[&str],
        body: Body,
    ) -> Result<Exchange, Finding> {
        self.call(dx_client::method(E::METHOD), &E::path(params), token, body)
            .await
    }

    /// `POST /v1/auth/token` for `principal` with `secret`.
    async fn sign_in(&self, principal: &str, secret: &str) -> Result<Exchange, Finding> {
        let body = TokenRequest {
            principal: principal.to_owned(),
            secret: secret.to_owned(),
        };
        self.send::<ep::Token>(None, &[], &(), &body).await
    }

    /// The token of a sign-in answer, or an error naming who was refused.
    fn token_of(ex: &Exchange, principal: &str) -> Result<String, Finding> {
        match ex.at("/token").and_then(Value::as_str) {
            Some(t) if ex.status == 200 => Ok(t.to_owned()),
            _ => Err(Finding::Error(format!(
                "no token for {principal} at POST /v1/auth/token (HTTP {}: {})",
                ex.status, ex.response
            ))),
        }
    }

    /// Sends `n` copies of a JSON POST at once, and answers each one's exchange, in no order;
    /// a request that got no answer has status 0.
    pub async fn burst<E: Endpoint>(
        &self,
        token: &str,
        body: &E::Request,
        n: usize,
    ) -> Vec<Exchange>
    where
        E::Request: serde::Serialize,
    {
        let bytes = serde_json::to_vec(body).expect("JSON");
        let path = E::path(&[]);
        let url = format!("{}{path}", self.base);
        let mut set = tokio::task::JoinSet::new();
        // One client, so each simultaneous request opens a connection of its own at once; all
        // are sent when every task is ready.
        let http = reqwest::Client::new();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(n + 1));
        for _ in 0..n {
            let (url, bytes, token) = (url.clone(), bytes.clone(), token.to_owned());
            let (http, start, path) = (http.clone(), start.clone(), path.clone());
            set.spawn(async move {
                start.wait().await;
                let mut ex = Exchange {
                    method: "POST".into(),
                    path,
                    request: Some(cut(&bytes)),
                    status: 0,
                    response: String::new(),
                    retry_after: None,
                    json: None,
                };
                let sent = http
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(bytes)
                    .send()
                    .await;
                let r = match sent {
                    Ok(r) => r,
                    Err(e) => {
                        ex.response = format!("no answer: {e}");
                        return ex;
                    }
                };
                ex.status = r.status().as_u16();
                ex.retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let body = r.bytes().await.unwrap_or_default();
                ex.response = cut(&body);
                ex.json = serde_json::from_slice(&body).ok();
                ex
            });
        }
        start.wait().await;
        let mut out = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            if let Ok(ex) = r {
                out.push(ex);
            }
        }
        out
    }

    /// An admin token.
    pub async fn admin(&self) -> Result<String, Finding> {
        Self::token_of(&self.sign_in("admin", &self.admin_secret).await?, "admin")
    }

    /// A fresh token for `principal` (`facility:<code>`, `municipality:<code>`, `person:<id>`).
    pub async fn token(&self, principal: &str) -> Result<String, Finding> {
        let admin = self.admin().await?;
        let body = CredentialRequest {
            principal: principal.to_owned(),
        };
        let creds = self.post::<ep::Credentials>(&admin, &body).await?;
        let secret = creds.text("/secret");
        if creds.status != 200 || secret.is_empty() {
            return Err(Finding::Error(format!(
                "no credentials for {principal} (HTTP {}: {})",
                creds.status, creds.response
            )));
        }
        Self::token_of(&self.sign_in(principal, &secret).await?, principal)
    }

    /// The target's clock: a token's expiry less its hour.
    pub async fn now(&self) -> Result<DateTime<Utc>, Finding> {
        let ex = self.sign_in("admin", &self.admin_secret).await?;
        let expires = ex.text("/expires_at");
        DateTime::parse_from_rfc3339(&expires)
            .map(|t| t.with_timezone(&Utc) - TimeDelta::hours(1))
            .map_err(|_| {
                Finding::Error(format!(
                    "no expires_at in the token answer: {}",
                    ex.response
                ))
            })
    }

    /// The target's today, JST.
    pub async fn today(&self) -> Result<NaiveDate, Finding> {
        Ok(self.now().await?.with_timezone(&jst()).date_naive())
    }

    /// Moves a test target's clock forward; `Err(Skip)` when its clock is the wall clock.
    pub async fn advance(&self, by: TimeDelta) -> Result<(), Finding> {
        let admin = self.admin().await?;
        let body = dx_protocol::wire::ClockRequest {
            advance_seconds: by.num_seconds(),
        };
        let ex = self.post::<ep::MoveClock>(&admin, &body).await?;
        match ex.status {
            200 => Ok(()),
            _ => Err(Finding::Skip(format!(
                "needs a target whose clock can be moved (POST /v1/admin/clock answered {} {}); a test exchange started on a manual clock can",
                ex.status,
                ex.code().unwrap_or("")
            ))),
        }
    }

    /// Admin store statistics (row counts).
    pub async fn stats(&self) -> Result<Value, Finding> {
        let admin = self.admin().await?;
        let ex = self.get::<ep::Stats>(&admin, &[]).await?;
        match (ex.status, ex.json) {
            (200, Some(v)) => Ok(v),
            (s, _) => Err(Finding::Error(format!(
                "GET /v1/admin/stats answered {s}: {}",
                ex.response
            ))),
        }
    }

    /// An NDJSON import through admin endpoint `E`; any refusal is an error of the setup.
    pub async fn import<E, T>(&self, records: Vec<T>) -> Result<(), Finding>
    where
        E: Endpoint<Request = Ndjson<T>>,
        T: Serialize,
    {
        let admin = self.admin().await?;
        let body = Body::Raw(Ndjson(records).to_bytes(), "application/x-ndjson");
        let ex = self.send_raw::<E>(Some(&admin), &[], body).await?;
        if ex.status == 200 {
            Ok(())
        } else {
            Err(Finding::Error(format!(
                "setting up through {}: HTTP {} {}",
                E::PATH,
                ex.status,
                ex.response
            )))
        }
    }
}

pub fn jst() -> FixedOffset {
    dx_protocol::time::jst()
}

/// A synthetic person the suite enrolled.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub card: String,
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub birth_date: NaiveDate,
    pub female: bool,
    pub municipality: String,
}

impl Person {
    /// The card serial alone, as a route that only names the person takes it.
    pub fn by_card(&self) -> PersonRef {
        PersonRef::by_card(self.card.clone())
    }

    pub fn by_number(&self) -> PersonRef {
        PersonRef {
            insurer_number: Some(self.insurer_number.clone()),
            symbol: Some(self.symbol.clone()),
            number: Some(self.number.clone()),
            branch: Some(self.branch.clone()),
            ..PersonRef::default()
        }
    }

    pub fn by_id(&self) -> PersonRef {
        PersonRef::by_id(self.id.clone())
    }

    pub fn principal(&self) -> String {
        format!("person:{}", self.id)
    }
}

/// What the suite sets up on the target: its own insurer, facilities (one of each kind, two
/// clinics and two pharmacies), two municipalities, a test HPKI hierarchy whose practitioners
/// sign, and persons on demand.
/// Codes are in prefecture 47, district 99, which no real facility uses; persons carry the run's
/// nonce, so runs never collide.
pub struct Fixture {
    pub nonce: String,
    pub insurer: String,
    pub hospital: String,
    pub clinic: String,
    pub clinic2: String,
    pub dental: String,
    pub pharmacy: String,
    pub pharmacy2: String,
    /// A pharmacy of its own for the checks that guess access codes (their per-pharmacy limit
    /// does not reach the other checks).
    pub pharmacy3: String,
    pub care: String,
    pub municipality: String,
    pub municipality2: String,
    /// The seed of the run's card authority and cards (from the run's nonce): the suite's
    /// persons' cards are derived from it and their serials.
    pub card_seed: u64,
    /// The run's test HPKI hierarchy (from the run's nonce); the target trusts its root.
    pub hpki: TestHierarchy,
    seq: AtomicU32,
}

impl Fixture {
    pub fn new(nonce: String) -> Self {
        let fac = |t, n| facility_code(47, t, 99, n);
        let card_seed = nonce.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let hpki = TestHierarchy::from_seed(nonce.as_bytes(), "dxsim conformance");
        Self {
            nonce,
            card_seed,
            hpki,
            insurer: insurer_number(Some(6), 47, 990),
            hospital: fac(FacilityTable::Medical, 9901),
            clinic: fac(FacilityTable::Medical, 9902),
            clinic2: fac(FacilityTable::Medical, 9903),
            dental: fac(FacilityTable::Dental, 9904),
            pharmacy: fac(FacilityTable::Pharmacy, 9905),
            pharmacy2: fac(FacilityTable::Pharmacy, 9906),
            pharmacy3: fac(FacilityTable::Pharmacy, 9908),
            care: fac(FacilityTable::Care, 9907),
            municipality: municipality_code(47, 990),
            municipality2: municipality_code(47, 991),
            seq: AtomicU32::new(0),
        }
    }

    /// The certificate a facility's practitioner signs with: a pharmacist at a pharmacy, a
    /// doctor or dentist elsewhere.
    pub fn practitioner(&self, facility: &str) -> Practitioner {
        let pharmacist =
            dx_protocol::codes::validate_facility_code(facility) == Ok(FacilityTable::Pharmacy);
        self.hpki.facility_practitioner(facility, pharmacist)
    }

    /// The run's card-issuing authority.
    pub fn card_authority(&self) -> CardAuthority {
        CardAuthority::of_seed(self.card_seed)
    }

    /// The card `serial` presented at `facility` at `now` (the target's time): the run's card
    /// key and certificate, a nonce never used before.
    pub fn present(&self, facility: &str, serial: &str, now: DateTime<Utc>) -> PersonRef {
        let today = now.with_timezone(&jst()).date_naive();
        let (card, cert) = simulated(self.card_seed, serial, today);
        let nonce = nonce_from(format!("{}-card-{}", self.nonce, self.next()).as_bytes());
        PersonRef::presenting(serial, card.present(&cert, facility, now, &nonce))
    }

    /// Enrols the insurer, facilities and municipalities (inserted or replaced) and has the
    /// target trust the run's card authority and HPKI root.
    pub async fn set_up(&self, t: &Target) -> Result<(), Finding> {
        let authority = self.card_authority();
        let trust = CardAuthorityRequest {
            id: authority.id.clone(),
            public_key: authority.public_key(),
        };
        let ex = t
            .post::<ep::TrustCardAuthority>(&t.admin().await?, &trust)
            .await?;
        if ex.status != 200 {
            return Err(Finding::Error(format!(
                "having the target trust the suite's card authority (POST /v1/admin/card-authorities): HTTP {} {}",
                ex.status, ex.response
            )));
        }
        let root = dx_protocol::wire::hpki::TrustRootRequest {
            certificate: {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(&self.hpki.root)
            },
        };
        let ex = t
            .post::<ep::TrustHpkiRoot>(&t.admin().await?, &root)
            .await?;
        if ex.status != 200 {
            return Err(Finding::Error(format!(
                "having the target trust the suite's HPKI root (POST /v1/admin/hpki-roots): HTTP {} {}",
                ex.status, ex.response
            )));
        }
        let insurer = InsurerRecord {
            number: self.insurer.clone(),
            scheme: Some(6),
            name: "dxsim conformance insurer".into(),
            prefecture: 47,
        };
        t.import::<ep::ImportInsurers, _>(vec![insurer]).await?;
        let facilities = [
            (&self.hospital, FacilityKind::Hospital),
            (&self.clinic, FacilityKind::Clinic),
            (&self.clinic2, FacilityKind::Clinic),
            (&self.dental, FacilityKind::Dental),
            (&self.pharmacy, FacilityKind::Pharmacy),
            (&self.pharmacy2, FacilityKind::Pharmacy),
            (&self.pharmacy3, FacilityKind::Pharmacy),
            (&self.care, FacilityKind::CareProvider),
        ];
        let records: Vec<FacilityRecord> = facilities
            .iter()
            .map(|(code, kind)| FacilityRecord {
                code: (*code).clone(),
                kind: *kind,
                name: format!("dxsim conformance {} {code}", kind.as_str()),
                prefecture: 47,
            })
            .collect();
        t.import::<ep::ImportFacilities, _>(records).await?;
        let town = |code: &String, name: &str| MunicipalityRecord {
            code: code.clone(),
            name: name.into(),
            prefecture: 47,
        };
        t.import::<ep::ImportMunicipalities, _>(vec![
            town(&self.municipality, "dxsim conformance town"),
            town(&self.municipality2, "dxsim conformance village"),
        ])
        .await?;
        Ok(())
    }

    /// A unique suffix for ids made by a check.
    pub fn next(&self) -> String {
        format!(
            "{}{:04}",
            self.nonce,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Enrols a new person aged `age` on the target's today, living in the first municipality.
    pub async fn person(&self, t: &Target, age: u32, female: bool) -> Result<Person, Finding> {
        self.person_in(t, age, female, &self.municipality.clone())
            .await
    }

    pub async fn person_in(
        &self,
        t: &Target,
        age: u32,
        female: bool,
        municipality: &str,
    ) -> Result<Person, Finding> {
        let today = t.today().await?;
        let n = self.next();
        // Born 100 days into the year of age, so the age holds all through the run.
        let birth_date = today - TimeDelta::days(i64::from(age) * 365 + i64::from(age / 4) + 100);
        let p = Person {
            id: format!("CONF-{n}"),
            card: format!("CONF{n}"),
            insurer_number: self.insurer.clone(),
            symbol: "C".into(),
            number: n.clone(),
            branch: "00".into(),
            birth_date,
            female,
            municipality: municipality.to_owned(),
        };
        let record = PersonRecord {
            id: p.id.clone(),
            sex: if female { Sex::Female } else { Sex::Male },
            birth_date,
            prefecture: 47,
            municipality: p.municipality.clone(),
            card_serial: Some(p.card.clone()),
            qualifications: vec![QualificationRecord {
                insurer_number: p.insurer_number.clone(),
                symbol: p.symbol.clone(),
                number: p.number.clone(),
                branch: p.branch.clone(),
                valid_from: NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"),
                valid_to: None,
            }],
            public_expenses: Vec::new(),
            care_certification: None,
            pregnancy: None,
        };
        t.import::<ep::ImportPersons, _>(vec![record]).await?;
        Ok(p)
    }

    /// A signed registration request of `lines` (ingredient, days, quantity) for `p` at
    /// `facility`, issued now, `uses` uses; `edit` may change the Bundle before it is signed.
    pub async fn prescription(
        &self,
        t: &Target,
        facility: &str,
        p: &Person,
        lines: &[(&str, u16, u32)],
        uses: u8,
        edit: impl FnOnce(&mut Value),
    ) -> Result<RegisterPrescriptionRequest, Finding> {
        let master = DrugMaster::get();
        let items = lines
            .iter()
            .map(|(ingredient, days, quantity)| {
                let d = master
                    .all()
                    .iter()
                    .find(|d| d.ingredient == *ingredient)
                    .ok_or_else(|| {
                        Finding::Error(format!("{ingredient} is not in the drug master"))
                    })?;
                Ok(DraftItem {
                    code: d.yj.clone(),
                    code_system: YJ_SYSTEM,
                    display: d.name.clone(),
                    days: *days,
                    quantity: *quantity,
                    unit: d.unit.into(),
                    as_needed: false,
                })
            })
            .collect::<Result<Vec<_>, Finding>>()?;
        let draft = PrescriptionDraft {
            document_id: format!("CONF-RX-{}", self.next()),
            facility_code: facility.to_owned(),
            facility_name: format!("dxsim conformance {facility}"),
            practitioner_id: self.practitioner(facility).id,
            issued_at: t.now().await?.with_timezone(&jst()),
            patient_gender: if p.female { "female" } else { "male" },
            patient_birth_date: p.birth_date,
            coverage: DraftCoverage {
                insurer_number: p.insurer_number.clone(),
                symbol: p.symbol.clone(),
                number: p.number.clone(),
                branch: p.branch.clone(),
            },
            items,
            uses,
        };
        let mut bundle = draft.to_bundle();
        edit(&mut bundle);
        sign_bundle(
            &mut bundle,
            &self.practitioner(facility),
            draft.issued_at.fixed_offset(),
        );
        Ok(RegisterPrescriptionRequest {
            kind: PrescriptionKind::Electronic,
            bundle,
        })
    }

    /// A dispensing request at `pharmacy` of `items` for prescription `id`, signed by the
    /// pharmacy's pharmacist now (the target's time).
    pub async fn dispensation(
        &self,
        t: &Target,
        pharmacy: &str,
        (id, access_code): (&str, &str),
        items: Vec<DrugLine>,
    ) -> Result<DispenseRequest, Finding> {
        let dispensation = Dispensation {
            access_code: access_code.to_owned(),
            items,
        };
        let signature = self
            .practitioner(pharmacy)
            .sign(&dispensation.signed_bytes(id, pharmacy), t.now().await?);
        Ok(DispenseRequest {
            dispensation,
            signature,
        })
    }
}

/// The YJ code of an ingredient in the drug master.
pub fn yj(ingredient: &str) -> String {
    DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.ingredient == ingredient)
        .map(|d| d.yj.clone())
        .unwrap_or_default()
}
