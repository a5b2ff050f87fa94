//! Closed forms the simulation is validated against: Erlang C for M/M/c and
//! Pollaczek–Khinchine for M/G/1 (M/D/1 as its special case).

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load
/// `a = λ/μ` (< c). Computed through the Erlang B recursion, stable for large `c`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    assert!(a < f64::from(c), "offered load {a} must be below c = {c}");
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let c = f64::from(c);
    c * b / (c - a * (1.0 - b))
}

/// M/M/c: P(wait) and the mean wait in queue, for arrival rate `lambda` and service rate `mu`
/// per worker.
pub fn mmc(lambda: f64, mu: f64, c: u32) -> (f64, f64) {
    let p = erlang_c(c, lambda / mu);
    (p, p / (f64::from(c) * mu - lambda))
}

/// M/G/1 (Pollaczek–Khinchine): the mean wait in queue for arrival rate `lambda` and service
/// times with mean `es` and second moment `es2`.
pub fn mg1_wait(lambda: f64, es: f64, es2: f64) -> f64 {
    let rho = lambda * es;
    assert!(rho < 1.0, "utilisation {rho} must be below 1");
    lambda * es2 / (2.0 * (1.0 - rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_textbook_values() {
        // M/M/1: P(wait) = ρ, Wq = ρ/(μ − λ).
        let (p, w) = mmc(0.8, 1.0, 1);
        assert!((p - 0.8).abs() < 1e-12 && (w - 4.0).abs() < 1e-9);
        // c = 2, a = 1: C = 1/3 (a²/2 · 2 / (1 + 1 + 1) ).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // A large pool stays finite and in (0, 1).
        let p = erlang_c(2_000, 1_950.0);
        assert!(p > 0.0 && p < 1.0, "{p}");
        // M/D/1 waits half as long as M/M/1.
        assert!((mg1_wait(0.5, 1.0, 1.0) - 0.5).abs() < 1e-12);
        assert!((mg1_wait(0.5, 1.0, 2.0) - 1.0).abs() < 1e-12);
    }
}
