//! `POST /v1/admin/hpki-roots` and `POST /v1/admin/hpki-crls`.

use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dx_protocol::wire::Role;
use dx_protocol::wire::endpoints::{PostHpkiCrl, TrustHpkiRoot};
use dx_protocol::wire::hpki::{
    CrlResponse, MAX_DER_BYTES, MAX_REVOKED, MAX_ROOTS, Trust, TrustRootResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(TrustHpkiRoot, trust_root)
        .endpoint(PostHpkiCrl, post_crl)
}

/// The DER a base64 field holds.
fn der_of(b64: &str, field: &'static str) -> Result<Vec<u8>, Refusal> {
    if b64.len() > MAX_DER_BYTES / 3 * 4 + 4 {
        return Err(Refusal::invalid(
            "invalid_field",
            format!("at most {MAX_DER_BYTES} bytes of DER"),
        )
        .at(field));
    }
    STANDARD
        .decode(b64.trim())
        .map_err(|_| Refusal::invalid("invalid_field", "standard base64 of DER").at(field))
}

async fn trust_root(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<TrustHpkiRoot>,
) -> Result<Answer<TrustHpkiRoot>, Refusal> {
    let result = async {
        caller.require(&[Role::Admin], "trusting an HPKI root")?;
        let der = der_of(&req.certificate, "certificate")?;
        let subject = Trust::default().add_root(der.clone()).map_err(|e| {
            let message = match e {
                dx_protocol::wire::hpki::Refused::BrokenChain(m) => m,
                other => other.to_string(),
            };
            Refusal::broken_rule("not_a_root", message).at("certificate")
        })?;
        let already = state.hpki().read(|t| t.roots().any(|r| r == der));
        let count = state.hpki().read(|t| t.roots().count());
        if !already && count >= MAX_ROOTS {
            return Err(Refusal::conflict(
                "too_many_roots",
                format!("at most {MAX_ROOTS} HPKI roots are trusted"),
            ));
        }
        let now = state.now();
        let audit = AuditEvent::new(
            now,
            &caller,
            "hpki.trust_root",
            None,
            Some(subject.clone()),
            "ok",
        );
        let (digest, b64) = super::root_row(&der);
        let s = subject.clone();
        state
            .blocking(move |st| st.trust_hpki_root(&digest, &b64, &s, now, &audit))
            .await?;
        if !already {
            state.hpki().update(|t| {
                let _ = t.add_root(der);
            });
        }
        Ok(TrustRootResponse {
            subject,
            trusted_at: now,
            roots: state.hpki().read(|t| t.roots().count()) as u64,
        })
    }
    .await;
    let result = state
        .audited(&caller, "hpki.trust_root", None, result)
        .await;
    result.map(Answer)
}

async fn post_crl(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<PostHpkiCrl>,
) -> Result<Answer<PostHpkiCrl>, Refusal> {
    let result = async {
        caller.require(&[Role::Admin], "posting an HPKI revocation list")?;
        let crl = der_of(&req.crl, "crl")?;
        let issuer = der_of(&req.issuer, "issuer")?;
        let list = state
            .hpki()
            .read(|t| t.read_crl(&crl, &issuer))
            .map_err(|e| {
                use dx_protocol::wire::hpki::Refused;
                match e {
                    Refused::Malformed(_) => {
                        Refusal::invalid("invalid_crl", e.to_string()).at("crl")
                    }
                    Refused::BadSignature => Refusal::broken_rule(
                        "crl_signature_invalid",
                        "the CRL is not signed by the issuer's key",
                    )
                    .at("crl"),
                    _ => Refusal::broken_rule("certificate_untrusted", e.to_string()).at("issuer"),
                }
            })?;
        let listed = state.hpki().read(|t| t.revoked().count());
        if listed + list.serials.len() > MAX_REVOKED {
            return Err(Refusal::conflict(
                "revocation_list_full",
                format!("the revocation list holds at most {MAX_REVOKED} certificates"),
            ));
        }
        let now = state.now();
        let audit = AuditEvent::new(
            now,
            &caller,
            "hpki.revoke",
            None,
            Some(format!("{} ({} serials)", list.issuer, list.serials.len())),
            "ok",
        );
        let (who, serials) = (list.issuer.clone(), list.serials.clone());
        let added = state
            .blocking(move |s| s.revoke_hpki_certificates(&who, &serials, now, &audit))
            .await?;
        state.hpki().update(|t| t.revoke(&list));
        Ok(CrlResponse {
            issuer: list.issuer,
            added,
            listed: state.hpki().read(|t| t.revoked().count()) as u64,
        })
    }
    .await;
    let result = state.audited(&caller, "hpki.revoke", None, result).await;
    result.map(Answer)
}
