use super::*;
use values::share;

fn parse(text: &str) -> Result<Scenario, String> {
    Scenario::from_toml("test.toml", text).map_err(|e| e.to_string())
}

#[test]
fn defaults_fill_an_empty_file_and_typos_are_errors() {
    let s: Scenario = toml::from_str("").unwrap();
    assert_eq!(s, Scenario::national(0.001));
    assert_eq!(parse("").unwrap(), s);
    let e = parse("[population]\nscael = 0.1\n").unwrap_err();
    assert!(e.contains("scael"), "{e}");
}

#[test]
fn dates_may_be_toml_dates_or_strings() {
    for text in [
        "[population]\nas_of = 2024-04-01\n",
        "[population]\nas_of = \"2024-04-01\"\n",
    ] {
        let s: Scenario = toml::from_str(text).unwrap();
        assert_eq!(
            s.population.as_of,
            NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
        );
    }
    assert!(toml::from_str::<Scenario>("[population]\nas_of = \"April\"\n").is_err());
}

#[test]
fn out_of_range_values_are_refused_naming_file_field_and_range() {
    for (text, says) in [
        ("[population]\nscale = 0.0\n", "population.scale: "),
        ("[population]\nscale = 1.5\n", "(0, 1]"),
        ("[population]\nprefectures = [48]\n", "48"),
        ("[period]\nhours = 0.0\n", "period.hours"),
        ("[replay]\nspeedup = -1.0\n", "speedup"),
        ("[slo.routes.verfy]\np99_ms = 100.0\n", "verfy"),
        ("[rates]\nbatch_share = 1.2\n", "rates.batch_share: "),
        (
            "[adoption.eprescription]\nhospital = 2\nclinic = 0\ndental = 0\npharmacy = 0\n",
            "[0, 1]",
        ),
        ("[slo.default]\np99_ms = 0\n", "above 0 ms"),
        ("name = \"a b\"\n", "letters, digits"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(says) && e.contains("test.toml"), "{text}: {e}");
    }
    assert!(values::Scale::new(0.0).unwrap_err().contains("(0, 1]"));
}

#[test]
fn what_spans_several_fields_is_checked_at_load() {
    for (text, says) in [
        ("[period]\nstart = 1999-01-01T00:00:00\n", "calendar covers"),
        (
            "[municipal]\nflu_doses_per_year = 1e6\nflu_elderly_doses_per_year = 2e6\n",
            "cannot exceed",
        ),
        (
            "[capacity.services.eligibility]\ndiscipline = \"priority\"\npriority = [\"register\"]\n",
            "register is not a route of eligibility",
        ),
        (
            "[capacity.service_times.verify]\nmedian_ms = 5.0\np99_ms = 1.0\n",
            "median_ms",
        ),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn every_shipped_scenario_loads() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.file_stem().unwrap().to_str().unwrap(), s.name.as_str());
            names.push(s.name.to_string());
        }
    }
    names.sort();
    let shipped = [
        "crash-restart",
        "eprescription-full-adoption",
        "eprescription-suspension",
        "flu-peak-monday",
        "national-weekday",
        "outage-2025-02-13",
        "portal-surge",
        "quickstart",
        "rollout-2025-2030",
        "rollout-accelerated",
    ];
    assert_eq!(names, shipped);
}

#[test]
fn rollout_waypoints_parse_and_typos_are_errors() {
    let text = "[rollout]\nstart = 2025-06-01\nmonths = 12\n\n[[rollout.waypoints]]\nat = 2026-01-01\nelectronic_share = 0.5\neprescription = { hospital = 1, clinic = 0.5, dental = 0.2, pharmacy = 1 }\n";
    let s = parse(text).unwrap();
    let r = s.rollout.as_ref().unwrap();
    assert_eq!(r.waypoints[0].values.electronic_share, Some(share(0.5)));
    assert_eq!(
        r.waypoints[0].values.eprescription.unwrap().hospital.get(),
        1.0
    );
    assert_eq!(r.month_starts().len(), 13);
    assert_eq!(r.month_starts()[12].to_string(), "2026-06-01");
    let typo = text.replace("electronic_share", "electronic_shre");
    let e = parse(&typo).unwrap_err();
    assert!(e.contains("electronic_shre"), "{e}");
    for (bad, says) in [
        (text.replace("2026-01-01", "2025-05-01"), "must follow"),
        (
            text.replace("start = 2025-06-01", "start = 2025-06-02"),
            "first day",
        ),
        (text.replace("clinic = 0.5", "clinic = 0.1"), "only grows"),
        (text.replace("months = 12", "months = 0"), "rollout.months"),
        (
            format!("{text}[adoption.at_end]\nelectronic_share = 1.0\n"),
            "not both",
        ),
    ] {
        let e = parse(&bad).unwrap_err();
        assert!(e.contains(says), "{e}");
    }
}

