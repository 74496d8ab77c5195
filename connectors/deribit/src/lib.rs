//! Deribit (API v2, JSON-RPC over HTTP) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a main-account credential (`account:read_write`) removes a key by its
//!   id (`private/remove_api_key`), the id read first from
//!   `private/list_api_keys` by the row's client id. Without `account` the
//!   key is the credential's own account's, and the credential signs each
//!   call; with `account` (a sub account's numeric id) the credential
//!   authenticates (`public/auth`, grant `client_signature`) and exchanges
//!   its refresh token for the sub account's (`public/exchange_token`),
//!   then acts there with that token;
//! - a key acting on itself (its own secret): not documented either way,
//!   so tried (list, find its own id, remove), falling back when refused;
//! - disable (`private/disable_api_key`), by the same two callers, after
//!   every delete;
//! - probe: the credential's listing of the key's account when given (it
//!   shows the key's scope and whether it is enabled), else the key's own
//!   `public/auth` (13004: dead);
//! - discovery: the main account lists its sub accounts
//!   (`private/get_subaccounts`), then each one's keys (`discover.rs`).
//!
//! A token is a credential: it lives in a `Secret` for the calls of one
//! operation and is never stored, logged or shown. A security-key (TFA)
//! challenge (13668) ends a route with its reason (`errors.rs`).

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
use keyrevoke_core::sign::Params;
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Liveness, Operation, Probe, Reply, Route, Secret, Tier,
};
use sign::Signer;
use url::Url;

/// Deribit's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("deribit", &[]);
pub const DEFAULT_BASE_URL: &str = "https://www.deribit.com";

pub struct DeribitConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
}

/// Who a call is made as.
enum Session<'a> {
    /// A key signing each call with its own secret (the header scheme).
    Signed(Caller<'a>),
    /// A token for one account, obtained by `signed_by`.
    Token { token: Secret, signed_by: SignedBy },
}

impl Session<'_> {
    fn signed_by(&self) -> SignedBy {
        match self {
            Session::Signed(c) => c.signed_by,
            Session::Token { signed_by, .. } => *signed_by,
        }
    }
}

/// A main-account credential, and the sub account the row names (none:
/// the credential's own account).
struct Master<'a> {
    cred: &'a Credential,
    account: Option<&'a str>,
}

impl<'a> Master<'a> {
    fn of(job: &'a KeyJob) -> Option<Master<'a>> {
        let cred = job.via.as_deref()?;
        (cred.role == CredentialRole::Master).then_some(Master {
            cred,
            account: job.key.account.as_deref(),
        })
    }
}

impl DeribitConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        DeribitConnector {
            client,
            base,
            clock: ExchangeClock::default(),
        }
    }

    fn context(signed_by: SignedBy, endpoint: &Endpoint) -> ReplyContext {
        ReplyContext {
            signed_by,
            mutating: endpoints::changes_state(endpoint),
            limit_scope: if endpoint.charges.iter().any(|c| c.tier == limits::IP_PUBLIC) {
                LimitScope::Ip
            } else {
                LimitScope::Account
            },
        }
    }

    async fn exchange(
        &self,
        request: PreparedRequest,
        cx: &ReplyContext,
    ) -> Result<Answer, Failure> {
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, cx)
    }

    /// Sign afresh (or carry the token), send, and read the reply.
    async fn call(
        &self,
        session: &Session<'_>,
        endpoint: &Endpoint,
        params: &Params,
    ) -> Result<Answer, Failure> {
        let request = match session {
            Session::Signed(caller) => Signer {
                client_id: caller.api_key,
                secret: caller.secret,
            }
            .sign(endpoint, params, self.clock.now_ms()),
            Session::Token { token, .. } => sign::bearer(endpoint, params, token),
        };
        self.exchange(request, &Self::context(session.signed_by(), endpoint))
            .await
    }

    /// `public/auth` by `caller`: the token reply's `result`.
    async fn authenticate(&self, caller: &Caller<'_>) -> Result<Answer, Failure> {
        let request = Signer {
            client_id: caller.api_key,
            secret: caller.secret,
        }
        .auth(self.clock.now_ms());
        self.exchange(request, &Self::context(caller.signed_by, &endpoints::AUTH))
            .await
    }

    /// The session that acts in `account` for `cred`: the credential
    /// itself in its own account, else a token exchanged for the account's.
    async fn session_in<'a>(
        &self,
        cred: &'a Credential,
        account: Option<&str>,
    ) -> Result<Session<'a>, Failure> {
        let caller = Caller::credential(cred);
        let Some(subject_id) = account else {
            return Ok(Session::Signed(caller));
        };
        let auth = self.authenticate(&caller).await?;
        let refresh = token_of(&auth, "refresh_token")?;
        let exchanged = self
            .exchange(
                sign::public(
                    &endpoints::EXCHANGE_TOKEN,
                    &Params::new()
                        .with("refresh_token", refresh.expose())
                        .with("subject_id", subject_id),
                ),
                &Self::context(SignedBy::ManagingCredential, &endpoints::EXCHANGE_TOKEN),
            )
            .await?;
        Ok(Session::Token {
            token: token_of(&exchanged, "access_token")?,
            signed_by: SignedBy::ManagingCredential,
        })
    }

    /// List the session's account, find the key by its client id, then
    /// call `write` on its id.
    async fn write_key(
        &self,
        session: &Session<'_>,
        client_id: &str,
        write: &Endpoint,
    ) -> Result<Reply, Failure> {
        let listed = self
            .call(session, &endpoints::LIST_KEYS, &Params::new())
            .await?;
        let Some(key) = endpoints::find_key(&listed.result, client_id) else {
            return Err(Failure::new(
                ConnectorError::Permanent {
                    code: "not_listed".into(),
                    message: "no key with this client id in the account's key list".into(),
                },
                listed.reply.meta,
            ));
        };
        let params = Params::new().with("id", key.id.to_string());
        Ok(self.call(session, write, &params).await?.reply)
    }

    async fn by_master(&self, job: &KeyJob, write: &Endpoint) -> Result<Reply, Failure> {
        let master = Master::of(job).ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "no main-account credential (`via`)".into(),
            ))
        })?;
        let session = self.session_in(master.cred, master.account).await?;
        self.write_key(&session, &job.key.api_key, write).await
    }

    /// Undocumented: the key lists its own account and acts on its own id.
    async fn by_itself(&self, job: &KeyJob, write: &Endpoint) -> Result<Reply, Failure> {
        let session = Session::Signed(Caller::own_key(job)?);
        self.write_key(&session, &job.key.api_key, write).await
    }

    /// The key in its account's listing: alive with its scopes (disabled
    /// keys cannot move funds), or dead when not listed.
    async fn probe_via_master(
        &self,
        master: &Master<'_>,
        client_id: &str,
    ) -> Result<Probe, Failure> {
        let session = self.session_in(master.cred, master.account).await?;
        let listed = self
            .call(&session, &endpoints::LIST_KEYS, &Params::new())
            .await?;
        let meta = listed.reply.meta;
        match endpoints::find_key(&listed.result, client_id) {
            Some(k) if k.enabled => {
                Ok(Probe::alive(k.scopes, &endpoints::FUND_MOVING_SCOPES, meta))
            }
            Some(k) => Ok(Probe {
                liveness: Liveness::Alive,
                can_move_funds: Some(false),
                permissions: [vec!["disabled".to_string()], k.scopes].concat(),
                meta,
            }),
            None => Ok(Probe::dead(meta)),
        }
    }

    /// The key's own `public/auth`: alive with the scope granted, or dead
    /// by 13004.
    async fn probe_self(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let caller = Caller::own_key(job)?;
        match self.authenticate(&caller).await {
            Ok(answer) => {
                let scopes = endpoints::scopes(answer.result["scope"].as_str().unwrap_or(""));
                if scopes.is_empty() {
                    Ok(Probe {
                        liveness: Liveness::Alive,
                        can_move_funds: None,
                        permissions: Vec::new(),
                        meta: answer.reply.meta,
                    })
                } else {
                    Ok(Probe::alive(
                        scopes,
                        &endpoints::FUND_MOVING_SCOPES,
                        answer.reply.meta,
                    ))
                }
            }
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            Err(f) => Err(f),
        }
    }
}

