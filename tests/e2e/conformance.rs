//! The conformance suite against the reference exchange, and against faulty variants of it: the
//! reference passes every check (on a manual clock, so the checks that move time run too), and
//! each deliberate fault ([`dx_exchange::faults::Fault`]) fails the check that targets it — on
//! the SQLite store and on PostgreSQL (where `DXSIM_TEST_POSTGRES` names a server).

use chrono::{DateTime, Utc};
use dx_conformance::{self as conformance, Filter, Report};
use dx_exchange::clock::ManualClock;
use dx_exchange::faults::Fault;
use dx_exchange::store::postgres::test_server_or_skip;
use dx_exchange::store::{Durability, ScratchStore};
use std::sync::Arc;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00+09:00")
        .unwrap()
        .with_timezone(&Utc)
}

/// A fresh store: the SQLite file in `dir`, or a scratch database on `postgres`.
fn fresh(dir: &std::path::Path, postgres: Option<&str>) -> ScratchStore {
    match postgres {
        None => ScratchStore::sqlite(dir),
        Some(server) => ScratchStore::postgres(server).unwrap(),
    }
}

/// Serves a fresh reference exchange on a manual clock (on PostgreSQL where `postgres` names a
/// server), with `fault` switched on, and runs the suite's checks selected by `filter` against
/// it.
async fn suite_against(postgres: Option<&str>, fault: Option<Fault>, filter: Filter) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(dir.path(), postgres);
    let clock = Arc::new(ManualClock::new(start()));
    // Tight admission bounds, so the overload check's burst is shed (the other checks send one
    // request at a time).
    let limits = dx_exchange::admission::Limits {
        in_flight: 8,
        queued: 8,
        deadline: std::time::Duration::from_millis(20),
    };
    let exchange =
        dx_exchange::Exchange::open_at(&store.location, Durability::Normal, clock, limits).unwrap();
    if let Some(f) = fault {
        exchange.state().inject_fault(f);
    }
    let secret = exchange.admin_secret().to_owned();
    let running = exchange
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    // With HL7's FHIR R4 JSON schema where the environment names it (as .ci/run does).
    let schema = std::env::var("DXSIM_FHIR_SCHEMA")
        .ok()
        .map(|p| conformance::fhir::Schema::load(std::path::Path::new(&p)).unwrap());
    let report = conformance::run(&running.url(), &secret, &filter, schema, &mut |_| {})
        .await
        .unwrap();
    running.stop().await.unwrap();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_exchange_passes_every_check() {
    passes_every_check(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_exchange_passes_every_check_on_postgres() {
    if let Some(server) = test_server_or_skip("conformance on PostgreSQL") {
        passes_every_check(Some(&server)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_the_check_that_targets_it() {
    faults_are_caught(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_the_check_that_targets_it_on_postgres() {
    if let Some(server) = test_server_or_skip("conformance faults on PostgreSQL") {
        faults_are_caught(Some(&server)).await;
    }
}

async fn passes_every_check(postgres: Option<&str>) {
    let report = suite_against(postgres, None, Filter::default()).await;
    assert!(
        report.passed() && report.counts.skip == 0,
        "{}",
        conformance::summary(&report)
    );
    assert_eq!(report.checks.len(), conformance::checks::all().len());
    // The JUnit XML a vendor's CI reads counts the same.
    let xml = conformance::junit(&report);
    assert!(xml.contains(&format!(
        "tests=\"{}\" failures=\"0\" errors=\"0\" skipped=\"0\"",
        report.checks.len()
    )));
}

async fn faults_are_caught(postgres: Option<&str>) {
    for (fault, targets) in [
        (
            Fault::ConsentUnchecked,
            &[
                "consent.required-for-medications",
                "ehr-items.summary-needs-consent",
            ][..],
        ),
        (Fault::RefillLimitOffByOne, &["refill.uses-exhausted"][..]),
        (
            Fault::CheckDigitUnvalidated,
            &["eligibility.insurer-check-digit"][..],
        ),
        (
            Fault::RefusedRequestStored,
            &["security.refused-stores-nothing"][..],
        ),
        (
            Fault::VisitUnchecked,
            &["security.verbal-consent-needs-visit"][..],
        ),
        (
            Fault::RetrievalUnchecked,
            &["security.dispense-needs-retrieval"][..],
        ),
        (
            Fault::CodeAttemptsUnlimited,
            &["security.access-code-guessing"][..],
        ),
        (
            Fault::ExistenceRevealed,
            &["security.uniform-not-found"][..],
        ),
        (
            Fault::TokenLifetimeUncapped,
            &["security.token-lifetime"][..],
        ),
        (Fault::RevocationIgnored, &["security.revocation"][..]),
        (Fault::OverloadUnstructured, &["security.overload"][..]),
        (
            Fault::CardProofOptional,
            &["security.card-proof-missing"][..],
        ),
        (
            Fault::CardSignatureUnchecked,
            &["security.card-proof-forged"][..],
        ),
        (
            Fault::CardReplayAllowed,
            &["security.card-proof-replayed"][..],
        ),
        (Fault::CardRevocationIgnored, &["security.card-revoked"][..]),
        (
            Fault::GuideRulesUnchecked,
            &[
                "eprescription.guide-composition.category",
                "eprescription.guide-coverage.relationship",
                "ehr-items.guide-condition.category",
            ][..],
        ),
        (
            Fault::SignerRoleUnchecked,
            &["security.hpki-wrong-role"][..],
        ),
        (Fault::HpkiRevocationIgnored, &["security.hpki-revoked"][..]),
    ] {
        // The groups of the targeted checks, whole: the fault shows where it should and the
        // rest of each group still passes where the fault does not reach.
        let groups: Vec<String> = targets
            .iter()
            .map(|t| t.split('.').next().unwrap().to_owned())
            .collect();
        let report = suite_against(
            postgres,
            Some(fault),
            Filter {
                groups,
                ids: Vec::new(),
            },
        )
        .await;
        for t in targets {
            let r = report.checks.iter().find(|c| c.id == *t).unwrap();
            assert_eq!(
                r.result,
                "fail",
                "{}: {t} did not catch it\n{}",
                fault.as_str(),
                conformance::summary(&report)
            );
            assert!(r.exchange.is_some(), "{t}: the failure shows the exchange");
        }
        assert!(!report.passed(), "{}", fault.as_str());
    }
}
