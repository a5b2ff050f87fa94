//! Two exchange processes on one PostgreSQL store (two `Exchange`s in this test process, each
//! with its own pool, listener and memory): what one node stores, issues, counts or revokes
//! holds on the other. Run where `DXSIM_TEST_POSTGRES` names a server.

use crate::harness::*;
use dx_exchange::clock::Clock as _;
use dx_exchange::wire::card::{CardAuthority, nonce_from, simulated};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Two nodes of one fresh PostgreSQL store.
async fn two_nodes() -> (Harness, Harness) {
    let a = Harness::start().await;
    let b = a.another_node().await;
    (a, b)
}

/// Asks `probe` until it answers true, for at most two seconds (a change reaches the other node
/// when its notification is delivered, within milliseconds).
async fn within_two_seconds(mut probe: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if probe().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the other node did not see the change within two seconds");
}

fn code(r: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (r.0, r.1["error"]["code"].as_str())
}

async fn a_prescription_registered_on_one_node_is_retrieved_and_dispensed_on_the_other() {
    let (a, b) = two_nodes().await;
    let p = a.adult_with_card(3);
    let doctor = a.signer(&clinic(1), "DR-1").await;
    let rx = doctor.register(&a, "n-1", &p, &[("losartan", 28)], 1).await;
    // The pharmacy's token and key were issued and registered on node A; it works on B.
    let pharmacist = a.signer(&pharmacy(1), "PH-1").await;
    let (s, v) = pharmacist.retrieve(&b, &rx).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = pharmacist.dispense(&b, &rx, &[("losartan", 28)]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Node A sees the dispensing: the prescription is used up, its medication history has it.
    let r = pharmacist.dispense(&a, &rx, &[("losartan", 28)]).await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("uses_exhausted")),
        "dispensed twice: {}",
        r.1
    );
    assert_eq!(a.stats().await["dispensations"], 1);
    assert_eq!(b.stats().await, a.stats().await);
}

async fn two_pharmacies_dispensing_at_once_on_two_nodes_get_one_201_and_one_409() {
    let (a, b) = two_nodes().await;
    let doctor = a.signer(&clinic(2), "DR-2").await;
    let one = a.signer(&pharmacy(2), "PH-2").await;
    let two = b.signer(&pharmacy(3), "PH-3").await;
    // The loser lost the race inside the store (409 conflict) or read the prescription after
    // the winner's commit (422 uses_exhausted); never two dispensings.
    let mut races = 0;
    for round in 0..8 {
        let p = a.adult_with_card(round);
        let rx = doctor
            .register(&a, &format!("race-{round}"), &p, &[("famotidine", 14)], 1)
            .await;
        assert_eq!(one.retrieve(&a, &rx).await.0, StatusCode::OK);
        assert_eq!(two.retrieve(&b, &rx).await.0, StatusCode::OK);
        let path = format!(
            "/v1/prescriptions/{}/dispensations",
            rx["prescription_id"].as_str().unwrap()
        );
        let access = rx["access_code"].as_str().unwrap();
        let (x, y) = tokio::join!(
            a.post(
                &one.token,
                &path,
                one.dispensation(&a, &rx, access, &[("famotidine", 14)])
            ),
            b.post(
                &two.token,
                &path,
                two.dispensation(&b, &rx, access, &[("famotidine", 14)])
            ),
        );
        let (won, lost) = if x.0 == StatusCode::CREATED {
            (&x, &y)
        } else {
            (&y, &x)
        };
        assert_eq!(
            won.0,
            StatusCode::CREATED,
            "round {round}: {} / {}",
            x.1,
            y.1
        );
        assert!(
            code(lost) == (StatusCode::CONFLICT, Some("conflict"))
                || code(lost) == (StatusCode::UNPROCESSABLE_ENTITY, Some("uses_exhausted")),
            "round {round}: {}",
            lost.1
        );
        races += usize::from(lost.0 == StatusCode::CONFLICT);
    }
    eprintln!("{races} of 8 rounds were decided by the store's race (409)");
    assert_eq!(a.stats().await["dispensations"], 8);
}

