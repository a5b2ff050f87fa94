//! A typed client of the exchange's HTTP API, over the shared wire types. The load driver and the
//! conformance suite send their requests through it, so they speak exactly the server's contract.

use dx_exchange::wire::{
    CheckRequest, CheckResponse, ConsentRequest, ConsentResponse, CredentialRequest,
    CredentialResponse, DispenseRequest, DispenseResponse, ErrorBody, PersonRef,
    PractitionerKeyRequest, PractitionerKeyResponse, RegisterPrescriptionRequest,
    RegisterPrescriptionResponse, RetrieveResponse, StatsResponse, TokenRequest, TokenResponse,
    VerifyRequest, VerifyResponse,
};
use reqwest::{Method, StatusCode};
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

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<R, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| ClientError::Unexpected {
                status,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(ClientError::Unexpected {
                status,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }

    pub async fn token(&self, principal: &str, secret: &str) -> Result<TokenResponse, ClientError> {
        let body = TokenRequest {
            principal: principal.to_owned(),
            secret: secret.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/token", None, Some(&body))
            .await
    }

    /// Issues a principal's secret (admin).
    pub async fn credentials(
        &self,
        admin_token: &str,
        principal: &str,
    ) -> Result<CredentialResponse, ClientError> {
        self.call(
            Method::POST,
            "/v1/admin/credentials",
            Some(admin_token),
            Some(&CredentialRequest {
                principal: principal.to_owned(),
            }),
        )
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

    pub async fn stats(&self, admin_token: &str) -> Result<StatsResponse, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/admin/stats", Some(admin_token), None)
            .await
    }

    pub async fn verify(
        &self,
        token: &str,
        req: &VerifyRequest,
    ) -> Result<VerifyResponse, ClientError> {
        self.call(
            Method::POST,
            "/v1/eligibility/verify",
            Some(token),
            Some(req),
        )
        .await
    }

    pub async fn consent(
        &self,
        token: &str,
        req: &ConsentRequest,
    ) -> Result<ConsentResponse, ClientError> {
        self.call(Method::POST, "/v1/consents", Some(token), Some(req))
            .await
    }

    pub async fn put_practitioner_key(
        &self,
        token: &str,
        req: &PractitionerKeyRequest,
    ) -> Result<PractitionerKeyResponse, ClientError> {
        self.call(
            Method::POST,
            "/v1/practitioners/keys",
            Some(token),
            Some(req),
        )
        .await
    }

    pub async fn check(
        &self,
        token: &str,
        req: &CheckRequest,
    ) -> Result<CheckResponse, ClientError> {
        self.call(
            Method::POST,
            "/v1/prescriptions/check",
            Some(token),
            Some(req),
        )
        .await
    }

    pub async fn register_prescription(
        &self,
        token: &str,
        req: &RegisterPrescriptionRequest,
    ) -> Result<RegisterPrescriptionResponse, ClientError> {
        self.call(Method::POST, "/v1/prescriptions", Some(token), Some(req))
            .await
    }

    /// Retrieval by access code and the person's card or insurance number.
    pub async fn retrieve(
        &self,
        token: &str,
        access_code: &str,
        person: &PersonRef,
    ) -> Result<RetrieveResponse, ClientError> {
        let query = serde_urlencoded_pairs(person);
        let path = format!("/v1/prescriptions/{access_code}?{query}");
        self.call::<(), _>(Method::GET, &path, Some(token), None)
            .await
    }

    pub async fn dispense(
        &self,
        token: &str,
        prescription_id: &str,
        req: &DispenseRequest,
    ) -> Result<DispenseResponse, ClientError> {
        let path = format!("/v1/prescriptions/{prescription_id}/dispensations");
        self.call(Method::POST, &path, Some(token), Some(req)).await
    }
}

/// `PersonRef` as a query string (its fields are plain strings).
pub fn serde_urlencoded_pairs(p: &PersonRef) -> String {
    let fields = [
        ("person_id", &p.person_id),
        ("card_serial", &p.card_serial),
        ("insurer_number", &p.insurer_number),
        ("symbol", &p.symbol),
        ("number", &p.number),
        ("branch", &p.branch),
    ];
    fields
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", percent_encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
            serde_urlencoded_pairs(&p),
            "insurer_number=06130012&symbol=%E8%A8%98%E5%8F%B7%201&number=12&branch=00"
        );
    }
}
