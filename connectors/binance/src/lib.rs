//! Binance connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a master credential deletes a sub-account key (`DELETE
//!   /sapi/v1/sub-account/subAccountApi`, the row's `account` is the sub
//!   account's email); a broker credential (`role = "broker"`) deletes a
//!   Binance Link sub-account key (`DELETE /sapi/v1/broker/subAccountApi`,
//!   `account` is the `subAccountId`);
//! - disable, through the same credential: bind the key to an unroutable IP,
//!   then switch off its trading and transfer permissions;
//! - probe: the key's own `apiRestrictions` when its secret is known, else
//!   (or when that reply cannot tell) the master's listing of the sub
//!   account's keys;
//! - discovery: a master lists its sub accounts, then each one's keys
//!   (`discover.rs`);
//! - rotation: a master describes a sub key (its listing, then its IP
//!   restriction), creates the replacement, and the new key tests itself
//!   (`rotate.rs`);
//! - nothing else: no Binance key can delete or restrict itself, and no
//!   master can act on its own keys, so such keys are probed and escalated.

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod rotate;
pub mod sign;

use async_trait::async_trait;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;

use errors::{Answer, ReplyContext};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, RawResponse, send};
use keyrevoke_core::rotation::{CreateKey, Created, Described, NewKey, RotationCall};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Liveness, Operation, Probe, Reply, Route, Secret, Tier,
};
use limits::Limit;
use serde_json::Value;
use sign::{DEFAULT_RECV_WINDOW_MS, Params, Signer};
use std::time::Duration;
use url::Url;

/// Binance's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("binance", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";

pub struct BinanceConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
    recv_window_ms: u64,
    ip_ban_pause: Duration,
}

/// Who manages a sub key, and how Binance names its sub account to them.
enum Manager<'a> {
    Master {
        cred: &'a Credential,
        email: &'a str,
    },
    Broker {
        cred: &'a Credential,
        sub_account_id: &'a str,
    },
}

impl<'a> Manager<'a> {
    fn of(job: &'a KeyJob) -> Option<Manager<'a>> {
        let cred = job.via.as_deref()?;
        let account = job.key.account.as_deref()?;
        Some(match cred.role {
            CredentialRole::Master => Manager::Master {
                cred,
                email: account,
            },
            CredentialRole::Broker => Manager::Broker {
                cred,
                sub_account_id: account,
            },
        })
    }

    fn cred(&self) -> &'a Credential {
        match self {
            Manager::Master { cred, .. } | Manager::Broker { cred, .. } => cred,
        }
    }
}

/// Errors worth retrying the whole route for rather than settling on what
/// already took effect.
fn retry_worthy(e: &ConnectorError) -> bool {
    matches!(
        e,
        ConnectorError::RateLimited { .. }
            | ConnectorError::Transient(_)
            | ConnectorError::OutcomeUnknown(_)
            | ConnectorError::ClockSkew
    )
}

impl BinanceConnector {
    pub fn new(client: reqwest::Client, base: Url, settings: &ExchangeSettings) -> Self {
        BinanceConnector {
            client,
            base,
            clock: ExchangeClock::default(),
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            ip_ban_pause: settings.ip_ban_pause.unwrap_or(limits::IP_BAN_PAUSE),
        }
    }

