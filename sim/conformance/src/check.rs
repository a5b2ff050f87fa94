//! A check of the suite: id, title, rule, source and the async fn that runs it on a [`Ctx`].

use crate::finding::{Finding, Outcome};
use crate::target::{Fixture, Target};
use dx_protocol::wire::PersonRef;
use std::future::Future;
use std::pin::Pin;

/// What a check runs on.
pub struct Ctx {
    pub t: Target,
    pub fx: Fixture,
}

impl Ctx {
    /// A fresh token of a facility.
    pub async fn facility(&self, code: &str) -> Result<String, Finding> {
        self.t.token(&format!("facility:{code}")).await
    }

    /// `p`'s card presented now at `facility` (signed on the target's clock).
    pub async fn card(
        &self,
        facility: &str,
        p: &crate::target::Person,
    ) -> Result<PersonRef, Finding> {
        Ok(self.fx.present(facility, &p.card, self.t.now().await?))
    }
}

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One check of the suite.
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    /// The rule, in a sentence.
    pub rule: &'static str,
    /// Where the rule is written.
    pub source: &'static str,
    pub run: for<'a> fn(&'a Ctx) -> CheckFuture<'a>,
}

impl Check {
    /// The group: the id up to its first dot.
    pub fn group(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }
}

/// The groups, in the order they run and are reported.
pub const GROUPS: [&str; 11] = [
    "eligibility",
    "consent",
    "eprescription",
    "refill",
    "checks",
    "ehr-documents",
    "ehr-items",
    "municipal",
    "portal",
    "security",
    "errors",
];

/// Declares a check: id, title, rule, source, and the async fn that runs it.
macro_rules! check {
    ($id:literal, $title:literal, $rule:literal, $source:literal, $f:path) => {
        $crate::check::Check {
            id: $id,
            title: $title,
            rule: $rule,
            source: $source,
            run: |c| Box::pin($f(c)),
        }
    };
}
pub(crate) use check;
