//! At the limit, requests are the budget: a key that deletes itself, or a
//! sub key its master deletes, costs one request, counted by the simulator
//! and reported in the summary's `by_exchange` (`requests`,
//! `requests_per_key`).

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;

/// Every exchange whose master deletes sub keys by API.
const MASTER_DELETES: [ExchangeId; 4] = [
    ExchangeId::new("binance"),
    ExchangeId::new("bybit"),
    ExchangeId::new("okx"),
    ExchangeId::new("kucoin"),
];

async fn revoke_fast(
    population: &Population,
    exchanges: &[ExchangeId],
) -> (keyrevoke::sim::SimHandle, serde_json::Value) {
    let sim = faulty_sim(exchanges, Default::default()).await;
    population.load_into(&sim);
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), population, &sim, "");
    let out = run(&revoke_args_in(dir.path(), &["--no-rate-limits"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    (sim, summary(&out))
}

/// The simulator received one request per key, the summary says so, and
/// every key is gone.
fn assert_one_request_per_key(
    sim: &keyrevoke::sim::SimHandle,
    sum: &serde_json::Value,
    x: ExchangeId,
    keys: u64,
) {
    let seen = sim.exchange(x).stats.snapshot();
    let reported = &sum["by_exchange"][x.as_str()];
    assert_eq!(reported["revoked"], keys, "{x}: {reported}");
    assert_eq!(
        seen.requests, keys,
        "{x}: the simulator received {} requests for {keys} keys: {seen:?}",
        seen.requests
    );
    assert_eq!(
        reported["requests"], keys,
        "{x}: the summary counts them: {reported}"
    );
    assert_eq!(reported["requests_per_key"], 1.0, "{x}: {reported}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bybit_key_that_deletes_itself_costs_one_request() {
    let population = Population::self_revocable(&[ExchangeId::new("bybit")], 200, 6161);
    let (sim, sum) = revoke_fast(&population, &[ExchangeId::new("bybit")]).await;
    assert_one_request_per_key(&sim, &sum, ExchangeId::new("bybit"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_key_its_master_deletes_costs_one_request_on_every_exchange() {
    let population = Population::breach3c(&MASTER_DELETES, 100, 50, 6262);
    let (sim, sum) = revoke_fast(&population, &MASTER_DELETES).await;
    for x in MASTER_DELETES {
        assert_one_request_per_key(&sim, &sum, x, 100);
    }
}
