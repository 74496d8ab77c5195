//! `keyrevoke worker`: join a job that `keyrevoke revoke` planned in a
//! PostgreSQL journal, from any machine, any number of times, and work on
//! it with the same executor. The journal holds no secret: a worker reads
//! keys (and their secrets) from the same inventory file, found by the byte
//! offsets the journal keeps, and credentials from its own config, so it
//! must be given the very inventory the job was planned from (checked by
//! its SHA-256).

use super::exit;
use super::registry;
use super::revoke::{Say, execute, load_config};
use super::source::InventorySource;
use super::summary::Summary;
use keyrevoke_audit::AuditLog;
use keyrevoke_core::inventory::Inventory;
use keyrevoke_core::{AuditEvent, AuditSink, JobStore};
use keyrevoke_executor::{Budgets, RunEnd};
use keyrevoke_journal::JournalSpec;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// A `postgres://…?job=NAME` URL.
    pub journal: String,
    pub config: PathBuf,
    /// Required to act on any key (see [`NO_INVENTORY`]); an `Option` so
    /// that its absence is explained rather than refused by the parser.
    pub inventory: Option<PathBuf>,
    /// Folder for this worker's audit trail.
    pub out: PathBuf,
    /// Stop once nothing is left to claim (else wait for more work).
    pub exit_when_idle: bool,
    pub json: bool,
    pub rate_limits: bool,
}

/// Why a worker cannot go without the inventory. Every call on a key needs
/// its full API key: a key deleting itself signs with its own key and
/// secret, and a master or broker deleting a sub key names that key in full
/// (Bybit `apikey`, Binance `subAccountApiKey`, OKX `apiKey`: each
/// connector's `src/endpoints.rs`). The journal keeps only the key's
/// SHA-256 fingerprint and masked form, never the key itself (DESIGN
/// "Journal"; even the escalation letter withholds it), and the config
/// holds only the credentials' own keys. So a worker
/// without the inventory could finish no key; it claims none, rather than
/// take keys it could only hand back or fail.
pub const NO_INVENTORY: &str = "--inventory is required: a worker reads every key of the job from the inventory the job was planned from. The journal holds no API key (only fingerprints and masked forms), and every call needs the full key, even a master's delete of a sub key, so without the inventory this worker could act on no key. It claims none and leaves the job to workers given the same inventory file as the `revoke` that planned it.";

/// How often an idle worker asks the journal for new work.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// Everything a worker needs before it sends anything; every problem is an
/// error that names what to fix, and nothing has been sent.
async fn join(opts: &WorkerOptions) -> Result<(Arc<dyn JobStore>, String, Inventory), String> {
    let Some(inventory_path) = &opts.inventory else {
        return Err(NO_INVENTORY.to_string());
    };
    let spec = JournalSpec::parse(&opts.journal).map_err(|e| e.to_string())?;
    if matches!(spec, JournalSpec::Sqlite(_)) {
        return Err(format!(
            "--journal {}: a worker joins a job in a PostgreSQL journal (postgres://…?job=NAME); a SQLite journal belongs to one process",
            opts.journal
        ));
    }
    let shown = spec.to_string();
    let store = spec.open().await.map_err(|e| e.to_string())?;
    let Some(planned) = store.planned_inventory().await.map_err(|e| e.to_string())? else {
        return Err(format!(
            "{shown}: no job was planned here; start it with `keyrevoke revoke --journal …` first"
        ));
    };
    let inventory =
        Inventory::open(inventory_path, &registry::exchanges()).map_err(|e| e.to_string())?;
    let ours = inventory
        .sha256()
        .map_err(|e| format!("{}: {e}", inventory_path.display()))?;
    if ours != planned {
        return Err(format!(
            "{}: not the inventory the job {shown} was planned from (SHA-256 {} here, {} in the journal); give every worker the same file",
            inventory_path.display(),
            &ours[..12],
            &planned[..planned.len().min(12)]
        ));
    }
    Ok((store, shown, inventory))
}

pub async fn run(opts: WorkerOptions) -> i32 {
    let say = Say { json: opts.json };
    let config = match load_config(Some(&opts.config)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    let senders = match registry::egress_connectors(&config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("config: {msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    let (store, shown, inventory) = match join(&opts).await {
        Ok(joined) => joined,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&opts.out) {
        eprintln!("cannot create {}: {e}", opts.out.display());
        return exit::COULD_NOT_RUN;
    }
    let audit_path = opts.out.join("audit.jsonl");
    let audit_log = match AuditLog::open(&audit_path, config.audit_signing_key.clone()) {
        Ok((log, _)) => Arc::new(log),
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    let note = AuditEvent::run_note;
    if let Err(e) = audit_log
        .append(note(format!("worker joined {shown}")))
        .await
    {
        eprintln!("{e}");
        return exit::COULD_NOT_RUN;
    }
    let source = Arc::new(InventorySource::new(inventory, &config));
    // One run's budgets: each round of work starts from what the last spent.
    let budgets = Budgets::default();
    let end = loop {
        let end = execute(
            &config,
            &senders,
            &budgets,
            store.clone(),
            audit_log.clone(),
            source.clone(),
            opts.rate_limits,
            false,
        )
        .await;
        if opts.exit_when_idle || end != RunEnd::Finished {
            break end;
        }
        match wait_for_work(store.as_ref()).await {
            Ok(true) => continue,
            Ok(false) => break RunEnd::Interrupted,
            Err(e) => break RunEnd::Fatal(e),
        }
    };
    let audit_ok = audit_log
        .append(note(format!("worker left: {end:?}")))
        .await
        .is_ok();
    if let Ok(log) = Arc::try_unwrap(audit_log) {
        let _ = log.close().await;
    }
    let summary = match store.counts().await {
        Ok(c) => Summary::from_counts(&c).with_requests(&registry::requests_sent(&senders)),
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    say.line(&summary.table());
    say.line(&format!("journal:     {shown}"));
    say.line(&format!("audit:       {}", audit_path.display()));
    if opts.json {
        println!("{}", summary.json());
    }
    match end {
        RunEnd::Fatal(msg) => {
            eprintln!("the worker stopped: {msg}");
            exit::COULD_NOT_RUN
        }
        _ if !audit_ok => exit::COULD_NOT_RUN,
        RunEnd::Interrupted => exit::INTERRUPTED,
        RunEnd::Finished => exit::OK,
    }
}

/// An idle worker waits for the job to gain work (another `revoke` pass);
/// false when stopped by a signal meanwhile.
async fn wait_for_work(store: &dyn JobStore) -> Result<bool, String> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(false),
            _ = term.recv() => return Ok(false),
        }
        if !store
            .exchanges_with_work()
            .await
            .map_err(|e| e.to_string())?
            .is_empty()
        {
            return Ok(true);
        }
    }
}
