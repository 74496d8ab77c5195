//! Validation and planning: read the whole inventory before anything is
//! sent, report every problem at once, count what each exchange will see,
//! then enqueue the valid rows into the journal.

use super::source::InventorySource;
use keyrevoke_core::inventory::{InputError, Row};
use keyrevoke_core::store::{EnqueueStats, NewEntry};
use keyrevoke_core::{
    Action, Channel, Connector, ExchangeId, JobStore, KeyJob, Route, StoreError, is_shared_account,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// At most this many problems are listed; the count covers all.
const MAX_LISTED_PROBLEMS: usize = 200;
/// Rows per enqueue transaction. Fingerprints are random, so every batch
/// dirties most pages of the fingerprint index: fewer, larger batches write
/// those pages to the journal's WAL fewer times (2,000 made enqueue the
/// largest start-up cost at 100,000 keys). Memory: ~200 bytes a row.
const ENQUEUE_BATCH: usize = 25_000;

#[derive(Debug, Default)]
pub struct Plan {
    /// Keys per exchange by the channel tried first.
    pub by_exchange: BTreeMap<ExchangeId, BTreeMap<Channel, u64>>,
    pub valid_rows: u64,
    pub invalid_rows: u64,
    pub problems: Vec<String>,
    pub problem_count: u64,
}

impl Plan {
    pub fn render(&self) -> String {
        let mut out = String::from("Plan (keys per exchange, by the channel tried first):\n");
        for (x, channels) in &self.by_exchange {
            let total: u64 = channels.values().sum();
            let parts: Vec<String> = channels.iter().map(|(c, n)| format!("{c} {n}")).collect();
            out.push_str(&format!(
                "  {x:<10} {total:>8} keys: {}\n",
                parts.join(", ")
            ));
        }
        out.push_str(&format!("  {} valid rows", self.valid_rows));
        if self.invalid_rows > 0 {
            out.push_str(&format!(", {} invalid", self.invalid_rows));
        }
        out.push('\n');
        out
    }

    pub fn render_problems(&self) -> String {
        let mut out = String::new();
        for p in &self.problems {
            out.push_str(p);
            out.push('\n');
        }
        if self.problem_count as usize > self.problems.len() {
            out.push_str(&format!(
                "… and {} more problems\n",
                self.problem_count as usize - self.problems.len()
            ));
        }
        out
    }
}

/// A row ready for the journal.
pub(crate) struct Planned {
    pub row: Row,
    pub job: KeyJob,
    /// The route tried first.
    pub first: Route,
}

pub struct Planner<'a> {
    pub source: &'a InventorySource,
    pub connectors: &'a BTreeMap<ExchangeId, Arc<dyn Connector>>,
    /// Rows left out of the job (`panic --spare`): never enqueued.
    pub skip: Option<&'a (dyn Fn(&Row) -> bool + Sync)>,
    /// Keys found rather than typed (`panic`): this fills in the material
    /// another inventory gives for them (`--inventory`), and a key still
    /// missing its own secret or passphrase is no input error: it goes to
    /// the channels that need neither, escalation at worst.
    pub complete: Option<&'a Completion<'a>>,
}

/// Fills in a found key's own material, or says why that material is bad.
pub type Completion<'a> = dyn Fn(&mut KeyJob) -> Result<(), String> + Sync + 'a;

/// A key's own material: what a found key may lack without being invalid.
const OWN_MATERIAL: [&str; 2] = ["api_secret", "passphrase"];

impl Planner<'_> {
    pub(crate) fn plan_row(
        &self,
        row: Result<Row, Vec<InputError>>,
    ) -> Result<Planned, Vec<String>> {
        let row = row.map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let path = self.source.inventory().path().display().to_string();
        let line = row.source.line;
        let Some(conn) = self.connectors.get(&row.exchange) else {
            let supported: Vec<&str> = self.connectors.keys().map(|x| x.as_str()).collect();
            return Err(vec![format!(
                "{path}:{line}: field `exchange`: keyrevoke has no connector for {} yet (supported: {})",
                row.exchange,
                supported.join(", ")
            )]);
        };
        let mut job = self.source.job_for(&row)?;
        if let Some(complete) = self.complete {
            complete(&mut job).map_err(|e| vec![format!("{path}:{line}: {e}")])?;
        }
        let problems: Vec<String> = conn
            .check(&job)
            .into_iter()
            .filter(|p| self.complete.is_none() || !OWN_MATERIAL.contains(&p.field))
            .map(|p| format!("{path}:{line}: field `{}`: {}", p.field, p.message))
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let first = if job.protected {
            Route::Escalate
        } else {
            conn.routes(&job)
                .first()
                .copied()
                .unwrap_or(Route::Escalate)
        };
        Ok(Planned { row, job, first })
    }

    /// Read every row; nothing is sent and nothing is written.
    pub fn validate(&self) -> Result<Plan, InputError> {
        let mut plan = Plan::default();
        for row in self.source.inventory().rows()? {
            match self.plan_row(row) {
                Ok(p) => {
                    plan.valid_rows += 1;
                    *plan
                        .by_exchange
                        .entry(p.row.exchange)
                        .or_default()
                        .entry(p.first.channel())
                        .or_default() += 1;
                }
                Err(problems) => {
                    plan.invalid_rows += 1;
                    plan.problem_count += problems.len() as u64;
                    for p in problems {
                        if plan.problems.len() < MAX_LISTED_PROBLEMS {
                            plan.problems.push(p);
                        }
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Enqueue the valid rows (invalid ones were reported by `validate`).
    /// Keys sharing a rate-limit account get increasing ranks so that
    /// claiming by rank interleaves accounts.
    pub async fn enqueue(&self, store: &dyn JobStore) -> Result<EnqueueStats, StoreError> {
        let pass = store.begin_pass().await?;
        let mut ranks: HashMap<String, u32> = HashMap::new();
        let mut batch = Vec::with_capacity(ENQUEUE_BATCH);
        let mut stats = EnqueueStats::default();
        let rows = self
            .source
            .inventory()
            .rows()
            .map_err(|e| StoreError::Journal(e.to_string()))?;
        for row in rows {
            let Ok(p) = self.plan_row(row) else { continue };
            if self.skip.is_some_and(|skip| skip(&p.row)) {
                continue;
            }
            let account = p.job.rate_account(Some(p.first));
            let own_account = !is_shared_account(&account);
            let rank = if own_account {
                0
            } else {
                let r = ranks.entry(account.clone()).or_insert(0);
                *r += 1;
                *r - 1
            };
            batch.push(NewEntry {
                exchange: p.row.exchange,
                fingerprint: p.job.fingerprint.clone(),
                masked: p.job.masked(),
                label: p.row.label.clone(),
                action: Action::Revoke,
                rank,
                source: p.row.source,
                rate_account: (!own_account).then_some(account),
            });
            if batch.len() >= ENQUEUE_BATCH {
                add(&mut stats, store.enqueue(pass, &batch).await?);
                batch.clear();
            }
        }
        if !batch.is_empty() {
            add(&mut stats, store.enqueue(pass, &batch).await?);
        }
        Ok(stats)
    }
}

fn add(total: &mut EnqueueStats, s: EnqueueStats) {
    total.inserted += s.inserted;
    total.duplicates += s.duplicates;
    total.resumed += s.resumed;
}
