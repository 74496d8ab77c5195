//! Past one process and one address: keys per second of one job shared by
//! 1, 2 and 4 processes through a PostgreSQL journal (limits off:
//! keyrevoke's own scaling, Bybit keys deleting themselves), and of one
//! process sending from 1, 2 and 4 loopback addresses with the documented
//! limits on (the per-IP bound: Bybit allows 600 requests per 5 s per
//! address, bybit-exchange.github.io/docs/v5/rate-limit).
//!
//! `KEYREVOKE_BENCH_PG_URL=postgres://… cargo bench --bench workers` (or
//! `KEYREVOKE_TEST_PG_URL`); without one, only the egress part runs.
//! `KEYREVOKE_BENCH_KEYS` sets the keys of the workers part (default
//! 2,000: the PostgreSQL path runs at about a hundred keys a second per
//! process on a 2-core machine, and slower as the job grows, so 20,000
//! would take most of the run's deadline), `KEYREVOKE_BENCH_EGRESS_KEYS`
//! those of the egress part (2,400).
//!
//! Every process it starts is killed when its case ends, whatever happens
//! ([`Workers`]), and every wait has a deadline: a case that goes wrong
//! fails, it does not hang the run.

mod common;

use common::process::{RevokeRun, Sim, SimOptions};
use common::table::{Table, thousands};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A run this slow has nothing left to measure: killed.
const DEADLINE: Duration = Duration::from_secs(300);
/// How long the workers may take to notice the job is done once the
/// `revoke` that waited for it has ended (they poll the journal).
const WORKERS_GRACE: Duration = Duration::from_secs(30);
/// How long a `revoke` may take to plan its job before the workers give up
/// waiting to join it.
const PLANNING: Duration = Duration::from_secs(120);

fn main() {
    if !common::benchmarking() {
        return;
    }
    let machine = common::print_machine("workers and egress addresses");
    let mut failures = Vec::new();
    let mut cases = Vec::new();
    let url = std::env::var("KEYREVOKE_BENCH_PG_URL")
        .or_else(|_| std::env::var("KEYREVOKE_TEST_PG_URL"))
        .ok();
    match url {
        Some(url) => {
            let keys = common::env_usize("KEYREVOKE_BENCH_KEYS", 2_000);
            let mut table = Table::new(&["processes", "keys", "wall s", "keys/s"]);
            for processes in [1, 2, 4] {
                println!("running: {processes} processes on one job, limits off");
                match shared_job(&url, keys, processes) {
                    Ok(run) => {
                        let wall = run.wall.as_secs_f64();
                        table.row(vec![
                            processes.to_string(),
                            thousands(keys as u64),
                            format!("{wall:.2}"),
                            format!("{:.0}", keys as f64 / wall),
                        ]);
                        cases.push(json!({"part": "workers", "processes": processes,
                            "keys": keys, "wall_s": wall, "keys_per_s": keys as f64 / wall}));
                    }
                    Err(e) => failures.push(format!("{processes} processes: {e}")),
                }
            }
            println!();
            table.print();
            println!();
        }
        None => println!("no KEYREVOKE_BENCH_PG_URL: the workers part is skipped"),
    }

    let keys = common::env_usize("KEYREVOKE_BENCH_EGRESS_KEYS", 2_400);
    let mut table = Table::new(&["addresses", "keys", "wall s", "keys/s", "refused"]);
    for addresses in [1u8, 2, 4] {
        println!("running: {addresses} egress addresses, limits on");
        match from_addresses(keys, addresses) {
            Ok((run, refused)) => {
                let wall = run.wall.as_secs_f64();
                table.row(vec![
                    addresses.to_string(),
                    thousands(keys as u64),
                    format!("{wall:.2}"),
                    format!("{:.0}", keys as f64 / wall),
                    refused.to_string(),
                ]);
                cases.push(
                    json!({"part": "egress", "addresses": addresses, "keys": keys,
                    "wall_s": wall, "keys_per_s": keys as f64 / wall, "refused": refused}),
                );
            }
            Err(e) => failures.push(format!("{addresses} addresses: {e}")),
        }
    }
    println!();
    table.print();
    common::write_results(
        "workers",
        &json!({ "machine": machine, "cases": cases, "failures": failures }),
    );
    common::finish(&failures);
}

