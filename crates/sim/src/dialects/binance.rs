//! Binance, as its docs and official SDK document it:
//! - auth (binance/binance-spot-api-docs `rest-api.md`, "SIGNED (TRADE and
//!   USER_DATA) Endpoint security", "Timing security"): `X-MBX-APIKEY`
//!   header; `signature` = hex HMAC-SHA256 of `totalParams` (the query string
//!   as sent, then the form body as sent, with no separator, `signature`
//!   itself left out), not case-sensitive; `timestamp` mandatory;
//!   `recvWindow` optional, default 5000, at most 60000; accepted when
//!   `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`.
//!   Parameters may come in any order, in the query or the body; a
//!   parameter in both is read from the query string.
//! - limits: /api/* 6,000 weight per minute per IP, then 429 with
//!   `Retry-After`, then 418 bans (`rest-api.md`, "IP Limits"); /sapi/*
//!   counted per endpoint: 12,000 per minute per IP-limited endpoint, 180,000
//!   per minute per UID-limited endpoint and UID, always 429, headers
//!   `X-SAPI-USED-IP-WEIGHT-1M` / `X-SAPI-USED-UID-WEIGHT-1M`
//!   (https://developers.binance.com/zh-CN/docs/products/caas/basics/4.rate-limits).
//!   Weights: every sub-account key endpoint Weight(UID) 3000
//!   (binance/binance-connector-python, `api_management_api.py`),
//!   `apiRestrictions` Weight(IP) 1 (`account_api.py`), the broker's IP
//!   restriction Weight(UID) 3000 and "1 api key for each sub account per
//!   second" on the broker's delete (developers.binance.com
//!   `binance_link/exchange-link/account/*`); other broker weights are not
//!   documented and not enforced here.
//! - codes (`errors.md`): -1003 too many requests, -1021 timestamp, -1022
//!   signature, -1102 mandatory parameter, -1130 invalid parameter data,
//!   -2014 API-key format, -2015 "Invalid API-key, IP, or permissions for
//!   action." (HTTP 401) for a deleted key, a wrong IP and a missing
//!   permission alike. No code says "no such key": a master naming a key the
//!   sub account does not hold is refused with -1130.
//!
//! - creating a sub key (developers.binance.com `sub_account/api-management/Create-Sub-account-API-Key`,
//!   binance-connector-python `CreateSubAccountApiKeyResponse`): `POST
//!   /sapi/v1/sub-account/subAccountApi` (TRADE: the master's key holds
//!   "Enable Spot & Margin Trading"), Weight(UID) 3000; `email`, `apiName`,
//!   `status` (1 unrestricted, 2 trusted IPs: `ipAddress` required)
//!   mandatory, the `can*` flags optional (default false); the reply holds
//!   `apiName`, `apiKey`, `secretKey` (once), the flags, `status`,
//!   `ipList`. Status 3 (a third party's IP whitelist) is not simulated: it
//!   is refused with -1130. The key listing's `timestamp` is the key's
//!   creation time here (the docs do not name it).
//!
//! Sub accounts of a master are named by email (`SimKey::sub_name`); Binance
//! Link sub accounts by `subAccountId` (the sub key's `uid`). A master is a
//! broker when it holds the marker [`BROKER_ACCOUNT`].

use super::common::{
    self, Answer, Dialect, FormParams as Params, OverIpLimit, Request, Unrouted, split_signature,
};
use crate::ExchangeSim;
use crate::keys::{NewKeyShape, SimKey};
use crate::limits::FixedWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::sign::hmac_sha256_hex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The exchange this dialect speaks, by its ccxt id.
pub const ID: keyrevoke_core::ExchangeId = keyrevoke_core::ExchangeId::new("binance");

/// /api/*: 6,000 request weight per minute per IP.
pub const IP_LIMIT: (u32, Duration) = (6_000, Duration::from_secs(60));
const SAPI_IP_PER_MINUTE: u32 = 12_000;
const SAPI_UID_PER_MINUTE: u32 = 180_000;
const KEY_ENDPOINT_WEIGHT: u32 = 3_000;
const DEFAULT_RECV_WINDOW: i64 = 5_000;
const MAX_RECV_WINDOW: i64 = 60_000;

