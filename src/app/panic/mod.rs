//! `keyrevoke panic`: every credential of the config lists the keys under
//! it (its sub accounts' keys), the keys found become the job, journaled as
//! they are found, and the same executor, journal and audit as `revoke`
//! neutralize them, all but the spared ones. The credentials themselves are
//! never touched, unless `--include-self`, and then last.

mod discovery_log;
mod plan;
mod source;

use super::escalation;
use super::exit::{self, could_not_run as fail};
use super::plan::Planner;
use super::registry;
use super::revoke::{self, RevokeOptions, Say};
use super::source::InventorySource;
use super::summary::Summary;
use discovery_log::DiscoveryLog;
use keyrevoke_audit::AuditLog;
use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::{Inventory, Row};
use keyrevoke_core::{
    AuditEvent, AuditSink, Connector, Credential, ExchangeId, JobStore, Route, mask_key,
};
use keyrevoke_executor::discover::ListError;
use keyrevoke_executor::progress::Progress;
use keyrevoke_executor::{
    Budgets, CancellationToken, Executor, KeySource, Parts, RunEnd, Settings,
};
use plan::{CredentialPlan, PanicPlan, ShownKey};
use serde::Serialize;
use source::PanicSource;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// The credentials' own rows (`--include-self`): no secret, the config
/// holds those.
const CREDENTIALS_FILE: &str = "credentials.jsonl";

#[derive(Clone, Debug)]
pub struct PanicOptions {
    /// Journal, audit, report and escalation files, like `revoke`'s; the
    /// inventory and config fields of `run` are unused but `config`.
    pub run: RevokeOptions,
    /// Keys to leave alone: their API key or their exchange label.
    pub spare: Vec<String>,
    pub include_self: bool,
    /// Material for discovered keys (a KuCoin sub key's passphrase, say).
    pub inventory: Option<PathBuf>,
}

type Connectors = BTreeMap<ExchangeId, Arc<dyn Connector>>;

/// The `--json` summary: `revoke`'s, plus what discovery found.
#[derive(Serialize)]
struct PanicSummary<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    /// Every key found, spared ones included (masked).
    discovered: Vec<ShownKey>,
    spared: Vec<ShownKey>,
    /// Credentials whose keys could not be listed, and why (no list
    /// endpoint: the page where the user sees them).
    not_discovered: BTreeMap<String, String>,
    /// What became of each credential itself.
    credentials: BTreeMap<String, String>,
}

