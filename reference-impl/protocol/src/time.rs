//! Japan Standard Time (UTC+9, no daylight saving): dates of service are JST dates.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};

/// The JST offset.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// The JST calendar date of an instant.
pub fn jst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// The date a person reaches `years` of age (a 29 February birthday counts from 1 March).
pub fn birthday(birth: NaiveDate, years: i32) -> NaiveDate {
    let y = birth.year() + years;
    NaiveDate::from_ymd_opt(y, birth.month(), birth.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(y, 3, 1).expect("1 March exists"))
}
