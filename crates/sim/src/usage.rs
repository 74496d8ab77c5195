//! How much of each rate limit was used: accepted hits per tier and bucket
//! (an account, an endpoint, the IP), with the first and last hit, so a
//! benchmark can divide the rate it achieved by the rate the tier allows.
//!
//! Only a simulator that enforces its limits records anything: with limits
//! off the tiers are not the subject, and the recording would cost a lock
//! per request on the hot path of the overhead benchmark.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tally of one simulated exchange, shared by all its limits.
#[derive(Default)]
pub struct TierUsage {
    recording: bool,
    tiers: Mutex<HashMap<&'static str, TierLog>>,
}

struct TierLog {
    capacity: u32,
    period_ms: i64,
    buckets: HashMap<String, BucketLog>,
}

struct BucketLog {
    hits: u64,
    weight_total: u64,
    first_ms: i64,
    last_ms: i64,
}

/// One bucket of one tier, as `/__sim/stats` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TierBucketUsage {
    pub tier: String,
    pub bucket: String,
    /// Accepted requests (refused ones are counted as `rate_limited`).
    pub hits: u64,
    pub weight_total: u64,
    /// Unix ms of the first and the last accepted hit.
    pub first_ms: i64,
    pub last_ms: i64,
    /// The limit: `capacity` weight per `period_ms`.
    pub capacity: u32,
    pub period_ms: i64,
}

impl TierUsage {
    /// A tally that records only when `recording` (the simulator's limits
    /// are on).
    pub fn new(recording: bool) -> Self {
        TierUsage {
            recording,
            tiers: Mutex::new(HashMap::new()),
        }
    }

    /// The meter a limit named `tier` reports its accepted hits to; the
    /// limit itself tells it its capacity ([`TierMeter::of_limit`]).
    pub fn meter(self: &Arc<Self>, tier: &'static str) -> TierMeter {
        TierMeter {
            tier,
            capacity: 0,
            period_ms: 0,
            usage: Some(self.clone()),
        }
    }

    fn record(&self, meter: &TierMeter, bucket: &str, weight: u32, now_ms: i64) {
        let mut tiers = self.tiers.lock().unwrap();
        let log = tiers.entry(meter.tier).or_insert_with(|| TierLog {
            capacity: meter.capacity,
            period_ms: meter.period_ms,
            buckets: HashMap::new(),
        });
        // Look up before inserting: the bucket name is allocated once per
        // bucket, not once per hit.
        let entry = match log.buckets.get_mut(bucket) {
            Some(entry) => entry,
            None => log.buckets.entry(bucket.to_string()).or_insert(BucketLog {
                hits: 0,
                weight_total: 0,
                first_ms: now_ms,
                last_ms: now_ms,
            }),
        };
        entry.hits += 1;
        entry.weight_total += u64::from(weight);
        entry.first_ms = entry.first_ms.min(now_ms);
        entry.last_ms = entry.last_ms.max(now_ms);
    }

    /// Every bucket seen, ordered by tier, then bucket.
    pub fn snapshot(&self) -> Vec<TierBucketUsage> {
        let tiers = self.tiers.lock().unwrap();
        let mut out: Vec<TierBucketUsage> = tiers
            .iter()
            .flat_map(|(tier, log)| {
                log.buckets.iter().map(|(bucket, b)| TierBucketUsage {
                    tier: tier.to_string(),
                    bucket: bucket.clone(),
                    hits: b.hits,
                    weight_total: b.weight_total,
                    first_ms: b.first_ms,
                    last_ms: b.last_ms,
                    capacity: log.capacity,
                    period_ms: log.period_ms,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.tier, &a.bucket).cmp(&(&b.tier, &b.bucket)));
        out
    }
}

/// What a limit holds to report its accepted hits: its tier's name, its
/// capacity per period, and the exchange's tally.
#[derive(Clone, Default)]
pub struct TierMeter {
    tier: &'static str,
    capacity: u32,
    period_ms: i64,
    usage: Option<Arc<TierUsage>>,
}

impl TierMeter {
    /// A meter that records nothing (a limit outside any simulator).
    pub fn unrecorded() -> Self {
        TierMeter::default()
    }

    /// This meter, for a limit of `capacity` weight per `period`.
    pub fn of_limit(self, capacity: u32, period: Duration) -> Self {
        TierMeter {
            capacity,
            period_ms: period.as_millis() as i64,
            ..self
        }
    }

    /// Count an accepted hit of `weight` on `bucket` at `now_ms` (Unix ms).
    pub fn accepted(&self, bucket: &str, weight: u32, now_ms: i64) {
        if let Some(usage) = &self.usage
            && usage.recording
        {
            usage.record(self, bucket, weight, now_ms);
        }
    }

    /// Whether hits are recorded (so a caller may skip reading the clock).
    pub fn is_recording(&self) -> bool {
        self.usage.as_ref().is_some_and(|u| u.recording)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_hits_are_counted_per_tier_and_bucket_with_their_span() {
        let usage = Arc::new(TierUsage::new(true));
        let writes = usage.meter("uid_write").of_limit(5, Duration::from_secs(1));
        let ip = usage.meter("ip").of_limit(600, Duration::from_secs(5));
        writes.accepted("uid1", 1, 1_000);
        writes.accepted("uid1", 2, 1_400);
        writes.accepted("uid2", 1, 1_200);
        ip.accepted("loopback", 1, 900);
        let seen = usage.snapshot();
        assert_eq!(
            seen,
            vec![
                TierBucketUsage {
                    tier: "ip".into(),
                    bucket: "loopback".into(),
                    hits: 1,
                    weight_total: 1,
                    first_ms: 900,
                    last_ms: 900,
                    capacity: 600,
                    period_ms: 5_000,
                },
                TierBucketUsage {
                    tier: "uid_write".into(),
                    bucket: "uid1".into(),
                    hits: 2,
                    weight_total: 3,
                    first_ms: 1_000,
                    last_ms: 1_400,
                    capacity: 5,
                    period_ms: 1_000,
                },
                TierBucketUsage {
                    tier: "uid_write".into(),
                    bucket: "uid2".into(),
                    hits: 1,
                    weight_total: 1,
                    first_ms: 1_200,
                    last_ms: 1_200,
                    capacity: 5,
                    period_ms: 1_000,
                },
            ]
        );
    }

    #[test]
    fn hits_arriving_out_of_order_still_give_the_full_span() {
        let usage = Arc::new(TierUsage::new(true));
        let m = usage.meter("t").of_limit(5, Duration::from_secs(1));
        m.accepted("b", 1, 2_000);
        m.accepted("b", 1, 1_500);
        let b = &usage.snapshot()[0];
        assert_eq!((b.first_ms, b.last_ms), (1_500, 2_000));
    }

    #[test]
    fn nothing_is_recorded_when_limits_are_off() {
        let usage = Arc::new(TierUsage::new(false));
        let m = usage.meter("uid_write");
        assert!(!m.is_recording());
        m.accepted("uid1", 1, 1_000);
        assert!(usage.snapshot().is_empty());
    }

    #[test]
    fn an_unrecorded_meter_records_nowhere() {
        let m = TierMeter::unrecorded();
        assert!(!m.is_recording());
        m.accepted("uid1", 1, 1_000);
    }
}
