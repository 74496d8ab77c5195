//! `keyrevoke worker` on a job that `keyrevoke revoke` planned in
//! PostgreSQL: a worker killed outright loses its keys to the others (after
//! its leases lapse, and with a probe before anything is sent again), and a
//! journal server restarted mid-run costs nothing. The real binary against
//! the simulator at Bybit's documented limits; what the simulator received
//! is what is checked.

mod common;

use common::private_pg::PrivatePostgres;
use common::*;
use keyrevoke::core::{ExchangeId, mask_key};
use keyrevoke::journal::test_pg_url;
use keyrevoke::sim::generate::Population;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Sub keys deleted by twelve masters: Bybit allows each master 5
/// deletions a second (per UID, bybit-exchange.github.io/docs/v5/rate-limit),
/// and each master's account is leased to one process at a time.
const KEYS: usize = 180;
const SUBS_PER_MASTER: usize = 15;

/// Keys worked on at once per process: small, so that the first process
/// does not take every master's account in its first claim and the other
/// finds some free. And 90% of each documented limit, not the default 98%:
/// several processes on two shared cores delay some sends by tens of
/// milliseconds between the client's send instant and the simulator's
/// arrival, which bunches a master's requests up at the exchange. Keeping an
/// account's send instants within its window (`executor/src/spacing.rs`)
/// does not cover that: with the default, the killed-worker and four-worker
/// tests below still met 1 to 6 refusals a run (load average about 8).
const WIDTH: usize = 4;

async fn bybit_job(seed: u64, keys: usize) -> Scenario {
    let population = Population::breach3c(&[ExchangeId::new("bybit")], keys, SUBS_PER_MASTER, seed);
    bybit_scenario(population).await
}

/// The simulator serving `population` on Bybit, and a config in which each
/// process works on [`WIDTH`] keys at once.
async fn bybit_scenario(population: Population) -> Scenario {
    let s = Scenario::with_population(&[ExchangeId::new("bybit")], population).await;
    let config = std::fs::read_to_string(s.path("config.toml")).unwrap();
    let config = config.replacen(
        "[exchanges.bybit]\n",
        &format!("[exchanges.bybit]\nconcurrency = {WIDTH}\nrate_limit_scale = 0.9\n"),
        1,
    );
    assert!(config.contains("concurrency = "), "{config}");
    std::fs::write(s.path("config.toml"), config).unwrap();
    s
}

/// A job name no other test run uses, with leases of `lease_secs`.
fn journal(url: &str, name: &str, lease_secs: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{url}?job={name}-{}-{nanos}&lease_secs={lease_secs}",
        std::process::id()
    )
}

fn revoke_args(s: &Scenario, journal: &str) -> Vec<String> {
    let mut args = s.revoke_args();
    args.extend(["--journal".into(), journal.into()]);
    args
}

fn worker_args(s: &Scenario, journal: &str, out: &str) -> Vec<String> {
    worker_args_with(s, journal, out, "config.toml")
}

