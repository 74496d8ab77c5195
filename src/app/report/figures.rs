//! The report's figures, computed from the journal's key timings and the
//! connectors' documented tiers. Pure functions: no I/O, so each is tested
//! on hand-made timings.

use keyrevoke_core::store::KeyTiming;
use keyrevoke_core::{Connector, Operation, Route, State, TierScope};
use serde::Serialize;
use std::collections::BTreeMap;

/// The timeline has at most this many buckets: one second each for runs up
/// to this many seconds, wider for longer ones (an hour-long job would
/// otherwise draw 3,600 bars).
pub const MAX_BUCKETS: u64 = 300;

/// Slowest keys listed.
pub const SLOWEST_LISTED: usize = 10;

pub fn is_neutralized(state: State) -> bool {
    state.outcome().is_some_and(|o| o.is_neutralized())
}

/// How many keys each route neutralized, the most used first: the channel
/// that won.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteCount {
    pub route: Route,
    pub channel: String,
    pub keys: u64,
}

pub fn winning_routes<'a>(keys: impl Iterator<Item = &'a KeyTiming>) -> Vec<RouteCount> {
    let mut by_route: BTreeMap<Route, u64> = BTreeMap::new();
    for k in keys.filter(|k| is_neutralized(k.state)) {
        if let Some(r) = k.route {
            *by_route.entry(r).or_default() += 1;
        }
    }
    let mut out: Vec<RouteCount> = by_route
        .into_iter()
        .map(|(route, keys)| RouteCount {
            route,
            channel: route.channel().to_string(),
            keys,
        })
        .collect();
    out.sort_by(|a, b| b.keys.cmp(&a.keys).then(a.route.cmp(&b.route)));
    out
}

/// The most keys per second a route can neutralize within one documented
/// tier: `capacity / period / weight` of the tightest tier it is charged
/// to, for each scope.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimitLine {
    pub keys_per_second: f64,
    /// The tier's name in the connector's `limits.rs`, where its source is cited.
    pub tier: String,
    /// `ip`: one budget for the whole run, a ceiling for the exchange's
    /// curve. `account`: one budget per account (UID or managing
    /// credential); a run over several accounts may go faster.
    pub scope: TierScope,
}

/// The tightest IP-wide and per-account ceilings of `route` on `conn`.
pub fn limit_lines(conn: &dyn Connector, route: Route) -> Vec<LimitLine> {
    let mut tightest: BTreeMap<&'static str, LimitLine> = BTreeMap::new();
    for charge in conn.charges(Operation::Route(route)) {
        let Some(tier) = conn.tiers().iter().find(|t| t.name == charge.tier) else {
            continue;
        };
        if charge.weight == 0 || tier.period.is_zero() {
            continue;
        }
        let rate = f64::from(tier.capacity) / tier.period.as_secs_f64() / f64::from(charge.weight);
        let scope = match tier.scope {
            TierScope::Ip => "ip",
            TierScope::Account => "account",
        };
        let line = LimitLine {
            keys_per_second: rate,
            tier: tier.name.to_string(),
            scope: tier.scope,
        };
        match tightest.get(scope) {
            Some(known) if known.keys_per_second <= rate => {}
            _ => {
                tightest.insert(scope, line);
            }
        }
    }
    // IP first: it bounds the whole run.
    let mut out: Vec<LimitLine> = tightest.into_values().collect();
    out.sort_by_key(|l| l.scope != TierScope::Ip);
    out
}

/// Neutralized keys per second, in buckets of `bucket_seconds` from the
/// job's start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub bucket_seconds: u64,
    /// Per bucket: neutralized keys finished in it, divided by its length.
    pub keys_per_second: Vec<f64>,
}

/// The bucket length that keeps a run of `span_ms` within [`MAX_BUCKETS`].
pub fn bucket_seconds(span_ms: i64) -> u64 {
    let span_secs = (span_ms.max(0) as u64).div_ceil(1000).max(1);
    span_secs.div_ceil(MAX_BUCKETS).max(1)
}

