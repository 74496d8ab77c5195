//! Overhead ceiling: keyrevoke against the simulator with every rate limit
//! off (`keyrevoke sim --unlimited`, `revoke --no-rate-limits`), so what is
//! measured is keyrevoke's own cost per key, journal and audit on:
//! revocations per second end to end, CPU seconds per 1,000 keys and peak
//! RSS of the revoke process. Targets on 2 cores: at least 5,000
//! revocations/s, peak RSS under 150 MB at 100,000 keys.
//!
//! `cargo bench --bench overhead`; `KEYREVOKE_BENCH_KEYS=2000,5000` runs
//! other totals (default 20,000 and 100,000).

mod common;

use common::mib;
use common::process::{Sim, SimOptions};
use common::table::{Table, thousands};
use serde_json::json;
use std::time::Duration;

/// One exchange: Bybit, the one whose keys can delete themselves.
const ONE: &[&str] = &["bybit"];

/// Every exchange the simulator speaks on which an API deletes keys. Only
/// Bybit lets a key delete itself; elsewhere `--shape self` makes sub keys
/// that their masters delete, the one channel that needs no one else's
/// help. Coinbase is left out: no API deletes or disables a Coinbase key,
/// so its keys are only probed and escalated, which is not revocation.
const ALL: &[&str] = &["binance", "bybit", "okx", "kucoin"];

/// Killed past this: a run that slow has nothing left to measure.
const DEADLINE: Duration = Duration::from_secs(1800);

fn main() {
    if !common::benchmarking() {
        return;
    }
    let machine = common::print_machine("overhead (limits off)");
    let totals = common::env_list("KEYREVOKE_BENCH_KEYS", &[20_000, 100_000]);
    let mut table = Table::new(&[
        "exchanges",
        "keys",
        "wall s",
        "revocations/s",
        "CPU s per 1,000 keys",
        "peak RSS MiB",
        "requests",
        "requests/key",
        "sim CPU s",
    ]);
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    for exchanges in [ONE, ALL] {
        for &total in &totals {
            // `sim --keys N` makes N per exchange: split the total.
            let per_exchange = total / exchanges.len();
            let keys = per_exchange * exchanges.len();
            let what = format!(
                "{} x {}",
                exchanges.join("+"),
                thousands(per_exchange as u64)
            );
            println!("running: {what} ({} keys in all)", thousands(keys as u64));
            let options = SimOptions {
                exchanges,
                keys_per_exchange: per_exchange,
                shape: "self",
                subs_per_master: None,
                limits: false,
            };
            let measured = Sim::start(&options).and_then(|sim| {
                let run = sim.revoke("run", DEADLINE)?;
                let stats = sim.stats()?;
                Ok((run, stats, sim.stop()?))
            });
            let (run, stats, sim_cpu) = match measured {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{what}: {e}"));
                    continue;
                }
            };
            let deletes = Sim::total(&stats, "deletes");
            if let Some(why) = run.shortfall(keys) {
                failures.push(format!("{what}: {why}"));
            } else if deletes != keys as u64 {
                failures.push(format!(
                    "{what}: the simulator deleted {deletes} keys, not {keys}"
                ));
            }
            let wall = run.wall.as_secs_f64();
            let per_second = run.count("revoked") as f64 / wall;
            let cpu_per_thousand = run.cpu.as_secs_f64() / keys as f64 * 1000.0;
            let requests = Sim::total(&stats, "requests");
            let requests_per_key = requests as f64 / deletes.max(1) as f64;
            let label = if exchanges == ONE {
                "bybit".to_string()
            } else {
                format!("all {}", exchanges.len())
            };
            table.row(vec![
                label,
                thousands(keys as u64),
                format!("{wall:.2}"),
                format!("{per_second:.0}"),
                format!("{cpu_per_thousand:.3}"),
                format!("{:.1}", mib(run.peak_rss_bytes)),
                thousands(requests),
                format!("{requests_per_key:.2}"),
                format!("{:.1}", sim_cpu.as_secs_f64()),
            ]);
            cases.push(json!({
                "exchanges": exchanges,
                "keys": keys,
                "keys_per_exchange": per_exchange,
                "wall_s": wall,
                "revocations_per_s": per_second,
                "cpu_s": run.cpu.as_secs_f64(),
                "cpu_s_per_1000_keys": cpu_per_thousand,
                "peak_rss_mib": mib(run.peak_rss_bytes),
                "requests": requests,
                "requests_per_key": requests_per_key,
                "sim_cpu_s": sim_cpu.as_secs_f64(),
                "revoked": run.count("revoked"),
                "exit_code": run.exit_code,
            }));
        }
    }
    println!();
    println!(
        "all {}: {}, the total split evenly (keys per exchange = total / {0});",
        ALL.len(),
        ALL.join(", ")
    );
    println!("  Bybit's keys delete themselves, the others' are sub keys their masters delete.");
    table.print();
    println!("targets: >= 5,000 revocations/s; peak RSS < 150 MB at 100,000 keys");
    println!("sim CPU s: the simulator shares the machine; its CPU time (key generation included)");
    println!("  shows how much of the cores the revoke process had to itself.");
    common::write_results(
        "overhead",
        &json!({ "machine": machine, "cases": cases, "failures": failures }),
    );
    common::finish(&failures);
}
