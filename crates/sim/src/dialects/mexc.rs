//! MEXC (spot v3), as mexcdevelop/apidocs `spot_v3_en` documents it:
//! - auth ("SIGNED", "Timing security"): `X-MEXC-APIKEY` header;
//!   `signature` = lowercase hex HMAC-SHA256 of `totalParams` (the query
//!   string as sent, then the body as sent, `signature` itself left out);
//!   `timestamp` mandatory; `recvWindow` optional, default 5000, at most
//!   60000 (else 700005); accepted when
//!   `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`
//!   (else 700003). A parameter in both query and body is read from the
//!   query string.
//! - limits ("LIMITS"): every endpoint has its own 500 per 10 s, per IP for
//!   public endpoints and per account for keyed ones; HTTP 429 beyond, with
//!   `Retry-After`; repeated abuse: HTTP 418 (IP ban), `Retry-After` until
//!   it ends. The simulator's exchange-wide IP window stands for the public
//!   endpoint's (one public endpoint is served); each keyed endpoint is
//!   counted per UID. "Account Information" also allows 2 per second.
//! - codes ("Error Code"): 10072 invalid access key, 700002 signature not
//!   valid, 700003 timestamp outside the recvWindow, 700005 recvWindow, 700006
//!   IP not white-listed, 700007 no permission, 730706 API key information
//!   does not exist, 140001 sub account does not exist. The HTTP status of a
//!   refusal is not documented per code: 400 here ("HTTP 4XX return codes
//!   are used for malformed requests"), as ccxt's MEXC error handling sees
//!   them (undocumented choice).
//!
//! Sub accounts are named (`SimKey::sub_name`); a master lists its own sub
//! accounts ("Query Sub-account List": `page` from 1, `limit` default 10,
//! at most 200), and deletes and lists the keys of its own sub accounts
//! only.

use super::common::{self, Answer, Dialect, FormParams, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::keys::SimKey;
use crate::limits::FixedWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::hmac_sha256_hex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("mexc");

/// The public endpoint's own window: 500 per 10 s per IP.
pub const IP_LIMIT: (u32, Duration) = (500, Duration::from_secs(10));
const PER_ENDPOINT: u32 = 500;
const WINDOW: Duration = Duration::from_secs(10);
const DEFAULT_RECV_WINDOW: i64 = 5_000;
const MAX_RECV_WINDOW: i64 = 60_000;

/// Sub-key permission names ("Create an APIKey for a sub-account").
pub const TRANSFER_WRITE: &str = "SPOT_TRANSFER_WRITE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ServerTime,
    Account,
    ListSubKeys,
    ListSubAccounts,
    DeleteSubKey,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        Some(match (method.as_str(), path) {
            ("GET", "/api/v3/time") => Endpoint::ServerTime,
            ("GET", "/api/v3/account") => Endpoint::Account,
            ("GET", "/api/v3/sub-account/apiKey") => Endpoint::ListSubKeys,
            ("GET", "/api/v3/sub-account/list") => Endpoint::ListSubAccounts,
            ("DELETE", "/api/v3/sub-account/apiKey") => Endpoint::DeleteSubKey,
            _ => return None,
        })
    }

    /// Its documented weight.
    fn weight(self) -> u32 {
        match self {
            Endpoint::Account => 10,
            _ => 1,
        }
    }
}

struct Mexc {
    sim: Arc<ExchangeSim>,
    /// Each keyed endpoint's own 500 per 10 s, per UID.
    per_endpoint: FixedWindows,
    /// "Account Information": 2 per second.
    account_per_second: FixedWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Mexc {
        per_endpoint: FixedWindows::new(PER_ENDPOINT, WINDOW, sim.meter("uid_endpoint")),
        account_per_second: FixedWindows::new(
            2,
            Duration::from_secs(1),
            sim.meter("uid_account_per_second"),
        ),
        sim,
    })
}

struct Reply {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<i64>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body,
        retry_after_secs: None,
    }
}

fn refuse(code: i64, msg: &str) -> Reply {
    Reply {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "code": code, "msg": msg }),
        retry_after_secs: None,
    }
}

fn too_many(status: StatusCode, retry_after_secs: i64) -> Reply {
    Reply {
        status,
        body: json!({ "code": status.as_u16(), "msg": "Too Many Requests" }),
        retry_after_secs: Some(retry_after_secs.max(1)),
    }
}

fn invalid_key() -> Reply {
    refuse(10072, "Api key info invalid")
}