pub async fn run(opts: PanicOptions) -> i32 {
    let say = Say {
        json: opts.run.json,
    };
    let config = match revoke::load_config(opts.run.config.as_ref()) {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    if config.credentials.is_empty() {
        return fail(
            "the config names no credential: panic lists the keys under the credentials of [credentials.*]",
        );
    }
    let senders = match registry::egress_connectors(&config) {
        Ok(c) => c,
        Err(msg) => return fail(format!("config: {msg}")),
    };
    let connectors = registry::first_of(&senders);
    if let Some(name) = config
        .credentials
        .values()
        .find(|c| !connectors.contains_key(&c.exchange))
        .map(|c| c.name.clone())
    {
        return fail(format!(
            "config: credential `{name}`: keyrevoke has no connector for its exchange"
        ));
    }
    let material = match opts.inventory.as_ref().map(|p| material_index(p)) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(problems)) => {
            return fail(format!(
                "{problems}\nthe inventory given with --inventory is invalid; nothing was sent"
            ));
        }
    };
    let out = &opts.run.out;
    let (store, audit_log) = match opts.run.open_evidence(&config).await {
        Ok(opened) => opened,
        Err(e) => return fail(e),
    };
    let credentials: Vec<Arc<Credential>> = config.credentials.values().cloned().collect();
    let panic_source = Arc::new(PanicSource::new(credentials.clone(), material));

    // 1. Discovery, journaled page by page.
    let names: Vec<String> = credentials
        .iter()
        .filter(|c| connectors[&c.exchange].can_discover())
        .map(|c| c.name.clone())
        .collect();
    let log = match DiscoveryLog::open_with(out, &names, store.clone()).await {
        Ok(l) => l,
        Err(e) => return fail(format!("discovery journal in {}: {e}", out.display())),
    };
    let note = AuditEvent::run_note;
    if let Err(e) = audit_log
        .append(note(format!(
            "panic started: {} credentials list their keys",
            names.len()
        )))
        .await
    {
        return fail(e);
    }
    // One run's budgets: the listings' spending, and any stop an exchange
    // ordered while listing, hold for the revocations that follow.
    let budgets = Budgets::default();
    let (log, not_discovered, end) = discover(
        &config,
        &senders,
        &budgets,
        &credentials,
        log,
        store.clone(),
        audit_log.clone(),
        panic_source.clone(),
        opts.run.rate_limits,
    )
    .await;
    if end != RunEnd::Finished {
        let _ = audit_log
            .append(note(format!("panic stopped while listing: {end:?}")))
            .await;
        return match end {
            RunEnd::Fatal(msg) => fail(format!("the run stopped: {msg}")),
            _ => {
                eprintln!("interrupted while listing keys: run the same command again to resume");
                exit::INTERRUPTED
            }
        };
    }

    // 2. The plan: keys found per credential, spared, channel tried first.
    let discovered_source = match Inventory::open(log.keys_path(), &registry::exchanges()) {
        Ok(i) => Arc::new(InventorySource::new(i, &config)),
        Err(e) => return fail(e),
    };
    panic_source.set_discovered(discovered_source.clone());
    let is_spared = |row: &Row| {
        opts.spare
            .iter()
            .any(|s| *s == row.api_key || row.label.as_deref() == Some(s.as_str()))
    };
    let complete = |job: &mut keyrevoke_core::KeyJob| panic_source.complete(job);
    let planner = Planner {
        source: &discovered_source,
        connectors: &connectors,
        skip: Some(&is_spared),
        complete: Some(&complete),
    };
    let (plan, discovered, spared) = match build_plan(&planner, &credentials, &connectors, &opts) {
        Ok(p) => p,
        Err(problems) => return fail(problems),
    };
    let mut plan = plan;
    if !plan.unmatched_spares.is_empty() {
        // A mistyped --spare would revoke the key it meant to keep.
        return fail(format!(
            "--spare {}: no key found under the credentials has this API key or label; nothing was revoked (the keys found are in {})",
            plan.unmatched_spares.join(", --spare "),
            log.keys_path().display()
        ));
    }
    for (name, why) in &not_discovered {
        plan.by_credential
            .entry(name.clone())
            .or_default()
            .not_listed = Some(why.clone());
    }
    say.line(&plan.render());
    if opts.run.dry_run {
        say.line("--dry-run: keys listed (read-only calls), nothing revoked.");
        return exit::OK;
    }
    if !opts.run.yes && !revoke::confirm() {
        return fail("not confirmed; nothing revoked");
    }

    // 3. The job: every discovered key but the spared ones, then the
    //    credentials themselves with --include-self.
    let stats = match planner.enqueue(store.as_ref()).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if stats.resumed > 0 {
        say.line(&format!(
            "resuming: {} keys already in the journal",
            stats.resumed
        ));
    }
    let source: Arc<dyn KeySource> = panic_source.clone();
    let mut end = revoke::execute(
        &config,
        &senders,
        &budgets,
        store.clone(),
        audit_log.clone(),
        source.clone(),
        opts.run.rate_limits,
        opts.run.triage,
    )
    .await;
    if opts.include_self && end == RunEnd::Finished {
        end = match enqueue_credentials(&opts, &config, &connectors, store.as_ref(), &panic_source)
            .await
        {
            Ok(()) => {
                revoke::execute(
                    &config,
                    &senders,
                    &budgets,
                    store.clone(),
                    audit_log.clone(),
                    source,
                    opts.run.rate_limits,
                    opts.run.triage,
                )
                .await
            }
            Err(e) => RunEnd::Fatal(e),
        };
    }

    // 4. Escalations, audit, report, summary: as `revoke`.
    let counts = store.counts().await;
    let written = escalation::write(&opts.run.escalation_dir(), store.as_ref(), &connectors).await;
    let ended = revoke::close_and_report(
        &opts.run,
        &config,
        store.as_ref(),
        audit_log,
        &connectors,
        format!("panic ended: {end:?}"),
    )
    .await;
    let summary = match counts {
        Ok(c) => Summary::from_counts(&c).with_requests(&registry::requests_sent(&senders)),
        Err(e) => return fail(e),
    };
    say.line(&summary.table());
    say.line(&format!(
        "discovered:  {} keys ({} spared) in {}",
        discovered.len(),
        spared.len(),
        log.keys_path().display()
    ));
    for (name, why) in &not_discovered {
        say.line(&format!("not listed:  {name}: {why}"));
    }
    for (name, what) in &plan.credentials {
        say.line(&format!("credential:  {name}: {what}"));
    }
    say.evidence(&opts.run, &ended, Some(&written));
    if opts.run.json {
        let json = PanicSummary {
            summary: &summary,
            discovered,
            spared,
            not_discovered: not_discovered.clone(),
            credentials: plan.credentials.clone(),
        };
        println!(
            "{}",
            serde_json::to_string(&json).expect("a summary serializes")
        );
    }
    match end {
        RunEnd::Fatal(msg) => fail(format!("the run stopped: {msg}")),
        _ if !ended.audit_ok => exit::COULD_NOT_RUN,
        RunEnd::Interrupted => exit::INTERRUPTED,
        RunEnd::Finished
            if summary.all.needs_human()
                || summary.all.pending > 0
                || !not_discovered.is_empty() =>
        {
            exit::NEEDS_HUMAN
        }
        RunEnd::Finished => exit::OK,
    }
}

