//! The one source of randomness of dxsim: counter-based random streams, where every draw is a
//! pure function of (seed, stream name, entity id, draw number), so an entity's attributes never
//! depend on which thread made it, in what chunk, or what was generated before it; and the
//! hashes of codes that give facilities and municipalities their places in a rollout.
//!
//! Which draws follow the scenario's seed: every person, insurer, facility and event of a
//! population and a workload ([`Stream`] from the seed), the capacity model's arrivals and
//! service times, the driver's signing keys, and the built-in sample of `dxsim serve` (from the
//! exchange's own seed). Which do not: a facility's and a municipality's adoption ranks and a
//! facility's batch pre-check minute, which are hashes of their codes ([`code_hash`]), so the
//! same facility joins at the same point of every rollout and two scenarios stay comparable;
//! and a sample person's card serial ([`splitmix64`] of its index).
//!
//! The mixer is SplitMix64 (Steele, Lea & Flood 2014). It is written out here rather than taken
//! from `rand` so that the numbers a seed produces are part of dxsim's own contract and cannot
//! change with a dependency's version.

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A hash of a code (a facility's, a municipality's) from a starting value: each byte folded in
/// with [`splitmix64`]. It does not follow the scenario's seed (see the module's doc).
pub fn code_hash(start: u64, code: &str) -> u64 {
    code.bytes()
        .fold(start, |h, b| splitmix64(h ^ u64::from(b)))
}

/// A hash as a uniform number in [0, 1).
pub fn unit_of(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The draws of one entity in one stream.
#[derive(Debug, Clone)]
pub struct Stream {
    key: u64,
    n: u64,
}

/// A 64-bit key for a stream name, for hoisting out of loops.
pub fn stream_key(seed: u64, stream: &str) -> u64 {
    code_hash(splitmix64(seed), stream)
}

impl Stream {
    pub fn new(seed: u64, stream: &str, id: u64) -> Self {
        Self::from_key(stream_key(seed, stream), id)
    }

    pub fn from_key(stream_key: u64, id: u64) -> Self {
        Self {
            key: splitmix64(stream_key ^ splitmix64(id)),
            n: 0,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.n += 1;
        splitmix64(
            self.key
                .wrapping_add(self.n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        )
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n` (n > 0), without modulo bias worth measuring for n ≪ 2^64.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index drawn with the given cumulative weights (last element = total).
    pub fn pick_cumulative(&mut self, cumulative: &[f64]) -> usize {
        let total = *cumulative.last().expect("non-empty weights");
        let x = self.unit() * total;
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_only_on_seed_name_and_id() {
        let a: Vec<u64> = {
            let mut s = Stream::new(7, "person", 42);
            (0..4).map(|_| s.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut s = Stream::new(7, "person", 42);
            (0..4).map(|_| s.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a[0], Stream::new(7, "person", 43).next_u64());
        assert_ne!(a[0], Stream::new(8, "person", 42).next_u64());
        assert_ne!(a[0], Stream::new(7, "facility", 42).next_u64());
    }

    #[test]
    fn unit_draws_are_uniform_enough() {
        let mut s = Stream::new(1, "u", 0);
        let n = 200_000;
        let mut buckets = [0u32; 10];
        for _ in 0..n {
            buckets[(s.unit() * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((f64::from(b) - 20_000.0).abs() < 600.0, "{buckets:?}");
        }
    }

    #[test]
    fn pick_cumulative_follows_the_weights() {
        let mut s = Stream::new(3, "pick", 0);
        let cum = [1.0, 1.0, 4.0];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[s.pick_cumulative(&cum)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(
            (f64::from(counts[2]) / 40_000.0 - 0.75).abs() < 0.01,
            "{counts:?}"
        );
    }
}
