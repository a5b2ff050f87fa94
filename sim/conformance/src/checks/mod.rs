//! The checks, a module per area; [`all`] lists them in the order they run (groups in
//! [`GROUPS`] order).

mod cards;
mod ehr;
mod eligibility;
mod guides;
mod hpki;
mod municipal;
mod prescription;
mod security;

use crate::check::{Check, GROUPS};

/// Every check of the suite, groups in order.
pub fn all() -> Vec<Check> {
    let mut v = Vec::new();
    v.extend(eligibility::checks());
    v.extend(prescription::checks());
    v.extend(ehr::checks());
    v.extend(guides::checks());
    v.extend(municipal::checks());
    v.extend(security::checks());
    v.extend(hpki::checks());
    v.extend(cards::checks());
    let order = |c: &Check| {
        GROUPS
            .iter()
            .position(|g| *g == c.group())
            .unwrap_or(usize::MAX)
    };
    v.sort_by_key(order);
    v
}
