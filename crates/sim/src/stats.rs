//! What a simulated exchange saw: the figures tests and benchmarks check.

use crate::usage::{TierBucketUsage, TierUsage};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

macro_rules! counters {
    ($($name:ident),+ $(,)?) => {
        #[derive(Default)]
        pub struct Stats {
            $(pub $name: AtomicU64,)+
            pub first_request_ms: AtomicI64,
            pub last_request_ms: AtomicI64,
            /// Accepted hits per rate-limit tier and bucket.
            pub tiers: Arc<TierUsage>,
            /// Key-deletion requests per key they name.
            pub delete_requests: DeleteRequests,
        }

        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct StatsSnapshot {
            $(pub $name: u64,)+
            pub first_request_ms: i64,
            pub last_request_ms: i64,
            pub tiers: Vec<TierBucketUsage>,
            /// Requests that deleted a key, and those that asked again for a key
            /// one of them had deleted.
            pub delete_requests: u64,
            /// The keys named by more than one deletion request, with how
            /// many each.
            pub keys_asked_to_delete_more_than_once: BTreeMap<String, u64>,
        }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $($name: self.$name.load(Ordering::Relaxed),)+
                    first_request_ms: self.first_request_ms.load(Ordering::Relaxed),
                    last_request_ms: self.last_request_ms.load(Ordering::Relaxed),
                    tiers: self.tiers.snapshot(),
                    delete_requests: self.delete_requests.total(),
                    keys_asked_to_delete_more_than_once: self.delete_requests.repeated(),
                }
            }
        }
    };
}

counters!(
    requests,
    ok,
    bad_signature,
    stale_timestamp,
    missing_auth,
    unknown_key,
    unknown_endpoint,
    rate_limited,
    ip_banned,
    injected_faults,
    // Each kind of injected fault (their sum is `injected_faults`).
    injected_unavailable,
    injected_rate_limited,
    injected_stall,
    injected_gateway_timeout,
    injected_reset,
    deletes,
    disables,
    probes,
    refused,
    // Listing calls answered: sub accounts, or a sub account's keys.
    lists,
    // Keys created by a master's create call (rotation).
    creates,
);

impl Stats {
    /// Counters at zero; the tiers' usage is recorded only when
    /// `limits_enforced`.
    pub fn new(limits_enforced: bool) -> Self {
        Stats {
            tiers: Arc::new(TierUsage::new(limits_enforced)),
            ..Stats::default()
        }
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An injected fault, in the total and under its kind.
    pub fn injected(&self, kind: &AtomicU64) {
        Stats::bump(&self.injected_faults);
        Stats::bump(kind);
    }

    pub fn saw_request(&self, now_ms: i64) {
        Stats::bump(&self.requests);
        let _ =
            self.first_request_ms
                .compare_exchange(0, now_ms, Ordering::Relaxed, Ordering::Relaxed);
        self.last_request_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}

/// How many deletion requests named each key. `deletes` counts only the
/// deletions the exchange performed; a second request for a key that is
/// gone is refused (the key no longer exists), so only this sees it.
#[derive(Default)]
pub struct DeleteRequests {
    per_key: Mutex<HashMap<String, u64>>,
}

impl DeleteRequests {
    /// A deletion request the exchange judged: `deleted` when it deleted the
    /// key. One that deleted nothing counts only against a key an earlier
    /// request deleted: that is the second delete the dialect refuses and
    /// only this count sees. A refusal of a live key, or of a key that was
    /// dead before anyone asked, deleted nothing twice.
    pub fn saw(&self, api_key: &str, deleted: bool) {
        let mut per_key = self.per_key.lock().unwrap();
        match per_key.get_mut(api_key) {
            Some(n) => *n += 1,
            None if deleted => {
                per_key.insert(api_key.to_string(), 1);
            }
            None => {}
        }
    }

    /// Requests naming `api_key`.
    pub fn of(&self, api_key: &str) -> u64 {
        self.per_key
            .lock()
            .unwrap()
            .get(api_key)
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.per_key.lock().unwrap().values().sum()
    }

    /// The keys named more than once, with their counts.
    pub fn repeated(&self) -> BTreeMap<String, u64> {
        self.per_key
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }
}
