//! Shared scaffolding for end-to-end tests: a simulator in this process, the
//! real `keyrevoke` binary against it.

#![allow(dead_code)]

pub mod private_pg;

use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;
use keyrevoke::sim::{SimConfig, SimHandle};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyrevoke");

pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    pub population: Population,
}

impl Scenario {
    /// A breach-shaped population of `keys` keys on `exchanges`, loaded into
    /// a simulator that enforces the documented limits.
    pub async fn breach(exchanges: &[ExchangeId], keys: usize, seed: u64) -> Scenario {
        Scenario::with_population(exchanges, Population::breach(exchanges, keys, seed)).await
    }

    pub async fn with_population(exchanges: &[ExchangeId], population: Population) -> Scenario {
        let sim = keyrevoke::sim::start(SimConfig {
            exchanges: exchanges.to_vec(),
            ip_ban: Duration::from_secs(2),
            ..SimConfig::default()
        })
        .await
        .expect("the simulator starts");
        population.load_into(&sim);
        let dir = tempfile::tempdir().expect("a temp dir");
        population
            .write_inventory(&dir.path().join("inventory.csv"))
            .unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            population.config_toml(&sim.urls),
        )
        .unwrap();
        Scenario {
            dir,
            sim,
            population,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// The revoke command line for this scenario.
    pub fn revoke_args(&self) -> Vec<String> {
        revoke_args_in(self.dir.path(), &[])
    }

    pub async fn revoke(&self) -> Output {
        run(&self.revoke_args()).await
    }

    /// Every secret and passphrase of the population.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for keys in self.population.keys.values() {
            for k in keys {
                out.push(k.secret.clone());
                if let Some(p) = &k.passphrase {
                    out.push(p.clone());
                }
            }
        }
        out
    }

    pub fn requests(&self, x: ExchangeId) -> u64 {
        self.sim.exchange(x).stats.snapshot().requests
    }
}

/// `revoke` on the inventory and config written in `dir` (see
/// [`write_inputs`]), into `dir/out`, unattended, with a JSON summary, then
/// `extra`.
pub fn revoke_args_in(dir: &Path, extra: &[&str]) -> Vec<String> {
    let path = |name: &str| dir.join(name).display().to_string();
    let mut args: Vec<String> = vec![
        "revoke".into(),
        "--inventory".into(),
        path("inventory.csv"),
        "--config".into(),
        path("config.toml"),
        "--out".into(),
        path("out"),
        "--yes".into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

pub async fn run(args: &[String]) -> Output {
    run_with_env(args, &[]).await
}

/// As [`run`], with `env` added to the environment (a config's `env:`
/// secrets, say).
pub async fn run_with_env(args: &[String], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("KEYREVOKE_BYBIT_URL")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}

/// The `--json` summary: the last line of stdout.
pub fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no stdout; stderr was:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {last}"))
}

/// The summary's outcome counts only: without what the run spent
/// (`requests`, `requests_per_key`), which differs between runs that end
/// the same way.
pub fn outcomes(out: &Output) -> serde_json::Value {
    let mut sum = summary(out);
    let strip = |t: &mut serde_json::Value| {
        if let Some(t) = t.as_object_mut() {
            t.remove("requests");
            t.remove("requests_per_key");
        }
    };
    strip(&mut sum);
    if let Some(by) = sum["by_exchange"].as_object_mut() {
        by.values_mut().for_each(strip);
    }
    sum
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir`, read as bytes.
pub fn artifacts(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A simulator with its limits off and `faults` on every exchange.
pub async fn faulty_sim(
    exchanges: &[ExchangeId],
    faults: keyrevoke::sim::faults::Faults,
) -> SimHandle {
    keyrevoke::sim::start(SimConfig {
        exchanges: exchanges.to_vec(),
        limits: false,
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

/// Write `population`'s inventory and a config for `sim` into `dir`, with
/// extra config text appended (e.g. a shorter request timeout).
pub fn write_inputs(dir: &Path, population: &Population, sim: &SimHandle, extra_config: &str) {
    population
        .write_inventory(&dir.join("inventory.csv"))
        .unwrap();
    let config = population.config_toml(&sim.urls) + extra_config;
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

/// Keys still alive on the simulator, by exchange, sorted.
pub fn alive_keys(sim: &SimHandle) -> Vec<(ExchangeId, String)> {
    let mut out = Vec::new();
    for (x, s) in &sim.exchanges {
        for k in s.keys.filter(|k| k.is_alive()) {
            out.push((*x, k.api_key));
        }
    }
    out.sort();
    out
}

/// No key was asked to be deleted again once a request had deleted it (the
/// simulator refuses such a request, and only its per-key count sees it),
/// and every deletion performed came from a counted request.
#[track_caller]
pub fn assert_no_key_asked_to_delete_twice(sim: &SimHandle) {
    for (x, s) in &sim.exchanges {
        let stats = s.stats.snapshot();
        assert!(
            stats.keys_asked_to_delete_more_than_once.is_empty(),
            "{x}: keys asked to be deleted more than once (key: requests): {:?}",
            stats.keys_asked_to_delete_more_than_once
        );
        assert!(
            stats.delete_requests >= stats.deletes,
            "{x}: {} deletions performed, only {} deletion requests counted",
            stats.deletes,
            stats.delete_requests
        );
    }
}

/// What in a report.html would reach the network or run code: an address
/// with a scheme, any `src=`, `href=`, CSS `url(` or `@import`, a script.
/// Empty for a page that opens from a USB stick on an air-gapped laptop.
pub fn network_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    [
        "http://", "https://", "//", "src=", "href=", "url(", "@import", "<script", "<link",
        "<img", "<iframe", "<object",
    ]
    .iter()
    .filter_map(|needle| {
        let at = lower.find(needle)?;
        let from = lower[..at]
            .char_indices()
            .rev()
            .nth(40)
            .map_or(0, |(i, _)| i);
        let to = (at + 60).min(html.len());
        Some(format!(
            "{needle}: …{}…",
            html.get(from..to).unwrap_or(needle)
        ))
    })
    .collect()
}

/// `report.json` in `dir`, parsed.
pub fn report_json(dir: &Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The run, sent `signal` mid-way, stops with exit 130 and a resumable job.
pub async fn stops_cleanly_on(signal: libc::c_int, seed: u64) {
    let s = Scenario::breach(&[ExchangeId::new("bybit")], 600, seed).await;
    let child = tokio::process::Command::new(BIN)
        .args(s.revoke_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s
        .sim
        .exchange(ExchangeId::new("bybit"))
        .stats
        .snapshot()
        .deletes
        < 30
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, signal) };
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", describe(&out));
    let interrupted = summary(&out);
    assert!(
        interrupted["pending"].as_u64().unwrap() > 0,
        "stopped before the end: {interrupted}"
    );

    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    assert_eq!(sum["pending"], 0, "{sum}");
    assert_eq!(sum["total"], s.population.rows.len() as u64);
    let deletes = s
        .sim
        .exchange(ExchangeId::new("bybit"))
        .stats
        .snapshot()
        .deletes;
    assert_eq!(
        deletes,
        sum["revoked"].as_u64().unwrap(),
        "no key deleted twice"
    );
}
