//! OKX (v5) connector.
//!
//! Channels (see `endpoints.rs` for the sources):
//! - a master credential deletes a sub-account's key (`delete-apikey`), or an
//!   ND broker credential one of its broker sub-accounts' keys;
//! - disable: the same credential resets the key to read-only and binds it
//!   to an unroutable IP (`modify-apikey`);
//! - probe: `account/config` signed with the key's own secret and
//!   passphrase, or the credential's query of the sub-account's keys;
//! - OKX has no call by which a key deletes or narrows itself: a master key
//!   (or a sub key without its master's credential) is escalated;
//! - rotation: a master describes a sub-account's key, creates its
//!   replacement, and the new key tests itself (`rotate.rs`).
//!
//! - discovery: a master (or ND broker) lists its sub-accounts, then each
//!   one's keys (`discover.rs`).
//!
//! Every OKX key has a passphrase, sent with every private call: a row or
//! credential without one cannot sign (see `check`).

mod discover;
pub mod endpoints;
pub mod errors;
pub mod limits;
pub mod rotate;
pub mod sign;

use async_trait::async_trait;
use endpoints::Manager;
use errors::{Answer, Context};
use keyrevoke_core::config::ExchangeSettings;
use keyrevoke_core::connector::{EscalationContact, FieldProblem};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::{ReplyMeta, SignedBy};
use keyrevoke_core::exchange::ExchangeName;
use keyrevoke_core::http::{ExchangeClock, PreparedRequest, send, server_time_missing};
use keyrevoke_core::rotation::{CreateKey, Created, Described, NewKey};
use keyrevoke_core::{
    Capability, Charge, Connector, ConnectorError, Credential, CredentialRole, ExchangeId, Failure,
    KeyJob, Operation, Probe, Reply, Route, Secret, Tier,
};
use serde_json::Value;
use sign::Signer;
use url::Url;

/// OKX's ccxt id.
pub const EXCHANGE: ExchangeName = ExchangeName::new("okx", &[]);
pub const DEFAULT_BASE_URL: &str = "https://www.okx.com";

pub struct OkxConnector {
    client: reqwest::Client,
    base: Url,
    clock: ExchangeClock,
}

/// What a managing credential needs to act on a sub-account's key.
struct Managed<'a> {
    cred: &'a Credential,
    passphrase: &'a Secret,
    manager: Manager,
    sub_acct: &'a str,
}

fn manager_of(role: CredentialRole) -> Manager {
    match role {
        CredentialRole::Master => Manager::Master,
        CredentialRole::Broker => Manager::Broker,
    }
}

fn has_value(s: Option<&Secret>) -> bool {
    s.is_some_and(|s| !s.is_empty())
}

/// Why the row's managing credential cannot act, if it cannot.
fn manager_problem(job: &KeyJob) -> Option<String> {
    let Some(cred) = job.via.as_deref() else {
        return Some("no managing credential".into());
    };
    if !has_value(cred.passphrase.as_ref()) {
        return Some(format!(
            "credential `{}` has no passphrase, which OKX requires on every private call",
            cred.name
        ));
    }
    if job.key.account.as_deref().is_none_or(str::is_empty) {
        return Some("the row names no sub-account (`account`), which OKX requires to act on a sub-account's key".into());
    }
    None
}

fn managed(job: &KeyJob) -> Result<Managed<'_>, Failure> {
    if let Some(why) = manager_problem(job) {
        return Err(Failure::local(ConnectorError::Unsupported(why)));
    }
    let cred = job.via.as_deref().expect("checked above");
    Ok(Managed {
        cred,
        passphrase: cred.passphrase.as_ref().expect("checked above"),
        manager: manager_of(cred.role),
        sub_acct: job.key.account.as_deref().expect("checked above"),
    })
}

/// The key's own secret and passphrase, when both are known.
fn own_material(job: &KeyJob) -> Option<(&Secret, &Secret)> {
    match (&job.key.api_secret, &job.key.passphrase) {
        (Some(s), Some(p)) if !s.is_empty() && !p.is_empty() => Some((s, p)),
        _ => None,
    }
}

impl OkxConnector {
    pub fn new(client: reqwest::Client, base: Url, _settings: &ExchangeSettings) -> Self {
        OkxConnector {
            client,
            base,
            clock: ExchangeClock::default(),
        }
    }

