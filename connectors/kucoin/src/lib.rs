//! KuCoin connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a master credential deletes a sub key (`DELETE /api/v1/sub/api-key`),
//!   quoting the sub account's name (the row's `account`) and the sub key's
//!   own passphrase (the row's `passphrase`);
//! - disable: the master strips the sub key to "General" (read-only) and
//!   binds it to an unroutable IP (`POST /api/v1/sub/api-key/update`), with
//!   the same passphrase;
//! - no call lets a key delete or modify itself: a leaked master key, or a
//!   key known without a managing master, is escalated;
//! - ND-broker calls (`/api/v1/broker/nd/account/apikey`) exist but need
//!   partner credentials (`KC-API-PARTNER`, `KC-BROKER-NAME`, a broker key)
//!   and the broker host, which a keyrevoke credential cannot carry: broker
//!   credentials are refused at validation;
//! - probe: `GET /api/v1/user/api-key` with the key's own secret and
//!   passphrase, or the master's `GET /api/v1/sub/api-key` listing of the
//!   sub account named in the row;
//! - rotation: the master describes a sub key, creates its replacement, and
//!   the new key tests itself (`rotate.rs`).
//! - discovery: the master lists its sub accounts, then each one's keys
//!   (`discover.rs`); a key found without its passphrase is escalated.

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod rotate;
pub mod sign;

use async_trait::async_trait;
use errors::{Answer, ReplyContext};
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{ReplyMeta, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, RawResponse, send};
use keyrevoke_core::rotation::{CreateKey, Created, Described, NewKey};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Operation, Probe, Reply, Route, Secret, Tier,
};
use sign::{DEFAULT_KEY_VERSION, Signer};
use std::time::Duration;
use url::Url;

/// KuCoin's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("kucoin", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.kucoin.com";

pub struct KucoinConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
    front_block: Duration,
}

/// The key that signs one call, and whose key it is.
struct Caller<'a> {
    api_key: &'a str,
    secret: &'a Secret,
    passphrase: &'a Secret,
    signed_by: SignedBy,
}

/// What a master route needs from the row: the sub account and the sub
/// key's own passphrase.
struct SubKey<'a> {
    api_key: &'a str,
    sub_name: &'a str,
    passphrase: &'a Secret,
}

impl KucoinConnector {
    pub fn new(client: reqwest::Client, base: Url, settings: &ExchangeSettings) -> Self {
        KucoinConnector {
            client,
            base,
            clock: ExchangeClock::default(),
            front_block: settings.ip_ban_pause.unwrap_or(limits::FRONT_IP_BLOCK),
        }
    }

