//! Kraken (spot REST) connector.
//!
//! Channels (see `endpoints.rs` for the sources): none that neutralize. No
//! Kraken API deletes or disables a spot API key, and no key manages
//! another: keys are deleted by their owner in the web UI. So every key is
//! escalated, and a key whose secret is known is first probed with
//! `POST /0/private/GetApiKeyInfo`, signed by the key itself: alive keys,
//! and those that can withdraw, go to the top of the escalation; dead ones
//! (`EAPI:Invalid key`) end as `already_dead`.
//!
//! Probes of leaked keys fail whenever the key is gone, and failed calls
//! lock the IP out for about 15 minutes (`limits.rs`): every probe is
//! paced by the IP's failed-call tier, and a lockout pauses the IP.
//!
//! Kraken Futures keys (`futures.kraken.com`, checked by `GET
//! /api/auth/v1/api-keys/v3/check`) are another key system with another
//! signing scheme: not covered here.

pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::Class;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::error::{LimitScope, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send, unix_ms};
use keyrevoke_core::sign::Params;
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, ExchangeId, Failure, KeyJob, Liveness,
    Operation, Probe, Reply, Route, Secret, Tier,
};
use serde_json::Value;
use sign::Signer;
use std::sync::atomic::{AtomicU64, Ordering};
use url::Url;

/// Kraken's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("kraken", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.kraken.com";

pub struct KrakenConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
    nonces: Nonces,
}

/// Nonces in milliseconds that never repeat: Kraken refuses a nonce not
/// above the key's last one (`EAPI:Invalid nonce`, itself a failed call
/// that counts towards a lockout), and two probes may be signed within one
/// millisecond.
#[derive(Default)]
struct Nonces(AtomicU64);

impl Nonces {
    fn next(&self, now_ms: u64) -> u64 {
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let next = now_ms.max(last + 1);
            match self
                .0
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

impl KrakenConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        KrakenConnector {
            client,
            base,
            clock: ExchangeClock::default(),
            nonces: Nonces::default(),
        }
    }

    /// `GetApiKeyInfo`, signed afresh by the key itself.
    async fn api_key_info(
        &self,
        api_key: &str,
        secret: &Secret,
    ) -> Result<errors::Answer, Failure> {
        let nonce = self.nonces.next(unix_ms().max(0) as u64);
        let request = Signer { api_key, secret }
            .sign(&endpoints::GET_API_KEY_INFO, &Params::new(), nonce)
            .map_err(|e| Failure::local(ConnectorError::Unsupported(e.to_string())))?;
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, SignedBy::TargetKey)
    }

    /// The key's secret, when it is one this connector can sign with.
    fn probe_secret(job: &KeyJob) -> Option<&Secret> {
        let secret = job.key.api_secret.as_ref()?;
        sign::decode_secret(secret.expose()).ok()?;
        Some(secret)
    }
}

