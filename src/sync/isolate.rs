//! Finding the one event a batch keeps failing on, so the kiosk never stays jammed
//! behind it.
//!
//! When HQ answers a push with an error one event could cause (a 5xx, a 413) while it
//! answers other requests, the push is split: the first half goes alone, and each failure
//! halves the window again, so the failing event is found in about `2·log2(batch)`
//! pushes. Found alone, it is only a *suspect*: a transient failure must not quarantine an
//! innocent event. It is quarantined after [`STRIKES`] failures on its own, each with a
//! backoff and each followed by a config pull that HQ answered, and only once another event
//! pushed alone got HQ's verdict (so HQ's ingest works and the fault is this event's).
//! A real outage fails the config pull first, and nothing is ever quarantined.

use uuid::Uuid;

/// Failures of the suspect alone, each with HQ answering another request, before it is
/// quarantined.
pub const STRIKES: u32 = 3;

/// How far past the suspect a control event may be picked, when the next ones fail too.
pub const CONTROL_SPAN: usize = 8;

/// What the search knows so far. The default is "nothing is wrong".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    /// The failing event is among this many events at the head of the queue.
    window: Option<usize>,
    suspect: Option<Suspect>,
}

/// The event that failed alone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Suspect {
    id: Uuid,
    strikes: u32,
    /// Control events tried since the strikes were enough.
    controls: usize,
}

impl Isolation {
    /// How many events the next push may carry.
    pub fn limit(&self, batch_size: usize) -> usize {
        match self.window {
            Some(window) => (window.div_ceil(2)).min(batch_size).max(1),
            None => batch_size.max(1),
        }
    }

    /// A push of `n > 1` events failed: the fault lies among them.
    pub fn batch_failed(&mut self, n: usize) {
        self.window = Some(n.max(1));
    }

    /// HQ gave verdicts on a push of `n` events starting with `first`. When the window
    /// is passed without a failure, the failure was transient and the search ends.
    pub fn batch_settled(&mut self, n: usize, first: Uuid) {
        if self.suspect.as_ref().is_some_and(|s| s.id == first) {
            *self = Isolation::default(); // the suspect went through: it was innocent
            return;
        }
        if let Some(window) = self.window {
            let left = window.saturating_sub(n);
            self.window = (left > 0).then_some(left);
        }
    }

    /// `event`, pushed alone, failed while HQ answered another request. Returns how many
    /// times in a row that has happened.
    pub fn strike(&mut self, event: Uuid) -> u32 {
        self.window = Some(1);
        match &mut self.suspect {
            Some(suspect) if suspect.id == event => {
                suspect.strikes = suspect.strikes.saturating_add(1);
                suspect.strikes
            }
            _ => {
                self.suspect = Some(Suspect {
                    id: event,
                    strikes: 1,
                    controls: 0,
                });
                1
            }
        }
    }

    /// Which pending event (by position after the suspect, from 1) to push alone as the
    /// control, given `pending` events after the suspect. `None` when there is none: the
    /// suspect waits for another event to show that HQ takes events.
    pub fn control_offset(&self, pending_after: usize) -> Option<usize> {
        if pending_after == 0 {
            return None;
        }
        let tried = self.suspect.as_ref().map_or(0, |s| s.controls);
        Some(1 + tried % pending_after.min(CONTROL_SPAN))
    }

    /// The control event failed too: HQ may take no events at all, so nothing is
    /// quarantined; the next try picks the event after it.
    pub fn control_failed(&mut self) {
        if let Some(suspect) = &mut self.suspect {
            suspect.controls = suspect.controls.saturating_add(1);
        }
    }

    /// The suspect was quarantined (or the queue drained): the search is over.
    pub fn reset(&mut self) {
        *self = Isolation::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search over a queue of `n` events whose event `bad` always fails, and
    /// returns how many pushes it took to push the bad event alone.
    fn pushes_to_isolate(n: usize, batch: usize, bad: usize) -> usize {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let mut search = Isolation::default();
        let mut head = 0;
        let mut pushes = 0;
        loop {
            let size = search.limit(batch).min(n - head);
            pushes += 1;
            assert!(pushes <= 64, "the search does not end");
            if (head..head + size).contains(&bad) {
                if size == 1 {
                    assert_eq!(search.strike(ids[head]), 1);
                    return pushes;
                }
                search.batch_failed(size);
            } else {
                search.batch_settled(size, ids[head]);
                head += size;
            }
        }
    }

    #[test]
    fn the_failing_event_is_found_alone_within_twice_log2_of_the_batch() {
        for (batch, bad) in [(500, 0), (500, 499), (500, 250), (500, 377), (7, 6), (2, 1)] {
            let pushes = pushes_to_isolate(batch, batch, bad);
            let bound = 2 * (batch as f64).log2().ceil() as usize + 1;
            assert!(pushes <= bound, "{pushes} pushes for {batch} (bad {bad})");
        }
    }

    #[test]
    fn a_transient_failure_ends_the_search_once_its_window_went_through() {
        let mut search = Isolation::default();
        search.batch_failed(10);
        assert_eq!(search.limit(500), 5);
        search.batch_settled(5, Uuid::now_v7());
        assert_eq!(search.limit(500), 3);
        search.batch_settled(5, Uuid::now_v7());
        assert_eq!(search, Isolation::default());
        assert_eq!(search.limit(500), 500);
    }

    #[test]
    fn strikes_count_only_in_a_row_for_the_same_event_and_its_verdict_clears_them() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut search = Isolation::default();
        assert_eq!(search.strike(a), 1);
        assert_eq!(search.strike(a), 2);
        assert_eq!(search.limit(500), 1, "a suspect goes alone");
        assert_eq!(search.strike(b), 1, "another event starts over");
        search.batch_settled(1, b);
        assert_eq!(search, Isolation::default());
        assert_eq!(search.strike(b), 1, "a verdict cleared the strikes");
    }

    #[test]
    fn control_events_rotate_past_failing_ones_and_need_another_event() {
        let mut search = Isolation::default();
        search.strike(Uuid::now_v7());
        assert_eq!(search.control_offset(0), None);
        assert_eq!(search.control_offset(3), Some(1));
        search.control_failed();
        assert_eq!(search.control_offset(3), Some(2));
        search.control_failed();
        search.control_failed();
        assert_eq!(search.control_offset(3), Some(1));
        assert_eq!(search.control_offset(100), Some(4));
    }
}
