//! Households: who lives with whom. They are formed within a *segment* — the persons of one
//! municipality inside one part of 2^20 (`lib.rs`) — from the persons' own ages and sexes, so the
//! population's age and sex marginals stay those of the persons, and a household never spans two
//! municipalities or two files. Everything is drawn from the seed and the segment's first person:
//! the same segment gives the same households whatever the threads.
//!
//! The steps, with their shares in `tables.rs` (some published, some calibrated so that the
//! households' sizes and kinds come out as the 2020 Census's): adults marry by age and sex
//! (married men and women paired by age, the husband about two years older); unmarried persons
//! under 20 and a share of unmarried adults by age live with their parents; each such child joins
//! the parents whose mother's age fits (a couple, or one parent: a single adult of the right age);
//! a share of widowed persons 65 and over live with a child's household; everyone left lives
//! alone.

use super::tables;
use dx_model::rng::Stream;

/// A person's place in the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    /// 世帯主: a husband, a single parent, a person living alone.
    Head,
    Spouse,
    Child,
    /// A parent of the head or of the spouse (three generations).
    Parent,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Head => "head",
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
        }
    }
}

/// What household formation needs of a person.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub age: u32,
    pub male: bool,
}

/// One person's household: the index (within the segment) of its head, and the relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub head: usize,
    pub relation: Relation,
}

/// A family unit children can join: a couple (by the wife's age) or one adult.
struct Unit {
    head: usize,
    /// The age children's mothers are matched on.
    mother_age: u32,
    children_left: u32,
    parents_left: u32,
}

/// Ages a bucket search spans on each side of the wanted one.
const REACH: u32 = 10;
/// Oldest age a bucket holds (older ages share the last bucket).
const MAX_AGE: usize = 110;

/// Buckets of units by mother's age, each a list of unit indices that may have room left.
struct Buckets(Vec<Vec<usize>>);

impl Buckets {
    fn new(units: &[Unit], filter: impl Fn(&Unit) -> bool) -> Self {
        let mut b = vec![Vec::new(); MAX_AGE + 1];
        for (i, u) in units.iter().enumerate().filter(|(_, u)| filter(u)) {
            b[(u.mother_age as usize).min(MAX_AGE)].push(i);
        }
        Buckets(b)
    }

    /// A unit drawn at random from the bucket nearest to `age` (searching outwards, younger
    /// first) that holds one with room by `room`; units found full leave their bucket. Drawing
    /// (rather than filling the first unit) spreads children over the families of an age as
    /// the ratio of children to families says, whatever the size of the segment.
    fn take(
        &mut self,
        age: u32,
        units: &[Unit],
        room: impl Fn(&Unit) -> bool,
        r: &mut Stream,
    ) -> Option<usize> {
        for d in 0..=REACH {
            for a in [age.checked_sub(d), (d > 0).then_some(age + d)]
                .into_iter()
                .flatten()
            {
                let list = &mut self.0[(a as usize).min(MAX_AGE)];
                while !list.is_empty() {
                    let k = r.below(list.len() as u64) as usize;
                    if room(&units[list[k]]) {
                        return Some(list[k]);
                    }
                    list.swap_remove(k);
                }
            }
        }
        None
    }
}

