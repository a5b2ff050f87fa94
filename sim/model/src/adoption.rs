//! Adoption at an instant: the shares of facilities taking part by kind, card use, the
//! electronic and refill shares, and municipal participation. `dx_scenario::adoption` moves
//! them over time; `rollout.json` records them at each waypoint.

use serde::{Deserialize, Serialize};

/// One value per kind of facility.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerKind<T> {
    pub hospital: T,
    pub clinic: T,
    pub dental: T,
    pub pharmacy: T,
}

impl<T: Copy + Into<f64>> PerKind<T> {
    /// The values as numbers, in kind order (hospital, clinic, dental, pharmacy).
    pub fn values(&self) -> [f64; 4] {
        [self.hospital, self.clinic, self.dental, self.pharmacy].map(Into::into)
    }
}

impl<T> PerKind<T> {
    pub fn map<U>(self, f: impl Fn(T) -> U) -> PerKind<U> {
        PerKind {
            hospital: f(self.hospital),
            clinic: f(self.clinic),
            dental: f(self.dental),
            pharmacy: f(self.pharmacy),
        }
    }
}

/// A value per facility kind at an instant.
pub type KindValues = PerKind<f64>;

/// Adoption at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdoptionState {
    /// Facilities connected to online eligibility, by kind.
    pub online_eligibility: KindValues,
    /// Connected facilities running e-prescription, by kind.
    pub eprescription: KindValues,
    /// Connected facilities taking part in EHR sharing, by kind.
    pub ehr_sharing: KindValues,
    /// Card holders using the card at the reader, by kind of desk.
    pub card_use: KindValues,
    /// Outside prescriptions taken electronically at a facility running e-prescription.
    pub electronic_share: f64,
    /// Electronic long-term prescriptions issued as refills.
    pub refill_share: f64,
    /// Municipalities exchanging their residents' records.
    pub municipal_participation: f64,
}

/// Values of a state, in a fixed order: four kind values each, then the three scalars.
pub const FIELDS: usize = 19;

impl AdoptionState {
    /// The values in the order of [`FIELDS`] (see `dx_scenario::adoption::field`).
    pub fn to_array(self) -> [f64; FIELDS] {
        let mut out = [0.0; FIELDS];
        for (i, k) in [
            self.online_eligibility,
            self.eprescription,
            self.ehr_sharing,
            self.card_use,
        ]
        .iter()
        .enumerate()
        {
            out[4 * i..4 * i + 4].copy_from_slice(&k.values());
        }
        out[16] = self.electronic_share;
        out[17] = self.refill_share;
        out[18] = self.municipal_participation;
        out
    }

    pub fn from_array(v: &[f64; FIELDS]) -> Self {
        let kind = |i: usize| KindValues {
            hospital: v[i],
            clinic: v[i + 1],
            dental: v[i + 2],
            pharmacy: v[i + 3],
        };
        Self {
            online_eligibility: kind(0),
            eprescription: kind(4),
            ehr_sharing: kind(8),
            card_use: kind(12),
            electronic_share: v[16],
            refill_share: v[17],
            municipal_participation: v[18],
        }
    }
}
