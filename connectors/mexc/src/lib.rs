//! MEXC (spot v3) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a master credential deletes a sub-account key (`DELETE
//!   /api/v3/sub-account/apiKey`; the row's `account` is the sub account's
//!   name);
//! - probe: the key's own `GET /api/v3/account` when its secret is known,
//!   else the master's listing of the sub account's keys;
//! - discovery: the master lists its sub accounts, then each one's keys
//!   (`discover.rs`);
//! - nothing else: MEXC documents no call by which a key deletes, disables
//!   or narrows itself, none that disables a sub key, and none by which a
//!   master acts on its own keys, so such keys are probed and escalated.

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::{Answer, ReplyContext};
pub(crate) use keyrevoke_core::Caller;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem, permission_list};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{LimitScope, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send};
use keyrevoke_core::sign::Params;
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Operation, Probe, Reply, Route, Tier,
};
use sign::{DEFAULT_RECV_WINDOW_MS, Signer};
use std::time::Duration;
use url::Url;

/// MEXC's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("mexc", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.mexc.com";

pub struct MexcConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
    recv_window_ms: u64,
    ip_ban_pause: Duration,
}

/// A master credential and the sub account the row names.
struct Master<'a> {
    cred: &'a Credential,
    sub_account: &'a str,
}

impl<'a> Master<'a> {
    fn of(job: &'a KeyJob) -> Option<Master<'a>> {
        let cred = job.via.as_deref()?;
        let sub_account = job.key.account.as_deref()?;
        (cred.role == CredentialRole::Master).then_some(Master { cred, sub_account })
    }

    fn caller(&self) -> Caller<'a> {
        Caller::credential(self.cred)
    }
}

impl MexcConnector {
    pub fn new(client: reqwest::Client, base: Url, settings: &ExchangeSettings) -> Self {
        MexcConnector {
            client,
            base,
            clock: ExchangeClock::default(),
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            ip_ban_pause: settings.ip_ban_pause.unwrap_or(limits::IP_BAN_PAUSE),
        }
    }

    fn context(&self, signed_by: SignedBy, endpoint: &Endpoint) -> ReplyContext {
        ReplyContext {
            signed_by,
            mutating: endpoint.mutating(),
            limit_scope: match signed_by {
                SignedBy::Nobody => LimitScope::Ip,
                _ => LimitScope::Account,
            },
            ip_ban_pause: self.ip_ban_pause,
        }
    }

    /// Sign afresh, send, and read the reply.
    async fn call(
        &self,
        caller: &Caller<'_>,
        endpoint: &Endpoint,
        params: &Params,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: caller.api_key,
            secret: caller.secret,
            recv_window_ms: self.recv_window_ms,
        };
        let request = signer.sign(endpoint, params, self.clock.now_ms());
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, &self.context(caller.signed_by, endpoint))
    }

    fn master(job: &KeyJob) -> Result<Master<'_>, Failure> {
        Master::of(job).ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "no master credential with the sub account (`via` and `account`)".into(),
            ))
        })
    }

    async fn delete_by_master(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let master = Self::master(job)?;
        let params = endpoints::delete_sub_key_params(master.sub_account, &job.key.api_key);
        let answer = self
            .call(&master.caller(), &endpoints::DELETE_SUB_KEY, &params)
            .await?;
        Ok(answer.reply)
    }

    /// The key's own account: alive with its flags, or dead by 10072.
    async fn probe_self(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let caller = Caller::own_key(job)?;
        match self
            .call(&caller, &endpoints::ACCOUNT, &Params::new())
            .await
        {
            Ok(answer) => {
                let permissions = endpoints::ACCOUNT_FLAGS
                    .iter()
                    .filter(|f| answer.body[**f].as_bool() == Some(true))
                    .map(|f| f.to_string())
                    .collect();
                Ok(alive(permissions, answer.reply))
            }
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            // Bound to other IPs: alive, but not usable from here.
            Err(f) if f.meta.code.as_deref() == Some("700006") => Ok(Probe::ip_restricted(f.meta)),
            Err(f) => Err(f),
        }
    }

    /// Look for the key in its sub account's key list.
    async fn probe_via_master(&self, master: &Master<'_>, api_key: &str) -> Result<Probe, Failure> {
        let answer = self
            .call(
                &master.caller(),
                &endpoints::LIST_SUB_KEYS,
                &endpoints::list_sub_keys_params(master.sub_account),
            )
            .await?;
        let Some(keys) = answer.body["subAccount"].as_array() else {
            return Ok(Probe {
                meta: answer.reply.meta,
                ..Probe::cannot_tell()
            });
        };
        match keys.iter().find(|k| k["apiKey"].as_str() == Some(api_key)) {
            Some(k) => {
                let permissions = permission_list(k["permissions"].as_str().unwrap_or(""));
                Ok(alive(permissions, answer.reply))
            }
            None => Ok(Probe::dead(answer.reply.meta)),
        }
    }
}

fn alive(permissions: Vec<String>, reply: Reply) -> Probe {
    Probe::alive(permissions, &endpoints::FUND_MOVING_PERMISSIONS, reply.meta)
}

static CAPABILITIES: [Capability; 3] = [
    Capability::DeleteByMaster,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for MexcConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        match Master::of(job) {
            Some(_) => vec![Route::DeleteByMaster, Route::Escalate],
            None => vec![Route::Escalate],
        }
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let Some(cred) = job.via.as_deref() else {
            return Vec::new();
        };
        if cred.role == CredentialRole::Broker {
            return vec![FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` is a broker credential; MEXC sub-account keys are deleted by the master account",
                    cred.name
                ),
            }];
        }
        if job.key.account.is_none() {
            return vec![FieldProblem {
                field: "account",
                message: format!(
                    "MEXC names the sub account in the delete call: give the sub account's name to act through `{}`",
                    cred.name
                ),
            }];
        }
        Vec::new()
    }

    fn tiers(&self) -> &'static [Tier] {
        &limits::TIERS
    }

    fn charges(&self, op: Operation) -> &'static [Charge] {
        limits::charges(op)
    }

    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        match route {
            Route::DeleteByMaster => self.delete_by_master(job).await,
            other => Err(Failure::local(ConnectorError::Unsupported(format!(
                "MEXC has no `{other}` call"
            )))),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret() || Master::of(job).is_some()
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if job.has_secret() {
            return self.probe_self(job).await;
        }
        match Master::of(job) {
            Some(master) => self.probe_via_master(&master, &job.key.api_key).await,
            None => Ok(Probe::cannot_tell()),
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let endpoint = &endpoints::SERVER_TIME;
        let cx = self.context(SignedBy::Nobody, endpoint);
        self.clock
            .sync(
                &self.client,
                &self.base,
                PreparedRequest::get(endpoint.path),
                |raw| {
                    // "Check Server Time": `{"serverTime": 1645539742000}`.
                    Ok(errors::read_reply(raw, &cx)?.body["serverTime"].as_i64())
                },
            )
            .await?;
        Ok(())
    }

    fn can_discover(&self) -> bool {
        true
    }

    async fn discover(&self, cred: &Credential, page: &PageRequest) -> Result<Page, Failure> {
        self.discover_page(cred, page).await
    }

    fn requests_sent(&self) -> u64 {
        keyrevoke_core::http::requests_sent(&self.base)
    }

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "MEXC Security team (via online support at https://www.mexc.com/support)",
            api_management_page: "https://www.mexc.com/user/openapi",
        }
    }
}
