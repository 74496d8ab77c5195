//! `keyrevoke rotate` end to end: the real binary against the simulator at
//! the documented limits, new secrets to age files (decrypted here with the
//! recipient's identity) or to a real OpenBao. A due key is replaced by one
//! of the same shape whose secret is in the sink and works; a key not due
//! is left alone; a run killed anywhere resumes with no orphan key, no
//! lost secret and no key missing; a sink that refuses writes leaves the
//! old key working.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::{InventoryRow, Population};
use keyrevoke::sim::keys::SimKey;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const MAX_AGE_DAYS: u32 = 90;

fn four() -> [ExchangeId; 4] {
    ["bybit", "okx", "kucoin", "binance"].map(ExchangeId::new)
}

/// `ages` (days) for each exchange's keys, loaded into a simulator.
async fn scenario(exchanges: &[ExchangeId], ages: &[u32], seed: u64) -> Scenario {
    Scenario::with_population(exchanges, Population::rotation(exchanges, ages, seed)).await
}

struct AgeSink {
    identity: age::x25519::Identity,
}

impl AgeSink {
    fn new() -> AgeSink {
        AgeSink {
            identity: age::x25519::Identity::generate(),
        }
    }

    fn table(&self) -> String {
        format!(
            "[sink]\nkind = \"age\"\ndir = \"rotated\"\nrecipients = [\"{}\"]\n",
            self.identity.to_public()
        )
    }

    /// The JSON object of `exchange`/`label`'s current secret, if any.
    fn read(&self, s: &Scenario, exchange: ExchangeId, label: &str) -> Option<serde_json::Value> {
        let path = s.path(&format!("rotated/{exchange}/{label}.age"));
        let bytes = std::fs::read(path).ok()?;
        let plain = age::decrypt(&self.identity, &bytes).expect("decrypts with the identity");
        Some(serde_json::from_slice(&plain).expect("one JSON object"))
    }
}

/// The plan for every row of the population, after `sink`.
fn write_plan(s: &Scenario, sink: &str) -> PathBuf {
    let plan = format!("{sink}{}", s.population.rotation_plan_keys(MAX_AGE_DAYS));
    let path = s.path("plan.toml");
    std::fs::write(&path, plan).unwrap();
    path
}

fn rotate_args(s: &Scenario, plan: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "rotate".into(),
        "--plan".into(),
        plan.display().to_string(),
        "--config".into(),
        s.path("config.toml").display().to_string(),
        "--out".into(),
        s.out().display().to_string(),
        "--yes".into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn held(s: &Scenario, x: ExchangeId, api_key: &str) -> SimKey {
    s.sim.exchange(x).keys.get(api_key).expect("held")
}

/// The live keys of the sub account that holds `row`'s key.
fn alive_in_account(s: &Scenario, row: &InventoryRow) -> Vec<SimKey> {
    let uid = held(s, row.exchange, &row.api_key).uid;
    s.sim
        .exchange(row.exchange)
        .keys
        .filter(|k| k.uid == uid && k.is_alive())
}

/// Sub keys the simulator created, on every exchange.
fn creates(s: &Scenario) -> u64 {
    s.sim
        .exchanges
        .values()
        .map(|x| x.stats.snapshot().creates)
        .sum()
}

fn is_due(age: u32) -> bool {
    age >= MAX_AGE_DAYS
}

/// Each row's age, in the population's order (the same ages per exchange).
fn ages_of<'a>(s: &'a Scenario, ages: &'a [u32]) -> impl Iterator<Item = (&'a InventoryRow, u32)> {
    s.population.rows.iter().map(move |r| {
        let i: usize = r.label.trim_start_matches("rot-").parse().unwrap();
        (r, ages[i])
    })
}

