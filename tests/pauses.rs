//! When an exchange says stop, nothing more leaves for that scope until the
//! time is up (DESIGN.md, "Pauses"). The simulator bans (or rate-limits)
//! from a given request on for a given time and records when every request
//! arrived; what arrived during the outage is counted, not what the client
//! meant to send.
//!
//! The bound: a request that reached the exchange during the outage was sent
//! before keyrevoke heard the first refusal, and was still unanswered then
//! (else its own refusal would have been the first heard). So at most the
//! requests in flight at that moment: at most `[executor] concurrency`.
//! Before the fix, every key already waiting for its account's budget (up to
//! the lane's 128) was sent when the budget came, ban or not.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::outage::{Outage, OutageKind};
use keyrevoke::sim::{SimConfig, SimHandle};
use std::time::Duration;

/// Requests in flight at most, across the run.
const CONCURRENCY: usize = 4;
const OUTAGE_AT_REQUEST: u64 = 25;

/// Per-account budgets raised (the simulator's limits are off) so that the
/// sub keys of one master queue for their account's budget at ~30 a second:
/// the queue a ban must hold back.
fn config(x: ExchangeId) -> String {
    let tier = match x.as_str() {
        // Weight 3000 per delete (connectors/binance/src/limits.rs).
        "binance" => "uid_sub_key_delete]\ncapacity = 180000\nperiod_ms = 2000",
        "bybit" => "uid_key_write]\ncapacity = 30\nperiod_ms = 1000",
        other => panic!("no outage scenario for {other}"),
    };
    format!("\n[executor]\nconcurrency = {CONCURRENCY}\n\n[exchanges.{x}.limits.{tier}\n")
}

struct Outcome {
    sim: SimHandle,
    during: usize,
    summary: serde_json::Value,
}

/// Revoke 150 sub keys of one master on `x` while the simulator refuses
/// every request as `outage` says, from its 25th request on.
async fn revoke_through(x: ExchangeId, kind: OutageKind, length: Duration) -> Outcome {
    let population = keyrevoke::sim::generate::Population::breach3c(&[x], 150, 150, 5151);
    let sim = keyrevoke::sim::start(SimConfig {
        exchanges: vec![x],
        limits: false,
        // What the Binance dialect's 418 announces in Retry-After.
        ip_ban: length,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    population.load_into(&sim);
    sim.exchange(x).timeline.plan(Outage {
        at_request: OUTAGE_AT_REQUEST,
        length,
        kind,
    });
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &population, &sim, &config(x));
    // Bybit's 403 carries no time: its documented 10 minutes, shortened.
    let config_path = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config_path).unwrap().replace(
        "[exchanges.bybit]\n",
        &format!(
            "[exchanges.bybit]\nip_ban_pause_secs = {}\n",
            length.as_secs()
        ),
    );
    std::fs::write(&config_path, text).unwrap();
    let out = run(&[
        "revoke".into(),
        "--inventory".into(),
        dir.path().join("inventory.csv").display().to_string(),
        "--config".into(),
        config_path.display().to_string(),
        "--out".into(),
        dir.path().join("out").display().to_string(),
        "--yes".into(),
        "--json".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let timeline = &sim.exchange(x).timeline;
    let (began, ended) = timeline.outage_span().expect("the outage happened");
    let during = timeline.arrivals_between(began, ended);
    let after =
        timeline.arrivals_between(ended, std::time::Instant::now() + Duration::from_secs(1));
    assert!(after > 0, "the run resumed after the outage");
    Outcome {
        during,
        summary: summary(&out),
        sim,
    }
}

fn assert_held_back(x: ExchangeId, o: &Outcome, what: &str) {
    assert!(
        o.during <= CONCURRENCY,
        "{x}: {} requests reached the exchange during its {what}; at most the {CONCURRENCY} in flight may",
        o.during
    );
    assert_eq!(o.summary["failed"], 0, "{}", o.summary);
    assert_eq!(o.summary["revoked"], 150, "{}", o.summary);
    assert_eq!(
        o.sim.exchange(x).keys.count_alive(),
        1,
        "only the master is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_binance_during_a_418_ban_but_what_was_in_flight() {
    let x = ExchangeId::new("binance");
    let o = revoke_through(x, OutageKind::IpBan, Duration::from_secs(2)).await;
    let stats = o.sim.exchange(x).stats.snapshot();
    assert!(stats.ip_banned > 0, "the 418 was sent: {stats:?}");
    assert_held_back(x, &o, "418 ban");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_bybit_during_a_403_ban_but_what_was_in_flight() {
    let x = ExchangeId::new("bybit");
    let o = revoke_through(x, OutageKind::IpBan, Duration::from_secs(2)).await;
    let stats = o.sim.exchange(x).stats.snapshot();
    assert!(stats.ip_banned > 0, "the 403 was sent: {stats:?}");
    assert_held_back(x, &o, "403 ban");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_a_rate_limited_bybit_account_but_what_was_in_flight() {
    let x = ExchangeId::new("bybit");
    // Bybit's 10006 for the UID names its reset one second ahead.
    let o = revoke_through(x, OutageKind::RateLimit, Duration::from_secs(1)).await;
    let stats = o.sim.exchange(x).stats.snapshot();
    assert!(stats.rate_limited > 0, "the 10006 was sent: {stats:?}");
    assert_eq!(stats.ip_banned, 0, "{stats:?}");
    assert_held_back(x, &o, "account rate limit");
}

/// KuCoin's replies say what is left of the account's pool
/// (`gw-ratelimit-remaining`, in weight) and when it refills
/// (`gw-ratelimit-reset`): with the pool misconfigured at 100 times its size,
/// those headers alone must keep every request within it. 66 deletes of
/// weight 30 fit in the 2000 of one 30 s window, leaving 20: the 67th must
/// wait for the refill, not be sent and refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kucoin_usage_headers_hold_requests_the_pool_cannot_pay_for() {
    let x = ExchangeId::new("kucoin");
    let population = keyrevoke::sim::generate::Population::breach3c(&[x], 70, 70, 5252);
    let sim = keyrevoke::sim::start(SimConfig {
        exchanges: vec![x],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    population.load_into(&sim);
    let dir = tempfile::tempdir().unwrap();
    // One request at a time: each reply's headers are read before the next
    // request may leave.
    write_inputs(
        dir.path(),
        &population,
        &sim,
        "\n[executor]\nconcurrency = 1\n\n[exchanges.kucoin.limits.management_uid]\ncapacity = 200000\nperiod_ms = 30000\n",
    );
    let out = run(&revoke_args_in(dir.path(), &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stats = sim.exchange(x).stats.snapshot();
    assert_eq!(stats.deletes, 70, "{stats:?}");
    assert_eq!(
        stats.rate_limited, 0,
        "a request the pool could not pay for was sent: {stats:?}"
    );
}
