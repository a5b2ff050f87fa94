//! Reading a scenario and checking what spans several of its fields: the one place a scenario is
//! checked.

use crate::{AdoptionEnd, CALENDAR_YEARS, Scenario, ScenarioError, adoption};
use std::path::Path;

impl Scenario {
    /// Reads and checks the scenario at `path`: the only place a scenario is checked.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: p.clone(),
            source,
        })?;
        Self::from_toml(&p, &text)
    }

    /// Reads and checks a scenario's text; `path` names it in errors.
    pub fn from_toml(path: &str, text: &str) -> Result<Self, ScenarioError> {
        let parse = |message: String| ScenarioError::Parse {
            path: path.to_owned(),
            message,
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| parse(e.to_string()))?;
        let s: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner().to_string();
            parse(if at == "." || at.is_empty() {
                inner
            } else {
                format!("{at}: {inner}")
            })
        })?;
        s.validate().map_err(|message| ScenarioError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(s)
    }

    /// Checks what spans several fields (each value checked its own range when it was read):
    /// the period and rollout inside the calendar, waypoints in order, adoption only growing,
    /// the elderly's flu doses within all of them, priority routes of their own service.
    /// [`Scenario::load`] calls it; nothing downstream does.
    pub fn validate(&self) -> Result<(), String> {
        use chrono::Datelike;
        let years = CALENDAR_YEARS;
        let p = &self.period;
        if !years.contains(&p.start.year()) || !years.contains(&p.end().year()) {
            return Err(format!(
                "period: the calendar covers {}–{}, got {}",
                years.start(),
                years.end(),
                p.start
            ));
        }
        let m = &self.municipal;
        if m.flu_elderly_doses_per_year.get() > m.flu_doses_per_year.get() {
            return Err(
                "municipal.flu_elderly_doses_per_year cannot exceed flu_doses_per_year".into(),
            );
        }
        for (i, f) in self.faults.iter().enumerate() {
            // One crash or slowdown of the exchange at a time.
            if let Some(j) = self.faults[..i].iter().position(|g| {
                g.kind() == f.kind()
                    && matches!(f.kind(), "exchange_crash" | "slow_store")
                    && g.start < f.end
                    && f.start < g.end
            }) {
                return Err(format!(
                    "faults[{i}] overlaps faults[{j}]: one {} at a time",
                    f.kind()
                ));
            }
            // A rollout's faults fall in its months (and only a suspension applies there).
            let (from, to) = match &self.rollout {
                Some(r) => {
                    if f.kind() != "service_suspended" {
                        return Err(format!(
                            "faults[{i}]: a rollout takes service_suspended faults only, not {}",
                            f.kind()
                        ));
                    }
                    let end = r
                        .month_starts()
                        .last()
                        .copied()
                        .unwrap_or(r.start)
                        .and_hms_opt(0, 0, 0)
                        .expect("midnight");
                    (r.start_time(), end)
                }
                None => (p.start, p.end()),
            };
            if f.start < from || f.end > to {
                return Err(format!(
                    "faults[{i}]: its window {} → {} lies outside the {} {from} → {to}",
                    f.start,
                    f.end,
                    if self.rollout.is_some() {
                        "rollout"
                    } else {
                        "period"
                    },
                ));
            }
        }
        self.validate_rollout()?;
        self.validate_capacity()
    }

    /// The adoption timeline: `[adoption.at_end]` or `[rollout]`, not both; adoption only
    /// growing.
    fn validate_rollout(&self) -> Result<(), String> {
        if let Some(r) = &self.rollout {
            if self.adoption.at_end != AdoptionEnd::default() {
                return Err(
                    "give either [adoption.at_end] (over the period) or [rollout] waypoints (over years), not both".into(),
                );
            }
            use chrono::Datelike;
            if r.start.day() != 1 {
                return Err(format!(
                    "rollout.start: the first day of a month, got {}",
                    r.start
                ));
            }
            let end = *r.month_starts().last().expect("months ≥ 1");
            let years = CALENDAR_YEARS;
            if !years.contains(&r.start.year()) || !years.contains(&end.year()) {
                return Err(format!(
                    "rollout: the calendar covers {}–{}, got {} to {end}",
                    years.start(),
                    years.end(),
                    r.start
                ));
            }
            let mut last = r.start;
            for w in &r.waypoints {
                if w.at <= last {
                    return Err(format!(
                        "rollout.waypoints: dates must follow rollout.start and each other, got {} after {last}",
                        w.at
                    ));
                }
                last = w.at;
            }
        }
        adoption::Timeline::of(self)
            .validate()
            .map_err(|e| format!("adoption: {e}"))
    }

    /// Priority routes are routes of their service; a service time's p99 is not below its
    /// median.
    fn validate_capacity(&self) -> Result<(), String> {
        let c = &self.capacity;
        for (service, svc) in &c.services {
            if let Some(r) = svc.priority.iter().find(|r| r.service() != Some(*service)) {
                return Err(format!(
                    "capacity.services.{}.priority: {} is not a route of {}",
                    service.as_str(),
                    r.as_str(),
                    service.as_str()
                ));
            }
        }
        for (route, t) in &c.service_times {
            if t.p99_ms.get() < t.median_ms.get() {
                return Err(format!(
                    "capacity.service_times.{}: need 0 < median_ms ≤ p99_ms",
                    route.as_str()
                ));
            }
        }
        Ok(())
    }
}
