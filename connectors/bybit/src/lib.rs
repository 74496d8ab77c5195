//! Bybit (v5) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a key deletes itself (`delete-api` for a master key, `delete-sub-api`
//!   without `apikey` for a sub key: one whose row names its `account`) when
//!   it holds a transfer or withdrawal permission; one request, the refusal
//!   (10005) telling a key without that permission;
//! - a master credential deletes a sub key (`delete-sub-api` with `apikey`);
//! - disable: read-only and bound to an unroutable IP (`update-sub-api`), or
//!   read-only (`update-api`) for a master key;
//! - probe: `query-api` with the key's own secret, or the master's
//!   `sub-apikeys` listing of the sub account named in the row;
//! - discovery: a master lists its sub UIDs, then each one's keys
//!   (`discover.rs`);
//! - rotation: a master describes a sub key, creates its replacement, and
//!   the new key tests itself (`rotate.rs`).

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod rotate;
pub mod sign;

use async_trait::async_trait;
use errors::Answer;
pub(crate) use keyrevoke_core::Caller;
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{ReplyMeta, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send};
use keyrevoke_core::rotation::{CreateKey, Created, Described, NewKey};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Operation, Probe, Reply, Route, Tier,
};
use serde_json::Value;
use sign::{DEFAULT_RECV_WINDOW_MS, Signer};
use std::time::Duration;
use url::Url;

/// Bybit's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("bybit", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.bybit.com";

pub struct BybitConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
    recv_window_ms: u64,
    ip_ban_pause: Duration,
}

impl BybitConnector {
    pub fn new(client: reqwest::Client, base: Url, settings: &ExchangeSettings) -> Self {
        BybitConnector {
            client,
            base,
            clock: ExchangeClock::default(),
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            ip_ban_pause: settings.ip_ban_pause.unwrap_or(limits::IP_BAN_PAUSE),
        }
    }

