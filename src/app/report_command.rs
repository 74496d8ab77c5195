//! `keyrevoke report`: write report.html and report.json again from a
//! journal, of a finished or an interrupted job, with the escalation files
//! they name.

use super::exit;
use super::report::{self, AuditSource, Sources};
use super::revoke::load_config;
use super::{escalation, registry};
use keyrevoke_journal::JournalSpec;
use std::path::PathBuf;

pub struct ReportOptions {
    /// A SQLite path or a `postgres://` URL.
    pub journal: String,
    /// The job's audit trail; by default `audit.jsonl` beside a SQLite
    /// journal, when there is one.
    pub audit: Option<PathBuf>,
    /// Config with the audit signing key, to check the HMACs.
    pub config: Option<PathBuf>,
    pub out: PathBuf,
}

fn default_audit(spec: &JournalSpec) -> Option<PathBuf> {
    match spec {
        JournalSpec::Sqlite(path) => {
            let beside = path.parent()?.join("audit.jsonl");
            beside.exists().then_some(beside)
        }
        JournalSpec::Postgres { .. } => None,
    }
}

pub async fn run(opts: ReportOptions) -> i32 {
    let spec = match JournalSpec::parse(&opts.journal) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    if let JournalSpec::Sqlite(path) = &spec
        && !path.exists()
    {
        eprintln!("{}: no such journal", path.display());
        return exit::COULD_NOT_RUN;
    }
    let config = match load_config(opts.config.as_ref()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    // Only their documented tiers and escalation contacts are read: nothing
    // is sent.
    let connectors = match registry::connectors(&config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("config: {msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    let store = match spec.open().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    let audit = opts.audit.clone().or_else(|| default_audit(&spec));
    if let Some(a) = &audit
        && !a.exists()
    {
        eprintln!("{}: no such audit trail", a.display());
        return exit::COULD_NOT_RUN;
    }
    let escalations = opts.out.join(escalation::DIR_NAME);
    if let Err(e) = std::fs::create_dir_all(&opts.out) {
        eprintln!("cannot create {}: {e}", opts.out.display());
        return exit::COULD_NOT_RUN;
    }
    if let Err(e) = escalation::write(&escalations, store.as_ref(), &connectors).await {
        eprintln!("{e}");
        return exit::COULD_NOT_RUN;
    }
    let sources = Sources {
        command: report::REWRITTEN,
        store: store.as_ref(),
        journal_shown: spec.to_string(),
        audit: audit.map(|path| AuditSource {
            path,
            signing_key: config.audit_signing_key.clone(),
        }),
        connectors: &connectors,
    };
    match report::write(&opts.out, &sources).await {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::COULD_NOT_RUN
        }
    }
}