/// `GetApiKeyInfo`'s `permissions` (`query-funds`, `withdraw-funds`, ...).
fn alive(result: &Value, meta: keyrevoke_core::error::ReplyMeta) -> Probe {
    let mut permissions: Vec<String> = result["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    permissions.sort();
    Probe::alive(permissions, &endpoints::FUND_MOVING_PERMISSIONS, meta)
}

static CAPABILITIES: [Capability; 2] = [Capability::Probe, Capability::Escalate];

#[async_trait]
impl Connector for KrakenConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    /// Always escalate: no API neutralizes a Kraken key.
    fn routes(&self, _job: &KeyJob) -> Vec<Route> {
        vec![Route::Escalate]
    }

    /// A secret that is not base64 cannot be a Kraken secret: say so before
    /// anything runs (without showing it). A `via` is unused: no Kraken key
    /// manages another.
    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        match job
            .key
            .api_secret
            .as_ref()
            .map(|s| sign::decode_secret(s.expose()))
        {
            Some(Err(e)) => vec![FieldProblem {
                field: "api_secret",
                message: e.to_string(),
            }],
            _ => Vec::new(),
        }
    }

    fn tiers(&self) -> &'static [Tier] {
        &limits::TIERS
    }

    fn charges(&self, op: Operation) -> &'static [Charge] {
        limits::charges(op)
    }

    /// "Each API key's counter is separate": a probe spends its own key's
    /// counter, whatever account the row names.
    fn account_for(&self, op: Operation, job: &KeyJob) -> String {
        match op {
            Operation::Probe => format!("key:{}", job.fingerprint.short()),
            Operation::ClockSync => String::new(),
            _ => job.rate_account(None),
        }
    }

    async fn perform(&self, route: Route, _job: &KeyJob) -> Result<Reply, Failure> {
        Err(Failure::local(ConnectorError::Unsupported(format!(
            "Kraken has no `{route}` call: spot API keys are deleted in the web UI only"
        ))))
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        Self::probe_secret(job).is_some()
    }

    /// Alive with its permissions; dead on `EAPI:Invalid key`; alive with
    /// unknown permissions when Kraken refused the call for a reason only a
    /// known key can have (its nonce, a permission).
    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let Some(secret) = Self::probe_secret(job) else {
            return Ok(Probe::cannot_tell());
        };
        match self.api_key_info(&job.key.api_key, secret).await {
            Ok(answer) => Ok(alive(&answer.result, answer.reply.meta)),
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            Err(f) if f.meta.code.as_deref().map(errors::class_of) == Some(Class::KeyKnown) => {
                Ok(Probe {
                    liveness: Liveness::Alive,
                    can_move_funds: None,
                    permissions: Vec::new(),
                    meta: f.meta,
                })
            }
            Err(f) => Err(f),
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let endpoint = &endpoints::SERVER_TIME;
        self.clock
            .sync(
                &self.client,
                &self.base,
                PreparedRequest::get(endpoint.path),
                |raw| {
                    let answer = errors::read_reply(raw, SignedBy::Nobody).map_err(|mut f| {
                        // A public endpoint: its limit is the IP's.
                        if let ConnectorError::RateLimited { scope, .. } = &mut f.error
                            && *scope == LimitScope::Account
                        {
                            *scope = LimitScope::Ip;
                        }
                        f
                    })?;
                    // `{"unixtime": 1688669448, "rfc1123": ...}`: seconds.
                    Ok(answer.result["unixtime"].as_i64().map(|s| s * 1000))
                },
            )
            .await?;
        Ok(())
    }

    fn requests_sent(&self) -> u64 {
        keyrevoke_core::http::requests_sent(&self.base)
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "Kraken Support (https://support.kraken.com, \"Contact us\"); Kraken publishes no separate address for compromised API keys",
            api_management_page: endpoints::API_KEYS_PAGE,
        }
    }

    fn escalation_reason(&self, _job: &KeyJob) -> Option<String> {
        Some(format!(
            "no Kraken API deletes or disables a spot API key: its owner deletes it at {} (Settings -> API)",
            endpoints::API_KEYS_PAGE
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::KeyMaterial;

    fn job(secret: Option<&str>) -> KeyJob {
        KeyJob::new(
            KeyMaterial {
                exchange: EXCHANGE.id,
                api_key: "krakenKEY".into(),
                api_secret: secret.map(Secret::from),
                passphrase: None,
                account: Some("shared-account".into()),
                label: None,
            },
            None,
        )
    }

    fn connector() -> KrakenConnector {
        KrakenConnector::new(
            keyrevoke_core::http::build_client(std::time::Duration::from_secs(1)),
            Url::parse(DEFAULT_BASE_URL).unwrap(),
            &ExchangeSettings::default(),
        )
    }

    #[test]
    fn nonces_rise_even_within_one_millisecond_and_follow_the_clock() {
        let n = Nonces::default();
        assert_eq!(n.next(1_000), 1_000);
        assert_eq!(n.next(1_000), 1_001, "the same millisecond");
        assert_eq!(n.next(999), 1_002, "a clock that steps back");
        assert_eq!(n.next(5_000), 5_000);
    }

    #[test]
    fn every_key_is_escalated_and_only_base64_secrets_are_probed() {
        let c = connector();
        let good = job(Some("a2V5c2VjcmV0"));
        assert_eq!(c.routes(&good), vec![Route::Escalate]);
        assert!(c.can_probe(&good));
        assert!(!c.can_probe(&job(None)));
        assert!(c.check(&good).is_empty());
        let bad = c.check(&job(Some("not*base64")));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].field, "api_secret");
        assert!(!bad[0].message.contains("not*base64"));
        assert!(
            c.escalation_reason(&good)
                .unwrap()
                .contains(endpoints::API_KEYS_PAGE)
        );
    }

    #[test]
    fn a_probe_spends_its_own_keys_counter_not_the_rows_account() {
        let c = connector();
        let j = job(Some("a2V5"));
        let account = c.account_for(Operation::Probe, &j);
        assert!(account.starts_with("key:"), "{account}");
        assert!(!keyrevoke_core::key::is_shared_account(&account));
    }
}
