//! Consent (同意): its kinds and methods, the flags given with a verification, and `POST
//! /v1/consents`.

use super::common::PersonRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Prescription, dispensing and claims-derived drug information.
    Medication,
    /// Specific health checkup information.
    Checkup,
    /// EHR sharing (3 documents, 6 items).
    Ehr,
    /// Vaccination history and schedule.
    Vaccination,
    /// Long-term-care certification, given on the portal to a care provider.
    Care,
}

impl ConsentKind {
    pub const ALL: [ConsentKind; 5] = [
        ConsentKind::Medication,
        ConsentKind::Checkup,
        ConsentKind::Ehr,
        ConsentKind::Vaccination,
        ConsentKind::Care,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Medication => "medication",
            ConsentKind::Checkup => "checkup",
            ConsentKind::Ehr => "ehr",
            ConsentKind::Vaccination => "vaccination",
            ConsentKind::Care => "care",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// At the card reader, with the card present.
    Card,
    /// Spoken to staff; allowed for medication (prescription/dispensing) information only.
    Verbal,
    /// Given by the person on the portal (care consent to a care provider).
    Portal,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFlags {
    #[serde(default)]
    pub medication: bool,
    #[serde(default)]
    pub checkup: bool,
    #[serde(default)]
    pub ehr: bool,
    #[serde(default)]
    pub vaccination: bool,
}

impl ConsentFlags {
    pub fn kinds(self) -> Vec<ConsentKind> {
        let flags = [
            self.medication,
            self.checkup,
            self.ehr,
            self.vaccination,
            false,
        ];
        ConsentKind::ALL
            .into_iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub person: PersonRef,
    pub kind: ConsentKind,
    pub method: ConsentMethod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentResponse {
    pub person_id: String,
    pub kind: ConsentKind,
    pub method: ConsentMethod,
    pub given_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
