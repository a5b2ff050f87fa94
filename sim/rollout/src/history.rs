//! One person's medication history as the exchange keeps it, followed event by event, and the
//! warnings its checks raise: the duplicate pre-check and every registration run the exchange's
//! own [`find_warnings`] and [`flag_warnings`] over what the exchange then knows.
//!
//! What it knows: registered prescriptions not yet dispensed and not cancelled, dispensing
//! results (of electronic prescriptions, and of paper ones at pharmacies running
//! e-prescription), both for 100 days; and the allergies and contraindicated drugs registered
//! through EHR sharing. So the warnings grow with adoption, as more of a patient's medication is
//! on record.

use chrono::{NaiveDate, TimeDelta};
use dx_exchange::ehr::DrugFlag;
use dx_exchange::prescription::checks::{Candidate, CheckScope, find_warnings, flag_warnings};
use dx_exchange::prescription::{HISTORY_DAYS, HistoryItem};
use dx_exchange::refdata::DrugMaster;
use dx_exchange::wire::clins::ItemKind;
use dx_exchange::wire::{MedicationSource, WarningKind};
use dx_model::event::{Event, Fact, Payload};
use dx_workload::flows::GenContext;
use std::collections::HashMap;

/// Warnings by kind, in the order of [`KINDS`].
pub type Raised = [u64; 4];

/// The kinds counted, in order.
pub const KINDS: [WarningKind; 4] = [
    WarningKind::Duplicate,
    WarningKind::Contraindication,
    WarningKind::RegisteredContraindication,
    WarningKind::Allergy,
];

/// A person's record at the exchange.
#[derive(Debug, Default)]
pub struct Medication {
    /// The history, in time order; `prescription_id` is the registration event it came from
    /// (none for a paper dispensing).
    items: Vec<HistoryItem>,
    /// Registration event → the prescribing facility.
    registered: HashMap<u64, String>,
    /// Retrieval event → its registration event.
    retrieved: HashMap<u64, u64>,
    flags: Vec<DrugFlag>,
}

impl Medication {
    /// Follows one event (in time order); returns the warnings it raised.
    pub fn on(&mut self, e: &Event) -> Raised {
        let date = GenContext::date_of(e.at_ms);
        let mut raised = [0; 4];
        match &e.payload {
            Payload::Check { .. } => raised = self.warnings(e, date),
            Payload::Register { .. } => {
                raised = self.warnings(e, date);
                self.registered.insert(e.id, e.facility.clone());
                self.record(
                    e,
                    date,
                    MedicationSource::Prescription,
                    Some(e.id),
                    &e.facility,
                );
            }
            Payload::Cancel => {
                if let Some(reg) = e.needs {
                    let reg = reg.to_string();
                    self.items
                        .retain(|h| h.prescription_id.as_ref() != Some(&reg));
                }
            }
            Payload::Retrieve => {
                if let Some(reg) = e.needs {
                    self.retrieved.insert(e.id, reg);
                }
            }
            Payload::Dispense { .. } => {
                let reg = e.needs.and_then(|r| self.retrieved.get(&r).copied());
                if let Some(reg) = reg.map(|r| r.to_string()) {
                    // Once dispensed, the prescription leaves the history; the dispensing enters.
                    self.items.retain(|h| {
                        h.prescription_id.as_ref() != Some(&reg)
                            || h.source != MedicationSource::Prescription
                    });
                }
                let prescriber = reg
                    .and_then(|r| self.registered.get(&r).cloned())
                    .unwrap_or_default();
                self.record(e, date, MedicationSource::Dispensing, reg, &prescriber);
            }
            Payload::PaperDispense { prescriber, .. } => {
                self.record(e, date, MedicationSource::Dispensing, None, prescriber);
            }
            Payload::EhrItems { .. } => self.register_flags(e, date),
            _ => {}
        }
        raised
    }

    /// `e`'s drugs entering the history: a registration, or a dispensing at `e`'s pharmacy (of
    /// registration `reg`, or paper).
    fn record(
        &mut self,
        e: &Event,
        date: NaiveDate,
        source: MedicationSource,
        reg: Option<u64>,
        prescriber: &str,
    ) {
        for line in e.payload.drugs() {
            self.items.push(HistoryItem {
                source,
                date,
                facility_code: e.facility.clone(),
                prescriber_facility: prescriber.to_owned(),
                code: line.code.clone(),
                days: line.days,
                prescription_id: reg.map(|r| r.to_string()),
            });
        }
    }

    fn register_flags(&mut self, e: &Event, date: NaiveDate) {
        for line in e.payload.facts() {
            // Drug allergies and contraindicated drugs (by YJ code) flag prescriptions; food
            // allergies do not.
            let (kind, yj) = match &line.fact {
                Fact::DrugAllergy { yj } => (ItemKind::Allergy, yj),
                Fact::ContraindicatedDrug { yj } => (ItemKind::ContraindicatedDrug, yj),
                _ => continue,
            };
            self.flags.push(DrugFlag {
                kind,
                yj: yj.clone(),
                facility_code: e.facility.clone(),
                recorded_on: date,
            });
        }
    }

