//! `keyrevoke rotate`: replace the plan's sub keys that are due with new
//! ones of the same shape, the new secrets in a sink, the old keys deleted
//! last. Modelled on AWS Secrets Manager's rotation: create, store as
//! pending, test, promote to current (the old secret stays as previous),
//! then retire the old key by the same channels and fallbacks as `revoke`.
//! A service is never left without a working key: the old key is deleted
//! only once its replacement is stored, tested and current.

mod ledger;
mod old_keys;
pub mod plan;
mod steps;

use super::exit::{self, could_not_run as fail};
use super::registry;
use super::revoke::{self, RevokeOptions, Say};
use keyrevoke_audit::AuditLog;
use keyrevoke_core::{AuditEvent, AuditSink, Connector, ExchangeId, JobStore, mask_key};
use keyrevoke_executor::progress::Progress;
use keyrevoke_executor::{
    Budgets, CancellationToken, Executor, KeySource, Parts, RunEnd, Settings,
};
use keyrevoke_sink::SecretSink;
use ledger::{Record, Step};
use plan::{PlannedKey, RotationPlan};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use steps::{Fate, Rotation};

/// Keys rotated at once; the exchanges' budgets pace the calls.
const KEYS_AT_ONCE: usize = 16;

#[derive(Clone, Debug)]
pub struct RotateOptions {
    pub plan: PathBuf,
    /// Journal, audit and report as for `revoke`; its inventory is unused.
    pub run: RevokeOptions,
    /// Rotate every key of the plan whatever its age.
    pub all: bool,
}

