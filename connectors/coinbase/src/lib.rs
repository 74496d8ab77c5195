//! Coinbase connector: Advanced Trade / CDP API keys.
//!
//! Channels (see `endpoints.rs` for the sources): none that neutralize. No
//! Coinbase API deletes or disables a CDP key; keys are managed in the CDP
//! portal. So every key is escalated, and a key whose secret is known is
//! first probed with `GET /api/v3/brokerage/key_permissions`, signed by the
//! key itself (a CDP JWT, `sign.rs`): alive keys, and those that can
//! transfer funds, go to the top of the escalation; dead ones end as
//! `already_dead`.
//!
//! A 401 is only believed the second time: see [`CoinbaseConnector::probe`].

pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::Answer;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::error::{LimitScope, ReplyMeta};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send, unix_ms};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, ExchangeId, Failure, Fingerprint, KeyJob,
    Liveness, Operation, Probe, Reply, Route, Secret, Tier,
};
use serde_json::Value;
use sign::{KeyFormatError, Signer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use url::Url;

/// Coinbase's ccxt id, and the older ccxt spellings operators' exports still carry.
pub const EXCHANGE: ExchangeName =
    ExchangeName::new("coinbase", &["coinbasepro", "coinbaseadvanced"]);
pub const DEFAULT_BASE_URL: &str = "https://api.coinbase.com";

/// How long a server-time sync is trusted to explain away a 401: a token
/// lives 120 s, so a clock that was right minutes ago still is.
const CLOCK_FRESH_MS: i64 = 10 * 60 * 1000;

/// Two 401s for one key count as "in a row" when the second comes within
/// this long of the first (the executor re-probes within seconds).
const CONFIRM_WITHIN_MS: i64 = 10 * 60 * 1000;

/// Unconfirmed 401s kept before stale ones are dropped (keys whose second
/// probe never came).
const MAX_PENDING_401: usize = 100_000;

pub struct CoinbaseConnector {
    client: reqwest::Client,
    base: Url,
    /// `host[:port]` that every token's `uri` claim names.
    jwt_host: String,
    clock: ExchangeClock,
    /// Local Unix ms of the last successful server-time sync; 0: never.
    clock_synced_at_ms: AtomicI64,
    /// Keys whose last probe met a single 401, and when (local Unix ms).
    unconfirmed_401: Mutex<HashMap<Fingerprint, i64>>,
}

impl CoinbaseConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        let jwt_host = endpoints::jwt_host(&base);
        CoinbaseConnector {
            client,
            base,
            jwt_host,
            clock: ExchangeClock::default(),
            clock_synced_at_ms: AtomicI64::new(0),
            unconfirmed_401: Mutex::new(HashMap::new()),
        }
    }

    /// `key_permissions`, signed afresh by the key itself.
    async fn key_permissions(&self, job: &KeyJob, secret: &Secret) -> Result<Answer, Failure> {
        let signer = Signer {
            key_name: &job.key.api_key,
            secret,
            host: &self.jwt_host,
        };
        let request = signer
            .sign(
                endpoints::KEY_PERMISSIONS.method,
                endpoints::KEY_PERMISSIONS.path,
                self.clock.now_ms(),
            )
            .map_err(|e| Failure::local(ConnectorError::Unsupported(e.to_string())))?;
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, false)
    }

    fn clock_is_fresh(&self, now_ms: i64) -> bool {
        let at = self.clock_synced_at_ms.load(Ordering::Relaxed);
        at != 0 && now_ms - at <= CLOCK_FRESH_MS
    }

    /// A 401 on a probe. Coinbase answers the same 401 for a dead key, a
    /// token our clock put outside its nbf/exp window, and now and then for
    /// a valid key (coinbase-advanced-py #19, #132). The connector never
    /// retries, so it makes the executor's own probe retries do the
    /// confirming:
    /// - clock not synced lately: `ClockSkew`, so the executor syncs the
    ///   clock and probes again (this 401 proves nothing);
    /// - first 401 for this key: `Transient`, so the executor backs off and
    ///   probes again;
    /// - a second 401 in a row (no success in between, within
    ///   [`CONFIRM_WITHIN_MS`]): dead.
    ///
    /// The memory is a small map keyed by the key's fingerprint (never the
    /// key), cleared on success or confirmation.
    fn on_unauthorized(&self, job: &KeyJob, failure: Failure) -> Result<Probe, Failure> {
        let now = unix_ms();
        if !self.clock_is_fresh(now) {
            return Err(Failure {
                error: ConnectorError::ClockSkew,
                ..failure
            });
        }
        let mut pending = self.unconfirmed_401.lock().expect("never poisoned");
        match pending.get(&job.fingerprint) {
            Some(first) if now - first <= CONFIRM_WITHIN_MS => {
                pending.remove(&job.fingerprint);
                Ok(Probe::dead(failure.meta))
            }
            _ => {
                if pending.len() >= MAX_PENDING_401 {
                    pending.retain(|_, at| now - *at <= CONFIRM_WITHIN_MS);
                }
                pending.insert(job.fingerprint.clone(), now);
                Err(Failure {
                    error: ConnectorError::Transient(
                        "HTTP 401 once; Coinbase answers spurious 401s, so only a second 401 in a row confirms the key is dead"
                            .into(),
                    ),
                    ..failure
                })
            }
        }
    }

    fn forget_401(&self, job: &KeyJob) {
        self.unconfirmed_401
            .lock()
            .expect("never poisoned")
            .remove(&job.fingerprint);
    }

    /// Whether the key's secret is a CDP key this connector can sign with.
    /// A passphrase marks a Coinbase Exchange (or defunct Pro) key, which a
    /// CDP JWT cannot speak for: probing it would "prove" it dead.
    fn probe_secret(job: &KeyJob) -> Option<&Secret> {
        let secret = job.key.api_secret.as_ref()?;
        if job.key.passphrase.is_some() || sign::key_type(secret.expose()).is_err() {
            return None;
        }
        Some(secret)
    }
}

