//! Signatures as HPKI makes them: the admin API that trusts roots and reads CRLs, and each
//! refusal of a signature — every one storing nothing.

use crate::harness::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use dx_exchange::clock::Clock as _;
use dx_exchange::wire::hpki::{Practitioner, Role, RsaKey, TestHierarchy, sign_bundle_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(r: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (r.0, r.1["error"]["code"].as_str())
}

fn b64(der: &[u8]) -> String {
    STANDARD.encode(der)
}

/// A hierarchy other than the sample's.
fn vendor() -> TestHierarchy {
    TestHierarchy::from_seed(b"a vendor", "vendor")
}

fn years(h: &Harness) -> (DateTime<Utc>, DateTime<Utc>) {
    let now = h.clock.now();
    (now - TimeDelta::days(365), now + TimeDelta::days(365))
}

/// The clinic's prescription for `p`, signed by `who` at `when`.
fn signed_by(
    h: &Harness,
    doctor: &Signer,
    p: &dx_exchange::wire::PersonRecord,
    doc: &str,
    who: &Practitioner,
    when: DateTime<Utc>,
) -> Value {
    let draft = doctor.draft(doc, p, &[("amlodipine", 28)], 1, h.clock.now());
    let when = when
        .with_timezone(&dx_exchange::clock::jst())
        .fixed_offset();
    Signer::signed_by(&draft, who, when)
}

async fn the_admin_trusts_roots_and_reads_crls() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let v = vendor();
    let clinic_token = h.facility_token(&clinic(2)).await;
    let before = h.data_stats().await;
    assert_eq!(before["hpki_roots"], 1, "the sample's root");

    // Only the admin; only a self-signed CA; only base64 of DER.
    let body = json!({"certificate": b64(&v.root)});
    let r = h
        .post(&clinic_token, "/v1/admin/hpki-roots", body.clone())
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    let r = h
        .post(
            &admin,
            "/v1/admin/hpki-roots",
            json!({"certificate": b64(&v.issuing)}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_root")),
        "{}",
        r.1
    );
    assert_eq!(r.1["error"]["field"], "certificate");
    for bad in ["not base64!", "AAAA"] {
        let r = h
            .post(&admin, "/v1/admin/hpki-roots", json!({"certificate": bad}))
            .await;
        assert_eq!(r.0.as_u16() / 100, 4, "{bad}: {}", r.1);
    }
    assert_eq!(h.data_stats().await, before);

    // A vendor's doctor signs nothing until the vendor's root is trusted.
    let p = h.adult_with_card(20);
    let doctor = h.signer(&clinic(2), "DR-V1").await;
    let (from, until) = years(&h);
    let vendor_doctor = v.practitioner("DR-V1", Role::Doctor, from, until, 501);
    let r = h
        .post(
            &doctor.token,
            "/v1/prescriptions",
            signed_by(&h, &doctor, &p, "v-1", &vendor_doctor, h.clock.now()),
        )
        .await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_untrusted")
        )
    );
    let r = h.post(&admin, "/v1/admin/hpki-roots", body.clone()).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["roots"], 2);
    assert!(
        r.1["subject"]
            .as_str()
            .unwrap()
            .contains("vendor HPKI Root CA"),
        "{}",
        r.1
    );
    // Trusting it again changes nothing.
    let r = h.post(&admin, "/v1/admin/hpki-roots", body).await;
    assert_eq!((r.0, &r.1["roots"]), (StatusCode::OK, &json!(2)));
    let r = h
        .post(
            &doctor.token,
            "/v1/prescriptions",
            signed_by(&h, &doctor, &p, "v-2", &vendor_doctor, h.clock.now()),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);

    // CRLs: one not signed by the CA it names, one of a CA no trusted root issued, garbage.
    let stranger = TestHierarchy::from_seed(b"a stranger", "vendor");
    let now = h.clock.now();
    let before = h.data_stats().await;
    for (crl, issuer, want) in [
        (
            stranger.crl(&[501], now),
            v.issuing.clone(),
            "crl_signature_invalid",
        ),
        (
            stranger.crl(&[501], now),
            stranger.issuing.clone(),
            "certificate_untrusted",
        ),
        (b"not a crl".to_vec(), v.issuing.clone(), "invalid_crl"),
    ] {
        let r = h
            .post(
                &admin,
                "/v1/admin/hpki-crls",
                json!({"crl": b64(&crl), "issuer": b64(&issuer)}),
            )
            .await;
        assert_eq!(r.1["error"]["code"], want, "{}", r.1);
    }
    let r = h
        .post(
            &clinic_token,
            "/v1/admin/hpki-crls",
            json!({"crl": b64(&v.crl(&[501], now)), "issuer": b64(&v.issuing)}),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    assert_eq!(h.data_stats().await, before);

    // The vendor's CRL revokes its doctor's certificate.
    let r = h
        .post(
            &admin,
            "/v1/admin/hpki-crls",
            json!({"crl": b64(&v.crl(&[501, 502], now)), "issuer": b64(&v.issuing)}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!((&r.1["added"], &r.1["listed"]), (&json!(2), &json!(2)));
    let before = h.data_stats().await;
    assert_eq!(before["hpki_revocations"], 2);
    let r = h
        .post(
            &doctor.token,
            "/v1/prescriptions",
            signed_by(&h, &doctor, &p, "v-3", &vendor_doctor, h.clock.now()),
        )
        .await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_revoked")
        ),
        "{}",
        r.1
    );
    assert_eq!(h.data_stats().await, before);
    // The same CRL again adds nothing.
    let r = h
        .post(
            &admin,
            "/v1/admin/hpki-crls",
            json!({"crl": b64(&v.crl(&[501], now)), "issuer": b64(&v.issuing)}),
        )
        .await;
    assert_eq!((&r.1["added"], &r.1["listed"]), (&json!(0), &json!(2)));
}

