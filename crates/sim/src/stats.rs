//! What a simulated exchange saw: the figures tests and benchmarks check.

use crate::usage::{TierBucketUsage, TierUsage};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),+ $(,)?) => {
        #[derive(Default)]
        pub struct Stats {
            $(pub $name: AtomicU64,)+
            pub first_request_ms: AtomicI64,
            pub last_request_ms: AtomicI64,
            /// Accepted hits per rate-limit tier and bucket.
            pub tiers: Arc<TierUsage>,
        }

        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct StatsSnapshot {
            $(pub $name: u64,)+
            pub first_request_ms: i64,
            pub last_request_ms: i64,
            pub tiers: Vec<TierBucketUsage>,
        }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $($name: self.$name.load(Ordering::Relaxed),)+
                    first_request_ms: self.first_request_ms.load(Ordering::Relaxed),
                    last_request_ms: self.last_request_ms.load(Ordering::Relaxed),
                    tiers: self.tiers.snapshot(),
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
    deletes,
    disables,
    probes,
    refused,
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

    pub fn saw_request(&self, now_ms: i64) {
        Stats::bump(&self.requests);
        let _ =
            self.first_request_ms
                .compare_exchange(0, now_ms, Ordering::Relaxed, Ordering::Relaxed);
        self.last_request_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}
