//! Signatures as HPKI makes them (security group): a prescription signed with an expired or a
//! revoked certificate, by the wrong role, with a chain that leads to no trusted root, or with a
//! signature made over another bundle, is refused and stores nothing; so is a dispensing signed
//! by a doctor.

use super::security::{amlodipine, counts};
use crate::check::check;
use crate::check::{Check, Ctx};
use crate::finding::{Finding, Outcome, ensure, error, status};
use crate::target::{Exchange, Person};
use chrono::{DateTime, TimeDelta, Utc};
use dx_protocol::time::jst;
use dx_protocol::wire::RegisterPrescriptionRequest;
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::hpki::{Practitioner, Role, TestHierarchy, sign_bundle};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "security.hpki-expired",
            "A certificate past its validity signs nothing",
            "A prescription signed with a practitioner certificate whose validity ended before the signing time is 422 certificate_not_valid and stores nothing",
            "docs/api.md § Signatures",
            expired
        ),
        check!(
            "security.hpki-revoked",
            "A revoked certificate signs nothing once its CRL is posted",
            "A certificate that signs a registration (201) signs nothing after POST /v1/admin/hpki-crls with its CA's CRL listing it: 422 certificate_revoked, nothing stored",
            "docs/api.md § Signatures",
            revoked
        ),
        check!(
            "security.hpki-wrong-role",
            "Only a doctor or dentist signs a prescription, only a pharmacist a dispensing",
            "A prescription signed with a pharmacist's certificate, and a dispensing signed with a doctor's, are each 403 signer_role_not_allowed and store nothing",
            "docs/api.md § Signatures",
            wrong_role
        ),
        check!(
            "security.hpki-broken-chain",
            "A chain that does not reach a trusted root signs nothing",
            "A certificate of another hierarchy, and the practitioner's certificate without its issuing CA in x5c, are each 422 certificate_untrusted and store nothing",
            "docs/api.md § Signatures",
            broken_chain
        ),
        check!(
            "security.hpki-other-bundle",
            "A signature made over another bundle does not sign this one",
            "Bundle.signature taken from another prescription of the same practitioner is 422 invalid_signature and stores nothing",
            "docs/api.md § Signatures",
            other_bundle
        ),
    ]
}

/// The clinic's prescription for `p`, signed by `who` at the target's now.
async fn signed_by(
    c: &Ctx,
    p: &Person,
    who: &Practitioner,
) -> Result<RegisterPrescriptionRequest, Finding> {
    let mut body =
        c.fx.prescription(&c.t, &c.fx.clinic, p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    sign_bundle(&mut body.bundle, who, now_jst(c).await?);
    Ok(body)
}

async fn now_jst(c: &Ctx) -> Result<DateTime<chrono::FixedOffset>, Finding> {
    Ok(c.t.now().await?.with_timezone(&jst()).fixed_offset())
}

/// The clinic's practitioner id.
fn doctor_id(c: &Ctx) -> String {
    c.fx.practitioner(&c.fx.clinic).id
}

/// A certificate of the run's hierarchy for the clinic's practitioner with `role`, valid
/// `from`–`until`, with a serial of its own (answered with it).
fn certificate(
    c: &Ctx,
    role: Role,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (Practitioner, u64) {
    let serial = c.fx.next().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) >> 1;
    let cert =
        c.fx.hpki
            .practitioner(&doctor_id(c), role, from, until, serial);
    (cert, serial)
}

/// Registers `body` at the clinic: refused with `status`/`code`, storing nothing.
async fn refused(
    c: &Ctx,
    body: &RegisterPrescriptionRequest,
    want: u16,
    code: &str,
) -> Result<Exchange, Finding> {
    let clinic = c.facility(&c.fx.clinic).await?;
    let before = counts(c).await?;
    let ex = c.t.post::<ep::RegisterPrescription>(&clinic, body).await?;
    error(&ex, want, code)?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused registration stores nothing",
    )?;
    Ok(ex)
}