/// Marks a master key whose account is a Binance Link broker (an account
/// property, not an API permission: `apiRestrictions` does not report it).
pub const BROKER_ACCOUNT: &str = "brokerAccount";
/// "Enable Spot & Margin Trading": what the master's IP-restriction endpoints
/// and every broker endpoint ("trade" option) require of the calling key.
const TRADE: &str = "enableSpotAndMarginTrading";

/// The `apiRestrictions` flags, in the order Binance's SDK model lists them
/// (binance_sdk_wallet `GetApiKeyPermissionResponse`).
const FLAGS: &[&str] = &[
    "enableReading",
    "enableWithdrawals",
    "enableInternalTransfer",
    "enableMargin",
    "enableFutures",
    "permitsUniversalTransfer",
    "enableVanillaOptions",
    "enableFixApiTrade",
    "enableFixReadOnly",
    "enableSpotAndMarginTrading",
    "enablePortfolioMarginTrading",
];

/// The master's permission parameters and the flags they switch.
const SUB_KEY_PERMISSIONS: &[(&str, &str)] = &[
    ("canTrade", TRADE),
    ("canMarginLoanRepay", "enableMargin"),
    ("canFuturesTrade", "enableFutures"),
    ("canUniversalTransfer", "permitsUniversalTransfer"),
    ("canVanillaOptions", "enableVanillaOptions"),
];

/// The broker's permission parameters (all mandatory) and their flags.
const BROKER_KEY_PERMISSIONS: &[(&str, &str)] = &[
    ("canTrade", TRADE),
    ("marginTrade", "enableMargin"),
    ("futuresTrade", "enableFutures"),
];

/// Flags that let a key act (trade or move funds); a key with none left is
/// read-only.
const ACTING: &[&str] = &[
    "enableWithdrawals",
    "enableInternalTransfer",
    "enableMargin",
    "enableFutures",
    "permitsUniversalTransfer",
    "enableVanillaOptions",
    "enableSpotAndMarginTrading",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ServerTime,
    ApiRestrictions,
    DeleteSubKey,
    QuerySubKeys,
    SubAccountList,
    SubKeyPermission,
    SubKeyIpRestriction,
    GetSubKeyIpRestriction,
    DeleteBrokerKey,
    BrokerKeyPermission,
    BrokerKeyIpRestriction,
    CreateSubKey,
}