async fn a_token_from_one_node_works_on_the_other_until_revoked_on_either() {
    let (a, b) = two_nodes().await;
    let principal = format!("facility:{}", clinic(4));
    let token = a.token(&principal).await;
    let p = a.adult_with_card(4);
    let verify = json!({"person": insurance_ref(current(&p))});
    let r = b
        .post(&token, "/v1/eligibility/verify", verify.clone())
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    // Revoked on A: refused on A at once, and on B as soon as B hears of it.
    let admin = a.admin().await;
    let r = a
        .post(
            &admin,
            "/v1/admin/credentials/revoke",
            json!({"principal": principal}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let r = a
        .post(&token, "/v1/eligibility/verify", verify.clone())
        .await;
    assert_eq!(r.0, StatusCode::UNAUTHORIZED);
    let took = within_two_seconds(async || {
        b.post(&token, "/v1/eligibility/verify", verify.clone())
            .await
            .0
            == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("the revocation reached node B after {took:?}");
    // A new credential, issued on B, works on A.
    let fresh = b.token(&principal).await;
    let r = a.post(&fresh, "/v1/eligibility/verify", verify).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
}

async fn wrong_codes_and_secrets_are_counted_across_nodes() {
    let (a, b) = two_nodes().await;
    // A pharmacy's wrong codes: ten a minute in all, whichever node it asks.
    let pharmacy_token = a.facility_token(&pharmacy(8)).await;
    let unknown = |h: &Harness, n: u32| {
        let query = h.card_query(&pharmacy(8), &format!("C9{n:010}"));
        format!("/v1/prescriptions/123456?{query}")
    };
    for n in 0..10 {
        let node = if n % 2 == 0 { &a } else { &b };
        let (s, v) = node.get(&pharmacy_token, &unknown(node, n)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "attempt {n}: {v}");
    }
    for (node, n) in [(&a, 10), (&b, 11)] {
        let r = node.get(&pharmacy_token, &unknown(node, n)).await;
        assert_eq!(
            code(&r),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
        );
    }
    // A principal's wrong secrets: five a minute in all.
    let principal = format!("facility:{}", clinic(9));
    let wrong = json!({"principal": principal, "secret": "0000000000000000"});
    for n in 0..5 {
        let node = if n % 2 == 0 { &a } else { &b };
        let r = node
            .send(reqwest::Method::POST, None, "/v1/auth/token", Some(&wrong))
            .await;
        assert_eq!(r.0, StatusCode::UNAUTHORIZED, "attempt {n}: {}", r.1);
    }
    for node in [&a, &b] {
        let r = node
            .send(reqwest::Method::POST, None, "/v1/auth/token", Some(&wrong))
            .await;
        assert_eq!(
            code(&r),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
        );
    }
    // The patient's lock after five wrong codes counts the attempts of both nodes.
    let p = a.adult_with_card(5);
    let doctor = a.signer(&clinic(5), "DR-5").await;
    let rx = doctor
        .register(&a, "lock-1", &p, &[("losartan", 28)], 1)
        .await;
    let right = rx["access_code"].as_str().unwrap();
    let guesser = a.facility_token(&pharmacy(9)).await;
    for n in 0..5u32 {
        let node = if n < 3 { &a } else { &b };
        let c: u32 = right.parse().unwrap();
        let guess = format!("{:06}", (c + 1 + n) % 1_000_000);
        let (s, _) = node
            .get(
                &guesser,
                &format!("/v1/prescriptions/{guess}?{}", insurance_query(&p)),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    for node in [&a, &b] {
        let other = node.facility_token(&pharmacy(10)).await;
        let r = node
            .get(
                &other,
                &format!("/v1/prescriptions/{right}?{}", insurance_query(&p)),
            )
            .await;
        assert_eq!(
            code(&r),
            (StatusCode::FORBIDDEN, Some("retrieval_locked")),
            "{}",
            r.1
        );
    }
}

async fn a_card_proof_is_taken_once_across_nodes_and_card_trust_reaches_both() {
    let (a, b) = two_nodes().await;
    let p = a.adult_with_card(6);
    let serial = p.card_serial.clone().unwrap();
    let fac = clinic(6);
    let t = a.facility_token(&fac).await;
    let proof = a.card_proof(&fac, &serial);
    let verify = |proof: &str| json!({"person": {"card_serial": serial, "card_proof": proof}});
    let r = a.post(&t, "/v1/eligibility/verify", verify(&proof)).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let r = b.post(&t, "/v1/eligibility/verify", verify(&proof)).await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("card_proof_replayed"))
    );
    // An authority trusted on B is trusted on A; a certificate revoked on A is refused on B.
    let other = CardAuthority::of_seed(91);
    let (card, cert) = simulated(91, &serial, a.today());
    let fresh = |n: u8| card.present(&cert, &fac, a.clock.now(), &nonce_from(&[b'n', n]));
    let admin = b.admin().await;
    let r = b
        .post(
            &admin,
            "/v1/admin/card-authorities",
            json!({"id": other.id, "public_key": other.public_key()}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let mut n = 0;
    within_two_seconds(async || {
        n += 1;
        a.post(&t, "/v1/eligibility/verify", verify(&fresh(n)))
            .await
            .0
            == StatusCode::OK
    })
    .await;
    let r = a
        .post(
            &admin,
            "/v1/admin/card-revocations",
            json!({"issuer": other.id, "numbers": [cert.number]}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    within_two_seconds(async || {
        n += 1;
        code(
            &b.post(&t, "/v1/eligibility/verify", verify(&fresh(n)))
                .await,
        )
        .1 == Some("card_revoked")
    })
    .await;
}

/// Registrations of one clinic queue on its year's numbers across nodes: sent all at once, half
/// to each node, every one is stored with a number of its own and the numbers run without a gap;
/// one document sent to both nodes at once is stored once (201, and 409 duplicate).
async fn one_clinics_registrations_at_once_on_two_nodes_take_consecutive_numbers() {
    let (a, b) = two_nodes().await;
    let doctor = a.signer(&clinic(4), "DR-4").await;
    let now = a.clock.now();
    let sends = (0..24usize).map(|i| {
        let p = a.adult_with_card(i % 6);
        let body =
            doctor.signed(&doctor.draft(&format!("queue-{i}"), &p, &[("losartan", 28)], 1, now));
        let node = if i % 2 == 0 { &a } else { &b };
        let token = doctor.token.clone();
        async move { node.post(&token, "/v1/prescriptions", body).await }
    });
    let answers = futures::future::join_all(sends).await;
    let mut numbers: Vec<u32> = answers
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::CREATED, "{v}");
            let id = v["prescription_id"].as_str().unwrap();
            id.rsplit('-').next().unwrap().parse().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>());
    let codes: std::collections::HashSet<_> = answers
        .iter()
        .map(|(_, v)| v["access_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 24, "an access code was given twice");

    let p = a.adult_with_card(7);
    let body = doctor.signed(&doctor.draft("twice", &p, &[("famotidine", 14)], 1, now));
    let (x, y) = tokio::join!(
        a.post(&doctor.token, "/v1/prescriptions", body.clone()),
        b.post(&doctor.token, "/v1/prescriptions", body)
    );
    let mut outcomes = [code(&x), code(&y)];
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (StatusCode::CREATED, None),
            (StatusCode::CONFLICT, Some("duplicate"))
        ],
        "{} / {}",
        x.1,
        y.1
    );
    assert_eq!(a.stats().await["prescriptions"], 25);
}

/// An HPKI root trusted on one node, and a CRL read there, hold on the other at once and on a
/// node started afterwards (which loads them from the store).
async fn hpki_trust_and_revocation_reach_every_node() {
    use base64::Engine as _;
    use dx_exchange::wire::hpki::{Role, TestHierarchy};
    let (a, b) = two_nodes().await;
    let admin = a.admin().await;
    let vendor = TestHierarchy::from_seed(b"nodes vendor", "vendor");
    let now = a.clock.now();
    let doctor = a.signer(&clinic(4), "DR-V").await;
    let cert = vendor.practitioner(
        "DR-V",
        Role::Doctor,
        now - chrono::TimeDelta::days(1),
        now + chrono::TimeDelta::days(365),
        42,
    );
    let p = a.adult_with_card(9);
    let mut n = 0;
    let mut body = |h: &Harness| {
        n += 1;
        let draft = doctor.draft(
            &format!("v-{n}"),
            &p,
            &[("famotidine", 14)],
            1,
            h.clock.now(),
        );
        Signer::signed_by(&draft, &cert, draft.issued_at.fixed_offset())
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let r = a
        .post(
            &admin,
            "/v1/admin/hpki-roots",
            json!({"certificate": b64.encode(&vendor.root)}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    within_two_seconds(async || {
        b.post(&doctor.token, "/v1/prescriptions", body(&b)).await.0 == StatusCode::CREATED
    })
    .await;
    let crl = vendor.crl(&[42], now);
    let r = a
        .post(
            &admin,
            "/v1/admin/hpki-crls",
            json!({"crl": b64.encode(&crl), "issuer": b64.encode(&vendor.issuing)}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    within_two_seconds(async || {
        code(&b.post(&doctor.token, "/v1/prescriptions", body(&b)).await)
            == (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("certificate_revoked"),
            )
    })
    .await;
    let c = a.another_node().await;
    let r = c.post(&doctor.token, "/v1/prescriptions", body(&c)).await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_revoked")
        ),
        "{}",
        r.1
    );
}

async fn a_suspension_on_one_node_holds_on_the_other_until_resumed() {
    let (a, b) = two_nodes().await;
    let admin = a.admin().await;
    let pharmacy = b.facility_token(&pharmacy(2)).await;
    let p = a.adult_with_card(4);
    let verify = serde_json::json!({"person": insurance_ref(current(&p))});
    let (s, v) = a
        .post(&admin, "/v1/admin/suspensions",
            serde_json::json!({"target": "eligibility", "suspended": true, "reason": "maintenance"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    within_two_seconds(async || {
        code(
            &b.post(&pharmacy, "/v1/eligibility/verify", verify.clone())
                .await,
        ) == (StatusCode::SERVICE_UNAVAILABLE, Some("suspended"))
    })
    .await;
    let (_, listed) = b.get(&b.admin().await, "/v1/admin/suspensions").await;
    assert_eq!(
        listed["suspensions"][0]["reason"], "maintenance",
        "{listed}"
    );
    a.post(
        &admin,
        "/v1/admin/suspensions",
        serde_json::json!({"target": "eligibility", "suspended": false}),
    )
    .await;
    within_two_seconds(async || {
        b.post(&pharmacy, "/v1/eligibility/verify", verify.clone())
            .await
            .0
            == StatusCode::OK
    })
    .await;
}

crate::harness::on_postgres!(
    a_suspension_on_one_node_holds_on_the_other_until_resumed,
    hpki_trust_and_revocation_reach_every_node,
    a_prescription_registered_on_one_node_is_retrieved_and_dispensed_on_the_other,
    two_pharmacies_dispensing_at_once_on_two_nodes_get_one_201_and_one_409,
    a_token_from_one_node_works_on_the_other_until_revoked_on_either,
    wrong_codes_and_secrets_are_counted_across_nodes,
    a_card_proof_is_taken_once_across_nodes_and_card_trust_reaches_both,
    one_clinics_registrations_at_once_on_two_nodes_take_consecutive_numbers,
);
