//! Bitget connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a main-account credential deletes a unified-account sub key (`POST
//!   /api/v3/user/delete-sub-api`); an ND broker's credential (`role =
//!   "broker"`) deletes its sub account's key (`POST
//!   /api/v3/broker/delete-sub-apikey`). The row's `account` is the sub
//!   account's numeric UID;
//! - disable, through the main-account credential, where the delete is not
//!   available (a classic account's sub key): read the sub account's key
//!   listing (the modify requires the key's label), then modify the key
//!   (`POST /api/v2/user/modify-virtual-subaccount-apikey`) with every field
//!   sent: the same label, no permission left (an empty `permList`), and
//!   the IP whitelist replaced by an unroutable address. Bitget empties an
//!   omitted IP list, which would open the key to every address, so
//!   nothing is omitted. The modify takes the sub key's own passphrase: the
//!   route is offered only when the row gives it;
//! - probe: the main account's listing of the sub account's keys when a
//!   credential is given (it names the key's permissions), else the key's
//!   own `GET /api/v2/spot/account/info` (its secret and passphrase);
//! - discovery: the main account lists its virtual sub accounts, then each
//!   one's keys (`discover.rs`);
//! - nothing else: no call lets a key delete or restrict itself, or the main
//!   account act on its own keys, so such keys are probed and escalated.
//!
//! Every private call carries the signing key's passphrase
//! (`ACCESS-PASSPHRASE`): a credential without one cannot act (`check`).
//!
//! Confirmed in Bitget's pages (stored copies of bitget.com/api-doc and
//! its mirrors) and the official SDK: the signing scheme and headers, each
//! endpoint's path, parameters, reply and rate limit as cited in
//! `endpoints.rs`, the modify's rules for an omitted `ipList` and an empty
//! `permList`, and that no key deletes itself. Not confirmed, and chosen
//! conservatively: the HTTP status of a refusal (400 is assumed; only the
//! code is read), the timestamp window (30 s, as the simulator holds it),
//! the public time's 20 per second per IP, the code for a sub key the main
//! account names that is gone (refusals stay permanent; the listing
//! decides), that the modify's `passphrase` is the sub key's own, and which
//! main-key permission the v2 sub-account calls require.

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod sign;

use async_trait::async_trait;
use errors::{Answer, ReplyContext};
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{LimitScope, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send, server_time_missing};
use keyrevoke_core::{
    Caller, Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId,
    Failure, KeyJob, Operation, Probe, Reply, Route, Secret, Tier,
};
use sign::Signer;
use url::Url;

/// Bitget's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("bitget", &[]);
pub const DEFAULT_BASE_URL: &str = "https://api.bitget.com";

pub struct BitgetConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
}

/// One signing key and its passphrase, and whose key it is.
pub(crate) struct Signing<'a> {
    caller: Caller<'a>,
    passphrase: &'a Secret,
}

