//! Rate-limit windows as exchanges count them. Each reports its accepted
//! hits to a [`TierMeter`], for the benchmarks' utilization figures.

use crate::usage::TierMeter;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Fixed windows aligned to multiples of `period` since the Unix epoch, per
/// key (e.g. per UID per second), as Bybit's reset timestamps show.
pub struct FixedWindows {
    pub capacity: u32,
    pub period_ms: i64,
    meter: TierMeter,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

/// The verdict on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowVerdict {
    pub allowed: bool,
    pub remaining: u32,
    /// When the current window ends, in Unix ms.
    pub reset_at_ms: i64,
}

impl FixedWindows {
    pub fn new(capacity: u32, period: Duration, meter: TierMeter) -> Self {
        FixedWindows {
            capacity,
            period_ms: period.as_millis() as i64,
            meter: meter.of_limit(capacity, period),
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn hit(&self, key: &str, now_ms: i64, weight: u32) -> WindowVerdict {
        let window = now_ms.div_euclid(self.period_ms);
        let reset_at_ms = (window + 1) * self.period_ms;
        let mut counts = self.counts.lock().unwrap();
        let entry = counts.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 + weight > self.capacity {
            return WindowVerdict {
                allowed: false,
                remaining: self.capacity.saturating_sub(entry.1),
                reset_at_ms,
            };
        }
        entry.1 += weight;
        let remaining = self.capacity - entry.1;
        drop(counts);
        self.meter.accepted(key, weight, now_ms);
        WindowVerdict {
            allowed: true,
            remaining,
            reset_at_ms,
        }
    }
}

/// Rolling windows per key: at most `capacity` weight in any `period`
/// ending now. Bybit counts its per-UID limits this way ("rolling time
/// window per second and UID", `docs/v5/rate-limit/rate-limit.mdx`).
pub struct RollingWindows {
    pub capacity: u32,
    pub period_ms: i64,
    meter: TierMeter,
    logs: Mutex<HashMap<String, VecDeque<(i64, u32)>>>,
}

impl RollingWindows {
    pub fn new(capacity: u32, period: Duration, meter: TierMeter) -> Self {
        RollingWindows {
            capacity,
            period_ms: period.as_millis() as i64,
            meter: meter.of_limit(capacity, period),
            logs: Mutex::new(HashMap::new()),
        }
    }

    /// `reset_at_ms` is when enough of the window has aged out for this
    /// request to pass, when refused; `now_ms` otherwise (as Bybit's
    /// `X-Bapi-Limit-Reset-Timestamp` is documented to be).
    pub fn hit(&self, key: &str, now_ms: i64, weight: u32) -> WindowVerdict {
        let mut logs = self.logs.lock().unwrap();
        let log = logs.entry(key.to_string()).or_default();
        while log
            .front()
            .is_some_and(|(t, _)| now_ms - t >= self.period_ms)
        {
            log.pop_front();
        }
        let used: u32 = log.iter().map(|(_, w)| w).sum();
        if used + weight > self.capacity {
            let reset_at_ms = log.front().map_or(now_ms, |(t, _)| t + self.period_ms);
            return WindowVerdict {
                allowed: false,
                remaining: self.capacity.saturating_sub(used),
                reset_at_ms,
            };
        }
        log.push_back((now_ms, weight));
        drop(logs);
        self.meter.accepted(key, weight, now_ms);
        WindowVerdict {
            allowed: true,
            remaining: self.capacity - used - weight,
            reset_at_ms: now_ms,
        }
    }
}

/// A sliding window over the last `period` per client IP address, with a
/// ban once one is exceeded. Exchanges count their IP limits by the address
/// a request comes from; on loopback 127.0.0.2, 127.0.0.3, … are distinct
/// addresses, so egress addresses can be tested there.
pub struct SlidingWindow {
    pub capacity: u32,
    pub period: Duration,
    pub ban: Duration,
    meter: TierMeter,
    state: Mutex<HashMap<IpAddr, IpLog>>,
}

/// The bucket of a client that did not say where it came from (a request
/// served without connection info).
pub const IP_BUCKET: &str = "127.0.0.1";

/// Requests in the window (time, weight), their total, and any ban.
#[derive(Default)]
struct IpLog {
    log: VecDeque<(Instant, u32)>,
    total: u32,
    banned_until: Option<Instant>,
    /// When each ban began (tests check what happened meanwhile).
    ban_starts: Vec<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingVerdict {
    Allowed,
    /// This request went over the limit; the IP is now banned.
    Exceeded,
    /// Still banned from an earlier excess.
    Banned,
}

impl SlidingWindow {
    pub fn new(capacity: u32, period: Duration, ban: Duration, meter: TierMeter) -> Self {
        SlidingWindow {
            capacity,
            period,
            ban,
            meter: meter.of_limit(capacity, period),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// A request of `weight` from `ip`.
    pub fn hit(&self, ip: IpAddr, weight: u32) -> SlidingVerdict {
        let now = Instant::now();
        let mut logs = self.state.lock().unwrap();
        let IpLog {
            log,
            total,
            banned_until,
            ban_starts,
        } = logs.entry(ip).or_default();
        if let Some(until) = *banned_until {
            if now < until {
                return SlidingVerdict::Banned;
            }
            *banned_until = None;
        }
        while let Some((t, w)) = log.front() {
            if now.duration_since(*t) >= self.period {
                *total -= *w;
                log.pop_front();
            } else {
                break;
            }
        }
        if *total + weight > self.capacity {
            if !self.ban.is_zero() {
                *banned_until = Some(now + self.ban);
                ban_starts.push(now);
            }
            return SlidingVerdict::Exceeded;
        }
        *total += weight;
        log.push_back((now, weight));
        drop(logs);
        if self.meter.is_recording() {
            self.meter
                .accepted(&ip.to_string(), weight, keyrevoke_core::http::unix_ms());
        }
        SlidingVerdict::Allowed
    }

    /// Weight `ip` used in its current window (for usage headers).
    pub fn used(&self, ip: IpAddr) -> u32 {
        self.state.lock().unwrap().get(&ip).map_or(0, |l| l.total)
    }

    /// When each ban this window imposed began, and when it was to end,
    /// whichever address it banned, in order.
    pub fn bans(&self) -> Vec<(Instant, Instant)> {
        let logs = self.state.lock().unwrap();
        let mut starts: Vec<Instant> = logs.values().flat_map(|l| l.ban_starts.clone()).collect();
        starts.sort();
        starts.into_iter().map(|t| (t, t + self.ban)).collect()
    }

    /// Lift every ban (admin).
    pub fn unban(&self) {
        for l in self.state.lock().unwrap().values_mut() {
            l.banned_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn fixed_windows_count_per_key_and_reset_on_the_boundary() {
        let w = FixedWindows::new(5, Duration::from_secs(1), TierMeter::unrecorded());
        for i in 0..5 {
            let v = w.hit("uid1", 10_000 + i, 1);
            assert!(v.allowed);
            assert_eq!(v.remaining, 4 - i as u32);
            assert_eq!(v.reset_at_ms, 11_000);
        }
        assert!(
            !w.hit("uid1", 10_999, 1).allowed,
            "the sixth call in one second is refused"
        );
        assert!(
            w.hit("uid2", 10_999, 1).allowed,
            "another UID has its own window"
        );
        assert!(
            w.hit("uid1", 11_000, 1).allowed,
            "a new window starts at the boundary"
        );
    }

    #[test]
    fn rolling_windows_hold_at_most_the_capacity_in_any_period() {
        let w = RollingWindows::new(5, Duration::from_secs(1), TierMeter::unrecorded());
        for i in 0..5 {
            assert!(w.hit("uid1", 10_900 + i, 1).allowed);
        }
        // A fixed window would start afresh at 11_000; a rolling one does not.
        let refused = w.hit("uid1", 11_100, 1);
        assert!(!refused.allowed, "six within one rolling second");
        assert_eq!(
            refused.reset_at_ms, 11_900,
            "passes once the oldest ages out"
        );
        assert!(w.hit("uid1", 11_900, 1).allowed);
        assert!(
            w.hit("uid2", 11_100, 1).allowed,
            "another key has its own window"
        );
    }

    #[test]
    fn sliding_window_bans_after_an_excess() {
        let w = SlidingWindow::new(
            3,
            Duration::from_secs(5),
            Duration::from_secs(60),
            TierMeter::unrecorded(),
        );
        let (ip, other) = (loopback(1), loopback(2));
        for _ in 0..3 {
            assert_eq!(w.hit(ip, 1), SlidingVerdict::Allowed);
        }
        assert_eq!(w.hit(ip, 1), SlidingVerdict::Exceeded);
        assert_eq!(w.hit(ip, 1), SlidingVerdict::Banned);
        assert_eq!(
            w.hit(other, 1),
            SlidingVerdict::Allowed,
            "another address has its own window and no ban"
        );
        w.unban();
        assert_eq!(w.used(other), 1);
    }

    #[test]
    fn every_window_reports_its_accepted_hits_and_not_its_refusals() {
        use crate::usage::TierUsage;
        use std::sync::Arc;
        let usage = Arc::new(TierUsage::new(true));
        let fixed = FixedWindows::new(2, Duration::from_secs(1), usage.meter("fixed"));
        let rolling = RollingWindows::new(2, Duration::from_secs(1), usage.meter("rolling"));
        let sliding = SlidingWindow::new(
            2,
            Duration::from_secs(5),
            Duration::ZERO,
            usage.meter("sliding"),
        );
        for t in 0..3 {
            fixed.hit("uid1", 10_000 + t, 1);
            rolling.hit("uid1", 10_000 + t, 1);
            sliding.hit(loopback(1), 1);
        }
        let seen: Vec<_> = usage
            .snapshot()
            .into_iter()
            .map(|u| (u.tier, u.bucket, u.hits, u.capacity, u.period_ms))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("fixed".into(), "uid1".into(), 2, 2, 1_000),
                ("rolling".into(), "uid1".into(), 2, 2, 1_000),
                ("sliding".into(), IP_BUCKET.into(), 2, 2, 5_000),
            ],
            "the third hit of each window was refused and must not count"
        );
    }
}
