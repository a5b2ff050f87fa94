//! The dependency table: what an earlier request returned (an access code, a prescription or
//! document id) for the later ones that need it. An entry is opened when its event is released
//! with the number of events that need it, filled when its answer comes, and dropped when the
//! last of them has taken it (or given up waiting), so the table holds only the chains open at
//! one instant.

use super::requests::Outcome;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

enum State {
    Pending,
    Done(Box<Outcome>),
    Failed,
}

struct Entry {
    state: State,
    /// Dependents that have not taken the result yet.
    remaining: u32,
}

/// Results that later requests need, by event id.
#[derive(Default)]
pub struct Dependencies {
    entries: Mutex<HashMap<u64, Entry>>,
    settled: Notify,
    /// The most entries held at once.
    peak: std::sync::atomic::AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Dependencies {
    /// An event `id` that `dependents` later events need is released.
    pub fn open(&self, id: u64, dependents: u32) {
        if dependents == 0 {
            return;
        }
        let mut e = lock(&self.entries);
        e.insert(
            id,
            Entry {
                state: State::Pending,
                remaining: dependents,
            },
        );
        self.peak
            .fetch_max(e.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Event `id` was answered: with what its dependents need, or `None` if it failed.
    pub fn settle(&self, id: u64, outcome: Option<Outcome>) {
        if let Some(entry) = lock(&self.entries).get_mut(&id) {
            entry.state = match outcome {
                Some(o) => State::Done(Box::new(o)),
                None => State::Failed,
            };
        }
        self.settled.notify_waiters();
    }

    /// What event `id` returned, for one of its dependents: waits for its answer at most
    /// `wait`; `None` if it failed, never ran, or did not answer in time (the dependent is then
    /// skipped). Either way the dependent counts as served.
    pub async fn take(&self, id: u64, wait: Duration) -> Option<Outcome> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.settled.notified();
            if let Some(ready) = self.take_now(id, false) {
                return ready;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.take_now(id, true).flatten();
            }
        }
    }

    /// The result if it is known (or `give_up`), serving one dependent; `None` while pending.
    fn take_now(&self, id: u64, give_up: bool) -> Option<Option<Outcome>> {
        let mut entries = lock(&self.entries);
        let Some(entry) = entries.get_mut(&id) else {
            return Some(None);
        };
        let result = match &entry.state {
            State::Pending if !give_up => return None,
            State::Pending | State::Failed => None,
            State::Done(o) => Some(Outcome::clone(o)),
        };
        entry.remaining -= 1;
        if entry.remaining == 0 {
            entries.remove(&id);
        }
        Some(result)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> Outcome {
        Outcome {
            access_code: Some(c.into()),
            ..Outcome::default()
        }
    }

    #[tokio::test]
    async fn an_entry_is_dropped_once_its_last_dependent_has_taken_it() {
        let d = Dependencies::default();
        let wait = Duration::from_millis(50);
        d.open(1, 2);
        d.open(2, 1);
        d.open(3, 0);
        assert_eq!(d.len(), 2, "an event nobody needs keeps no entry");
        d.settle(1, Some(code("111111")));
        assert_eq!(d.take(1, wait).await, Some(code("111111")));
        assert_eq!(d.len(), 2);
        assert_eq!(d.take(1, wait).await, Some(code("111111")));
        assert_eq!(d.len(), 1, "both dependents served");
        // A failed prerequisite serves its dependent with nothing, and is dropped too.
        d.settle(2, None);
        assert_eq!(d.take(2, wait).await, None);
        assert!(d.is_empty());
        // What never ran, or was already dropped, is nothing.
        assert_eq!(d.take(9, wait).await, None);
        assert_eq!(d.peak(), 2);
    }

    #[tokio::test]
    async fn a_dependent_that_gives_up_waiting_still_counts() {
        let d = Dependencies::default();
        d.open(5, 1);
        assert_eq!(d.take(5, Duration::from_millis(10)).await, None);
        assert!(d.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_dependent_gets_the_answer_when_it_comes() {
        let d = std::sync::Arc::new(Dependencies::default());
        d.open(7, 1);
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.take(7, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        d.settle(7, Some(code("777777")));
        assert_eq!(waiter.await.unwrap(), Some(code("777777")));
        assert!(d.is_empty());
    }
}