/// `key_permissions`: which of `can_view`, `can_trade`, `can_transfer` hold.
fn alive(body: &Value, meta: ReplyMeta) -> Probe {
    let permissions: Vec<String> = endpoints::PERMISSION_FIELDS
        .iter()
        .filter(|f| body[**f].as_bool() == Some(true))
        .map(|f| f.to_string())
        .collect();
    Probe::alive(permissions, &[endpoints::FUND_MOVING_PERMISSION], meta)
}

/// `epochMillis`, else `epochSeconds`, as the gateway's strings or numbers.
fn server_time_ms(body: &Value) -> Option<i64> {
    let int = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    int(&body["epochMillis"]).or_else(|| int(&body["epochSeconds"]).map(|s| s * 1000))
}

static CAPABILITIES: [Capability; 2] = [Capability::Probe, Capability::Escalate];

#[async_trait]
impl Connector for CoinbaseConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    /// Always escalate: no API neutralizes a Coinbase key.
    fn routes(&self, _job: &KeyJob) -> Vec<Route> {
        vec![Route::Escalate]
    }

    /// A secret that announces itself as a PEM key but is none cannot be a
    /// working CDP key: say so before anything runs. Other secrets that are
    /// not CDP keys (legacy v2 HMAC keys, which expired in February 2025,
    /// and Exchange keys) are escalated without a probe; a `via` is unused,
    /// since no Coinbase key manages another.
    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        match job
            .key
            .api_secret
            .as_ref()
            .map(|s| sign::key_type(s.expose()))
        {
            Some(Err(e @ KeyFormatError::BadPem)) => vec![FieldProblem {
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

    async fn perform(&self, route: Route, _job: &KeyJob) -> Result<Reply, Failure> {
        Err(Failure::local(ConnectorError::Unsupported(format!(
            "Coinbase has no `{route}` call: CDP API keys are managed in the CDP portal only"
        ))))
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        Self::probe_secret(job).is_some()
    }

    /// Alive with its permissions, dead after two 401s in a row (see
    /// [`CoinbaseConnector::on_unauthorized`]), alive with unknown
    /// permissions on a 403 (the token was accepted).
    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let Some(secret) = Self::probe_secret(job) else {
            return Ok(Probe::cannot_tell());
        };
        match self.key_permissions(job, secret).await {
            Ok(answer) => {
                self.forget_401(job);
                Ok(alive(&answer.body, answer.reply.meta))
            }
            Err(f) => match &f.error {
                ConnectorError::KeyDead(_) => self.on_unauthorized(job, f),
                ConnectorError::Unsupported(_) if f.meta.http_status == Some(403) => {
                    self.forget_401(job);
                    Ok(Probe {
                        liveness: Liveness::Alive,
                        can_move_funds: None,
                        permissions: Vec::new(),
                        meta: f.meta,
                    })
                }
                _ => Err(f),
            },
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let request = PreparedRequest::get(endpoints::SERVER_TIME.path);
        let received = self
            .clock
            .sync(&self.client, &self.base, request, |raw| {
                let answer = errors::read_reply(raw, false).map_err(|mut f| {
                    // A public endpoint: its limit is the IP's, not a user's.
                    if let ConnectorError::RateLimited { scope, .. } = &mut f.error {
                        *scope = LimitScope::Ip;
                    }
                    f
                })?;
                Ok(server_time_ms(&answer.body))
            })
            .await?;
        self.clock_synced_at_ms.store(received, Ordering::Relaxed);
        Ok(())
    }

    /// Coinbase's maintainers send API-key problems to a support ticket
    /// (coinbase/coinbase-advanced-py issue #19: "create a support ticket
    /// [at help.coinbase.com/en/contact-us]"); the key itself is deleted in
    /// the CDP portal (`endpoints::API_KEYS_PAGE`).
    fn requests_sent(&self) -> u64 {
        keyrevoke_core::http::requests_sent(&self.base)
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "Coinbase Support (https://help.coinbase.com/en/contact-us); Coinbase publishes no separate address for compromised API keys",
            api_management_page: endpoints::API_KEYS_PAGE,
        }
    }

    fn escalation_reason(&self, _job: &KeyJob) -> Option<String> {
        Some(format!(
            "no Coinbase API deletes or disables a CDP API key: its owner deletes it at {}",
            endpoints::API_KEYS_PAGE
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::KeyMaterial;

    fn job(secret: Option<&str>, passphrase: Option<&str>) -> KeyJob {
        KeyJob::new(
            KeyMaterial {
                exchange: EXCHANGE.id,
                api_key: "organizations/o/apiKeys/k".into(),
                api_secret: secret.map(Secret::from),
                passphrase: passphrase.map(Secret::from),
                account: None,
                label: None,
            },
            None,
        )
    }

    fn connector() -> CoinbaseConnector {
        CoinbaseConnector::new(
            keyrevoke_core::http::build_client(std::time::Duration::from_secs(1)),
            Url::parse(DEFAULT_BASE_URL).unwrap(),
            &ExchangeSettings::default(),
        )
    }

    const ED25519_SECRET: &str =
        "4QptVUyM/gU2I0AGNaQlexyjGhanJu5jGI0VchhxeJoVdNxG6S4Vu+twI9gE99nluNnBLUI8DgwRu+EaUcG+kw==";

    #[test]
    fn every_key_is_escalated_and_only_cdp_secrets_are_probed() {
        let c = connector();
        assert_eq!(
            c.routes(&job(Some(ED25519_SECRET), None)),
            vec![Route::Escalate]
        );
        assert_eq!(c.routes(&job(None, None)), vec![Route::Escalate]);
        assert!(c.can_probe(&job(Some(ED25519_SECRET), None)));
        assert!(!c.can_probe(&job(None, None)), "no secret, no probe");
        assert!(
            !c.can_probe(&job(Some(ED25519_SECRET), Some("pass"))),
            "a passphrase marks an Exchange key, which a CDP JWT cannot speak for"
        );
        assert!(!c.can_probe(&job(Some("legacyHmacSecret0123456789abcdef"), None)));
        assert_eq!(c.capabilities(), &[Capability::Probe, Capability::Escalate]);
        assert!(
            c.escalation_reason(&job(None, None))
                .unwrap()
                .contains("portal.cdp.coinbase.com")
        );
    }

    #[test]
    fn check_flags_a_broken_pem_but_not_a_legacy_secret_and_never_shows_it() {
        let c = connector();
        let broken = "-----BEGIN EC PRIVATE KEY-----\\nbm90IGEga2V5IGF0IGFsbA==\\n-----END EC PRIVATE KEY-----";
        let problems = c.check(&job(Some(broken), None));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "api_secret");
        assert!(
            !problems[0].message.contains("bm90IGEga2V5"),
            "{}",
            problems[0].message
        );
        assert!(
            c.check(&job(Some("legacyHmacSecret0123456789abcdef"), None))
                .is_empty()
        );
        assert!(c.check(&job(Some(ED25519_SECRET), None)).is_empty());
    }

    #[test]
    fn the_server_time_is_read_from_strings_or_numbers() {
        let v: Value = serde_json::json!({"iso": "2023-11-14T22:13:20Z", "epochSeconds": "1700000000", "epochMillis": "1700000000123"});
        assert_eq!(server_time_ms(&v), Some(1_700_000_000_123));
        let v: Value = serde_json::json!({"epochSeconds": 1700000000});
        assert_eq!(server_time_ms(&v), Some(1_700_000_000_000));
        assert_eq!(server_time_ms(&serde_json::json!({})), None);
    }
}
