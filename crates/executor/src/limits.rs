//! Per-exchange budgets: one `governor` limiter per documented tier (IP-wide,
//! or keyed per account), pauses learned from the exchange's replies (see
//! [`crate::pauses`]), and a circuit breaker.
//!
//! Governor's GCRA allows a burst on top of the steady rate. A fixed-window
//! limit of C per period would be exceeded by a burst of C, so the burst is
//! the largest single charge and the rate is scaled below the limit: in any
//! window of one period at most `burst - 1 + C * scale <= C` units go out.
//! The rest of the headroom is kept, not spent on a bigger burst: a key
//! granted the shared IP tier may still wait for its account's tier, so it
//! is sent later than its IP grant, and that lateness needs the slack.

use crate::pauses::{Heard, Pass, Pauses};
use crate::spacing::{SendLogs, Window};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use keyrevoke_core::config::LimitOverride;
use keyrevoke_core::{Charge, Tier, TierScope};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// By default use 98% of each documented limit: headroom for the jitter
/// between our clock and the exchange's window boundaries.
pub const DEFAULT_SCALE: f64 = 0.98;

enum Limiter {
    Ip(DefaultDirectRateLimiter),
    Account(DefaultKeyedRateLimiter<String>),
}

struct TierLimiter {
    name: &'static str,
    limiter: Limiter,
    burst: u32,
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// An exchange-wide retry budget (as Finagle's): each first attempt earns a
/// fifth of a retry, and time earns a few per second, on top of a small
/// reserve, so that when an exchange is unwell the retries of thousands of
/// keys cannot multiply its load. A retry without budget waits; it is never
/// dropped.
struct RetryBudget {
    /// In fifths of a retry, so that earning stays exact.
    fifths: u32,
    /// When time last earned retries.
    refilled: Instant,
}

/// Retries earned per second whatever the traffic, so that the last keys of
/// a run, with no first attempts left to earn from, still get theirs.
const RETRIES_PER_SECOND: u32 = 10;

/// Retries available before any first attempt has earned some.
const RETRY_RESERVE: u32 = 50;
/// A first attempt earns one fifth of a retry.
const FIFTHS_PER_RETRY: u32 = 5;
const RETRY_CAP: u32 = 500;

pub struct ExchangeLimits {
    /// Per-account tiers: one budget per account, whichever address sends.
    account_tiers: Vec<TierLimiter>,
    /// Each account tier's window, for the sends it counts (see
    /// [`crate::spacing`]).
    account_windows: Vec<Window>,
    sent: SendLogs,
    /// Each egress address's real sends per IP tier.
    sent_from_ip: SendLogs,
    /// Per-IP tiers, one set per egress address (DESIGN.md: "IP budgets are
    /// one per egress address").
    ip_tiers: Vec<Vec<TierLimiter>>,
    /// The per-IP tiers' quotas, to build a set for each egress address.
    ip_quotas: Vec<(&'static str, Quota, u32)>,
    /// The per-IP tiers' windows, for the sends each address makes (see
    /// [`crate::spacing`]).
    ip_windows: Vec<(&'static str, Window)>,
    /// The egress address the next request leaves from (round robin).
    next_egress: AtomicUsize,
    retry_budget: Mutex<RetryBudget>,
    enabled: bool,
    /// Pauses ordered by the exchange: "ip", or an account name.
    pauses: Pauses,
    breaker: Mutex<Breaker>,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
}

/// The pause key of egress address `egress`: an IP pause holds only the
/// address the exchange said it of.
fn ip_pause(egress: usize) -> String {
    format!("\u{0}ip{egress}")
}

/// The effective (capacity, period) of a tier after config overrides.
pub fn effective(tier: &Tier, overrides: &BTreeMap<String, LimitOverride>) -> (u32, Duration) {
    match overrides.get(tier.name) {
        Some(o) => (o.capacity, Duration::from_millis(o.period_ms)),
        None => (tier.capacity, tier.period),
    }
}

/// A fresh set of per-IP limiters, for one egress address.
fn ip_tier_set(quotas: &[(&'static str, Quota, u32)]) -> Vec<TierLimiter> {
    quotas
        .iter()
        .map(|(name, quota, burst)| TierLimiter {
            name,
            limiter: Limiter::Ip(RateLimiter::direct(*quota)),
            burst: *burst,
        })
        .collect()
}

/// The GCRA quota for a tier whose largest single charge is `max_weight`.
pub fn quota_for(capacity: u32, period: Duration, max_weight: u32, scale: f64) -> (Quota, u32) {
    let burst = max_weight.clamp(1, capacity);
    let fit = 1.0 - (burst as f64 - 1.0) / capacity as f64;
    let s = scale.min(fit).max(0.01);
    let per_unit = period.as_secs_f64() / (capacity as f64 * s);
    let interval = Duration::from_secs_f64(per_unit).max(Duration::from_nanos(1));
    let quota = Quota::with_period(interval)
        .expect("a positive interval")
        .allow_burst(NonZeroU32::new(burst).expect("burst >= 1"));
    (quota, burst)
}

impl ExchangeLimits {
    /// `max_weights`: the largest charge each tier ever sees.
    pub fn new(
        tiers: &[Tier],
        overrides: &BTreeMap<String, LimitOverride>,
        max_weights: &HashMap<&'static str, u32>,
        scale: f64,
        enabled: bool,
        breaker_threshold: u32,
        breaker_cooldown: Duration,
    ) -> Self {
        let mut account_tiers = Vec::new();
        let mut account_windows = Vec::new();
        let mut ip_quotas = Vec::new();
        let mut ip_windows = Vec::new();
        for t in tiers {
            let (capacity, period) = effective(t, overrides);
            let max_weight = max_weights.get(t.name).copied().unwrap_or(1);
            let (quota, burst) = quota_for(capacity, period, max_weight, scale);
            match t.scope {
                TierScope::Ip => {
                    ip_quotas.push((t.name, quota, burst));
                    ip_windows.push((t.name, Window::new(capacity, period, scale)));
                }
                TierScope::Account => {
                    account_tiers.push(TierLimiter {
                        name: t.name,
                        limiter: Limiter::Account(RateLimiter::keyed(quota)),
                        burst,
                    });
                    account_windows.push(Window::new(capacity, period, scale));
                }
            }
        }
        let ip_tiers = vec![ip_tier_set(&ip_quotas)];
        ExchangeLimits {
            account_tiers,
            account_windows,
            sent: SendLogs::default(),
            sent_from_ip: SendLogs::default(),
            ip_tiers,
            ip_quotas,
            ip_windows,
            next_egress: AtomicUsize::new(0),
            retry_budget: Mutex::new(RetryBudget {
                fifths: RETRY_RESERVE * FIFTHS_PER_RETRY,
                refilled: Instant::now(),
            }),
            enabled,
            pauses: Pauses::default(),
            breaker: Mutex::new(Breaker::default()),
            breaker_threshold: breaker_threshold.max(1),
            breaker_cooldown,
        }
    }

    /// Budgets for `addresses` egress addresses (at least one): each has
    /// its own per-IP tiers and pauses; per-account tiers stay shared.
    pub fn with_egress(mut self, addresses: usize) -> Self {
        self.ip_tiers = (0..addresses.max(1))
            .map(|_| ip_tier_set(&self.ip_quotas))
            .collect();
        self
    }

    /// How many egress addresses this exchange sends from.
    pub fn egress_count(&self) -> usize {
        self.ip_tiers.len()
    }

    /// The egress address the next request leaves from: each in turn.
    pub fn next_egress(&self) -> usize {
        self.next_egress.fetch_add(1, Ordering::Relaxed) % self.ip_tiers.len()
    }

    /// How many requests charged `charges` the per-IP budgets of every
    /// egress address let out per second, at most; None when no per-IP
    /// tier is charged (or limits are off).
    pub fn ip_requests_per_second(&self, charges: &[Charge]) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        let per_address = charges
            .iter()
            .filter_map(|c| {
                let (_, quota, _) = self.ip_quotas.iter().find(|(n, _, _)| *n == c.tier)?;
                let units = 1.0 / quota.replenish_interval().as_secs_f64();
                Some(units / f64::from(c.weight.max(1)))
            })
            .reduce(f64::min)?;
        Some(per_address * self.ip_tiers.len() as f64)
    }

    /// How long until `account` may send from `egress`, given pauses and
    /// the breaker.
    fn blocked_for(&self, account: &str, egress: usize) -> Option<Duration> {
        let now = Instant::now();
        let breaker = self
            .breaker
            .lock()
            .unwrap()
            .open_until
            .filter(|t| *t > now)
            .map(|t| t - now);
        breaker.max(self.pauses.blocked_for(&[&ip_pause(egress), account]))
    }

    /// Wait until no pause holds `account` and every tier has budget for
    /// `charges`. A pause ordered while waiting for budget is met by
    /// [`ExchangeLimits::admit`], the last check before sending.
    pub async fn acquire<'a>(&'a self, charges: &'a [Charge], account: &str, egress: usize) {
        while let Some(wait) = self.blocked_for(account, egress) {
            tokio::time::sleep(wait).await;
        }
        if !self.enabled {
            return;
        }
        // The shared IP tier first, the account's own last: the moment the
        // tight per-account budget is granted is the moment the request
        // leaves, so rolling per-account windows see the spacing we keep.
        let ip_set = &self.ip_tiers[egress % self.ip_tiers.len()];
        let in_set = |set: &'a [TierLimiter]| {
            charges.iter().filter_map(move |charge| {
                let tier = set.iter().find(|t| t.name == charge.tier)?;
                Some((charge, tier))
            })
        };
        for (charge, tier) in in_set(ip_set).chain(in_set(&self.account_tiers)) {
            let n = NonZeroU32::new(charge.weight.clamp(1, tier.burst)).expect("weight >= 1");
            match &tier.limiter {
                Limiter::Ip(l) => {
                    let _ = l.until_n_ready(n).await;
                }
                Limiter::Account(l) => {
                    let key = account.to_string();
                    let _ = l.until_key_n_ready(&key, n).await;
                }
            }
        }
    }

    /// Once granted and holding a connection slot, wait until `account`'s
    /// and `egress`'s real sends leave room in each of their tiers'
    /// windows, then count this one as sent: a grant woken late cannot crowd its successor (see
    /// [`crate::spacing`]). Call it just before [`ExchangeLimits::admit`].
    pub async fn space(&self, charges: &[Charge], account: &str, egress: usize) {
        if !self.enabled {
            return;
        }
        let mut mine: Vec<(usize, Window, u32)> = Vec::new();
        let mut address: Vec<(usize, Window, u32)> = Vec::new();
        for c in charges {
            if let Some(i) = self.account_tiers.iter().position(|t| t.name == c.tier) {
                mine.push((i, self.account_windows[i], c.weight));
            } else if let Some(i) = self.ip_windows.iter().position(|(n, _)| *n == c.tier) {
                address.push((i, self.ip_windows[i].1, c.weight));
            }
        }
        // An address's sends are logged under its pause scope's name, apart
        // from every account (the tier indexes of the two kinds differ).
        let ip = ip_pause(egress);
        for (log, who, windows) in [
            (&self.sent, account, &mine),
            (&self.sent_from_ip, ip.as_str(), &address),
        ] {
            if windows.is_empty() {
                continue;
            }
            while let Err(wait) = log.claim(who, windows, Instant::now()) {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// The last check before a request of `account` leaves, after its
    /// budget was granted and it holds a connection slot: Err(wait) when a
    /// pause (or the breaker) holds it now; the budget granted is then
    /// forfeit, and the request goes back to [`ExchangeLimits::acquire`].
    pub fn admit(&self, account: &str, egress: usize) -> Result<Pass, Duration> {
        if let Some(wait) = self.blocked_for(account, egress) {
            return Err(wait);
        }
        self.pauses.admit(&[&ip_pause(egress), account])
    }

    /// What the exchange made of a request admitted with `pass`; call it
    /// after any pause its reply ordered.
    pub fn settle(&self, pass: Pass, heard: Heard) {
        self.pauses.settle(pass, heard);
    }

    /// This account is out of budget until `after`; `refused`: a request
    /// was refused for it (the way back then starts with one probe).
    pub fn pause_account(&self, account: &str, after: Duration, refused: bool) {
        self.pauses.pause(account, after, refused);
    }

    /// Egress address `egress` is out of budget (or banned) until `after`.
    pub fn pause_ip(&self, egress: usize, after: Duration, refused: bool) {
        self.pauses.pause(&ip_pause(egress), after, refused);
    }

    /// A first attempt was made: it earns part of a retry.
    pub fn earn_retry(&self) {
        let mut b = self.retry_budget.lock().unwrap();
        b.fifths = (b.fifths + 1).min(RETRY_CAP * FIFTHS_PER_RETRY);
    }

    /// Take one retry from the exchange's budget; false when it is spent.
    pub fn take_retry(&self) -> bool {
        let mut b = self.retry_budget.lock().unwrap();
        let earned = (b.refilled.elapsed().as_millis() as u64
            * u64::from(RETRIES_PER_SECOND * FIFTHS_PER_RETRY)
            / 1000) as u32;
        if earned > 0 {
            b.fifths = (b.fifths + earned).min(RETRY_CAP * FIFTHS_PER_RETRY);
            b.refilled = Instant::now();
        }
        if b.fifths >= FIFTHS_PER_RETRY {
            b.fifths -= FIFTHS_PER_RETRY;
            true
        } else {
            false
        }
    }

    /// How long a retry without budget waits before asking again.
    pub fn retry_wait(&self) -> Duration {
        self.breaker_cooldown.max(Duration::from_millis(100))
    }

    pub fn record_success(&self) {
        let mut b = self.breaker.lock().unwrap();
        b.consecutive_failures = 0;
    }

    /// A failure that says the exchange itself is unwell. Returns whether
    /// the breaker opened.
    pub fn record_failure(&self) -> bool {
        let mut b = self.breaker.lock().unwrap();
        b.consecutive_failures += 1;
        if b.consecutive_failures >= self.breaker_threshold {
            b.consecutive_failures = 0;
            b.open_until = Some(Instant::now() + self.breaker_cooldown);
            return true;
        }
        false
    }

    /// Forget idle per-account state (keeps memory flat over long runs).
    pub fn housekeeping(&self) {
        for t in &self.account_tiers {
            if let Limiter::Account(l) = &t.limiter {
                l.retain_recent();
            }
        }
        let longest = self.account_windows.iter().map(|w| w.span).max();
        self.sent.forget_idle(longest.unwrap_or_default());
        self.pauses.forget_ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_in_window(capacity: u32, period_ms: u64, weight: u32) -> u32 {
        // Simulate GCRA admission times of weight-`weight` requests and count
        // the most units inside any half-open window of one period.
        let (quota, burst) = quota_for(
            capacity,
            Duration::from_millis(period_ms),
            weight,
            DEFAULT_SCALE,
        );
        // The quota's own interval, so that a wrong rate in quota_for shows.
        let t_unit = quota.replenish_interval().as_secs_f64() * 1000.0;
        // GCRA with burst b admits a weight-w request once its theoretical
        // arrival time minus (b - w) units has passed.
        let mut tat = 0.0f64;
        let mut times = Vec::new();
        for _ in 0..(capacity * 4 / weight) {
            let allow_at = (tat - (burst - weight) as f64 * t_unit).max(0.0);
            times.push(allow_at);
            tat = tat.max(allow_at) + weight as f64 * t_unit;
        }
        let mut best = 0;
        for (i, start) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|t| **t < start + period_ms as f64)
                .count() as u32;
            best = best.max(n * weight);
        }
        best
    }

    #[test]
    fn a_window_never_holds_more_than_the_documented_limit() {
        assert!(max_in_window(5, 1000, 1) <= 5);
        assert!(max_in_window(600, 5000, 1) <= 600);
        assert!(max_in_window(50, 1000, 1) <= 50);
        assert!(max_in_window(2000, 30_000, 30) <= 2000);
        assert!(max_in_window(600, 5000, 2) <= 600);
        assert!(max_in_window(180_000, 60_000, 3000) <= 180_000);
    }

    #[test]
    fn the_scale_keeps_utilisation_high() {
        let (q, burst) = quota_for(600, Duration::from_secs(5), 1, DEFAULT_SCALE);
        assert_eq!(burst, 1);
        let per_sec = 1.0 / q.replenish_interval().as_secs_f64();
        assert!(per_sec > 0.97 * 120.0 && per_sec <= 120.0, "{per_sec}");
    }

    #[tokio::test]
    async fn a_paused_account_waits_and_others_do_not() {
        let limits = ExchangeLimits::new(
            &[],
            &BTreeMap::new(),
            &HashMap::new(),
            DEFAULT_SCALE,
            true,
            3,
            Duration::from_millis(50),
        );
        limits.pause_account("a", Duration::from_millis(120), true);
        assert!(
            limits.blocked_for("b", 0).is_none(),
            "account b is not paused"
        );
        assert!(limits.blocked_for("a", 0).is_some(), "account a is paused");
        let start = Instant::now();
        limits.acquire(&[], "a", 0).await;
        assert!(
            start.elapsed() >= Duration::from_millis(110),
            "account a waited for its pause"
        );
    }

    /// Grants that arrive together (tasks woken late, then at once) still
    /// leave no more than the account's capacity in any window, and an
    /// address's likewise: the sends are spaced where they leave.
    #[tokio::test]
    async fn requests_granted_together_leave_spaced_within_each_window() {
        static TIERS: [Tier; 2] = [
            Tier {
                name: "ip",
                scope: TierScope::Ip,
                capacity: 3,
                period: Duration::from_millis(300),
            },
            Tier {
                name: "acct",
                scope: TierScope::Account,
                capacity: 2,
                period: Duration::from_millis(200),
            },
        ];
        static ACCOUNT: [Charge; 1] = [Charge {
            tier: "acct",
            weight: 1,
        }];
        static ADDRESS: [Charge; 1] = [Charge {
            tier: "ip",
            weight: 1,
        }];
        let limits = ExchangeLimits::new(
            &TIERS,
            &BTreeMap::new(),
            &HashMap::new(),
            DEFAULT_SCALE,
            true,
            3,
            Duration::from_millis(50),
        );
        let start = Instant::now();
        for _ in 0..3 {
            limits.space(&ACCOUNT, "a", 0).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "the third of a 2-per-200 ms account waited for the window: {:?}",
            start.elapsed()
        );
        let start = Instant::now();
        limits.space(&ACCOUNT, "b", 0).await;
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "another account is free"
        );
        let start = Instant::now();
        for _ in 0..4 {
            limits.space(&ADDRESS, "", 1).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "the fourth of a 3-per-300 ms address waited: {:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_request_granted_budget_before_a_ban_is_not_admitted_during_it() {
        static TIERS: [Tier; 1] = [Tier {
            name: "ip",
            scope: TierScope::Ip,
            capacity: 1,
            period: Duration::from_millis(100),
        }];
        static ONE: [Charge; 1] = [Charge {
            tier: "ip",
            weight: 1,
        }];
        let limits = std::sync::Arc::new(ExchangeLimits::new(
            &TIERS,
            &BTreeMap::new(),
            &HashMap::new(),
            DEFAULT_SCALE,
            true,
            3,
            Duration::from_millis(50),
        ));
        limits.acquire(&ONE, "a", 0).await;
        let first = limits.admit("a", 0).expect("nothing paused yet");
        limits.settle(first, Heard::Answered);
        // The next grant is ~100 ms away; the ban arrives while it waits.
        let queued = {
            let limits = limits.clone();
            tokio::spawn(async move { limits.acquire(&ONE, "a", 0).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        limits.pause_ip(0, Duration::from_millis(300), true);
        queued.await.unwrap();
        assert!(
            limits.admit("a", 0).is_err(),
            "a request granted while a ban holds must not be sent"
        );
    }

    #[test]
    fn retries_are_budgeted_per_exchange_and_earned_back_by_first_attempts() {
        let limits = ExchangeLimits::new(
            &[],
            &BTreeMap::new(),
            &HashMap::new(),
            DEFAULT_SCALE,
            true,
            3,
            Duration::from_millis(50),
        );
        let granted = (0..100).filter(|_| limits.take_retry()).count();
        assert_eq!(granted, RETRY_RESERVE as usize, "the reserve, then no more");
        for _ in 0..10 {
            limits.earn_retry();
        }
        assert!(limits.take_retry(), "ten first attempts earn two retries");
        assert!(limits.take_retry());
        std::thread::sleep(Duration::from_millis(250));
        assert!(limits.take_retry(), "time earns retries too");
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_only() {
        let limits = ExchangeLimits::new(
            &[],
            &BTreeMap::new(),
            &HashMap::new(),
            DEFAULT_SCALE,
            true,
            3,
            Duration::from_millis(50),
        );
        assert!(!limits.record_failure());
        assert!(!limits.record_failure());
        limits.record_success();
        assert!(!limits.record_failure());
        assert!(!limits.record_failure());
        assert!(limits.record_failure());
        assert!(limits.blocked_for("x", 0).is_some());
    }
}