/// Every credential lists its pages, concurrently across credentials, each
/// page recorded before the next is asked for. Returns the journal, why
/// some credentials listed nothing (or not everything), and how it ended.
#[allow(clippy::too_many_arguments)]
async fn discover(
    config: &Config,
    senders: &BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
    budgets: &Budgets,
    credentials: &[Arc<Credential>],
    log: DiscoveryLog,
    store: Arc<dyn JobStore>,
    audit: Arc<AuditLog>,
    source: Arc<PanicSource>,
    rate_limits: bool,
) -> (DiscoveryLog, BTreeMap<String, String>, RunEnd) {
    let cancel = CancellationToken::new();
    revoke::cancel_on_signals(cancel.clone());
    let interrupted = cancel.clone();
    let mut settings = Settings::from_config(config);
    settings.rate_limits = rate_limits;
    let audit_sink: Arc<dyn AuditSink> = audit;
    let connectors = &registry::first_of(senders);
    let exec = Executor::new(Parts {
        connectors: connectors.clone(),
        // Listings go out through each exchange's first connector and
        // spend its first address's budgets; the revocations that follow
        // send from every address, within the same budgets.
        egress: senders.clone(),
        config,
        settings,
        store,
        audit: audit_sink,
        source,
        progress: Arc::new(Progress::new(&BTreeMap::new())),
        cancel,
        budgets: budgets.clone(),
    });
    let log = tokio::sync::Mutex::new(log);
    let mut not_listed = BTreeMap::new();
    let listings = credentials.iter().map(|cred| {
        let (exec, log) = (&exec, &log);
        async move {
            let conn = &connectors[&cred.exchange];
            if !conn.can_discover() {
                let page = conn.escalation_contact().api_management_page;
                return (
                    cred.name.clone(),
                    Listed::Not(format!(
                        "{} has no API that lists keys: see them at {page}",
                        cred.exchange
                    )),
                );
            }
            loop {
                let Some(request) = log.lock().await.next_page(&cred.name) else {
                    return (cred.name.clone(), Listed::All);
                };
                match exec.list_page(cred, &request).await {
                    Ok(page) => {
                        let recorded = log
                            .lock()
                            .await
                            .record(&cred.name, cred.exchange, &request, &page)
                            .await;
                        if let Err(e) = recorded {
                            let why = format!("cannot journal discovery: {e}");
                            return (cred.name.clone(), Listed::Stopped(RunEnd::Fatal(why)));
                        }
                    }
                    Err(ListError::Refused(f)) => {
                        return (
                            cred.name.clone(),
                            Listed::Not(format!("listing {} refused: {f}", request.describe())),
                        );
                    }
                    Err(ListError::Stopped(end)) => {
                        return (cred.name.clone(), Listed::Stopped(end));
                    }
                }
            }
        }
    });
    let results = futures::future::join_all(listings).await;
    let mut end = RunEnd::Finished;
    for (name, listed) in results {
        match listed {
            Listed::All => {}
            Listed::Not(why) => {
                not_listed.insert(name, why);
            }
            Listed::Stopped(RunEnd::Fatal(msg)) => end = RunEnd::Fatal(msg),
            Listed::Stopped(_) if matches!(end, RunEnd::Fatal(_)) => {}
            Listed::Stopped(_) => end = RunEnd::Interrupted,
        }
    }
    if interrupted.is_cancelled() && end == RunEnd::Finished {
        end = RunEnd::Interrupted;
    }
    (log.into_inner(), not_listed, end)
}

/// How one credential's listing ended.
enum Listed {
    /// Every page listed and journaled.
    All,
    /// Nothing (more) could be listed: why.
    Not(String),
    /// The run stopped.
    Stopped(RunEnd),
}

