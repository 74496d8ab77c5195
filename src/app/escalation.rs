//! Escalation files: for each exchange, the keys no API could neutralize, as
//! a CSV and a short letter for its security team; and per label, notices an
//! operator can send to its users. Masked keys and fingerprints only.

use keyrevoke_core::connector::EscalationContact;
use keyrevoke_core::inventory::csv_field;
use keyrevoke_core::store::JobEntry;
use keyrevoke_core::{Connector, ExchangeId, JobStore, Probe, State, StoreError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder, under a run's `--out`, that holds the escalation files.
pub const DIR_NAME: &str = "escalations";

/// The files written for an exchange with escalated keys: the key list and
/// the letter to its security team.
pub fn files_of(x: ExchangeId) -> [String; 2] {
    [format!("{x}.csv"), format!("{x}-letter.txt")]
}

fn probe_of(e: &JobEntry) -> Option<Probe> {
    e.probe
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
}

fn letter(x: ExchangeId, contact: &EscalationContact, n: usize, movers: usize) -> String {
    format!(
        "To: {team}\nSubject: Request to revoke {n} compromised {x} API keys\n\n\
Hello,\n\n\
The API keys listed in the attached file ({x}.csv) were exposed in a security incident.\n\
None of them could be revoked through your API with the credentials available to us.\n\
{movers} of them were alive and able to move funds (withdraw or transfer) when last checked;\n\
they are listed first.\n\n\
Each key is identified by its masked form and the first 16 hex digits of the SHA-256 of the\n\
full API key, so that you can match it without our sending the key itself.\n\n\
Please revoke these keys, or contact us to receive the full key identifiers over a channel\n\
you trust.\n\n\
Thank you.\n",
        team = contact.security_team
    )
}

/// Write the files under `dir`; returns the paths written.
pub async fn write(
    dir: &Path,
    store: &dyn JobStore,
    connectors: &BTreeMap<ExchangeId, Arc<dyn Connector>>,
) -> Result<Vec<PathBuf>, StoreError> {
    let io = |e: std::io::Error| {
        StoreError::Journal(format!(
            "cannot write escalation files in {}: {e}",
            dir.display()
        ))
    };
    let mut written = Vec::new();
    let mut notices: Vec<(String, ExchangeId, String, &'static str)> = Vec::new();
    for (x, conn) in connectors {
        let mut entries = store.list(*x, State::Escalated).await?;
        if entries.is_empty() {
            continue;
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let probes: Vec<Option<Probe>> = entries.iter().map(probe_of).collect();
        let mut order: Vec<usize> = (0..entries.len()).collect();
        // Fund movers first, then keys known alive, then the rest.
        order.sort_by_key(|i| {
            let p = probes[*i].as_ref();
            let movers = p.and_then(|p| p.can_move_funds) == Some(true);
            let alive = p
                .map(|p| p.liveness == keyrevoke_core::Liveness::Alive)
                .unwrap_or(false);
            (!movers, !alive, entries[*i].source.line)
        });
        let contact = conn.escalation_contact();
        let mut csv =
            String::from("masked_key,fingerprint,label,alive,can_move_funds,permissions,reason\n");
        let mut movers = 0;
        for i in &order {
            let e = &entries[*i];
            let p = probes[*i].as_ref();
            let alive = match p.map(|p| p.liveness) {
                Some(keyrevoke_core::Liveness::Alive) => "alive",
                Some(keyrevoke_core::Liveness::Dead) => "dead",
                _ => "unknown",
            };
            let can_move = match p.and_then(|p| p.can_move_funds) {
                Some(true) => {
                    movers += 1;
                    "yes"
                }
                Some(false) => "no",
                None => "unknown",
            };
            let perms = p.map(|p| p.permissions.join(" ")).unwrap_or_default();
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{}",
                csv_field(&e.masked),
                e.fingerprint.short(),
                csv_field(e.label.as_deref().unwrap_or("")),
                alive,
                can_move,
                csv_field(&perms),
                csv_field(e.message.as_deref().unwrap_or(""))
            );
            notices.push((
                e.label.clone().unwrap_or_default(),
                *x,
                e.masked.clone(),
                contact.api_management_page,
            ));
        }
        let [csv_name, letter_name] = files_of(*x);
        let csv_path = dir.join(csv_name);
        write_private(&csv_path, &csv).map_err(io)?;
        let letter_path = dir.join(letter_name);
        write_private(&letter_path, &letter(*x, &contact, entries.len(), movers)).map_err(io)?;
        written.push(csv_path);
        written.push(letter_path);
        entries.clear();
    }
    if !notices.is_empty() {
        notices.sort();
        let mut csv = String::from("label,exchange,masked_key,api_management_page\n");
        for (label, x, masked, page) in notices {
            let _ = writeln!(
                csv,
                "{},{},{},{}",
                csv_field(&label),
                x,
                csv_field(&masked),
                page
            );
        }
        let path = dir.join("notices-by-label.csv");
        write_private(&path, &csv).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// Reports name keys; keep them to their owner.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Append `text` to `path` (created mode 0600), synced before Ok: rows a
/// journal refers to by their place in the file.
pub fn append_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
