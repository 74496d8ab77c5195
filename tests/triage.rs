//! `revoke --triage`: every key is probed first; a key found dead gets no
//! write, and the keys that can move funds are deleted before the others.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;
use keyrevoke::sim::keys::KeyState;
use std::collections::HashSet;

const BYBIT: ExchangeId = ExchangeId::new("bybit");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_probes_first_skips_dead_keys_and_deletes_fund_moving_keys_first() {
    // One master's 23 sub keys, in shuffled rows: 10 that can withdraw, 10
    // that can only trade, 3 deleted already.
    let mut population = Population::breach3c(&[BYBIT], 23, 23, 8181);
    let subs: Vec<_> = population.keys[&BYBIT]
        .iter()
        .filter(|k| k.parent_uid.is_some())
        .map(|k| k.api_key.clone())
        .collect();
    assert_eq!(subs.len(), 23);
    let fund_moving: HashSet<String> = subs[..10].iter().cloned().collect();
    let dead: HashSet<String> = subs[20..].iter().cloned().collect();
    for k in population.keys.get_mut(&BYBIT).unwrap() {
        if fund_moving.contains(&k.api_key) {
            k.permissions = vec!["SpotTrade".into(), "Withdraw".into()];
        } else if k.parent_uid.is_some() {
            k.permissions = vec!["SpotTrade".into()];
        }
        if dead.contains(&k.api_key) {
            k.state = KeyState::Deleted;
        }
    }
    // The documented limits (5 key writes a second per master) space the
    // deletes, so the order they arrive in is the order they were sent in.
    let s = Scenario::with_population(&[BYBIT], population).await;
    s.sim.exchange(BYBIT).timeline.record();
    let mut args = s.revoke_args();
    args.push("--triage".into());
    let out = run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(
        (sum["revoked"].as_u64(), sum["already_dead"].as_u64()),
        (Some(20), Some(3)),
        "{sum}"
    );

    let seen = s.sim.exchange(BYBIT).stats.snapshot();
    // One listing probe per key, one delete per live key: nothing sent to
    // the dead keys beyond their probe (a request the exchange refused for
    // its rate limit is sent again: counted apart).
    assert_eq!(seen.probes, 23, "{seen:?}");
    assert_eq!(seen.requests, 23 + 20 + seen.rate_limited, "{seen:?}");
    let order = s.sim.exchange(BYBIT).timeline.deletion_order();
    assert_eq!(order.len(), 20);
    let first_calm = order.iter().position(|k| !fund_moving.contains(k)).unwrap();
    assert_eq!(
        first_calm,
        10,
        "the ten fund-moving keys are deleted before any other: {:?}",
        order
            .iter()
            .map(|k| fund_moving.contains(k))
            .collect::<Vec<_>>()
    );
}
