//! Qualification histories (資格情報の履歴): when each person's coverage in force began, and the
//! coverage before it if it changed within the look-back window ([`HISTORY_YEARS`] before the
//! population date). Drawn from (seed, the person whose number covers them), so a household's
//! dependants change with their insured person and an NHI household moves together.
//!
//! What ends a coverage, as it does in life:
//! - the 75th birthday: everyone moves into the late-elderly system on it (from NHI, or from an
//!   employee scheme for those still working);
//! - a change of employer: the insured person and their dependants move to the new employer's
//!   insurer (the Labour Force Survey's job changers, [`tables::job_change_rate`]);
//! - retirement: an NHI household's head aged 60–74 who was an employee until 60–65;
//! - a move to another municipality: an NHI household gets the new municipality's NHI
//!   ([`tables::NHI_MOVE_RATE`]);
//! - birth: a child's coverage begins on the day of birth.

use super::coverage::{Change, Next, Previous};
use super::persons::{Context, Person};
use super::tables::{self, InsurerType};
use chrono::{Datelike, NaiveDate, TimeDelta};
use dx_exchange::eligibility::rules::birthday;
use dx_model::rng::Stream;

/// Years of history kept: the depth of the records that follow a person (checkups, 5 years).
pub const HISTORY_YEARS: i32 = 5;

/// Keeps the draws of a person's next coverage apart from those of their history.
const NEXT_STREAM: u64 = 1 << 63;

/// The change that began the coverage of the number's holder, if any in the window: the day it
/// began, why, and the holder's previous insurer and 記号.
struct HolderChange {
    since: NaiveDate,
    why: Change,
    insurer: u32,
    symbol: u32,
}

