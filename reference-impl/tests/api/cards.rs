//! The card proves itself: a card serial alone, a forged, replayed, stale, revoked or misplaced
//! card proof is refused and stores nothing but its audit line; authorities and the revocation
//! list are the admin's.

use crate::harness::*;
use chrono::{NaiveDate, TimeDelta};
use dx_exchange::clock::Clock as _;
use dx_exchange::wire::canonical::encode_public_key;
use dx_exchange::wire::card::{CardAuthority, CardProof, SimulatedCard, nonce_from, simulated};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(r: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (r.0, r.1["error"]["code"].as_str())
}

/// Audit lines of the store.
async fn audit_lines(h: &Harness) -> u64 {
    h.stats().await["audit"].as_u64().unwrap()
}

async fn a_card_serial_alone_proves_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(3);
    let fac = clinic(4);
    let t = h.facility_token(&fac).await;
    let bare = json!({"card_serial": p.card_serial});
    let before = h.data_stats().await;
    let lines = audit_lines(&h).await;
    let r = h
        .post(&t, "/v1/eligibility/verify", json!({"person": bare}))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("card_proof_missing")),
        "{}",
        r.1
    );
    assert_eq!(r.1["error"]["field"], "person.card_proof");
    let consent = json!({"person": bare, "consent": {"medication": true, "ehr": true}});
    let r = h.post(&t, "/v1/eligibility/verify", consent).await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("card_proof_missing"))
    );
    let r = h
        .post(
            &t,
            "/v1/consents",
            json!({"person": bare, "kind": "ehr", "method": "card"}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("card_proof_missing"))
    );
    let pt = h.facility_token(&pharmacy(4)).await;
    let path = format!(
        "/v1/prescriptions/123456?card_serial={}",
        p.card_serial.as_ref().unwrap()
    );
    let r = h.get(&pt, &path).await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("card_proof_missing"))
    );
    // A proof where the route only names the person is refused, not ignored.
    let r = h
        .post(
            &t,
            "/v1/prescriptions/check",
            json!({"person": h.card(&fac, &p), "items": [{"code": yj("amlodipine"), "days": 7}]}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("card_proof_not_read"))
    );
    // Nothing stored, no consent opened the records, and each refusal has its audit line.
    assert_eq!(h.data_stats().await, before);
    let meds = format!("/v1/persons/{}/medications", p.id);
    assert_eq!(code(&h.get(&t, &meds).await).1, Some("consent_required"));
    // Refusals' lines are written behind the answer: wait for them, a bounded while.
    let mut seen = 0;
    for _ in 0..100 {
        seen = audit_lines(&h).await;
        if seen >= lines + 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        seen >= lines + 5,
        "{seen} audit lines, {lines} before 5 refusals"
    );
    // With the card, the same verification opens them.
    h.consent(&t, &p, json!({"medication": true})).await;
    assert_eq!(h.get(&t, &meds).await.0, StatusCode::OK);
}

/// A proof of `p`'s card at `facility`, changed by `edit` before it is encoded.
fn edited(h: &Harness, facility: &str, serial: &str, edit: impl Fn(&mut CardProof)) -> String {
    let mut proof = CardProof::parse(&h.card_proof(facility, serial)).unwrap();
    edit(&mut proof);
    proof.encode()
}

