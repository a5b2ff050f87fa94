//! Where each route's service time comes from (the services and their routes are
//! `dx_model::route`).

use super::calibration::Calibration;
use super::station::ServiceTime;
use dx_model::route::Route;
use dx_scenario::Scenario;

/// z of the standard normal at 0.99.
const Z99: f64 = 2.326_347_874;

/// A route's service time and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTime {
    pub time: ServiceTime,
    pub source: String,
}

/// A log-normal with the given median and p99 (milliseconds).
pub fn log_normal_ms(median_ms: f64, p99_ms: f64) -> ServiceTime {
    let mu = (median_ms / 1e3).ln();
    ServiceTime::LogNormal {
        mu,
        sigma: ((p99_ms / median_ms).ln() / Z99).max(1e-6),
    }
}

/// Published averages (FACTS): registration ≈2 s, dispensing result ≈2 s, duplicate check
/// 1–2 s. The spread (σ = 0.5 of ln S) is an assumption.
fn published(route: Route) -> Option<(f64, &'static str)> {
    match route {
        Route::Register => Some((2.0, "FACTS: registration ≈2 s (average)")),
        Route::Dispense | Route::PaperDispense => {
            Some((2.0, "FACTS: dispensing result ≈2 s (average)"))
        }
        Route::Check => Some((1.5, "FACTS: duplicate check 1–2 s (average)")),
        _ => None,
    }
}

/// The service time of `route`: the scenario's `[capacity.service_times]`, else the
/// calibration (measured by a replay), else a published average; `None` if none knows it.
pub fn route_time(
    s: &Scenario,
    calibration: Option<&Calibration>,
    route: Route,
) -> Option<RouteTime> {
    given_time(s, route)
        .or_else(|| calibration.and_then(|c| measured_time(c, route)))
        .or_else(|| published_time(route))
}

/// The scenario's own figure for `route`.
pub fn given_time(s: &Scenario, route: Route) -> Option<RouteTime> {
    s.capacity.service_times.get(&route).map(|t| RouteTime {
        time: log_normal_ms(t.median_ms.get(), t.p99_ms.get()),
        source: format!(
            "scenario: log-normal, median {} ms, p99 {} ms",
            t.median_ms, t.p99_ms
        ),
    })
}

/// A calibration's fit for `route`.
pub fn measured_time(cal: &Calibration, route: Route) -> Option<RouteTime> {
    cal.routes.get(route.as_str()).map(|fit| RouteTime {
        time: super::calibration::service_time(fit),
        source: format!(
            "measured: log-normal fit of {} samples (median {:.2} ms, p99 {:.2} ms, KS {:.3}{}) from {}",
            fit.samples,
            fit.median_ms,
            fit.p99_ms,
            fit.ks,
            fit.per_item_of
                .map(|k| format!("; per event of requests carrying {k:.1}"))
                .unwrap_or_default(),
            cal.source
        ),
    })
}

/// A published average for `route` (FACTS), as a log-normal with σ = 0.5.
pub fn published_time(route: Route) -> Option<RouteTime> {
    published(route).map(|(mean_s, source)| {
        let sigma: f64 = 0.5;
        RouteTime {
            time: ServiceTime::LogNormal {
                mu: mean_s.ln() - sigma * sigma / 2.0,
                sigma,
            },
            source: format!("{source}; log-normal with σ = 0.5 (assumption)"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_times_come_from_the_scenario_then_the_calibration_then_facts() {
        let mut s = Scenario::national(0.001);
        let reg = route_time(&s, None, Route::Register).unwrap();
        assert!((reg.time.mean() - 2.0).abs() < 1e-9 && reg.source.starts_with("FACTS"));
        assert_eq!(route_time(&s, None, Route::Verify), None);
        let ln = log_normal_ms(4.0, 40.0);
        let cal = Calibration {
            source: "a run".into(),
            routes: [(
                "verify".to_owned(),
                super::super::calibration::Fit {
                    mu: (0.004f64).ln(),
                    sigma: 0.9898,
                    samples: 100,
                    median_ms: 4.0,
                    p99_ms: 40.0,
                    measured_p99_ms: 39.0,
                    ks: 0.02,
                    per_item_of: None,
                },
            )]
            .into(),
        };
        let v = route_time(&s, Some(&cal), Route::Verify).unwrap();
        assert!(v.source.starts_with("measured") && v.source.contains("a run"));
        if let (ServiceTime::LogNormal { sigma: a, .. }, ServiceTime::LogNormal { sigma: b, .. }) =
            (v.time, ln)
        {
            assert!((a - b).abs() < 1e-3);
        }
        s.capacity.service_times.insert(
            Route::Verify,
            dx_scenario::ServiceTimeSpec {
                median_ms: dx_scenario::values::Millis::new(100.0).unwrap(),
                p99_ms: dx_scenario::values::Millis::new(100.0).unwrap(),
            },
        );
        let v = route_time(&s, Some(&cal), Route::Verify).unwrap();
        assert!(v.source.starts_with("scenario") && (v.time.mean() - 0.1).abs() < 1e-6);
    }
}