fn mandatory(name: &str) -> Reply {
    refuse(
        700004,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn respond(reply: Reply) -> Response {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = reply.retry_after_secs {
        builder = builder.header(header::RETRY_AFTER, s.to_string());
    }
    builder
        .body(Body::from(reply.body.to_string()))
        .expect("valid response")
}

impl Dialect for Mexc {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn ip_limited(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::ServerTime
    }

    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        if endpoint != Endpoint::DeleteSubKey {
            return None;
        }
        let body = String::from_utf8_lossy(&request.body);
        FormParams::read(request.query(), &body)
            .get("apiKey")
            .map(str::to_string)
    }

    /// A 429 for the excess, then 418s while the ban lasts.
    fn over_ip_limit(&self, already_banned: bool) -> OverIpLimit {
        let ban_secs = self.sim.ip_ban.as_secs().max(1) as i64;
        if already_banned {
            OverIpLimit::Banned(respond(too_many(StatusCode::IM_A_TEAPOT, ban_secs)))
        } else {
            OverIpLimit::RateLimited(respond(too_many(StatusCode::TOO_MANY_REQUESTS, ban_secs)))
        }
    }

    fn injected_rate_limit(&self) -> Response {
        respond(too_many(StatusCode::TOO_MANY_REQUESTS, 1))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            ok(json!({ "serverTime": now }))
        } else {
            match self.authenticate(request, now) {
                Err(refusal) => refusal,
                Ok((caller, params)) => match self.limit(endpoint, &caller, now) {
                    Some(refusal) => refusal,
                    None => self.act(endpoint, &caller, &params),
                },
            }
        };
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Answer::Limited(respond(reply));
        }
        Answer::replied(reply.status.is_success(), respond(reply))
    }
}

impl Mexc {
    /// Check a SIGNED request as the docs describe it.
    fn authenticate(&self, request: &Request, now: i64) -> Result<(SimKey, FormParams), Reply> {
        let sim = &self.sim;
        let Some(api_key) = request.header("X-MEXC-APIKEY").filter(|k| !k.is_empty()) else {
            Stats::bump(&sim.stats.missing_auth);
            return Err(refuse(400, "api key required"));
        };
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let (query_unsigned, query_sig) = common::split_signature(request.query());
        let (body_unsigned, body_sig) = common::split_signature(&body);
        let params = FormParams::read(&query_unsigned, &body_unsigned);
        let Some(signature) = query_sig.or(body_sig) else {
            Stats::bump(&sim.stats.missing_auth);
            return Err(mandatory("signature"));
        };
        let Some(timestamp) = params.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(mandatory("timestamp"));
        };
        let recv_window = match params.get("recvWindow") {
            None => DEFAULT_RECV_WINDOW,
            Some(v) => match v.parse::<i64>() {
                Ok(w) if w > 0 && w <= MAX_RECV_WINDOW => w,
                _ => return Err(refuse(700005, "recvWindow must less than 60000")),
            },
        };
        let Some(caller) = sim.live_key(api_key) else {
            return Err(invalid_key());
        };
        if !(timestamp < now + 1000 && now - timestamp <= recv_window) {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(refuse(
                700003,
                "Timestamp for this request is outside of the recvWindow.",
            ));
        }
        // totalParams: the query string concatenated with the body; "The
        // signature is support lowercase only".
        let expected = hmac_sha256_hex(&caller.secret, &format!("{query_unsigned}{body_unsigned}"));
        if signature != expected {
            Stats::bump(&sim.stats.bad_signature);
            return Err(refuse(700002, "Signature for this request is not valid."));
        }
        if !caller.allows_loopback() {
            return Err(refuse(700006, "IP [127.0.0.1] not in the ip white list"));
        }
        Ok((caller, params))
    }

    /// Count the call against its endpoint's window for the caller's UID.
    fn limit(&self, endpoint: Endpoint, caller: &SimKey, now: i64) -> Option<Reply> {
        if !self.sim.limits {
            return None;
        }
        let mut verdicts = vec![self.per_endpoint.hit(
            &format!("{endpoint:?}:{}", caller.uid),
            now,
            endpoint.weight(),
        )];
        if endpoint == Endpoint::Account {
            verdicts.push(self.account_per_second.hit(&caller.uid, now, 1));
        }
        let refused = verdicts.iter().find(|v| !v.allowed)?;
        Stats::bump(&self.sim.stats.rate_limited);
        Some(too_many(
            StatusCode::TOO_MANY_REQUESTS,
            (refused.reset_at_ms - now + 999) / 1000,
        ))
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, params: &FormParams) -> Reply {
        let result = match endpoint {
            Endpoint::ServerTime => unreachable!("answered before authentication"),
            Endpoint::Account => {
                Stats::bump(&self.sim.stats.probes);
                Ok(ok(account(caller)))
            }
            Endpoint::ListSubKeys => self.list_sub_keys(caller, params),
            Endpoint::ListSubAccounts => self.list_sub_accounts(caller, params),
            Endpoint::DeleteSubKey => self.delete_sub_key(caller, params),
        };
        result.unwrap_or_else(|refusal| refusal)
    }

    /// The sub account a master names, when it is one of its own.
    fn own_sub_account<'p>(
        &self,
        caller: &SimKey,
        params: &'p FormParams,
    ) -> Result<&'p str, Reply> {
        if !caller.is_master() {
            return Err(refuse(700007, "No permission to access the endpoint."));
        }
        let name = params
            .present("subAccount")
            .ok_or_else(|| mandatory("subAccount"))?;
        let own = |k: &SimKey| {
            k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(name)
        };
        if self.sim.keys.any(own) {
            Ok(name)
        } else {
            Err(refuse(140001, "sub account does not exist"))
        }
    }

    fn delete_sub_key(&self, caller: &SimKey, params: &FormParams) -> Result<Reply, Reply> {
        let sub_account = self.own_sub_account(caller, params)?;
        let api_key = params
            .present("apiKey")
            .ok_or_else(|| mandatory("apiKey"))?;
        match self.sim.keys.get(api_key) {
            Some(k)
                if k.is_alive()
                    && k.parent_uid.as_deref() == Some(caller.uid.as_str())
                    && k.sub_name.as_deref() == Some(sub_account) =>
            {
                self.sim.delete_key(api_key);
                Ok(ok(json!({ "subAccount": sub_account })))
            }
            _ => Err(refuse(730706, "API KEY information does not exist")),
        }
    }

    fn list_sub_keys(&self, caller: &SimKey, params: &FormParams) -> Result<Reply, Reply> {
        let sub_account = self.own_sub_account(caller, params)?;
        // A probe via the master, or a page of discovery: counted as both.
        Stats::bump(&self.sim.stats.probes);
        Stats::bump(&self.sim.stats.lists);
        let keys = self.sim.keys.filter(|k| {
            k.is_alive()
                && k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(sub_account)
        });
        let rows: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "note": k.label.clone().unwrap_or_default(),
                    "apiKey": k.api_key,
                    "permissions": k.permissions.join(","),
                    "ip": k.ips.join(","),
                    "creatTime": 1_597_026_383_085i64,
                })
            })
            .collect();
        Ok(ok(json!({ "subAccount": rows })))
    }
}

