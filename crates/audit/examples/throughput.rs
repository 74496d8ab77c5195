//! Measures group-commit throughput: many tasks appending at once, each
//! waiting for durability, on a two-worker runtime.
//!
//! `cargo run --release -p keyrevoke-audit --example throughput -- [records] [tasks] [dir]`

use keyrevoke_audit::{AuditLog, verify};
use keyrevoke_core::store::{AuditEvent, AuditKind, AuditSink};
use keyrevoke_core::{Action, ExchangeId, Fingerprint, Route, Secret, mask_key};
use std::sync::Arc;
use std::time::Instant;

fn event(i: usize) -> AuditEvent {
    let api_key = format!("AKIAIOSFODNN7EXAMPLE{i:08}");
    AuditEvent {
        kind: Some(AuditKind::Attempt),
        exchange: Some(ExchangeId::new("bybit")),
        key: Some(mask_key(&api_key)),
        fingerprint: Some(Fingerprint::of(&api_key).short().to_string()),
        action: Some(Action::Revoke),
        channel: Some("delete".to_string()),
        route: Some(Route::DeleteSelf),
        http_status: Some(200),
        exchange_code: Some("0".to_string()),
        outcome: Some("revoked".to_string()),
        message: Some("api key deleted".to_string()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let records: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(300_000);
    let tasks: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let path = dir.path().join("audit.jsonl");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let elapsed = runtime.block_on(async {
        let (log, _) = AuditLog::open(&path, Some(Secret::from("bench-signing-key")))?;
        let log = Arc::new(log);
        let start = Instant::now();
        let workers: Vec<_> = (0..tasks)
            .map(|t| {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    for i in (t..records).step_by(tasks) {
                        log.append(event(i)).await?;
                    }
                    Ok::<_, keyrevoke_core::StoreError>(())
                })
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        let elapsed = start.elapsed();
        let log = Arc::try_unwrap(log).map_err(|_| "log still shared")?;
        log.close().await?;
        Ok::<_, Box<dyn std::error::Error>>(elapsed)
    })?;

    let size = std::fs::metadata(&path)?.len();
    let verify_start = Instant::now();
    let report = verify(&path, Some(&Secret::from("bench-signing-key")))?;
    let verify_elapsed = verify_start.elapsed();
    assert_eq!(report.records, records as u64);
    println!(
        "{records} durable signed records from {tasks} tasks in {:.2?}: {:.0} records/s ({:.1} MB, {} bytes/record); verify: {:.0} records/s",
        elapsed,
        records as f64 / elapsed.as_secs_f64(),
        size as f64 / 1e6,
        size / records as u64,
        records as f64 / verify_elapsed.as_secs_f64(),
    );
    Ok(())
}