/// A token field of an auth reply, held as a secret.
fn token_of(answer: &Answer, field: &str) -> Result<Secret, Failure> {
    match answer.result[field].as_str().filter(|t| !t.is_empty()) {
        Some(token) => Ok(Secret::from(token)),
        None => Err(Failure::new(
            ConnectorError::Transient(format!("the auth reply carries no {field}")),
            answer.reply.meta.clone(),
        )),
    }
}

static CAPABILITIES: [Capability; 5] = [
    Capability::DeleteByMaster,
    Capability::DeleteSelf,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for DeribitConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    /// Deletes before disables; the credential's before the key's own
    /// (documented before undocumented).
    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        let master = Master::of(job).is_some();
        let own = job.has_secret();
        [
            (master, Route::DeleteByMaster),
            (own, Route::DeleteSelf),
            (master, Route::DisableByMaster),
            (own, Route::DisableSelf),
            (true, Route::Escalate),
        ]
        .into_iter()
        .filter_map(|(usable, route)| usable.then_some(route))
        .collect()
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if let Some(cred) = job.via.as_deref()
            && cred.role == CredentialRole::Broker
        {
            problems.push(FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` is a broker credential; Deribit keys are managed by their main account",
                    cred.name
                ),
            });
        }
        if let Some(id) = job.key.account.as_deref()
            && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.push(FieldProblem {
                field: "account",
                message: format!("Deribit names a sub account by its numeric id, not `{id}`"),
            });
        }
        problems
    }

    fn tiers(&self) -> &'static [Tier] {
        &limits::TIERS
    }

    fn charges(&self, op: Operation) -> &'static [Charge] {
        limits::charges(op)
    }

    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        match route {
            Route::DeleteByMaster => self.by_master(job, &endpoints::REMOVE_KEY).await,
            Route::DisableByMaster => self.by_master(job, &endpoints::DISABLE_KEY).await,
            Route::DeleteSelf => self.by_itself(job, &endpoints::REMOVE_KEY).await,
            Route::DisableSelf => self.by_itself(job, &endpoints::DISABLE_KEY).await,
            other => Err(Failure::local(ConnectorError::Unsupported(format!(
                "Deribit has no `{other}` call"
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
        let endpoint = &endpoints::GET_TIME;
        let cx = Self::context(SignedBy::Nobody, endpoint);
        self.clock
            .sync(
                &self.client,
                &self.base,
                sign::public(endpoint, &Params::new()),
                // `{"jsonrpc": "2.0", "result": 1550147385946}`.
                |raw| Ok(errors::read_reply(raw, &cx)?.result.as_i64()),
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
            // No address for compromised keys is published; support's is
            // the documented contact.
            security_team: "Deribit support (support@deribit.com, or a ticket at https://support.deribit.com)",
            api_management_page: "https://www.deribit.com/account/BTC/api",
        }
    }
}