    /// What the exchange's checks say of `e`'s drugs against the history of the last 100 days.
    fn warnings(&mut self, e: &Event, date: NaiveDate) -> Raised {
        let from = date - TimeDelta::days(HISTORY_DAYS);
        self.items.retain(|h| h.date >= from);
        let master = DrugMaster::get();
        let candidates: Vec<Candidate<'_>> = e
            .payload
            .drugs()
            .iter()
            .filter_map(|line| {
                master.by_code(&line.code).map(|drug| Candidate {
                    code: &line.code,
                    drug,
                    start: date,
                    days: line.days,
                })
            })
            .collect();
        let scope = CheckScope {
            caller_facility: &e.facility,
            include_same_facility: false,
            disclose: false,
        };
        let mut raised = [0; 4];
        let found = find_warnings(&candidates, &self.items, scope, master)
            .into_iter()
            .chain(flag_warnings(&candidates, &self.flags, false, master));
        for w in found {
            if let Some(k) = KINDS.iter().position(|k| *k == w.kind) {
                raised[k] += 1;
            }
        }
        raised
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_exchange::wire::PrescriptionKind;
    use dx_model::event::{DrugLine, FactLine};
    use dx_model::route::Route;
    use dx_workload::flows::jst_ms;

    fn yj(ingredient: &str) -> String {
        DrugMaster::get()
            .all()
            .iter()
            .find(|d| d.ingredient == ingredient)
            .unwrap()
            .yj
            .clone()
    }

    fn at(day: u32) -> i64 {
        jst_ms(
            NaiveDate::from_ymd_opt(2026, 1, day)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
        )
    }

    /// An event of `route` at `facility` on a January day, carrying `items`: drug lines
    /// `YJ:days:quantity` (`;`-separated), or for EHR items one drug allergy `alg:yj:<YJ>`.
    fn event(id: u64, route: Route, day: u32, facility: &str, items: &str) -> Event {
        let drugs = || {
            items
                .split(';')
                .map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    DrugLine {
                        code: f[0].into(),
                        days: f[1].parse().unwrap(),
                        quantity: f[2].parse().unwrap(),
                    }
                })
                .collect()
        };
        let payload = match route {
            Route::Register => Payload::Register {
                kind: PrescriptionKind::Electronic,
                uses: 1,
                drugs: drugs(),
            },
            Route::Check => Payload::Check { drugs: drugs() },
            Route::Dispense => Payload::Dispense { drugs: drugs() },
            Route::Retrieve => Payload::Retrieve,
            Route::Cancel => Payload::Cancel,
            Route::EhrItems => Payload::EhrItems {
                facts: vec![FactLine {
                    fact: Fact::DrugAllergy {
                        yj: items.strip_prefix("alg:yj:").unwrap().into(),
                    },
                    undisclosed: false,
                    long_term: false,
                }],
            },
            other => panic!("{other:?}"),
        };
        Event {
            id,
            at_ms: at(day),
            facility: facility.into(),
            payload,
            ..Event::default()
        }
    }

    #[test]
    fn warnings_come_from_what_the_exchange_knows_of_other_facilities() {
        let (amlo, epl, clar) = (yj("amlodipine"), yj("eplerenone"), yj("clarithromycin"));
        let mut m = Medication::default();
        // A hospital registers amlodipine and eplerenone for 28 days.
        let reg = event(
            1,
            Route::Register,
            1,
            "H1",
            &format!("{amlo}:28:28;{epl}:28:28"),
        );
        assert_eq!(m.on(&reg), [0; 4]);
        // A clinic pre-checks amlodipine and clarithromycin: a duplicate and a 併用禁忌 pair.
        let check = event(
            2,
            Route::Check,
            5,
            "C1",
            &format!("{amlo}:14:14;{clar}:7:14"),
        );
        assert_eq!(m.on(&check), [1, 1, 0, 0]);
        // The same hospital is excluded from its own checks.
        let again = event(3, Route::Check, 5, "H1", &format!("{amlo}:14:14"));
        assert_eq!(m.on(&again), [0; 4]);
        // Dispensed at a pharmacy: the prescription becomes a dispensing, still a duplicate for
        // the clinic but not for the hospital that prescribed it.
        m.on(&Event {
            needs: Some(1),
            ..event(4, Route::Retrieve, 2, "P1", "")
        });
        m.on(&Event {
            needs: Some(4),
            ..event(5, Route::Dispense, 2, "P1", &format!("{amlo}:28:28"))
        });
        assert_eq!(
            m.on(&event(6, Route::Check, 6, "C1", &format!("{amlo}:7:7"))),
            [1, 0, 0, 0]
        );
        assert_eq!(
            m.on(&event(7, Route::Check, 6, "H1", &format!("{amlo}:7:7"))),
            [0; 4]
        );
        // An allergy registered through EHR sharing warns whoever prescribes the drug.
        m.on(&event(
            8,
            Route::EhrItems,
            7,
            "H2",
            &format!("alg:yj:{clar}"),
        ));
        assert_eq!(
            m.on(&event(9, Route::Register, 8, "C2", &format!("{clar}:5:10"))),
            [0, 0, 0, 1]
        );
        // A cancelled registration leaves the history.
        m.on(&Event {
            needs: Some(9),
            ..event(10, Route::Cancel, 8, "C2", "")
        });
        let later = event(11, Route::Check, 9, "C3", &format!("{clar}:5:10"));
        assert_eq!(m.on(&later), [0, 0, 0, 1]);
    }
}
