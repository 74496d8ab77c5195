//! Scaling: time and memory of one revoke run as the inventory grows, limits
//! off, one exchange (Bybit, keys deleting themselves): 1k, 10k and 100k
//! keys, and 1M with `KEYREVOKE_BENCH_MILLION=1` (off by default: the
//! simulator, on the same machine, then holds a million keys as well).
//! Memory should stay flat: the journal holds the job, not the process.
//!
//! `cargo bench --bench scaling`; `KEYREVOKE_BENCH_KEYS=1000,5000` runs
//! other sizes.

mod common;

use common::mib;
use common::plot::against_keys;
use common::process::{Sim, SimOptions};
use common::table::{Table, thousands};
use serde_json::json;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(3600);

fn main() {
    if !common::benchmarking() {
        return;
    }
    let machine = common::print_machine("scaling (limits off, bybit)");
    let mut sizes = common::env_list("KEYREVOKE_BENCH_KEYS", &[1_000, 10_000, 100_000]);
    if common::env_flag("KEYREVOKE_BENCH_MILLION") {
        sizes.push(1_000_000);
    }
    let mut table = Table::new(&["keys", "wall s", "keys/s", "CPU s", "peak RSS MiB"]);
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    let mut time_points = Vec::new();
    let mut rss_points = Vec::new();
    for &keys in &sizes {
        println!("running: {} keys", thousands(keys as u64));
        let measured = Sim::start(&SimOptions {
            exchanges: &["bybit"],
            keys_per_exchange: keys,
            shape: "self",
            subs_per_master: None,
            limits: false,
        })
        .and_then(|sim| sim.revoke("run", DEADLINE));
        let run = match measured {
            Ok(run) => run,
            Err(e) => {
                failures.push(format!("{keys} keys: {e}"));
                continue;
            }
        };
        if let Some(why) = run.shortfall(keys) {
            failures.push(format!("{keys} keys: {why}"));
        }
        let wall = run.wall.as_secs_f64();
        let rss = mib(run.peak_rss_bytes);
        table.row(vec![
            thousands(keys as u64),
            format!("{wall:.2}"),
            format!("{:.0}", keys as f64 / wall),
            format!("{:.2}", run.cpu.as_secs_f64()),
            format!("{rss:.1}"),
        ]);
        time_points.push((keys as f64, wall));
        rss_points.push((keys as f64, rss));
        cases.push(json!({
            "keys": keys,
            "wall_s": wall,
            "keys_per_s": keys as f64 / wall,
            "cpu_s": run.cpu.as_secs_f64(),
            "peak_rss_mib": rss,
            "exit_code": run.exit_code,
        }));
    }
    println!();
    table.print();
    println!();
    print!("{}", against_keys("wall time", "s", &time_points));
    println!();
    print!("{}", against_keys("peak RSS", "MiB", &rss_points));
    common::write_results(
        "scaling",
        &json!({ "machine": machine, "cases": cases, "failures": failures }),
    );
    common::finish(&failures);
}