impl Context<'_> {
    /// The first day of the look-back window.
    pub fn history_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.as_of.year() - HISTORY_YEARS, self.as_of.month(), 1)
            .expect("the first of a month exists")
    }

    /// Fills in each person's `coverage_from`, `previous` and `change` (after insurance).
    pub fn histories(&self, persons: &mut [Person]) {
        let first = persons.first().map_or(0, |p| p.id);
        let window = self.history_start();
        let year_ahead = birthday(self.as_of, 1);
        for i in 0..persons.len() {
            let p = &persons[i];
            let Some(insurer) = p.insurer else {
                continue;
            };
            let kind = self.orgs.insurers[insurer as usize].kind;
            let born = p.birth_date;
            let mut since = born.max(window);
            let mut previous = None;
            let mut change = None;
            if kind == InsurerType::LateElderly {
                since = birthday(born, 75);
                if since > window && since <= self.as_of {
                    let mut r = Stream::from_key(self.history_key, p.id);
                    let nhi = r.chance(tables::nhi_share(74));
                    let before = if nhi {
                        self.municipal_nhi[p.municipality as usize]
                    } else {
                        self.employee_insurer(usize::from(p.prefecture) - 1, &mut r)
                    };
                    previous = Some(Previous {
                        insurer: before,
                        symbol: 1 + r.below(99_999) as u32,
                        number: p.id,
                        branch: 0,
                        until: since - TimeDelta::days(1),
                    });
                    change = Some(Change::SeventyFifth);
                }
            } else {
                // The holder of this person's number: the insured person, or the NHI household's
                // first member (in the same segment).
                let holder = &persons[(p.number - first) as usize];
                if let Some(c) = self.holder_change(holder, kind, window) {
                    // A dependant born after the change was covered from birth.
                    if born < c.since {
                        since = c.since;
                        let symbol = if c.insurer == insurer && c.symbol == p.symbol {
                            c.symbol % 99_999 + 1
                        } else {
                            c.symbol
                        };
                        previous = Some(Previous {
                            insurer: c.insurer,
                            symbol,
                            number: p.number,
                            branch: p.branch,
                            until: c.since - TimeDelta::days(1),
                        });
                        change = Some(c.why);
                    }
                }
            }
            // Turning 75 within the coming year: the union's qualification from the birthday.
            let seventy_fifth = birthday(born, 75);
            let next = if kind != InsurerType::LateElderly
                && seventy_fifth > self.as_of
                && seventy_fifth <= year_ahead
            {
                let mut r = Stream::from_key(self.history_key, p.id ^ NEXT_STREAM);
                Some(Next {
                    insurer: self.late_elderly[usize::from(p.prefecture) - 1],
                    symbol: 1 + r.below(99_999) as u32,
                    number: p.id,
                    branch: 0,
                    from: seventy_fifth,
                    why: Change::SeventyFifth,
                })
            } else if kind.is_employee() {
                // The insured person retires into the municipality's NHI or changes employer
                // within the year: they and their dependants (not turning 75 first) move
                // together.
                let holder = &persons[(p.number - first) as usize];
                self.next_retirement(holder)
                    .or_else(|| self.next_job_change(holder, (insurer, p.symbol), year_ahead))
                    .filter(|c| c.since < seventy_fifth)
                    .map(|c| Next {
                        insurer: c.insurer,
                        symbol: c.symbol,
                        number: p.number,
                        branch: p.branch,
                        from: c.since,
                        why: c.why,
                    })
            } else {
                None
            };
            let p = &mut persons[i];
            p.coverage_from = Some(since);
            p.previous = previous;
            p.change = change;
            p.next = next;
        }
    }

    /// The holder's retirement into their municipality's NHI, if within the year after the
    /// population date: an insured employee aged 60–64 retires by 65 with the history's share
    /// ([`tables::RETIRED_FROM_EMPLOYMENT`]), spread evenly over the years left, on a birthday.
    fn next_retirement(&self, holder: &Person) -> Option<HolderChange> {
        if !(60..65).contains(&holder.age) {
            return None;
        }
        let mut r = Stream::from_key(self.history_key, holder.id ^ NEXT_STREAM ^ 2);
        let years_left = 65 - holder.age;
        if !r.chance(tables::RETIRED_FROM_EMPLOYMENT / f64::from(years_left)) {
            return None;
        }
        Some(HolderChange {
            since: birthday(holder.birth_date, holder.age as i32 + 1),
            why: Change::Retirement,
            insurer: self.municipal_nhi[holder.municipality as usize],
            symbol: 1 + r.below(99_999) as u32,
        })
    }

    /// The holder's next change of employer, if within the year after the population date: at
    /// the yearly probability of the age's rate (brought to the Labour Force Survey's 3.28 M a
    /// year by [`tables::JOB_CHANGE_AHEAD_CALIBRATION`]), a quarter of them on 1 April, most of
    /// the rest on the first of a month; the new insurer and 記号 differ from the present ones.
    fn next_job_change(
        &self,
        holder: &Person,
        (insurer, symbol): (u32, u32),
        year_ahead: NaiveDate,
    ) -> Option<HolderChange> {
        let mut r = Stream::from_key(self.history_key, holder.id ^ NEXT_STREAM ^ 1);
        let rate = tables::job_change_rate(holder.age);
        let p = (1.0 - (-rate).exp()) * tables::JOB_CHANGE_AHEAD_CALIBRATION;
        if holder.age < 18 || !r.chance(p) {
            return None;
        }
        let april = (self.as_of.year()..=self.as_of.year() + 1)
            .filter_map(|y| NaiveDate::from_ymd_opt(y, 4, 1))
            .find(|d| *d > self.as_of && *d <= year_ahead);
        let days = (year_ahead - self.as_of).num_days() as u64;
        let mut since = self.as_of + TimeDelta::days(1 + r.below(days) as i64);
        if let Some(april) = april.filter(|_| r.chance(tables::APRIL_SHARE_OF_JOB_CHANGES)) {
            since = april;
        } else if r.chance(2.0 / 3.0) {
            let first = since
                .with_day(1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                .expect("a first of a month");
            if first <= year_ahead {
                since = first;
            }
        }
        let pref = usize::from(holder.prefecture) - 1;
        let new = self.employee_insurer(pref, &mut r);
        let mut new_symbol = 1 + r.below(99_999) as u32;
        if new == insurer && new_symbol == symbol {
            new_symbol = new_symbol % 99_999 + 1;
        }
        Some(HolderChange {
            since,
            why: Change::JobChange,
            insurer: new,
            symbol: new_symbol,
        })
    }

    /// The change that began the holder's coverage within the window, from (seed, holder).
    fn holder_change(
        &self,
        holder: &Person,
        kind: InsurerType,
        window: NaiveDate,
    ) -> Option<HolderChange> {
        let mut r = Stream::from_key(self.history_key, holder.id);
        let pref = usize::from(holder.prefecture) - 1;
        let days = (self.as_of - window).num_days();
        match kind {
            InsurerType::KyokaiKenpo | InsurerType::Society | InsurerType::MutualAid => {
                // Time since the last change of employer: exponential at the age's rate, most
                // changes dated on the first of a month (April the busiest).
                let rate = tables::job_change_rate(holder.age);
                let years = -(1.0 - r.unit()).ln() / rate.max(1e-9);
                let back = (years * 365.25) as i64;
                if back >= days {
                    return None;
                }
                let since = first_of_month(self.as_of - TimeDelta::days(back), &mut r);
                let start_work = birthday(holder.birth_date, 22);
                (since > window && since > start_work).then(|| HolderChange {
                    since,
                    why: Change::JobChange,
                    insurer: self.employee_insurer(pref, &mut r),
                    symbol: 1 + r.below(99_999) as u32,
                })
            }
            InsurerType::MunicipalNhi | InsurerType::NhiSociety => {
                // Retirement: a head aged 60–74 who was an employee until 60–65.
                if (60..75).contains(&holder.age) && r.chance(tables::RETIRED_FROM_EMPLOYMENT) {
                    let since = birthday(holder.birth_date, 60 + r.below(6) as i32);
                    if since > window && since <= self.as_of {
                        return Some(HolderChange {
                            since,
                            why: Change::Retirement,
                            insurer: self.employee_insurer(pref, &mut r),
                            symbol: 1 + r.below(99_999) as u32,
                        });
                    }
                }
                // A move from another municipality of the prefecture.
                let years = -(1.0 - r.unit()).ln() / tables::NHI_MOVE_RATE;
                let back = (years * 365.25) as i64;
                let municipalities = self.orgs.prefectures[pref].municipalities.clone();
                if back >= days || municipalities.len() < 2 || kind == InsurerType::NhiSociety {
                    return None;
                }
                let since = self.as_of - TimeDelta::days(back);
                let here = holder.municipality as usize;
                let mut other =
                    municipalities.start + r.below(municipalities.len() as u64 - 1) as usize;
                if other >= here {
                    other += 1;
                }
                (since > window).then(|| HolderChange {
                    since,
                    why: Change::Move,
                    insurer: self.municipal_nhi[other],
                    symbol: 1 + r.below(99_999) as u32,
                })
            }
            InsurerType::LateElderly => None,
        }
    }
}

/// The first of the month of `d` for most changes (new employment starts on the first, April's
/// the most), or `d` itself for a third of them.
fn first_of_month(d: NaiveDate, r: &mut Stream) -> NaiveDate {
    if r.chance(1.0 / 3.0) {
        return d;
    }
    let d = if r.chance(tables::APRIL_SHARE_OF_JOB_CHANGES) {
        let year = if d.month() >= 4 {
            d.year()
        } else {
            d.year() - 1
        };
        NaiveDate::from_ymd_opt(year, 4, 1).expect("1 April")
    } else {
        d
    };
    d.with_day(1).expect("the first exists")
}
