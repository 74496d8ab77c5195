//! What the report takes from the audit trail: its verification, and the
//! rate-limit refusals per exchange (the journal keeps a key's last state,
//! the audit every attempt).

use keyrevoke_core::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// The audit's verification, as `keyrevoke audit verify` would report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditCheck {
    pub path: String,
    pub records: u64,
    pub chain_intact: bool,
    /// Every record carries an HMAC.
    pub hmac_signed: bool,
    /// The HMACs were checked against the configured signing key (without
    /// one, only their presence is).
    pub hmac_checked: bool,
    /// Why verification failed (names the first bad line).
    pub problem: Option<String>,
}

pub fn check(path: &Path, signing_key: Option<&Secret>) -> AuditCheck {
    let shown = path.display().to_string();
    match keyrevoke_audit::verify(path, signing_key) {
        Ok(r) => AuditCheck {
            path: shown,
            records: r.records,
            chain_intact: true,
            hmac_signed: r.signed,
            hmac_checked: r.signed && signing_key.is_some(),
            problem: None,
        },
        Err(e) => AuditCheck {
            path: shown,
            records: 0,
            chain_intact: false,
            hmac_signed: false,
            hmac_checked: false,
            problem: Some(e.to_string()),
        },
    }
}

/// The members of an audit record this module reads.
#[derive(Deserialize)]
struct AttemptFields<'a> {
    kind: Option<&'a str>,
    exchange: Option<&'a str>,
    outcome: Option<&'a str>,
}

/// The executor's word for a refusal on rate limits (`work.rs`,
/// `error_kind`): each one paused that key's account or the whole IP.
const RATE_LIMITED: &str = "rate_limited";

/// Rate-limit refusals per exchange, counted from the audit's attempts.
pub fn rate_limit_pauses(path: &Path) -> std::io::Result<BTreeMap<String, u64>> {
    let file = std::fs::File::open(path)?;
    let mut pauses = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Ok(fields) = serde_json::from_str::<AttemptFields>(&line) else {
            continue;
        };
        if fields.kind == Some("attempt")
            && fields.outcome == Some(RATE_LIMITED)
            && let Some(x) = fields.exchange
        {
            *pauses.entry(x.to_string()).or_default() += 1;
        }
    }
    Ok(pauses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::store::AuditKind;
    use keyrevoke_core::{AuditEvent, AuditSink, ExchangeId};

    fn attempt(x: ExchangeId, outcome: &str) -> AuditEvent {
        AuditEvent {
            kind: Some(AuditKind::Attempt),
            exchange: Some(x),
            outcome: Some(outcome.into()),
            ..AuditEvent::default()
        }
    }

    #[tokio::test]
    async fn rate_limit_refusals_are_counted_per_exchange_and_the_chain_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (log, _) = keyrevoke_audit::AuditLog::open(&path, None).unwrap();
        for e in [
            attempt(ExchangeId::new("bybit"), "rate_limited"),
            attempt(ExchangeId::new("bybit"), "ok"),
            attempt(ExchangeId::new("okx"), "rate_limited"),
            attempt(ExchangeId::new("bybit"), "rate_limited"),
            AuditEvent {
                kind: Some(AuditKind::Outcome),
                exchange: Some(ExchangeId::new("okx")),
                outcome: Some("rate_limited".into()),
                ..AuditEvent::default()
            },
        ] {
            log.append(e).await.unwrap();
        }
        log.close().await.unwrap();
        let pauses = rate_limit_pauses(&path).unwrap();
        assert_eq!(
            pauses,
            [("bybit".to_string(), 2), ("okx".to_string(), 1)].into(),
            "only attempts refused for rate limits count"
        );
        let ok = check(&path, None);
        assert!(ok.chain_intact && ok.problem.is_none(), "{ok:?}");
        assert_eq!(ok.records, 5);
        assert!(!ok.hmac_signed);

        // One edited byte: the report must say the chain is broken.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"okx\"", "\"oKx\"", 1)).unwrap();
        let broken = check(&path, None);
        assert!(!broken.chain_intact, "{broken:?}");
        assert!(
            broken.problem.unwrap().contains("audit.jsonl:3:"),
            "names the edited line"
        );
    }
}
