//! Online eligibility verification (オンライン資格確認): verify by card or by insurance number for
//! a date of service, in batches of up to 1,000 (一括照会), with the qualification history that
//! lets one person keep one identity across insurer changes; and the enrolment of persons,
//! insurers and facilities (bulk import).

pub mod import;
pub mod qualifications;
pub mod records;
pub mod resolve;
pub mod routes;
pub mod rules;
pub(crate) mod storage;

pub use records::validate_person;

use crate::audit::AuditEvent;
use crate::refusal::Refusal;
use crate::store::error::StoreError;
use dx_protocol::codes::validate_insurer_number;
use dx_protocol::wire::{
    CareCertification, FacilityRecord, InsurerRecord, PersonRecord, PersonRef, QualificationRecord,
};

/// The insurance-number quadruple that names one qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsuranceKey {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
}

/// A validated way of naming a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    PersonId(String),
    Card(String),
    Insurance(InsuranceKey),
}

/// Storage of persons, their qualifications and the reference data.
pub trait EligibilityStore {
    fn facility(&self, code: &str) -> Result<Option<FacilityRecord>, StoreError>;
    fn person_exists(&self, id: &str) -> Result<bool, StoreError>;
    fn person(&self, id: &str) -> Result<Option<PersonRecord>, StoreError>;
    fn person_by_card(&self, serial: &str) -> Result<Option<PersonRecord>, StoreError>;
    fn person_by_insurance(&self, key: &InsuranceKey) -> Result<Option<PersonRecord>, StoreError>;
    /// The person `id` finds, with their care certifications newest first, read together (one
    /// round trip on PostgreSQL): what a verification answers with.
    fn person_with_care(
        &self,
        id: &Identity,
    ) -> Result<Option<(PersonRecord, Vec<CareCertification>)>, StoreError>;
    /// Inserts all or nothing; an id, card serial or insurance number already present fails it.
    fn import_persons(&self, persons: &[PersonRecord]) -> Result<u64, StoreError>;
    /// As [`EligibilityStore::import_persons`], streamed for a bulk load (PostgreSQL's `COPY`);
    /// a duplicate fails it naming the key, not the person.
    fn import_persons_bulk(&self, persons: &[PersonRecord]) -> Result<u64, StoreError> {
        self.import_persons(persons)
    }
    /// Inserts or replaces.
    fn import_insurers(&self, insurers: &[InsurerRecord]) -> Result<u64, StoreError>;
    fn insurer_exists(&self, number: &str) -> Result<bool, StoreError>;
    /// Stores the qualification an insurer reports for `person_id`, with its audit line;
    /// refused `qualification_exists` if its 記号・番号・枝番 is held.
    fn acquire_qualification(
        &self,
        person_id: &str,
        q: &QualificationRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Ends the qualification of `key` on `valid_to` (see [`qualifications::end`]), with its
    /// audit line: its person and the qualification as ended; `None` if there is none.
    fn lose_qualification(
        &self,
        key: &InsuranceKey,
        valid_to: chrono::NaiveDate,
        audit: &AuditEvent,
    ) -> Result<Option<(String, QualificationRecord)>, StoreError>;
    /// Inserts or replaces.
    fn import_facilities(&self, facilities: &[FacilityRecord]) -> Result<u64, StoreError>;
}

/// Longest accepted 記号 or 番号, in characters.
const MAX_SYMBOL_CHARS: usize = 20;

fn require_text(value: &Option<String>, field: String) -> Result<String, Refusal> {
    match value {
        Some(v) if !v.trim().is_empty() && v.chars().count() <= MAX_SYMBOL_CHARS => Ok(v.clone()),
        Some(_) => Err(Refusal::invalid(
            "invalid_field",
            format!("1–{MAX_SYMBOL_CHARS} characters"),
        )
        .at(field)),
        None => Err(Refusal::invalid("missing_field", "required with insurer_number").at(field)),
    }
}

/// Checks that exactly one way of naming the person is used and that it is well formed.
/// `field` is the path of the reference in the request (e.g. `person`), for error messages.
/// A `card_proof` is refused here: only the routes where the card's presence counts read one
/// (see [`parse_presented`]).
pub fn parse_identity(r: &PersonRef, field: &str) -> Result<Identity, Refusal> {
    if r.card_proof.is_some() {
        return Err(Refusal::invalid(
            "card_proof_not_read",
            "this route names the person; a card proof is read only where the card is presented (verification, card consent, retrieval by card)",
        )
        .at(format!("{field}.card_proof")));
    }
    parse_presented(r, field)
}

/// As [`parse_identity`], for a route that reads a presented card: `card_proof` may come with a
/// `card_serial` (and is checked by [`crate::cards::present::present`]).
pub fn parse_presented(r: &PersonRef, field: &str) -> Result<Identity, Refusal> {
    if r.card_proof.is_some() && r.card_serial.is_none() {
        return Err(Refusal::invalid(
            "invalid_person_reference",
            "card_proof comes with the card_serial it proves",
        )
        .at(format!("{field}.card_proof")));
    }
    let insurance = r.insurer_number.is_some()
        || r.symbol.is_some()
        || r.number.is_some()
        || r.branch.is_some();
    let forms = usize::from(r.person_id.is_some())
        + usize::from(r.card_serial.is_some())
        + usize::from(insurance);
    if forms != 1 {
        return Err(Refusal::invalid(
            "invalid_person_reference",
            "give exactly one of person_id, card_serial, or insurer_number + symbol + number + branch",
        )
        .at(field));
    }
    if let Some(id) = &r.person_id {
        if id.is_empty() || id.len() > 64 {
            return Err(
                Refusal::invalid("invalid_field", "person_id must be 1–64 characters")
                    .at(format!("{field}.person_id")),
            );
        }
        return Ok(Identity::PersonId(id.clone()));
    }
    if let Some(serial) = &r.card_serial {
        if serial.is_empty()
            || serial.len() > 32
            || !serial.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Refusal::invalid(
                "invalid_card_serial",
                "card_serial must be 1–32 letters or digits",
            )
            .at(format!("{field}.card_serial")));
        }
        return Ok(Identity::Card(serial.clone()));
    }
    let insurer_number = r.insurer_number.clone().unwrap_or_default();
    validate_insurer_number(&insurer_number).map_err(|e| {
        let code = if matches!(e, dx_protocol::codes::CodeError::CheckDigit { .. }) {
            "invalid_check_digit"
        } else {
            "invalid_insurer_number"
        };
        Refusal::invalid(code, format!("insurer_number: {e}")).at(format!("{field}.insurer_number"))
    })?;
    let branch = r.branch.clone().unwrap_or_default();
    if branch.len() != 2 || !branch.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            Refusal::invalid("invalid_branch", "branch (枝番) must be two digits")
                .at(format!("{field}.branch")),
        );
    }
    Ok(Identity::Insurance(InsuranceKey {
        insurer_number,
        symbol: r.symbol.clone().unwrap_or_default(),
        number: require_text(&r.number, format!("{field}.number"))?,
        branch,
    }))
}

/// Looks the person up.
pub fn lookup(
    store: &dyn EligibilityStore,
    id: &Identity,
) -> Result<Option<PersonRecord>, StoreError> {
    match id {
        Identity::PersonId(p) => store.person(p),
        Identity::Card(c) => store.person_by_card(c),
        Identity::Insurance(k) => store.person_by_insurance(k),
    }
}