    /// Sign with the caller's key, send, and read Bybit's envelope.
    async fn call(
        &self,
        caller: &Caller<'_>,
        endpoint: &Endpoint,
        query: &str,
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: caller.api_key,
            secret: caller.secret,
            recv_window_ms: self.recv_window_ms,
        };
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            query,
            body,
            self.clock.now_ms(),
        );
        let mutating = request.mutating;
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, mutating, caller.signed_by, self.ip_ban_pause)
    }

    /// Read the key's own settings: its permissions (a probe).
    async fn query_self(&self, job: &KeyJob) -> Result<(Vec<String>, Answer), Failure> {
        let answer = self
            .call(&Caller::own_key(job)?, &endpoints::QUERY_KEY, "", None)
            .await?;
        let perms = permission_names(&answer.result["permissions"]);
        Ok((perms, answer))
    }

    /// One request, with no read of the key's settings first: a key whose
    /// row names its `account` is a sub key and calls `delete-sub-api` /
    /// `update-sub-api` without `apikey` (`rm-sub-apikey.mdx`,
    /// `modify-sub-apikey.mdx`); any other is taken for a master key and
    /// calls `delete-api` / `update-api`, which only a master key may call
    /// (`rm-master-apikey.mdx`, `modify-master-apikey.mdx`). A key without
    /// Account Transfer, Subaccount Transfer or Withdrawal is refused with
    /// 10005 "Permission denied, please check your API key permissions"
    /// (`docs/v5/error.mdx`), as is a sub key listed without its account:
    /// the refusal says which, and the executor moves on.
    async fn act_on_self(&self, job: &KeyJob, delete: bool) -> Result<Reply, Failure> {
        let caller = Caller::own_key(job)?;
        let is_sub_key = job.key.account.is_some();
        let (path, body) = match (delete, is_sub_key) {
            (true, false) => (&endpoints::DELETE_MASTER_KEY, "{}".to_string()),
            (true, true) => (&endpoints::DELETE_SUB_KEY, "{}".to_string()),
            (false, false) => (
                &endpoints::UPDATE_MASTER_KEY,
                endpoints::disable_master_body(),
            ),
            (false, true) => (
                &endpoints::UPDATE_SUB_KEY,
                endpoints::disable_sub_body(None),
            ),
        };
        match self.call(&caller, path, "", Some(&body)).await {
            Ok(answer) => Ok(answer.reply),
            Err(mut f) if f.meta.code.as_deref() == Some(errors::PERMISSION_DENIED) => {
                f.error = ConnectorError::Unsupported(if is_sub_key {
                    "permission denied: the sub key holds no transfer permission, which Bybit requires for a key to delete or modify itself".into()
                } else {
                    "permission denied: the key holds no transfer or withdrawal permission, which Bybit requires for a key to delete or modify itself (or it is a sub key and its row names no `account`)".into()
                });
                Err(f)
            }
            Err(f) => Err(f),
        }
    }

    async fn act_as_master(&self, job: &KeyJob, delete: bool) -> Result<Reply, Failure> {
        let caller = Caller::managing(job)?;
        let (path, body) = if delete {
            (
                &endpoints::DELETE_SUB_KEY,
                endpoints::master_delete_body(&job.key.api_key),
            )
        } else {
            (
                &endpoints::UPDATE_SUB_KEY,
                endpoints::disable_sub_body(Some(&job.key.api_key)),
            )
        };
        let answer = self.call(&caller, path, "", Some(&body)).await?;
        Ok(answer.reply)
    }

    /// Look for the key in its sub account's key list, page by page.
    async fn probe_via_master(&self, job: &KeyJob, sub_uid: &str) -> Result<Probe, Failure> {
        let caller = Caller::managing(job)?;
        let mut cursor = String::new();
        loop {
            let query = endpoints::list_sub_keys_query(sub_uid, Some(&cursor));
            let answer = self
                .call(&caller, &endpoints::LIST_SUB_KEYS, &query, None)
                .await?;
            let keys = answer.result["result"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if let Some(found) = keys
                .iter()
                .find(|k| k["apiKey"].as_str() == Some(job.key.api_key.as_str()))
            {
                let perms = permission_names(&found["permissions"]);
                return Ok(alive(perms, answer.reply.meta));
            }
            cursor = answer.result["nextPageCursor"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if cursor.is_empty() || keys.is_empty() {
                return Ok(Probe::dead(answer.reply.meta));
            }
        }
    }
}

fn alive(permissions: Vec<String>, meta: ReplyMeta) -> Probe {
    Probe::alive(permissions, &endpoints::FUND_MOVING_PERMISSIONS, meta)
}

/// Flatten `{"Wallet": ["AccountTransfer"], "Spot": ["SpotTrade"]}` into the
/// permission names.
fn permission_names(permissions: &Value) -> Vec<String> {
    let mut names: Vec<String> = permissions
        .as_object()
        .map(|groups| {
            groups
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

static CAPABILITIES: [Capability; 5] = [
    Capability::DeleteSelf,
    Capability::DeleteByMaster,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for BybitConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        let master = job
            .via
            .as_ref()
            .is_some_and(|c| c.role == CredentialRole::Master);
        let mut routes = Vec::new();
        if master {
            routes.push(Route::DeleteByMaster);
        }
        if job.has_secret() {
            routes.push(Route::DeleteSelf);
        }
        if master {
            routes.push(Route::DisableByMaster);
        }
        if job.has_secret() {
            routes.push(Route::DisableSelf);
        }
        routes.push(Route::Escalate);
        routes
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        match &job.via {
            Some(c) if c.role == CredentialRole::Broker => vec![FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` is a broker credential; Bybit keys are managed by master keys",
                    c.name
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

    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        match route {
            Route::DeleteSelf => self.act_on_self(job, true).await,
            Route::DisableSelf => self.act_on_self(job, false).await,
            Route::DeleteByMaster => self.act_as_master(job, true).await,
            Route::DisableByMaster => self.act_as_master(job, false).await,
            Route::DeleteByBroker | Route::Escalate => Err(Failure::local(
                ConnectorError::Unsupported(format!("Bybit has no `{route}` call")),
            )),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        job.has_secret() || (job.via.is_some() && job.key.account.is_some())
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if job.has_secret() {
            return match self.query_self(job).await {
                Ok((perms, answer)) => Ok(alive(perms, answer.reply.meta)),
                Err(f) => match &f.error {
                    ConnectorError::KeyDead(_) => Ok(Probe::dead(f.meta)),
                    // Bound to other IPs (10010).
                    ConnectorError::Unsupported(_) if f.meta.code.as_deref() == Some("10010") => {
                        Ok(Probe::ip_restricted(f.meta))
                    }
                    _ => Err(f),
                },
            };
        }
        match (&job.via, &job.key.account) {
            (Some(_), Some(sub_uid)) => self.probe_via_master(job, sub_uid).await,
            _ => Ok(Probe::cannot_tell()),
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let request = PreparedRequest::get(endpoints::SERVER_TIME.path);
        self.clock
            .sync(&self.client, &self.base, request, |raw| {
                // market/time.mdx: the envelope's `time` is the server time in ms.
                let server_ms = serde_json::from_str::<Value>(&raw.body)
                    .ok()
                    .and_then(|v| v["time"].as_i64());
                errors::read_reply(raw, false, SignedBy::Nobody, self.ip_ban_pause)?;
                Ok(server_ms)
            })
            .await?;
        Ok(())
    }

    fn requests_sent(&self) -> u64 {
        keyrevoke_core::http::requests_sent(&self.base)
    }

    fn can_discover(&self) -> bool {
        true
    }

    async fn discover(&self, cred: &Credential, page: &PageRequest) -> Result<Page, Failure> {
        self.discover_page(cred, page).await
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

    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "Bybit Security team (via a support ticket at https://www.bybit.com/en/help-center/)",
            api_management_page: "https://www.bybit.com/app/user/api-management",
        }
    }
}
