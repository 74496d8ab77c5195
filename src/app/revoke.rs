//! `keyrevoke revoke`: validate, plan, confirm, run, report.

use super::escalation;
use super::exit;
use super::plan::Planner;
use super::progress_view::ProgressView;
use super::registry;
use super::report;
use super::source::InventorySource;
use super::summary::Summary;
use keyrevoke_audit::AuditLog;
use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::Inventory;
use keyrevoke_core::{AuditEvent, AuditSink, ExchangeId, JobStore, State};
use keyrevoke_executor::progress::Progress;
use keyrevoke_executor::{
    Budgets, CancellationToken, Executor, KeySource, Parts, RunEnd, Settings,
};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct RevokeOptions {
    pub inventory: PathBuf,
    pub config: Option<PathBuf>,
    /// Folder for the journal, audit and escalation files by default.
    pub out: PathBuf,
    /// A SQLite path, or a `postgres://` URL.
    pub journal: Option<String>,
    pub audit: Option<PathBuf>,
    pub yes: bool,
    pub dry_run: bool,
    pub json: bool,
    pub skip_invalid: bool,
    /// Benchmarks against a simulator with limits off.
    pub rate_limits: bool,
    /// The command running the job, as its report names it (`revoke`, `demo`).
    pub command: &'static str,
    /// Probe first, fund-moving keys first (`--triage`).
    pub triage: bool,
}

impl RevokeOptions {
    pub fn journal_spec(&self) -> String {
        self.journal
            .clone()
            .unwrap_or_else(|| self.out.join("journal.sqlite").display().to_string())
    }

    /// The journal as shown to the operator: a PostgreSQL URL with its
    /// password hidden (the spec itself may carry one).
    pub fn journal_shown(&self) -> String {
        let spec = self.journal_spec();
        match keyrevoke_journal::JournalSpec::parse(&spec) {
            Ok(keyrevoke_journal::JournalSpec::Sqlite(_)) => spec,
            Ok(postgres) => postgres.to_string(),
            Err(_) => "<unparsable journal spec>".to_string(),
        }
    }

    pub fn audit_path(&self) -> PathBuf {
        self.audit
            .clone()
            .unwrap_or_else(|| self.out.join("audit.jsonl"))
    }

    pub fn escalation_dir(&self) -> PathBuf {
        self.out.join(escalation::DIR_NAME)
    }
}

impl RevokeOptions {
    /// The run's folder created, its journal and audit opened (a torn
    /// audit tail left by a crash repaired, and said).
    pub async fn open_evidence(
        &self,
        config: &Config,
    ) -> Result<(Arc<dyn JobStore>, Arc<AuditLog>), String> {
        std::fs::create_dir_all(&self.out)
            .map_err(|e| format!("cannot create {}: {e}", self.out.display()))?;
        let store = keyrevoke_journal::open_journal(&self.journal_spec())
            .await
            .map_err(|e| e.to_string())?;
        let (audit_log, report) =
            AuditLog::open(&self.audit_path(), config.audit_signing_key.clone())
                .map_err(|e| e.to_string())?;
        if let Some(repair) = &report.repaired {
            eprintln!("audit: repaired a torn last line left by a crash ({repair:?})");
        }
        Ok((store, Arc::new(audit_log)))
    }
}

/// Human text goes to stderr when stdout carries JSON.
pub struct Say {
    pub json: bool,
}

