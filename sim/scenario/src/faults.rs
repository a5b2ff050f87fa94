//! Faults a scenario injects into its replay (`[[faults]]`), each over a window of simulated
//! time: what the published incidents were (FACTS: the regional network outage of 13 Feb 2025,
//! e-prescription issuing suspended in December 2024). The driver carries them out
//! (`dx_drive::faults`); the report shows what each did.

use crate::dates::toml_datetime;
use crate::values::{Millis, Prefecture, Share};
use chrono::NaiveDateTime;
use dx_protocol::wire::SuspensionTarget;
use serde::Deserialize;

/// A fault and its window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "FaultSpec")]
pub struct Fault {
    /// When it begins and ends (JST wall time, inside the period).
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub what: FaultKind,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Facilities cannot reach the centre: those of `prefectures` (all if empty), a `share` of
    /// them chosen by facility code and seed. Their systems do what the real ones do: a check is
    /// recorded locally and made after recovery, a prescriber issues paper, a write waits and
    /// is sent after recovery, a read is given up.
    NetworkOutage { prefectures: Vec<u8>, share: f64 },
    /// The operator suspends a service (`POST /v1/admin/suspensions`) at the start and resumes
    /// it at the end; prescribers fall back to paper meanwhile.
    ServiceSuspended {
        target: SuspensionTarget,
        reason: String,
    },
    /// The exchange is killed (SIGKILL) at the start and restarted at the end: `dxsim run`
    /// supervises it as a child process; against a vendor's target the driver announces the
    /// fault and the user's own tooling does it. Every acknowledged write must survive.
    ExchangeCrash,
    /// Every store transaction of the exchange takes `delay_ms` longer (an exchange built with
    /// the `faults` feature, switched through its admin route).
    SlowStore { delay_ms: f64 },
}

impl Fault {
    /// `network_outage`, `service_suspended`.
    pub fn kind(&self) -> &'static str {
        match self.what {
            FaultKind::NetworkOutage { .. } => "network_outage",
            FaultKind::ServiceSuspended { .. } => "service_suspended",
            FaultKind::ExchangeCrash => "exchange_crash",
            FaultKind::SlowStore { .. } => "slow_store",
        }
    }

    /// One line for reports: the kind, its window and its scope.
    pub fn label(&self) -> String {
        let window = format!(
            "{} → {}",
            self.start.format("%Y-%m-%d %H:%M"),
            if self.end.date() == self.start.date() {
                self.end.format("%H:%M").to_string()
            } else {
                self.end.format("%Y-%m-%d %H:%M").to_string()
            }
        );
        let scope = match &self.what {
            FaultKind::NetworkOutage { prefectures, share } => {
                let whose = if prefectures.is_empty() {
                    "all prefectures".to_owned()
                } else {
                    format!("{} prefectures", prefectures.len())
                };
                format!("{:.0}% of the facilities of {whose}", share * 100.0)
            }
            FaultKind::ServiceSuspended { target, .. } => target.as_str().to_owned(),
            FaultKind::ExchangeCrash => "killed at its start, restarted at its end".to_owned(),
            FaultKind::SlowStore { delay_ms } => {
                format!("{delay_ms} ms more per store transaction")
            }
        };
        format!("{} {window} JST ({scope})", self.kind())
    }

    /// Whether a network outage cuts facility `code` off (by its prefecture and a draw of the
    /// seed and its code); never for a municipality or a person.
    pub fn cuts_off(&self, seed: u64, facility: &str) -> bool {
        let FaultKind::NetworkOutage { prefectures, share } = &self.what else {
            return false;
        };
        if facility.len() != 10 {
            return false;
        }
        let prefecture: u8 = facility[..2].parse().unwrap_or(0);
        if !prefectures.is_empty() && !prefectures.contains(&prefecture) {
            return false;
        }
        let draw = dx_model::rng::unit_of(dx_model::rng::code_hash(
            dx_model::rng::stream_key(seed, "network_outage"),
            facility,
        ));
        draw < *share
    }
}