async fn expired(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 80, true).await?;
    let now = c.t.now().await?;
    let (lapsed, _) = certificate(
        c,
        Role::Doctor,
        now - TimeDelta::days(3 * 365),
        now - TimeDelta::days(30),
    );
    refused(
        c,
        &signed_by(c, &p, &lapsed).await?,
        422,
        "certificate_not_valid",
    )
    .await?;
    Ok(())
}

async fn revoked(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 81, true).await?;
    let now = c.t.now().await?;
    let (cert, serial) = certificate(
        c,
        Role::Doctor,
        now - TimeDelta::days(365),
        now + TimeDelta::days(365),
    );
    let clinic = c.facility(&c.fx.clinic).await?;
    let ex =
        c.t.post::<ep::RegisterPrescription>(&clinic, &signed_by(c, &p, &cert).await?)
            .await?;
    status(&ex, 201)?;
    let crl = c.fx.hpki.crl(&[serial], now);
    let body = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        dx_protocol::wire::hpki::CrlRequest {
            crl: b64.encode(&crl),
            issuer: b64.encode(&c.fx.hpki.issuing),
        }
    };
    let ex =
        c.t.post::<ep::PostHpkiCrl>(&c.t.admin().await?, &body)
            .await?;
    status(&ex, 200)?;
    refused(
        c,
        &signed_by(c, &p, &cert).await?,
        422,
        "certificate_revoked",
    )
    .await?;
    Ok(())
}

async fn wrong_role(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 82, true).await?;
    let now = c.t.now().await?;
    let (pharmacist, _) = certificate(
        c,
        Role::Pharmacist,
        now - TimeDelta::days(365),
        now + TimeDelta::days(365),
    );
    refused(
        c,
        &signed_by(c, &p, &pharmacist).await?,
        403,
        "signer_role_not_allowed",
    )
    .await?;
    // A dispensing signed with the clinic doctor's certificate.
    let clinic = c.facility(&c.fx.clinic).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {});
    let ex =
        c.t.post::<ep::RegisterPrescription>(&clinic, &body.await?)
            .await?;
    status(&ex, 201)?;
    let (id, code) = (ex.text("/prescription_id"), ex.text("/access_code"));
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    status(
        &c.t.send::<ep::RetrievePrescription>(Some(&pharmacy), &[&code], &p.by_number(), &())
            .await?,
        200,
    )?;
    let mut body =
        c.fx.dispensation(&c.t, &c.fx.pharmacy, (&id, &code), amlodipine())
            .await?;
    body.signature =
        c.fx.practitioner(&c.fx.clinic)
            .sign(&body.dispensation.signed_bytes(&id, &c.fx.pharmacy), now);
    let before = counts(c).await?;
    let ex =
        c.t.send::<ep::Dispense>(Some(&pharmacy), &[&id], &(), &body)
            .await?;
    error(&ex, 403, "signer_role_not_allowed")?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused dispensing stores nothing",
    )
}

async fn broken_chain(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 83, true).await?;
    let now = c.t.now().await?;
    let (from, until) = (now - TimeDelta::days(365), now + TimeDelta::days(365));
    let stranger = TestHierarchy::from_seed(
        format!("{} elsewhere", c.fx.nonce).as_bytes(),
        "dxsim conformance",
    );
    let foreign = stranger.practitioner(&doctor_id(c), Role::Doctor, from, until, 7);
    refused(
        c,
        &signed_by(c, &p, &foreign).await?,
        422,
        "certificate_untrusted",
    )
    .await?;
    let (mut alone, _) = certificate(c, Role::Doctor, from, until);
    alone.chain.truncate(1);
    refused(
        c,
        &signed_by(c, &p, &alone).await?,
        422,
        "certificate_untrusted",
    )
    .await?;
    Ok(())
}

async fn other_bundle(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 84, true).await?;
    let first =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let mut second =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 14, 14)], 1, |_| {})
            .await?;
    second.bundle["signature"] = first.bundle["signature"].clone();
    refused(c, &second, 422, "invalid_signature").await?;
    Ok(())
}