pub fn timeline<'a>(
    keys: impl Iterator<Item = &'a KeyTiming>,
    job_start_ms: i64,
    bucket_seconds: u64,
    buckets: usize,
) -> Timeline {
    let mut counts = vec![0u64; buckets];
    let bucket_ms = (bucket_seconds * 1000) as i64;
    for k in keys.filter(|k| is_neutralized(k.state)) {
        if let Some(done) = k.finished_at {
            let i = ((done - job_start_ms).max(0) / bucket_ms) as usize;
            if let Some(slot) = counts.get_mut(i.min(buckets.saturating_sub(1))) {
                *slot += 1;
            }
        }
    }
    Timeline {
        bucket_seconds,
        keys_per_second: counts
            .into_iter()
            .map(|n| n as f64 / bucket_seconds as f64)
            .collect(),
    }
}

/// When an exchange's work began and ended, and how hard it was.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Effort {
    /// Unix milliseconds of its first claim (None if nothing was claimed,
    /// or only under journal schema 1).
    pub started_at_ms: Option<i64>,
    /// Unix milliseconds of its last outcome.
    pub finished_at_ms: Option<i64>,
    pub duration_seconds: Option<f64>,
    /// Neutralized keys per second over that duration.
    pub average_keys_per_second: Option<f64>,
    /// Requests beyond the first per key: retries after transient errors,
    /// rate-limit refusals and fallbacks to a weaker route.
    pub retries: u64,
}

pub fn effort<'a>(keys: impl Iterator<Item = &'a KeyTiming> + Clone) -> Effort {
    let started_at_ms = keys.clone().filter_map(|k| k.started_at).min();
    let finished_at_ms = keys.clone().filter_map(|k| k.finished_at).max();
    let retries = keys
        .clone()
        .map(|k| u64::from(k.attempts.saturating_sub(1)))
        .sum();
    let neutralized = keys.filter(|k| is_neutralized(k.state)).count();
    let duration_seconds = match (started_at_ms, finished_at_ms) {
        (Some(s), Some(f)) if f >= s => Some((f - s) as f64 / 1000.0),
        _ => None,
    };
    Effort {
        started_at_ms,
        finished_at_ms,
        duration_seconds,
        average_keys_per_second: duration_seconds
            .filter(|d| *d > 0.0)
            .map(|d| neutralized as f64 / d),
        retries,
    }
}

/// A key that took long from its first claim to its outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowKey {
    pub exchange: String,
    pub masked_key: String,
    pub fingerprint: String,
    pub state: State,
    pub route: Option<Route>,
    pub attempts: u32,
    pub seconds: f64,
}

