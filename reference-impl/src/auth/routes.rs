//! `POST /v1/auth/token` (anyone with a secret) and `POST /v1/admin/credentials` (admin).

use super::{Auth, Principal};
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::codes::{validate_facility_code, validate_municipality_code};
use dx_protocol::wire::endpoints::{Credentials, Token};
use dx_protocol::wire::{CredentialResponse, Role, TokenResponse};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(Token, token)
        .endpoint(Credentials, credentials)
}

/// Resolves `facility:<code>`, `municipality:<code>`, `person:<id>` or `admin` to a principal that
/// exists, with its role.
async fn resolve(state: &AppState, principal: &str) -> Result<Principal, Refusal> {
    let field = "principal";
    let unknown =
        || Refusal::not_found("unknown_principal", format!("no principal {principal}")).at(field);
    let role = match principal.split_once(':') {
        None if principal == "admin" => Role::Admin,
        Some(("facility", code)) => {
            validate_facility_code(code).map_err(|e| {
                Refusal::invalid("invalid_facility_code", format!("facility code: {e}")).at(field)
            })?;
            let code = code.to_owned();
            let facility = state.blocking(move |s| s.facility(&code)).await?;
            facility.ok_or_else(unknown)?.kind.role()
        }
        Some(("municipality", code)) => {
            validate_municipality_code(code).map_err(|e| {
                Refusal::invalid(
                    "invalid_municipality_code",
                    format!("municipality code: {e}"),
                )
                .at(field)
            })?;
            let code = code.to_owned();
            if state
                .blocking(move |s| s.municipality(&code))
                .await?
                .is_none()
            {
                return Err(unknown());
            }
            Role::Municipality
        }
        Some(("person", id)) => {
            let id = id.to_owned();
            if !state.blocking(move |s| s.person_exists(&id)).await? {
                return Err(unknown());
            }
            Role::Person
        }
        _ => {
            return Err(Refusal::invalid(
                "invalid_principal",
                "principal must be facility:<code>, municipality:<code>, person:<id> or admin",
            )
            .at(field));
        }
    };
    Ok(Principal {
        sub: principal.to_owned(),
        role,
    })
}

async fn token(
    State(state): State<AppState>,
    Body(req): Body<Token>,
) -> Result<Answer<Token>, Refusal> {
    if !state.keys().secret_matches(&req.principal, &req.secret) {
        return Err(Refusal::unauthenticated(
            "invalid_credentials",
            "unknown principal or wrong secret",
        ));
    }
    let principal = resolve(&state, &req.principal).await?;
    let (token, expires_at) = state.keys().issue(&principal, state.now());
    Ok(Answer(TokenResponse {
        token,
        role: principal.role,
        expires_at,
    }))
}

async fn credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<Credentials>,
) -> Result<Answer<Credentials>, Refusal> {
    caller.require(&[Role::Admin], "issuing credentials")?;
    let principal = resolve(&state, &req.principal).await?;
    let secret = state.keys().credential_secret(&principal.sub);
    Ok(Answer(CredentialResponse {
        principal: principal.sub,
        role: principal.role,
        secret,
    }))
}
