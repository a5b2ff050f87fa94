//! A typed client of the exchange's HTTP API over the endpoint table (`wire::endpoints`): a
//! call names its endpoint, and the table gives the method, the path, and the types of the
//! body, the query and the answer. The load driver's setup, the pipeline's tests and the
//! benchmarks send their requests through it, so they speak exactly the server's contract.

use dx_protocol::wire::endpoints::{
    self, CheckPrescription, Credentials, Dispense, Endpoint, GiveConsent, Method,
    RegisterPrescription, RetrievePrescription, Stats, Token, Verify,
};
use dx_protocol::wire::{
    CheckRequest, CheckResponse, ConsentRequest, ConsentResponse, CredentialRequest,
    CredentialResponse, DispenseRequest, DispenseResponse, ErrorBody, PersonRef,
    RegisterPrescriptionRequest, RegisterPrescriptionResponse, RetrieveResponse, StatsResponse,
    TokenRequest, TokenResponse, VerifyRequest, VerifyResponse,
};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What can go wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {} ({})", .body.error.message, .body.error.code)]
    Api { status: StatusCode, body: ErrorBody },
    /// The server answered something that is not our contract.
    #[error("{status}: unexpected response: {text}")]
    Unexpected { status: StatusCode, text: String },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
}

impl ClientError {
    /// The error code of an API error (`consent_required`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }
}

/// The HTTP method of an endpoint, as reqwest names it.
pub fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    }
}

/// The path and query of a request to `E`: its path parameters filled in order, its query (if
/// it has one) appended.
pub fn target<E: Endpoint>(params: &[&str], query: &E::Query) -> String
where
    E::Query: Serialize,
{
    let path = E::path(params);
    match endpoints::query_string(query) {
        q if q.is_empty() => path,
        q => format!("{path}?{q}"),
    }
}

/// The JSON body of a request to `E`, or none when it takes none (`()`).
pub fn body<E: Endpoint>(request: &E::Request) -> Option<Vec<u8>>
where
    E::Request: Serialize,
{
    let value = serde_json::to_value(request).expect("wire types serialise");
    (!value.is_null()).then(|| serde_json::to_vec(&value).expect("JSON"))
}

/// A client bound to one base URL.
#[derive(Debug, Clone)]
pub struct ExchangeClient {
    base: String,
    http: reqwest::Client,
}

impl ExchangeClient {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Calls endpoint `E` with its path parameters, query and body; a success is decoded as
    /// its response type, anything else is a [`ClientError`].
    pub async fn call<E: Endpoint>(
        &self,
        token: Option<&str>,
        params: &[&str],
        query: &E::Query,
        request: &E::Request,
    ) -> Result<E::Response, ClientError>
    where
        E::Request: Serialize,
        E::Query: Serialize,
        E::Response: DeserializeOwned,
    {
        let url = format!("{}{}", self.base, target::<E>(params, query));
        let mut req = self.http.request(method(E::METHOD), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body::<E>(request) {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        let unexpected = || ClientError::Unexpected {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        };
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| unexpected());
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(unexpected()),
        }
    }

    pub async fn token(&self, principal: &str, secret: &str) -> Result<TokenResponse, ClientError> {
        let body = TokenRequest {
            principal: principal.to_owned(),
            secret: secret.to_owned(),
        };
        self.call::<Token>(None, &[], &(), &body).await
    }

    /// Suspends `target` with `reason`, or resumes it (`reason` `None`) (admin).
    pub async fn suspend(
        &self,
        admin_token: &str,
        target: dx_protocol::wire::SuspensionTarget,
        reason: Option<&str>,
    ) -> Result<dx_protocol::wire::SuspensionsResponse, ClientError> {
        let body = dx_protocol::wire::SuspensionRequest {
            target,
            suspended: reason.is_some(),
            reason: reason.map(str::to_owned),
        };
        self.call::<dx_protocol::wire::endpoints::SetSuspension>(Some(admin_token), &[], &(), &body)
            .await
    }

    /// Issues a principal's secret (admin).
    pub async fn credentials(
        &self,
        admin_token: &str,
        principal: &str,
    ) -> Result<CredentialResponse, ClientError> {
        let body = CredentialRequest {
            principal: principal.to_owned(),
        };
        self.call::<Credentials>(Some(admin_token), &[], &(), &body)
            .await
    }