impl Say {
    pub fn line(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// How a run's evidence was left: the audit's last record and the report.
pub struct Ended {
    /// The audit took the run's last record.
    pub audit_ok: bool,
    pub reported: Result<Vec<PathBuf>, String>,
}

/// The end of every run: its last audit record (`ended`), the audit
/// closed, then report.html and report.json from the journal and the
/// closed audit (after closing, so that its verification sees every
/// record).
pub async fn close_and_report(
    opts: &RevokeOptions,
    config: &Config,
    store: &dyn JobStore,
    audit_log: Arc<AuditLog>,
    connectors: &BTreeMap<ExchangeId, Arc<dyn keyrevoke_core::Connector>>,
    ended: String,
) -> Ended {
    let audit_ok = audit_log.append(AuditEvent::run_note(ended)).await.is_ok();
    if let Ok(log) = Arc::try_unwrap(audit_log) {
        let _ = log.close().await;
    }
    let reported = report::write(
        &opts.out,
        &report::Sources {
            command: opts.command,
            store,
            journal_shown: opts.journal_shown(),
            audit: Some(report::AuditSource {
                path: opts.audit_path(),
                signing_key: config.audit_signing_key.clone(),
            }),
            connectors,
        },
    )
    .await;
    Ended { audit_ok, reported }
}

impl Say {
    /// Where the run's evidence is: journal, audit, escalation files (when
    /// some were written), report.
    pub fn evidence<E: std::fmt::Display>(
        &self,
        opts: &RevokeOptions,
        ended: &Ended,
        escalations: Option<&Result<Vec<PathBuf>, E>>,
    ) {
        self.line(&format!("journal:     {}", opts.journal_shown()));
        self.line(&format!("audit:       {}", opts.audit_path().display()));
        match escalations {
            Some(Ok(paths)) if !paths.is_empty() => {
                self.line(&format!("escalations: {}", opts.escalation_dir().display()))
            }
            Some(Err(e)) => eprintln!("{e}"),
            _ => {}
        }
        match &ended.reported {
            Ok(_) => self.line(&format!(
                "report:      {}",
                opts.out.join(report::HTML_NAME).display()
            )),
            Err(e) => eprintln!("report: {e}"),
        }
    }
}

pub fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        None => Ok(Config::default()),
        Some(p) => Config::load(p, &registry::exchanges()).map_err(|errs| {
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }),
    }
}

pub(super) fn confirm() -> bool {
    eprint!("Revoke these keys? Type 'yes' to proceed: ");
    confirm_answer()
}

/// Read the operator's answer to a question already asked on stderr.
pub(super) fn confirm_answer() -> bool {
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => matches!(answer.trim(), "yes" | "y" | "YES" | "Y"),
        Err(_) => false,
    }
}

/// Cancel the run on Ctrl-C or SIGTERM: stop taking work, finish what is in
/// flight, leave a resumable journal.
pub(super) fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        eprintln!("stopping: finishing requests in flight; run the same command again to resume");
        cancel.cancel();
    });
}

