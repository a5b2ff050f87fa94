//! The checks, a module per area; [`all`] lists them in the order they run (groups in
//! [`super::GROUPS`] order).

mod ehr;
mod eligibility;
mod municipal;
mod prescription;
mod security;

use super::Check;

/// Declares a check: id, title, rule, source, and the async fn that runs it.
macro_rules! check {
    ($id:literal, $title:literal, $rule:literal, $source:literal, $f:path) => {
        $crate::Check {
            id: $id,
            title: $title,
            rule: $rule,
            source: $source,
            run: |c| Box::pin($f(c)),
        }
    };
}
pub(crate) use check;

/// Every check of the suite, groups in order.
pub fn all() -> Vec<Check> {
    let mut v = Vec::new();
    v.extend(eligibility::checks());
    v.extend(prescription::checks());
    v.extend(ehr::checks());
    v.extend(municipal::checks());
    v.extend(security::checks());
    let order = |c: &Check| {
        super::GROUPS
            .iter()
            .position(|g| *g == c.group())
            .unwrap_or(usize::MAX)
    };
    v.sort_by_key(order);
    v
}