#[test]
fn the_period_start_is_a_local_date_time() {
    let s = parse("[period]\nstart = 2025-10-06T08:30:00\nhours = 4\n").unwrap();
    assert_eq!(s.period.end().to_string(), "2025-10-06 12:30:00");
    let e = parse("[period]\nstart = \"Monday\"\n").unwrap_err();
    assert!(e.contains("local date-time"), "{e}");
}

#[test]
fn an_slo_falls_back_to_the_scenario_default_then_the_route_table() {
    let s = parse("[slo.routes.verify]\np99_ms = 500.0\n").unwrap();
    assert_eq!(
        s.slo.for_route(dx_model::route::Route::Verify).p99_ms,
        Some(500.0)
    );
    assert_eq!(
        s.slo.for_route(dx_model::route::Route::Register),
        dx_model::route::DEFAULT_SLO
    );
    let s = parse("[slo.default]\np99_ms = 200.0\n").unwrap();
    assert_eq!(
        s.slo.for_route(dx_model::route::Route::Register).p99_ms,
        Some(200.0)
    );
    assert_eq!(
        s.slo.for_route(dx_model::route::Route::Register).error_rate,
        None
    );
}

#[test]
fn faults_and_the_retry_policy_are_read_and_checked() {
    let period = "[period]\nstart = 2025-02-13T10:30:00\nhours = 2.0\n";
    let s = parse(&format!(
        "{period}[replay.retry]\npolicy = \"backoff\"\nmax_attempts = 5\n\
         [replay.retry.routes.portal_read]\npolicy = \"none\"\n\
         [[faults]]\nkind = \"network_outage\"\nstart = 2025-02-13T11:06:00\nend = 2025-02-13T11:35:00\nprefectures = [13, 14]\nshare = 0.5\n\
         [[faults]]\nkind = \"service_suspended\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T12:00:00\ntarget = \"eprescription_issuing\"\nreason = \"dummy codes\"\n"
    ))
    .unwrap();
    assert_eq!(s.faults.len(), 2);
    assert_eq!(
        s.faults[0].what,
        FaultKind::NetworkOutage {
            prefectures: vec![13, 14],
            share: 0.5
        }
    );
    assert!(
        s.faults[1]
            .label()
            .starts_with("service_suspended 2025-02-13 11:00 → 12:00")
    );
    let verify = s.replay.retry.for_route(dx_model::route::Route::Verify);
    assert_eq!((verify.kind, verify.max_attempts), (RetryKind::Backoff, 5));
    let portal = s.replay.retry.for_route(dx_model::route::Route::PortalRead);
    assert_eq!((portal.kind, portal.max_attempts), (RetryKind::None, 1));
    // Only a Tokyo or Kanagawa facility is cut off, about half of them, the same ones each time.
    let cut: Vec<bool> = (0..400)
        .map(|i| s.faults[0].cuts_off(s.seed, &format!("131{i:07}")))
        .collect();
    let n = cut.iter().filter(|c| **c).count();
    assert!((150..250).contains(&n), "{n}");
    assert!(!s.faults[0].cuts_off(s.seed, "2710000001"));
    assert!(!s.faults[0].cuts_off(s.seed, "131000"));
    for (bad, says) in [
        (
            "kind = \"meteor\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T11:30:00\n",
            "unknown fault kind",
        ),
        (
            "kind = \"network_outage\"\nstart = 2025-02-13T11:30:00\nend = 2025-02-13T11:00:00\n",
            "ends after it starts",
        ),
        (
            "kind = \"network_outage\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T14:00:00\n",
            "outside the period",
        ),
        (
            "kind = \"network_outage\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T11:30:00\ntarget = \"ehr\"\n",
            "not a field",
        ),
        (
            "kind = \"service_suspended\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T11:30:00\ntarget = \"ehr\"\n",
            "needs its reason",
        ),
        (
            "kind = \"service_suspended\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T11:30:00\nreason = \"r\"\n",
            "names its target",
        ),
        (
            "kind = \"network_outage\"\nstart = 2025-02-13T11:00:00\nend = 2025-02-13T11:30:00\nshare = 1.5\n",
            "[0, 1]",
        ),
    ] {
        let e = parse(&format!("{period}[[faults]]\n{bad}")).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let e = parse("[replay.retry]\nmax_attempts = 0\n").unwrap_err();
    assert!(e.contains("1..=20"), "{e}");
}
