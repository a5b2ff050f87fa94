use crate::harness::*;
use dx_exchange::clock::Clock as _;
use reqwest::StatusCode;

async fn a_refill_allows_three_uses_in_their_windows_and_refuses_a_fourth() {
    let h = Harness::start().await;
    let p = h.adult_with_card(7);
    let mut doctor = h.signer(&clinic(4), "DR-R").await;
    let mut pharmacist = h.signer(&pharmacy(5), "PH-R").await;
    let rx = doctor
        .register(&h, "r-1", &p, &[("amlodipine", 30)], 3)
        .await;
    assert_eq!(rx["uses_allowed"], 3);

    // First use on day 2 (within 4 days of issue).
    h.advance_days(2);
    pharmacist.refresh(&h).await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("amlodipine", 30)]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["uses_remaining"], 2);
    let planned = h.today() + chrono::TimeDelta::days(30);
    assert_eq!(
        v["next_window"]["from"],
        (planned - chrono::TimeDelta::days(7)).to_string()
    );

    // Too early for the second use: refused, nothing stored.
    h.advance_days(20);
    pharmacist.refresh(&h).await;
    let before = h.data_stats().await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("amlodipine", 30)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refill_too_early")),
        "{v}"
    );
    assert_eq!(h.data_stats().await, before);

    // Second use 3 days early (inside ±7).
    h.advance_days(7);
    pharmacist.refresh(&h).await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("amlodipine", 30)]).await;
    assert_eq!(
        (s, v["use_number"].as_u64()),
        (StatusCode::CREATED, Some(2)),
        "{v}"
    );

    // Third use 7 days late: still inside.
    h.advance_days(37);
    pharmacist.refresh(&h).await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("amlodipine", 30)]).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::CREATED, Some("completed")),
        "{v}"
    );

    // A fourth use is refused: the last use freed the code, so the pharmacy retrieves nothing
    // and may not dispense (the prescription answers as one that does not exist).
    h.advance_days(30);
    pharmacist.refresh(&h).await;
    assert_eq!(pharmacist.retrieve(&h, &rx).await.0, StatusCode::NOT_FOUND);
    let (s, v) = pharmacist.dispense(&h, &rx, &[("amlodipine", 30)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("prescription_not_found")),
        "{v}"
    );
    doctor.refresh(&h).await;
}

async fn a_use_after_its_window_is_refused() {
    let h = Harness::start().await;
    let p = h.adult_with_card(8);
    let doctor = h.signer(&clinic(5), "DR-W").await;
    let mut pharmacist = h.signer(&pharmacy(6), "PH-W").await;
    let rx = doctor
        .register(&h, "w-1", &p, &[("candesartan", 28)], 2)
        .await;
    let (s, _) = pharmacist.dispense(&h, &rx, &[("candesartan", 28)]).await;
    assert_eq!(s, StatusCode::CREATED);
    h.advance_days(28 + 8);
    pharmacist.refresh(&h).await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("candesartan", 28)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("refill_window_passed")
        )
    );

    // An ordinary prescription expires after 4 days (issue day counted).
    let mut doctor = doctor;
    doctor.refresh(&h).await;
    let rx = doctor
        .register(&h, "w-2", &p, &[("candesartan", 28)], 1)
        .await;
    h.advance_days(4);
    pharmacist.refresh(&h).await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("candesartan", 28)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("prescription_expired")
        )
    );
}

async fn narcotics_psychotropics_and_poultices_cannot_be_refills_and_four_uses_never() {
    let h = Harness::start().await;
    let p = h.adult_with_card(9);
    let doctor = h.signer(&hospital(2), "DR-N").await;
    let before = h.data_stats().await;
    for (doc, drug) in [
        ("n-1", "oxycodone"),
        ("n-2", "zolpidem"),
        ("n-3", "loxoprofen_tape"),
        ("n-4", "daridorexant"),
    ] {
        let body = doctor.signed(&doctor.draft(doc, &p, &[(drug, 14)], 2, h.clock.now()));
        let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("refill_not_allowed")),
            "{drug}: {v}"
        );
    }
    let body = doctor.signed(&doctor.draft("n-5", &p, &[("amlodipine", 28)], 4, h.clock.now()));
    let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("refill_uses_exceeded")
        )
    );
    assert_eq!(h.data_stats().await, before);
}

crate::harness::on_both_stores!(
    a_refill_allows_three_uses_in_their_windows_and_refuses_a_fourth,
    a_use_after_its_window_is_refused,
    narcotics_psychotropics_and_poultices_cannot_be_refills_and_four_uses_never,
);