impl<'a> Signing<'a> {
    /// A managing credential, when it has a passphrase.
    fn credential(cred: &'a Credential) -> Option<Signing<'a>> {
        Some(Signing {
            caller: Caller::credential(cred),
            passphrase: cred.passphrase.as_ref().filter(|p| !p.is_empty())?,
        })
    }

    /// The row's own key, when its secret and passphrase are both known.
    fn own_key(job: &'a KeyJob) -> Option<Signing<'a>> {
        Some(Signing {
            caller: Caller::own_key(job).ok()?,
            passphrase: own_passphrase(job)?,
        })
    }
}

fn own_passphrase(job: &KeyJob) -> Option<&Secret> {
    job.key.passphrase.as_ref().filter(|p| !p.is_empty())
}

/// A managing credential (with its passphrase) and the sub account the row
/// names.
struct Manager<'a> {
    cred: &'a Credential,
    signing: Signing<'a>,
    sub_uid: &'a str,
}

impl<'a> Manager<'a> {
    fn of(job: &'a KeyJob) -> Option<Manager<'a>> {
        let cred = job.via.as_deref()?;
        let sub_uid = job.key.account.as_deref().filter(|a| is_uid(a))?;
        Some(Manager {
            cred,
            signing: Signing::credential(cred)?,
            sub_uid,
        })
    }

    fn is_master(&self) -> bool {
        self.cred.role == CredentialRole::Master
    }
}

/// Bitget numbers accounts: a UID is all digits.
fn is_uid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn unsupported(why: impl Into<String>) -> Failure {
    Failure::local(ConnectorError::Unsupported(why.into()))
}

impl BitgetConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        BitgetConnector {
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
    pub(crate) async fn call(
        &self,
        signing: &Signing<'_>,
        endpoint: &Endpoint,
        query: &str,
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: signing.caller.api_key,
            secret: signing.caller.secret,
            passphrase: signing.passphrase,
        };
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            query,
            body,
            self.clock.now_ms(),
        );
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, &Self::context(signing.caller.signed_by, endpoint))
    }

    /// The row's manager, when its role is `role`.
    fn manager(job: &KeyJob, role: CredentialRole) -> Result<Manager<'_>, Failure> {
        let m = Manager::of(job).ok_or_else(|| {
            unsupported(
                "no managing credential with a passphrase and the sub account's UID (`via`, `account`)",
            )
        })?;
        if m.cred.role != role {
            return Err(unsupported(format!(
                "credential `{}` is a {:?} credential; this route needs a {role:?} one",
                m.cred.name, m.cred.role
            )));
        }
        Ok(m)
    }

    async fn delete_by_master(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let m = Self::manager(job, CredentialRole::Master)?;
        let body = endpoints::delete_body(&job.key.api_key);
        Ok(self
            .call(&m.signing, &endpoints::DELETE_SUB_KEY, "", Some(&body))
            .await?
            .reply)
    }

    async fn delete_by_broker(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let m = Self::manager(job, CredentialRole::Broker)?;
        let body = endpoints::broker_delete_body(m.sub_uid, &job.key.api_key);
        Ok(self
            .call(
                &m.signing,
                &endpoints::BROKER_DELETE_SUB_KEY,
                "",
                Some(&body),
            )
            .await?
            .reply)
    }

    /// Read the key's label from its sub account's listing, then modify the
    /// key: no permission, bound to an unroutable IP, its label kept.
    async fn disable_by_master(&self, job: &KeyJob) -> Result<Reply, Failure> {
        let m = Self::manager(job, CredentialRole::Master)?;
        let passphrase = own_passphrase(job)
            .ok_or_else(|| unsupported("the modify needs the sub key's own passphrase"))?;
        let read = self
            .call(
                &m.signing,
                &endpoints::LIST_VIRTUAL_SUB_KEYS,
                &endpoints::sub_keys_query(m.sub_uid),
                None,
            )
            .await?;
        let body = endpoints::listed_key(&read.data, &job.key.api_key).and_then(|listed| {
            endpoints::disable_body(m.sub_uid, listed, &job.key.api_key, passphrase.expose())
        });
        let Some(body) = body else {
            // A key the listing does not show (or shows without the label
            // the modify requires) is not modified: nothing is known to
            // write back.
            return Err(Failure::new(
                ConnectorError::Permanent {
                    code: "not_listed".into(),
                    message:
                        "the sub account's listing shows no such key with its label: not modified"
                            .into(),
                },
                read.reply.meta,
            ));
        };
        let written = self
            .call(
                &m.signing,
                &endpoints::MODIFY_VIRTUAL_SUB_KEY,
                "",
                Some(&body),
            )
            .await?;
        Ok(written.reply)
    }

    /// Look for the key in its sub account's key listing.
    async fn probe_via_master(&self, m: &Manager<'_>, api_key: &str) -> Result<Probe, Failure> {
        let answer = self
            .call(
                &m.signing,
                &endpoints::LIST_VIRTUAL_SUB_KEYS,
                &endpoints::sub_keys_query(m.sub_uid),
                None,
            )
            .await?;
        if !answer.data.is_array() {
            return Ok(Probe {
                meta: answer.reply.meta,
                ..Probe::cannot_tell()
            });
        }
        match endpoints::listed_key(&answer.data, api_key) {
            Some(k) => Ok(Probe::alive(
                endpoints::permission_names(k),
                &endpoints::FUND_MOVING_PERMISSIONS,
                answer.reply.meta,
            )),
            None => Ok(Probe::dead(answer.reply.meta)),
        }
    }

    /// The key's own account information: alive with its `authorities`,
    /// or dead by 40006/40037.
    async fn probe_self(&self, signing: &Signing<'_>) -> Result<Probe, Failure> {
        match self.call(signing, &endpoints::ACCOUNT_INFO, "", None).await {
            Ok(answer) => {
                let mut authorities: Vec<String> = answer.data["authorities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect();
                authorities.sort();
                Ok(Probe::alive(
                    authorities,
                    &endpoints::FUND_MOVING_AUTHORITIES,
                    answer.reply.meta,
                ))
            }
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            // Bound to other IPs: alive, but not usable from here.
            Err(f) if f.meta.code.as_deref() == Some("40018") => Ok(Probe::ip_restricted(f.meta)),
            Err(f) => Err(f),
        }
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
impl Connector for BitgetConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        let mut routes = Vec::new();
        if let Some(m) = Manager::of(job) {
            if m.is_master() {
                routes.push(Route::DeleteByMaster);
                if own_passphrase(job).is_some() {
                    routes.push(Route::DisableByMaster);
                }
            } else {
                routes.push(Route::DeleteByBroker);
            }
        }
        routes.push(Route::Escalate);
        routes
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if let Some(cred) = job.via.as_deref() {
            if Signing::credential(cred).is_none() {
                problems.push(FieldProblem {
                    field: "via",
                    message: format!(
                        "credential `{}` has no passphrase; Bitget signs every private call with the key's passphrase (ACCESS-PASSPHRASE)",
                        cred.name
                    ),
                });
            }
            match job.key.account.as_deref() {
                Some(a) if is_uid(a) => {}
                Some(a) => problems.push(FieldProblem {
                    field: "account",
                    message: format!("Bitget names a sub account by its numeric UID, not `{a}`"),
                }),
                None => problems.push(FieldProblem {
                    field: "account",
                    message: format!(
                        "give the sub account's UID to act through `{}`: Bitget's listings and the broker's delete name it",
                        cred.name
                    ),
                }),
            }
        }
        if job.has_secret() && own_passphrase(job).is_none() {
            problems.push(FieldProblem {
                field: "passphrase",
                message: "the key's secret is given without its passphrase; Bitget needs both to sign the key's own probe".into(),
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
            Route::DeleteByMaster => self.delete_by_master(job).await,
            Route::DeleteByBroker => self.delete_by_broker(job).await,
            Route::DisableByMaster => self.disable_by_master(job).await,
            other => Err(unsupported(format!("Bitget has no `{other}` call"))),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        Signing::own_key(job).is_some() || Manager::of(job).is_some_and(|m| m.is_master())
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        if let Some(m) = Manager::of(job).filter(Manager::is_master) {
            return self.probe_via_master(&m, &job.key.api_key).await;
        }
        if let Some(own) = Signing::own_key(job) {
            return self.probe_self(&own).await;
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
                    // "Get Server Time": `data.serverTime`, Unix ms as a string.
                    let answer = errors::read_reply(raw, &cx)?;
                    match answer.data["serverTime"]
                        .as_str()
                        .and_then(|t| t.parse::<i64>().ok())
                    {
                        Some(ms) => Ok(Some(ms)),
                        None => Err(Failure {
                            meta: answer.reply.meta,
                            ..server_time_missing()
                        }),
                    }
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
            security_team: "Bitget customer support (online chat, or a ticket at https://www.bitget.com/support)",
            api_management_page: "https://www.bitget.com/account/newapi",
        }
    }
}