/// A due row after its rotation: the old key is dead, one key lives in its
/// sub account, the sink's current secret is that key's, and it has the
/// old key's shape.
fn assert_rotated(s: &Scenario, row: &InventoryRow, secret: &serde_json::Value, said: &str) {
    let (x, label) = (row.exchange, &row.label);
    let old = held(s, x, &row.api_key);
    assert!(!old.is_alive(), "{x} {label}: the old key is dead\n{said}");
    let alive = alive_in_account(s, row);
    assert_eq!(alive.len(), 1, "{x} {label}: one key in service: {alive:?}");
    let new = &alive[0];
    assert_eq!(secret["api_key"], new.api_key.as_str(), "{x} {label}");
    assert_eq!(secret["api_secret"], new.secret.as_str(), "{x} {label}");
    assert_eq!(secret["exchange"], x.as_str());
    assert_eq!(secret["label"], label.as_str());
    assert_eq!(
        secret["replaces"],
        keyrevoke::core::mask_key(&row.api_key).as_str()
    );
    assert!(secret["created_at"].as_str().is_some_and(|t| t.len() >= 20));
    match &new.passphrase {
        Some(p) => assert_eq!(secret["passphrase"], p.as_str(), "{x} {label}"),
        None => assert!(secret.get("passphrase").is_none(), "{x} {label}"),
    }
    let mut want = old.permissions.clone();
    let mut got = new.permissions.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{x} {label}: the same permissions");
    assert_eq!(
        new.bound_ips(),
        old.bound_ips(),
        "{x} {label}: the same IPs"
    );
    assert_eq!(new.read_only, old.read_only, "{x} {label}");
}