pub fn slowest(keys: &[KeyTiming], n: usize) -> Vec<SlowKey> {
    let mut timed: Vec<(i64, &KeyTiming)> = keys
        .iter()
        .filter_map(|k| Some((k.finished_at? - k.started_at?, k)))
        .collect();
    timed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.fingerprint.cmp(&b.1.fingerprint)));
    timed
        .into_iter()
        .take(n)
        .map(|(ms, k)| SlowKey {
            exchange: k.exchange.to_string(),
            masked_key: k.masked.clone(),
            fingerprint: k.fingerprint.short().to_string(),
            state: k.state,
            route: k.route,
            attempts: k.attempts,
            seconds: ms as f64 / 1000.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::{ExchangeId, Fingerprint};

    fn key(name: &str, state: State, route: Route, started: i64, finished: i64) -> KeyTiming {
        KeyTiming {
            exchange: ExchangeId::new("okx"),
            fingerprint: Fingerprint::of(name),
            masked: format!("{name}…"),
            state,
            route: Some(route),
            attempts: 1,
            started_at: Some(started),
            finished_at: Some(finished),
        }
    }

    #[test]
    fn the_winning_channel_counts_neutralized_keys_only_most_used_first() {
        let keys = [
            key("a", State::Revoked, Route::DeleteByMaster, 0, 10),
            key("b", State::Revoked, Route::DeleteByMaster, 0, 10),
            key("c", State::Disabled, Route::DisableByMaster, 0, 10),
            key("d", State::Escalated, Route::DeleteSelf, 0, 10),
        ];
        let won = winning_routes(keys.iter());
        assert_eq!(
            won.iter().map(|r| (r.route, r.keys)).collect::<Vec<_>>(),
            vec![(Route::DeleteByMaster, 2), (Route::DisableByMaster, 1)],
            "an escalated key's last route did not win"
        );
        assert_eq!(won[0].channel, "delete");
    }

    #[test]
    fn the_timeline_counts_neutralized_keys_per_second_in_their_bucket() {
        let keys = [
            key("a", State::Revoked, Route::DeleteSelf, 1_000, 1_200),
            key("b", State::AlreadyDead, Route::DeleteSelf, 1_000, 1_900),
            key("c", State::Revoked, Route::DeleteSelf, 1_000, 3_500),
            key("d", State::Failed, Route::DeleteSelf, 1_000, 1_500),
        ];
        let t = timeline(keys.iter(), 1_000, 1, 3);
        assert_eq!(t.keys_per_second, vec![2.0, 0.0, 1.0]);
        let wide = timeline(keys.iter(), 1_000, 2, 2);
        assert_eq!(
            wide.keys_per_second,
            vec![1.0, 0.5],
            "a 2 s bucket halves its count"
        );
    }

    #[test]
    fn long_runs_get_wider_buckets() {
        assert_eq!(bucket_seconds(0), 1);
        assert_eq!(bucket_seconds(300_000), 1);
        assert_eq!(bucket_seconds(300_001), 2);
        assert_eq!(bucket_seconds(3_600_000), 12);
    }

    #[test]
    fn effort_spans_first_claim_to_last_outcome() {
        let mut retried = key("b", State::Revoked, Route::DeleteSelf, 2_000, 6_000);
        retried.attempts = 4;
        let keys = [
            key("a", State::Revoked, Route::DeleteSelf, 1_000, 3_000),
            retried,
            key("c", State::Escalated, Route::DeleteSelf, 1_500, 5_000),
        ];
        let e = effort(keys.iter());
        assert_eq!(e.started_at_ms, Some(1_000));
        assert_eq!(e.finished_at_ms, Some(6_000));
        assert_eq!(e.duration_seconds, Some(5.0));
        assert_eq!(e.average_keys_per_second, Some(0.4), "2 neutralized in 5 s");
        assert_eq!(e.retries, 3);
    }

    #[test]
    fn the_slowest_keys_come_first_and_untimed_keys_are_left_out() {
        let mut untimed = key("v1", State::Revoked, Route::DeleteSelf, 0, 9_000);
        untimed.started_at = None;
        let keys = [
            key("fast", State::Revoked, Route::DeleteSelf, 0, 100),
            key("slow", State::Revoked, Route::DeleteSelf, 0, 7_000),
            untimed,
            key("mid", State::Failed, Route::DeleteSelf, 0, 2_000),
        ];
        let s = slowest(&keys, 2);
        assert_eq!(
            s.iter()
                .map(|k| (k.masked_key.as_str(), k.seconds))
                .collect::<Vec<_>>(),
            vec![("slow…", 7.0), ("mid…", 2.0)]
        );
    }

    #[test]
    fn limit_lines_take_the_tightest_tier_of_each_scope() {
        let connectors =
            crate::app::registry::connectors(&keyrevoke_core::config::Config::default()).unwrap();
        let bybit = connectors[&ExchangeId::new("bybit")].as_ref();
        let lines = limit_lines(bybit, Route::DeleteByMaster);
        // connectors/bybit/src/limits.rs: 600 requests per 5 s per IP, and
        // 5 key writes per second per UID.
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].scope, TierScope::Ip);
        assert_eq!(lines[0].keys_per_second, 120.0);
        assert_eq!(lines[1].scope, TierScope::Account);
        assert_eq!(lines[1].keys_per_second, 5.0);
    }
}