async fn forged_and_misplaced_card_proofs_are_refused() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let serial = p.card_serial.clone().unwrap();
    let fac = clinic(5);
    let t = h.facility_token(&fac).await;
    let today = h.today();
    let now = h.clock.now();
    let mallory = CardAuthority::of_seed(666);
    let forged_key = SimulatedCard::of_seed(666, &serial);
    let (card, cert) = simulated(SEED, &serial, today);
    let nonce = |n: u8| nonce_from(&[b'f', n]);
    let cases: Vec<(&str, String)> = vec![
        ("invalid_card_proof", "not-a-proof".into()),
        ("card_proof_mismatch", h.card_proof(&fac, "C00000000001")),
        // A certificate of an authority nobody trusts.
        ("card_issuer_untrusted", {
            let c = mallory.certify(&forged_key, today, today);
            forged_key.present(&c, &fac, now, &nonce(1))
        }),
        // The trusted authority's name on a certificate another key signed.
        ("card_certificate_invalid", {
            let mut c = mallory.certify(&forged_key, today, today);
            c.issuer = cert.issuer.clone();
            forged_key.present(&c, &fac, now, &nonce(2))
        }),
        // A genuine certificate, signed by another key than the certified one.
        (
            "card_signature_invalid",
            forged_key.present(&cert, &fac, now, &nonce(3)),
        ),
        (
            "card_proof_wrong_facility",
            card.present(&cert, &clinic(6), now, &nonce(4)),
        ),
        (
            "card_proof_stale",
            card.present(&cert, &fac, now - TimeDelta::seconds(121), &nonce(5)),
        ),
        (
            "card_proof_stale",
            card.present(&cert, &fac, now + TimeDelta::seconds(121), &nonce(6)),
        ),
        (
            "invalid_card_proof",
            edited(&h, &fac, &serial, |p| {
                p.authentication.purpose = "something else".into();
            }),
        ),
        // A changed time breaks the card's signature.
        (
            "card_signature_invalid",
            edited(&h, &fac, &serial, |p| {
                p.authentication.at += TimeDelta::seconds(10);
            }),
        ),
        // So does a changed validity the issuer's.
        (
            "card_certificate_invalid",
            edited(&h, &fac, &serial, |p| {
                p.certificate.not_after = NaiveDate::from_ymd_opt(2099, 1, 1).unwrap();
            }),
        ),
    ];
    let before = h.data_stats().await;
    for (expected, proof) in cases {
        let body = json!({"person": {"card_serial": serial, "card_proof": proof}, "consent": {"medication": true}});
        let r = h.post(&t, "/v1/eligibility/verify", body).await;
        let status = if expected == "invalid_card_proof" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(code(&r), (status, Some(expected)), "{}", r.1);
        assert!(r.1.get("person_id").is_none());
    }
    // Certificates outside their validity, though genuinely signed.
    let ca = CardAuthority::of_seed(SEED);
    for (from, to, expected) in [
        (
            today - TimeDelta::days(3650),
            today - TimeDelta::days(1),
            "card_certificate_expired",
        ),
        (
            today + TimeDelta::days(1),
            today + TimeDelta::days(3650),
            "card_certificate_not_yet_valid",
        ),
    ] {
        let c = ca.certify(&card, from, to);
        let proof = card.present(&c, &fac, now, &nonce_from(expected.as_bytes()));
        let body = json!({"person": {"card_serial": serial, "card_proof": proof}});
        let r = h.post(&t, "/v1/eligibility/verify", body).await;
        assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some(expected)), "{}", r.1);
    }
    assert_eq!(
        h.data_stats().await,
        before,
        "nothing stored, no consent given"
    );
}

async fn a_card_proof_is_used_once() {
    let h = Harness::start().await;
    let p = h.adult_with_card(5);
    let fac = clinic(7);
    let t = h.facility_token(&fac).await;
    let proof = h.card_proof(&fac, p.card_serial.as_ref().unwrap());
    let body = json!({"person": {"card_serial": p.card_serial, "card_proof": proof}});
    let r = h.post(&t, "/v1/eligibility/verify", body.clone()).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let before = h.data_stats().await;
    let r = h.post(&t, "/v1/eligibility/verify", body.clone()).await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("card_proof_replayed"))
    );
    // Replayed for consent, or for a retrieval at the same facility's pharmacy: the same.
    let consent = json!({"person": {"card_serial": p.card_serial, "card_proof": proof}, "kind": "ehr", "method": "card"});
    let r = h.post(&t, "/v1/consents", consent).await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("card_proof_replayed"))
    );
    // Once the nonce is forgotten, the time is too old to be taken again.
    h.clock.advance(TimeDelta::seconds(241));
    let r = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("card_proof_stale")));
    assert_eq!(h.data_stats().await, before);
    // Parallel presentations of one proof: exactly one passes.
    let proof = h.card_proof(&fac, p.card_serial.as_ref().unwrap());
    let body = json!({"person": {"card_serial": p.card_serial, "card_proof": proof}});
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, url, t, body) = (h.http.clone(), h.url.clone(), t.clone(), body.clone());
        set.spawn(async move {
            let r = http
                .post(format!("{url}/v1/eligibility/verify"))
                .bearer_auth(t)
                .json(&body)
                .send()
                .await
                .unwrap();
            r.status()
        });
    }
    let mut ok = 0;
    while let Some(s) = set.join_next().await {
        ok += usize::from(s.unwrap() == StatusCode::OK);
    }
    assert_eq!(ok, 1);
}

