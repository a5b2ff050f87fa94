//! Bodies every area shares: the error body, principals and tokens, and the ways a request names a
//! person (an insurance qualification, a public-expense entitlement).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Every error response: `{ "error": { "code": "...", "message": "...", "field": "..." } }`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_check_digit`, `consent_required`.
    pub code: String,
    pub message: String,
    /// The request field at fault, as a dotted path, where one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The role a principal acts in; facilities take theirs from the facility's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
    Municipality,
    /// A long-term-care provider (介護事業所), e.g. a home-care support office.
    CareProvider,
    /// An insurer (保険者), reporting the qualifications it issues.
    Insurer,
    Person,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hospital => "hospital",
            Role::Clinic => "clinic",
            Role::Dental => "dental",
            Role::Pharmacy => "pharmacy",
            Role::Municipality => "municipality",
            Role::CareProvider => "care_provider",
            Role::Insurer => "insurer",
            Role::Person => "person",
            Role::Admin => "admin",
        }
    }

    /// Medical institutions that prescribe: hospitals, clinics, dental clinics.
    pub fn prescribes(self) -> bool {
        matches!(self, Role::Hospital | Role::Clinic | Role::Dental)
    }

    /// Any facility at which a patient presents a card.
    pub fn is_facility(self) -> bool {
        self.prescribes() || self == Role::Pharmacy
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `facility:<10-digit code>`, `municipality:<6-digit code>`, `insurer:<6- or 8-digit
    /// number>`, `person:<id>` or `admin`.
    pub principal: String,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    pub principal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialResponse {
    pub principal: String,
    pub role: Role,
    pub secret: String,
}

/// A principal's credentials revoked: secrets and tokens issued before stop working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeResponse {
    pub principal: String,
    /// The new credential generation; `POST /v1/admin/credentials` now hands out its secret.
    pub generation: u32,
    pub revoked_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
}

impl Sex {
    /// The one-letter code of the wire and of the population's and workload's files.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    /// The sex of a one-letter code (`M`, `F`).
    pub fn parse(code: &str) -> Option<Sex> {
        match code {
            "M" => Some(Sex::Male),
            "F" => Some(Sex::Female),
            _ => None,
        }
    }

    /// FHIR's administrative gender (`male`, `female`), as the documents carry it.
    pub fn fhir(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualificationRecord {
    pub insurer_number: String,
    /// 記号 (may be empty for schemes without one).
    pub symbol: String,
    /// 番号.
    pub number: String,
    /// 枝番: two digits.
    pub branch: String,
    pub valid_from: NaiveDate,
    /// Last day covered; `None` while current.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// A public-expense (公費) or local-subsidy entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicExpenseRecord {
    /// Law code (法別番号), e.g. "54" intractable diseases, "12" public assistance,
    /// "88" a municipal child medical subsidy.
    pub law_code: String,
    /// Payer number (負担者番号), 8 digits.
    pub payer_number: String,
    /// Recipient number (受給者番号), 7 digits.
    pub recipient_number: String,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// Who a request is about: exactly one of a person id (as returned by verification), a card
/// serial, or the insurance number quadruple. Where the card's presence counts (verification,
/// consent at the card reader, retrieval of prescriptions by card) a card serial comes with
/// `card_proof`, the card's certificate and its signature at this facility (see
/// [`card`](super::card)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_serial: Option<String>,
    /// The presented card (with `card_serial` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_proof: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl PersonRef {
    pub fn by_card(serial: impl Into<String>) -> Self {
        Self {
            card_serial: Some(serial.into()),
            ..Self::default()
        }
    }

    /// The card `serial`, presented with `proof` (a [`card::CardProof`](super::card::CardProof)
    /// in its wire form).
    pub fn presenting(serial: impl Into<String>, proof: String) -> Self {
        Self {
            card_serial: Some(serial.into()),
            card_proof: Some(proof),
            ..Self::default()
        }
    }

    pub fn by_id(id: impl Into<String>) -> Self {
        Self {
            person_id: Some(id.into()),
            ..Self::default()
        }
    }

    pub fn by_insurance(q: &QualificationRecord) -> Self {
        Self {
            insurer_number: Some(q.insurer_number.clone()),
            symbol: Some(q.symbol.clone()),
            number: Some(q.number.clone()),
            branch: Some(q.branch.clone()),
            ..Self::default()
        }
    }
}
