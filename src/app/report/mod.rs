//! `report.html` and `report.json`: what a job did, when, at what rate
//! against which documented limit, and what is still at risk.
//!
//! Every command that runs a job calls [`write`] with its journal, audit and
//! connectors when it ends (`revoke`, `demo`, `panic`; `rotate` is meant
//! to do the same), and `keyrevoke report` calls it on any journal, finished
//! or interrupted. The figures come from the journal (outcomes, routes,
//! attempts, each key's first claim and outcome time), the connectors
//! (documented tiers, escalation contacts) and the audit (rate-limit
//! refusals, verification). Masked keys and fingerprints only: the journal
//! and the audit hold nothing else.
//!
//! The JSON layout is documented in `docs/report-schema.md`; bump
//! [`REPORT_VERSION`] when a field changes meaning or goes away.

mod audit_facts;
mod figures;
mod html;
mod svg;

use super::escalation;
use super::summary::Summary;
pub use audit_facts::AuditCheck;
use figures::{Effort, LimitLine, RouteCount, SlowKey, Timeline};
use keyrevoke_core::store::{JobEntry, KeyTiming};
use keyrevoke_core::{Connector, ExchangeId, JobStore, Liveness, Probe, Secret, State};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `report_version` in report.json.
pub const REPORT_VERSION: u32 = 1;

/// At-risk keys listed in report.html; report.json and the escalation CSVs
/// list them all.
pub const AT_RISK_LISTED_IN_HTML: usize = 200;

/// `command` of a report written again by `keyrevoke report`: the journal
/// does not say which command ran the job.
pub const REWRITTEN: &str = "report";

pub const HTML_NAME: &str = "report.html";
pub const JSON_NAME: &str = "report.json";

/// Where a report's figures come from.
pub struct Sources<'a> {
    /// The command that ran the job, shown in the title.
    pub command: &'a str,
    pub store: &'a dyn JobStore,
    /// The journal as shown to people (a PostgreSQL password hidden).
    pub journal_shown: String,
    pub audit: Option<AuditSource>,
    pub connectors: &'a BTreeMap<ExchangeId, Arc<dyn Connector>>,
}

pub struct AuditSource {
    pub path: PathBuf,
    pub signing_key: Option<Secret>,
}

/// The whole report; report.json is this, serialized.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub generated_at: String,
    pub command: String,
    pub journal: String,
    /// `finished`, or `interrupted` while keys are still pending.
    pub job_state: &'static str,
    pub job: Effort,
    /// Exactly the `--json` summary of `revoke`, `demo` and `status`.
    pub summary: Summary,
    pub exchanges: Vec<ExchangeReport>,
    pub at_risk: Vec<AtRiskKey>,
    pub escalation_files: Vec<EscalationFiles>,
    pub slowest_keys: Vec<SlowKey>,
    /// Null when no audit trail was given.
    pub audit: Option<AuditCheck>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExchangeReport {
    pub exchange: String,
    /// The routes that neutralized keys, the most used first.
    pub winning_routes: Vec<RouteCount>,
    #[serde(flatten)]
    pub effort: Effort,
    /// Null when no audit trail was given.
    pub rate_limit_pauses: Option<u64>,
    /// Documented ceilings of the winning route (empty when no key was
    /// neutralized, or the exchange documents no limit for it).
    pub limits: Vec<LimitLine>,
    pub timeline: Timeline,
}

