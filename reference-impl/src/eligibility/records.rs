//! The checks every enrolment record passes (persons, insurers, facilities, municipalities);
//! each message names the field at fault.

use dx_protocol::codes::{
    validate_facility_code, validate_insurer_number, validate_municipality_code,
};
use dx_protocol::wire::{
    FacilityKind, FacilityRecord, InsurerRecord, MunicipalityRecord, PersonRecord,
};

/// Checks one person record; the message names the field at fault.
pub fn validate_person(p: &PersonRecord) -> Result<(), String> {
    if p.id.is_empty() || p.id.len() > 64 {
        return Err("id: 1–64 characters".into());
    }
    if !(1..=47).contains(&p.prefecture) {
        return Err(format!("prefecture: {} is not 01–47", p.prefecture));
    }
    validate_municipality_code(&p.municipality).map_err(|e| format!("municipality: {e}"))?;
    if let Some(c) = &p.card_serial {
        if c.is_empty() || c.len() > 32 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("card_serial: 1–32 letters or digits".into());
        }
    }
    // Public assistance recipients (law 12) have medical aid instead of insurance.
    if p.qualifications.is_empty() && !p.public_expenses.iter().any(|e| e.law_code == "12") {
        return Err("qualifications: at least one, unless a public assistance (law 12) entitlement is given".into());
    }
    let mut spans: Vec<_> = p
        .qualifications
        .iter()
        .map(|q| (q.valid_from, q.valid_to))
        .collect();
    spans.sort();
    for (i, q) in p.qualifications.iter().enumerate() {
        validate_insurer_number(&q.insurer_number)
            .map_err(|e| format!("qualifications[{i}].insurer_number: {e}"))?;
        if q.branch.len() != 2 || !q.branch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("qualifications[{i}].branch: two digits"));
        }
        if q.number.is_empty() || q.number.chars().count() > 20 || q.symbol.chars().count() > 20 {
            return Err(format!(
                "qualifications[{i}]: symbol 0–20 and number 1–20 characters"
            ));
        }
        if q.valid_to.is_some_and(|to| to < q.valid_from) {
            return Err(format!("qualifications[{i}]: valid_to before valid_from"));
        }
    }
    for w in spans.windows(2) {
        if w[0].1.is_none_or(|to| to >= w[1].0) {
            return Err("qualifications: periods overlap".into());
        }
    }
    if let Some(c) = &p.care_certification {
        if c.valid_to < c.valid_from {
            return Err("care_certification: valid_to before valid_from".into());
        }
        if let Some(code) = &c.care_provider {
            validate_facility_code(code)
                .map_err(|e| format!("care_certification.care_provider: {e}"))?;
        }
    }
    if let Some(g) = &p.pregnancy {
        if g.expected_delivery <= g.confirmed_on || p.sex != dx_protocol::wire::Sex::Female {
            return Err("pregnancy: a woman's, with expected_delivery after confirmed_on".into());
        }
    }
    for (i, e) in p.public_expenses.iter().enumerate() {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&e.law_code, 2) || !digits(&e.payer_number, 8) || !digits(&e.recipient_number, 7)
        {
            return Err(format!(
                "public_expenses[{i}]: law_code 2, payer_number 8, recipient_number 7 digits"
            ));
        }
    }
    Ok(())
}

pub fn validate_insurer(i: &InsurerRecord) -> Result<(), String> {
    validate_insurer_number(&i.number).map_err(|e| format!("number: {e}"))?;
    match (i.scheme, i.number.len()) {
        (None, 6) => Ok(()),
        (Some(s), 8) if i.number[..2] == format!("{s:02}") => Ok(()),
        _ => Err(
            "scheme: must match the number's first two digits (null for 6-digit municipal NHI)"
                .into(),
        ),
    }
}

pub fn validate_facility(f: &FacilityRecord) -> Result<(), String> {
    let table = validate_facility_code(&f.code).map_err(|e| format!("code: {e}"))?;
    let expected = match f.kind {
        FacilityKind::Hospital | FacilityKind::Clinic => dx_protocol::codes::FacilityTable::Medical,
        FacilityKind::Dental => dx_protocol::codes::FacilityTable::Dental,
        FacilityKind::Pharmacy => dx_protocol::codes::FacilityTable::Pharmacy,
        FacilityKind::CareProvider => dx_protocol::codes::FacilityTable::Care,
    };
    if table != expected {
        return Err(format!(
            "kind: {} does not match the code's table digit",
            f.kind.as_str()
        ));
    }
    Ok(())
}

pub fn validate_municipality(m: &MunicipalityRecord) -> Result<(), String> {
    validate_municipality_code(&m.code).map_err(|e| format!("code: {e}"))?;
    if m.code[..2] != format!("{:02}", m.prefecture) {
        return Err("prefecture: must match the code's first two digits".into());
    }
    if m.name.trim().is_empty() || m.name.chars().count() > 100 {
        return Err("name: 1–100 characters".into());
    }
    Ok(())
}
