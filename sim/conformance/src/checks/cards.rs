//! Security: the card proves itself — a card serial alone, a forged, misplaced, replayed, stale
//! or revoked card proof opens nothing and stores nothing.

use super::security::counts;
use crate::check::check;
use crate::check::{Check, Ctx};
use crate::finding::{Finding, Outcome, ensure, error, status};
use crate::target::{Exchange, Person};
use chrono::TimeDelta;
use dx_protocol::wire::card::{
    CardAuthority, CardRevocationRequest, SimulatedCard, nonce_from, simulated,
};
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::{
    ConsentFlags, ConsentKind, ConsentMethod, ConsentRequest, MedicationsQuery, PersonRef,
    VerifyRequest,
};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "security.card-proof-missing",
            "A card serial alone proves no card",
            "Verification by card, consent at the card reader and retrieval by card need card_proof with the card serial: without it 400 card_proof_missing, nothing stored, no consent given",
            "docs/api.md § The card proves itself",
            card_proof_missing
        ),
        check!(
            "security.card-proof-forged",
            "A forged card proof is refused",
            "A certificate of an untrusted authority is 403 card_issuer_untrusted; a trusted authority's name on a certificate it did not sign, 403 card_certificate_invalid; a genuine certificate with another key's signature, 403 card_signature_invalid; a card signed for another facility, 403 card_proof_wrong_facility — each storing nothing",
            "docs/api.md § The card proves itself",
            card_proof_forged
        ),
        check!(
            "security.card-proof-replayed",
            "A card proof is used once, and only while fresh",
            "A card proof accepted once is 403 card_proof_replayed the next time, and one signed more than 120 s from the exchange's clock is 403 card_proof_stale",
            "docs/api.md § The card proves itself",
            card_proof_replayed
        ),
        check!(
            "security.card-revoked",
            "A revoked card certificate is refused at once",
            "After POST /v1/admin/card-revocations lists a card's certificate, presenting that card is 403 card_revoked",
            "docs/api.md § The card proves itself, § Administration",
            card_revoked
        ),
    ]
}

fn verifying(person: PersonRef, consent: bool) -> VerifyRequest {
    VerifyRequest {
        person,
        service_date: None,
        consent: consent.then_some(ConsentFlags {
            medication: true,
            ..ConsentFlags::default()
        }),
    }
}

/// `p`'s card with `proof` in place of the card's own.
fn with_proof(p: &Person, proof: String) -> PersonRef {
    PersonRef::presenting(p.card.clone(), proof)
}

/// Sends a verification with consent at `facility`'s card reader and expects the error `code`
/// with `http`, nothing stored.
async fn refused(c: &Ctx, facility: &str, person: PersonRef, http: u16, code: &str) -> Outcome {
    let tok = c.facility(facility).await?;
    let before = counts(c).await?;
    let ex =
        c.t.post::<ep::Verify>(&tok, &verifying(person, true))
            .await?;
    error(&ex, http, code)?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused verification stores nothing (no consent)",
    )
}

async fn medications(c: &Ctx, facility: &str, p: &Person) -> Result<Exchange, Finding> {
    let tok = c.facility(facility).await?;
    let days = MedicationsQuery { days: Some(100) };
    c.t.send::<ep::ReadMedications>(Some(&tok), &[&p.id], &days, &())
        .await
}

async fn card_proof_missing(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 44, true).await?;
    let clinic = &c.fx.clinic2;
    refused(c, clinic, p.by_card(), 400, "card_proof_missing").await?;
    let tok = c.facility(clinic).await?;
    let consent = ConsentRequest {
        person: p.by_card(),
        kind: ConsentKind::Ehr,
        method: ConsentMethod::Card,
    };
    let before = counts(c).await?;
    let ex = c.t.post::<ep::GiveConsent>(&tok, &consent).await?;
    error(&ex, 400, "card_proof_missing")?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused consent stores nothing",
    )?;
    let pharmacy = c.facility(&c.fx.pharmacy2).await?;
    let ex =
        c.t.send::<ep::RetrievePrescription>(Some(&pharmacy), &["123456"], &p.by_card(), &())
            .await?;
    error(&ex, 400, "card_proof_missing")?;
    // No consent was given by the refused verification.
    error(&medications(c, clinic, &p).await?, 403, "consent_required")
}

async fn card_proof_forged(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 47, false).await?;
    let clinic = c.fx.clinic2.clone();
    let now = c.t.now().await?;
    let today = c.t.today().await?;
    let nonce = |n: &str| nonce_from(format!("{}-forged-{n}", c.fx.nonce).as_bytes());
    // Mallory's authority and a key of Mallory's for the person's card.
    let mallory = CardAuthority::of_seed(c.fx.card_seed ^ 0x6d61_6c6c_6f72_7921);
    let forged = SimulatedCard::of_seed(c.fx.card_seed ^ 0x6d61_6c6c_6f72_7921, &p.card);
    let own = mallory.certify(&forged, today, today + TimeDelta::days(365));
    let untrusted = forged.present(&own, &clinic, now, &nonce("untrusted"));
    refused(
        c,
        &clinic,
        with_proof(&p, untrusted),
        403,
        "card_issuer_untrusted",
    )
    .await?;
    let (card, genuine) = simulated(c.fx.card_seed, &p.card, today);
    let mut posing = own.clone();
    posing.issuer = genuine.issuer.clone();
    let posing = forged.present(&posing, &clinic, now, &nonce("posing"));
    refused(
        c,
        &clinic,
        with_proof(&p, posing),
        403,
        "card_certificate_invalid",
    )
    .await?;
    let other_key = forged.present(&genuine, &clinic, now, &nonce("key"));
    refused(
        c,
        &clinic,
        with_proof(&p, other_key),
        403,
        "card_signature_invalid",
    )
    .await?;
    let elsewhere = card.present(&genuine, &c.fx.clinic, now, &nonce("elsewhere"));
    refused(
        c,
        &clinic,
        with_proof(&p, elsewhere),
        403,
        "card_proof_wrong_facility",
    )
    .await?;
    error(&medications(c, &clinic, &p).await?, 403, "consent_required")
}

async fn card_proof_replayed(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 51, true).await?;
    let clinic = c.fx.clinic2.clone();
    let tok = c.facility(&clinic).await?;
    let card = c.card(&clinic, &p).await?;
    status(
        &c.t.post::<ep::Verify>(&tok, &verifying(card.clone(), false))
            .await?,
        200,
    )?;
    refused(c, &clinic, card, 403, "card_proof_replayed").await?;
    let now = c.t.now().await?;
    let old =
        c.fx.present(&clinic, &p.card, now - TimeDelta::seconds(600));
    refused(c, &clinic, old, 403, "card_proof_stale").await
}

async fn card_revoked(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 36, false).await?;
    let clinic = c.fx.clinic2.clone();
    let tok = c.facility(&clinic).await?;
    status(
        &c.t.post::<ep::Verify>(&tok, &verifying(c.card(&clinic, &p).await?, false))
            .await?,
        200,
    )?;
    let (_, cert) = simulated(c.fx.card_seed, &p.card, c.t.today().await?);
    let revoke = CardRevocationRequest {
        issuer: cert.issuer.clone(),
        numbers: vec![cert.number.clone()],
    };
    let ex =
        c.t.post::<ep::RevokeCardCertificates>(&c.t.admin().await?, &revoke)
            .await?;
    status(&ex, 200)?;
    refused(c, &clinic, c.card(&clinic, &p).await?, 403, "card_revoked").await
}
