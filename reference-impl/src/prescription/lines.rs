//! Drug lines of a check or dispensing request, validated against the drug master and the
//! limits on days of supply.

use super::{Item, MAX_DAYS, MAX_ITEMS};
use crate::refdata::{Drug, DrugMaster};
use crate::refusal::Refusal;
use dx_protocol::wire::DrugLine;

/// A validated drug line.
pub struct Line {
    pub code: String,
    pub drug: &'static Drug,
    pub days: u16,
    pub quantity: u32,
}

impl Line {
    /// The stored form: the master's YJ code, days, quantity.
    pub fn to_item(&self) -> Item {
        Item {
            code: self.drug.yj.clone(),
            days: self.days,
            quantity: self.quantity,
        }
    }
}

/// Checks drug lines of a check or dispensing request against the master and the day limits.
pub fn validate_lines(
    lines: &[DrugLine],
    field: &str,
    master: &'static DrugMaster,
) -> Result<Vec<Line>, Refusal> {
    if lines.is_empty() || lines.len() > MAX_ITEMS {
        return Err(
            Refusal::invalid("invalid_items", format!("1–{MAX_ITEMS} items are required"))
                .at(field),
        );
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let drug = master.by_code(&l.code).ok_or_else(|| {
                Refusal::broken_rule(
                    "unknown_drug_code",
                    format!("{} is not in the drug master", l.code),
                )
                .at(format!("{field}[{i}].code"))
            })?;
            check_days(drug, l.days, &format!("{field}[{i}].days"))?;
            Ok(Line {
                code: l.code.clone(),
                drug,
                days: l.days,
                quantity: l.quantity.unwrap_or(0),
            })
        })
        .collect()
}

pub fn check_days(drug: &Drug, days: u16, field: &str) -> Result<(), Refusal> {
    let limit = drug.max_days.unwrap_or(MAX_DAYS).min(MAX_DAYS);
    if days == 0 || days > limit {
        return Err(Refusal::broken_rule(
            "days_limit_exceeded",
            format!(
                "{}: days of supply must be 1–{limit}, got {days}",
                drug.name
            ),
        )
        .at(field));
    }
    Ok(())
}