    /// Issues a principal's secret (admin) and exchanges it for a token.
    pub async fn token_for(
        &self,
        admin_token: &str,
        principal: &str,
    ) -> Result<TokenResponse, ClientError> {
        let cred = self.credentials(admin_token, principal).await?;
        self.token(&cred.principal, &cred.secret).await
    }

    /// Has the target trust a card-issuing authority's key (admin).
    pub async fn trust_card_authority(
        &self,
        admin_token: &str,
        authority: &dx_protocol::wire::card::CardAuthority,
    ) -> Result<dx_protocol::wire::card::CardAuthorityResponse, ClientError> {
        let body = dx_protocol::wire::card::CardAuthorityRequest {
            id: authority.id.clone(),
            public_key: authority.public_key(),
        };
        self.call::<dx_protocol::wire::endpoints::TrustCardAuthority>(
            Some(admin_token),
            &[],
            &(),
            &body,
        )
        .await
    }

    pub async fn stats(&self, admin_token: &str) -> Result<StatsResponse, ClientError> {
        self.call::<Stats>(Some(admin_token), &[], &(), &()).await
    }

    pub async fn verify(
        &self,
        token: &str,
        req: &VerifyRequest,
    ) -> Result<VerifyResponse, ClientError> {
        self.call::<Verify>(Some(token), &[], &(), req).await
    }

    pub async fn consent(
        &self,
        token: &str,
        req: &ConsentRequest,
    ) -> Result<ConsentResponse, ClientError> {
        self.call::<GiveConsent>(Some(token), &[], &(), req).await
    }

    /// Has the target trust an HPKI root certificate (DER) for practitioners' signatures
    /// (admin).
    pub async fn trust_hpki_root(
        &self,
        admin_token: &str,
        root: &[u8],
    ) -> Result<dx_protocol::wire::hpki::TrustRootResponse, ClientError> {
        use base64::Engine as _;
        let body = dx_protocol::wire::hpki::TrustRootRequest {
            certificate: base64::engine::general_purpose::STANDARD.encode(root),
        };
        self.call::<dx_protocol::wire::endpoints::TrustHpkiRoot>(Some(admin_token), &[], &(), &body)
            .await
    }

    /// Posts an HPKI CA's revocation list (DER) with the CA's certificate (DER) (admin).
    pub async fn post_hpki_crl(
        &self,
        admin_token: &str,
        crl: &[u8],
        issuer: &[u8],
    ) -> Result<dx_protocol::wire::hpki::CrlResponse, ClientError> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = dx_protocol::wire::hpki::CrlRequest {
            crl: b64.encode(crl),
            issuer: b64.encode(issuer),
        };
        self.call::<dx_protocol::wire::endpoints::PostHpkiCrl>(Some(admin_token), &[], &(), &body)
            .await
    }

    pub async fn check(
        &self,
        token: &str,
        req: &CheckRequest,
    ) -> Result<CheckResponse, ClientError> {
        self.call::<CheckPrescription>(Some(token), &[], &(), req)
            .await
    }

    pub async fn register_prescription(
        &self,
        token: &str,
        req: &RegisterPrescriptionRequest,
    ) -> Result<RegisterPrescriptionResponse, ClientError> {
        self.call::<RegisterPrescription>(Some(token), &[], &(), req)
            .await
    }

    /// Retrieval by access code and the person's card or insurance number.
    pub async fn retrieve(
        &self,
        token: &str,
        access_code: &str,
        person: &PersonRef,
    ) -> Result<RetrieveResponse, ClientError> {
        self.call::<RetrievePrescription>(Some(token), &[access_code], person, &())
            .await
    }

    pub async fn dispense(
        &self,
        token: &str,
        prescription_id: &str,
        req: &DispenseRequest,
    ) -> Result<DispenseResponse, ClientError> {
        self.call::<Dispense>(Some(token), &[prescription_id], &(), req)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_refs_become_encoded_queries() {
        let p = PersonRef {
            insurer_number: Some("06130012".into()),
            symbol: Some("記号 1".into()),
            number: Some("12".into()),
            branch: Some("00".into()),
            ..PersonRef::default()
        };
        assert_eq!(
            target::<RetrievePrescription>(&["123456"], &p),
            "/v1/prescriptions/123456?insurer_number=06130012&symbol=%E8%A8%98%E5%8F%B7%201&number=12&branch=00"
        );
        assert_eq!(body::<Stats>(&()), None);
    }
}
