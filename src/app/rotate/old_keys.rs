//! The last step of a rotation: the old keys, once their replacements are
//! current, neutralized as `revoke` neutralizes keys (same executor,
//! channels, fallbacks, journal and audit). Their rows are appended to
//! `OUT/old-keys.jsonl`, never rewritten, so that a journal entry's place
//! in the file stays valid across runs; the rows hold no secret (a KuCoin
//! key's passphrase comes from the plan when its turn comes).

use super::plan::PlannedKey;
use crate::app::escalation;
use crate::app::plan::Planner;
use crate::app::registry;
use crate::app::revoke::{self, RevokeOptions};
use crate::app::source::InventorySource;
use keyrevoke_audit::AuditLog;
use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::Inventory;
use keyrevoke_core::{Connector, ExchangeId, Fingerprint, JobStore, Secret, State};
use keyrevoke_executor::{Budgets, KeySource, RunEnd};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub const FILE_NAME: &str = "old-keys.jsonl";

/// A key to retire: its plan entry, its API key, its passphrase if any.
pub struct OldKey<'a> {
    pub planned: &'a PlannedKey,
    pub api_key: String,
    pub passphrase: Option<Secret>,
}

/// What became of each old key ((exchange, api key)): Ok once it is
/// neutralized, else why not.
pub type Retired = BTreeMap<(ExchangeId, String), Result<(), String>>;

#[allow(clippy::too_many_arguments)]
pub async fn retire(
    opts: &RevokeOptions,
    config: &Config,
    connectors: &BTreeMap<ExchangeId, Arc<dyn Connector>>,
    senders: &BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
    budgets: &Budgets,
    store: &Arc<dyn JobStore>,
    audit: &Arc<AuditLog>,
    olds: &[OldKey<'_>],
) -> Result<(Retired, RunEnd), String> {
    let path = opts.out.join(FILE_NAME);
    append_rows(&path, olds)?;
    let inventory = Inventory::open(&path, &registry::exchanges()).map_err(|e| e.to_string())?;
    let passphrases: HashMap<(ExchangeId, String), Secret> = olds
        .iter()
        .filter_map(|o| {
            Some((
                (o.planned.exchange, o.api_key.clone()),
                o.passphrase.clone()?,
            ))
        })
        .collect();
    let source = Arc::new(InventorySource::new(inventory, config).with_passphrases(passphrases));
    let planner = Planner {
        source: &source,
        connectors,
        skip: None,
        // The source fills in the passphrases itself.
        complete: None,
    };
    planner
        .enqueue(store.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let key_source: Arc<dyn KeySource> = source;
    let end = revoke::execute(
        config,
        senders,
        budgets,
        store.clone(),
        audit.clone(),
        key_source,
        opts.rate_limits,
        false,
    )
    .await;
    let _ = escalation::write(&opts.escalation_dir(), store.as_ref(), connectors).await;
    let mut outcomes = Retired::new();
    let wanted: HashMap<(ExchangeId, Fingerprint), String> = olds
        .iter()
        .map(|o| {
            (
                (o.planned.exchange, Fingerprint::of(&o.api_key)),
                o.api_key.clone(),
            )
        })
        .collect();
    let exchanges: HashSet<ExchangeId> = olds.iter().map(|o| o.planned.exchange).collect();
    for x in exchanges {
        for state in State::ALL {
            let entries = store.list(x, *state).await.map_err(|e| e.to_string())?;
            for e in entries {
                let Some(old) = wanted.get(&(x, e.fingerprint.clone())) else {
                    continue;
                };
                let fate = match state.outcome() {
                    Some(o) if o.is_neutralized() => Ok(()),
                    Some(o) => Err(format!(
                        "{o}{}",
                        e.message.map(|m| format!(": {m}")).unwrap_or_default()
                    )),
                    None => Err("its deletion did not finish; run again to resume".to_string()),
                };
                outcomes.insert((x, old.clone()), fate);
            }
        }
    }
    Ok((outcomes, end))
}

/// Append a row for each old key the file does not hold yet.
fn append_rows(path: &std::path::Path, olds: &[OldKey<'_>]) -> Result<(), String> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let held: HashSet<(String, String)> = existing
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["exchange"].as_str().unwrap_or_default().to_string(),
                v["api_key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut rows = String::new();
    for OldKey {
        planned: k,
        api_key: old,
        ..
    } in olds
    {
        if held.contains(&(k.exchange.to_string(), old.clone())) {
            continue;
        }
        let row = serde_json::json!({
            "exchange": k.exchange,
            "api_key": old,
            "account": k.account,
            "via": k.via.name,
            "label": k.label,
        });
        rows.push_str(&row.to_string());
        rows.push('\n');
    }
    if rows.is_empty() {
        return Ok(());
    }
    escalation::append_private(path, &rows).map_err(|e| format!("{}: {e}", path.display()))
}
