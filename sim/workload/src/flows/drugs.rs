//! The drugs the flows prescribe, by purpose: long-term drugs per chronic condition, acute
//! ones, the flu season's, the dental clinics'.

use super::super::model::VisitKind;
use super::base::PersonRow;
use dx_exchange::refdata::DrugMaster;
use dx_model::rng::Stream;
use dx_population::tables;

/// Drug codes the flows prescribe from, by purpose (ingredients of the exchange's drug master).
/// One pair is listed as 併用禁忌: eplerenone (hypertension) with clarithromycin (an acute
/// antibiotic), so a patient on the one who gets the other elsewhere draws a contraindication
/// warning, as such patients do.
#[derive(Debug, Clone)]
pub struct DrugChoices {
    /// Per chronic condition bit: long-term drugs.
    chronic: Vec<(u16, Vec<String>)>,
    acute: Vec<String>,
    flu: Vec<String>,
    dental: Vec<String>,
}

fn codes(names: &[&str]) -> Vec<String> {
    let master = DrugMaster::get();
    names
        .iter()
        .map(|n| {
            master
                .all()
                .iter()
                .find(|d| d.ingredient == *n && d.refill_bar.is_none())
                .unwrap_or_else(|| panic!("{n} is not a refillable drug of the master"))
                .yj
                .clone()
        })
        .collect()
}

impl DrugChoices {
    pub fn new() -> Self {
        Self {
            chronic: vec![
                (
                    tables::HYPERTENSION,
                    codes(&[
                        "amlodipine",
                        "candesartan",
                        "olmesartan",
                        "telmisartan",
                        "azilsartan",
                        "eplerenone",
                    ]),
                ),
                (
                    tables::DIABETES,
                    codes(&[
                        "metformin",
                        "sitagliptin",
                        "linagliptin",
                        "empagliflozin",
                        "dapagliflozin",
                    ]),
                ),
                (
                    tables::DYSLIPIDAEMIA,
                    codes(&["rosuvastatin", "atorvastatin", "pitavastatin", "ezetimibe"]),
                ),
                (
                    tables::ASTHMA_COPD,
                    codes(&["montelukast", "budesonide_formoterol", "tiotropium"]),
                ),
                (tables::CKD, codes(&["allopurinol", "ferrous_citrate"])),
                (tables::DEMENTIA, codes(&["donepezil", "memantine"])),
            ],
            acute: codes(&[
                "loxoprofen",
                "acetaminophen",
                "carbocisteine",
                "ambroxol",
                "fexofenadine",
                "amoxicillin",
                "cefcapene",
                "clarithromycin",
                "famotidine",
                "rebamipide",
                "dextromethorphan",
            ]),
            flu: codes(&["oseltamivir", "baloxavir", "acetaminophen"]),
            dental: codes(&["loxoprofen", "acetaminophen", "amoxicillin", "cefcapene"]),
        }
    }

    /// Drug lines for one prescription, and whether it is long-term (refillable).
    pub fn choose(
        &self,
        person: &PersonRow,
        kind: VisitKind,
        flu: bool,
        rng: &mut Stream,
    ) -> (Vec<(String, u16)>, bool) {
        let pick =
            |list: &[String], rng: &mut Stream| list[rng.below(list.len() as u64) as usize].clone();
        if kind == VisitKind::Dental {
            return (
                vec![(pick(&self.dental, rng), 3 + rng.below(3) as u16)],
                false,
            );
        }
        let chronic: Vec<&Vec<String>> = self
            .chronic
            .iter()
            .filter(|(bit, _)| person.conditions & bit != 0)
            .map(|(_, l)| l)
            .collect();
        if !chronic.is_empty() && rng.chance(0.7) {
            let days = [28, 28, 56, 84][rng.below(4) as usize];
            let lines = chronic
                .iter()
                .take(3)
                .map(|l| (pick(l, rng), days))
                .collect();
            return (lines, true);
        }
        if flu && rng.chance(0.3) {
            return (vec![(pick(&self.flu, rng), 5)], false);
        }
        let n = 1 + rng.below(3) as usize;
        let mut lines: Vec<(String, u16)> = Vec::with_capacity(n);
        for _ in 0..n {
            let code = pick(&self.acute, rng);
            if lines.iter().all(|(c, _)| *c != code) {
                lines.push((code, 3 + rng.below(5) as u16));
            }
        }
        (lines, false)
    }
}

impl Default for DrugChoices {
    fn default() -> Self {
        Self::new()
    }
}