async fn each_signature_refusal_names_its_check_and_stores_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(21);
    let doctor = h.signer(&clinic(3), "DR-30").await;
    let now = h.clock.now();
    let (from, until) = years(&h);
    let sample = dx_exchange::refdata::sample::hpki(SEED);
    let before = h.data_stats().await;
    let post = async |body: Value| h.post(&doctor.token, "/v1/prescriptions", body).await;
    let unprocessable = |c: &'static str| (StatusCode::UNPROCESSABLE_ENTITY, Some(c));

    // Expired, and not yet valid, on the signing time.
    let lapsed = sample.practitioner(
        "DR-30",
        Role::Doctor,
        from - TimeDelta::days(800),
        from,
        601,
    );
    let r = post(signed_by(&h, &doctor, &p, "r-1", &lapsed, now)).await;
    assert_eq!(code(&r), unprocessable("certificate_not_valid"), "{}", r.1);
    let early = sample.practitioner("DR-30", Role::Doctor, now + TimeDelta::days(1), until, 602);
    let r = post(signed_by(&h, &doctor, &p, "r-2", &early, now)).await;
    assert_eq!(code(&r), unprocessable("certificate_not_valid"));

    // A pharmacist's certificate does not sign a prescription.
    let pharmacist = sample.practitioner("DR-30", Role::Pharmacist, from, until, 603);
    let r = post(signed_by(&h, &doctor, &p, "r-3", &pharmacist, now)).await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("signer_role_not_allowed"))
    );
    // A dentist's does.
    let dentist = sample.practitioner("DR-30", Role::Dentist, from, until, 604);
    let r = post(signed_by(&h, &doctor, &p, "r-ok", &dentist, now)).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let before_ok = h.data_stats().await;
    assert_eq!(
        before_ok["prescriptions"],
        before["prescriptions"].as_u64().unwrap() + 1
    );
    let before = before_ok;

    // A chain of another hierarchy, or without its issuing CA.
    let foreign = vendor().practitioner("DR-30", Role::Doctor, from, until, 605);
    let r = post(signed_by(&h, &doctor, &p, "r-4", &foreign, now)).await;
    assert_eq!(code(&r), unprocessable("certificate_untrusted"));
    let mut alone = sample.practitioner("DR-30", Role::Doctor, from, until, 606);
    alone.chain.truncate(1);
    let r = post(signed_by(&h, &doctor, &p, "r-5", &alone, now)).await;
    assert_eq!(code(&r), unprocessable("certificate_untrusted"));

    // Signed days ago, or in the future.
    let good = &doctor.cert;
    let r = post(signed_by(
        &h,
        &doctor,
        &p,
        "r-6",
        good,
        now - TimeDelta::days(3),
    ))
    .await;
    assert_eq!(code(&r), unprocessable("signing_time_out_of_range"));
    let r = post(signed_by(
        &h,
        &doctor,
        &p,
        "r-7",
        good,
        now + TimeDelta::hours(1),
    ))
    .await;
    assert_eq!(code(&r), unprocessable("signing_time_out_of_range"));

    // The signature of another bundle; `when` moved; `who` elsewhere; another practitioner.
    let other = signed_by(&h, &doctor, &p, "r-8", good, now);
    let mut body = signed_by(&h, &doctor, &p, "r-9", good, now);
    body["bundle"]["signature"] = other["bundle"]["signature"].clone();
    let r = post(body).await;
    assert_eq!(code(&r), unprocessable("invalid_signature"));
    let mut body = signed_by(&h, &doctor, &p, "r-10", good, now);
    body["bundle"]["signature"]["when"] = json!("2026-11-24T10:00:00+09:00");
    let r = post(body).await;
    assert_eq!(code(&r), unprocessable("signing_time_mismatch"));
    assert_eq!(r.1["error"]["field"], "bundle.signature.when");
    let mut body = signed_by(&h, &doctor, &p, "r-11", good, now);
    body["bundle"]["signature"]["who"]["reference"] =
        json!("urn:uuid:00000000-0000-4000-8000-000000000000");
    let r = post(body).await;
    assert_eq!(code(&r), unprocessable("practitioner_mismatch"));
    let colleague = sample.practitioner("DR-31", Role::Doctor, from, until, 607);
    let r = post(signed_by(&h, &doctor, &p, "r-12", &colleague, now)).await;
    assert_eq!(code(&r), unprocessable("practitioner_mismatch"));

    // Malformed: the JWS, its algorithm, its chain, the element.
    let jws_of = |body: &Value| {
        String::from_utf8(
            STANDARD
                .decode(body["bundle"]["signature"]["data"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let with_jws = |mut body: Value, jws: String| {
        body["bundle"]["signature"]["data"] = json!(STANDARD.encode(jws));
        body
    };
    let body = signed_by(&h, &doctor, &p, "r-13", good, now);
    let jws = jws_of(&body);
    let (header, sig) = jws.split_once("..").unwrap();
    let mut hs: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    hs["alg"] = json!("none");
    let none = format!(
        "{}..{sig}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&hs).unwrap())
    );
    for (bad, why) in [
        ("x".repeat(20_000), "oversized"),
        ("a.b.c".into(), "an attached payload"),
        (none, "alg none"),
    ] {
        let r = post(with_jws(body.clone(), bad)).await;
        assert_eq!(
            code(&r),
            (StatusCode::BAD_REQUEST, Some("signature_malformed")),
            "{why}"
        );
        assert_eq!(r.1["error"]["field"], "bundle.signature.data");
    }
    let mut wrong_format = body.clone();
    wrong_format["bundle"]["signature"]["sigFormat"] = json!("application/pkcs7-signature");
    let r = post(wrong_format).await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("signature_malformed"))
    );
    assert_eq!(r.1["error"]["field"], "bundle.signature.sigFormat");
    assert_eq!(h.data_stats().await, before);

    // Dispensing: the doctor's certificate does not sign it; the pharmacist's does.
    let rx = doctor
        .register(&h, "r-disp", &p, &[("amlodipine", 28)], 1)
        .await;
    let pharmacy = h.signer(&pharmacy(3), "PH-30").await;
    assert_eq!(pharmacy.retrieve(&h, &rx).await.0, StatusCode::OK);
    let as_doctor = Signer {
        facility: pharmacy.facility.clone(),
        token: String::new(),
        practitioner_id: "DR-30".into(),
        cert: certificate(SEED, &clinic(3), "DR-30"),
    };
    let code_ = rx["access_code"].as_str().unwrap();
    let path = format!(
        "/v1/prescriptions/{}/dispensations",
        rx["prescription_id"].as_str().unwrap()
    );
    let before = h.data_stats().await;
    let r = h
        .post(
            &pharmacy.token,
            &path,
            as_doctor.dispensation(&h, &rx, code_, &[("amlodipine", 28)]),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("signer_role_not_allowed"))
    );
    assert_eq!(r.1["error"]["field"], "signature");
    assert_eq!(h.data_stats().await, before);
    let r = h
        .post(
            &pharmacy.token,
            &path,
            pharmacy.dispensation(&h, &rx, code_, &[("amlodipine", 28)]),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

/// A vendor's own CA made with OpenSSL (RSA-2048, SHA-256, as Japan's HPKI CAs sign): trusted
/// through the admin route, its doctor's RS256 signature registers a prescription.
async fn a_vendors_rsa_ca_made_with_openssl_signs_prescriptions() {
    let h = Harness::start().await;
    let root = include_bytes!("../../protocol/testdata/hpki/rsa-root.der");
    let leaf = include_bytes!("../../protocol/testdata/hpki/rsa-leaf.der");
    let key =
        RsaKey::from_pkcs8(include_bytes!("../../protocol/testdata/hpki/rsa-leaf.pk8")).unwrap();
    // The practitioner's certificate is valid from 2026-12-07.
    h.advance_days(30);
    let admin = h.admin().await;
    let p = h.adult_with_card(22);
    let doctor = h.signer(&clinic(5), "DR-RSA").await;
    let register = async |what: &str| {
        let draft = doctor.draft(what, &p, &[("amlodipine", 28)], 1, h.clock.now());
        let mut bundle = draft.to_bundle();
        sign_bundle_with(
            &mut bundle,
            &key,
            &[leaf.to_vec()],
            draft.issued_at.fixed_offset(),
        );
        h.post(
            &doctor.token,
            "/v1/prescriptions",
            json!({"kind": "electronic", "bundle": bundle}),
        )
        .await
    };
    let r = register("rsa-1").await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_untrusted")
        )
    );
    let r = h
        .post(
            &admin,
            "/v1/admin/hpki-roots",
            json!({"certificate": b64(root)}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert!(
        r.1["subject"]
            .as_str()
            .unwrap()
            .contains("Vendor RSA HPKI Root")
    );
    let r = register("rsa-2").await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

crate::harness::on_both_stores!(
    a_vendors_rsa_ca_made_with_openssl_signs_prescriptions,
    the_admin_trusts_roots_and_reads_crls,
    each_signature_refusal_names_its_check_and_stores_nothing,
);
