//! Rules of the municipal services as pure functions: those on the request alone (checked before
//! any transaction) and those against stored rows (called by `storage.rs` inside the write
//! transaction with the rows it just read).

use super::{NewCertification, NewDose};
use crate::refdata::vaccines::{self, DoseRefusal};
use crate::refusal::Refusal;
use chrono::{Months, NaiveDate, TimeDelta};
use dx_protocol::codes::{mod10_weight21, validate_insurer_number};
use dx_protocol::wire::{CareCertification, PublicExpenseRecord};

/// Longest validity of one care-level certification (renewals: up to 48 months).
pub const MAX_CERTIFICATION_MONTHS: u32 = 48;
/// Long-term-care insurance covers persons from this age (第2号被保険者: 40–64).
pub const CARE_INSURED_AGE: u32 = 40;
/// A pregnancy stays open this many days after the expected delivery (postpartum checkups).
pub const POSTPARTUM_DAYS: i64 = 56;
/// Prenatal checkups may precede the registered confirmation by this many days.
pub const PRENATAL_LEAD_DAYS: i64 = 30;
/// Infant checkups (乳幼児健診) until this age, in years (the 3-year checkup, done late).
pub const INFANT_CHECKUP_MAX_AGE: u32 = 6;

/// Law codes (法別番号) the exchange accepts for entitlements: national public expense and the
/// 80s–90s that prefectures and municipalities use for their own subsidies.
pub const LAW_CODES: &[(&str, &str)] = &[
    ("10", "tuberculosis (感染症法 37条の2)"),
    ("12", "public assistance, medical aid (生活保護)"),
    (
        "15",
        "rehabilitation for persons with disabilities (自立支援・更生医療)",
    ),
    ("16", "childcare medical care (育成医療)"),
    ("21", "psychiatric outpatient care (精神通院医療)"),
    ("51", "specified diseases, transitional (特定疾患)"),
    (
        "52",
        "pediatric chronic specific diseases (小児慢性特定疾病)",
    ),
    ("54", "designated intractable diseases (指定難病)"),
    (
        "80",
        "local subsidy: persons with severe disabilities (重度心身障害者)",
    ),
    ("81", "local subsidy: atomic bomb survivors (被爆者)"),
    ("85", "local subsidy: single-parent families (ひとり親家庭)"),
    (
        "88",
        "local subsidy: children's medical expenses (子ども医療費)",
    ),
    ("89", "local subsidy: other (その他)"),
];

/// Maps a refused dose to the API's answer at the dose's field.
pub fn number_dose(d: &NewDose, recorded: &[NaiveDate]) -> Result<u8, Refusal> {
    vaccines::check_dose(d.vaccine, d.birth_date, recorded, d.administered_on).map_err(|r| {
        match r {
            DoseRefusal::TooSoon(why) => Refusal::conflict("dose_too_soon", why),
            DoseRefusal::SeriesComplete(why) => Refusal::conflict("series_complete", why),
        }
        .at(format!("{}administered_on", d.field))
    })
}

/// Checks a certification request: the period, its length, and that the person is insured for
/// long-term care (40 or over) when it starts.
pub fn check_certification(
    birth: NaiveDate,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
) -> Result<(), Refusal> {
    if valid_to < valid_from {
        return Err(
            Refusal::invalid("invalid_period", "valid_to is before valid_from").at("valid_to"),
        );
    }
    let longest = valid_from + Months::new(MAX_CERTIFICATION_MONTHS);
    if valid_to >= longest {
        return Err(Refusal::broken_rule(
            "invalid_period",
            format!(
                "a certification lasts at most {MAX_CERTIFICATION_MONTHS} months (last day {})",
                longest - TimeDelta::days(1)
            ),
        )
        .at("valid_to"));
    }
    let age = vaccines::age_on(birth, valid_from);
    if age < CARE_INSURED_AGE {
        return Err(Refusal::broken_rule(
            "not_insured_for_care",
            format!("long-term-care insurance starts at {CARE_INSURED_AGE}; the person is {age} on {valid_from}"),
        )
        .at("person"));
    }
    Ok(())
}

/// A new certification supersedes (ends the day before it starts) the one in force then; one
/// that does not start after every stored certification conflicts. Returns the superseded
/// certification's sequence number and its new last day.
pub fn supersede(
    new: &NewCertification,
    stored: &[(i64, CareCertification)],
) -> Result<Option<(i64, NaiveDate)>, Refusal> {
    if let Some((_, c)) = stored.iter().find(|(_, c)| c.valid_from >= new.valid_from) {
        return Err(Refusal::conflict(
            "overlapping_certification",
            format!(
                "a certification from {} is already registered; a new one must start after it",
                c.valid_from
            ),
        )
        .at("valid_from"));
    }
    let day_before = new.valid_from - TimeDelta::days(1);
    Ok(stored
        .iter()
        .filter(|(_, c)| c.valid_to > day_before)
        .max_by_key(|(_, c)| c.valid_from)
        .map(|(seq, _)| (*seq, day_before)))
}

