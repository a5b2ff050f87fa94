//! Insurers report the qualifications they issue (資格取得) and end (資格喪失):
//! `POST /v1/eligibility/qualifications` and `POST /v1/eligibility/qualifications/loss`, by the
//! insurer itself (`insurer:<number>`), for its own numbers only. From then on verification
//! answers by the new number and, after the last day, answers the old one `expired`; the person
//! keeps one identity across insurers, so their records follow them.

use super::InsuranceKey;
use super::resolve::resolve_person;
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use chrono::{NaiveDate, TimeDelta};
use dx_protocol::wire::endpoints::{ReportAcquisition, ReportLoss};
use dx_protocol::wire::{QualificationChange, QualificationRecord, Role};

/// How far ahead of today an acquisition may begin (a union registers a 75th birthday ahead of
/// it), and how far back a report or correction may reach (the five years of history kept; a
/// load test on the wall clock also replays reports of a scenario's past dates).
pub const MAX_DAYS_AHEAD: i64 = 92;
pub const MAX_DAYS_BACK: i64 = 5 * 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(ReportAcquisition, acquire)
        .endpoint(ReportLoss, lose)
}

/// 記号 0–20 characters, 番号 1–20, 枝番 two digits.
fn check_number(symbol: &str, number: &str, branch: &str) -> Result<(), Refusal> {
    if symbol.chars().count() > 20 {
        return Err(Refusal::invalid("invalid_field", "0–20 characters").at("symbol"));
    }
    if number.trim().is_empty() || number.chars().count() > 20 {
        return Err(Refusal::invalid("invalid_field", "1–20 characters").at("number"));
    }
    if branch.len() != 2 || !branch.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::invalid("invalid_field", "two digits").at("branch"));
    }
    Ok(())
}

/// A reported day within the window around today.
fn check_day(day: NaiveDate, today: NaiveDate, field: &str) -> Result<(), Refusal> {
    if day > today + TimeDelta::days(MAX_DAYS_AHEAD) || day < today - TimeDelta::days(MAX_DAYS_BACK)
    {
        return Err(Refusal::broken_rule(
            "invalid_date",
            format!(
                "{day} is not within {MAX_DAYS_BACK} days before and {MAX_DAYS_AHEAD} after today ({today})"
            ),
        )
        .at(field));
    }
    Ok(())
}

async fn acquire(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<ReportAcquisition>,
) -> Result<Answer<ReportAcquisition>, Refusal> {
    let action = "qualification.acquire";
    let result = async {
        caller.require(&[Role::Insurer], "reporting a qualification")?;
        check_number(&req.symbol, &req.number, &req.branch)?;
        check_day(req.valid_from, state.clock().today_jst(), "valid_from")?;
        let person = resolve_person(&state, &req.person, "person").await?;
        let q = QualificationRecord {
            insurer_number: insurer_of(&caller)?,
            symbol: req.symbol,
            number: req.number,
            branch: req.branch,
            valid_from: req.valid_from,
            valid_to: None,
        };
        let audit = AuditEvent::new(
            state.now(),
            &caller,
            action,
            Some(person.id.clone()),
            Some(q.insurer_number.clone()),
            "ok",
        );
        let (p, stored) = (person.id.clone(), q.clone());
        state
            .blocking(move |s| s.acquire_qualification(&p, &stored, &audit))
            .await?;
        Ok(QualificationChange {
            person_id: person.id,
            qualification: q,
        })
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

async fn lose(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<ReportLoss>,
) -> Result<Answer<ReportLoss>, Refusal> {
    let action = "qualification.lose";
    let result = async {
        caller.require(&[Role::Insurer], "reporting the end of a qualification")?;
        check_number(&req.symbol, &req.number, &req.branch)?;
        check_day(req.valid_to, state.clock().today_jst(), "valid_to")?;
        let key = InsuranceKey {
            insurer_number: insurer_of(&caller)?,
            symbol: req.symbol,
            number: req.number,
            branch: req.branch,
        };
        let audit = AuditEvent::new(
            state.now(),
            &caller,
            action,
            None,
            Some(key.insurer_number.clone()),
            "ok",
        );
        let (person_id, qualification) = state
            .blocking(move |s| s.lose_qualification(&key, req.valid_to, &audit))
            .await?
            .ok_or_else(|| {
                Refusal::not_found(
                    "unknown_qualification",
                    "this insurer issued no qualification of that 記号・番号・枝番",
                )
            })?;
        Ok(QualificationChange {
            person_id,
            qualification,
        })
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

/// The insurer number of an insurer principal (`insurer:<number>`).
fn insurer_of(caller: &crate::auth::Principal) -> Result<String, Refusal> {
    caller
        .sub
        .strip_prefix("insurer:")
        .map(str::to_owned)
        .ok_or_else(|| Refusal::internal("an insurer principal names its number"))
}

/// Ends `stored` on `valid_to`: not before it began, and not one already ended.
pub fn end(
    stored: &QualificationRecord,
    valid_to: NaiveDate,
) -> Result<QualificationRecord, Refusal> {
    if let Some(to) = stored.valid_to {
        return Err(Refusal::conflict(
            "qualification_ended",
            format!("the qualification already ended on {to}"),
        )
        .at("valid_to"));
    }
    if valid_to < stored.valid_from {
        return Err(Refusal::broken_rule(
            "invalid_period",
            format!(
                "valid_to is before the qualification began ({})",
                stored.valid_from
            ),
        )
        .at("valid_to"));
    }
    Ok(QualificationRecord {
        valid_to: Some(valid_to),
        ..stored.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualification_ends_once_and_not_before_it_began() {
        let d = |day| NaiveDate::from_ymd_opt(2025, 10, day).unwrap();
        let q = QualificationRecord {
            insurer_number: "06130012".into(),
            symbol: "7".into(),
            number: "000000042".into(),
            branch: "00".into(),
            valid_from: d(10),
            valid_to: None,
        };
        assert_eq!(end(&q, d(20)).unwrap().valid_to, Some(d(20)));
        assert_eq!(end(&q, d(10)).unwrap().valid_to, Some(d(10)));
        assert_eq!(end(&q, d(9)).unwrap_err().code, "invalid_period");
        let ended = end(&q, d(20)).unwrap();
        assert_eq!(end(&ended, d(25)).unwrap_err().code, "qualification_ended");
        assert!(check_number("", "1", "00").is_ok());
        assert_eq!(
            check_number("", "", "00").unwrap_err().field.as_deref(),
            Some("number")
        );
        assert_eq!(
            check_number("", "1", "0").unwrap_err().field.as_deref(),
            Some("branch")
        );
        let today = d(15);
        assert!(check_day(today + TimeDelta::days(MAX_DAYS_AHEAD), today, "f").is_ok());
        assert!(check_day(today + TimeDelta::days(MAX_DAYS_AHEAD + 1), today, "f").is_err());
        assert!(check_day(today - TimeDelta::days(MAX_DAYS_BACK + 1), today, "f").is_err());
    }
}