/// Forms the households of a segment. `who[i]` is the segment's i-th person; the answer gives
/// each its head and relation (a head's `head` is itself).
pub fn form(who: &[Who], r: &mut Stream) -> Vec<Place> {
    let n = who.len();
    let mut place: Vec<Option<Place>> = vec![None; n];
    let alone = |i: usize| Place {
        head: i,
        relation: Relation::Head,
    };

    // 1. Marriage: married men and women, each sorted by age (the husband's shifted by the usual
    // age gap), paired in order; a married person left without a partner lives as unmarried.
    let mut married = vec![false; n];
    let (mut men, mut women) = (Vec::new(), Vec::new());
    for (i, w) in who.iter().enumerate() {
        if r.chance(tables::married_share(w.age, w.male)) {
            if w.male {
                men.push((w.age.saturating_sub(tables::HUSBAND_OLDER_BY), i));
            } else {
                women.push((w.age, i));
            }
        }
    }
    men.sort_unstable();
    women.sort_unstable();
    let mut units = Vec::new();
    // Pair by rank within the shorter list, spreading it over the longer one's ages.
    let (long, short) = if men.len() >= women.len() {
        (&men, &women)
    } else {
        (&women, &men)
    };
    for (k, &(_, s)) in short.iter().enumerate() {
        let l = long[k * long.len() / short.len().max(1)].1;
        let (husband, wife) = if who[s].male { (s, l) } else { (l, s) };
        married[husband] = true;
        married[wife] = true;
        place[husband] = Some(alone(husband));
        place[wife] = Some(Place {
            head: husband,
            relation: Relation::Spouse,
        });
        units.push(Unit {
            head: husband,
            mother_age: who[wife].age,
            children_left: tables::children_room(r),
            parents_left: 1,
        });
    }
    let couples = units.len();

    // 2. Who lives with their parents: the unmarried young, and a share of unmarried adults.
    let mut children: Vec<(u32, usize)> = Vec::new();
    for (i, w) in who.iter().enumerate() {
        if !married[i] && r.chance(tables::living_with_parents_share(w.age)) {
            // The mother's age when the child was born, from the published spread.
            children.push((w.age + tables::mother_age_at_birth(r), i));
        }
    }
    // 3. One-parent units: unmarried adults who are not children at home, of parenting age.
    let mut at_home = vec![false; who.len()];
    for &(_, i) in &children {
        at_home[i] = true;
    }
    for (i, w) in who.iter().enumerate() {
        if !married[i] && !at_home[i] && w.age >= tables::LONE_PARENT_MIN_AGE {
            units.push(Unit {
                head: i,
                mother_age: w.age,
                children_left: tables::children_room(r),
                parents_left: 1,
            });
        }
    }
    let mut couple_buckets = Buckets::new(&units[..couples], |_| true);
    let mut lone_buckets = Buckets::new(&units, |u| !married[u.head]);
    children.sort_unstable();
    // Units by mother's age (couples first), whatever their room: where children with no
    // fitting parents go.
    let mut by_age = vec![Vec::new(); MAX_AGE + 1];
    for (i, u) in units.iter().enumerate() {
        by_age[(u.mother_age as usize).min(MAX_AGE)].push(i);
    }
    for &(mother_age, child) in &children {
        let room = |u: &Unit| u.children_left > 0;
        let couple_first = r.chance(tables::COUPLE_SHARE_OF_PARENTS);
        let found = if couple_first {
            couple_buckets
                .take(mother_age, &units, room, r)
                .or_else(|| lone_buckets.take(mother_age, &units, room, r))
        } else {
            lone_buckets
                .take(mother_age, &units, room, r)
                .or_else(|| couple_buckets.take(mother_age, &units, room, r))
        };
        match found {
            Some(u) => {
                units[u].children_left -= 1;
                let head = units[u].head;
                if !married[head] {
                    // A single adult who takes a child in heads a one-parent household.
                    place[head] = Some(alone(head));
                }
                place[child] = Some(Place {
                    head: units[u].head,
                    relation: Relation::Child,
                });
            }
            // No parents of a fitting age here: the child lives alone (an adult) or, under 15,
            // with the family nearest that age (a relative's), or else with the segment's eldest.
            None if who[child].age >= 15 => place[child] = Some(alone(child)),
            None => {
                let head = match any_near(&by_age, mother_age) {
                    Some(u) => units[u].head,
                    None => {
                        let eldest = (0..n)
                            .max_by_key(|&i| (who[i].age, std::cmp::Reverse(i)))
                            .expect("the segment holds the child");
                        place[eldest].map_or(eldest, |p| p.head)
                    }
                };
                if head == child {
                    place[child] = Some(alone(child));
                    continue;
                }
                if place[head].is_none() {
                    place[head] = Some(alone(head));
                }
                place[child] = Some(Place {
                    head,
                    relation: Relation::Child,
                });
            }
        }
    }
    // 4. Widowed elders living with a child's household: a couple's, or a single parent's who
    // took children in.
    let mut parent_buckets = Buckets::new(&units, |u| married[u.head] || place[u.head].is_some());
    let mut elders: Vec<(u32, usize)> = Vec::new();
    for (i, w) in who.iter().enumerate() {
        if place[i].is_none() && !married[i] && r.chance(tables::elder_with_children_share(w.age)) {
            elders.push((w.age.saturating_sub(tables::mother_age_at_birth(r)), i));
        }
    }
    elders.sort_unstable();
    for &(child_age, elder) in &elders {
        // The child's household is found by the child's (the head's or the wife's) age.
        let room = |u: &Unit| u.parents_left > 0;
        if let Some(u) = parent_buckets
            .take(child_age, &units, room, r)
            .filter(|&u| units[u].head != elder)
        {
            units[u].parents_left -= 1;
            place[elder] = Some(Place {
                head: units[u].head,
                relation: Relation::Parent,
            });
        }
    }
    // 5. Everyone else lives alone (a lone-parent candidate who took nobody in included).
    place
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.unwrap_or(alone(i)))
        .collect()
}

/// The first unit of the age nearest `age` (younger first), ignoring room.
fn any_near(by_age: &[Vec<usize>], age: u32) -> Option<usize> {
    let age = (age as usize).min(MAX_AGE);
    (0..=MAX_AGE).find_map(|d| {
        [
            age.checked_sub(d),
            Some(age + d).filter(|&a| a <= MAX_AGE && d > 0),
        ]
        .into_iter()
        .flatten()
        .find_map(|a| by_age[a].first().copied())
    })
}