fn worker_args_with(s: &Scenario, journal: &str, out: &str, config: &str) -> Vec<String> {
    [
        "worker",
        "--journal",
        journal,
        "--config",
        &s.path(config).display().to_string(),
        "--inventory",
        &s.path("inventory.csv").display().to_string(),
        "--out",
        &s.path(out).display().to_string(),
        "--exit-when-idle",
        "--json",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn spawn(args: &[String]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts")
}

fn deletes(s: &Scenario) -> u64 {
    s.sim
        .exchange(ExchangeId::new("bybit"))
        .stats
        .snapshot()
        .deletes
}

/// Wait (bounded) until the simulator has deleted `n` keys.
async fn until_deleted(s: &Scenario, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while deletes(s) < n {
        assert!(Instant::now() < deadline, "only {} deletions", deletes(s));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Audit records of one kind in a worker's trail.
fn audited(path: &std::path::Path, kind: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
        .count()
}

/// The whole job is done, each key deleted once, nothing refused.
fn assert_every_key_deleted_once(s: &Scenario, out: &std::process::Output, keys: usize) {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    let sum = summary(out);
    assert_eq!(sum["revoked"], keys as u64, "{sum}");
    assert_eq!(sum["pending"], 0, "{sum}");
    let stats = s.sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    assert_eq!(stats.deletes, keys as u64, "{stats:?}");
    assert_eq!(stats.ip_banned, 0, "{stats:?}");
    assert_no_key_asked_to_delete_twice(&s.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_keys_are_taken_over_and_probed_before_any_resend() {
    let Some(url) = test_pg_url("a_killed_worker_s_keys_are_taken_over") else {
        return;
    };
    let s = bybit_job(41, KEYS).await;
    // Leases of 3 s: a dead worker's keys pass on quickly.
    let journal = journal(&url, "kill", 3);
    let revoke = spawn(&revoke_args(&s, &journal));
    until_deleted(&s, 5).await;
    let mut worker = spawn(&worker_args(&s, &journal, "worker"));
    let worker_audit = s.path("worker/audit.jsonl");
    // Killed while it holds keys: its first outcomes are written, and it
    // has claimed (and journaled in flight) keys waiting for their budget.
    let deadline = Instant::now() + Duration::from_secs(60);
    while audited(&worker_audit, "outcome") < 5 {
        assert!(Instant::now() < deadline, "the worker did no work");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.start_kill().expect("SIGKILL the worker");
    let _ = worker.wait().await;
    let done_by_worker = audited(&worker_audit, "outcome");
    assert!(
        done_by_worker < KEYS,
        "the worker finished before it was killed"
    );

    let out = revoke.wait_with_output().await.expect("revoke ends");
    assert_every_key_deleted_once(&s, &out, KEYS);
    // Each master's account was spent by one process at a time.
    let stats = s.sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    assert_eq!(stats.rate_limited, 0, "refused for a rate limit: {stats:?}");
    // The keys the worker held were journaled in flight: the one that took
    // them over asked the exchange before sending anything again.
    let probes = audited(&s.out().join("audit.jsonl"), "probe");
    assert!(
        probes > 0,
        "no probe: the killed worker's in-flight keys were resent blind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_ride_out_a_journal_server_restart_and_nothing_is_lost() {
    let Some(mut pg) = PrivatePostgres::start() else {
        return;
    };
    let s = bybit_job(43, KEYS).await;
    // Leases longer than the outage: no key changes hands meanwhile.
    let journal = journal(&pg.url(), "restart", 30);
    let revoke = spawn(&revoke_args(&s, &journal));
    until_deleted(&s, 5).await;
    let worker = spawn(&worker_args(&s, &journal, "worker"));
    until_deleted(&s, 30).await;
    pg.kill();
    // Down long enough that both processes lose connections and fail calls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deleted_while_down = deletes(&s);
    pg.restart();

    let (out, worker_out) = tokio::join!(revoke.wait_with_output(), worker.wait_with_output());
    let (out, worker_out) = (out.unwrap(), worker_out.unwrap());
    assert_eq!(
        worker_out.status.code(),
        Some(0),
        "{}",
        describe(&worker_out)
    );
    assert!(
        deleted_while_down < KEYS as u64,
        "the job was over before the restart: {deleted_while_down} deleted"
    );
    assert_every_key_deleted_once(&s, &out, KEYS);
}

/// Four processes on one job, each from its own address (as on four
/// machines): the `revoke` that planned it and three workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_at_documented_limits_share_the_job_and_no_account_is_exceeded() {
    let Some(url) = test_pg_url("four_workers_at_documented_limits") else {
        return;
    };
    // Sixteen masters, four for each process.
    let keys = 16 * SUBS_PER_MASTER;
    let s = bybit_job(47, keys).await;
    let base = std::fs::read_to_string(s.path("config.toml")).unwrap();
    let from = |n: u8| format!("{base}\n[executor]\negress = [\"127.0.0.{n}\"]\n");
    std::fs::write(s.path("config.toml"), from(2)).unwrap();
    for n in 3..=5u8 {
        std::fs::write(s.path(&format!("config-{n}.toml")), from(n)).unwrap();
    }
    let journal = journal(&url, "four", 10);
    let revoke = spawn(&revoke_args(&s, &journal));
    until_deleted(&s, 1).await;
    let workers: Vec<Child> = (3..=5u8)
        .map(|n| {
            spawn(&worker_args_with(
                &s,
                &journal,
                &format!("worker-{n}"),
                &format!("config-{n}.toml"),
            ))
        })
        .collect();
    let out = revoke.wait_with_output().await.expect("revoke ends");
    for w in workers {
        let w = w.wait_with_output().await.expect("a worker ends");
        assert_eq!(w.status.code(), Some(0), "{}", describe(&w));
    }
    assert_every_key_deleted_once(&s, &out, keys);
    // The simulator refuses any request over a master's rolling one-second
    // window (and over an address's window): none refused means every
    // account, and every address, stayed within its limit in every window.
    let stats = s.sim.exchange(ExchangeId::new("bybit")).stats.snapshot();
    assert_eq!(stats.rate_limited, 0, "refused for a rate limit: {stats:?}");
    // The work was shared: every process revoked keys, and together
    // exactly the job's.
    let mut done = vec![audited(&s.out().join("audit.jsonl"), "outcome")];
    for n in 3..=5u8 {
        done.push(audited(
            &s.path(&format!("worker-{n}/audit.jsonl")),
            "outcome",
        ));
    }
    assert!(
        done.iter().all(|n| *n > 0),
        "a process did nothing: {done:?}"
    );
    assert_eq!(done.iter().sum::<usize>(), keys, "{done:?}");
}

/// The journal holds no API key, and every call on a key needs it in full
/// (a master names the sub key it deletes): a worker without the inventory
/// can act on no key, so it claims none, says why, and the job is finished
/// by the process that has the inventory, every key revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_the_inventory_claims_nothing_says_why_and_the_job_still_finishes() {
    let Some(url) = test_pg_url("a_worker_without_the_inventory") else {
        return;
    };
    let keys = 4 * SUBS_PER_MASTER;
    let s = bybit_job(53, keys).await;
    let journal = journal(&url, "no-inventory", 10);
    let revoke = spawn(&revoke_args(&s, &journal));
    until_deleted(&s, 1).await;
    let args: Vec<String> = worker_args(&s, &journal, "worker");
    let at = args.iter().position(|a| a == "--inventory").unwrap();
    let without_inventory = [&args[..at], &args[at + 2..]].concat();
    let worker = spawn(&without_inventory)
        .wait_with_output()
        .await
        .expect("the worker ends");
    assert_eq!(worker.status.code(), Some(1), "{}", describe(&worker));
    let said = String::from_utf8_lossy(&worker.stderr);
    assert!(
        said.contains("--inventory is required") && said.contains("journal holds no API key"),
        "the worker did not say why it cannot work: {said}"
    );
    assert_eq!(
        audited(&s.path("worker/audit.jsonl"), "outcome"),
        0,
        "the worker without inventory recorded an outcome"
    );

    let out = revoke.wait_with_output().await.expect("revoke ends");
    assert_every_key_deleted_once(&s, &out, keys);
    assert_eq!(summary(&out)["failed"], 0, "{}", describe(&out));
}

/// Keys whose master may not delete them (10005, permission denied) fall
/// back to deleting themselves, from their sub account's budget, which the
/// sub account's other keys spend too. Two processes: one may hold the
/// master's account and the other the sub account's, so a fallback route
/// leases the sub account before it sends (or hands the key to the process
/// that holds it), and the sub account's documented 5 deletions a second
/// (per UID, bybit-exchange.github.io/docs/v5/rate-limit) hold across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_route_s_account_is_leased_across_workers_and_never_exceeded() {
    let Some(url) = test_pg_url("a_fallback_route_s_account_is_leased") else {
        return;
    };
    let (groups, keys_per_sub) = (8, 12);
    let keys = groups * keys_per_sub;
    let bybit = ExchangeId::new("bybit");
    let population = Population::failing_over_to_sub_accounts(bybit, groups, keys_per_sub, 59);
    let s = bybit_scenario(population).await;
    let base = std::fs::read_to_string(s.path("config.toml")).unwrap();
    let from = |n: u8| format!("{base}\n[executor]\negress = [\"127.0.0.{n}\"]\n");
    std::fs::write(s.path("config.toml"), from(2)).unwrap();
    std::fs::write(s.path("config-3.toml"), from(3)).unwrap();
    let journal = journal(&url, "fallback", 10);
    let revoke = spawn(&revoke_args(&s, &journal));
    until_deleted(&s, 1).await;
    let worker = spawn(&worker_args_with(&s, &journal, "worker", "config-3.toml"));
    let (out, worker) = tokio::join!(revoke.wait_with_output(), worker.wait_with_output());
    let (out, worker) = (out.unwrap(), worker.unwrap());
    assert_eq!(worker.status.code(), Some(0), "{}", describe(&worker));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["revoked"], keys as u64, "{sum}");

    let stats = s.sim.exchange(bybit).stats.snapshot();
    assert_eq!(stats.deletes, keys as u64, "{stats:?}");
    // The routes did fail over: masters were refused, for half the keys.
    let trails = [s.out().join("audit.jsonl"), s.path("worker/audit.jsonl")];
    let refused_masters: usize = trails
        .iter()
        .map(|t| {
            std::fs::read_to_string(t)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("\"route\":\"delete_by_master\"") && l.contains("10005"))
                .count()
        })
        .sum();
    assert!(
        refused_masters >= keys / 2,
        "only {refused_masters} master deletes refused: the fallback was not exercised"
    );
    // Every sub account's window held: the simulator refused nothing.
    assert_eq!(stats.rate_limited, 0, "refused for a rate limit: {stats:?}");
    let done: Vec<usize> = trails.iter().map(|t| audited(t, "outcome")).collect();
    assert_eq!(done.iter().sum::<usize>(), keys, "{done:?}");
    // Usage headers let a process back off from a window another one
    // fills, so the refusals alone could miss a shared account: what is
    // checked is that one process at a time spent each sub account.
    let account_of: std::collections::HashMap<String, String> = s
        .population
        .rows
        .iter()
        .map(|r| (mask_key(&r.api_key), r.account.clone().unwrap()))
        .collect();
    let mut spans: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for trail in &trails {
        let mut by_account: std::collections::BTreeMap<String, (String, String)> =
            Default::default();
        for line in std::fs::read_to_string(trail).unwrap_or_default().lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            if r["kind"] != "attempt" || r["route"] != "delete_self" {
                continue;
            }
            let account = account_of[r["key"].as_str().unwrap()].clone();
            let time = r["time"].as_str().unwrap().to_string();
            let span = by_account
                .entry(account)
                .or_insert_with(|| (time.clone(), time.clone()));
            span.0 = span.0.clone().min(time.clone());
            span.1 = span.1.clone().max(time);
        }
        for (account, span) in by_account {
            spans.entry(account).or_default().push(span);
        }
    }
    for (account, mut spans) in spans {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 < pair[1].0,
                "sub account {account} spent by two processes at once: {spans:?}"
            );
        }
    }
}
