//! Several egress addresses: requests leave from each local address in
//! turn, each address with its own per-IP budget. The simulator counts its
//! per-IP window by the client's source address (127.0.0.2, 127.0.0.3, …
//! are distinct local addresses on loopback), so each address's share and
//! the absence of refusals are checked from what it received. How much
//! faster two and four addresses are is measured by `cargo bench --bench
//! egress`, not asserted here.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::IP_TIER;
use keyrevoke::sim::generate::Population;
use std::collections::BTreeMap;

/// Enough keys that each address sends many requests at Bybit's per-IP
/// limit (600 per 5 s per IP, bybit-exchange.github.io/docs/v5/rate-limit,
/// "HTTP IP limit"), few enough for a test: keys that delete themselves,
/// one request each.
const KEYS: usize = 240;

async fn self_deletes_from(addresses: &[&str]) {
    let population = Population::self_revocable(&[ExchangeId::new("bybit")], KEYS, 23);
    let s = Scenario::with_population(&[ExchangeId::new("bybit")], population).await;
    let list: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
    write_inputs(
        s.dir.path(),
        &s.population,
        &s.sim,
        &format!("\n[executor]\negress = [{}]\n", list.join(", ")),
    );
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(summary(&out)["revoked"], KEYS as u64);

    let stats = s.sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    assert_eq!(stats.rate_limited, 0, "refused for a rate limit: {stats:?}");
    assert_eq!(stats.ip_banned, 0, "an address was banned: {stats:?}");
    assert_eq!(stats.deletes, KEYS as u64);
    let per_address: BTreeMap<String, u64> = stats
        .tiers
        .iter()
        .filter(|t| t.tier == IP_TIER)
        .map(|t| (t.bucket.clone(), t.hits))
        .collect();
    let expected: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        per_address.keys().cloned().collect::<Vec<_>>(),
        expected,
        "requests must come from exactly the configured addresses: {per_address:?}"
    );
    // Each address in turn: every one carries its share of the requests.
    let share = stats.requests / addresses.len() as u64;
    for (address, hits) in &per_address {
        assert!(
            hits.abs_diff(share) <= share / 10,
            "{address} sent {hits} of {} requests, its share is {share}: {per_address:?}",
            stats.requests
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_self_deletes_from_two_addresses_each_its_share_and_never_refused() {
    self_deletes_from(&["127.0.0.2", "127.0.0.3"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_self_deletes_from_four_addresses_each_its_share_and_never_refused() {
    self_deletes_from(&["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]).await;
}
