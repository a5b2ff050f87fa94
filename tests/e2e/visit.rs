//! One patient's day through the whole e-prescription chain, as the load driver will replay it:
//! clinic verifies with consent → checks → registers a signed prescription → pharmacy verifies →
//! retrieves by access code → dispenses with a signed result.

use chrono::{DateTime, Utc};
use dx_client::ExchangeClient;
use dx_exchange::clock::{Clock, ManualClock, jst};
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::refdata::{DrugMaster, sample};
use dx_exchange::store::Durability;
use dx_exchange::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_exchange::wire::hpki::sign_bundle;
use dx_exchange::wire::{
    CheckRequest, ConsentFlags, Dispensation, DispenseRequest, DrugLine, PersonRef,
    PrescriptionKind, PrescriptionStatus, QualificationStatus, RegisterPrescriptionRequest,
    VerifyRequest,
};
use std::sync::Arc;

/// A 28-day rosuvastatin prescription by `doctor` at `clinic` for a patient of (gender, birth
/// date) under the `coverage` a verification answered.
pub(crate) fn statin_draft(
    document_id: &str,
    clinic: &str,
    doctor: &str,
    issued_at: DateTime<chrono::FixedOffset>,
    (gender, birth): (&'static str, chrono::NaiveDate),
    coverage: dx_exchange::wire::Coverage,
) -> PrescriptionDraft {
    let coverage = DraftCoverage {
        insurer_number: coverage.insurer_number,
        symbol: coverage.symbol,
        number: coverage.number,
        branch: coverage.branch,
    };
    let drug = DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.ingredient == "rosuvastatin")
        .unwrap();
    PrescriptionDraft {
        document_id: document_id.into(),
        facility_code: clinic.into(),
        facility_name: "E2E clinic".into(),
        practitioner_id: doctor.into(),
        issued_at,
        patient_gender: gender,
        patient_birth_date: birth,
        coverage,
        items: vec![DraftItem {
            code: drug.yj.clone(),
            code_system: YJ_SYSTEM,
            display: drug.name.clone(),
            days: 28,
            quantity: 28,
            unit: drug.unit.into(),
            as_needed: false,
        }],
        uses: 1,
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_prescription_travels_from_clinic_to_pharmacy() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let exchange =
        dx_exchange::Exchange::open(dir.path(), Durability::Normal, clock.clone()).unwrap();
    exchange.seed_sample(50, 3).unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let running = exchange
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let client = ExchangeClient::new(running.url());

    let admin = client.token("admin", &admin_secret).await.unwrap().token;
    let clinic = facility_code(31, FacilityTable::Medical, 1, 1001);
    let pharmacy = facility_code(31, FacilityTable::Pharmacy, 1, 1);
    let clinic_token = client
        .token_for(&admin, &format!("facility:{clinic}"))
        .await
        .unwrap()
        .token;
    let person = (0..50)
        .map(|i| sample::person(3, i, clock.today_jst()))
        .find(|p| p.card_serial.is_some())
        .unwrap();
    // The card presented at a facility: the sample's card, signed now (a new nonce each time).
    let serial = person.card_serial.clone().unwrap();
    let presented = std::sync::atomic::AtomicU64::new(0);
    let card_at = |facility: &str| {
        let n = presented.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let proof = dx_drive::requests::present_card(3, &serial, facility, n, clock.now());
        PersonRef::presenting(serial.clone(), proof)
    };

    // Clinic: verify with the card, consenting to medication information.
    let verify = VerifyRequest {
        person: card_at(&clinic),
        service_date: None,
        consent: Some(ConsentFlags {
            medication: true,
            ..Default::default()
        }),
    };
    let v = client.verify(&clinic_token, &verify).await.unwrap();
    assert_eq!(v.status, QualificationStatus::Valid);
    let coverage = v.coverage.unwrap();

    // Duplicate pre-check, then a signed registration.
    let drug = DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.ingredient == "rosuvastatin")
        .unwrap();
    let check = CheckRequest {
        person: PersonRef::by_id(v.person_id.clone().unwrap()),
        start_date: None,
        items: vec![DrugLine {
            code: drug.yj.clone(),
            days: 28,
            quantity: Some(28),
        }],
        include_same_facility: false,
    };
    let checked = client.check(&clinic_token, &check).await.unwrap();
    assert!(checked.warnings.is_empty() && checked.details_disclosed);

    // The sample's HPKI hierarchy (trusted by the sample exchange) issues the doctor's
    // certificate.
    let hpki = sample::hpki(3);
    let doctor = hpki.facility_practitioner(&clinic, false);
    let draft = statin_draft(
        "e2e-1",
        &clinic,
        &doctor.id,
        clock.now().with_timezone(&jst()),
        ("female", person.birth_date),
        coverage,
    );
    let mut bundle = draft.to_bundle();
    sign_bundle(&mut bundle, &doctor, draft.issued_at.fixed_offset());
    let req = RegisterPrescriptionRequest {
        kind: PrescriptionKind::Electronic,
        bundle,
    };
    let registered = client
        .register_prescription(&clinic_token, &req)
        .await
        .unwrap();
    let code = registered.access_code.clone().unwrap();

    // Two hours later at the pharmacy: verify, retrieve, dispense.
    clock.advance(chrono::TimeDelta::hours(2));
    // Tokens last an hour: both sides get fresh ones.
    let admin = client.token("admin", &admin_secret).await.unwrap().token;
    let pharmacy_token = client
        .token_for(&admin, &format!("facility:{pharmacy}"))
        .await
        .unwrap()
        .token;
    let v = client
        .verify(
            &pharmacy_token,
            &VerifyRequest {
                person: card_at(&pharmacy),
                service_date: None,
                consent: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(v.status, QualificationStatus::Valid);
    let rx = client
        .retrieve(&pharmacy_token, &code, &card_at(&pharmacy))
        .await
        .unwrap();
    assert_eq!(rx.prescription_id, registered.prescription_id);

    let pharmacist = hpki.facility_practitioner(&pharmacy, true);
    let dispensation = Dispensation {
        access_code: code.clone(),
        items: check.items.clone(),
    };
    let signature = pharmacist.sign(
        &dispensation.signed_bytes(&rx.prescription_id, &pharmacy),
        clock.now(),
    );
    let done = client
        .dispense(
            &pharmacy_token,
            &rx.prescription_id,
            &DispenseRequest {
                dispensation,
                signature,
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, PrescriptionStatus::Completed);

    // The same code no longer retrieves anything; the store holds exactly what happened.
    let again = client
        .retrieve(&pharmacy_token, &code, &card_at(&pharmacy))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("prescription_not_found"));
    let stats = client.stats(&admin).await.unwrap();
    assert_eq!(
        (
            stats.prescriptions,
            stats.dispensations,
            stats.consents,
            stats.hpki_roots
        ),
        (1, 1, 1, 1)
    );
    running.stop().await.unwrap();
}
