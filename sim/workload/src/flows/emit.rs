//! The `Flow` trait and the `Emitter` that collects one person's events.

use super::base::{FlowCounts, Note, PersonRow};
use super::context::GenContext;
use dx_model::event::{Event, Flow as FlowName, Payload};

/// Collects one person's events, numbering them and keeping only those inside the period.
pub struct Emitter<'a> {
    person: &'a PersonRow,
    seq: u64,
    start_ms: i64,
    end_ms: i64,
    pub events: Vec<Event>,
    pub counts: FlowCounts,
    /// What the model did inside the period, with when; kept only if asked for.
    pub notes: Option<Vec<(i64, Note)>>,
}

impl<'a> Emitter<'a> {
    pub fn new(person: &'a PersonRow, ctx: &GenContext) -> Self {
        Self {
            person,
            seq: 0,
            start_ms: ctx.start_ms,
            end_ms: ctx.end_ms,
            events: Vec::new(),
            counts: FlowCounts::default(),
            notes: None,
        }
    }

    /// Keeps a note, if notes are kept and the instant is inside the period.
    pub fn note(&mut self, at_ms: i64, note: Note) {
        if self.inside(at_ms) {
            if let Some(n) = &mut self.notes {
                n.push((at_ms, note));
            }
        }
    }

    /// Numbers this person's events from `seq` on: a rollout's years emit one person in turns,
    /// each from its own range, so that ids stay unique across them.
    pub fn numbered_from(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// Keeps only what falls inside `[start_ms, end_ms)` as well: a person born or dying within
    /// the period.
    pub fn within(mut self, start_ms: i64, end_ms: i64) -> Self {
        self.start_ms = self.start_ms.max(start_ms);
        self.end_ms = self.end_ms.min(end_ms);
        self
    }

    /// Runs `f` with the period starting no earlier than `start_ms` (a municipality joining
    /// the exchange inside it): events before then are numbered but not kept.
    pub fn from_instant(&mut self, start_ms: i64, f: impl FnOnce(&mut Self)) {
        let saved = self.start_ms;
        self.start_ms = saved.max(start_ms);
        f(self);
        self.start_ms = saved;
    }

    /// A new event of this person carrying `payload`, due at `at_ms`; returns its id. Its
    /// identification and prerequisite are set by `fill`. Events outside the period are numbered
    /// but not kept, so ids do not depend on the period.
    pub fn emit(
        &mut self,
        flow: FlowName,
        at_ms: i64,
        facility: &str,
        payload: Payload,
        fill: impl FnOnce(&mut Event),
    ) -> u64 {
        let id = (self.person.index << 20) | self.seq;
        self.seq += 1;
        if at_ms < self.start_ms || at_ms >= self.end_ms {
            return id;
        }
        let p = self.person;
        let mut e = Event {
            id,
            at_ms,
            flow,
            needs: None,
            facility: facility.to_owned(),
            person_id: p.id.clone(),
            card_serial: None,
            insurance: None,
            sex: p.sex,
            birth_date: p.birth_date,
            payload,
        };
        fill(&mut e);
        // Coverage changes (at the 75th birthday, or when the new insurer reports it): from then
        // on the new number is shown — except in the insurers' own reports, which name theirs.
        let reports = matches!(
            e.payload,
            Payload::QualificationAcquire { .. } | Payload::QualificationLose { .. }
        );
        if let (Some((next, from)), false) = (&p.next_insurance, reports) {
            if at_ms >= *from && e.insurance.is_some() && e.insurance == p.insurance {
                e.insurance = Some(next.clone());
            }
        }
        self.events.push(e);
        id
    }

    /// Whether an instant is inside the period.
    pub fn inside(&self, at_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&at_ms)
    }
}

/// A source of requests.
pub trait Flow: Sync {
    fn name(&self) -> &'static str;
    fn emit(&self, person: &PersonRow, ctx: &GenContext, out: &mut Emitter<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_model::event::Payload;

    #[test]
    fn requests_from_the_75th_birthday_on_carry_the_union_s_number() {
        let s = dx_scenario::Scenario::national(0.0001);
        let ctx = GenContext::new(&s, super::super::Facilities::default());
        let old = [
            "06130012".to_owned(),
            "7".into(),
            "000000042".into(),
            "01".into(),
        ];
        let new = [
            "39131014".to_owned(),
            "".into(),
            "000000042".into(),
            "00".into(),
        ];
        let birthday = ctx.start_ms + 3_600_000;
        let person = PersonRow {
            birth_date: -9_000,
            age: 74,
            insurance: Some(old.clone()),
            next_insurance: Some((new.clone(), birthday)),
            ..PersonRow::sample(42)
        };
        let mut out = Emitter::new(&person, &ctx);
        let verify = || Payload::Verify { consent: false };
        let with_number = |e: &mut Event| e.insurance = person.insurance.clone();
        out.emit(
            FlowName::Visit,
            birthday - 1,
            "1310110019",
            verify(),
            with_number,
        );
        out.emit(
            FlowName::Visit,
            birthday,
            "1310110019",
            verify(),
            with_number,
        );
        out.emit(
            FlowName::Visit,
            birthday + 1,
            "1310110019",
            verify(),
            |_| {},
        );
        let carried: Vec<_> = out.events.iter().map(|e| e.insurance.clone()).collect();
        assert_eq!(carried, [Some(old), Some(new), None]);
    }
}