/// Checks an entitlement's numbers: a known law code, the payer number (8 digits: law 2 +
/// prefecture 2 + payer 3 + check 1, the insurer-number check digit) of the municipality's
/// prefecture, the recipient number (7 digits: 6 + the same check digit), and the period.
pub fn check_entitlement(e: &PublicExpenseRecord, prefecture: u8) -> Result<(), Refusal> {
    if !LAW_CODES.iter().any(|(c, _)| *c == e.law_code) {
        return Err(Refusal::broken_rule(
            "unknown_law_code",
            format!(
                "law code {:?} is not one of {}",
                e.law_code,
                LAW_CODES
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .at("law_code"));
    }
    if e.payer_number.len() != 8 {
        return Err(
            Refusal::invalid("invalid_payer_number", "payer_number must be 8 digits")
                .at("payer_number"),
        );
    }
    validate_insurer_number(&e.payer_number).map_err(|err| {
        let code = if matches!(err, dx_protocol::codes::CodeError::CheckDigit { .. }) {
            "invalid_check_digit"
        } else {
            "invalid_payer_number"
        };
        Refusal::invalid(code, format!("payer_number: {err}")).at("payer_number")
    })?;
    if !e.payer_number.starts_with(&e.law_code) {
        return Err(Refusal::invalid(
            "invalid_payer_number",
            format!("payer_number must begin with the law code {}", e.law_code),
        )
        .at("payer_number"));
    }
    if e.payer_number[2..4] != format!("{prefecture:02}") {
        return Err(Refusal::broken_rule(
            "wrong_prefecture",
            format!("payer_number must be of the municipality's prefecture {prefecture:02}"),
        )
        .at("payer_number"));
    }
    let r = e.recipient_number.as_bytes();
    if r.len() != 7 || !r.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::invalid(
            "invalid_recipient_number",
            "recipient_number must be 7 digits",
        )
        .at("recipient_number"));
    }
    let digits: Vec<u8> = r.iter().map(|b| b - b'0').collect();
    let expected = mod10_weight21(&digits[..6]);
    if digits[6] != expected {
        return Err(Refusal::invalid(
            "invalid_check_digit",
            format!(
                "recipient_number: check digit is {}, expected {expected}",
                digits[6]
            ),
        )
        .at("recipient_number"));
    }
    if e.valid_to.is_some_and(|to| to < e.valid_from) {
        return Err(
            Refusal::invalid("invalid_period", "valid_to is before valid_from").at("valid_to"),
        );
    }
    Ok(())
}

/// A recipient number with its check digit, from 6 digits.
pub fn recipient_number(six: u32) -> String {
    let body = format!("{:06}", six % 1_000_000);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", mod10_weight21(&digits))
}

/// A renewal ends the stored entitlement of the same law and payer the day before the new one
/// starts; one that does not start after every stored one conflicts. Returns the renewed row and
/// its new last day.
pub fn renew(
    new: &PublicExpenseRecord,
    stored: &[(i64, PublicExpenseRecord)],
) -> Result<Option<(i64, NaiveDate)>, Refusal> {
    let same: Vec<&(i64, PublicExpenseRecord)> = stored
        .iter()
        .filter(|(_, e)| e.law_code == new.law_code && e.payer_number == new.payer_number)
        .collect();
    if let Some((_, e)) = same.iter().find(|(_, e)| e.valid_from >= new.valid_from) {
        return Err(Refusal::conflict(
            "overlapping_entitlement",
            format!(
                "an entitlement of law {} from this payer starting {} is already registered",
                e.law_code, e.valid_from
            ),
        )
        .at("valid_from"));
    }
    let day_before = new.valid_from - TimeDelta::days(1);
    Ok(same
        .iter()
        .filter(|(_, e)| e.valid_to.is_none_or(|to| to > day_before))
        .max_by_key(|(_, e)| e.valid_from)
        .map(|(rowid, _)| (*rowid, day_before)))
}

/// A stored pregnancy: sequence number, confirmation day, expected delivery.
pub type StoredPregnancy = (i64, NaiveDate, NaiveDate);

/// A new pregnancy conflicts with one still open (until 56 days after its expected delivery).
pub fn check_new_pregnancy(
    confirmed_on: NaiveDate,
    stored: &[StoredPregnancy],
) -> Result<(), Refusal> {
    if let Some((_, _, due)) = stored
        .iter()
        .find(|(_, _, due)| *due + TimeDelta::days(POSTPARTUM_DAYS) > confirmed_on)
    {
        return Err(Refusal::conflict(
            "pregnancy_already_registered",
            format!("a pregnancy with expected delivery {due} is already registered"),
        )
        .at("confirmed_on"));
    }
    Ok(())
}