/// One key in the `--json` summary and the table.
#[derive(Clone, Debug, Serialize)]
struct KeyReport {
    exchange: ExchangeId,
    label: String,
    /// The key in service before this run (masked).
    key: String,
    /// `rotated`, `not_due`, `failed`, `pending` (the old key's deletion
    /// is not finished), `dry_run`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_days: Option<u64>,
    /// Where the current secret is.
    secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

#[derive(Serialize)]
struct RotateSummary {
    command: &'static str,
    keys_in_plan: usize,
    due: usize,
    rotated: usize,
    not_due: usize,
    failed: usize,
    /// Rotated, but the old key is not deleted yet (it still works).
    pending: usize,
    sink: String,
    keys: Vec<KeyReport>,
}

pub async fn run(opts: RotateOptions) -> i32 {
    let say = Say {
        json: opts.run.json,
    };
    let config = match revoke::load_config(opts.run.config.as_ref()) {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let plan = match plan::load(&opts.plan, &config, &registry::exchanges()) {
        Ok(p) => p,
        Err(problems) => {
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return fail(format!(
                "{}\nthe plan is invalid; nothing was sent",
                shown.join("\n")
            ));
        }
    };
    let senders = match registry::egress_connectors(&config) {
        Ok(c) => c,
        Err(msg) => return fail(format!("config: {msg}")),
    };
    let connectors = registry::first_of(&senders);
    if let Some(k) = plan
        .keys
        .iter()
        .find(|k| !connectors.get(&k.exchange).is_some_and(|c| c.can_rotate()))
    {
        return fail(format!(
            "{}:{}: field `exchange`: keyrevoke cannot create {} sub keys, so it cannot rotate them",
            plan.path.display(),
            k.line,
            k.exchange
        ));
    }
    let sink = match open_sink(&plan).await {
        Ok(s) => s,
        Err(msg) => return fail(msg),
    };
    let (store, audit_log) = match opts.run.open_evidence(&config).await {
        Ok(opened) => opened,
        Err(e) => return fail(e),
    };
    match store.hold_exclusively().await {
        Ok(true) => {}
        Ok(false) => {
            return fail(format!(
                "another rotate run holds the journal {}: runs of one job never overlap; try again once it ends",
                opts.run.journal_shown()
            ));
        }
        Err(e) => return fail(e),
    }
    let records = match ledger::load(store.as_ref()).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let record_of = |k: &PlannedKey| {
        records
            .get(&ledger::name(k.exchange, &k.label))
            .cloned()
            .unwrap_or_else(|| Record::fresh(&k.api_key))
    };
    say.line(&render_plan(&plan, &record_of, sink.as_ref(), opts.all));
    if !opts.run.dry_run && !opts.run.yes && std::io::stdin().is_terminal() {
        eprint!("Rotate the keys that are due? Type 'yes' to proceed: ");
        if !revoke::confirm_answer() {
            return fail("not confirmed; nothing rotated");
        }
    }
    let note = AuditEvent::run_note;
    if let Err(e) = audit_log
        .append(note(format!(
            "rotate started: {} keys in the plan, new secrets to {}",
            plan.keys.len(),
            sink.describe()
        )))
        .await
    {
        return fail(e);
    }

    // 1. Create, store, test, promote: every key that is due.
    let cancel = CancellationToken::new();
    revoke::cancel_on_signals(cancel.clone());
    // One run's budgets: the creates' spending holds for the deletes.
    let budgets = Budgets::default();
    let exec = calls_executor(
        &config,
        &senders,
        &budgets,
        store.clone(),
        audit_log.clone(),
        opts.run.rate_limits,
        cancel.clone(),
    );
    let rotation = Rotation {
        exec: &exec,
        store: store.as_ref(),
        sink: sink.as_ref(),
        all: opts.all,
        dry_run: opts.run.dry_run,
    };
    use futures::StreamExt;
    let fates: Vec<(usize, Fate)> = futures::stream::iter(plan.keys.iter().enumerate())
        .map(|(i, k)| {
            let (rotation, record) = (&rotation, record_of(k));
            async move { (i, rotation.rotate(k, record).await) }
        })
        .buffer_unordered(KEYS_AT_ONCE)
        .collect()
        .await;
    let mut fates: Vec<Fate> = {
        let mut v = fates;
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, f)| f).collect()
    };
    let mut end = fates
        .iter()
        .find_map(|f| match f {
            Fate::Stopped(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap_or(RunEnd::Finished);
    if cancel.is_cancelled() && end == RunEnd::Finished {
        end = RunEnd::Interrupted;
    }

    // 2. The old keys of the promoted ones: deleted as `revoke` deletes,
    //    then the new key is the one in service.
    let mut retired = old_keys::Retired::new();
    let mut records = match ledger::load(store.as_ref()).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let promoted: Vec<old_keys::OldKey> = plan
        .keys
        .iter()
        .zip(&fates)
        .filter(|(_, f)| matches!(f, Fate::Promoted { .. }))
        .filter_map(|(k, _)| {
            let r = records.get(&ledger::name(k.exchange, &k.label))?;
            // The plan's passphrase is its key's; a key a rotation made
            // has the one derived from its tag.
            let passphrase = match &r.current_tag {
                Some(tag) => Some(steps::passphrase_for(&k.via, tag)),
                None => k.passphrase.clone(),
            };
            Some(old_keys::OldKey {
                planned: k,
                api_key: r.current.clone(),
                passphrase,
            })
        })
        .collect();
    if end == RunEnd::Finished && !promoted.is_empty() {
        match old_keys::retire(
            &opts.run,
            &config,
            &connectors,
            &senders,
            &budgets,
            &store,
            &audit_log,
            &promoted,
        )
        .await
        {
            Ok((outcomes, run_end)) => {
                end = run_end;
                retired = outcomes;
            }
            Err(e) => end = RunEnd::Fatal(e),
        }
    }
    for (i, k) in plan.keys.iter().enumerate() {
        let name = ledger::name(k.exchange, &k.label);
        let Some(r) = records.get_mut(&name) else {
            continue;
        };
        match retired.get(&(k.exchange, r.current.clone())) {
            Some(Ok(())) => {
                let new_key = r.new_key.take().unwrap_or_default();
                fates[i] = Fate::Rotated {
                    old_key: std::mem::replace(&mut r.current, new_key),
                };
                r.step = Step::Idle;
                r.current_tag = r.tag.take();
                r.why = None;
                r.rotations += 1;
                if let Err(e) = ledger::put(store.as_ref(), k.exchange, &k.label, r).await {
                    end = RunEnd::Fatal(e.to_string());
                }
            }
            Some(Err(why)) => {
                fates[i] = Fate::Failed(format!(
                    "the new key is current, but the old key {} is still alive: {why}",
                    mask_key(&r.current)
                ));
            }
            None => {}
        }
    }

    // 3. Audit, report, summary.
    let ended = revoke::close_and_report(
        &opts.run,
        &config,
        store.as_ref(),
        audit_log,
        &connectors,
        format!("rotate ended: {end:?}"),
    )
    .await;
    let summary = summarize(&plan, &fates, &records, &record_of, sink.as_ref());
    say.line(&render_summary(&summary));
    say.evidence::<String>(&opts.run, &ended, None);
    if opts.run.json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary serializes")
        );
    }
    match end {
        RunEnd::Fatal(msg) => fail(format!("the run stopped: {msg}")),
        _ if !ended.audit_ok => exit::COULD_NOT_RUN,
        RunEnd::Interrupted => exit::INTERRUPTED,
        RunEnd::Finished if summary.failed > 0 || summary.pending > 0 => exit::NEEDS_HUMAN,
        RunEnd::Finished => exit::OK,
    }
}

/// An executor for single calls (describe, create, test, list): the same
/// budgets, pauses and audit as revocations.
fn calls_executor(
    config: &keyrevoke_core::config::Config,
    senders: &BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
    budgets: &Budgets,
    store: Arc<dyn JobStore>,
    audit: Arc<AuditLog>,
    rate_limits: bool,
    cancel: CancellationToken,
) -> Executor {
    let mut settings = Settings::from_config(config);
    settings.rate_limits = rate_limits;
    let audit_sink: Arc<dyn AuditSink> = audit;
    Executor::new(Parts {
        connectors: registry::first_of(senders),
        // Calls go out through the first connector, on its first address.
        egress: senders.clone(),
        config,
        settings,
        store,
        audit: audit_sink,
        source: Arc::new(NoKeys),
        progress: Arc::new(Progress::new(&BTreeMap::new())),
        cancel,
        budgets: budgets.clone(),
    })
}

/// The calls executor revokes nothing: no entry is ever loaded from it.
struct NoKeys;

impl KeySource for NoKeys {
    fn load(&self, _entry: &keyrevoke_core::JobEntry) -> Result<keyrevoke_core::KeyJob, String> {
        Err("the rotation's calls load no key".into())
    }
}

/// The plan's sink, checked before any key is created.
async fn open_sink(plan: &RotationPlan) -> Result<Box<dyn SecretSink>, String> {
    let where_ = format!("{}: [sink]", plan.path.display());
    let spec: keyrevoke_sink::spec::SinkSpec = plan
        .sink
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("{where_}: {}", e.message()))?;
    let sink =
        keyrevoke_sink::spec::open(&spec, &plan.dir()).map_err(|e| format!("{where_}: {e}"))?;
    sink.preflight()
        .await
        .map_err(|e| format!("{where_}: {e}; nothing was sent"))?;
    Ok(sink)
}