    /// Sign with (`api_key`, `secret`), send, and read Binance's reply.
    async fn call(
        &self,
        api_key: &str,
        secret: &Secret,
        endpoint: &Endpoint,
        params: &Params,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key,
            secret,
            recv_window_ms: self.recv_window_ms,
        };
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            params,
            self.clock.now_ms(),
        );
        let mutating = request.mutating;
        let raw = send(&self.client, &self.base, request).await?;
        self.read_reply(raw, &limits::limit_of(endpoint), mutating)
    }

    async fn call_as(
        &self,
        cred: &Credential,
        endpoint: &Endpoint,
        params: &Params,
    ) -> Result<Answer, Failure> {
        self.call(&cred.api_key, &cred.api_secret, endpoint, params)
            .await
    }

    /// Time left in the current one-minute window, by the exchange's clock.
    fn window_left(&self) -> Duration {
        let period = limits::WINDOW.as_millis() as i64;
        Duration::from_millis((period - self.clock.now_ms().rem_euclid(period)) as u64)
    }

    fn read_reply(
        &self,
        raw: RawResponse,
        limit: &Limit,
        mutating: bool,
    ) -> Result<Answer, Failure> {
        errors::read_reply(
            raw,
            &ReplyContext {
                limit: *limit,
                mutating,
                ip_ban_pause: self.ip_ban_pause,
                window_left: self.window_left(),
            },
        )
    }

    fn manager(job: &KeyJob) -> Result<Manager<'_>, Failure> {
        Manager::of(job).ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "no managing credential with the sub account (`via` and `account`)".into(),
            ))
        })
    }

    async fn delete(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        let key = job.key.api_key.as_str();
        let (cred, endpoint, params) = match (route, Self::manager(job)?) {
            (Route::DeleteByMaster, Manager::Master { cred, email }) => (
                cred,
                &endpoints::DELETE_SUB_KEY,
                endpoints::sub_key_params(email, key),
            ),
            (
                Route::DeleteByBroker,
                Manager::Broker {
                    cred,
                    sub_account_id,
                },
            ) => (
                cred,
                &endpoints::DELETE_BROKER_KEY,
                endpoints::broker_key_params(sub_account_id, key),
            ),
            (route, manager) => {
                let role = match manager {
                    Manager::Master { .. } => "master",
                    Manager::Broker { .. } => "broker",
                };
                return Err(Failure::local(ConnectorError::Unsupported(format!(
                    "`{route}` cannot be taken with credential `{}`, a {role} credential",
                    manager.cred().name
                ))));
            }
        };
        Ok(self.call_as(cred, endpoint, &params).await?.reply)
    }

    /// Bind the key to an unroutable IP (no one can call with it any more),
    /// then switch off its trading and transfer permissions.
    async fn disable(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let key = job.key.api_key.as_str();
        let manager = Self::manager(job)?;
        let (lock, lock_params, strip, strip_params) = match &manager {
            Manager::Master { email, .. } => (
                &endpoints::SUB_KEY_IP_RESTRICTION,
                endpoints::sub_key_ip_lock_params(email, key),
                &endpoints::SUB_KEY_PERMISSION,
                endpoints::sub_key_strip_params(email, key),
            ),
            Manager::Broker { sub_account_id, .. } => (
                &endpoints::BROKER_KEY_IP_RESTRICTION,
                endpoints::broker_key_ip_lock_params(sub_account_id, key),
                &endpoints::BROKER_KEY_PERMISSION,
                endpoints::broker_key_strip_params(sub_account_id, key),
            ),
        };
        let cred = manager.cred();
        let mut reply = self.call_as(cred, lock, &lock_params).await?.reply;
        match self.call_as(cred, strip, &strip_params).await {
            Ok(stripped) => {
                reply.usage.extend(stripped.reply.usage);
                Ok(reply)
            }
            Err(f) if retry_worthy(&f.error) => Err(f),
            // Bound to an IP no one owns, the key is already unusable; say
            // what the exchange refused.
            Err(f) => {
                reply.meta.message = Some(format!(
                    "bound to {}; its permissions were left as they were ({f}{})",
                    endpoints::UNROUTABLE_IP,
                    f.meta
                        .code
                        .as_deref()
                        .map(|c| format!(", code {c}"))
                        .unwrap_or_default()
                ));
                Ok(reply)
            }
        }
    }

    /// The key's own restrictions, read with its own secret.
    async fn probe_self(&self, job: &KeyJob, secret: &Secret) -> Result<Probe, Failure> {
        let answer = self
            .call(
                &job.key.api_key,
                secret,
                &endpoints::API_RESTRICTIONS,
                &Params::new(),
            )
            .await?;
        let flags = answer.body.as_object().cloned().unwrap_or_default();
        let mut permissions: Vec<String> = flags
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.clone())
            .collect();
        permissions.sort();
        Ok(Probe::alive(
            permissions,
            &endpoints::FUND_MOVING_FLAGS,
            answer.reply.meta,
        ))
    }

    /// Look for the key in its sub account's key list (exact match, one
    /// page). Dead only when the listing is complete, unmasked and lacks it.
    async fn probe_via_master(
        &self,
        cred: &Credential,
        email: &str,
        api_key: &str,
    ) -> Result<Probe, Failure> {
        let answer = self
            .call_as(
                cred,
                &endpoints::QUERY_SUB_KEYS,
                &endpoints::find_sub_key_params(email, api_key),
            )
            .await?;
        let meta = answer.reply.meta;
        let Some(rows) = answer.body.get("rows").and_then(Value::as_array) else {
            return Ok(Probe {
                meta,
                ..Probe::cannot_tell()
            });
        };
        if let Some(row) = rows.iter().find(|r| r["apikey"].as_str() == Some(api_key)) {
            let mut permissions: Vec<String> = endpoints::LISTED_FLAGS
                .iter()
                .filter(|f| row[**f].as_bool() == Some(true))
                .map(|f| f.to_string())
                .collect();
            permissions.sort();
            // The listing does not show withdrawal: only a transfer
            // permission proves the key can move funds.
            let can_move =
                (row[endpoints::LISTED_FUND_MOVING_FLAG].as_bool() == Some(true)).then_some(true);
            return Ok(Probe {
                liveness: Liveness::Alive,
                can_move_funds: can_move,
                permissions,
                meta,
            });
        }
        let masked = rows
            .iter()
            .any(|r| r["apikey"].as_str().is_some_and(|k| k.contains('*')));
        let complete = answer.body["total"]
            .as_u64()
            .is_some_and(|t| t <= rows.len() as u64);
        if complete && !masked {
            return Ok(Probe::dead(meta));
        }
        Ok(Probe {
            meta,
            ..Probe::cannot_tell()
        })
    }
}

