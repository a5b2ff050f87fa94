//! The scenario's faults as the driver carries them out. A network outage cuts facilities off
//! the centre for its window: their systems do what the real ones do (FACTS: the outage of 13
//! Feb 2025) — a check or a write is held at the facility and sent when the network is back (a
//! backlog arriving at once, shaped by the retry policy), a prescriber issues paper, a read is
//! given up. A suspension is switched on the target through its admin route at the window's
//! start and off at its end; registrations refused `503 suspended` become paper prescriptions,
//! whose pharmacies register paper dispensings.

use crate::results::FaultWindow;
use dx_model::event::Event;
use dx_model::route::Route;
use dx_scenario::{Fault, FaultKind, Scenario};

/// What a facility cut off from the centre does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutOff {
    /// Holds it and sends it once the network is back.
    Defer,
    /// Issues a paper prescription instead.
    Paper,
    /// Gives it up.
    Abandon,
}

/// What a cut-off facility does with a request of `route`.
pub fn cut_off(route: Route) -> CutOff {
    match route {
        // Checks are recorded locally and made after recovery; writes wait for the network.
        Route::Verify
        | Route::Batch
        | Route::Consent
        | Route::Cancel
        | Route::Dispense
        | Route::PaperDispense
        | Route::EhrItems
        | Route::EhrDocument
        | Route::EhrReceive
        | Route::VaccinationRecord
        | Route::VaccinationBatch
        | Route::PrenatalCheckup
        | Route::InfantCheckup
        | Route::PregnancyRegister
        | Route::EntitlementRegister
        | Route::QualificationAcquire
        | Route::QualificationLose
        | Route::CareCertify
        | Route::PortalApply
        | Route::ApplicationDecide => CutOff::Defer,
        Route::Register => CutOff::Paper,
        Route::Check
        | Route::Retrieve
        | Route::EhrInbox
        | Route::EhrRead
        | Route::EhrSummary
        | Route::VaccinationRead
        | Route::VaccinationSchedule
        | Route::CareRead
        | Route::PortalRead
        | Route::Healthz => CutOff::Abandon,
    }
}

/// The scenario's faults, with their windows in simulated epoch milliseconds.
pub struct Faults {
    pub list: Vec<Fault>,
    pub windows_ms: Vec<(i64, i64)>,
    seed: u64,
}

impl Faults {
    pub fn of(s: &Scenario) -> Faults {
        Faults {
            windows_ms: s
                .faults
                .iter()
                .map(|f| {
                    (
                        dx_protocol::time::jst_ms(f.start),
                        dx_protocol::time::jst_ms(f.end),
                    )
                })
                .collect(),
            list: s.faults.clone(),
            seed: s.seed,
        }
    }

    /// The network outage that cuts event `e`'s facility off at its instant, if any.
    pub fn outage_of(&self, e: &Event) -> Option<usize> {
        self.list.iter().enumerate().find_map(|(i, f)| {
            let (start, end) = self.windows_ms[i];
            (matches!(f.what, FaultKind::NetworkOutage { .. })
                && (start..end).contains(&e.at_ms)
                && f.cuts_off(self.seed, &e.facility))
            .then_some(i)
        })
    }

    /// The suspensions: target, reason and window (simulated epoch ms).
    pub fn suspensions(
        &self,
    ) -> impl Iterator<Item = (dx_protocol::wire::SuspensionTarget, &str, (i64, i64))> + '_ {
        self.list
            .iter()
            .zip(&self.windows_ms)
            .filter_map(|(f, w)| match &f.what {
                FaultKind::ServiceSuspended { target, reason } => {
                    Some((*target, reason.as_str(), *w))
                }
                _ => None,
            })
    }

    /// The store slowdowns: delay (ms) and window.
    pub fn slow_stores(&self) -> impl Iterator<Item = (f64, (i64, i64))> + '_ {
        self.list
            .iter()
            .zip(&self.windows_ms)
            .filter_map(|(f, w)| match f.what {
                FaultKind::SlowStore { delay_ms } => Some((delay_ms, *w)),
                _ => None,
            })
    }

    /// The crashes' windows.
    pub fn crashes(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.list
            .iter()
            .zip(&self.windows_ms)
            .filter_map(|(f, w)| matches!(f.what, FaultKind::ExchangeCrash).then_some(*w))
    }

    /// The faults' windows in seconds of a replay of the period from `period_start_ms` at
    /// `speedup`.
    pub fn windows(&self, period_start_ms: i64, speedup: f64) -> Vec<FaultWindow> {
        let replay_s = |ms: i64| (ms - period_start_ms).max(0) as f64 / 1000.0 / speedup;
        self.list
            .iter()
            .zip(&self.windows_ms)
            .map(|(f, &(start, end))| FaultWindow {
                kind: f.kind().to_owned(),
                label: f.label(),
                start_s: replay_s(start),
                end_s: replay_s(end),
                lost_writes: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_off_facility_defers_checks_and_writes_issues_paper_and_gives_up_reads() {
        assert_eq!(cut_off(Route::Verify), CutOff::Defer);
        assert_eq!(cut_off(Route::Dispense), CutOff::Defer);
        assert_eq!(cut_off(Route::Register), CutOff::Paper);
        assert_eq!(cut_off(Route::EhrSummary), CutOff::Abandon);
        assert_eq!(cut_off(Route::Retrieve), CutOff::Abandon);
    }
}
