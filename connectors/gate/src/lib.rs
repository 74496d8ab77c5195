//! Gate (API v4) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a main-account credential deletes a sub-account key (`DELETE
//!   /api/v4/sub_accounts/{user_id}/keys/{key}`; the row's `account` is the
//!   sub account's numeric user id);
//! - disable, through the same credential: read the key (`GET` of the same
//!   path), then write it back whole (`PUT`): the same mode and name, every
//!   permission read-only, the IP whitelist replaced by an unroutable
//!   address. Gate clears a list the update omits, so nothing is omitted;
//! - probe: the main account's listing of the sub account's keys when a
//!   credential is given (it names the key's permissions), else the key's
//!   own `GET /api/v4/account/detail`;
//! - discovery: the main account lists its sub accounts, then each one's
//!   keys (`discover.rs`);
//! - nothing else: no call lets a key delete or restrict itself, or the main
//!   account act on its own keys, so such keys are probed and escalated.

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::{Answer, ReplyContext};
pub(crate) use keyrevoke_core::Caller;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{LimitScope, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Liveness, Operation, Probe, Reply, Route, Tier,
};
use sign::Signer;
use url::Url;

/// Gate's ccxt id, and ccxt's older spelling.
pub const EXCHANGE: ExchangeName = ExchangeName::new("gate", &["gateio"]);
pub const DEFAULT_BASE_URL: &str = "https://api.gateio.ws";

pub struct GateConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
}

/// A main-account credential and the sub account the row names.
struct Master<'a> {
    cred: &'a Credential,
    user_id: &'a str,
}

impl<'a> Master<'a> {
    fn of(job: &'a KeyJob) -> Option<Master<'a>> {
        let cred = job.via.as_deref()?;
        let user_id = job.key.account.as_deref()?;
        (cred.role == CredentialRole::Master).then_some(Master { cred, user_id })
    }

    fn caller(&self) -> Caller<'a> {
        Caller::credential(self.cred)
    }
}