async fn the_admin_trusts_authorities_and_revokes_certificates() {
    let h = Harness::start().await;
    let p = h.adult_with_card(6);
    let serial = p.card_serial.clone().unwrap();
    let fac = clinic(8);
    let t = h.facility_token(&fac).await;
    let admin = h.admin().await;
    let verify = |proof: String| json!({"person": {"card_serial": serial, "card_proof": proof}});

    // A new authority's cards verify once the admin trusts it, not before, and not on a
    // facility's say.
    let other = CardAuthority::of_seed(77);
    let (card, cert) = simulated(77, &serial, h.today());
    let proof = |n: u8| card.present(&cert, &fac, h.clock.now(), &nonce_from(&[b'a', n]));
    let r = h.post(&t, "/v1/eligibility/verify", verify(proof(1))).await;
    assert_eq!(code(&r).1, Some("card_issuer_untrusted"));
    let trust = json!({"id": other.id, "public_key": other.public_key()});
    let r = h
        .post(&t, "/v1/admin/card-authorities", trust.clone())
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    let bad = json!({"id": "bad id!", "public_key": other.public_key()});
    assert_eq!(
        code(&h.post(&admin, "/v1/admin/card-authorities", bad).await).1,
        Some("invalid_field")
    );
    let bad = json!({"id": "X", "public_key": "AAAA"});
    assert_eq!(
        code(&h.post(&admin, "/v1/admin/card-authorities", bad).await).1,
        Some("invalid_public_key")
    );
    let r = h.post(&admin, "/v1/admin/card-authorities", trust).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["id"], other.id.as_str());
    let r = h.post(&t, "/v1/eligibility/verify", verify(proof(2))).await;
    assert_eq!(
        (r.0, r.1["person_id"].as_str()),
        (StatusCode::OK, Some(p.id.as_str())),
        "{}",
        r.1
    );

    // Revoked: refused at once, the sample authority's certificate of the same card still good.
    let revoke = json!({"issuer": other.id, "numbers": [cert.number]});
    assert_eq!(
        code(
            &h.post(&t, "/v1/admin/card-revocations", revoke.clone())
                .await
        )
        .1,
        Some("wrong_role")
    );
    let r = h
        .post(&admin, "/v1/admin/card-revocations", revoke.clone())
        .await;
    assert_eq!(
        (r.0, r.1["added"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.1
    );
    let r = h.post(&admin, "/v1/admin/card-revocations", revoke).await;
    assert_eq!(
        (r.1["added"].as_u64(), r.1["listed"].as_u64()),
        (Some(0), Some(1))
    );
    let r = h.post(&t, "/v1/eligibility/verify", verify(proof(3))).await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("card_revoked")));
    let r = h
        .post(
            &t,
            "/v1/eligibility/verify",
            verify(h.card_proof(&fac, &serial)),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK);
    let unknown = json!({"issuer": "NOBODY", "numbers": ["1"]});
    assert_eq!(
        code(&h.post(&admin, "/v1/admin/card-revocations", unknown).await),
        (StatusCode::NOT_FOUND, Some("unknown_card_authority"))
    );
    let empty = json!({"issuer": other.id, "numbers": []});
    assert_eq!(
        code(&h.post(&admin, "/v1/admin/card-revocations", empty).await).1,
        Some("invalid_batch_size")
    );
    // A replaced key: the old one's certificates no longer chain.
    let rotated = json!({"id": other.id, "public_key": encode_public_key(&CardAuthority::of_seed(78).key.verifying_key())});
    assert_eq!(
        h.post(&admin, "/v1/admin/card-authorities", rotated)
            .await
            .0,
        StatusCode::OK
    );
    let (card2, cert2) = simulated(77, "C00000000002", h.today());
    let body = json!({"person": {"card_serial": "C00000000002", "card_proof": card2.present(&cert2, &fac, h.clock.now(), &nonce_from(b"r"))}});
    assert_eq!(
        code(&h.post(&t, "/v1/eligibility/verify", body).await).1,
        Some("card_certificate_invalid")
    );
}

crate::harness::on_both_stores!(
    a_card_serial_alone_proves_nothing,
    forged_and_misplaced_card_proofs_are_refused,
    a_card_proof_is_used_once,
    the_admin_trusts_authorities_and_revokes_certificates,
);