    /// Sign with `signer` at the exchange's time, send, and read the envelope.
    async fn call(
        &self,
        signer: Signer<'_>,
        signed_by: SignedBy,
        endpoint: &Endpoint,
        query: &str,
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let request = signer.sign(
            endpoint.method.clone(),
            endpoint.path,
            query,
            body,
            self.clock.now_ms(),
        );
        let ctx = Context {
            signed_by,
            mutating: request.mutating,
        };
        let raw = send(&self.client, &self.base, request).await?;
        errors::read_reply(raw, ctx)
    }

    async fn call_as_manager(
        &self,
        m: &Managed<'_>,
        endpoint: &Endpoint,
        query: &str,
        body: Option<&str>,
    ) -> Result<Answer, Failure> {
        let signer = Signer {
            api_key: &m.cred.api_key,
            secret: &m.cred.api_secret,
            passphrase: m.passphrase,
        };
        self.call(signer, SignedBy::ManagingCredential, endpoint, query, body)
            .await
    }

    /// Delete or disable a sub-account's key with the row's credential.
    async fn act_as_manager(
        &self,
        job: &KeyJob,
        expected: Option<Manager>,
        delete: bool,
    ) -> Result<Reply, Failure> {
        let m = managed(job)?;
        if let Some(want) = expected
            && want != m.manager
        {
            return Err(Failure::local(ConnectorError::Unsupported(format!(
                "credential `{}` is a {:?} credential; this route needs a {want:?} one",
                m.cred.name, m.manager
            ))));
        }
        let api_key = &job.key.api_key;
        let (path, body) = if delete {
            (
                m.manager.delete_endpoint(),
                endpoints::delete_body(m.sub_acct, api_key),
            )
        } else {
            (
                m.manager.modify_endpoint(),
                endpoints::disable_body(m.sub_acct, api_key),
            )
        };
        let answer = self.call_as_manager(&m, path, "", Some(&body)).await?;
        Ok(answer.reply)
    }

    /// account/config with the key's own secret: alive, and what it may do.
    async fn probe_own(
        &self,
        job: &KeyJob,
        secret: &Secret,
        passphrase: &Secret,
    ) -> Result<Probe, Failure> {
        let signer = Signer {
            api_key: &job.key.api_key,
            secret,
            passphrase,
        };
        let answer = self
            .call(
                signer,
                SignedBy::TargetKey,
                &endpoints::ACCOUNT_CONFIG,
                "",
                None,
            )
            .await?;
        let perm = answer.data[0]["perm"].as_str().unwrap_or("");
        Ok(alive(endpoints::permission_names(perm), answer.reply.meta))
    }

    /// The credential's view of the sub-account's keys.
    async fn probe_via_manager(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let m = managed(job)?;
        let query = endpoints::sub_key_query(m.sub_acct, &job.key.api_key);
        match self
            .call_as_manager(&m, m.manager.query_endpoint(), &query, None)
            .await
        {
            Ok(answer) => Ok(liveness_in_listing(
                &answer.data,
                &job.key.api_key,
                answer.reply.meta,
            )),
            // 59506: no such key under that sub-account.
            Err(f) if matches!(f.error, ConnectorError::KeyDead(_)) => Ok(Probe::dead(f.meta)),
            Err(f) => Err(f),
        }
    }
}

/// Whether `api_key` is among the keys a sub-key query listed.
fn liveness_in_listing(data: &Value, api_key: &str, meta: ReplyMeta) -> Probe {
    let found = data
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["apiKey"].as_str() == Some(api_key));
    match found {
        Some(k) => alive(
            endpoints::permission_names(k["perm"].as_str().unwrap_or("")),
            meta,
        ),
        None => Probe::dead(meta),
    }
}

fn alive(permissions: Vec<String>, meta: ReplyMeta) -> Probe {
    Probe::alive(permissions, &endpoints::FUND_MOVING_PERMISSIONS, meta)
}

static CAPABILITIES: [Capability; 5] = [
    Capability::DeleteByMaster,
    Capability::DeleteByBroker,
    Capability::Disable,
    Capability::Probe,
    Capability::Escalate,
];