#[derive(Clone, Debug, Serialize)]
pub struct AtRiskKey {
    pub exchange: String,
    pub masked_key: String,
    pub fingerprint: String,
    pub label: Option<String>,
    pub state: State,
    /// From the last liveness probe: `alive`, `dead` or `unknown`.
    pub liveness: &'static str,
    /// Null when no probe could tell.
    pub can_move_funds: Option<bool>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EscalationFiles {
    pub exchange: String,
    pub keys: u64,
    /// Relative to the report's folder.
    pub files: Vec<String>,
    pub send_to: String,
    pub api_management_page: String,
}

fn at_risk_key(e: &JobEntry) -> AtRiskKey {
    let probe: Option<Probe> = e
        .probe
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    AtRiskKey {
        exchange: e.exchange.to_string(),
        masked_key: e.masked.clone(),
        fingerprint: e.fingerprint.short().to_string(),
        label: e.label.clone(),
        state: e.state,
        liveness: match probe.as_ref().map(|p| p.liveness) {
            Some(Liveness::Alive) => "alive",
            Some(Liveness::Dead) => "dead",
            _ => "unknown",
        },
        can_move_funds: probe.and_then(|p| p.can_move_funds),
        reason: e.message.clone(),
    }
}

/// Fund movers first, then keys known alive, then the rest; each group by
/// exchange.
fn risk_order(k: &AtRiskKey) -> (bool, bool, &str) {
    (
        k.can_move_funds != Some(true),
        k.liveness != "alive",
        k.exchange.as_str(),
    )
}

fn exchange_report(
    x: &str,
    keys: &[&KeyTiming],
    conn: Option<&Arc<dyn Connector>>,
    job_start: i64,
    bucket_seconds: u64,
    buckets: usize,
    pauses: Option<&BTreeMap<String, u64>>,
) -> ExchangeReport {
    let winning_routes = figures::winning_routes(keys.iter().copied());
    let limits = match (conn, winning_routes.first()) {
        (Some(conn), Some(top)) => figures::limit_lines(conn.as_ref(), top.route),
        _ => Vec::new(),
    };
    ExchangeReport {
        exchange: x.to_string(),
        winning_routes,
        effort: figures::effort(keys.iter().copied()),
        rate_limit_pauses: pauses.map(|p| p.get(x).copied().unwrap_or(0)),
        limits,
        timeline: figures::timeline(keys.iter().copied(), job_start, bucket_seconds, buckets),
    }
}

/// Reads every source and computes the figures.
pub async fn gather(sources: &Sources<'_>) -> Result<Report, String> {
    let store = sources.store;
    let counts = store.counts().await.map_err(|e| e.to_string())?;
    let summary = Summary::from_counts(&counts);
    let timings = store.timings().await.map_err(|e| e.to_string())?;
    let job = figures::effort(timings.iter());
    let job_start = job
        .started_at_ms
        .or_else(|| timings.iter().filter_map(|t| t.finished_at).min())
        .unwrap_or(0);
    let span = job.finished_at_ms.unwrap_or(job_start) - job_start;
    let bucket_seconds = figures::bucket_seconds(span);
    let buckets = ((span.max(0) as u64 / 1000) / bucket_seconds + 1) as usize;

    let audit = sources
        .audit
        .as_ref()
        .map(|a| audit_facts::check(&a.path, a.signing_key.as_ref()));
    let pauses = match &sources.audit {
        Some(a) => Some(
            audit_facts::rate_limit_pauses(&a.path)
                .map_err(|e| format!("{}: cannot read the audit trail: {e}", a.path.display()))?,
        ),
        None => None,
    };

    let mut by_exchange: BTreeMap<&str, Vec<&KeyTiming>> = BTreeMap::new();
    for t in &timings {
        by_exchange.entry(t.exchange.as_str()).or_default().push(t);
    }
    let exchanges = by_exchange
        .iter()
        .map(|(x, keys)| {
            let conn = ExchangeId::stored(x).and_then(|id| sources.connectors.get(&id));
            exchange_report(
                x,
                keys,
                conn,
                job_start,
                bucket_seconds,
                buckets,
                pauses.as_ref(),
            )
        })
        .collect();

    let mut at_risk = Vec::new();
    let mut escalation_files = Vec::new();
    for x in counts.by_exchange.keys() {
        let Some(id) = ExchangeId::stored(x) else {
            continue;
        };
        let escalated = store
            .list(id, State::Escalated)
            .await
            .map_err(|e| e.to_string())?;
        let failed = store
            .list(id, State::Failed)
            .await
            .map_err(|e| e.to_string())?;
        if !escalated.is_empty()
            && let Some(conn) = sources.connectors.get(&id)
        {
            let contact = conn.escalation_contact();
            escalation_files.push(EscalationFiles {
                exchange: x.clone(),
                keys: escalated.len() as u64,
                files: escalation::files_of(id)
                    .iter()
                    .map(|f| format!("{}/{f}", escalation::DIR_NAME))
                    .collect(),
                send_to: contact.security_team.to_string(),
                api_management_page: contact.api_management_page.to_string(),
            });
        }
        at_risk.extend(escalated.iter().chain(&failed).map(at_risk_key));
    }
    // Stable: inventory order within a group.
    at_risk.sort_by(|a, b| risk_order(a).cmp(&risk_order(b)));

    Ok(Report {
        report_version: REPORT_VERSION,
        generated_at: rfc3339(keyrevoke_core::http::unix_ms()),
        command: sources.command.to_string(),
        journal: sources.journal_shown.clone(),
        job_state: if summary.all.pending > 0 {
            "interrupted"
        } else {
            "finished"
        },
        job,
        summary,
        exchanges,
        at_risk,
        escalation_files,
        slowest_keys: figures::slowest(&timings, figures::SLOWEST_LISTED),
        audit,
    })
}

/// Unix milliseconds as RFC 3339 UTC, e.g. `2026-11-29T14:03:05.123Z`.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Gathers the figures and writes `report.html` and `report.json` into
/// `out` (mode 0600, like every artifact that names keys). Returns their
/// paths.
pub async fn write(out: &Path, sources: &Sources<'_>) -> Result<Vec<PathBuf>, String> {
    let report = gather(sources).await?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let json = serde_json::to_string_pretty(&report).expect("a report serializes") + "\n";
    let html = html::render(&report);
    let mut written = Vec::new();
    for (name, text) in [(JSON_NAME, json), (HTML_NAME, html)] {
        let path = out.join(name);
        escalation::write_private(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::store::{NewEntry, SourceRef, Transition};
    use keyrevoke_core::{Action, Fingerprint, Route, mask_key};

    fn entry(key: &str, line: u64) -> NewEntry {
        NewEntry {
            rate_account: None,
            exchange: ExchangeId::new("okx"),
            fingerprint: Fingerprint::of(key),
            masked: mask_key(key),
            label: None,
            action: Action::Revoke,
            rank: line as u32,
            source: SourceRef {
                offset: line * 40,
                len: 40,
                line,
            },
        }
    }

    fn outcome(id: i64, state: State, probe: Option<&str>) -> Transition {
        Transition {
            id,
            state,
            route: Some(Route::DeleteByMaster),
            attempts: 2,
            code: None,
            message: Some("why".into()),
            probe: probe.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn an_interrupted_job_reports_its_pending_keys_and_what_is_at_risk() {
        let dir = tempfile::tempdir().unwrap();
        let journal = keyrevoke_journal::SqliteJournal::open(&dir.path().join("j.sqlite"))
            .await
            .unwrap();
        let pass = journal.begin_pass().await.unwrap();
        let keys = [
            "okx-key-revoked",
            "okx-key-escalated",
            "okx-key-mover",
            "okx-key-pending",
        ];
        let batch: Vec<NewEntry> = (0..).zip(keys).map(|(i, k)| entry(k, i)).collect();
        journal.enqueue(pass, &batch).await.unwrap();
        let claimed = journal.claim(ExchangeId::new("okx"), 3).await.unwrap();
        let alive_mover =
            r#"{"liveness":"alive","permissions":["withdraw"],"can_move_funds":true}"#;
        journal
            .record(outcome(claimed[0].id, State::Revoked, None))
            .await
            .unwrap();
        journal
            .record(outcome(claimed[1].id, State::Escalated, None))
            .await
            .unwrap();
        journal
            .record(outcome(claimed[2].id, State::Escalated, Some(alive_mover)))
            .await
            .unwrap();
        let connectors =
            crate::app::registry::connectors(&keyrevoke_core::config::Config::default()).unwrap();

        let report = gather(&Sources {
            command: "revoke",
            store: &journal,
            journal_shown: "j.sqlite".into(),
            audit: None,
            connectors: &connectors,
        })
        .await
        .unwrap();

        assert_eq!(report.job_state, "interrupted");
        assert_eq!(report.summary.all.pending, 1);
        assert_eq!(report.summary.all.revoked, 1);
        assert_eq!(
            report
                .at_risk
                .iter()
                .map(|k| (k.masked_key.as_str(), k.can_move_funds))
                .collect::<Vec<_>>(),
            vec![
                (mask_key("okx-key-mover").as_str(), Some(true)),
                (mask_key("okx-key-escalated").as_str(), None)
            ],
            "both escalated keys, the fund mover first"
        );
        assert_eq!(report.escalation_files.len(), 1);
        assert_eq!(
            report.escalation_files[0].files,
            vec!["escalations/okx.csv", "escalations/okx-letter.txt"]
        );
        let okx = &report.exchanges[0];
        assert_eq!(okx.effort.retries, 3, "one retry on each finished key");
        assert_eq!(okx.rate_limit_pauses, None, "no audit given");
        assert_eq!(okx.winning_routes[0].route, Route::DeleteByMaster);
        assert!(
            !okx.limits.is_empty(),
            "OKX documents its key-deletion limit"
        );
        assert!(report.audit.is_none());
        let html = html::render(&report);
        assert!(html.contains("interrupted: keys still pending"), "{html}");
    }
}