/// How an endpoint is rate-limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limit {
    /// /api/*: the exchange-wide IP window.
    ApiIp,
    /// /sapi/* IP-limited: its own 12,000 per minute.
    SapiIp(u32),
    /// /sapi/* UID-limited: its own 180,000 per minute per UID.
    SapiUid(u32),
    /// Weight undocumented.
    None,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        use Endpoint::*;
        Some(match (method.as_str(), path) {
            ("GET", "/api/v3/time") => ServerTime,
            ("GET", "/sapi/v1/account/apiRestrictions") => ApiRestrictions,
            ("DELETE", "/sapi/v1/sub-account/subAccountApi") => DeleteSubKey,
            ("POST", "/sapi/v1/sub-account/subAccountApi") => CreateSubKey,
            ("GET", "/sapi/v1/sub-account/subAccountApi") => QuerySubKeys,
            ("GET", "/sapi/v1/sub-account/list") => SubAccountList,
            ("POST", "/sapi/v1/sub-account/subAccountApiPermission") => SubKeyPermission,
            ("POST", "/sapi/v2/sub-account/subAccountApi/ipRestriction") => SubKeyIpRestriction,
            ("GET", "/sapi/v1/sub-account/subAccountApi/ipRestriction") => GetSubKeyIpRestriction,
            ("DELETE", "/sapi/v1/broker/subAccountApi") => DeleteBrokerKey,
            ("POST", "/sapi/v1/broker/subAccountApi/permission") => BrokerKeyPermission,
            ("POST", "/sapi/v2/broker/subAccountApi/ipRestriction") => BrokerKeyIpRestriction,
            _ => return None,
        })
    }

    fn limit(self) -> Limit {
        use Endpoint::*;
        match self {
            ServerTime => Limit::ApiIp,
            ApiRestrictions | SubAccountList => Limit::SapiIp(1),
            DeleteSubKey
            | QuerySubKeys
            | SubKeyPermission
            | SubKeyIpRestriction
            | GetSubKeyIpRestriction
            | BrokerKeyIpRestriction
            | CreateSubKey => Limit::SapiUid(KEY_ENDPOINT_WEIGHT),
            DeleteBrokerKey | BrokerKeyPermission => Limit::None,
        }
    }

    fn name(self) -> &'static str {
        use Endpoint::*;
        match self {
            ServerTime => "time",
            ApiRestrictions => "apiRestrictions",
            DeleteSubKey => "deleteSubKey",
            QuerySubKeys => "querySubKeys",
            SubAccountList => "subAccountList",
            SubKeyPermission => "subKeyPermission",
            SubKeyIpRestriction => "subKeyIpRestriction",
            GetSubKeyIpRestriction => "getSubKeyIpRestriction",
            DeleteBrokerKey => "deleteBrokerKey",
            BrokerKeyPermission => "brokerKeyPermission",
            BrokerKeyIpRestriction => "brokerKeyIpRestriction",
            CreateSubKey => "createSubKey",
        }
    }
}

struct Binance {
    sim: Arc<ExchangeSim>,
    sapi_ip: FixedWindows,
    sapi_uid: FixedWindows,
    /// "You can only delete 1 api key for each sub account per second".
    broker_delete: FixedWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Binance {
        sapi_ip: FixedWindows::new(
            SAPI_IP_PER_MINUTE,
            Duration::from_secs(60),
            sim.meter("sapi_ip"),
        ),
        sapi_uid: FixedWindows::new(
            SAPI_UID_PER_MINUTE,
            Duration::from_secs(60),
            sim.meter("sapi_uid"),
        ),
        broker_delete: FixedWindows::new(1, Duration::from_secs(1), sim.meter("broker_key_delete")),
        sim,
    })
}

/// A reply: status, JSON body, extra headers.
struct Reply {
    status: StatusCode,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body,
        headers: Vec::new(),
    }
}

fn refuse(status: StatusCode, code: i64, msg: &str) -> Reply {
    Reply {
        status,
        body: json!({ "code": code, "msg": msg }),
        headers: Vec::new(),
    }
}

fn bad_request(code: i64, msg: &str) -> Reply {
    refuse(StatusCode::BAD_REQUEST, code, msg)
}

fn rejected_key() -> Reply {
    refuse(
        StatusCode::UNAUTHORIZED,
        -2015,
        "Invalid API-key, IP, or permissions for action.",
    )
}

