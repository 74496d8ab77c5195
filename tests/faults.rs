//! Misbehaving exchanges: the same inventory revoked against a healthy
//! simulator and against one that fails 15% of requests (503 before acting,
//! 504 or a dropped connection after acting, stalls past the timeout,
//! surprise rate-limit replies) and runs its clock ahead: every key must end
//! the same way.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::faults::Faults;
use keyrevoke::sim::generate::Population;
use keyrevoke::sim::stats::StatsSnapshot;

const EXCHANGES: [ExchangeId; 4] = [
    ExchangeId::new("binance"),
    ExchangeId::new("bybit"),
    ExchangeId::new("okx"),
    ExchangeId::new("kucoin"),
];

/// Fast retries so the test spends its time on work, not on waiting.
const CONFIG: &str = "
[executor]
request_timeout_ms = 1500

[retry]
max_attempts = 12
base_delay_ms = 20
max_delay_ms = 400
breaker_threshold = 1000
";

async fn revoke_against(
    faults: Faults,
    population: &Population,
) -> (
    serde_json::Value,
    Vec<(ExchangeId, String)>,
    std::process::Output,
) {
    let r = revoke_and_count(faults, population).await;
    (r.summary, r.alive, r.out)
}

/// A run against a faulty simulator, and what each exchange saw.
struct CountedRun {
    summary: serde_json::Value,
    alive: Vec<(ExchangeId, String)>,
    out: std::process::Output,
    stats: Vec<StatsSnapshot>,
    audit: String,
}

/// As [`revoke_against`], with the simulator's counters and the trail.
async fn revoke_and_count(faults: Faults, population: &Population) -> CountedRun {
    let sim = faulty_sim(&EXCHANGES, faults).await;
    population.load_into(&sim);
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), population, &sim, CONFIG);
    let out = run(&revoke_args_in(dir.path(), &["--no-rate-limits"])).await;
    let verify = run(&[
        "audit".into(),
        "verify".into(),
        dir.path().join("out/audit.jsonl").display().to_string(),
    ])
    .await;
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
    CountedRun {
        summary: outcomes(&out),
        alive: alive_keys(&sim),
        stats: sim.exchanges.values().map(|s| s.stats.snapshot()).collect(),
        audit: std::fs::read_to_string(dir.path().join("out/audit.jsonl")).unwrap(),
        out,
    }
}

/// How many attempts the trail shows lost after sending (outcome unknown),
/// and the keys (fingerprints) of those sent again before a probe.
fn unknown_outcomes_and_unprobed_resends(audit: &str) -> (usize, Vec<String>) {
    let mut awaiting_probe = std::collections::HashSet::new();
    let (mut unknown, mut unprobed) = (0, Vec::new());
    for line in audit.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = r["fingerprint"].as_str().unwrap_or_default().to_string();
        match r["kind"].as_str() {
            Some("probe") => {
                awaiting_probe.remove(&key);
            }
            Some("attempt") => {
                if awaiting_probe.contains(&key) {
                    unprobed.push(key.clone());
                }
                if r["outcome"] == "outcome_unknown" {
                    unknown += 1;
                    awaiting_probe.insert(key);
                }
            }
            _ => {}
        }
    }
    (unknown, unprobed)
}

/// One of the simulator's counters.
type Counter = fn(&StatsSnapshot) -> u64;

