//! What the benchmarks share: the machine they ran on, the simulator and
//! `keyrevoke revoke` as child processes measured from outside (wall time,
//! and the CPU time and peak RSS `wait4` reports for the revoke process
//! alone), tables, plots, and the JSON results kept for the README.
//!
//! Every process runs on loopback; every wait has a deadline.

// Each benchmark uses a part of this module.
#![allow(dead_code)]

pub mod plot;
pub mod process;
pub mod table;

use serde_json::{Value, json};
use std::path::PathBuf;

/// The binary under test, built by cargo for this benchmark.
pub const BIN: &str = env!("CARGO_BIN_EXE_keyrevoke");

/// Whether cargo runs this target as a benchmark (`cargo bench` passes
/// `--bench`). Run any other way (`cargo test --all-targets` runs bench
/// targets once as tests) a benchmark does nothing: it takes minutes and
/// its figures are only meaningful in an optimized build.
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A number from the environment (`_` allowed as a digit separator), or
/// `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => parse_count(&v).unwrap_or_else(|| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// A comma-separated list of numbers from the environment, or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|n| parse_count(n).unwrap_or_else(|| panic!("{name}={v}: not a list of numbers")))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn parse_count(text: &str) -> Option<usize> {
    text.trim().replace('_', "").parse().ok()
}

/// Whether an environment flag is set to `1`.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// Print the machine (cores, CPU model, RAM) and return it for the results.
pub fn print_machine(bench: &str) -> Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_string(), |(_, v)| v.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_mb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    println!("== keyrevoke benchmark: {bench}");
    println!("machine: {cores} cores, {cpu}, {ram_mb} MB RAM");
    json!({ "cores": cores, "cpu": cpu, "ram_mb": ram_mb })
}

/// Where results go: `<target>/bench-results/`, the target folder being
/// `CARGO_TARGET_DIR` when set.
fn results_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench-results")
}

/// Write a benchmark's results as `<target>/bench-results/<name>.json`.
pub fn write_results(name: &str, results: &Value) {
    let dir = results_dir();
    let path = dir.join(format!("{name}.json"));
    let written = std::fs::create_dir_all(&dir).and_then(|_| {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(results).expect("JSON serializes"),
        )
    });
    match written {
        Ok(()) => println!("results: {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
}

/// Bytes in MiB, the unit `ps` and `top` show RSS in.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// End the benchmark: exit 1 when a case failed its correctness check (the
/// figures of a run that did not revoke every key mean nothing).
pub fn finish(failures: &[String]) {
    if failures.is_empty() {
        return;
    }
    println!();
    for f in failures {
        println!("FAILED: {f}");
    }
    std::process::exit(1);
}
