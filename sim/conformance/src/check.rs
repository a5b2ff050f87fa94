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
    /// HL7's FHIR R4 JSON schema, when the suite was given it: returned Bundles are checked
    /// against it too.
    pub schema: Option<std::sync::Arc<crate::fhir::Schema>>,
}

impl Ctx {
    /// `b` against the FHIR R4 JSON schema, if the suite has it.
    pub fn schema_check(&self, b: &serde_json::Value) -> Result<(), String> {
        self.schema.as_ref().map_or(Ok(()), |s| s.check(b))
    }
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

/// What runs a check.
pub type Runner = Box<dyn for<'a> Fn(&'a Ctx) -> CheckFuture<'a> + Send + Sync>;

/// Text of a check: written in its declaration, or made from a guide's rule.
pub type Text = std::borrow::Cow<'static, str>;

/// One check of the suite.
pub struct Check {
    pub id: Text,
    pub title: Text,
    /// The rule, in a sentence.
    pub rule: Text,
    /// Where the rule is written.
    pub source: Text,
    pub run: Runner,
}

impl Check {
    /// The group: the id up to its first dot.
    pub fn group(&self) -> &str {
        self.id.split('.').next().unwrap_or(&self.id)
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
            id: std::borrow::Cow::Borrowed($id),
            title: std::borrow::Cow::Borrowed($title),
            rule: std::borrow::Cow::Borrowed($rule),
            source: std::borrow::Cow::Borrowed($source),
            run: Box::new(|c| Box::pin($f(c))),
        }
    };
}
pub(crate) use check;