    /// Sign with the caller's key, send, and read KuCoin's envelope.
    async fn call(
        &self,
        caller: &Caller<'_>,
        endpoint: &Endpoint,
        params: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: caller.api_key,
            secret: caller.secret,
            passphrase: caller.passphrase,
            key_version: DEFAULT_KEY_VERSION,
        };
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            params,
            body,
            self.clock.now_ms(),
        );
        let mutating = request.mutating;
        let raw = send(&self.client, &self.base, request).await?;
        self.read_envelope(raw, mutating, caller.signed_by, endpoint)
    }

    fn read_envelope(
        &self,
        raw: RawResponse,
        mutating: bool,
        signed_by: SignedBy,
        endpoint: &Endpoint,
    ) -> Result<Answer, Failure> {
        let (pool_scope, pool_weight) = limits::pool_of(endpoint);
        errors::read_reply(
            raw,
            &ReplyContext {
                signed_by,
                mutating,
                front_block: self.front_block,
                pool_scope,
                pool_weight,
            },
        )
    }

    fn own_key(job: &KeyJob) -> Result<Caller<'_>, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.to_string()));
        let secret = job.own_secret()?;
        let passphrase = job.key.passphrase.as_ref().ok_or_else(|| {
            unsupported("the key's passphrase is not known (KuCoin signs every call with it)")
        })?;
        Ok(Caller {
            api_key: &job.key.api_key,
            secret,
            passphrase,
            signed_by: SignedBy::TargetKey,
        })
    }

    fn master(job: &KeyJob) -> Result<Caller<'_>, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.to_string()));
        let cred: &Credential = job.managing_credential()?;
        if cred.role != CredentialRole::Master {
            return Err(unsupported("the managing credential is not a master key"));
        }
        let passphrase = cred
            .passphrase
            .as_ref()
            .ok_or_else(|| unsupported("the managing credential has no passphrase"))?;
        Ok(Caller {
            api_key: &cred.api_key,
            secret: &cred.api_secret,
            passphrase,
            signed_by: SignedBy::ManagingCredential,
        })
    }

    fn sub_key(job: &KeyJob) -> Result<SubKey<'_>, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.to_string()));
        let sub_name = job
            .key
            .account
            .as_deref()
            .ok_or_else(|| unsupported("the sub account's name (`account`) is not known"))?;
        let passphrase = job
            .key
            .passphrase
            .as_ref()
            .ok_or_else(|| unsupported("the sub key's passphrase is not known"))?;
        Ok(SubKey {
            api_key: &job.key.api_key,
            sub_name,
            passphrase,
        })
    }

    async fn act_as_master(&self, job: &KeyJob, delete: bool) -> Result<Reply, Failure> {
        let master = Self::master(job)?;
        let sub = Self::sub_key(job)?;
        let answer = if delete {
            let params = endpoints::delete_sub_key_params(
                sub.api_key,
                sub.sub_name,
                sub.passphrase.expose(),
            );
            self.call(&master, &endpoints::DELETE_SUB_KEY, &params, None)
                .await?
        } else {
            let body =
                endpoints::disable_sub_key_body(sub.api_key, sub.sub_name, sub.passphrase.expose());
            self.call(&master, &endpoints::UPDATE_SUB_KEY, &[], Some(&body))
                .await?
        };
        Ok(answer.reply)
    }

    /// The key's own view of itself.
    async fn probe_own(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let caller = Self::own_key(job)?;
        match self.call(&caller, &endpoints::QUERY_KEY, &[], None).await {
            Ok(answer) => {
                let perms =
                    endpoints::permission_names(answer.data["permission"].as_str().unwrap_or(""));
                Ok(alive(perms, answer.reply.meta))
            }
            Err(f) => match &f.error {
                ConnectorError::KeyDead(_) => Ok(Probe::dead(f.meta)),
                // Bound to other IPs (400006).
                ConnectorError::Unsupported(_) if f.meta.code.as_deref() == Some("400006") => {
                    Ok(Probe::ip_restricted(f.meta))
                }
                _ => Err(f),
            },
        }
    }

    /// Look for the key in its sub account's key list.
    async fn probe_via_master(&self, job: &KeyJob, sub_name: &str) -> Result<Probe, Failure> {
        let master = Self::master(job)?;
        let params = endpoints::list_sub_key_params(sub_name, &job.key.api_key);
        let answer = self
            .call(&master, &endpoints::LIST_SUB_KEYS, &params, None)
            .await?;
        let keys = answer.data.as_array().cloned().unwrap_or_default();
        match keys
            .iter()
            .find(|k| k["apiKey"].as_str() == Some(job.key.api_key.as_str()))
        {
            Some(found) => {
                let perms = endpoints::permission_names(found["permission"].as_str().unwrap_or(""));
                Ok(alive(perms, answer.reply.meta))
            }
            None => Ok(Probe::dead(answer.reply.meta)),
        }
    }
}

fn alive(permissions: Vec<String>, meta: ReplyMeta) -> Probe {
    Probe::alive(permissions, &endpoints::FUND_MOVING_PERMISSIONS, meta)
}