/// A counter summed over the exchanges.
fn total(stats: &[StatsSnapshot], counter: impl Fn(&StatsSnapshot) -> u64) -> u64 {
    stats.iter().map(counter).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_ends_the_same_way_with_15_percent_faulty_replies() {
    let population = Population::breach(&EXCHANGES, 2000, 4242);
    let (healthy, alive_healthy, _) = revoke_against(Faults::default(), &population).await;
    let faults = Faults {
        unavailable_before: 0.04,
        gateway_timeout_after: 0.04,
        gateway_timeout_after_delete: 0.0,
        reset_after: 0.03,
        stall: 0.01,
        stall_ms: 2000,
        rate_limited: 0.03,
        clock_skew_ms: 0,
    };
    let CountedRun {
        summary: faulty,
        alive: alive_faulty,
        out,
        stats,
        audit,
    } = revoke_and_count(faults, &population).await;

    // The faults happened: about 15% of requests (8% before acting, 7% of
    // the rest after), every kind of them.
    let requests = total(&stats, |s| s.requests);
    let injected = total(&stats, |s| s.injected_faults);
    let share = injected as f64 / requests as f64;
    eprintln!("injected faults: {injected} of {requests} requests ({share:.3})");
    assert!(
        (0.11..=0.18).contains(&share),
        "{injected} of {requests} requests faulty ({share:.3}), not about 15%"
    );
    let kinds: [(&str, Counter); 5] = [
        ("503 before acting", |s| s.injected_unavailable),
        ("rate-limit reply", |s| s.injected_rate_limited),
        ("stall", |s| s.injected_stall),
        ("504 after acting", |s| s.injected_gateway_timeout),
        ("reset after acting", |s| s.injected_reset),
    ];
    for (kind, count) in kinds {
        assert!(total(&stats, count) > 0, "no {kind} was injected");
    }
    assert_eq!(
        kinds.iter().map(|(_, c)| total(&stats, c)).sum::<u64>(),
        injected
    );
    // Replies lost after acting leave outcomes unknown: each key is probed
    // before anything is sent for it again.
    let (unknown, unprobed) = unknown_outcomes_and_unprobed_resends(&audit);
    assert!(unknown > 0, "no attempt's outcome was lost");
    assert!(
        unprobed.is_empty(),
        "{} keys sent again after an unknown outcome without a probe: {unprobed:?}",
        unprobed.len()
    );

    assert_eq!(faulty["failed"], 0, "{}", describe(&out));
    assert_eq!(faulty["pending"], 0, "{faulty}");
    assert_eq!(
        gone_as_one(&healthy),
        gone_as_one(&faulty),
        "the same outcomes with and without faults"
    );
    for x in EXCHANGES {
        let (h, f) = (
            &healthy["by_exchange"][x.as_str()],
            &faulty["by_exchange"][x.as_str()],
        );
        assert!(
            f["already_dead"].as_u64() <= h["already_dead"].as_u64(),
            "{x}: no key found dead that the healthy run revoked: {h} vs {f}"
        );
    }
    assert_eq!(alive_healthy, alive_faulty, "the same keys left alive");
}

/// Outcomes with `revoked` and `already_dead` counted together as `gone`.
/// A key's first request is its delete: when that reply is lost (a 504 or
/// a dropped connection after the exchange acted), the probe that follows
/// finds the key gone and cannot tell whether this delete or an earlier one
/// removed it; the run records it revoked. Only that split may differ.
fn gone_as_one(summary: &serde_json::Value) -> serde_json::Value {
    let mut s = summary.clone();
    let merge = |t: &mut serde_json::Value| {
        let gone = t["revoked"].as_u64().unwrap_or(0) + t["already_dead"].as_u64().unwrap_or(0);
        let t = t.as_object_mut().expect("a tally");
        t.remove("revoked");
        t.remove("already_dead");
        t.insert("gone".into(), gone.into());
    };
    merge(&mut s);
    if let Some(by) = s["by_exchange"].as_object_mut() {
        by.values_mut().for_each(merge);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_clock_far_ahead_is_resynced_and_nothing_fails() {
    let population = Population::breach(&EXCHANGES, 200, 4343);
    let (healthy, alive_healthy, _) = revoke_against(Faults::default(), &population).await;
    let (skewed, alive_skewed, out) = revoke_against(
        Faults {
            clock_skew_ms: 45_000,
            ..Faults::default()
        },
        &population,
    )
    .await;
    assert_eq!(skewed["failed"], 0, "{}", describe(&out));
    assert_eq!(healthy, skewed);
    assert_eq!(alive_healthy, alive_skewed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_ban_pauses_that_exchange_only_and_the_run_completes() {
    let exchanges = [ExchangeId::new("bybit"), ExchangeId::new("kucoin")];
    // Enough Bybit keys deleting themselves to go over its IP limit fast.
    let mut population = Population::self_revocable(&[ExchangeId::new("bybit")], 800, 4545);
    let kucoin = Population::breach(&[ExchangeId::new("kucoin")], 150, 4546);
    population.rows.extend(kucoin.rows);
    population.keys.extend(kucoin.keys);
    population.credentials.extend(kucoin.credentials);
    let sim = keyrevoke::sim::start(keyrevoke::sim::SimConfig {
        exchanges: exchanges.to_vec(),
        ip_ban: std::time::Duration::from_secs(2),
        ..keyrevoke::sim::SimConfig::default()
    })
    .await
    .unwrap();
    population.load_into(&sim);
    sim.exchange(ExchangeId::new("kucoin")).timeline.record();
    let dir = tempfile::tempdir().unwrap();
    // Misconfigured: five times Bybit's documented per-IP limit, so the
    // exchange bans us; its documented pause is shortened for the test.
    write_inputs(
        dir.path(),
        &population,
        &sim,
        "\n[exchanges.bybit.limits.ip]\ncapacity = 3000\nperiod_ms = 5000\n",
    );
    let config_path = dir.path().join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap().replace(
        "[exchanges.bybit]\n",
        "[exchanges.bybit]\nip_ban_pause_secs = 2\n",
    );
    std::fs::write(&config_path, config).unwrap();
    let out = run(&revoke_args_in(dir.path(), &[])).await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["failed"], 0, "{sum}");
    assert_eq!(sum["pending"], 0, "{sum}");
    let bybit = sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    let kucoin = sim.exchange(ExchangeId::new("kucoin")).stats.snapshot();
    assert!(
        bybit.ip_banned > 0,
        "the simulator banned the IP: {bybit:?}"
    );
    assert_eq!(
        kucoin.ip_banned + kucoin.rate_limited,
        0,
        "KuCoin was never refused: {kucoin:?}"
    );
    // A ban that paused every exchange would pass the above: KuCoin must
    // have kept sending while Bybit's first ban held.
    let (banned, lifted) = sim.exchange(ExchangeId::new("bybit")).ip_window.bans()[0];
    let kucoin_meanwhile = sim
        .exchange(ExchangeId::new("kucoin"))
        .timeline
        .arrivals_between(banned, lifted);
    assert!(
        kucoin_meanwhile > 0,
        "KuCoin sent nothing during Bybit's ban: the ban paused it too"
    );
    // Every Bybit key was deleted, ban or not.
    assert_eq!(sim.exchange(ExchangeId::new("bybit")).keys.count_alive(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_wide_outage_opens_the_breaker_and_the_run_resumes_by_itself() {
    let exchanges = [ExchangeId::new("bybit")];
    let population = Population::breach(&exchanges, 200, 4646);
    let sim = faulty_sim(
        &exchanges,
        Faults {
            unavailable_before: 1.0,
            ..Faults::default()
        },
    )
    .await;
    population.load_into(&sim);
    sim.exchange(ExchangeId::new("bybit")).timeline.record();
    let dir = tempfile::tempdir().unwrap();
    let config = "
[retry]
max_attempts = 12
base_delay_ms = 50
max_delay_ms = 1000
breaker_threshold = 10
breaker_cooldown_ms = 500
";
    write_inputs(dir.path(), &population, &sim, config);
    let args: Vec<String> = vec![
        "revoke".into(),
        "--inventory".into(),
        dir.path().join("inventory.csv").display().to_string(),
        "--config".into(),
        dir.path().join("config.toml").display().to_string(),
        "--out".into(),
        dir.path().join("out").display().to_string(),
        "--yes".into(),
        "--json".into(),
        "--no-rate-limits".into(),
    ];
    let run_task = tokio::spawn(async move { run(&args).await });
    // The exchange is down for two seconds, then recovers.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    *sim.exchange(ExchangeId::new("bybit"))
        .faults
        .write()
        .unwrap() = Faults::default();
    let out = run_task.await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["failed"], 0, "{sum}");
    let stats = sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    assert!(stats.injected_faults > 0, "the outage was felt: {stats:?}");
    // What the outage may cost: each key's first attempt (all 200 can be in
    // flight before the first failure returns) and, since a 503 to a write
    // leaves its outcome unknown, one verify probe each; plus the
    // exchange's retry budget: a reserve of 50, a fifth of a retry per first
    // attempt (40) and 10 a second over the outage and the test's margin
    // (3 s). Per-key retry limits alone would allow 200 x 12. (The breaker
    // itself is unit-tested in the executor's limits; here the budget is the
    // tighter bound.)
    let budget = 2 * 200 + 50 + 200 / 5 + 10 * 3;
    // The breaker, open, sends nothing for its cool-down (500 ms): a gap that
    // long between two requests while the exchange was down.
    let arrivals = sim.exchange(ExchangeId::new("bybit")).timeline.arrivals();
    let outage_end = arrivals[0] + std::time::Duration::from_secs(2);
    let longest_gap = arrivals
        .windows(2)
        .filter(|w| w[1] <= outage_end)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    eprintln!("longest gap between requests during the outage: {longest_gap:?}");
    assert!(
        longest_gap >= std::time::Duration::from_millis(450),
        "no cool-down seen: the longest gap between requests during the outage was {longest_gap:?}"
    );
    assert!(
        stats.injected_faults <= budget,
        "retries during the outage exceeded the exchange's retry budget ({} refused, budget {budget})",
        stats.injected_faults
    );
}
