//! Japan Standard Time (UTC+9, no daylight saving): dates of service are JST dates.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// The JST offset.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// The JST calendar date of an instant.
pub fn jst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// Epoch milliseconds of a JST wall time.
pub fn jst_ms(t: NaiveDateTime) -> i64 {
    (t - TimeDelta::hours(9)).and_utc().timestamp_millis()
}

/// The JST date of epoch milliseconds.
pub fn jst_date_of_ms(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms + 9 * 3_600_000)
        .expect("in range")
        .date_naive()
}

/// The date a person reaches `years` of age (a 29 February birthday counts from 1 March).
pub fn birthday(birth: NaiveDate, years: i32) -> NaiveDate {
    let y = birth.year() + years;
    NaiveDate::from_ymd_opt(y, birth.month(), birth.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(y, 3, 1).expect("1 March exists"))
}
