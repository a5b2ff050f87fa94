//! Which shard of a replay an event belongs to: a pure function of the event and the number of
//! shards, so that N drivers, each reading the whole workload, replay disjoint parts whose union
//! is the unsharded replay.
//!
//! - An event sent about one person goes with its person (the person index, `id >> 20`, mixed):
//!   every event an event needs is its own person's (a registration and its retrieval and
//!   dispensing, a document and its reads, a consenting check and the summary read after it), so
//!   every chain of prerequisites stays in one shard.
//! - A batched event (batch pre-checks, vaccination uploads), which travels with the other events
//!   of its principal due at the same instant as one request, goes with its principal (a hash of
//!   the principal's code), so each shard sends exactly the batches the unsharded replay sends.

use dx_model::event::Event;
use dx_model::rng::{code_hash, splitmix64};
use std::fmt;
use std::str::FromStr;

/// The most shards a replay may be cut into.
pub const MAX_SHARDS: u32 = 1024;

/// Mixed into the hashes, so that shard assignment is independent of the other uses of a
/// person index or a code.
const SALT: u64 = 0x5348_4152_4453_2121;

/// Shard `index` of `count` (`index` counts from 0, as a Kubernetes Indexed Job's
/// `JOB_COMPLETION_INDEX` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole replay, unsharded.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The shard, of `count`, that `e` belongs to.
    pub fn of(e: &Event, count: u32) -> u32 {
        let h = if e.route().is_batched() {
            code_hash(SALT, &e.principal())
        } else {
            splitmix64(SALT ^ (e.id >> 20))
        };
        (h % u64::from(count.max(1))) as u32
    }

    /// Whether this shard replays `e`.
    pub fn holds(&self, e: &Event) -> bool {
        self.count <= 1 || Shard::of(e, self.count) == self.index
    }

    pub fn is_whole(&self) -> bool {
        self.count <= 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`: shard I (0 ≤ I < N) of N (1 ≤ N ≤ 1024).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: expected I/N, shard I (from 0) of N shards, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("{s:?}: 1 to {MAX_SHARDS} shards"));
        }
        if index >= count {
            return Err(format!(
                "{s:?}: shard indexes run from 0 to {} for {count} shards",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_model::event::Payload;

    #[test]
    fn shards_parse_and_refuse_what_is_not_a_shard() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2", "0/1025"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_event_is_in_exactly_one_shard_and_a_person_stays_together() {
        let event = |person: u64, n: u64| Event {
            id: (person << 20) | n,
            payload: Payload::Retrieve,
            facility: "1310000018".into(),
            ..Event::default()
        };
        for count in [1, 2, 3, 7] {
            let mut sizes = vec![0; count as usize];
            for person in 0..3_000u64 {
                let home = Shard::of(&event(person, 0), count);
                for n in 1..4 {
                    assert_eq!(Shard::of(&event(person, n), count), home);
                }
                let e = event(person, 0);
                let holding = (0..count)
                    .filter(|&index| Shard { index, count }.holds(&e))
                    .count();
                assert_eq!(holding, 1);
                sizes[home as usize] += 1;
            }
            // A hash, not a pattern: no shard is far from its share.
            let share = 3_000 / count as usize;
            assert!(
                sizes.iter().all(|&s| s * 10 > share * 8),
                "{count}: {sizes:?}"
            );
        }
    }
}