impl Mexc {
    /// One page of the master's own sub accounts, by name.
    fn list_sub_accounts(&self, caller: &SimKey, params: &FormParams) -> Result<Reply, Reply> {
        if !caller.is_master() {
            return Err(refuse(700007, "No permission to access the endpoint."));
        }
        let number = |name: &str, default: usize| match params.present(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| mandatory(name)),
        };
        let page = number("page", 1)?;
        let limit = number("limit", 10)?;
        if limit > 200 {
            return Err(refuse(700004, "limit: Max value: 200"));
        }
        Stats::bump(&self.sim.stats.lists);
        let mut subs: Vec<(String, String)> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(caller.uid.as_str()))
            .into_iter()
            .filter_map(|k| Some((k.sub_name?, k.uid)))
            .collect();
        subs.sort();
        subs.dedup();
        let rows: Vec<Value> = subs
            .iter()
            .skip((page - 1) * limit)
            .take(limit)
            .map(|(name, uid)| {
                json!({
                    "subAccount": name,
                    "isFreeze": false,
                    "createTime": 1_544_433_328_000i64,
                    "uid": uid,
                })
            })
            .collect();
        Ok(ok(json!({ "subAccounts": rows })))
    }
}

/// "Account Information", as the docs' example shows it.
fn account(k: &SimKey) -> Value {
    let has = |p: &str| k.permissions.iter().any(|x| x == p);
    json!({
        "canTrade": has("SPOT_DEAL_WRITE"),
        "canWithdraw": has("SPOT_WITHDRAW_WRITE"),
        "canDeposit": true,
        "updateTime": null,
        "accountType": "SPOT",
        "balances": [],
        "permissions": ["SPOT"],
    })
}

pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => &[
            "SPOT_ACCOUNT_READ",
            "SPOT_DEAL_WRITE",
            TRANSFER_WRITE,
            "SPOT_WITHDRAW_WRITE",
        ],
        KeyKind::Sub | KeyKind::TradeOnly => &["SPOT_ACCOUNT_READ", "SPOT_DEAL_WRITE"],
    }
}
