//! HTX (Huobi) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a parent-user credential deletes a sub user's key (`POST
//!   /v2/sub-user/api-key-deletion`; the row's `account` is the sub user's
//!   numeric UID);
//! - disable, through the same credential: `POST
//!   /v2/sub-user/api-key-modification` with the permission down to
//!   `readOnly` and the IPs replaced by an unroutable address, both always
//!   sent (the docs do not say what an omitted field becomes);
//! - probe: the parent's query of the sub user's key (`GET
//!   /v2/user/api-key?uid=&accessKey=`) when a credential is given (it
//!   names the key's permissions), else the key's own `GET /v2/user/uid`;
//! - discovery: the parent lists its sub users, then each one's keys
//!   (`discover.rs`);
//! - nothing else: no call lets a key delete or restrict itself, or the
//!   parent act on its own keys, so such keys are probed and escalated.
//!   Locking the whole sub user is left to the operator (`endpoints.rs`).

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::{Answer, Class, ReplyContext};
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

/// HTX's ccxt id, and ccxt's older spelling.
pub const EXCHANGE: ExchangeName = ExchangeName::new("htx", &["huobi"]);
/// The online address the docs name for every endpoint called here.
pub const DEFAULT_BASE_URL: &str = "https://api.huobi.pro";

pub struct HtxConnector {
    client: reqwest::Client,
    base: Url,
    /// The host signed into every request (`sign::host_of`).
    host: String,
    clock: ExchangeClock,
}

/// A parent-user credential and the sub user the row names.
struct Parent<'a> {
    cred: &'a Credential,
    sub_uid: &'a str,
}

impl<'a> Parent<'a> {
    fn of(job: &'a KeyJob) -> Option<Parent<'a>> {
        let cred = job.via.as_deref()?;
        let sub_uid = job.key.account.as_deref()?;
        (cred.role == CredentialRole::Master).then_some(Parent { cred, sub_uid })
    }

    fn caller(&self) -> Caller<'a> {
        Caller::credential(self.cred)
    }
}

impl HtxConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        HtxConnector {
            client,
            host: sign::host_of(&base),
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

    /// Sign afresh, send, and read the reply: a GET's `params` go in the
    /// signed query, a POST's `body` is sent as it is.
    async fn call(
        &self,
        caller: &Caller<'_>,
        endpoint: &Endpoint,
        params: &[(&str, String)],
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: caller.api_key,
            secret: caller.secret,
            host: &self.host,
        };
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            params,
            body,
            self.clock.now_ms(),
        );
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, &Self::context(caller.signed_by, endpoint))
    }

    fn parent(job: &KeyJob) -> Result<Parent<'_>, Failure> {
        Parent::of(job).ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "no parent-user credential with the sub user (`via` and `account`)".into(),
            ))
        })
    }

    async fn delete_by_parent(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let parent = Self::parent(job)?;
        let body = endpoints::delete_body(parent.sub_uid, &job.key.api_key);
        let endpoint = &endpoints::DELETE_SUB_KEY;
        Ok(self
            .call(&parent.caller(), endpoint, &[], Some(&body))
            .await?
            .reply)
    }

    /// Read-only, bound to an unroutable IP.
    async fn disable_by_parent(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let parent = Self::parent(job)?;
        let body = endpoints::disable_body(parent.sub_uid, &job.key.api_key);
        let endpoint = &endpoints::MODIFY_SUB_KEY;
        Ok(self
            .call(&parent.caller(), endpoint, &[], Some(&body))
            .await?
            .reply)
    }

    /// The parent's query of the key in its sub user: alive with its
    /// permissions, or dead when the query does not list it.
    async fn probe_via_parent(&self, parent: &Parent<'_>, api_key: &str) -> Result<Probe, Failure> {
        let params = [
            ("uid", parent.sub_uid.to_string()),
            ("accessKey", api_key.to_string()),
        ];
        let answer = self
            .call(&parent.caller(), &endpoints::QUERY_KEYS, &params, None)
            .await?;
        let Some(keys) = answer.body.as_array() else {
            return Ok(Probe {
                meta: answer.reply.meta,
                ..Probe::cannot_tell()
            });
        };
        match keys
            .iter()
            .find(|k| k["accessKey"].as_str() == Some(api_key))
        {
            Some(k) => {
                let mut probe = Probe::alive(
                    endpoints::permission_names(k),
                    &endpoints::FUND_MOVING_PERMISSIONS,
                    answer.reply.meta,
                );
                // An expired key is refused ("API Key has expired"): it
                // moves nothing while it stays so.
                if k["status"].as_str() == Some("expired") {
                    probe.can_move_funds = Some(false);
                }
                Ok(probe)
            }
            None => Ok(Probe::dead(answer.reply.meta)),
        }
    }

    /// The key's own UID: alive (its permissions are not shown there), or
    /// dead by "Incorrect Access key".
    async fn probe_self(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let caller = Caller::own_key(job)?;
        match self.call(&caller, &endpoints::UID, &[], None).await {
            Ok(answer) => Ok(Probe {
                liveness: Liveness::Alive,
                can_move_funds: None,
                permissions: Vec::new(),
                meta: answer.reply.meta,
            }),
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            // Bound to other IPs: alive, but not usable from here.
            Err(f) if errors::class_of_reply(&f.meta) == Some(Class::IpRefused) => {
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
impl Connector for HtxConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        match Parent::of(job) {
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
                    "credential `{}` is a broker credential; HTX sub users' keys are managed by the parent user",
                    cred.name
                ),
            }];
        }
        match job.key.account.as_deref() {
            Some(uid) if !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()) => Vec::new(),
            Some(uid) => vec![FieldProblem {
                field: "account",
                message: format!("HTX names a sub user by its numeric UID (`subUid`), not `{uid}`"),
            }],
            None => vec![FieldProblem {
                field: "account",
                message: format!(
                    "HTX's deletion names the sub user: give the sub user's UID to act through `{}`",
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
            Route::DeleteByMaster => self.delete_by_parent(job).await,
            Route::DisableByMaster => self.disable_by_parent(job).await,
            other => Err(Failure::local(ConnectorError::Unsupported(format!(
                "HTX has no `{other}` call"
            )))),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret() || Parent::of(job).is_some()
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if let Some(parent) = Parent::of(job) {
            return self.probe_via_parent(&parent, &job.key.api_key).await;
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
                // `{"status": "ok", "data": 1629715504949}`.
                |raw| Ok(errors::read_reply(raw, &cx)?.body.as_i64()),
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
            // The docs name api_service@huobi.com for API questions; no
            // address for compromised keys is published. Unconfirmed: the
            // support and API-key pages on htx.com (the docs link the older
            // www.huobi.pro/apikey/ and www.hbg.com/zh-cn/apikey/).
            security_team: "HTX customer support (online chat at https://www.htx.com/support), or api_service@huobi.com",
            api_management_page: "https://www.htx.com/en-us/apikey/",
        }
    }
}