static CAPABILITIES: [Capability; 5] = [
    Capability::DeleteByMaster,
    Capability::DeleteByBroker,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for BinanceConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        match Manager::of(job) {
            Some(Manager::Master { .. }) => vec![
                Route::DeleteByMaster,
                Route::DisableByMaster,
                Route::Escalate,
            ],
            Some(Manager::Broker { .. }) => vec![
                Route::DeleteByBroker,
                Route::DisableByMaster,
                Route::Escalate,
            ],
            None => vec![Route::Escalate],
        }
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let Some(cred) = job.via.as_deref() else {
            return Vec::new();
        };
        let Some(account) = job.key.account.as_deref() else {
            return vec![FieldProblem {
                field: "account",
                message: format!(
                    "Binance names the sub account in every call: give the sub account's email (for a master credential) or its subAccountId (for a broker credential) to act through `{}`",
                    cred.name
                ),
            }];
        };
        let numeric = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
        match cred.role {
            CredentialRole::Master if numeric => vec![FieldProblem {
                field: "via",
                message: format!(
                    "`{account}` is a numeric id, but credential `{}` is a master credential, which names sub accounts by email; a Binance Link sub account (subAccountId) needs a credential with role = \"broker\"",
                    cred.name
                ),
            }],
            CredentialRole::Broker if account.contains('@') => vec![FieldProblem {
                field: "via",
                message: format!(
                    "`{account}` is an email, but credential `{}` is a broker credential, which names sub accounts by subAccountId; a master's sub account needs a credential with role = \"master\"",
                    cred.name
                ),
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

    fn charges_for(&self, op: Operation, job: &KeyJob) -> &'static [Charge] {
        if let Operation::List(kind) = op {
            // The listing credential acts as itself (no sub account named).
            return limits::list_charges(kind, job.via.as_deref().map(|c| c.role));
        }
        let row = limits::RowMaterial {
            own_secret: job.key.api_secret.is_some(),
            manager: Manager::of(job).map(|m| m.cred().role),
        };
        limits::charges_for_row(op, row)
    }

    /// A probe may fall back to the master's listing even when the key's
    /// secret is known, so it spends the master's budget whenever there is
    /// one.
    fn account_for(&self, op: Operation, job: &KeyJob) -> String {
        match op {
            Operation::Route(r) => job.rate_account(Some(r)),
            Operation::Probe if job.via.is_some() => job.rate_account(Some(Route::DeleteByMaster)),
            Operation::Probe => job.rate_account(None),
            Operation::ClockSync => String::new(),
            Operation::List(_) => job.rate_account(Some(Route::DeleteByMaster)),
            Operation::Rotate(RotationCall::Test) => job.rate_account(None),
            Operation::Rotate(_) => job.rate_account(Some(Route::DeleteByMaster)),
        }
    }

    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        match route {
            Route::DeleteByMaster | Route::DeleteByBroker => self.delete(route, job).await,
            Route::DisableByMaster => self.disable(job).await,
            Route::DeleteSelf | Route::DisableSelf | Route::Escalate => Err(Failure::local(
                ConnectorError::Unsupported(format!("Binance has no `{route}` call")),
            )),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret() || matches!(Manager::of(job), Some(Manager::Master { .. }))
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let master = match Manager::of(job) {
            Some(Manager::Master { cred, email }) => Some((cred, email)),
            _ => None,
        };
        if let Some(secret) = &job.key.api_secret {
            match self.probe_self(job, secret).await {
                Ok(p) => return Ok(p),
                Err(f) => {
                    let ambiguous = f
                        .meta
                        .code
                        .as_deref()
                        .and_then(|c| c.parse::<i64>().ok())
                        .is_some_and(errors::ambiguous_for_liveness);
                    if !ambiguous {
                        return Err(f);
                    }
                    // Gone, or bound elsewhere, or lacking a permission:
                    // only the master's listing can tell.
                    if master.is_none() {
                        return Ok(Probe {
                            meta: f.meta,
                            ..Probe::cannot_tell()
                        });
                    }
                }
            }
        }
        match master {
            Some((cred, email)) => self.probe_via_master(cred, email, &job.key.api_key).await,
            None => Ok(Probe::cannot_tell()),
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let endpoint = &endpoints::SERVER_TIME;
        let request = PreparedRequest::get(endpoint.path);
        self.clock
            .sync(&self.client, &self.base, request, |raw| {
                let answer = self.read_reply(raw, &limits::limit_of(endpoint), false)?;
                // rest-api.md, "Check server time": `{"serverTime": 1499827319559}`.
                Ok(answer.body["serverTime"].as_i64())
            })
            .await?;
        Ok(())
    }

    fn requests_sent(&self) -> u64 {
        keyrevoke_core::http::requests_sent(&self.base)
    }

    fn can_rotate(&self) -> bool {
        true
    }

    async fn describe_key(
        &self,
        cred: &Credential,
        account: &str,
        api_key: &str,
    ) -> Result<Described, Failure> {
        self.describe_sub_key(cred, account, api_key).await
    }

    async fn create_key(&self, cred: &Credential, req: &CreateKey) -> Result<Created, Failure> {
        self.create_sub_key(cred, req).await
    }

    async fn test_key(&self, key: &NewKey) -> Result<Reply, Failure> {
        self.test_new_key(key).await
    }

    fn can_discover(&self) -> bool {
        true
    }

    async fn discover(&self, cred: &Credential, page: &PageRequest) -> Result<Page, Failure> {
        self.discover_page(cred, page).await
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            // The API docs tell users who see unusual activity to "revoke all
            // the keys and contact Binance support" (request-security page);
            // no security-team address for compromised keys is published.
            security_team: "Binance Support (chat or a case at https://www.binance.com/en/support)",
            api_management_page: "https://www.binance.com/en/my/settings/api-management",
        }
    }

    fn escalation_reason(&self, job: &KeyJob) -> Option<String> {
        Manager::of(job).is_none().then(|| {
            "Binance has no API call by which a key deletes or restricts itself, or a master acts on its own keys; only a master or broker credential with the sub account (`via` and `account`) can act on a sub-account key".to_string()
        })
    }
}