/// The plan, and every key found (masked), and the spared ones.
fn build_plan(
    planner: &Planner<'_>,
    credentials: &[Arc<Credential>],
    connectors: &Connectors,
    opts: &PanicOptions,
) -> Result<(PanicPlan, Vec<ShownKey>, Vec<ShownKey>), String> {
    let mut plan = PanicPlan::default();
    for c in credentials {
        plan.by_credential.insert(
            c.name.clone(),
            CredentialPlan {
                exchange: Some(c.exchange),
                ..CredentialPlan::default()
            },
        );
    }
    let (mut discovered, mut spared) = (Vec::new(), Vec::new());
    let mut matched = std::collections::HashSet::new();
    let rows = planner
        .source
        .inventory()
        .rows()
        .map_err(|e| e.to_string())?;
    for row in rows {
        let p = planner.plan_row(row).map_err(|e| e.join("\n"))?;
        let shown = ShownKey {
            exchange: p.row.exchange,
            key: mask_key(&p.row.api_key),
            account: p.row.account.clone(),
            credential: p.row.via.clone(),
            label: p.row.label.clone(),
        };
        for s in &opts.spare {
            if *s == p.row.api_key || p.row.label.as_deref() == Some(s.as_str()) {
                matched.insert(s.clone());
            }
        }
        let entry = plan
            .by_credential
            .entry(p.row.via.clone().unwrap_or_default())
            .or_default();
        entry.found += 1;
        if planner.skip.is_some_and(|skip| skip(&p.row)) {
            entry.spared += 1;
            spared.push(shown.clone());
        } else {
            *entry.channels.entry(p.first.channel()).or_default() += 1;
        }
        discovered.push(shown);
    }
    for c in credentials {
        let conn = &connectors[&c.exchange];
        let page = conn.escalation_contact().api_management_page;
        let spared_self = opts.spare.contains(&c.api_key);
        if spared_self {
            matched.insert(c.api_key.clone());
        }
        let fate = if spared_self {
            "spared (--spare): untouched".to_string()
        } else if opts.include_self {
            match conn.routes(&own_job(c)).first() {
                Some(r) if *r != Route::Escalate => {
                    format!("revoked last ({}), after every other key", r.channel())
                }
                _ => format!("no API can revoke it: escalated last; delete it by hand at {page}"),
            }
        } else {
            format!("untouched; delete it by hand at {page} once the run is done")
        };
        plan.credentials.insert(c.name.clone(), fate);
    }
    plan.unmatched_spares = opts
        .spare
        .iter()
        .filter(|s| !matched.contains(*s))
        .cloned()
        .collect();
    Ok((plan, discovered, spared))
}

/// The credential as a key acting on itself, with its own secret.
fn own_job(c: &Arc<Credential>) -> keyrevoke_core::KeyJob {
    keyrevoke_core::KeyJob::new(
        keyrevoke_core::KeyMaterial {
            exchange: c.exchange,
            api_key: c.api_key.clone(),
            api_secret: Some(c.api_secret.clone()),
            passphrase: c.passphrase.clone(),
            account: None,
            label: None,
        },
        None,
    )
}

/// `--include-self`: the credentials' own rows (no secret: the source takes
/// it from the config), enqueued after every other key is done.
async fn enqueue_credentials(
    opts: &PanicOptions,
    config: &Config,
    connectors: &Connectors,
    store: &dyn JobStore,
    source: &PanicSource,
) -> Result<(), String> {
    let path = opts.run.out.join(CREDENTIALS_FILE);
    let mut rows = String::new();
    let spared = |c: &&Arc<Credential>| opts.spare.contains(&c.api_key);
    for c in config.credentials.values().filter(|c| !spared(c)) {
        let row = serde_json::json!({
            "exchange": c.exchange,
            "api_key": c.api_key,
            "label": format!("credential {}", c.name),
        });
        rows.push_str(&row.to_string());
        rows.push('\n');
    }
    escalation::write_private(&path, &rows).map_err(|e| format!("{}: {e}", path.display()))?;
    let inventory = Inventory::open(&path, &registry::exchanges()).map_err(|e| e.to_string())?;
    let own = Arc::new(InventorySource::new(inventory, config).acting_on_credentials());
    source.set_credentials_file(own.clone());
    let planner = Planner {
        source: &own,
        connectors,
        skip: None,
        complete: None,
    };
    planner.enqueue(store).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// `--inventory`: every row checked (file, line, field), then indexed by
/// key so that a discovered key's material is read when its turn comes.
fn material_index(path: &std::path::Path) -> Result<source::Material, String> {
    let inventory = Inventory::open(path, &registry::exchanges()).map_err(|e| e.to_string())?;
    let mut index = HashMap::new();
    let mut problems = Vec::new();
    for row in inventory.rows().map_err(|e| e.to_string())? {
        match row {
            Ok(r) => match r.material(inventory.path()) {
                Ok(_) => {
                    index.insert((r.exchange, r.api_key.clone()), r.source);
                }
                Err(errs) => problems.extend(errs.iter().map(ToString::to_string)),
            },
            Err(errs) => problems.extend(errs.iter().map(ToString::to_string)),
        }
    }
    if problems.is_empty() {
        Ok(source::Material {
            inventory,
            rows: index,
        })
    } else {
        Err(problems.join("\n"))
    }
}
