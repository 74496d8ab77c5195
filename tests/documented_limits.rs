//! The four exchanges whose APIs delete keys, revoked at their documented
//! limits: the simulator enforces each exchange's limits as its docs state
//! them (each dialect in crates/sim/src/dialects names its source), the
//! client's limiter is on, and not one request may be refused for a limit.
//! The utilization bench measures the same at scale; this keeps the claim
//! under `cargo test`.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;

const EXCHANGES: [ExchangeId; 4] = [
    ExchangeId::new("binance"),
    ExchangeId::new("bybit"),
    ExchangeId::new("okx"),
    ExchangeId::new("kucoin"),
];

/// Sub keys per exchange, and per master. OKX deletes one sub-account key
/// per second per account, and Binance's delete weighs 3,000 of a UID's
/// 180,000 per minute (the same one a second): many masters with few sub
/// keys each keep the run to seconds while every master's own limit, and
/// each exchange's per-IP limit over all of them, is still met.
const KEYS_PER_EXCHANGE: usize = 60;
const SUBS_PER_MASTER: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_on_four_exchanges_at_documented_limits_is_never_refused() {
    let population = Population::breach3c(&EXCHANGES, KEYS_PER_EXCHANGE, SUBS_PER_MASTER, 71);
    let s = Scenario::with_population(&EXCHANGES, population).await;
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sum = summary(&out);
    let keys = (KEYS_PER_EXCHANGE * EXCHANGES.len()) as u64;
    assert_eq!(sum["revoked"], keys, "{sum}");

    for x in EXCHANGES {
        let stats = s.sim.exchange(x).stats.snapshot();
        let line = format!(
            "{x}: {} requests, {} rate-limited, {} while IP-banned, {} deleted",
            stats.requests, stats.rate_limited, stats.ip_banned, stats.deletes
        );
        assert_eq!(stats.rate_limited, 0, "refused for a rate limit: {line}");
        assert_eq!(stats.ip_banned, 0, "banned: {line}");
        assert_eq!(stats.deletes, KEYS_PER_EXCHANGE as u64, "{line}");
        assert_eq!(
            stats.bad_signature + stats.stale_timestamp + stats.unknown_endpoint,
            0,
            "{line}"
        );
    }
    assert_no_key_asked_to_delete_twice(&s.sim);
    // Only the masters are left.
    let masters = s.population.credentials.len();
    assert_eq!(alive_keys(&s.sim).len(), masters);
}
