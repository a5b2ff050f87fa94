//! Independent replications and their confidence intervals.

use statrs::distribution::{ContinuousCDF, StudentsT};

pub use dx_model::rundir::capacity::Estimate;

/// Intervals over replications (for the capacity file's [`Estimate`]).
pub trait Interval: Sized {
    /// The Student-t interval of the replications' values at `level` (e.g. 0.95).
    fn of(values: &[f64], level: f64) -> Self;
    fn contains(&self, x: f64) -> bool;
}

impl Interval for Estimate {
    fn of(values: &[f64], level: f64) -> Self {
        let n = values.len();
        assert!(n >= 2, "an interval needs at least two replications");
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .expect("n − 1 ≥ 1 degrees of freedom")
            .inverse_cdf(0.5 + level / 2.0);
        Self {
            mean,
            half_width: t * (var / n as f64).sqrt(),
            level,
            replications: n,
        }
    }

    fn contains(&self, x: f64) -> bool {
        (x - self.mean).abs() <= self.half_width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_uses_students_t() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        // s = √2.5, t(4, 0.975) = 2.776.
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((e.half_width - 2.776 * (2.5f64 / 5.0).sqrt()).abs() < 1e-3);
        assert!(e.contains(4.9) && !e.contains(5.0));
    }
}
