//! Deterministic refusals for tests: "ban the IP from the N-th request on,
//! for T", and the arrival time of every request, so that a test can count
//! what reached the exchange while it had said stop.
//!
//! Kept apart from [`crate::faults`] (random, per request) and
//! [`crate::stats`] (counters): an outage is one scheduled event.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the exchange refuses requests during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// The dialect's IP-ban reply (Binance 418 with Retry-After, Bybit 403,
    /// ...), as while a ban it imposed itself holds.
    IpBan,
    /// The dialect's rate-limit reply (Bybit 10006 for the UID, ...).
    RateLimit,
}

/// From the `at_request`-th request (1-based) on, every request is refused
/// as `kind` for `length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    pub at_request: u64,
    pub length: Duration,
    pub kind: OutageKind,
}

#[derive(Default)]
struct State {
    planned: Option<Outage>,
    /// When the planned outage began (its first refusal).
    began: Option<Instant>,
    /// Arrival of every request, when recording.
    arrivals: Option<Vec<Instant>>,
    /// Keys deleted, in the order they were, when recording.
    deleted: Vec<String>,
}

/// One exchange's scheduled outage and its request timeline.
#[derive(Default)]
pub struct Timeline {
    /// Set once a test plans an outage or records: until then a request
    /// costs one atomic load here (the benchmarks' simulator never locks).
    engaged: AtomicBool,
    seen: AtomicU64,
    state: Mutex<State>,
}

impl Timeline {
    /// Plan an outage (replacing any earlier one) and start recording
    /// request arrival times.
    pub fn plan(&self, outage: Outage) {
        let mut s = self.state.lock().unwrap();
        self.engaged.store(true, Ordering::Relaxed);
        s.planned = Some(outage);
        s.began = None;
        s.arrivals.get_or_insert_with(Vec::new);
    }

    /// Record request arrival times from now on (without an outage).
    pub fn record(&self) {
        self.engaged.store(true, Ordering::Relaxed);
        self.state
            .lock()
            .unwrap()
            .arrivals
            .get_or_insert_with(Vec::new);
    }

    /// A request arrived: record it, and say how the outage refuses it.
    pub fn arrived(&self) -> Option<OutageKind> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.engaged.load(Ordering::Relaxed) {
            return None;
        }
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        if let Some(a) = s.arrivals.as_mut() {
            a.push(now);
        }
        let outage = s.planned?;
        if n < outage.at_request {
            return None;
        }
        let began = *s.began.get_or_insert(now);
        (now < began + outage.length).then_some(outage.kind)
    }

    /// A key was deleted: note it, when recording.
    pub fn deleted(&self, api_key: &str) {
        if !self.engaged.load(Ordering::Relaxed) {
            return;
        }
        let mut s = self.state.lock().unwrap();
        if s.arrivals.is_some() {
            s.deleted.push(api_key.to_string());
        }
    }

    /// The keys deleted since recording began, in order.
    pub fn deletion_order(&self) -> Vec<String> {
        self.state.lock().unwrap().deleted.clone()
    }

    /// When the outage began and ended, once it has begun.
    pub fn outage_span(&self) -> Option<(Instant, Instant)> {
        let s = self.state.lock().unwrap();
        Some((s.began?, s.began? + s.planned?.length))
    }

    /// Requests that arrived within `[from, to)`.
    pub fn arrivals_between(&self, from: Instant, to: Instant) -> usize {
        let s = self.state.lock().unwrap();
        s.arrivals
            .as_ref()
            .map_or(0, |a| a.iter().filter(|t| **t >= from && **t < to).count())
    }

    /// Every recorded arrival, oldest first.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.state
            .lock()
            .unwrap()
            .arrivals
            .clone()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_begins_at_its_request_and_lasts_its_length() {
        let t = Timeline::default();
        t.plan(Outage {
            at_request: 3,
            length: Duration::from_millis(40),
            kind: OutageKind::IpBan,
        });
        assert_eq!(t.arrived(), None);
        assert_eq!(t.arrived(), None);
        assert_eq!(t.arrived(), Some(OutageKind::IpBan), "the third is refused");
        assert_eq!(t.arrived(), Some(OutageKind::IpBan), "and those after it");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(t.arrived(), None, "until it ends");
        let (from, to) = t.outage_span().unwrap();
        assert_eq!(t.arrivals_between(from, to), 2);
        assert_eq!(t.arrivals().len(), 5);
    }
}