/// One job of `keys` in PostgreSQL: a `revoke` and `processes - 1` workers
/// started as soon as it is planned. The revoke's run is the job's: it
/// ends when the whole job does, whoever did the work.
fn shared_job(url: &str, keys: usize, processes: usize) -> Result<RevokeRun, String> {
    let sim = Sim::start(&SimOptions {
        exchanges: &["bybit"],
        keys_per_exchange: keys,
        shape: "self",
        subs_per_master: None,
        limits: false,
    })?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let journal = format!("{url}?job=bench-workers-{processes}-{nanos}");
    let out = sim.run_dir("revoke");
    // `Sim::command` already turns the client's limiter off (limits off).
    let mut revoke = sim.command("revoke", &out);
    revoke.args(["--journal", &journal]);
    let workers: Vec<Command> = (1..processes)
        .map(|n| {
            let mut w = sim.command("worker", &sim.run_dir(&format!("worker-{n}")));
            w.args(["--journal", &journal, "--exit-when-idle"]);
            w
        })
        .collect();
    let revoke_ended = Arc::new(AtomicBool::new(false));
    let joining = {
        let (journal, revoke_ended) = (journal.clone(), revoke_ended.clone());
        std::thread::spawn(move || Workers::start_when_planned(&journal, workers, &revoke_ended))
    };
    let run = RevokeRun::measure(revoke, &out, DEADLINE);
    revoke_ended.store(true, Ordering::Relaxed);
    let workers = joining
        .join()
        .map_err(|_| "the thread starting the workers panicked".to_string())?;
    let run = run?;
    let worker_failures = workers?.wait(WORKERS_GRACE);
    if let Some(why) = run.shortfall(keys) {
        return Err(why);
    }
    if !worker_failures.is_empty() {
        return Err(worker_failures.join("; "));
    }
    Ok(run)
}

/// Worker processes, killed (and reaped) when dropped: a case that fails
/// half way leaves none behind.
struct Workers(Vec<Child>);

impl Workers {
    /// Start `commands` once the job is planned (a worker refuses to join
    /// a job that is not); gives up when the `revoke` has ended or after
    /// [`PLANNING`].
    fn start_when_planned(
        journal: &str,
        commands: Vec<Command>,
        revoke_ended: &AtomicBool,
    ) -> Result<Workers, String> {
        let mut workers = Workers(Vec::new());
        if commands.is_empty() {
            return Ok(workers);
        }
        let deadline = Instant::now() + PLANNING;
        while !planned(journal)? {
            if revoke_ended.load(Ordering::Relaxed) {
                return Err("the revoke ended before its job was planned".into());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the job was not planned within {} s",
                    PLANNING.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for mut command in commands {
            // Their summaries are not needed; a pipe nobody reads could
            // stall them.
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let child = command.spawn().map_err(|e| format!("a worker: {e}"))?;
            workers.0.push(child);
        }
        Ok(workers)
    }

    /// Wait up to `grace` for every worker to exit; what went wrong with
    /// any (a failure exit, still running: then killed on drop).
    fn wait(mut self, grace: Duration) -> Vec<String> {
        let deadline = Instant::now() + grace;
        let mut failures = Vec::new();
        for (n, child) in self.0.iter_mut().enumerate() {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => break,
                    Ok(Some(status)) => {
                        failures.push(format!("worker {} exited with {status}", n + 1));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Ok(None) => {
                        failures.push(format!(
                            "worker {} still running {} s after the job ended: killed",
                            n + 1,
                            grace.as_secs()
                        ));
                        break;
                    }
                    Err(e) => {
                        failures.push(format!("worker {}: {e}", n + 1));
                        break;
                    }
                }
            }
        }
        failures
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            // An exited child is reaped by `wait`; a running one is killed.
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Whether the job in `journal` has its keys (`keyrevoke status`, itself
/// bounded by the journal's own connection timeouts).
fn planned(journal: &str) -> Result<bool, String> {
    let status = Command::new(common::BIN)
        .args(["status", "--journal", journal, "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("keyrevoke status: {e}"))?;
    Ok(serde_json::from_slice::<serde_json::Value>(&status.stdout)
        .ok()
        .and_then(|v| v["total"].as_u64())
        .is_some_and(|total| total > 0))
}

/// One `revoke` of `keys` self-deleting Bybit keys at the documented limits,
/// sending from `addresses` loopback addresses (127.0.0.2, …), and the
/// requests the simulator refused for a rate limit.
fn from_addresses(keys: usize, addresses: u8) -> Result<(RevokeRun, u64), String> {
    let sim = Sim::start(&SimOptions {
        exchanges: &["bybit"],
        keys_per_exchange: keys,
        shape: "self",
        subs_per_master: None,
        limits: true,
    })?;
    let list: Vec<String> = (0..addresses)
        .map(|i| format!("\"127.0.0.{}\"", i + 2))
        .collect();
    let mut config = std::fs::read_to_string(&sim.config).map_err(|e| e.to_string())?;
    config.push_str(&format!("\n[executor]\negress = [{}]\n", list.join(", ")));
    std::fs::write(&sim.config, config).map_err(|e| e.to_string())?;
    let out = sim.run_dir("revoke");
    let run = RevokeRun::measure(sim.command("revoke", &out), &out, DEADLINE)?;
    if let Some(why) = run.shortfall(keys) {
        return Err(why);
    }
    let refused = Sim::total(&sim.stats()?, "rate_limited");
    Ok((run, refused))
}