#[async_trait]
impl Connector for OkxConnector {
    fn exchange(&self) -> ExchangeId {
        EXCHANGE.id
    }

    fn capabilities(&self) -> &'static [Capability] {
        &CAPABILITIES
    }

    fn routes(&self, job: &KeyJob) -> Vec<Route> {
        let mut routes = Vec::new();
        if manager_problem(job).is_none() {
            let cred = job.via.as_deref().expect("a manager was found");
            routes.push(match cred.role {
                CredentialRole::Master => Route::DeleteByMaster,
                CredentialRole::Broker => Route::DeleteByBroker,
            });
            routes.push(Route::DisableByMaster);
        }
        routes.push(Route::Escalate);
        routes
    }

    fn check(&self, job: &KeyJob) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if let Some(cred) = job.via.as_deref() {
            if !has_value(cred.passphrase.as_ref()) {
                problems.push(FieldProblem {
                    field: "via",
                    message: format!(
                        "credential `{}` has no passphrase; OKX signs every private call with the key's passphrase (OK-ACCESS-PASSPHRASE)",
                        cred.name
                    ),
                });
            }
            if job.key.account.as_deref().is_none_or(str::is_empty) {
                problems.push(FieldProblem {
                    field: "account",
                    message: "OKX names the sub-account (subAcct) in every call a master or broker makes for a sub-account's key; this row names none".into(),
                });
            }
        }
        if job.has_secret() && !has_value(job.key.passphrase.as_ref()) {
            problems.push(FieldProblem {
                field: "passphrase",
                message: "the key's secret is given without its passphrase; OKX needs both to sign the key's own probe".into(),
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

    fn charges_for(&self, op: Operation, job: &KeyJob) -> &'static [Charge] {
        match op {
            Operation::Probe => {
                limits::probe_charges(own_material(job).is_some(), manager_problem(job).is_none())
            }
            _ => limits::charges(op),
        }
    }

    async fn perform(&self, route: Route, job: &KeyJob) -> Result<Reply, Failure> {
        match route {
            Route::DeleteByMaster => self.act_as_manager(job, Some(Manager::Master), true).await,
            Route::DeleteByBroker => self.act_as_manager(job, Some(Manager::Broker), true).await,
            Route::DisableByMaster => self.act_as_manager(job, None, false).await,
            Route::DeleteSelf | Route::DisableSelf | Route::Escalate => Err(Failure::local(
                ConnectorError::Unsupported(format!("OKX has no `{route}` call")),
            )),
        }
    }

    fn can_probe(&self, job: &KeyJob) -> bool {
        own_material(job).is_some() || manager_problem(job).is_none()
    }

    async fn probe(&self, job: &KeyJob) -> Result<Probe, Failure> {
        let can_manage = manager_problem(job).is_none();
        if let Some((secret, passphrase)) = own_material(job) {
            match self.probe_own(job, secret, passphrase).await {
                Ok(p) => return Ok(p),
                Err(f) => match &f.error {
                    ConnectorError::KeyDead(_) => return Ok(Probe::dead(f.meta)),
                    // Bound to other IPs (50110).
                    ConnectorError::Unsupported(_) if f.meta.code.as_deref() == Some("50110") => {
                        return Ok(Probe::ip_restricted(f.meta));
                    }
                    // A wrong secret or passphrase in the inventory: the
                    // credential may still see the key.
                    ConnectorError::Permanent { .. } if can_manage => {}
                    _ => return Err(f),
                },
            }
        }
        if can_manage {
            return self.probe_via_manager(job).await;
        }
        Ok(Probe::cannot_tell())
    }

    async fn sync_clock(&self) -> Result<(), Failure> {
        let request = PreparedRequest::get(endpoints::SERVER_TIME.path);
        let ctx = Context {
            signed_by: SignedBy::Nobody,
            mutating: false,
        };
        self.clock
            .sync(&self.client, &self.base, request, |raw| {
                let answer = errors::read_reply(raw, ctx)?;
                // #public-data-rest-api-get-system-time: data[0].ts, Unix ms as a string.
                match answer.data[0]["ts"]
                    .as_str()
                    .and_then(|ts| ts.parse::<i64>().ok())
                {
                    Some(ms) => Ok(Some(ms)),
                    // With what the exchange answered.
                    None => Err(Failure {
                        meta: answer.reply.meta,
                        ..server_time_missing()
                    }),
                }
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
            // security@okx.com is the address OKX publishes for security
            // reports (okx/agent-skills SECURITY.md); support tickets go
            // through the help center.
            security_team: "OKX Security (security@okx.com), or OKX Support via https://www.okx.com/help",
            api_management_page: "https://www.okx.com/account/my-api",
        }
    }

    fn escalation_reason(&self, job: &KeyJob) -> Option<String> {
        // Only when no route was possible: otherwise the executor's own
        // reason names the last refusal.
        let why = manager_problem(job)?;
        Some(if job.via.is_none() {
            "OKX has no call by which a key deletes or restricts itself; only a master (or ND broker) key can delete a sub-account's key, and this row names none: delete it on the API management page".to_string()
        } else {
            format!("{why}: no API call can act on this key")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::Liveness;
    use keyrevoke_core::error::LimitScope;
    use keyrevoke_core::http::RawResponse;
    use std::sync::Arc;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, &[], body)
    }

    const MASTER_WRITE: Context = Context {
        signed_by: SignedBy::ManagingCredential,
        mutating: true,
    };

    #[test]
    fn a_50011_on_a_signed_call_spends_the_accounts_budget_and_other_429s_the_ips() {
        let body = r#"{"code":"50011","msg":"Rate limit reached. Please refer to API documentation and throttle requests accordingly.","data":[]}"#;
        let f = errors::read_reply(raw(200, body), MASTER_WRITE)
            .err()
            .unwrap();
        assert!(
            matches!(
                f.error,
                ConnectorError::RateLimited {
                    scope: LimitScope::Account,
                    ..
                }
            ),
            "{:?}",
            f.error
        );
        // A signed call's 50011 with HTTP 429 is the same per-User-ID limit:
        // one account's throttle must not pause the whole exchange.
        let too_many = r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#;
        let f = errors::read_reply(raw(429, too_many), MASTER_WRITE)
            .err()
            .unwrap();
        assert!(
            matches!(
                f.error,
                ConnectorError::RateLimited {
                    scope: LimitScope::Account,
                    ..
                }
            ),
            "{:?}",
            f.error
        );
        assert_eq!(f.meta.code.as_deref(), Some("50011"));
        assert_eq!(f.meta.http_status, Some(429));
        // On a public call, and for any other 429 (50013 "Systems are
        // busy", or no envelope at all), the gateway turns this IP away.
        let public = Context {
            signed_by: SignedBy::Nobody,
            mutating: false,
        };
        let busy =
            r#"{"code":"50013","msg":"Systems are busy. Please try again later.","data":[]}"#;
        for (body, ctx) in [(too_many, public), (busy, MASTER_WRITE)] {
            let f = errors::read_reply(raw(429, body), ctx).err().unwrap();
            assert!(
                matches!(
                    f.error,
                    ConnectorError::RateLimited {
                        scope: LimitScope::Ip,
                        ..
                    }
                ),
                "{body}: {:?}",
                f.error
            );
        }
        let f = errors::read_reply(raw(429, "Too Many Requests"), MASTER_WRITE)
            .err()
            .unwrap();
        assert!(
            matches!(
                f.error,
                ConnectorError::RateLimited {
                    scope: LimitScope::Ip,
                    ..
                }
            ),
            "{:?}",
            f.error
        );
    }

    #[test]
    fn codes_in_401_bodies_are_read_not_just_the_status() {
        let f = errors::read_reply(
            raw(
                401,
                r#"{"code":"50102","msg":"Timestamp request expired","data":[]}"#,
            ),
            MASTER_WRITE,
        )
        .err()
        .unwrap();
        assert_eq!(f.error, ConnectorError::ClockSkew);
        assert_eq!(f.meta.code.as_deref(), Some("50102"));
        assert_eq!(f.meta.http_status, Some(401));
    }

    #[test]
    fn a_504_without_an_envelope_on_a_write_is_an_unknown_outcome() {
        let f = errors::read_reply(raw(504, "504 Gateway Time-out"), MASTER_WRITE)
            .err()
            .unwrap();
        assert!(
            matches!(f.error, ConnectorError::OutcomeUnknown(_)),
            "{:?}",
            f.error
        );
    }

    #[test]
    fn a_listing_without_the_key_says_dead_and_with_it_alive() {
        let data = serde_json::json!([{"apiKey": "other", "perm": "read_only"}, {"apiKey": "k1", "perm": "read_only,trade"}]);
        let p = liveness_in_listing(&data, "k1", ReplyMeta::default());
        assert_eq!(p.liveness, Liveness::Alive);
        assert_eq!(p.permissions, vec!["read_only", "trade"]);
        assert_eq!(p.can_move_funds, Some(false));
        let p = liveness_in_listing(&serde_json::json!([]), "k1", ReplyMeta::default());
        assert_eq!(p.liveness, Liveness::Dead);
    }

    fn job(
        secret: bool,
        passphrase: bool,
        via: Option<(CredentialRole, bool)>,
        account: Option<&str>,
    ) -> KeyJob {
        let via = via.map(|(role, with_pass)| {
            Arc::new(Credential {
                name: "m".into(),
                exchange: EXCHANGE.id,
                api_key: "MASTER".into(),
                api_secret: Secret::from("master-secret-value"),
                passphrase: with_pass.then(|| Secret::from("master-passphrase-value")),
                role,
            })
        });
        KeyJob::new(
            keyrevoke_core::KeyMaterial {
                exchange: EXCHANGE.id,
                api_key: "SUBKEY-0001".into(),
                api_secret: secret.then(|| Secret::from("sub-secret-value")),
                passphrase: passphrase.then(|| Secret::from("sub-passphrase-value")),
                account: account.map(str::to_string),
                label: None,
            },
            via,
        )
    }

    fn connector() -> OkxConnector {
        OkxConnector::new(
            keyrevoke_core::http::build_client(std::time::Duration::from_secs(1)),
            Url::parse(DEFAULT_BASE_URL).unwrap(),
            &ExchangeSettings::default(),
        )
    }

    #[test]
    fn routes_are_strongest_first_and_end_with_escalate() {
        let c = connector();
        let master = job(
            false,
            false,
            Some((CredentialRole::Master, true)),
            Some("sub1"),
        );
        assert_eq!(
            c.routes(&master),
            vec![
                Route::DeleteByMaster,
                Route::DisableByMaster,
                Route::Escalate
            ]
        );
        let broker = job(
            false,
            false,
            Some((CredentialRole::Broker, true)),
            Some("sub1"),
        );
        assert_eq!(
            c.routes(&broker),
            vec![
                Route::DeleteByBroker,
                Route::DisableByMaster,
                Route::Escalate
            ]
        );
        let alone = job(true, true, None, None);
        assert_eq!(
            c.routes(&alone),
            vec![Route::Escalate],
            "no key deletes itself on OKX"
        );
        assert!(
            c.escalation_reason(&alone)
                .unwrap()
                .contains("deletes or restricts itself")
        );
        assert!(
            c.escalation_reason(&master).is_none(),
            "the executor's reason names the last refusal"
        );
        assert!(c.can_probe(&alone));
        assert!(c.can_probe(&master));
        assert!(!c.can_probe(&job(false, false, None, None)));
    }

    #[test]
    fn check_reports_missing_passphrases_and_sub_accounts() {
        let c = connector();
        let fields = |j: &KeyJob| c.check(j).into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(&job(true, false, None, None)), vec!["passphrase"]);
        assert_eq!(
            fields(&job(
                false,
                false,
                Some((CredentialRole::Master, false)),
                Some("s")
            )),
            vec!["via"]
        );
        assert_eq!(
            fields(&job(
                false,
                false,
                Some((CredentialRole::Broker, true)),
                None
            )),
            vec!["account"]
        );
        assert!(
            fields(&job(
                true,
                true,
                Some((CredentialRole::Master, true)),
                Some("s")
            ))
            .is_empty()
        );
        // Neither the route list nor a problem message carries a secret.
        let j = job(true, false, Some((CredentialRole::Master, false)), None);
        let text = format!("{:?} {:?}", c.check(&j), c.escalation_reason(&j));
        for secret in [
            "master-secret-value",
            "master-passphrase-value",
            "sub-secret-value",
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(c.routes(&j), vec![Route::Escalate]);
    }
}