static CAPABILITIES: [Capability; 4] = [
    Capability::DeleteByMaster,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

fn is_master(job: &KeyJob) -> bool {
    job.via
        .as_ref()
        .is_some_and(|c| c.role == CredentialRole::Master)
}

#[async_trait]
impl Connector for KucoinConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        let mut routes = Vec::new();
        let usable = is_master(job)
            && job.via.as_ref().is_some_and(|c| c.passphrase.is_some())
            && job.key.account.is_some()
            && job.key.passphrase.is_some();
        if usable {
            routes.push(Route::DeleteByMaster);
            routes.push(Route::DisableByMaster);
        }
        routes.push(Route::Escalate);
        routes
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        let Some(cred) = &job.via else {
            return problems;
        };
        if cred.role == CredentialRole::Broker {
            problems.push(FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` is a broker credential; KuCoin's ND-broker calls need partner credentials (KC-API-PARTNER, KC-BROKER-NAME, a broker key) and the broker host, which keyrevoke cannot configure: name the sub account's master key instead",
                    cred.name
                ),
            });
            return problems;
        }
        if cred.passphrase.is_none() {
            problems.push(FieldProblem {
                field: "via",
                message: format!(
                    "credential `{}` has no passphrase; KuCoin signs every private call with the key's passphrase",
                    cred.name
                ),
            });
        }
        if job.key.account.is_none() {
            problems.push(FieldProblem {
                field: "account",
                message: "KuCoin names the sub account (subName) in every call on a sub key: give the sub account's name".into(),
            });
        }
        if job.key.passphrase.is_none() {
            problems.push(FieldProblem {
                field: "passphrase",
                message: "KuCoin requires the sub key's own passphrase to delete it".into(),
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
            Route::DeleteByMaster => self.act_as_master(job, true).await,
            Route::DisableByMaster => self.act_as_master(job, false).await,
            Route::DeleteSelf | Route::DisableSelf | Route::DeleteByBroker | Route::Escalate => {
                Err(Failure::local(ConnectorError::Unsupported(format!(
                    "KuCoin offers no `{route}` call keyrevoke can make"
                ))))
            }
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        let own = job.has_secret() && job.key.passphrase.is_some();
        let via_master = is_master(job)
            && job.via.as_ref().is_some_and(|c| c.passphrase.is_some())
            && job.key.account.is_some();
        own || via_master
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if job.has_secret() && job.key.passphrase.is_some() {
            return self.probe_own(job).await;
        }
        match (&job.via, &job.key.account) {
            (Some(_), Some(sub_name)) if is_master(job) => {
                self.probe_via_master(job, sub_name).await
            }
            _ => Ok(Probe::cannot_tell()),
        }
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let endpoint = &endpoints::SERVER_TIME;
        let request = PreparedRequest {
            method: endpoint.method.clone(),
            headers: vec![("Content-Type", "application/json".to_string())],
            ..PreparedRequest::get(endpoint.path)
        };
        self.clock
            .sync(&self.client, &self.base, request, |raw| {
                let answer = self.read_envelope(raw, false, SignedBy::Nobody, endpoint)?;
                // docs-new/api-3470156: `data` is the server time in ms.
                Ok(answer.data.as_i64())
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

    /// A sub key its master could delete but for its passphrase (one that
    /// `panic` found): the exact place to delete it by hand.
    fn escalation_reason(&self, job: &KeyJob) -> Option<String> {
        let (Some(sub_name), None) = (job.key.account.as_deref(), &job.key.passphrase) else {
            return None;
        };
        if !is_master(job) {
            return None;
        }
        Some(format!(
            "KuCoin deletes a sub key only with the sub key's own passphrase, which no listing shows: on kucoin.com, Sub-Account Management, sub account `{sub_name}`, API Management, delete this key by hand (or give its passphrase with --inventory and run again)"
        ))
    }

    fn escalation_contact(&self) -> EscalationContact {
        // No security e-mail is published in the API docs; the API team's
        // address (api@kucoin.com) appears in docs-new/rate-limit.
        EscalationContact {
            security_team: "KuCoin Support (ticket at https://www.kucoin.com/support; API team: api@kucoin.com)",
            api_management_page: "https://www.kucoin.com/account/api",
        }
    }
}
