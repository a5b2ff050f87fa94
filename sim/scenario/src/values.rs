//! Range-checked values of a scenario: each checks its range while it is deserialised (and
//! when built in code with `new`), so a scenario that loaded holds only values in range and
//! nothing downstream checks them again. A refused value says its range; the loader adds the
//! file and the field.

use serde::{Deserialize, Deserializer, Serialize};

macro_rules! ranged {
    ($(
        $(#[$doc:meta])*
        $name:ident($t:ty): $ok:expr, $range:literal;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name($t);

        impl $name {
            /// The value, if it is in range.
            pub fn new(v: $t) -> Result<Self, String> {
                let ok: fn($t) -> bool = $ok;
                if ok(v) {
                    Ok(Self(v))
                } else {
                    Err(format!(concat!("must be ", $range, ", got {}"), v))
                }
            }

            pub fn get(self) -> $t {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(<$t>::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            /// A command-line value: a number, in range.
            fn from_str(s: &str) -> Result<Self, String> {
                let v: $t = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
                Self::new(v)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for $t {
            fn from(v: $name) -> $t {
                v.0
            }
        }
    )*};
}

ranged! {
    /// A share, in [0, 1].
    Share(f64): |v| (0.0..=1.0).contains(&v), "in [0, 1]";
    /// A fraction of Japan to generate, in (0, 1]; 1.0 is all of Japan.
    Scale(f64): |v| v > 0.0 && v <= 1.0, "in (0, 1]";
    /// A national volume (per year or month at scale 1.0), at least 0.
    Count(f64): |v| (0.0..=1e12).contains(&v), "at least 0 (and at most 1e12)";
    /// Outpatient visits per person per year, in (0, 100].
    VisitRate(f64): |v| v > 0.0 && v <= 100.0, "in (0, 100]";
    /// A multiplier on outpatient volume in the flu season's peak weeks, in (0, 5].
    FluPeak(f64): |v| v > 0.0 && v <= 5.0, "in (0, 5]";
    /// A duration in hours, in (0, 8784] (366 days).
    Hours(f64): |v| v > 0.0 && v <= 24.0 * 366.0, "in (0, 8784] (366 days)";
    /// A multiplier on portal traffic, in [1, 1000].
    SurgeFactor(f64): |v| (1.0..=1000.0).contains(&v), "in [1, 1000]";
    /// Simulated seconds per real second, in (0, 1e6].
    Speedup(f64): |v| v > 0.0 && v <= 1e6, "in (0, 1e6]";
    /// A latency bound or a service time in milliseconds, above 0.
    Millis(f64): |v| v > 0.0 && v.is_finite(), "above 0 ms";
    /// A latency added to every response in milliseconds, at least 0.
    Latency(f64): |v| v >= 0.0 && v.is_finite(), "at least 0 ms";
    /// Requests kept in flight at most, in 1..=100000.
    InFlight(usize): |v| (1..=100_000).contains(&v), "in 1..=100000";
    /// Replications of a simulation, in 1..=1000.
    Replications(usize): |v| (1..=1000).contains(&v), "in 1..=1000";
    /// Workers of a service, at least 1.
    Servers(u32): |v| v >= 1, "at least 1";
    /// Months of a rollout, in 1..=240.
    Months(u32): |v| (1..=240).contains(&v), "in 1..=240";
    /// Requests waiting for admission at most, in 0..=1000000.
    Queued(usize): |v| v <= 1_000_000, "in 0..=1000000";
    /// Attempts of one request at most (the first and its retries), in 1..=20.
    Attempts(u32): |v| (1..=20).contains(&v), "in 1..=20";
    /// A prefecture code, 1–47.
    Prefecture(u8): |v| (1..=47).contains(&v), "a prefecture code 1–47";
}

/// A scenario's short name, used in output paths: letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            Ok(Self(s))
        } else {
            Err(format!(
                "{s:?}: letters, digits, '-' and '_' only (and not empty)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

pub use dx_model::adoption::PerKind;

/// A share per facility kind, each in [0, 1].
pub type KindShares = PerKind<Share>;

/// A volume per facility kind.
pub type KindCounts = PerKind<Count>;

/// The share `v`, for values known to be in range (defaults and tests).
///
/// # Panics
/// If `v` is outside [0, 1].
pub fn share(v: f64) -> Share {
    Share::new(v).expect("a share in [0, 1]")
}

/// Shares per kind, for values known to be in range.
pub fn shares(hospital: f64, clinic: f64, dental: f64, pharmacy: f64) -> KindShares {
    PerKind {
        hospital: share(hospital),
        clinic: share(clinic),
        dental: share(dental),
        pharmacy: share(pharmacy),
    }
}

/// A duration in hours known to be in range (tests).
///
/// # Panics
/// If `v` is outside (0, 8784].
pub fn hours(v: f64) -> Hours {
    Hours::new(v).expect("hours in (0, 8784]")
}

/// A count known to be in range (defaults).
pub fn count(v: f64) -> Count {
    Count::new(v).expect("a count in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_their_range_when_read() {
        assert_eq!(serde_json::from_str::<Share>("0.25").unwrap().get(), 0.25);
        let e = serde_json::from_str::<Share>("1.5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be in [0, 1], got 1.5"), "{e}");
        assert!(serde_json::from_str::<Scale>("0").is_err());
        assert!(serde_json::from_str::<Millis>("0").is_err());
        assert!(Servers::new(0).is_err() && Servers::new(1).is_ok());
        assert!(Name::new("a b").is_err() && Name::new("tokyo-2026").is_ok());
        assert_eq!(serde_json::to_string(&share(0.5)).unwrap(), "0.5");
    }
}