impl GateConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        GateConnector {
            client,
            base,
            clock: ExchangeClock::default(),
        }
    }

    fn context(signed_by: SignedBy, endpoint: &Endpoint) -> ReplyContext {
        ReplyContext {
            signed_by,
            mutating: endpoint.mutating(),
            limit_scope: match signed_by {
                SignedBy::Nobody => LimitScope::Ip,
                _ => LimitScope::Account,
            },
        }
    }

    /// Sign afresh, send, and read the reply.
    async fn call(
        &self,
        caller: &Caller<'_>,
        endpoint: &Endpoint,
        path: &str,
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: caller.api_key,
            secret: caller.secret,
        };
        let request = signer.sign(endpoint.method.clone(), path, "", body, self.clock.now_ms());
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, &Self::context(caller.signed_by, endpoint))
    }

    fn master(job: &KeyJob) -> Result<Master<'_>, Failure> {
        Master::of(job).ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "no main-account credential with the sub account (`via` and `account`)".into(),
            ))
        })
    }

    async fn delete_by_master(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let master = Self::master(job)?;
        let endpoint = &endpoints::DELETE_SUB_KEY;
        let path = endpoints::path(endpoint, master.user_id, &job.key.api_key);
        Ok(self
            .call(&master.caller(), endpoint, &path, None)
            .await?
            .reply)
    }

    /// Read the key, then write it back whole, read-only and bound to an
    /// unroutable IP.
    async fn disable_by_master(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let master = Self::master(job)?;
        let caller = master.caller();
        let read = self
            .call(
                &caller,
                &endpoints::GET_SUB_KEY,
                &endpoints::path(&endpoints::GET_SUB_KEY, master.user_id, &job.key.api_key),
                None,
            )
            .await?;
        let Some(body) = endpoints::disable_body(&read.body) else {
            // Writing back a key read without its mode or permissions would
            // clear them, and nothing else would be known of it.
            return Err(Failure::new(
                ConnectorError::Permanent {
                    code: "unreadable_key".into(),
                    message: "the key read lacks its mode or permissions: not updated".into(),
                },
                read.reply.meta,
            ));
        };
        let update = &endpoints::UPDATE_SUB_KEY;
        let written = self
            .call(
                &caller,
                update,
                &endpoints::path(update, master.user_id, &job.key.api_key),
                Some(&body),
            )
            .await
            .map_err(|f| f.with_usage(read.reply.usage.clone()))?;
        Ok(Reply {
            meta: written.reply.meta,
            usage: [read.reply.usage, written.reply.usage].concat(),
        })
    }

    /// Look for the key in its sub account's key list.
    async fn probe_via_master(&self, master: &Master<'_>, api_key: &str) -> Result<Probe, Failure> {
        let endpoint = &endpoints::LIST_SUB_KEYS;
        let answer = self
            .call(
                &master.caller(),
                endpoint,
                &endpoints::path(endpoint, master.user_id, ""),
                None,
            )
            .await?;
        let Some(keys) = answer.body.as_array() else {
            return Ok(Probe {
                meta: answer.reply.meta,
                ..Probe::cannot_tell()
            });
        };
        match keys.iter().find(|k| k["key"].as_str() == Some(api_key)) {
            Some(k) => Ok(Probe::alive(
                endpoints::permission_names(k),
                &endpoints::FUND_MOVING_PERMISSIONS,
                answer.reply.meta,
            )),
            None => Ok(Probe::dead(answer.reply.meta)),
        }
    }

    /// The key's own account detail: alive (its permissions are not shown
    /// there), or dead by `INVALID_KEY`.
    async fn probe_self(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let caller = Caller::own_key(job)?;
        let endpoint = &endpoints::ACCOUNT_DETAIL;
        match self.call(&caller, endpoint, endpoint.path, None).await {
            Ok(answer) => Ok(Probe {
                liveness: Liveness::Alive,
                can_move_funds: None,
                permissions: Vec::new(),
                meta: answer.reply.meta,
            }),
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            // Bound to other IPs: alive, but not usable from here.
            Err(f) if f.meta.code.as_deref() == Some("IP_FORBIDDEN") => {
                Ok(Probe::ip_restricted(f.meta))
            }
            Err(f) => Err(f),
        }
    }
}

static CAPABILITIES: [Capability; 4] = [
    Capability::DeleteByMaster,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for GateConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        match Master::of(job) {
            Some(_) => vec![
                Route::DeleteByMaster,
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
        if cred.role == CredentialRole::Broker {
            return vec![FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` is a broker credential; Gate sub-account keys are managed by the main account",
                    cred.name
                ),
            }];
        }
        match job.key.account.as_deref() {
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Vec::new(),
            Some(id) => vec![FieldProblem {
                field: "account",
                message: format!("Gate names a sub account by its numeric user id, not `{id}`"),
            }],
            None => vec![FieldProblem {
                field: "account",
                message: format!(
                    "Gate names the sub account in the path: give the sub account's user id to act through `{}`",
                    cred.name
                ),
            }],
        }
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
            Route::DisableByMaster => self.disable_by_master(job).await,
            other => Err(Failure::local(ConnectorError::Unsupported(format!(
                "Gate has no `{other}` call"
            )))),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret() || Master::of(job).is_some()
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if let Some(master) = Master::of(job) {
            return self.probe_via_master(&master, &job.key.api_key).await;
        }
        if job.has_secret() {
            return self.probe_self(job).await;
        }
        Ok(Probe::cannot_tell())
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let endpoint = &endpoints::SERVER_TIME;
        let cx = Self::context(SignedBy::Nobody, endpoint);
        self.clock
            .sync(
                &self.client,
                &self.base,
                PreparedRequest::get(endpoint.path),
                |raw| {
                    // SpotApi `get_system_time`: `{"server_time": 1597026383085}`.
                    Ok(errors::read_reply(raw, &cx)?.body["server_time"].as_i64())
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
            // No security address for compromised keys is published; the
            // API-key page's address is unconfirmed.
            security_team: "Gate customer support (online chat or a ticket at https://www.gate.io/help)",
            api_management_page: "https://www.gate.io/myaccount/apikeys",
        }
    }
}
