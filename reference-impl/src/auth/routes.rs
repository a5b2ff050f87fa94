//! `POST /v1/auth/token` (anyone with a secret) and `POST /v1/admin/credentials` (admin).

use super::{Auth, Principal};
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::codes::{validate_facility_code, validate_municipality_code};
use dx_protocol::wire::endpoints::{Credentials, RevokeCredentials, Token};
use dx_protocol::wire::{CredentialResponse, RevokeResponse, Role, TokenResponse};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(Token, token)
        .endpoint(Credentials, credentials)
        .endpoint(RevokeCredentials, revoke)
}

/// Longest principal name (`municipality:` and a 6-digit code is the longest kind but persons'
/// ids run to 64 characters).
const MAX_PRINCIPAL_CHARS: usize = 80;

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
        Some(("insurer", number)) => {
            dx_protocol::codes::validate_insurer_number(number).map_err(|e| {
                Refusal::invalid("invalid_insurer_number", format!("insurer number: {e}")).at(field)
            })?;
            let number = number.to_owned();
            if !state.blocking(move |s| s.insurer_exists(&number)).await? {
                return Err(unknown());
            }
            Role::Insurer
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
                "principal must be facility:<code>, municipality:<code>, insurer:<number>, person:<id> or admin",
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
    if req.principal.len() > MAX_PRINCIPAL_CHARS {
        return Err(Refusal::invalid(
            "invalid_principal",
            format!("a principal has at most {MAX_PRINCIPAL_CHARS} characters"),
        )
        .at("principal"));
    }
    let now = state.now();
    // Wrong secrets are limited per principal, before the secret is even compared.
    state.limits().secrets.check(&req.principal, now)?;
    let generation = state.generation(&req.principal);
    let matches = state
        .keys()
        .secret_matches(&req.principal, generation, &req.secret)
        || (state.fault(crate::faults::Fault::RevocationIgnored)
            && state.keys().secret_matches(&req.principal, 0, &req.secret));
    if !matches {
        state.limits().secrets.fail(&req.principal, now);
        return Err(Refusal::unauthenticated(
            "invalid_credentials",
            "unknown principal or wrong secret",
        ));
    }
    let principal = resolve(&state, &req.principal).await?;
    let (token, expires_at) = if state.fault(crate::faults::Fault::TokenLifetimeUncapped) {
        let ten_years = now + chrono::TimeDelta::days(3650);
        state
            .keys()
            .issue_uncapped(&principal, generation, ten_years)
    } else {
        state
            .keys()
            .issue(&principal, generation, now, crate::auth::TOKEN_TTL)
    };
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
    let secret = state
        .keys()
        .credential_secret(&principal.sub, state.generation(&principal.sub));
    Ok(Answer(CredentialResponse {
        principal: principal.sub,
        role: principal.role,
        secret,
    }))
}

/// Revokes a principal's credentials: its generation moves on, so the secrets and tokens issued
/// before stop working at once (tokens are checked against the generation in memory).
async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RevokeCredentials>,
) -> Result<Answer<RevokeCredentials>, Refusal> {
    caller.require(&[Role::Admin], "revoking credentials")?;
    let principal = resolve(&state, &req.principal).await?;
    let now = state.now();
    let audit = crate::audit::AuditEvent::new(
        now,
        &caller,
        "credentials.revoke",
        principal.sub.strip_prefix("person:").map(str::to_owned),
        Some(principal.sub.clone()),
        "ok",
    );
    let sub = principal.sub.clone();
    let generation = state
        .blocking(move |s| s.revoke_credentials(&sub, now, &audit))
        .await?;
    state.set_generation(&principal.sub, generation);
    Ok(Answer(RevokeResponse {
        principal: principal.sub,
        generation,
        revoked_at: now,
    }))
}