fn mandatory(name: &str) -> Reply {
    bad_request(
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn invalid(name: &str) -> Reply {
    bad_request(
        -1130,
        &format!("Data sent for parameter '{name}' is not valid."),
    )
}

fn too_many(retry_after_secs: i64, msg: &str) -> Reply {
    Reply {
        headers: vec![("Retry-After", retry_after_secs.max(1).to_string())],
        ..refuse(StatusCode::TOO_MANY_REQUESTS, -1003, msg)
    }
}

fn respond(reply: Reply) -> Response {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from(reply.body.to_string()))
        .expect("valid response")
}

impl Dialect for Binance {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn ip_limited(&self, endpoint: Endpoint) -> bool {
        endpoint.limit() == Limit::ApiIp
    }

    /// Both deletions name the sub key by `subAccountApiKey`, in the query
    /// or the form body.
    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        if !matches!(endpoint, Endpoint::DeleteSubKey | Endpoint::DeleteBrokerKey) {
            return None;
        }
        let body = String::from_utf8_lossy(&request.body);
        Params::read(request.query(), &body)
            .get("subAccountApiKey")
            .map(str::to_string)
    }

    /// A 429 for the excess, then 418s while the ban lasts.
    fn over_ip_limit(&self, already_banned: bool) -> OverIpLimit {
        let ban_secs = self.sim.ip_ban.as_secs().max(1) as i64;
        if !already_banned {
            return OverIpLimit::RateLimited(respond(too_many(
                ban_secs,
                &format!(
                    "Too much request weight used; current limit is {} request weight per 1 MINUTE.",
                    IP_LIMIT.0
                ),
            )));
        }
        let until = self.sim.now_ms() + ban_secs * 1000;
        OverIpLimit::Banned(respond(Reply {
            headers: vec![("Retry-After", ban_secs.to_string())],
            ..refuse(
                StatusCode::IM_A_TEAPOT,
                -1003,
                &format!("Way too much request weight used; IP banned until {until}."),
            )
        }))
    }

    fn injected_rate_limit(&self) -> Response {
        respond(too_many(
            1,
            "Too many requests; please use the websocket for live updates.",
        ))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            Reply {
                headers: vec![(
                    "X-MBX-USED-WEIGHT-1M",
                    self.sim.ip_window.used(request.peer).to_string(),
                )],
                ..ok(json!({ "serverTime": now }))
            }
        } else {
            match authenticate(self, request, now) {
                Err(refusal) => refusal,
                Ok((caller, params)) => match self.limit(endpoint, &caller, now) {
                    Err(refusal) => refusal,
                    Ok(used) => {
                        let mut r = self.act(endpoint, &caller, &params, now);
                        r.headers.extend(used);
                        r
                    }
                },
            }
        };
        // Every 429 here is a rate limit: the UID windows' and the broker's
        // one deletion per sub account per second.
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Answer::Limited(respond(reply));
        }
        Answer::replied(reply.status.is_success(), respond(reply))
    }
}

/// Binance's refusals of a parameter, on the parameters both schemes read.
trait Required {
    fn required(&self, name: &str) -> Result<&str, Reply>;
    fn flag(&self, name: &str) -> Result<Option<bool>, Reply>;
}

impl Required for Params {
    fn required(&self, name: &str) -> Result<&str, Reply> {
        self.present(name).ok_or_else(|| mandatory(name))
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid(name)),
        }
    }
}

