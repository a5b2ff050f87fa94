//! What a person's qualification history is made of: the coverage before the one in force, the
//! one ahead of it, and why a coverage began (`history.rs` draws them).

use chrono::NaiveDate;

/// A coverage that ended: whose number, and the last day it covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Previous {
    pub insurer: u32,
    pub symbol: u32,
    pub number: u64,
    pub branch: u8,
    pub until: NaiveDate,
}

/// A coverage that begins within the year after the population date: the late-elderly union's
/// qualification of a person turning 75 (registered ahead of the birthday, as the union does), or
/// a new employer's (reported by the insurers after the change, in the workload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    pub insurer: u32,
    pub symbol: u32,
    pub number: u64,
    pub branch: u8,
    pub from: NaiveDate,
    /// The 75th birthday (the union registers it ahead), or a change of employer (the insurers
    /// report it once it happens).
    pub why: Change,
}

/// Why a coverage began, for the counts a generation keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    // In the order of `Change::ALL` (an index into counters).
    SeventyFifth,
    JobChange,
    Retirement,
    Move,
}

impl Change {
    pub const ALL: [Change; 4] = [
        Change::SeventyFifth,
        Change::JobChange,
        Change::Retirement,
        Change::Move,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::SeventyFifth => "75th_birthday",
            Change::JobChange => "job_change",
            Change::Retirement => "retirement",
            Change::Move => "move",
        }
    }
}