pub async fn run(opts: RevokeOptions) -> i32 {
    let say = Say { json: opts.json };
    let config = match load_config(opts.config.as_ref()) {
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
    let connectors = registry::first_of(&senders);
    let inventory = match Inventory::open(&opts.inventory, &registry::exchanges()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    let source = Arc::new(InventorySource::new(inventory, &config));
    let planner = Planner {
        source: &source,
        connectors: &connectors,
        skip: None,
        complete: None,
    };
    let plan = match planner.validate() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    if plan.invalid_rows > 0 {
        eprint!("{}", plan.render_problems());
        if !opts.skip_invalid {
            eprintln!(
                "{} of {} rows are invalid; nothing was sent. Fix them, or pass --skip-invalid to revoke the valid rows only.",
                plan.invalid_rows,
                plan.invalid_rows + plan.valid_rows
            );
            return exit::COULD_NOT_RUN;
        }
        eprintln!(
            "--skip-invalid: the {} invalid rows above are skipped",
            plan.invalid_rows
        );
    }
    say.line(&plan.render());
    if opts.dry_run {
        say.line("--dry-run: nothing sent, nothing written.");
        return exit::OK;
    }
    if !opts.yes && !confirm() {
        eprintln!("not confirmed; nothing sent");
        return exit::COULD_NOT_RUN;
    }
    let (store, audit_log) = match opts.open_evidence(&config).await {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    let stats = match planner.enqueue(store.as_ref()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    // Workers joining the job check that they read the same inventory.
    let recorded = match source.inventory().sha256() {
        Ok(sha256) => store
            .set_planned_inventory(&sha256)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("{}: {e}", opts.inventory.display())),
    };
    if let Err(e) = recorded {
        eprintln!("{e}");
        return exit::COULD_NOT_RUN;
    }
    if stats.duplicates > 0 {
        eprintln!(
            "{} duplicate rows merged (same exchange and key)",
            stats.duplicates
        );
    }
    if stats.resumed > 0 {
        say.line(&format!(
            "resuming: {} keys already in the journal",
            stats.resumed
        ));
    }
    let run_note = AuditEvent::run_note(format!(
        "run started: {} valid rows, {} new, {} resumed, {} duplicates",
        plan.valid_rows, stats.inserted, stats.resumed, stats.duplicates
    ));
    if let Err(e) = audit_log.append(run_note).await {
        eprintln!("{e}");
        return exit::COULD_NOT_RUN;
    }

    let end = execute(
        &config,
        &senders,
        &Budgets::default(),
        store.clone(),
        audit_log.clone(),
        source.clone(),
        opts.rate_limits,
        opts.triage,
    )
    .await;

    let counts = store.counts().await;
    let written = escalation::write(&opts.escalation_dir(), store.as_ref(), &connectors).await;
    let ended = close_and_report(
        &opts,
        &config,
        store.as_ref(),
        audit_log,
        &connectors,
        format!("run ended: {end:?}"),
    )
    .await;
    let summary = match counts {
        Ok(c) => Summary::from_counts(&c).with_requests(&registry::requests_sent(&senders)),
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    say.line(&summary.table());
    say.evidence(&opts, &ended, Some(&written));
    if opts.json {
        println!("{}", summary.json());
    }
    match end {
        RunEnd::Fatal(msg) => {
            eprintln!("the run stopped: {msg}");
            exit::COULD_NOT_RUN
        }
        _ if !ended.audit_ok => exit::COULD_NOT_RUN,
        RunEnd::Interrupted => exit::INTERRUPTED,
        RunEnd::Finished if summary.all.needs_human() || summary.all.pending > 0 => {
            exit::NEEDS_HUMAN
        }
        RunEnd::Finished => exit::OK,
    }
}

/// Work on the job until nothing claimable is left (or a stop), sending
/// each exchange's requests through `senders`, one connector per egress
/// address, within the run's `budgets` (what its earlier executors spent).
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    config: &Config,
    senders: &BTreeMap<keyrevoke_core::ExchangeId, Vec<Arc<dyn keyrevoke_core::Connector>>>,
    budgets: &Budgets,
    store: Arc<dyn JobStore>,
    audit: Arc<AuditLog>,
    source: Arc<dyn KeySource>,
    rate_limits: bool,
    triage: bool,
) -> RunEnd {
    let counts = match store.counts().await {
        Ok(c) => c,
        Err(e) => return RunEnd::Fatal(e.to_string()),
    };
    // Progress counts the keys this run still has to do.
    let remaining = counts
        .by_exchange
        .iter()
        .filter_map(|(x, states)| {
            let left: u64 = states
                .iter()
                .filter(|(s, _)| s.parse::<State>().is_ok_and(|s| !s.is_terminal()))
                .map(|(_, n)| n)
                .sum();
            ExchangeId::stored(x)
                .filter(|_| left > 0)
                .map(|x| (x, left))
        })
        .collect();
    let progress = Arc::new(Progress::new(&remaining));
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone());
    let mut settings = Settings::from_config(config);
    settings.rate_limits = rate_limits;
    settings.triage = triage;
    let audit_sink: Arc<dyn AuditSink> = audit;
    let exec = Arc::new(Executor::new(Parts {
        connectors: registry::first_of(senders),
        egress: senders.clone(),
        config,
        settings,
        store,
        audit: audit_sink,
        source,
        progress: progress.clone(),
        cancel,
        budgets: budgets.clone(),
    }));
    let view = ProgressView::start(progress);
    let end = exec.run().await;
    view.finish();
    end
}