/// Check a SIGNED request as the docs describe it; the caller and its
/// parameters when it holds.
fn authenticate(b: &Binance, request: &Request, now: i64) -> Result<(SimKey, Params), Reply> {
    let sim = &b.sim;
    let Some(api_key) = request.header("X-MBX-APIKEY").filter(|k| !k.is_empty()) else {
        Stats::bump(&sim.stats.missing_auth);
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            -2014,
            "API-key format invalid.",
        ));
    };
    let query = request.query();
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let (query_unsigned, query_sig) = split_signature(query);
    let (body_unsigned, body_sig) = split_signature(&body);
    let params = Params::read(&query_unsigned, &body_unsigned);
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
        Some(v) => match v.parse::<f64>() {
            Ok(w) if w > 0.0 && w <= MAX_RECV_WINDOW as f64 => w as i64,
            _ => return Err(invalid("recvWindow")),
        },
    };
    let Some(caller) = sim.live_key(api_key) else {
        return Err(rejected_key());
    };
    if !(timestamp < now + 1000 && now - timestamp <= recv_window) {
        Stats::bump(&sim.stats.stale_timestamp);
        let msg = if timestamp >= now + 1000 {
            "Timestamp for this request was 1000ms ahead of the server's time."
        } else {
            "Timestamp for this request is outside of the recvWindow."
        };
        return Err(bad_request(-1021, msg));
    }
    // totalParams: the query string concatenated with the body.
    let expected = hmac_sha256_hex(&caller.secret, &format!("{query_unsigned}{body_unsigned}"));
    if !signature.eq_ignore_ascii_case(&expected) {
        Stats::bump(&sim.stats.bad_signature);
        return Err(bad_request(
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    if !caller.allows_loopback() {
        return Err(rejected_key());
    }
    Ok((caller, params))
}

fn has(k: &SimKey, flag: &str) -> bool {
    k.permissions.iter().any(|p| p == flag)
}

fn set_flag(k: &mut SimKey, flag: &str, on: bool) {
    k.permissions.retain(|p| p != flag);
    if on {
        k.permissions.push(flag.to_string());
    }
    k.read_only = !ACTING.iter().any(|f| has(k, f));
}

fn unbound(k: &SimKey) -> bool {
    k.ips.is_empty() || k.ips.iter().any(|ip| ip == "*")
}

impl Binance {
    /// Count the request against its endpoint's limit; the usage header.
    fn limit(
        &self,
        endpoint: Endpoint,
        caller: &SimKey,
        now: i64,
    ) -> Result<Vec<(&'static str, String)>, Reply> {
        let (window, key, weight, header) = match endpoint.limit() {
            Limit::SapiIp(w) => (
                &self.sapi_ip,
                endpoint.name().to_string(),
                w,
                "X-SAPI-USED-IP-WEIGHT-1M",
            ),
            Limit::SapiUid(w) => (
                &self.sapi_uid,
                format!("{}:{}", endpoint.name(), caller.uid),
                w,
                "X-SAPI-USED-UID-WEIGHT-1M",
            ),
            Limit::ApiIp | Limit::None => return Ok(Vec::new()),
        };
        if !self.sim.limits {
            // Nothing is counted, so nothing is used: a header claiming an
            // exhausted window would make a client wait for nothing.
            return Ok(vec![(header, "0".to_string())]);
        }
        let verdict = window.hit(&key, now, weight);
        let used = vec![(header, (window.capacity - verdict.remaining).to_string())];
        if !verdict.allowed {
            Stats::bump(&self.sim.stats.rate_limited);
            let wait = (verdict.reset_at_ms - now + 999) / 1000;
            let mut r = too_many(
                wait,
                &format!(
                    "Too much request weight used; current limit is {} request weight per 1 MINUTE.",
                    window.capacity
                ),
            );
            r.headers.extend(used);
            return Err(r);
        }
        Ok(used)
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, params: &Params, now: i64) -> Reply {
        let result = match endpoint {
            Endpoint::ServerTime => Ok(ok(json!({ "serverTime": now }))),
            Endpoint::ApiRestrictions => {
                Stats::bump(&self.sim.stats.probes);
                Ok(ok(restrictions(caller)))
            }
            Endpoint::DeleteSubKey => self.delete_sub_key(caller, params),
            Endpoint::CreateSubKey => self.create_sub_key(caller, params),
            Endpoint::QuerySubKeys => self.query_sub_keys(caller, params),
            Endpoint::SubAccountList => self.sub_account_list(caller, params),
            Endpoint::SubKeyPermission => self.sub_key_permission(caller, params, now),
            Endpoint::SubKeyIpRestriction => self.sub_key_ip_restriction(caller, params, now),
            Endpoint::GetSubKeyIpRestriction => {
                self.get_sub_key_ip_restriction(caller, params, now)
            }
            Endpoint::DeleteBrokerKey => self.delete_broker_key(caller, params, now),
            Endpoint::BrokerKeyPermission => self.broker_key_permission(caller, params),
            Endpoint::BrokerKeyIpRestriction => self.broker_key_ip_restriction(caller, params, now),
        };
        result.unwrap_or_else(|refusal| refusal)
    }

    /// The sub key a master names by `email` and `subAccountApiKey`.
    fn sub_key(&self, caller: &SimKey, params: &Params) -> Result<SimKey, Reply> {
        if !caller.is_master() {
            return Err(rejected_key());
        }
        let email = params.required("email")?;
        let api_key = params.required("subAccountApiKey")?;
        let own = |k: &SimKey| {
            k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(email)
        };
        // The named key first: finding it settles the email too, without
        // scanning every key of the exchange on each delete.
        match self.sim.keys.get(api_key) {
            Some(k) if k.is_alive() && own(&k) => Ok(k),
            _ if !self.sim.keys.any(own) => Err(invalid("email")),
            _ => Err(invalid("subAccountApiKey")),
        }
    }

    /// The sub key a broker names by `subAccountId` and `subAccountApiKey`.
    fn broker_key(&self, caller: &SimKey, params: &Params) -> Result<SimKey, Reply> {
        if !caller.is_master() || !has(caller, BROKER_ACCOUNT) || !has(caller, TRADE) {
            return Err(rejected_key());
        }
        let sub_account_id = params.required("subAccountId")?;
        let api_key = params.required("subAccountApiKey")?;
        let own = |k: &SimKey| {
            k.parent_uid.as_deref() == Some(caller.uid.as_str()) && k.uid == sub_account_id
        };
        match self.sim.keys.get(api_key) {
            Some(k) if k.is_alive() && own(&k) => Ok(k),
            _ if !self.sim.keys.any(own) => Err(invalid("subAccountId")),
            _ => Err(invalid("subAccountApiKey")),
        }
    }

    fn delete(&self, target: &SimKey) -> Reply {
        self.sim.delete_key(&target.api_key);
        ok(json!({}))
    }

    /// A new key of the caller's sub account `email`, as the parameters ask.
    fn create_sub_key(&self, caller: &SimKey, params: &Params) -> Result<Reply, Reply> {
        if !caller.is_master() || !has(caller, TRADE) {
            return Err(rejected_key());
        }
        let email = params.required("email")?;
        let api_name = params.required("apiName")?;
        let ips: Vec<String> = match params.required("status")? {
            "1" => Vec::new(),
            "2" => {
                let list: Vec<String> = params
                    .required("ipAddress")?
                    .split(',')
                    .map(|ip| ip.trim().to_string())
                    .filter(|ip| !ip.is_empty())
                    .collect();
                if list.is_empty() || common::first_bad_ip(&list).is_some() {
                    return Err(invalid("ipAddress"));
                }
                list
            }
            _ => return Err(invalid("status")),
        };
        let mut permissions = vec!["enableReading".to_string()];
        for (param, flag) in SUB_KEY_PERMISSIONS {
            if params.flag(param)? == Some(true) {
                permissions.push(flag.to_string());
            }
        }
        let own = |k: &SimKey| {
            k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(email)
        };
        let Some(sibling) = self.sim.keys.filter(own).into_iter().next() else {
            return Err(invalid("email"));
        };
        let read_only = !ACTING.iter().any(|f| permissions.iter().any(|p| p == f));
        let key = self.sim.create_sub_key(
            caller,
            &sibling.uid,
            Some(email),
            NewKeyShape {
                label: api_name.to_string(),
                permissions,
                read_only,
                ips,
                passphrase: None,
                api_key_len: 64,
                secret_len: 64,
            },
        );
        let restricted = !unbound(&key);
        let mut body = json!({
            "apiName": api_name,
            "apiKey": key.api_key,
            "secretKey": key.secret,
            "status": if restricted { 2 } else { 1 },
            "ipList": if restricted { key.ips.clone() } else { Vec::new() },
        });
        for (param, flag) in SUB_KEY_PERMISSIONS {
            body[*param] = json!(has(&key, flag));
        }
        Ok(ok(body))
    }

    fn delete_sub_key(&self, caller: &SimKey, params: &Params) -> Result<Reply, Reply> {
        let target = self.sub_key(caller, params)?;
        Ok(self.delete(&target))
    }

    /// The master's sub accounts by email, `limit` (default 1, at most
    /// 200) a page: a sub account outlives its keys (Query-Sub-account-List).
    fn sub_account_list(&self, caller: &SimKey, params: &Params) -> Result<Reply, Reply> {
        if !caller.is_master() {
            return Err(rejected_key());
        }
        let page = bounded(params, "page", 1, 1..=usize::MAX)?;
        let limit = bounded(params, "limit", 1, 1..=200)?;
        let email = params.get("email");
        let mut accounts: Vec<(String, String)> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(caller.uid.as_str()))
            .into_iter()
            .filter_map(|k| Some((k.sub_name?, k.uid)))
            .filter(|(name, _)| email.is_none_or(|e| e == name))
            .collect();
        accounts.sort();
        accounts.dedup();
        Stats::bump(&self.sim.stats.lists);
        let listed: Vec<Value> = accounts
            .iter()
            .skip((page - 1).saturating_mul(limit))
            .take(limit)
            .map(|(email, uid)| {
                json!({
                    "subUserId": uid.parse::<u64>().unwrap_or(0),
                    "email": email,
                    "remark": "",
                    "isFreeze": false,
                    "createTime": 1_544_433_328_000i64,
                    "isManagedSubAccount": false,
                    "isAssetManagementSubAccount": false,
                })
            })
            .collect();
        Ok(ok(json!({ "subAccounts": listed })))
    }

    fn query_sub_keys(&self, caller: &SimKey, params: &Params) -> Result<Reply, Reply> {
        if !caller.is_master() {
            return Err(rejected_key());
        }
        let email = params.required("email")?;
        let page = bounded(params, "page", 1, 1..=usize::MAX)?;
        let size = bounded(params, "size", 30, 1..=100)?;
        let exact = params.get("subAccountApiKey");
        let keys = self.sim.keys.filter(|k| {
            k.is_alive()
                && k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(email)
                && exact.is_none_or(|e| e == k.api_key)
        });
        Stats::bump(&self.sim.stats.probes);
        Stats::bump(&self.sim.stats.lists);
        let rows: Vec<Value> = keys
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|k| {
                let mut row = json!({ "email": email, "apiName": k.label.as_deref().unwrap_or("key"), "apikey": k.api_key, "timestamp": k.created_at_ms });
                for (param, flag) in SUB_KEY_PERMISSIONS {
                    row[*param] = json!(has(k, flag));
                }
                row
            })
            .collect();
        Ok(ok(json!({ "total": keys.len(), "rows": rows })))
    }

    fn change_permissions(
        &self,
        target: &SimKey,
        params: &Params,
        table: &[(&str, &str)],
        all_required: bool,
    ) -> Result<SimKey, Reply> {
        let mut changes = Vec::new();
        for (param, flag) in table {
            match params.flag(param)? {
                Some(on) => changes.push((*flag, on)),
                None if all_required => return Err(mandatory(param)),
                None => {}
            }
        }
        self.sim.keys.update(&target.api_key, |k| {
            for (flag, on) in &changes {
                set_flag(k, flag, *on);
            }
        });
        Stats::bump(&self.sim.stats.disables);
        Ok(self.sim.keys.get(&target.api_key).expect("target exists"))
    }

    fn sub_key_permission(
        &self,
        caller: &SimKey,
        params: &Params,
        now: i64,
    ) -> Result<Reply, Reply> {
        let target = self.sub_key(caller, params)?;
        let k = self.change_permissions(&target, params, SUB_KEY_PERMISSIONS, false)?;
        let mut body = json!({ "apiName": "key", "apikey": k.api_key, "timestamp": now });
        for (param, flag) in SUB_KEY_PERMISSIONS {
            body[*param] = json!(has(&k, flag));
        }
        Ok(ok(body))
    }

    fn broker_key_permission(&self, caller: &SimKey, params: &Params) -> Result<Reply, Reply> {
        let target = self.broker_key(caller, params)?;
        let k = self.change_permissions(&target, params, BROKER_KEY_PERMISSIONS, true)?;
        let mut body = json!({ "subaccountId": k.uid, "apikey": k.api_key });
        for (param, flag) in BROKER_KEY_PERMISSIONS {
            body[*param] = json!(has(&k, flag));
        }
        Ok(ok(body))
    }

    /// `status` 1: unrestricted; 2: trusted IPs only (`ipAddress`,
    /// comma-separated, replaces the list when given).
    fn restrict_ips(&self, target: &SimKey, params: &Params) -> Result<SimKey, Reply> {
        let status = params.required("status")?;
        let ips: Option<Vec<String>> = params
            .get("ipAddress")
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(|ip| ip.trim().to_string()).collect());
        match status {
            "1" => self
                .sim
                .keys
                .update(&target.api_key, |k| k.ips = vec!["*".into()]),
            "2" => self.sim.keys.update(&target.api_key, |k| {
                if let Some(ips) = ips {
                    k.ips = ips;
                }
            }),
            _ => return Err(invalid("status")),
        };
        Stats::bump(&self.sim.stats.disables);
        Ok(self.sim.keys.get(&target.api_key).expect("target exists"))
    }

    fn ip_reply(k: &SimKey, now: i64) -> Value {
        let restricted = !unbound(k);
        json!({
            "status": if restricted { "2" } else { "1" },
            "ipList": if restricted { k.ips.clone() } else { Vec::new() },
            "updateTime": now,
            "apiKey": k.api_key,
        })
    }

    fn sub_key_ip_restriction(
        &self,
        caller: &SimKey,
        params: &Params,
        now: i64,
    ) -> Result<Reply, Reply> {
        let target = self.sub_key(caller, params)?;
        if !has(caller, TRADE) {
            return Err(rejected_key());
        }
        let k = self.restrict_ips(&target, params)?;
        Ok(ok(Self::ip_reply(&k, now)))
    }

    fn get_sub_key_ip_restriction(
        &self,
        caller: &SimKey,
        params: &Params,
        now: i64,
    ) -> Result<Reply, Reply> {
        let k = self.sub_key(caller, params)?;
        let restricted = !unbound(&k);
        Ok(ok(json!({
            "ipRestrict": restricted.to_string(),
            "ipList": if restricted { k.ips.clone() } else { Vec::new() },
            "updateTime": now,
            "apiKey": k.api_key,
        })))
    }

    fn delete_broker_key(
        &self,
        caller: &SimKey,
        params: &Params,
        now: i64,
    ) -> Result<Reply, Reply> {
        let target = self.broker_key(caller, params)?;
        if self.sim.limits && !self.broker_delete.hit(&target.uid, now, 1).allowed {
            Stats::bump(&self.sim.stats.rate_limited);
            return Err(too_many(
                1,
                "You can only delete 1 api key for each sub account per second.",
            ));
        }
        Ok(self.delete(&target))
    }

    fn broker_key_ip_restriction(
        &self,
        caller: &SimKey,
        params: &Params,
        now: i64,
    ) -> Result<Reply, Reply> {
        let target = self.broker_key(caller, params)?;
        let k = self.restrict_ips(&target, params)?;
        Ok(ok(Self::ip_reply(&k, now)))
    }
}

/// `GET /sapi/v1/account/apiRestrictions` for a key.
fn restrictions(k: &SimKey) -> Value {
    let mut body = json!({ "ipRestrict": !unbound(k), "createTime": k.created_at_ms });
    for flag in FLAGS {
        body[*flag] = json!(has(k, flag));
    }
    body
}

/// Permission sets of synthetic keys, as `apiRestrictions` names them. No
/// Binance key can delete itself, whatever it holds.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable => &[
            "enableReading",
            "enableSpotAndMarginTrading",
            "enableWithdrawals",
        ],
        KeyKind::Master => &[
            "enableReading",
            "enableSpotAndMarginTrading",
            "enableInternalTransfer",
            "permitsUniversalTransfer",
        ],
        KeyKind::Sub | KeyKind::TradeOnly => &["enableReading", "enableSpotAndMarginTrading"],
    }
}

/// A paging parameter: its default when absent, else a number within
/// `range`, else the documented -1130.
fn bounded(
    params: &Params,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, Reply> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| invalid(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_taken_out_of_the_signed_payload() {
        let (rest, sig) = split_signature("a=1&signature=abc&b=2");
        assert_eq!(rest, "a=1&b=2");
        assert_eq!(sig.as_deref(), Some("abc"));
    }
}