/// Whether a suspension of `target` refuses the requests of `route` (as the exchange's
/// admission does for their endpoints).
pub fn suspends(target: SuspensionTarget, route: dx_model::route::Route) -> bool {
    use dx_model::route::Route as R;
    match target {
        SuspensionTarget::EprescriptionIssuing => route == R::Register,
        SuspensionTarget::Eprescription => matches!(
            route,
            R::Register | R::Check | R::Cancel | R::Retrieve | R::Dispense | R::PaperDispense
        ),
        SuspensionTarget::Eligibility => matches!(route, R::Verify | R::Batch | R::Consent),
        SuspensionTarget::Ehr => matches!(
            route,
            R::EhrItems | R::EhrDocument | R::EhrInbox | R::EhrRead | R::EhrReceive | R::EhrSummary
        ),
        SuspensionTarget::Municipal => matches!(
            route,
            R::VaccinationRecord
                | R::VaccinationBatch
                | R::VaccinationRead
                | R::VaccinationSchedule
                | R::PrenatalCheckup
                | R::InfantCheckup
                | R::CareCertify
                | R::CareRead
                | R::ApplicationDecide
        ),
        SuspensionTarget::Portal => matches!(route, R::PortalRead | R::PortalApply),
    }
}

/// A fault as a scenario writes it: `kind` and the fields of that kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    kind: String,
    #[serde(deserialize_with = "toml_datetime")]
    start: NaiveDateTime,
    #[serde(deserialize_with = "toml_datetime")]
    end: NaiveDateTime,
    prefectures: Option<Vec<Prefecture>>,
    share: Option<Share>,
    target: Option<SuspensionTarget>,
    reason: Option<String>,
    delay_ms: Option<Millis>,
}

impl TryFrom<FaultSpec> for Fault {
    type Error = String;

    fn try_from(f: FaultSpec) -> Result<Fault, String> {
        if f.end <= f.start {
            return Err(format!(
                "a fault ends after it starts: {} → {}",
                f.start, f.end
            ));
        }
        let not_for = |field: &str, given: bool| {
            if given {
                Err(format!("{field} is not a field of a {} fault", f.kind))
            } else {
                Ok(())
            }
        };
        let what = match f.kind.as_str() {
            "network_outage" => {
                not_for("target", f.target.is_some())?;
                not_for("reason", f.reason.is_some())?;
                not_for("delay_ms", f.delay_ms.is_some())?;
                FaultKind::NetworkOutage {
                    prefectures: f
                        .prefectures
                        .unwrap_or_default()
                        .iter()
                        .map(|p| p.get())
                        .collect(),
                    share: f.share.map_or(1.0, Share::get),
                }
            }
            "service_suspended" => {
                not_for("prefectures", f.prefectures.is_some())?;
                not_for("share", f.share.is_some())?;
                not_for("delay_ms", f.delay_ms.is_some())?;
                let reason = f.reason.unwrap_or_default();
                if reason.trim().is_empty()
                    || reason.chars().count() > dx_protocol::wire::MAX_SUSPENSION_REASON
                {
                    return Err(format!(
                        "a service_suspended fault needs its reason (1–{} characters)",
                        dx_protocol::wire::MAX_SUSPENSION_REASON
                    ));
                }
                FaultKind::ServiceSuspended {
                    target: f.target.ok_or(
                        "a service_suspended fault names its target (eligibility, eprescription, eprescription_issuing, ehr, municipal, portal)",
                    )?,
                    reason,
                }
            }
            "exchange_crash" | "slow_store" => {
                for (field, given) in [
                    ("prefectures", f.prefectures.is_some()),
                    ("share", f.share.is_some()),
                    ("target", f.target.is_some()),
                    ("reason", f.reason.is_some()),
                ] {
                    not_for(field, given)?;
                }
                if f.kind == "exchange_crash" {
                    not_for("delay_ms", f.delay_ms.is_some())?;
                    FaultKind::ExchangeCrash
                } else {
                    FaultKind::SlowStore {
                        delay_ms: f
                            .delay_ms
                            .ok_or("a slow_store fault gives its delay_ms per transaction")?
                            .get(),
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown fault kind {other:?}: network_outage, service_suspended, exchange_crash or slow_store"
                ));
            }
        };
        Ok(Fault {
            start: f.start,
            end: f.end,
            what,
        })
    }
}