fn no_secret_in(s: &Scenario, out: &Output, new_secrets: &[String]) {
    let said = describe(out);
    let mut secrets = s.secrets();
    secrets.extend(new_secrets.iter().cloned());
    for c in &s.population.credentials {
        secrets.push(c.api_secret.clone());
    }
    for secret in &secrets {
        assert!(!said.contains(secret.as_str()), "the output holds a secret");
        for (path, bytes) in artifacts(&s.out()) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret.as_str()),
                "{} holds a secret",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_keys_on_four_exchanges_rotate_into_age_files_and_the_rest_stay() {
    // 32 keys: on each exchange, four due (the 90-day mark counts) and
    // four not.
    let ages = [120, 10, 95, 30, 200, 89, 90, 5];
    let s = scenario(&four(), &ages, 31).await;
    let sink = AgeSink::new();
    let plan = write_plan(&s, &sink.table());
    let out = run(&rotate_args(&s, &plan, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let sum = summary(&out);
    assert_eq!(sum["keys_in_plan"], 32, "{sum}");
    assert_eq!(sum["due"], 16, "{sum}");
    assert_eq!(sum["rotated"], 16, "{sum}");
    assert_eq!(sum["not_due"], 16, "{sum}");
    assert_eq!(sum["failed"], 0, "{sum}");
    let mut new_secrets = Vec::new();
    for (row, age) in ages_of(&s, &ages) {
        let secret = sink.read(&s, row.exchange, &row.label);
        if is_due(age) {
            let secret =
                secret.unwrap_or_else(|| panic!("{} {}: no secret", row.exchange, row.label));
            assert_rotated(&s, row, &secret, &said);
            new_secrets.push(secret["api_secret"].as_str().unwrap().to_string());
            let file = s.path(&format!("rotated/{}/{}.age", row.exchange, row.label));
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        } else {
            assert!(secret.is_none(), "{} {}: not due", row.exchange, row.label);
            assert!(held(&s, row.exchange, &row.api_key).is_alive());
            assert_eq!(alive_in_account(&s, row).len(), 1);
        }
    }
    no_secret_in(&s, &out, &new_secrets);
    assert!(s.out().join("report.html").exists(), "{said}");
    assert_no_key_asked_to_delete_twice(&s.sim);
    let limited: u64 = s
        .sim
        .exchanges
        .values()
        .map(|x| x.stats.snapshot().rate_limited)
        .sum();
    assert_eq!(limited, 0, "nothing refused for its rate");
    // What the simulator received: one create per due key, no more.
    assert_eq!(creates(&s), 16, "one create per due key");

    // The next scheduled run: the new keys are young, nothing is due.
    let again = run(&rotate_args(&s, &plan, &[])).await;
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let sum = summary(&again);
    assert_eq!(
        (sum["due"].as_u64(), sum["rotated"].as_u64()),
        (Some(0), Some(0)),
        "{sum}"
    );
    // --all rotates the keys in service, the new ones included.
    let all = run(&rotate_args(&s, &plan, &["--all"])).await;
    assert_eq!(all.status.code(), Some(0), "{}", describe(&all));
    assert_eq!(summary(&all)["rotated"], 32, "{}", summary(&all));
    for (row, _) in ages_of(&s, &ages) {
        let secret = sink.read(&s, row.exchange, &row.label).unwrap();
        assert_eq!(
            alive_in_account(&s, row).len(),
            1,
            "{} {}",
            row.exchange,
            row.label
        );
        assert_eq!(
            alive_in_account(&s, row)[0].api_key,
            secret["api_key"].as_str().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reads_ages_and_changes_nothing() {
    let ages = [120, 10];
    let s = scenario(&[ExchangeId::new("bybit")], &ages, 32).await;
    let sink = AgeSink::new();
    let plan = write_plan(&s, &sink.table());
    let out = run(&rotate_args(&s, &plan, &["--dry-run"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let keys = summary(&out)["keys"].as_array().unwrap().clone();
    assert_eq!(keys[0]["state"], "dry_run");
    assert_eq!(keys[0]["age_days"], 120);
    assert_eq!(keys[1]["age_days"], 10);
    for (row, _) in ages_of(&s, &ages) {
        assert!(held(&s, row.exchange, &row.api_key).is_alive());
        assert_eq!(alive_in_account(&s, row).len(), 1);
    }
    assert!(!s.path("rotated/bybit").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_then_resumed_no_key_is_lost_or_doubled() {
    let ages = [120, 150, 100];
    let s = scenario(&four(), &ages, 33).await;
    let sink = AgeSink::new();
    let plan = write_plan(&s, &sink.table());
    let seed: u64 = rand::random();
    eprintln!("kill timings seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut finished = false;
    for _ in 0..8 {
        let mut child = tokio::process::Command::new(BIN)
            .args(rotate_args(&s, &plan, &[]))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let after = Duration::from_millis(rng.gen_range(150..2500));
        tokio::select! {
            status = child.wait() => {
                finished = status.unwrap().code() == Some(0);
                if finished { break; }
            }
            _ = tokio::time::sleep(after) => {
                child.start_kill().unwrap();
                let _ = child.wait().await;
            }
        }
        // After any kill: never two live keys in one account, and the key
        // the sink serves (if any) is alive.
        for (row, _) in ages_of(&s, &ages) {
            let alive = alive_in_account(&s, row);
            assert!(
                alive.len() <= 2,
                "{} {}: {alive:?}",
                row.exchange,
                row.label
            );
            if let Some(secret) = sink.read(&s, row.exchange, &row.label) {
                assert!(
                    alive
                        .iter()
                        .any(|k| k.api_key == secret["api_key"].as_str().unwrap()),
                    "{} {}: the current secret's key is alive (seed {seed})",
                    row.exchange,
                    row.label
                );
            } else {
                assert!(
                    held(&s, row.exchange, &row.api_key).is_alive(),
                    "{} {}: the old key lives until its replacement is current (seed {seed})",
                    row.exchange,
                    row.label
                );
            }
        }
    }
    if !finished {
        let out = run(&rotate_args(&s, &plan, &[])).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "seed {seed}: {}",
            describe(&out)
        );
    }
    for (row, _) in ages_of(&s, &ages) {
        let secret = sink
            .read(&s, row.exchange, &row.label)
            .unwrap_or_else(|| panic!("{} {}: secret lost (seed {seed})", row.exchange, row.label));
        assert_rotated(&s, row, &secret, &format!("seed {seed}"));
    }
    // No orphan anywhere: every live sub key is one the sink serves.
    for x in four() {
        let master_uids: Vec<String> = s
            .population
            .credentials
            .iter()
            .filter(|c| c.exchange == x)
            .map(|c| held(&s, x, &c.api_key).uid)
            .collect();
        let orphans = s.sim.exchange(x).keys.filter(|k| {
            k.is_alive()
                && k.parent_uid
                    .as_ref()
                    .is_some_and(|p| master_uids.contains(p))
                && !s.population.rows.iter().any(|r| {
                    sink.read(&s, x, &r.label)
                        .is_some_and(|v| v["api_key"] == k.api_key.as_str())
                })
        });
        assert!(orphans.is_empty(), "{x}: orphans {orphans:?} (seed {seed})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_refuses_writes_leaves_the_old_key_working() {
    let ages = [120, 130];
    let exchanges = [ExchangeId::new("bybit"), ExchangeId::new("okx")];
    let s = scenario(&exchanges, &ages, 34).await;
    let sink = AgeSink::new();
    // Bybit's folder is a file: every Bybit write fails, even as root;
    // OKX's keys rotate.
    std::fs::create_dir_all(s.path("rotated")).unwrap();
    std::fs::write(s.path("rotated/bybit"), "not a folder").unwrap();
    let plan = write_plan(&s, &sink.table());
    let out = run(&rotate_args(&s, &plan, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    let sum = summary(&out);
    assert_eq!(
        (sum["rotated"].as_u64(), sum["failed"].as_u64()),
        (Some(2), Some(2)),
        "{sum}"
    );
    for (row, _) in ages_of(&s, &ages) {
        if row.exchange == ExchangeId::new("bybit") {
            assert!(held(&s, row.exchange, &row.api_key).is_alive(), "{said}");
            assert_eq!(
                alive_in_account(&s, row).len(),
                1,
                "the new key was deleted: {said}"
            );
            let key = sum["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["label"] == row.label.as_str() && k["exchange"] == "bybit")
                .unwrap();
            assert_eq!(key["state"], "failed");
            assert!(key["why"].as_str().unwrap().contains("sink"), "{key}");
        } else {
            let secret = sink.read(&s, row.exchange, &row.label).unwrap();
            assert_rotated(&s, row, &secret, &said);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_journal_is_refused_while_one_runs() {
    // Bybit creates one key a second per master: the first run lasts.
    let ages = [120, 120, 120, 120];
    let s = scenario(&[ExchangeId::new("bybit")], &ages, 35).await;
    let sink = AgeSink::new();
    let plan = write_plan(&s, &sink.table());
    let mut first = tokio::process::Command::new(BIN)
        .args(rotate_args(&s, &plan, &[]))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = run(&rotate_args(&s, &plan, &[])).await;
    assert_eq!(second.status.code(), Some(1), "{}", describe(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("journal"),
        "{}",
        describe(&second)
    );
    let status = first.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_a_bad_key_is_refused_before_anything_is_sent() {
    let s = scenario(&[ExchangeId::new("bybit")], &[120], 36).await;
    let sink = AgeSink::new();
    let plan = write_plan(&s, &sink.table());
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, text.replace("via = \"", "via = \"nobody-")).unwrap();
    let before = s.requests(ExchangeId::new("bybit"));
    let out = run(&rotate_args(&s, &plan, &[])).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    // The key's table starts on line 6 ([[keys]], after the four lines of
    // [sink] and a blank one).
    assert!(said.contains("plan.toml:6: field `via`"), "{said}");
    assert_eq!(s.requests(ExchangeId::new("bybit")), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_keys_rotate_into_openbao_with_the_previous_version_kept() {
    let Some(bao) = keyrevoke_sink::test_support::OpenBao::start("rotate_into_openbao") else {
        return;
    };
    let ages = [120, 10];
    let exchanges = [ExchangeId::new("bybit"), ExchangeId::new("kucoin")];
    let s = scenario(&exchanges, &ages, 37).await;
    let sink = format!(
        "[sink]\nkind = \"vault\"\naddress = \"{}\"\ntoken = \"env:TEST_VAULT_TOKEN\"\nmount = \"secret\"\nprefix = \"keyrevoke/\"\n",
        bao.address()
    );
    let plan = write_plan(&s, &sink);
    let env = [("TEST_VAULT_TOKEN", bao.root_token())];
    let out = run_with_env(&rotate_args(&s, &plan, &[]), &env).await;
    let said = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(summary(&out)["rotated"], 2, "{said}");
    let read = |x: ExchangeId, label: &str| {
        bao.request("GET", &format!("secret/data/keyrevoke/{x}/{label}"), None)
            .unwrap()
    };
    let mut new_secrets = Vec::new();
    for (row, age) in ages_of(&s, &ages) {
        let (status, body) = read(row.exchange, &row.label);
        if is_due(age) {
            assert_eq!(status, 200, "{body}");
            let secret = &body["data"]["data"];
            assert_rotated(&s, row, secret, &said);
            new_secrets.push(secret["api_secret"].as_str().unwrap().to_string());
        } else {
            assert_eq!(
                status, 404,
                "{} {}: not due: {body}",
                row.exchange, row.label
            );
        }
    }
    no_secret_in(&s, &out, &new_secrets);
    // --all: a second version; the first stays readable as the previous.
    let all = run_with_env(&rotate_args(&s, &plan, &["--all"]), &env).await;
    assert_eq!(all.status.code(), Some(0), "{}", describe(&all));
    let row = s
        .population
        .rows
        .iter()
        .find(|r| r.label == "rot-0" && r.exchange == ExchangeId::new("bybit"))
        .unwrap();
    let (_, now) = read(row.exchange, &row.label);
    assert_eq!(now["data"]["metadata"]["version"], 2, "{now}");
    let before = bao.call(
        "GET",
        &format!("secret/data/keyrevoke/bybit/{}?version=1", row.label),
        None,
    );
    assert_ne!(
        before["data"]["data"]["api_key"],
        now["data"]["data"]["api_key"]
    );
    assert!(
        !held(
            &s,
            row.exchange,
            before["data"]["data"]["api_key"].as_str().unwrap()
        )
        .is_alive()
    );
}