fn render_plan(
    plan: &RotationPlan,
    record_of: &dyn Fn(&PlannedKey) -> Record,
    sink: &dyn SecretSink,
    all: bool,
) -> String {
    let mut out = format!(
        "rotation plan {}: {} keys, new secrets to {}\n",
        plan.path.display(),
        plan.keys.len(),
        sink.describe()
    );
    for k in &plan.keys {
        let r = record_of(k);
        let when = if all {
            "now (--all)".to_string()
        } else {
            format!("when older than {} days", k.max_age_days)
        };
        let resume = match r.step {
            Step::Idle => String::new(),
            step => format!(", resuming from {step:?}"),
        };
        out.push_str(&format!(
            "  {:<8} {:<20} {} under {} via {}: {when}{resume}\n",
            k.exchange.as_str(),
            k.label,
            mask_key(&r.current),
            k.account,
            k.via.name
        ));
    }
    out
}

fn summarize(
    plan: &RotationPlan,
    fates: &[Fate],
    records: &std::collections::HashMap<String, Record>,
    record_of: &dyn Fn(&PlannedKey) -> Record,
    sink: &dyn SecretSink,
) -> RotateSummary {
    let mut keys = Vec::new();
    for (k, fate) in plan.keys.iter().zip(fates) {
        let before = record_of(k).current;
        let now = records
            .get(&ledger::name(k.exchange, &k.label))
            .cloned()
            .unwrap_or_else(|| Record::fresh(&k.api_key));
        let (state, new_key, age_days, why) = match fate {
            Fate::NotDue(age) => ("not_due", None, *age, None),
            Fate::DryRun(age) => ("dry_run", None, *age, None),
            Fate::Rotated { .. } => ("rotated", Some(mask_key(&now.current)), None, None),
            Fate::Promoted { new_key } => (
                "pending",
                Some(mask_key(new_key)),
                None,
                Some("the old key's deletion did not finish; run again to resume".to_string()),
            ),
            Fate::Failed(why) => ("failed", None, None, Some(why.clone())),
            Fate::Stopped(end) => ("failed", None, None, Some(format!("stopped: {end:?}"))),
        };
        keys.push(KeyReport {
            exchange: k.exchange,
            label: k.label.clone(),
            key: mask_key(&before),
            state,
            new_key,
            age_days,
            secret: sink.location(k.exchange.as_str(), &k.label),
            why,
        });
    }
    let count = |s: &str| keys.iter().filter(|k| k.state == s).count();
    RotateSummary {
        command: "rotate",
        keys_in_plan: plan.keys.len(),
        due: keys.len() - count("not_due") - count("dry_run"),
        rotated: count("rotated"),
        not_due: count("not_due"),
        failed: count("failed"),
        pending: count("pending"),
        sink: sink.describe(),
        keys,
    }
}

fn render_summary(s: &RotateSummary) -> String {
    let mut out = format!(
        "rotated {} of {} due ({} not due, {} failed, {} pending) of {} keys\n",
        s.rotated, s.due, s.not_due, s.failed, s.pending, s.keys_in_plan
    );
    for k in &s.keys {
        out.push_str(&format!(
            "  {:<8} {:<20} {:<8} {}{}{}{}\n",
            k.exchange.as_str(),
            k.label,
            k.state,
            k.key,
            k.age_days
                .map(|d| format!(" ({d} days old)"))
                .unwrap_or_default(),
            k.new_key
                .as_ref()
                .map(|n| format!(" -> {n} ({})", k.secret))
                .unwrap_or_default(),
            k.why.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
        ));
    }
    out
}