/// The registered pregnancy a prenatal checkup on `on` belongs to.
pub fn pregnancy_at(on: NaiveDate, stored: &[StoredPregnancy]) -> Result<i64, Refusal> {
    stored
        .iter()
        .filter(|(_, from, due)| {
            *from - TimeDelta::days(PRENATAL_LEAD_DAYS) <= on
                && on <= *due + TimeDelta::days(POSTPARTUM_DAYS)
        })
        .max_by_key(|(_, from, _)| *from)
        .map(|(seq, _, _)| *seq)
        .ok_or_else(|| {
            Refusal::broken_rule(
                "no_registered_pregnancy",
                format!("no registered pregnancy covers {on}; register the pregnancy first"),
            )
            .at("on")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use dx_protocol::wire::CareLevel;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cert(from: NaiveDate, to: NaiveDate) -> CareCertification {
        CareCertification {
            certification_id: "C1".into(),
            person_id: "P".into(),
            municipality: "131016".into(),
            level: CareLevel::Care1,
            valid_from: from,
            valid_to: to,
        }
    }

    #[test]
    fn a_certification_supersedes_the_one_in_force_and_never_precedes_one() {
        let new = NewCertification {
            person_id: "P".into(),
            municipality: "131016".into(),
            level: CareLevel::Care3,
            valid_from: ymd(2026, 6, 1),
            valid_to: ymd(2027, 5, 31),
            at: Utc::now(),
        };
        let stored = [(7, cert(ymd(2025, 12, 1), ymd(2026, 11, 30)))];
        assert_eq!(supersede(&new, &stored), Ok(Some((7, ymd(2026, 5, 31)))));
        let later = [(8, cert(ymd(2026, 6, 1), ymd(2026, 12, 31)))];
        assert_eq!(
            supersede(&new, &later).unwrap_err().code,
            "overlapping_certification"
        );
        let ended = [(9, cert(ymd(2024, 1, 1), ymd(2024, 12, 31)))];
        assert_eq!(supersede(&new, &ended), Ok(None));
        assert!(check_certification(ymd(1990, 1, 1), ymd(2026, 1, 1), ymd(2026, 12, 31)).is_err());
        assert!(check_certification(ymd(1950, 1, 1), ymd(2026, 1, 1), ymd(2029, 12, 31)).is_ok());
        assert_eq!(
            check_certification(ymd(1950, 1, 1), ymd(2026, 1, 1), ymd(2030, 1, 1))
                .unwrap_err()
                .code,
            "invalid_period"
        );
    }

    #[test]
    fn entitlement_numbers_carry_check_digits() {
        let e = PublicExpenseRecord {
            law_code: "88".into(),
            payer_number: dx_protocol::codes::insurer_number(Some(88), 13, 101),
            recipient_number: recipient_number(123_456),
            valid_from: ymd(2026, 4, 1),
            valid_to: None,
        };
        assert_eq!(check_entitlement(&e, 13), Ok(()));
        assert_eq!(
            check_entitlement(&e, 31).unwrap_err().code,
            "wrong_prefecture"
        );
        let mut bad = e.clone();
        let last = e.recipient_number.as_bytes()[6] - b'0';
        bad.recipient_number
            .replace_range(6.., &((last + 1) % 10).to_string());
        assert_eq!(
            check_entitlement(&bad, 13).unwrap_err().code,
            "invalid_check_digit"
        );
        let mut unknown = e.clone();
        unknown.law_code = "99".into();
        assert_eq!(
            check_entitlement(&unknown, 13).unwrap_err().code,
            "unknown_law_code"
        );
        let stored = [(3, e.clone())];
        let mut renewal = e.clone();
        renewal.valid_from = ymd(2027, 4, 1);
        assert_eq!(renew(&renewal, &stored), Ok(Some((3, ymd(2027, 3, 31)))));
        assert_eq!(
            renew(&e, &stored).unwrap_err().code,
            "overlapping_entitlement"
        );
    }

    #[test]
    fn prenatal_checkups_need_a_registered_pregnancy() {
        let stored = [(4, ymd(2026, 3, 1), ymd(2026, 10, 20))];
        assert_eq!(pregnancy_at(ymd(2026, 6, 1), &stored), Ok(4));
        assert_eq!(
            pregnancy_at(ymd(2027, 1, 1), &stored).unwrap_err().code,
            "no_registered_pregnancy"
        );
        assert!(check_new_pregnancy(ymd(2026, 11, 1), &stored).is_err());
        assert!(check_new_pregnancy(ymd(2027, 1, 1), &stored).is_ok());
    }
}
